package openai

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"regexp"
	"strings"
	"time"

	"github.com/codebox-dev/codebox/provider"
)

// Vendor is an OpenAI-compatible provider served under a name: its models are
// "<Name>/<model>".
type Vendor struct {
	Name  string `json:"name"`
	Title string `json:"title,omitempty"`
	// BaseURL is where the provider listens unless configured otherwise.
	BaseURL string `json:"base_url"`
	// KeyEnv is the variable the vendor's own tools read the key from; empty for local
	// servers, which need no key.
	KeyEnv string `json:"api_key_env,omitempty"`
	// MaxTokensField is the request field carrying max_tokens ("" picks by host).
	MaxTokensField string `json:"max_tokens_field,omitempty"`
	Quirks         Quirks `json:"quirks"`
}

// Vendors are the built-in providers. Their quirks follow each vendor's documentation;
// the tests of this package reproduce each documented behaviour against a fake server.
var Vendors = []Vendor{
	{Name: "openai", Title: "OpenAI", BaseURL: DefaultBaseURL, KeyEnv: "OPENAI_API_KEY",
		Quirks: Quirks{Strict: true}},
	{Name: "gemini", Title: "Google Gemini", BaseURL: "https://generativelanguage.googleapis.com/v1beta/openai",
		KeyEnv: "GEMINI_API_KEY", MaxTokensField: MaxTokens,
		Quirks: Quirks{SchemaSubset: true, ParallelToolCalls: ParallelNever}},
	{Name: "mistral", Title: "Mistral", BaseURL: "https://api.mistral.ai/v1", KeyEnv: "MISTRAL_API_KEY",
		MaxTokensField: MaxTokens, Quirks: Quirks{ShortToolIDs: true, NoStreamOptions: true, Strict: true}},
	{Name: "deepseek", Title: "DeepSeek", BaseURL: "https://api.deepseek.com/v1", KeyEnv: "DEEPSEEK_API_KEY",
		MaxTokensField: MaxTokens, Quirks: Quirks{ReasoningBack: true}},
	{Name: "openrouter", Title: "OpenRouter", BaseURL: "https://openrouter.ai/api/v1", KeyEnv: "OPENROUTER_API_KEY",
		MaxTokensField: MaxTokens},
	{Name: "ollama", Title: "Ollama", BaseURL: "http://localhost:11434/v1", MaxTokensField: MaxTokens},
	{Name: "vllm", Title: "vLLM", BaseURL: "http://localhost:8000/v1", MaxTokensField: MaxTokens},
	{Name: "llamacpp", Title: "llama.cpp server", BaseURL: "http://localhost:8080/v1", MaxTokensField: MaxTokens,
		Quirks: Quirks{NoNamedToolChoice: true, ParallelToolCalls: ParallelAlways}},
}

// Config is the driver configuration of v at baseURL with key. The key is required
// at v's own base URL when v's vendor issues keys, where the vendor always asks for one;
// pointed elsewhere (a proxy, a local server) it is sent only when set. keyHint says
// where a missing key goes.
func (v Vendor) Config(baseURL, key, keyHint string) Config {
	cfg := Config{Name: v.Name, BaseURL: baseURL, APIKey: key, MaxTokensField: v.MaxTokensField, Quirks: v.Quirks}
	if v.KeyEnv != "" && strings.TrimRight(baseURL, "/") == v.BaseURL {
		cfg.KeyHint = keyHint
	}
	return cfg
}

// LookupVendor returns the built-in provider called name.
func LookupVendor(name string) (Vendor, bool) {
	for _, v := range Vendors {
		if v.Name == name {
			return v, true
		}
	}
	return Vendor{}, false
}

// Registered is a provider an operator adds in a registry file: a Vendor plus where
// its key comes from.
type Registered struct {
	Vendor
	// APIKey is the key itself; APIKeyEnv (Vendor.KeyEnv) names a variable holding it
	// instead, which keeps keys out of the file.
	APIKey string `json:"api_key,omitempty"`
}

var nameRe = regexp.MustCompile(`^[a-z][a-z0-9-]{0,31}$`)

// LoadRegistry reads a registry file: a JSON array of providers, each
//
//	{"name": "together", "base_url": "https://api.together.xyz/v1",
//	 "api_key_env": "TOGETHER_API_KEY", "max_tokens_field": "max_tokens",
//	 "quirks": {"short_tool_ids": false, "parallel_tool_calls": "never", …}}
//
// A name must be new (not a built-in provider, anthropic or script) and lowercase.
func LoadRegistry(path string) ([]Registered, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var regs []Registered
	dec := json.NewDecoder(strings.NewReader(string(data)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&regs); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	seen := map[string]bool{}
	for i, r := range regs {
		_, builtin := LookupVendor(r.Name)
		switch {
		case !nameRe.MatchString(r.Name):
			return nil, fmt.Errorf("%s: provider %d: name %q: want lowercase letters, digits and dashes, starting with a letter", path, i, r.Name)
		case builtin || r.Name == "anthropic" || r.Name == "script" || seen[r.Name]:
			return nil, fmt.Errorf("%s: provider %q is already defined", path, r.Name)
		case r.BaseURL == "":
			return nil, fmt.Errorf("%s: provider %q: base_url is required", path, r.Name)
		}
		seen[r.Name] = true
		if r.APIKey == "" && r.KeyEnv != "" {
			regs[i].APIKey = os.Getenv(r.KeyEnv)
		}
	}
	return regs, nil
}

// ListModels lists the server's models (GET /models). Errors: see provider.Model.
func (m *Model) ListModels(ctx context.Context) ([]provider.ModelInfo, error) {
	if m.cfg.APIKey == "" && m.cfg.KeyHint != "" {
		return nil, m.errNoKey()
	}
	page, err := m.models.List(ctx)
	if err != nil {
		return nil, m.mapError(ctx, err)
	}
	var out []provider.ModelInfo
	for ; page != nil && len(page.Data) > 0; page, err = page.GetNextPage() {
		for _, d := range page.Data {
			// Google's endpoint names its models "models/<id>"; requests name them by id.
			mi := provider.ModelInfo{ID: strings.TrimPrefix(d.ID, "models/")}
			if d.Created > 0 {
				mi.CreatedAt = time.Unix(d.Created, 0).UTC()
			}
			out = append(out, mi)
		}
	}
	if err != nil {
		return nil, m.mapError(ctx, err)
	}
	return out, nil
}
