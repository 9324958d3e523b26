package api

import (
	"github.com/codebox-dev/codebox/egress"
	"github.com/codebox-dev/codebox/errdefs"
)

// networkPolicyJSON is OpenAI's container network_policy: {"type": "disabled"} (the
// default: no network), or {"type": "allowlist", "allowed_domains": [...],
// "domain_secrets": [{"domain", "name", "value"}]}. A container object shows the type
// and the allowed domains, never the secrets.
type networkPolicyJSON struct {
	Type           string             `json:"type"`
	AllowedDomains []string           `json:"allowed_domains,omitempty"`
	DomainSecrets  []domainSecretJSON `json:"domain_secrets,omitempty"`
}

type domainSecretJSON struct {
	Domain string `json:"domain"`
	Name   string `json:"name"`
	Value  string `json:"value"`
}

// toPolicy checks the request's network_policy for its shape; the sandbox holds it to
// the server's limits.
func (n *networkPolicyJSON) toPolicy() (egress.Policy, error) {
	if n == nil {
		return egress.Policy{}, nil
	}
	switch n.Type {
	case "disabled":
		if len(n.AllowedDomains) > 0 || len(n.DomainSecrets) > 0 {
			return egress.Policy{}, errdefs.New(errdefs.ErrInvalid, "", `network_policy: allowed_domains and domain_secrets go with "type": "allowlist"`)
		}
		return egress.Policy{}, nil
	case "allowlist":
	default:
		return egress.Policy{}, errdefs.New(errdefs.ErrInvalid, "", `network_policy.type: must be "disabled" or "allowlist"`)
	}
	if len(n.AllowedDomains) == 0 {
		return egress.Policy{}, errdefs.New(errdefs.ErrInvalid, "", "network_policy.allowed_domains: at least one domain is required for an allowlist")
	}
	p := egress.Policy{AllowedDomains: n.AllowedDomains}
	for _, s := range n.DomainSecrets {
		p.Secrets = append(p.Secrets, egress.Secret{Domain: s.Domain, Name: s.Name, Value: s.Value})
	}
	return p, nil
}

// toNetworkPolicyJSON is what a container object shows of its policy.
func toNetworkPolicyJSON(p egress.Policy) *networkPolicyJSON {
	if !p.Enabled() {
		return &networkPolicyJSON{Type: "disabled"}
	}
	return &networkPolicyJSON{Type: "allowlist", AllowedDomains: p.AllowedDomains}
}
