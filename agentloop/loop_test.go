package agentloop_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/codebox-dev/codebox"
	"github.com/codebox-dev/codebox/agentloop"
	"github.com/codebox-dev/codebox/errdefs"
	"github.com/codebox-dev/codebox/files"
	"github.com/codebox-dev/codebox/provider"
	"github.com/codebox-dev/codebox/provider/script"
	"github.com/codebox-dev/codebox/sandbox"
	"github.com/codebox-dev/codebox/tools"
	"github.com/codebox-dev/codebox/tools/toolstest"
)

const ws codebox.WorkspaceID = "ws1"

// memFiles is an in-memory Files.
type memFiles struct{ m map[string]*files.File }

func (f *memFiles) Get(ctx context.Context, w codebox.WorkspaceID, id string) (*files.File, error) {
	if x, ok := f.m[id]; ok && x.Workspace == w {
		return x, nil
	}
	return nil, errdefs.New(errdefs.ErrNotFound, "", "file %s not found", id)
}

func (f *memFiles) OpenInput(ctx context.Context, w codebox.WorkspaceID, id string) (string, io.ReadCloser, error) {
	x, err := f.Get(ctx, w, id)
	if err != nil {
		return "", nil, err
	}
	return x.Filename, io.NopCloser(strings.NewReader(x.Checksum)), nil // Checksum holds the content in this fake
}

type memUsage struct {
	mu   sync.Mutex
	recs []agentloop.UsageRecord
}

func (u *memUsage) RecordUsage(ctx context.Context, w codebox.WorkspaceID, rec agentloop.UsageRecord) error {
	u.mu.Lock()
	defer u.mu.Unlock()
	u.recs = append(u.recs, rec)
	return nil
}

type fixture struct {
	loop  *agentloop.Loop
	sb    *toolstest.Sandbox
	model *script.Model
	usage *memUsage
}

func newFixture(t *testing.T, turns string, cfg agentloop.Config) *fixture {
	t.Helper()
	s, err := script.Parse([]byte(turns))
	if err != nil {
		t.Fatal(err)
	}
	m := script.NewModel(s)
	sb := toolstest.New(t.TempDir(), nil)
	sb.Timeout = 2 * time.Second
	u := &memUsage{}
	cfg.Models = &provider.Router{Scripts: map[string]provider.Model{"default": m}}
	cfg.Sandbox = sb
	cfg.Usage = u
	if cfg.Files == nil {
		cfg.Files = &memFiles{m: map[string]*files.File{
			"file_sales": {ID: "file_sales", Workspace: ws, Filename: "sales.csv", Checksum: "region,revenue\nnorth,10\nsouth,5\n"},
		}}
	}
	return &fixture{loop: agentloop.New(cfg), sb: sb, model: m, usage: u}
}

func userText(s string) agentloop.Message {
	return agentloop.Message{Role: "user", Content: []agentloop.Block{{Block: provider.Block{Type: "text", Text: s}}}}
}

func request(msgs ...agentloop.Message) *agentloop.Request {
	return &agentloop.Request{Model: "script", MaxTokens: 1024, CodeExecution: tools.CodeExecution20250825, Messages: msgs}
}

func types(bs []agentloop.Block) string {
	var s []string
	for _, b := range bs {
		s = append(s, b.Type)
	}
	return strings.Join(s, ",")
}

func TestLoopRunsBashAndEnds(t *testing.T) {
	f := newFixture(t, `[
	 {"content":[{"type":"text","text":"Let me run it."},{"type":"tool_use","name":"bash_code_execution","input":{"command":"echo hi; echo err >&2; printf x > out.txt"}}],
	  "usage":{"input_tokens":10,"output_tokens":3}},
	 {"content":[{"type":"text","text":"Done."}],"usage":{"input_tokens":20,"output_tokens":4}}]`, agentloop.Config{})
	resp, err := f.loop.Run(context.Background(), ws, request(userText("run")), nil)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := types(resp.Content), "text,server_tool_use,bash_code_execution_tool_result,text"; got != want {
		t.Fatalf("content = %s, want %s", got, want)
	}
	use, res := resp.Content[1], resp.Content[2]
	if !strings.HasPrefix(use.ID, "srvtoolu_") || res.ToolUseID != use.ID {
		t.Errorf("ids: use %q result %q", use.ID, res.ToolUseID)
	}
	if r := res.Result; r.Stdout != "hi\n" || r.Stderr != "err\n" || r.ReturnCode != 0 || len(r.Files) != 1 || r.Files[0].Path != "out.txt" {
		t.Errorf("result = %+v", r)
	}
	if resp.StopReason != "end_turn" {
		t.Errorf("StopReason = %q, want end_turn", resp.StopReason)
	}
	if u := resp.Usage; u.InputTokens != 30 || u.OutputTokens != 7 || u.CodeExecutionRequests != 1 {
		t.Errorf("usage = %+v", u)
	}
	if resp.Container == nil || !strings.HasPrefix(resp.Container.ID, sandbox.IDPrefix) {
		t.Errorf("container = %+v", resp.Container)
	}
	if len(f.usage.recs) != 1 || f.usage.recs[0].ContainerID != resp.Container.ID || f.usage.recs[0].CodeExecutionRequests != 1 {
		t.Errorf("usage records = %+v", f.usage.recs)
	}
}

func TestLoopErrorCodes(t *testing.T) {
	f := newFixture(t, `[
	 {"content":[
	   {"type":"tool_use","name":"bash_code_execution","input":{"command":"sleep 30"}},
	   {"type":"tool_use","name":"text_editor_code_execution","input":{"command":"view","path":"missing.txt"}},
	   {"type":"tool_use","name":"text_editor_code_execution","input":{"command":"create","path":"a.txt","file_text":"one\ntwo\n"}},
	   {"type":"tool_use","name":"text_editor_code_execution","input":{"command":"str_replace","path":"a.txt","old_str":"three","new_str":"3"}},
	   {"type":"tool_use","name":"text_editor_code_execution","input":{"command":"str_replace","path":"a.txt","old_str":"two","new_str":"2"}},
	   {"type":"tool_use","name":"text_editor_code_execution","input":{"command":"insert","path":"a.txt"}},
	   {"type":"tool_use","name":"bash_code_execution","input":{"cmd":"ls"}},
	   {"type":"tool_use","name":"code_execution","input":{"code":"print(1)"}}]},
	 {"content":[{"type":"text","text":"ok"}]}]`, agentloop.Config{})
	f.sb.Timeout = 200 * time.Millisecond
	resp, err := f.loop.Run(context.Background(), ws, request(userText("go")), nil)
	if err != nil {
		t.Fatal(err)
	}
	var codes []string
	for _, b := range resp.Content {
		if b.Result != nil {
			codes = append(codes, b.Result.ErrorCode)
		}
	}
	want := []string{"execution_time_exceeded", "file_not_found", "", "string_not_found", "", "invalid_tool_input", "invalid_tool_input", "invalid_tool_input"}
	if strings.Join(codes, ",") != strings.Join(want, ",") {
		t.Fatalf("codes = %q, want %q", codes, want)
	}
	rep := resp.Content[12].Result.Edit
	if rep == nil || rep.Command != tools.EditStrReplace || rep.Replace.OldStart != 2 {
		t.Errorf("str_replace result = %+v", rep)
	}
	if resp.Usage.CodeExecutionRequests != 8 {
		t.Errorf("CodeExecutionRequests = %d, want 8", resp.Usage.CodeExecutionRequests)
	}
}

func TestLoopPauseTurnAndContinuation(t *testing.T) {
	call := `{"content":[{"type":"tool_use","name":"bash_code_execution","input":{"command":"echo step >> log.txt"}}]}`
	f := newFixture(t, `[`+call+`,`+call+`,`+call+`,{"content":[{"type":"text","text":"finished"}]}]`, agentloop.Config{MaxIterations: 2})
	req := request(userText("go"))
	resp, err := f.loop.Run(context.Background(), ws, req, nil)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StopReason != "pause_turn" || types(resp.Content) != "server_tool_use,bash_code_execution_tool_result,server_tool_use,bash_code_execution_tool_result" {
		t.Fatalf("first: %s %s", resp.StopReason, types(resp.Content))
	}
	req.Messages = append(req.Messages, agentloop.Message{Role: "assistant", Content: resp.Content})
	req.Container = resp.Container.ID
	resp2, err := f.loop.Run(context.Background(), ws, req, nil)
	if err != nil {
		t.Fatal(err)
	}
	if resp2.StopReason != "end_turn" || types(resp2.Content) != "server_tool_use,bash_code_execution_tool_result,text" {
		t.Fatalf("continuation: %s %s", resp2.StopReason, types(resp2.Content))
	}
	data, _ := os.ReadFile(filepath.Join(f.sb.Dir(resp.Container.ID), "log.txt"))
	if string(data) != "step\nstep\nstep\n" {
		t.Errorf("log.txt = %q", data)
	}
}

func TestLoopClientToolLeavesServerCallPending(t *testing.T) {
	f := newFixture(t, `[
	 {"content":[{"type":"tool_use","name":"bash_code_execution","input":{"command":"echo srv"}},
	             {"type":"tool_use","name":"get_weather","id":"toolu_w","input":{"city":"Paris"}}]},
	 {"content":[{"type":"text","text":"It is sunny and srv ran."}]}]`, agentloop.Config{})
	req := request(userText("weather?"))
	req.Tools = []provider.Tool{{Name: "get_weather", InputSchema: json.RawMessage(`{"type":"object"}`)}}
	resp, err := f.loop.Run(context.Background(), ws, req, nil)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StopReason != "tool_use" || types(resp.Content) != "server_tool_use,tool_use" {
		t.Fatalf("first: %s %s", resp.StopReason, types(resp.Content))
	}
	req.Container = resp.Container.ID
	req.Messages = append(req.Messages, agentloop.Message{Role: "assistant", Content: resp.Content},
		agentloop.Message{Role: "user", Content: []agentloop.Block{{Block: provider.Block{Type: "tool_result", ToolUseID: "toolu_w",
			Content: []provider.Block{{Type: "text", Text: "sunny"}}}}}})
	resp2, err := f.loop.Run(context.Background(), ws, req, nil)
	if err != nil {
		t.Fatal(err)
	}
	if types(resp2.Content) != "bash_code_execution_tool_result,text" || resp2.Content[0].ToolUseID != resp.Content[0].ID {
		t.Fatalf("second: %s", types(resp2.Content))
	}
	if resp2.Content[0].Result.Stdout != "srv\n" {
		t.Errorf("pending result = %+v", resp2.Content[0].Result)
	}
}

func TestLoopContainers(t *testing.T) {
	f := newFixture(t, `[{"content":[{"type":"text","text":"hi"}]}]`, agentloop.Config{})
	ctx := context.Background()
	resp, err := f.loop.Run(ctx, ws, request(userText("a")), nil)
	if err != nil {
		t.Fatal(err)
	}
	req := request(userText("b"))
	req.Container = resp.Container.ID
	if r2, err := f.loop.Run(ctx, ws, req, nil); err != nil || r2.Container.ID != resp.Container.ID {
		t.Fatalf("reuse: %v", err)
	}
	if _, err := f.loop.Run(ctx, "other", req, nil); !errors.Is(err, errdefs.ErrNotFound) {
		t.Errorf("other workspace: err = %v, want not found", err)
	}
	f.sb.Expire(resp.Container.ID)
	_, err = f.loop.Run(ctx, ws, req, nil)
	if !errors.Is(err, errdefs.ErrInvalid) || errdefs.Code(err) != "container_expired" {
		t.Errorf("expired: err = %v, want invalid container_expired", err)
	}
}

func TestLoopUploads(t *testing.T) {
	f := newFixture(t, `[
	 {"content":[{"type":"tool_use","name":"bash_code_execution","input":{"command":"cat sales.csv | wc -l"}}]},
	 {"content":[{"type":"text","text":"3 lines"}]}]`, agentloop.Config{})
	ctx := context.Background()
	up := func(id string) agentloop.Message {
		m := userText("analyse")
		m.Content = append(m.Content, agentloop.Block{Block: provider.Block{Type: agentloop.TypeContainerUpload}, FileID: id})
		return m
	}
	resp, err := f.loop.Run(ctx, ws, request(up("file_sales")), nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := resp.Content[1].Result.Stdout; strings.TrimSpace(got) != "3" {
		t.Errorf("wc = %q", got)
	}
	calls := f.model.Calls()
	if _, err := f.loop.Run(ctx, ws, request(up("file_nope")), nil); !errors.Is(err, errdefs.ErrNotFound) {
		t.Errorf("unknown file: %v", err)
	}
	if _, err := f.loop.Run(ctx, "other", request(up("file_sales")), nil); !errors.Is(err, errdefs.ErrNotFound) {
		t.Errorf("other workspace's file: %v", err)
	}
	noTool := request(up("file_sales"))
	noTool.CodeExecution = ""
	if _, err := f.loop.Run(ctx, ws, noTool, nil); !errors.Is(err, errdefs.ErrInvalid) {
		t.Errorf("upload without tool: %v", err)
	}
	if f.model.Calls() != calls {
		t.Errorf("model called %d times for failing requests", f.model.Calls()-calls)
	}
}

func TestLoopStreamingIndexes(t *testing.T) {
	f := newFixture(t, `[
	 {"content":[{"type":"thinking","thinking":"hmm","signature":"sig"},{"type":"text","text":"Running it now."},{"type":"tool_use","name":"bash_code_execution","input":{"command":"sleep 0.3; echo ok"}}]},
	 {"content":[{"type":"text","text":"All good."}]}]`, agentloop.Config{PingInterval: 50 * time.Millisecond})
	var evs []agentloop.Event
	resp, err := f.loop.Run(context.Background(), ws, request(userText("go")), func(e agentloop.Event) { evs = append(evs, e) })
	if err != nil {
		t.Fatal(err)
	}
	if evs[0].Type != agentloop.EventMessageStart {
		t.Fatalf("first event = %v", evs[0].Type)
	}
	next, pings := 0, 0
	inputs := map[int]string{}
	for _, e := range evs[1:] {
		switch e.Type {
		case agentloop.EventBlockStart:
			if e.Index != next {
				t.Fatalf("block start index %d, want %d", e.Index, next)
			}
			next++
		case agentloop.EventBlockDelta:
			if e.DeltaType == agentloop.DeltaInputJSON {
				inputs[e.Index] += e.Delta
			}
		case agentloop.EventPing:
			pings++
		}
	}
	if next != len(resp.Content) {
		t.Errorf("%d blocks streamed, %d returned", next, len(resp.Content))
	}
	if pings == 0 {
		t.Errorf("no ping while the command ran")
	}
	if inputs[2] != string(resp.Content[2].Input) {
		t.Errorf("streamed input %q, returned %q", inputs[2], resp.Content[2].Input)
	}
}

func TestLoopUpstreamErrorKeepsContainer(t *testing.T) {
	f := newFixture(t, `[
	 {"content":[{"type":"tool_use","name":"bash_code_execution","input":{"command":"echo keep > keep.txt"}}]},
	 {"error":{"status":429,"type":"rate_limit_error","message":"slow down"}}]`, agentloop.Config{})
	_, err := f.loop.Run(context.Background(), ws, request(userText("go")), nil)
	if !errors.Is(err, errdefs.ErrRateLimited) {
		t.Fatalf("err = %v, want rate limited", err)
	}
	if len(f.usage.recs) != 1 || f.usage.recs[0].ContainerID == "" {
		t.Fatalf("usage = %+v", f.usage.recs)
	}
	data, err := os.ReadFile(filepath.Join(f.sb.Dir(f.usage.recs[0].ContainerID), "keep.txt"))
	if err != nil || string(data) != "keep\n" {
		t.Errorf("keep.txt = %q, %v", data, err)
	}
}

func TestBillSession(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		name        string
		until       time.Time
		start, end  time.Duration
		billed      time.Duration
		newUntilOff time.Duration
	}{
		{"new short session", time.Time{}, 0, 10 * time.Second, 5 * time.Minute, 5 * time.Minute},
		{"new long session", time.Time{}, 0, 7 * time.Minute, 7 * time.Minute, 7 * time.Minute},
		{"inside window", t0.Add(5 * time.Minute), time.Minute, 2 * time.Minute, 0, 5 * time.Minute},
		{"extends window", t0.Add(5 * time.Minute), 4 * time.Minute, 6 * time.Minute, time.Minute, 6 * time.Minute},
		{"after window", t0.Add(5 * time.Minute), time.Hour, time.Hour + time.Second, 5 * time.Minute, time.Hour + 5*time.Minute},
	} {
		billed, until := agentloop.BillSession(tc.until, t0.Add(tc.start), t0.Add(tc.end))
		if billed != tc.billed || !until.Equal(t0.Add(tc.newUntilOff)) {
			t.Errorf("%s: BillSession = %v, %v; want %v, %v", tc.name, billed, until, tc.billed, t0.Add(tc.newUntilOff))
		}
	}
}
