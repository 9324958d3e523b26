package api

import (
	"context"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/codebox-dev/codebox"
	"github.com/codebox-dev/codebox/agentloop"
)

// countingLoop counts every request as 42 tokens and answers nothing else.
type countingLoop struct {
	failingLoop
	got *agentloop.Request
}

func (c *countingLoop) CountTokens(ctx context.Context, ws codebox.WorkspaceID, req *agentloop.Request) (int64, error) {
	c.got = req
	return 42, nil
}

func TestCountTokensGolden(t *testing.T) {
	loop := &countingLoop{}
	srv := httptest.NewServer(New(Config{Auth: keyAuth{"key1": "ws1"}, MessagesConfig: MessagesConfig{Loop: loop}}))
	defer srv.Close()
	body := `{"model":"claude-x","messages":[{"role":"user","content":"hi"}],"system":"Be brief.",
		"tools":[{"type":"code_execution_20250825","name":"code_execution"}]}`
	status, h, got := do(t, srv, call{method: "POST", path: "/v1/messages/count_tokens?beta=true", body: strings.NewReader(body)})
	if status != 200 || !strings.HasPrefix(h.Get("Content-Type"), "application/json") {
		t.Fatalf("status = %d %s %s", status, h.Get("Content-Type"), got)
	}
	messagesGolden(t, "count_tokens.json", got)
	if loop.got == nil || loop.got.CodeExecution != "code_execution_20250825" || len(loop.got.System) != 1 {
		t.Errorf("loop got %+v", loop.got)
	}

	for _, bad := range []string{
		`{"messages":[{"role":"user","content":"hi"}]}`,
		`{"model":"claude-x","messages":[]}`,
		`{"model":"claude-x","messages":[{"role":"user","content":[{"type":"container_upload","file_id":"file_x"}]}]}`,
	} {
		status, _, got := do(t, srv, call{method: "POST", path: "/v1/messages/count_tokens", body: strings.NewReader(bad)})
		if status != 400 || !strings.Contains(string(got), "invalid_request_error") {
			t.Errorf("%s: %d %s", bad, status, got)
		}
	}
}
