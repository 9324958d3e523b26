package api

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// TestConsoleRoutes mounts the console at GET / and GET /console/ only: other methods
// and paths keep the API's error envelopes.
func TestConsoleRoutes(t *testing.T) {
	console := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "console "+r.URL.Path) })
	for _, tc := range []struct {
		name    string
		console http.Handler
		method  string
		path    string
		status  int
		body    string
	}{
		{"page", console, "GET", "/", 200, "console /"},
		{"asset", console, "GET", "/console/chat.js", 200, "console /console/chat.js"},
		{"post page", console, "POST", "/", 404, `"not_found_error"`},
		{"unknown path", console, "GET", "/nope", 404, `"not_found_error"`},
		{"no console", nil, "GET", "/", 404, `"not_found_error"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := httptest.NewServer(New(Config{Auth: keyAuth{"key1": "ws1"}, ConsoleConfig: ConsoleConfig{Console: tc.console}}))
			defer srv.Close()
			req, _ := http.NewRequest(tc.method, srv.URL+tc.path, nil)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			body, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != tc.status || !strings.Contains(string(body), tc.body) {
				t.Errorf("%s %s = %d %s, want %d %s", tc.method, tc.path, resp.StatusCode, body, tc.status, tc.body)
			}
		})
	}
}
