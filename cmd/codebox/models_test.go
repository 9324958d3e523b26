package main

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/anthropics/anthropic-sdk-go"
	"github.com/anthropics/anthropic-sdk-go/option"
	"github.com/spf13/cobra"

	"github.com/codebox-dev/codebox/api"
	"github.com/codebox-dev/codebox/provider"
	"github.com/codebox-dev/codebox/provider/script"
)

// TestModels lists a server's models with the official SDK and with codebox models:
// each provider whose upstream lists its models (Mistral's, Ollama's fakes) shows
// them by the names requests use; one without a key (Gemini) or unreachable stands as
// <name>/*, saying why. Pages follow Anthropic's list, and one model can be fetched,
// including any name under an unlisted provider.
func TestModels(t *testing.T) {
	sc, _ := script.Parse([]byte(`[{"content": [{"type": "text", "text": "hi"}]}]`))
	fake := func(name string) string {
		ts := httptest.NewServer(script.NewOpenAIServerFlavor(sc, script.Flavors[name]))
		t.Cleanup(ts.Close)
		return ts.URL + "/v1"
	}
	var c providersConfig
	cmd := &cobra.Command{}
	bindProviderFlags(cmd.Flags(), &c)
	fs := cmd.Flags()
	for flag, value := range map[string]string{
		"mistral-base-url": fake("mistral"), "mistral-api-key": "mk", "ollama-base-url": fake("ollama"),
		"vllm-base-url": "http://127.0.0.1:1/v1",
	} {
		if err := fs.Set(flag, value); err != nil {
			t.Fatal(err)
		}
	}
	named, err := namedProviders(&c)
	if err != nil {
		t.Fatal(err)
	}
	// Only these, so the test asks no real vendor.
	for name := range named {
		if name != "mistral" && name != "ollama" && name != "vllm" && name != "gemini" {
			delete(named, name)
		}
	}
	router := &provider.Router{Named: named}
	srv := httptest.NewServer(api.New(api.Config{Logger: slog.New(slog.DiscardHandler), Auth: oneKey("k"),
		ModelsConfig: api.ModelsConfig{Catalog: &provider.Catalog{Router: router, Titles: providerTitles()}}}))
	defer srv.Close()
	client := anthropic.NewClient(option.WithBaseURL(srv.URL), option.WithAPIKey("k"), option.WithMaxRetries(0))
	ctx := context.Background()

	var ids []string
	pager := client.Models.ListAutoPaging(ctx, anthropic.ModelListParams{Limit: anthropic.Int(2)})
	for pager.Next() {
		m := pager.Current()
		if m.Type != "model" || m.DisplayName == "" {
			t.Errorf("model = %s", m.RawJSON())
		}
		ids = append(ids, m.ID)
	}
	if err := pager.Err(); err != nil {
		t.Fatal(err)
	}
	want := "gemini/*,mistral/mistral-small-latest,mistral/magistral-small-latest,ollama/qwen3:8b,ollama/llama3.1:8b,vllm/*"
	if got := strings.Join(ids, ","); got != want {
		t.Errorf("models = %s\nwant %s", got, want)
	}

	page, err := client.Models.List(ctx, anthropic.ModelListParams{Limit: anthropic.Int(2), AfterID: anthropic.String("mistral/magistral-small-latest")})
	if err != nil || len(page.Data) != 2 || page.FirstID != "ollama/qwen3:8b" || page.LastID != "ollama/llama3.1:8b" || !page.HasMore {
		t.Fatalf("page after = %s, %v", page.RawJSON(), err)
	}
	m, err := client.Models.Get(ctx, "ollama/qwen3:8b", anthropic.ModelGetParams{})
	if err != nil || m.DisplayName != "Ollama qwen3:8b" {
		t.Fatalf("get = %+v, %v", m, err)
	}
	m, err = client.Models.Get(ctx, "gemini/gemini-2.5-pro", anthropic.ModelGetParams{})
	if err != nil || m.ID != "gemini/gemini-2.5-pro" || m.DisplayName != "Google Gemini gemini-2.5-pro" {
		t.Fatalf("get under an unlisted provider = %+v, %v", m, err)
	}
	_, err = client.Models.Get(ctx, "ollama/not-pulled", anthropic.ModelGetParams{})
	var ae *anthropic.Error
	if !errors.As(err, &ae) || ae.StatusCode != http.StatusNotFound || ae.Type() != "not_found_error" {
		t.Fatalf("unknown model: %v", err)
	}

	var out bytes.Buffer
	mc := &cobra.Command{}
	mc.SetContext(ctx)
	if err := listModels(mc, client, &out); err != nil {
		t.Fatal(err)
	}
	for _, line := range []string{"mistral/mistral-small-latest", "gemini/*", "set GEMINI_API_KEY", "vllm/*"} {
		if !strings.Contains(out.String(), line) {
			t.Errorf("codebox models lacks %q:\n%s", line, out.String())
		}
	}
}
