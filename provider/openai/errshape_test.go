package openai

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/codebox-dev/codebox/errdefs"
	"github.com/codebox-dev/codebox/provider"
)

// TestErrorBodies checks the error bodies of servers that differ from OpenAI's.
func TestErrorBodies(t *testing.T) {
	for _, tc := range []struct {
		name   string
		status int
		body   string
		kind   error
		msg    string
	}{
		{"openai", 400, `{"error":{"message":"bad value","type":"invalid_request_error","param":"x","code":null}}`, errdefs.ErrInvalid, "bad value"},
		{"vllm", 400, `{"object":"error","message":"max_tokens is too large","type":"BadRequestError","param":null,"code":400}`, errdefs.ErrInvalid, "max_tokens is too large"},
		{"ollama native", 404, `{"error":"model \"llama9\" not found, try pulling it first"}`, errdefs.ErrNotFound, `model "llama9" not found, try pulling it first`},
		{"plain text", 502, `Bad Gateway`, errdefs.ErrUpstream, "Bad Gateway"},
		{"html", 502, `<html><body>nginx</body></html>`, errdefs.ErrUpstream, "upstream model provider: 502 Bad Gateway"},
		{"fastapi", 422, `{"detail":"Unprocessable"}`, errdefs.ErrInvalid, "Unprocessable"},
		{"empty", 503, ``, errdefs.ErrUnavailable, "upstream model provider: 503 Service Unavailable"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.WriteHeader(tc.status)
				io.WriteString(w, tc.body)
			}))
			defer ts.Close()
			m, _ := New(Config{BaseURL: ts.URL + "/v1"})
			_, err := m.Turn(context.Background(), &provider.Request{Model: "m"}, nil)
			var pub *errdefs.Public
			if !errors.Is(err, tc.kind) || !errors.As(err, &pub) || pub.Message != tc.msg || pub.Status != tc.status {
				t.Errorf("err = %#v, want kind %v message %q", err, tc.kind, tc.msg)
			}
		})
	}
}
