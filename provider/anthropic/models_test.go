package anthropic

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/codebox-dev/codebox/errdefs"
)

// TestListModels reads every page of the Anthropic API's model list
// (https://docs.anthropic.com/en/api/models-list), and needs a key.
func TestListModels(t *testing.T) {
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/v1/models" || r.Header.Get("x-api-key") != "k" {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		if r.URL.Query().Get("after_id") == "" {
			io.WriteString(w, `{"data":[{"type":"model","id":"claude-b","display_name":"Claude B","created_at":"2026-02-01T00:00:00Z"}],"first_id":"claude-b","last_id":"claude-b","has_more":true}`)
			return
		}
		io.WriteString(w, `{"data":[{"type":"model","id":"claude-a","display_name":"Claude A","created_at":"2025-01-01T00:00:00Z"}],"first_id":"claude-a","last_id":"claude-a","has_more":false}`)
	}))
	defer ts.Close()
	models, err := New(Config{BaseURL: ts.URL, APIKey: "k"}).ListModels(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(models) != 2 || models[0].ID != "claude-b" || models[1].DisplayName != "Claude A" ||
		!models[1].CreatedAt.Equal(time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)) {
		t.Errorf("models = %+v", models)
	}
	if _, err := New(Config{BaseURL: ts.URL}).ListModels(context.Background()); !errors.Is(err, errdefs.ErrUnauthenticated) {
		t.Errorf("without a key: %v", err)
	}
}
