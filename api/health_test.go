package api

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// TestReadyzChecks answers 503 naming the failed check (and no detail of its error)
// when a dependency does not answer, and when draining.
func TestReadyzChecks(t *testing.T) {
	dbErr := errors.New("disk I/O error at /secret/path")
	s := New(Config{HealthConfig: HealthConfig{Checks: []Check{
		{Name: "database", Func: func(context.Context) error { return dbErr }},
		{Name: "blobs", Func: func(context.Context) error { return nil }},
	}}})
	ts := httptest.NewServer(s)
	defer ts.Close()
	get := func() (int, map[string]any, string) {
		t.Helper()
		resp, err := http.Get(ts.URL + "/readyz")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var body map[string]any
		json.NewDecoder(resp.Body).Decode(&body)
		b, _ := json.Marshal(body)
		return resp.StatusCode, body, string(b)
	}
	status, body, raw := get()
	checks, _ := body["checks"].(map[string]any)
	if status != http.StatusServiceUnavailable || checks["database"] != "failed" || checks["blobs"] != "ok" {
		t.Errorf("failing database: %d %s", status, raw)
	}
	if strings.Contains(raw, "/secret/path") {
		t.Errorf("check error leaked: %s", raw)
	}
	dbErr = nil
	s.health.at = s.health.at.AddDate(-1, 0, 0) // past the cache
	if status, _, raw := get(); status != http.StatusOK {
		t.Errorf("all checks pass: %d %s", status, raw)
	}
	s.Drain()
	if status, body, raw := get(); status != http.StatusServiceUnavailable || body["status"] != "unready" {
		t.Errorf("draining: %d %s", status, raw)
	}
}
