package api

import (
	"context"
	"net/http"

	"github.com/modelcontextprotocol/go-sdk/auth"
	sdk "github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/codebox-dev/codebox/mcp"
)

// registerMCPRoute serves MCP over streamable HTTP at /mcp: the mcp package's tools
// over the same sandbox operations as the containers routes, one MCP server (and so
// one container) per MCP session, authenticated like every other route.
func (s *Server) registerMCPRoute() {
	if s.Containers == nil {
		return
	}
	h := sdk.NewStreamableHTTPHandler(func(r *http.Request) *sdk.Server {
		return mcp.NewServer(&mcp.Local{Containers: s.Containers, Runner: s.Runner, Workspace: workspace(r)}, "")
	}, &sdk.StreamableHTTPOptions{Logger: s.Logger})
	// The SDK binds a session to the user in its token info and refuses the session's
	// id from anyone else: the workspace is that user.
	bound := auth.RequireBearerToken(func(ctx context.Context, _ string, r *http.Request) (*auth.TokenInfo, error) {
		return &auth.TokenInfo{UserID: string(workspace(r))}, nil
	}, &auth.RequireBearerTokenOptions{AllowMissingExpiration: true})(h)
	s.mux.Handle("/mcp", s.authenticated(func(w http.ResponseWriter, r *http.Request) error {
		if r.Header.Get("Authorization") == "" {
			r = r.Clone(r.Context())
			r.Header.Set("Authorization", "Bearer "+r.Header.Get("x-api-key"))
		}
		bound.ServeHTTP(w, r)
		return nil
	}))
}
