package provider_test

import (
	"context"
	"errors"
	"net/http"
	"testing"

	"github.com/codebox-dev/codebox/errdefs"
	"github.com/codebox-dev/codebox/provider"
)

type named string

func (n named) Turn(context.Context, *provider.Request, func(provider.Event)) (*provider.Response, error) {
	return &provider.Response{Model: string(n)}, nil
}

func TestRouterResolve(t *testing.T) {
	r := &provider.Router{Anthropic: named("a"), Named: map[string]provider.Model{"openai": named("o"), "mistral": named("m")},
		Scripts: map[string]provider.Model{"default": named("s"), "sales": named("sales")}}
	for _, tc := range []struct{ model, driver, upstream string }{
		{"claude-sonnet-4-5", "a", "claude-sonnet-4-5"},
		{"anthropic/claude-opus-4-1", "a", "claude-opus-4-1"},
		{"openai/gpt-4.1-mini", "o", "gpt-4.1-mini"},
		{"openai/qwen/qwen3-coder:30b", "o", "qwen/qwen3-coder:30b"},
		{"mistral/mistral-small-latest", "m", "mistral-small-latest"},
		{"script", "s", "script"},
		{"script/sales", "sales", "script/sales"},
	} {
		m, up, err := r.Resolve(tc.model)
		if err != nil {
			t.Errorf("Resolve(%q) = %v", tc.model, err)
			continue
		}
		if m.(named) != named(tc.driver) || up != tc.upstream {
			t.Errorf("Resolve(%q) = %v, %q, want %s, %q", tc.model, m, up, tc.driver, tc.upstream)
		}
	}
	for _, tc := range []struct {
		model string
		kind  error
	}{
		{"gpt-4o", errdefs.ErrInvalid},
		{"openai/", errdefs.ErrInvalid},
		{"deepseek/deepseek-chat", errdefs.ErrInvalid},
		{"script/nope", errdefs.ErrNotFound},
	} {
		if _, _, err := r.Resolve(tc.model); !errors.Is(err, tc.kind) {
			t.Errorf("Resolve(%q) err = %v, want %v", tc.model, err, tc.kind)
		}
	}
	empty := &provider.Router{}
	if _, _, err := empty.Resolve("claude-x"); !errors.Is(err, errdefs.ErrInvalid) {
		t.Errorf("unconfigured anthropic: err = %v", err)
	}
	if _, _, err := empty.Resolve("script"); !errors.Is(err, errdefs.ErrInvalid) {
		t.Errorf("no scripts: err = %v", err)
	}
}

func TestProvider(t *testing.T) {
	for model, want := range map[string]string{
		"claude-sonnet-4-5": "anthropic", "anthropic/claude-opus-4-1": "anthropic",
		"openai/gpt-4.1-mini": "openai", "script": "script", "script/sales": "script",
		"mistral/mistral-large-latest": "mistral", "ollama/qwen/qwen3:8b": "ollama",
		"gpt-4o": "", "scripted": "",
	} {
		if got := provider.Provider(model); got != want {
			t.Errorf("Provider(%q) = %q, want %q", model, got, want)
		}
	}
}

func TestUpstreamError(t *testing.T) {
	for _, tc := range []struct {
		status int
		kind   error
	}{
		{429, errdefs.ErrRateLimited}, {529, errdefs.ErrUnavailable}, {503, errdefs.ErrUnavailable},
		{500, errdefs.ErrUpstream}, {502, errdefs.ErrUpstream}, {504, errdefs.ErrTimeout},
		{400, errdefs.ErrInvalid}, {422, errdefs.ErrInvalid}, {401, errdefs.ErrUnauthenticated},
		{403, errdefs.ErrPermission}, {404, errdefs.ErrNotFound}, {413, errdefs.ErrTooLarge},
	} {
		err := provider.UpstreamError(tc.status, "m", nil)
		var pub *errdefs.Public
		if !errors.Is(err, tc.kind) || !errors.As(err, &pub) || pub.Status != tc.status || pub.Message != "m" {
			t.Errorf("UpstreamError(%d) = %#v, want kind %v", tc.status, err, tc.kind)
		}
	}
	if msg := provider.UpstreamError(http.StatusBadGateway, "", nil).Error(); msg == "" {
		t.Error("empty message")
	}
}
