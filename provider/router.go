package provider

import (
	"context"
	"fmt"
	"net/http"
	"sort"
	"strings"

	"github.com/codebox-dev/codebox/errdefs"
)

// Forwarder is implemented by drivers that can pass a client's Messages request to
// upstream untouched, for requests codebox does not need to interpret (no code
// execution tool). Forward sends body byte for byte to upstream's /v1/messages with the
// server's credentials and the client's anthropic-version and anthropic-beta headers from
// header, and returns upstream's response as is, streaming or not, error statuses
// included; the caller copies it to the client and closes its body. The body's "model"
// is sent as written: a caller that routed an "anthropic/<m>" name must rewrite it first.
// An error means upstream could not be reached (see TransportError).
type Forwarder interface {
	Forward(ctx context.Context, body []byte, header http.Header) (*http.Response, error)
}

// CountForwarder is implemented by Forwarders whose upstream can count tokens:
// ForwardCountTokens is Forward for upstream's /v1/messages/count_tokens.
type CountForwarder interface {
	ForwardCountTokens(ctx context.Context, body []byte, header http.Header) (*http.Response, error)
}

// TokenCounter is implemented by drivers that can tell how many input tokens a request
// costs without running it. Errors are those of Model.Turn.
type TokenCounter interface {
	CountTokens(ctx context.Context, req *Request) (int64, error)
}

// Router picks the Model for a request's model name. A nil driver means that provider
// is not configured: its names then fail to resolve with ErrInvalid. A configured
// driver without credentials still resolves, and its Turn fails with
// ErrUnauthenticated naming the setting that is missing, or is sent without a key
// (local OpenAI-compatible servers need none).
type Router struct {
	// Anthropic serves claude-* and anthropic/<model>.
	Anthropic Model
	// Named serves <name>/<model> for the OpenAI-compatible providers by name:
	// Named["openai"] serves openai/<model>, Named["mistral"] mistral/<model>, and so on.
	Named map[string]Model
	// Scripts serves script/<name>; the bare name "script" picks Scripts["default"],
	// or the only script when there is exactly one.
	Scripts map[string]Model
}

// Provider names the provider a model name routes to: "anthropic", "script", the
// prefix of a "<name>/<model>" name, or "" for a name no provider could serve. Metrics
// label upstream calls with it, only once the name resolved, so the labels are the
// configured providers.
func Provider(model string) string {
	switch {
	case strings.HasPrefix(model, "claude-"), strings.HasPrefix(model, "anthropic/"):
		return "anthropic"
	case model == "script", strings.HasPrefix(model, "script/"):
		return "script"
	}
	if name, rest, ok := strings.Cut(model, "/"); ok && name != "" && rest != "" {
		return name
	}
	return ""
}

// Resolve returns the Model serving model and the name to send upstream (the routing
// prefix removed). Unknown names and unconfigured providers fail with ErrInvalid, an
// unknown script name with ErrNotFound.
func (r *Router) Resolve(model string) (Model, string, error) {
	switch Provider(model) {
	case "anthropic":
		if upstream := strings.TrimPrefix(model, "anthropic/"); upstream != "" {
			return r.pick(r.Anthropic, "anthropic", model, upstream)
		}
	case "script":
		if model == "script" {
			if m, ok := r.Scripts["default"]; ok {
				return m, model, nil
			}
			if len(r.Scripts) == 1 {
				for _, m := range r.Scripts {
					return m, model, nil
				}
			}
			return nil, "", errdefs.New(errdefs.ErrInvalid, "", "model %q: name a script as script/<name> (available: %s)", model, r.scriptNames())
		}
		name := strings.TrimPrefix(model, "script/")
		if m, ok := r.Scripts[name]; ok {
			return m, model, nil
		}
		return nil, "", errdefs.New(errdefs.ErrNotFound, "", "model %q: no script named %q (available: %s)", model, name, r.scriptNames())
	case "":
	default:
		name, upstream, _ := strings.Cut(model, "/")
		if m, ok := r.Named[name]; ok && m != nil {
			return m, upstream, nil
		}
		return nil, "", errdefs.New(errdefs.ErrInvalid, "", "model %q: no provider %q is configured on this server (configured: %s)", model, name, strings.Join(r.Names(), ", "))
	}
	return nil, "", errdefs.New(errdefs.ErrInvalid, "", "model %q: use claude-*, anthropic/<model>, <provider>/<model> with a provider of %s, or script/<name>", model, strings.Join(r.Names(), ", "))
}

// Names lists the configured providers, sorted: anthropic, the named ones and script,
// as a model name starts with them.
func (r *Router) Names() []string {
	var names []string
	if r.Anthropic != nil {
		names = append(names, "anthropic")
	}
	for n, m := range r.Named {
		if m != nil {
			names = append(names, n)
		}
	}
	if len(r.Scripts) > 0 {
		names = append(names, "script")
	}
	sort.Strings(names)
	return names
}

func (r *Router) pick(m Model, provider, model, upstream string) (Model, string, error) {
	if m == nil {
		return nil, "", errdefs.New(errdefs.ErrInvalid, "", "model %q: the %s provider is not configured on this server", model, provider)
	}
	return m, upstream, nil
}

func (r *Router) scriptNames() string {
	if len(r.Scripts) == 0 {
		return "none"
	}
	names := make([]string, 0, len(r.Scripts))
	for n := range r.Scripts {
		names = append(names, n)
	}
	sort.Strings(names)
	return strings.Join(names, ", ")
}

// String describes the router's configuration, for startup logs.
func (r *Router) String() string {
	return fmt.Sprintf("providers=[%s] scripts=[%s]", strings.Join(r.Names(), " "), r.scriptNames())
}
