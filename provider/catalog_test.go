package provider_test

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/codebox-dev/codebox/errdefs"
	"github.com/codebox-dev/codebox/provider"
)

// lister is a Model whose upstream lists models, counting the calls.
type lister struct {
	named
	calls atomic.Int32
	err   error
}

func (l *lister) ListModels(context.Context) ([]provider.ModelInfo, error) {
	l.calls.Add(1)
	return []provider.ModelInfo{{ID: "m1"}}, l.err
}

// TestCatalogCache: an upstream's list is asked once per TTL, a failure is kept a tenth
// as long and shown as the provider's * entry, with its public message only (no host).
func TestCatalogCache(t *testing.T) {
	ok := &lister{}
	failing := &lister{err: &errdefs.Public{Kind: errdefs.ErrUpstream, Message: "b: upstream model provider failed",
		Err: errors.New(`Get "http://10.1.2.3:8000/v1/models": connection refused`)}}
	c := &provider.Catalog{Router: &provider.Router{Named: map[string]provider.Model{"a": ok, "b": failing, "c": named("x")}},
		Titles: map[string]string{"a": "Alpha"}, TTL: time.Hour}
	ctx := context.Background()
	for range 3 {
		got := c.Models(ctx)
		if len(got) != 3 || got[0].ID != "a/m1" || got[0].DisplayName != "Alpha m1" || got[1].ID != "b/*" || got[2].ID != "c/*" {
			t.Fatalf("models = %+v", got)
		}
	}
	if got := c.Models(ctx)[1].DisplayName; got != "b (any model: b/<model>; its models cannot be listed: b: upstream model provider failed)" {
		t.Errorf("failing provider shows %q", got)
	}
	if ok.calls.Load() != 1 || failing.calls.Load() != 1 {
		t.Errorf("upstreams asked %d and %d times, want once each", ok.calls.Load(), failing.calls.Load())
	}
}
