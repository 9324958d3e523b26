package main

import (
	"context"
	"errors"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/spf13/cobra"

	"github.com/codebox-dev/codebox/errdefs"
	"github.com/codebox-dev/codebox/provider"
	"github.com/codebox-dev/codebox/provider/script"
)

// TestProviderFlags: each provider's key comes from its flag, its CODEBOX_ twin or the
// vendor's own variable; a missing key answers 401 naming them; a registry file adds a
// provider under a new name.
func TestProviderFlags(t *testing.T) {
	sc, err := script.Parse([]byte(`[{"content": [{"type": "text", "text": "hi from together"}]}]`))
	if err != nil {
		t.Fatal(err)
	}
	up := script.NewOpenAIServer(sc)
	ts := httptest.NewServer(up)
	defer ts.Close()
	reg := filepath.Join(t.TempDir(), "providers.json")
	os.WriteFile(reg, []byte(`[{"name": "together", "base_url": "`+ts.URL+`/v1", "api_key_env": "TOGETHER_KEY_FOR_TEST",
	  "quirks": {"parallel_tool_calls": "never"}}]`), 0o600)

	var c providersConfig
	cmd := &cobra.Command{}
	bindProviderFlags(cmd.Flags(), &c)
	for _, v := range []string{"GEMINI_API_KEY", "CODEBOX_GEMINI_API_KEY"} {
		t.Setenv(v, "")
	}
	t.Setenv("MISTRAL_API_KEY", "mk")
	t.Setenv("CODEBOX_DEEPSEEK_API_KEY", "dk")
	t.Setenv("DEEPSEEK_API_KEY", "not this one")
	t.Setenv("TOGETHER_KEY_FOR_TEST", "tk")
	t.Setenv("CODEBOX_PROVIDERS_FILE", reg)
	if err := cmd.Flags().Set("ollama-base-url", "http://127.0.0.1:1/v1"); err != nil {
		t.Fatal(err)
	}
	if err := bindEnv(cmd); err != nil {
		t.Fatal(err)
	}
	if *c.APIKey["mistral"] != "mk" || *c.APIKey["deepseek"] != "dk" || *c.BaseURL["ollama"] != "http://127.0.0.1:1/v1" ||
		*c.BaseURL["vllm"] != "http://localhost:8000/v1" {
		t.Fatalf("keys %q %q, base URLs %q %q", *c.APIKey["mistral"], *c.APIKey["deepseek"], *c.BaseURL["ollama"], *c.BaseURL["vllm"])
	}
	named, err := namedProviders(&c)
	if err != nil {
		t.Fatal(err)
	}
	r := &provider.Router{Named: named}
	ctx := context.Background()
	req := &provider.Request{Messages: []provider.Message{{Role: "user", Content: []provider.Block{{Type: "text", Text: "hi"}}}}}

	m, up2, err := r.Resolve("gemini/gemini-2.5-flash")
	if err != nil || up2 != "gemini-2.5-flash" {
		t.Fatalf("Resolve = %q, %v", up2, err)
	}
	req.Model = up2
	_, err = m.Turn(ctx, req, nil)
	var pub *errdefs.Public
	if !errors.Is(err, errdefs.ErrUnauthenticated) || !errors.As(err, &pub) ||
		!strings.Contains(pub.Message, "GEMINI_API_KEY, CODEBOX_GEMINI_API_KEY or --gemini-api-key") {
		t.Fatalf("gemini without a key: %v", err)
	}

	m, up2, err = r.Resolve("together/meta-llama/Llama-3.3-70B")
	if err != nil {
		t.Fatal(err)
	}
	req.Model = up2
	resp, err := m.Turn(ctx, req, nil)
	if err != nil || resp.Content[0].Text != "hi from together" {
		t.Fatalf("registered provider: %+v, %v", resp, err)
	}
	if got := up.Requests()[0].Header.Get("Authorization"); got != "Bearer tk" {
		t.Errorf("Authorization = %q", got)
	}

	os.WriteFile(reg, []byte(`[{"name": "mistral", "base_url": "http://x/v1"}]`), 0o600)
	if _, err := namedProviders(&c); err == nil || !strings.Contains(err.Error(), "already defined") {
		t.Errorf("redefining mistral: %v", err)
	}
}
