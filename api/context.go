package api

import (
	"context"
	"net/http"
	"strings"

	"github.com/codebox-dev/codebox"
	"github.com/codebox-dev/codebox/errdefs"
	"github.com/codebox-dev/codebox/ids"
)

type ctxKey int

const (
	requestIDKey ctxKey = iota
	workspaceKey
)

func newRequestID() string { return ids.New("req_") }

func withRequestID(ctx context.Context, id string) context.Context {
	return context.WithValue(ctx, requestIDKey, id)
}

func requestID(ctx context.Context) string {
	id, _ := ctx.Value(requestIDKey).(string)
	return id
}

func withWorkspace(ctx context.Context, ws codebox.WorkspaceID) context.Context {
	return context.WithValue(ctx, workspaceKey, ws)
}

// workspace returns the authenticated workspace. Handlers behind s.handle always have one.
func workspace(r *http.Request) codebox.WorkspaceID {
	ws, _ := r.Context().Value(workspaceKey).(codebox.WorkspaceID)
	return ws
}

func (s *Server) authenticate(r *http.Request) (codebox.WorkspaceID, error) {
	key := r.Header.Get("x-api-key")
	if key == "" {
		if auth := r.Header.Get("Authorization"); auth != "" {
			scheme, token, ok := strings.Cut(auth, " ")
			if ok && strings.EqualFold(scheme, "Bearer") {
				key = strings.TrimSpace(token)
			}
		}
	}
	if key == "" {
		return "", errdefs.New(errdefs.ErrUnauthenticated, "", "x-api-key header is required")
	}
	if s.Auth == nil {
		return "", errdefs.New(errdefs.ErrUnauthenticated, "", "invalid x-api-key")
	}
	return s.Auth.Authenticate(r.Context(), key)
}

// betas returns the anthropic-beta values, whether sent comma-joined, as several header
// lines, or both.
func betas(r *http.Request) []string {
	var out []string
	for _, line := range r.Header.Values("anthropic-beta") {
		for _, v := range strings.Split(line, ",") {
			if v = strings.TrimSpace(v); v != "" {
				out = append(out, v)
			}
		}
	}
	return out
}

// hasBeta reports whether the request opted into the named beta.
func hasBeta(r *http.Request, name string) bool {
	for _, b := range betas(r) {
		if b == name {
			return true
		}
	}
	return false
}
