package main

import (
	"crypto/x509"
	"fmt"
	"log/slog"
	"os"
	"strconv"
	"strings"

	"github.com/spf13/pflag"

	"github.com/codebox-dev/codebox/egress"
)

// egressConfig is the operator's say over containers' network allow-lists.
type egressConfig struct {
	Egress     string
	MaxDomains int
	Deny       []string
	Workspaces []string
	Resolve    []string
	UpstreamCA string
}

func bindEgressFlags(fs *pflag.FlagSet, c *egressConfig) {
	fs.StringVar(&c.Egress, "egress", "allowlist", `network access of containers: "allowlist" lets a container created with a network_policy allow-list reach those domains through the host's proxy, "off" refuses every allow-list`)
	fs.IntVar(&c.MaxDomains, "egress-max-domains", egress.DefaultMaxDomains, "most domains one container's allow-list may name")
	fs.StringSliceVar(&c.Deny, "egress-deny", nil, "domains no allow-list may reach (each also denies its subdomains), comma-separated")
	fs.StringSliceVar(&c.Workspaces, "egress-workspace", nil, `per-workspace limits as workspace=off (no allow-list in that workspace) or workspace=N (at most N domains per allow-list there), comma-separated`)
	fs.StringSliceVar(&c.Resolve, "egress-resolve", nil, "host:port=ip:port pairs the proxy dials as given instead of resolving host, private addresses included (internal services), comma-separated")
	fs.StringVar(&c.UpstreamCA, "egress-upstream-ca", "", "PEM file of CA certificates trusted, besides the host's, for upstreams whose requests carry domain secrets")
}

// proxy builds the egress proxy the flags describe; nil when egress is off.
func (c *egressConfig) proxy(logger *slog.Logger) (*egress.Proxy, error) {
	workspaces, err := parseEgressWorkspaces(c.Workspaces)
	if err != nil {
		return nil, err
	}
	switch c.Egress {
	case "off":
		return nil, nil
	case "allowlist":
	default:
		return nil, fmt.Errorf(`--egress: %q is neither "allowlist" nor "off"`, c.Egress)
	}
	cfg := egress.Config{MaxDomains: c.MaxDomains, Deny: c.Deny, Workspaces: workspaces, Logger: logger}
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

// parseEgressWorkspaces reads --egress-workspace's workspace=off and workspace=N
// entries.
func parseEgressWorkspaces(entries []string) (map[string]egress.WorkspaceLimit, error) {
	if len(entries) == 0 {
		return nil, nil
	}
	out := make(map[string]egress.WorkspaceLimit, len(entries))
	for _, kv := range entries {
		ws, v, ok := strings.Cut(kv, "=")
		ws, v = strings.TrimSpace(ws), strings.TrimSpace(v)
		if !ok || ws == "" {
			return nil, fmt.Errorf("--egress-workspace: %q is not workspace=off or workspace=N", kv)
		}
		if _, dup := out[ws]; dup {
			return nil, fmt.Errorf("--egress-workspace: workspace %q is given twice", ws)
		}
		if v == "off" {
			out[ws] = egress.WorkspaceLimit{Forbidden: true}
			continue
		}
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			return nil, fmt.Errorf("--egress-workspace: %q: want off or a number of domains of at least 1", kv)
		}
		out[ws] = egress.WorkspaceLimit{MaxDomains: n}
	}
	return out, nil
}
