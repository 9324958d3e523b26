package api

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/codebox-dev/codebox"
	"github.com/codebox-dev/codebox/agentloop"
	"github.com/codebox-dev/codebox/errdefs"
	"github.com/codebox-dev/codebox/provider"
	"github.com/codebox-dev/codebox/sandbox"
	"github.com/codebox-dev/codebox/tools"
)

// messagesGolden compares got with testdata/messages/<name>, rewritten with -update.
func messagesGolden(t *testing.T, name string, got []byte) {
	t.Helper()
	file := filepath.Join("testdata", "messages", name)
	if *updateGolden {
		if err := os.MkdirAll(filepath.Dir(file), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(file, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(file)
	if err != nil {
		t.Fatalf("%v (run go test ./api -run Golden -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s =\n%s\nwant\n%s", name, got, want)
	}
}

func goldenBlock(b provider.Block, r *tools.Result) agentloop.Block {
	return agentloop.Block{Block: b, Result: r}
}

// goldenResponse holds every block type the loop produces.
func goldenResponse() *agentloop.Response {
	exp := time.Date(2026, 11, 20, 12, 5, 0, 0, time.UTC)
	use := func(id, name, input string) agentloop.Block {
		return goldenBlock(provider.Block{Type: agentloop.TypeServerToolUse, ID: id, Name: name, Input: json.RawMessage(input)}, nil)
	}
	res := func(id, name string, r *tools.Result) agentloop.Block {
		r.Tool = name
		return goldenBlock(provider.Block{Type: tools.ResultType(name), ToolUseID: id}, r)
	}
	return &agentloop.Response{
		ID: "msg_golden", Model: "claude-sonnet-4-5", StopReason: "end_turn",
		Container: &sandbox.Container{ID: "container_golden", IdleExpiresAt: exp, ExpiresAt: exp.Add(30 * 24 * time.Hour)},
		Usage:     agentloop.Usage{Usage: provider.Usage{InputTokens: 105, OutputTokens: 239}, CodeExecutionRequests: 9},
		Content: []agentloop.Block{
			goldenBlock(provider.Block{Type: provider.TypeThinking, Text: "Plan.", Signature: "sig"}, nil),
			goldenBlock(provider.Block{Type: provider.TypeText, Text: "Let me look."}, nil),
			use("srvtoolu_1", tools.Bash, `{"command":"ls"}`),
			res("srvtoolu_1", tools.Bash, &tools.Result{Stdout: "chart.png\n", Files: []sandbox.OutputFile{{FileID: "file_chart"}}}),
			use("srvtoolu_2", tools.Bash, `{"command":"sleep 999"}`),
			res("srvtoolu_2", tools.Bash, &tools.Result{ErrorCode: errdefs.CodeExecutionTimeExceeded, ErrorMessage: "killed"}),
			use("srvtoolu_3", tools.TextEditor, `{"command":"view","path":"a.txt"}`),
			res("srvtoolu_3", tools.TextEditor, &tools.Result{Edit: &tools.EditResult{Command: tools.EditView,
				View: sandbox.ViewResult{FileType: "text", Content: "     1\thello\n", NumLines: 1, StartLine: 1, TotalLines: 1}}}),
			use("srvtoolu_4", tools.TextEditor, `{"command":"create","path":"a.txt","file_text":"hi"}`),
			res("srvtoolu_4", tools.TextEditor, &tools.Result{Edit: &tools.EditResult{Command: tools.EditCreate, IsFileUpdate: true}}),
			use("srvtoolu_5", tools.TextEditor, `{"command":"str_replace","path":"a.txt","old_str":"hi","new_str":"yo"}`),
			res("srvtoolu_5", tools.TextEditor, &tools.Result{Edit: &tools.EditResult{Command: tools.EditStrReplace,
				Replace: sandbox.ReplaceResult{OldStart: 1, OldLines: 1, NewStart: 1, NewLines: 1, Lines: []string{"-hi", "+yo"}}}}),
			use("srvtoolu_6", tools.TextEditor, `{"command":"view","path":"nope.txt"}`),
			res("srvtoolu_6", tools.TextEditor, &tools.Result{ErrorCode: errdefs.CodeFileNotFound, ErrorMessage: "file nope.txt does not exist"}),
			use("srvtoolu_7", tools.Python, `{"code":"print(42)"}`),
			res("srvtoolu_7", tools.Python, &tools.Result{Stdout: "42\n"}),
			use("srvtoolu_8", tools.Python, `{}`),
			res("srvtoolu_8", tools.Python, &tools.Result{ErrorCode: errdefs.CodeInvalidToolInput}),
			goldenBlock(provider.Block{Type: provider.TypeToolUse, ID: "toolu_client", Name: "get_weather", Input: json.RawMessage(`{"city":"Paris"}`)}, nil),
		},
	}
}

func TestMessagesGoldenMessage(t *testing.T) {
	b, err := json.MarshalIndent(toWireMessage(goldenResponse()), "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	messagesGolden(t, "message.json", append(b, '\n'))

	plain := &agentloop.Response{ID: "msg_plain", Model: "openai/gpt-test", StopReason: "max_tokens",
		Content: []agentloop.Block{goldenBlock(provider.Block{Type: provider.TypeText, Text: "Hi"}, nil)}}
	b, _ = json.MarshalIndent(toWireMessage(plain), "", "  ")
	messagesGolden(t, "message_without_code_execution.json", append(b, '\n'))
}

func TestMessagesGoldenStream(t *testing.T) {
	resp := goldenResponse()
	resp.Content = resp.Content[1:4]
	resp.Usage.CodeExecutionRequests = 1
	rec := httptest.NewRecorder()
	sse := newMessageStream(rec)
	sse.loopEvent(agentloop.Event{Type: agentloop.EventMessageStart, Message: resp})
	text := resp.Content[0]
	sse.loopEvent(agentloop.Event{Type: agentloop.EventBlockStart, Index: 0, Block: &agentloop.Block{Block: provider.Block{Type: provider.TypeText}}})
	sse.loopEvent(agentloop.Event{Type: agentloop.EventBlockDelta, Index: 0, DeltaType: agentloop.DeltaText, Delta: text.Text})
	sse.loopEvent(agentloop.Event{Type: agentloop.EventBlockStop, Index: 0})
	use := resp.Content[1]
	open := use
	open.Input = nil
	sse.loopEvent(agentloop.Event{Type: agentloop.EventBlockStart, Index: 1, Block: &open})
	sse.loopEvent(agentloop.Event{Type: agentloop.EventBlockDelta, Index: 1, DeltaType: agentloop.DeltaInputJSON, Delta: string(use.Input)})
	sse.loopEvent(agentloop.Event{Type: agentloop.EventBlockStop, Index: 1})
	sse.loopEvent(agentloop.Event{Type: agentloop.EventPing})
	sse.loopEvent(agentloop.Event{Type: agentloop.EventBlockStart, Index: 2, Block: &resp.Content[2]})
	sse.loopEvent(agentloop.Event{Type: agentloop.EventBlockStop, Index: 2})
	sse.finish(resp)
	if ct := rec.Header().Get("Content-Type"); ct != "text/event-stream; charset=utf-8" {
		t.Errorf("Content-Type = %q", ct)
	}
	messagesGolden(t, "stream.sse", rec.Body.Bytes())
}

// failingLoop starts a stream, then fails as an upstream would mid-answer.
type failingLoop struct{ err error }

func (f failingLoop) Run(ctx context.Context, ws codebox.WorkspaceID, req *agentloop.Request, events func(agentloop.Event)) (*agentloop.Response, error) {
	if events != nil {
		resp := goldenResponse()
		events(agentloop.Event{Type: agentloop.EventMessageStart, Message: resp})
		events(agentloop.Event{Type: agentloop.EventBlockStart, Index: 0, Block: &agentloop.Block{Block: provider.Block{Type: provider.TypeText}}})
	}
	return nil, f.err
}

func (failingLoop) Forwarder(string) (provider.Forwarder, string, bool) { return nil, "", false }

func (failingLoop) RecordForwarded(context.Context, codebox.WorkspaceID, string, string, agentloop.Usage) {
}

func TestMessagesGoldenStreamError(t *testing.T) {
	loop := failingLoop{err: &errdefs.Public{Kind: errdefs.ErrUnavailable, Message: "Overloaded", Status: 529}}
	srv := httptest.NewServer(New(Config{Auth: keyAuth{"key1": "ws1"}, MessagesConfig: MessagesConfig{Loop: loop}}))
	defer srv.Close()
	body := `{"model":"claude-x","max_tokens":10,"stream":true,"messages":[{"role":"user","content":"hi"}],
		"tools":[{"type":"code_execution_20250825","name":"code_execution"}]}`
	status, _, got := do(t, srv, call{method: "POST", path: "/v1/messages", body: strings.NewReader(body)})
	if status != 200 {
		t.Fatalf("status = %d", status)
	}
	messagesGolden(t, "stream_error.sse", got)

	// Before the stream starts, the same failure is an HTTP status with the envelope.
	loop.err = &errdefs.Public{Kind: errdefs.ErrRateLimited, Message: "slow down", Status: 429}
	srv2 := httptest.NewServer(New(Config{Auth: keyAuth{"key1": "ws1"}, MessagesConfig: MessagesConfig{Loop: loop}}))
	defer srv2.Close()
	status, _, got = do(t, srv2, call{method: "POST", path: "/v1/messages", body: strings.NewReader(strings.Replace(body, `"stream":true`, `"stream":false`, 1))})
	if status != 429 {
		t.Fatalf("status = %d", status)
	}
	messagesGolden(t, "error_rate_limited.json", requestIDRe.ReplaceAll(got, []byte(`"request_id":"req_X"`)))
}
