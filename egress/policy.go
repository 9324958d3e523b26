// Package egress gives allow-listed containers their only way out: an HTTP and HTTPS
// proxy on the host, one per container, that knows the container's allow-list.
//
// A container keeps its own network namespace with loopback only. Its agent listens on
// ListenAddr there and relays each connection to a unix socket in the container's run
// directory, where a Session of this package answers: absolute-form HTTP requests and
// CONNECT tunnels to allowed domains on ports 80 and 443, nothing else. Names are
// resolved on the host, and every address they resolve to is checked before it is
// dialled (loopback, private, link-local, metadata, multicast and reserved ranges, and
// the host's own addresses, are refused), so a name cannot be rebound to an inside
// address between the check and the dial.
//
// Domain secrets: the code in the container sees, in the environment variable the
// secret names, a placeholder (Placeholder). The proxy replaces the placeholder with the
// value in the header values and the URL of requests to the secret's domain, and nowhere
// else. For HTTPS to such a domain the proxy terminates TLS with a certificate of a
// per-container CA that the container trusts (its bundle, written next to the socket,
// is named by SSL_CERT_FILE and friends), and verifies the upstream itself.
package egress

import (
	"fmt"
	"net/netip"
	"regexp"
	"slices"
	"strings"

	"github.com/codebox-dev/codebox/errdefs"
)

// Policy is a container's network policy. The zero Policy (no domains) is no network
// at all.
type Policy struct {
	// AllowedDomains are the host names the container may reach. An entry matches
	// itself only; "*.example.com" matches every subdomain of example.com (not
	// example.com itself).
	AllowedDomains []string `json:"allowed_domains,omitempty"`
	Secrets        []Secret `json:"domain_secrets,omitempty"`
}

// Secret is a value the proxy puts into requests to Domain where the code wrote the
// placeholder of Name.
type Secret struct {
	Domain string `json:"domain"`
	Name   string `json:"name"`
	Value  string `json:"value"`
}

// Enabled reports whether the policy lets the container reach anything.
func (p Policy) Enabled() bool { return len(p.AllowedDomains) > 0 }

// Placeholder is what the container sees in the environment variable name instead of
// the secret's value.
func Placeholder(name string) string { return "CODEBOX_SECRET_" + name }

// Bounds of a policy, as OpenAI's API documents them where it does.
const (
	maxDomainLen      = 253
	maxSecrets        = 100
	maxSecretValueLen = 10 << 20
	maxSecretNameLen  = 128
)

var (
	labelRE      = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$`)
	secretNameRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)
)

// normalizeDomain lowercases d and drops a trailing dot; it returns "" when d is not a
// host name (or a "*." wildcard of one).
func normalizeDomain(d string) string {
	d = strings.TrimSuffix(strings.ToLower(strings.TrimSpace(d)), ".")
	name := strings.TrimPrefix(d, "*.")
	if name == "" || len(name) > maxDomainLen {
		return ""
	}
	if _, err := netip.ParseAddr(name); err == nil {
		return ""
	}
	for _, l := range strings.Split(name, ".") {
		if !labelRE.MatchString(l) {
			return ""
		}
	}
	return d
}

// Normalize checks p's shape and returns it with its domains normalized (lowercase, no
// trailing dot, duplicates removed). Errors are errdefs.ErrInvalid naming the field.
func (p Policy) Normalize() (Policy, error) {
	var out Policy
	for i, d := range p.AllowedDomains {
		n := normalizeDomain(d)
		if n == "" {
			return Policy{}, errdefs.New(errdefs.ErrInvalid, "",
				"network_policy.allowed_domains.%d: %q is not a domain name (an IP address, a scheme, a port or a path is not accepted; \"*.example.com\" allows the subdomains of example.com)", i, truncate(d, 80))
		}
		if !slices.Contains(out.AllowedDomains, n) {
			out.AllowedDomains = append(out.AllowedDomains, n)
		}
	}
	if len(p.Secrets) > maxSecrets {
		return Policy{}, errdefs.New(errdefs.ErrInvalid, "", "network_policy.domain_secrets: at most %d secrets", maxSecrets)
	}
	seen := map[string]bool{}
	for i, s := range p.Secrets {
		field := fmt.Sprintf("network_policy.domain_secrets.%d", i)
		d := normalizeDomain(s.Domain)
		if d == "" || strings.HasPrefix(d, "*.") {
			return Policy{}, errdefs.New(errdefs.ErrInvalid, "", "%s.domain: %q is not a domain name", field, truncate(s.Domain, 80))
		}
		if !out.allows(d) {
			return Policy{}, errdefs.New(errdefs.ErrInvalid, "", "%s.domain: %q is not in allowed_domains", field, d)
		}
		if len(s.Name) > maxSecretNameLen || !secretNameRE.MatchString(s.Name) {
			return Policy{}, errdefs.New(errdefs.ErrInvalid, "",
				"%s.name: %q must be an environment variable name (letters, digits and underscores, not starting with a digit, at most %d characters)", field, truncate(s.Name, 80), maxSecretNameLen)
		}
		if seen[s.Name] {
			return Policy{}, errdefs.New(errdefs.ErrInvalid, "", "%s.name: %q is given twice", field, s.Name)
		}
		seen[s.Name] = true
		if s.Value == "" || len(s.Value) > maxSecretValueLen {
			return Policy{}, errdefs.New(errdefs.ErrInvalid, "", "%s.value: must be 1 to %d bytes", field, maxSecretValueLen)
		}
		if strings.ContainsFunc(s.Value, func(r rune) bool { return r < 0x20 || r == 0x7f }) {
			return Policy{}, errdefs.New(errdefs.ErrInvalid, "", "%s.value: must not contain control characters (it goes into HTTP headers)", field)
		}
		out.Secrets = append(out.Secrets, Secret{Domain: d, Name: s.Name, Value: s.Value})
	}
	return out, nil
}

// allows reports whether host (normalized) is on the allow-list.
func (p Policy) allows(host string) bool {
	for _, d := range p.AllowedDomains {
		if matchDomain(d, host) {
			return true
		}
	}
	return false
}

// matchDomain reports whether host matches pattern: equal, or under a "*." wildcard.
func matchDomain(pattern, host string) bool {
	if rest, ok := strings.CutPrefix(pattern, "*."); ok {
		return strings.HasSuffix(host, "."+rest)
	}
	return host == pattern
}

// secretsFor returns the secrets to inject into requests to host.
func (p Policy) secretsFor(host string) []Secret {
	var out []Secret
	for _, s := range p.Secrets {
		if s.Domain == host {
			out = append(out, s)
		}
	}
	return out
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n] + "…"
	}
	return s
}
