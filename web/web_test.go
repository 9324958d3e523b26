package web

import (
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
)

func get(t *testing.T, srv *httptest.Server, path string) (*http.Response, string) {
	t.Helper()
	resp, err := http.Get(srv.URL + path)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, string(body)
}

// TestHandler serves the page at / with a same-origin-only policy, and every script,
// style and module it loads from the embedded assets under Prefix.
func TestHandler(t *testing.T) {
	srv := httptest.NewServer(Handler())
	defer srv.Close()
	resp, page := get(t, srv, "/")
	if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") {
		t.Fatalf("GET / = %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	if csp := resp.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'none'") || !strings.Contains(csp, "connect-src 'self'") {
		t.Errorf("Content-Security-Policy = %q", csp)
	}
	// Nothing from another host: every reference is a path of this server.
	if m := regexp.MustCompile(`(?i)(src|href)="(https?:)?//`).FindString(page); m != "" {
		t.Errorf("page loads from another host: %s", m)
	}
	refs := regexp.MustCompile(`(?:src|href)="(/console/[^"]+)"`).FindAllStringSubmatch(page, -1)
	// Modules import each other by relative path: follow them too.
	imports := regexp.MustCompile(`from "\./([^"]+)"`)
	seen := map[string]bool{}
	for len(refs) > 0 {
		path := refs[0][1]
		refs = refs[1:]
		if seen[path] {
			continue
		}
		seen[path] = true
		resp, body := get(t, srv, path)
		if resp.StatusCode != 200 {
			t.Errorf("GET %s = %d", path, resp.StatusCode)
			continue
		}
		want := map[string]string{".js": "javascript", ".css": "text/css"}[path[strings.LastIndex(path, "."):]]
		if ct := resp.Header.Get("Content-Type"); want == "" || !strings.Contains(ct, want) {
			t.Errorf("GET %s: Content-Type %q", path, ct)
		}
		for _, m := range imports.FindAllStringSubmatch(body, -1) {
			refs = append(refs, []string{"", Prefix + m[1]})
		}
	}
	for _, p := range []string{"/console/chat.js", "/console/api.js", "/console/render.js", "/console/highlight.js", "/console/panels.js", "/console/console.css"} {
		if !seen[p] {
			t.Errorf("%s is not reached from the page", p)
		}
	}
	if resp, _ := get(t, srv, "/console/missing.js"); resp.StatusCode != 404 {
		t.Errorf("GET /console/missing.js = %d, want 404", resp.StatusCode)
	}
}
