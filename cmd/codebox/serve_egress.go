package main

import (
	"crypto/x509"
	"fmt"
	"log/slog"
	"os"
	"strings"

	"github.com/spf13/pflag"

	"github.com/codebox-dev/codebox/egress"
)

// egressConfig is the operator's say over containers' network allow-lists.
type egressConfig struct {
	Egress     string
	MaxDomains int
	Deny       []string
	Resolve    []string
	UpstreamCA string
}

func bindEgressFlags(fs *pflag.FlagSet, c *egressConfig) {
	fs.StringVar(&c.Egress, "egress", "allowlist", `network access of containers: "allowlist" lets a container created with a network_policy allow-list reach those domains through the host's proxy, "off" refuses every allow-list`)
	fs.IntVar(&c.MaxDomains, "egress-max-domains", egress.DefaultMaxDomains, "most domains one container's allow-list may name")
	fs.StringSliceVar(&c.Deny, "egress-deny", nil, "domains no allow-list may reach (each also denies its subdomains), comma-separated")
	fs.StringSliceVar(&c.Resolve, "egress-resolve", nil, "host:port=ip:port pairs the proxy dials as given instead of resolving host, private addresses included (internal services), comma-separated")
	fs.StringVar(&c.UpstreamCA, "egress-upstream-ca", "", "PEM file of CA certificates trusted, besides the host's, for upstreams whose requests carry domain secrets")
}

// proxy builds the egress proxy the flags describe; nil when egress is off.
func (c *egressConfig) proxy(logger *slog.Logger) (*egress.Proxy, error) {
	switch c.Egress {
	case "off":
		return nil, nil
	case "allowlist":
	default:
		return nil, fmt.Errorf(`--egress: %q is neither "allowlist" nor "off"`, c.Egress)
	}
	cfg := egress.Config{MaxDomains: c.MaxDomains, Deny: c.Deny, Logger: logger}
	if len(c.Resolve) > 0 {
		cfg.Resolve = map[string]string{}
		for _, kv := range c.Resolve {
			from, to, ok := strings.Cut(kv, "=")
			if !ok {
				return nil, fmt.Errorf("--egress-resolve: %q is not host:port=ip:port", kv)
			}
			cfg.Resolve[strings.ToLower(from)] = to
		}
	}
	if c.UpstreamCA != "" {
		pem, err := os.ReadFile(c.UpstreamCA)
		if err != nil {
			return nil, fmt.Errorf("--egress-upstream-ca: %w", err)
		}
		pool, err := x509.SystemCertPool()
		if err != nil {
			pool = x509.NewCertPool()
		}
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("--egress-upstream-ca: no certificate in %s", c.UpstreamCA)
		}
		cfg.RootCAs = pool
	}
	return egress.New(cfg)
}
