package e2e

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/anthropics/anthropic-sdk-go"

	"github.com/codebox-dev/codebox/tools"
)

// lookupTool is a client tool only code may call.
func lookupTool(callers ...string) anthropic.ToolUnionParam {
	if callers == nil {
		callers = []string{tools.CodeExecution20260120}
	}
	return anthropic.ToolUnionParam{OfTool: &anthropic.ToolParam{
		Name: "lookup", Description: anthropic.String("Look a key up."),
		InputSchema:    anthropic.ToolInputSchemaParam{Properties: map[string]any{"k": map[string]any{"type": "integer"}}},
		AllowedCallers: callers,
	}}
}

// ptcParams starts a conversation with the code execution tool of version and lookup.
func (e *env) ptcParams(version string) anthropic.MessageNewParams {
	p := e.params(anthropic.NewTextBlock("look things up"))
	p.Tools = []anthropic.ToolUnionParam{codeExecTool(version), lookupTool()}
	return p
}

// ptcStart sends the first request of a conversation with lookup and the code
// execution tool of version, which must pause; it returns the client, the params, the
// response and its calls.
func (e *env) ptcStart(t *testing.T, version string) (*anthropic.Client, anthropic.MessageNewParams, *anthropic.Message, []anthropic.ContentBlockUnion) {
	t.Helper()
	c := e.client(e.keyA)
	p := e.ptcParams(version)
	m, err := c.Messages.New(context.Background(), p)
	if err != nil {
		t.Fatal(err)
	}
	return c, p, m, programmaticCalls(t, m, m.Content[0].ID, tools.Caller(version))
}

// programmaticCalls returns m's tool_use blocks, checking each was made by the code of
// its server_tool_use (srvID) under caller type want.
func programmaticCalls(t *testing.T, m *anthropic.Message, srvID, want string) []anthropic.ContentBlockUnion {
	t.Helper()
	if m.StopReason != "tool_use" {
		t.Fatalf("stop_reason = %q, want tool_use: %s", m.StopReason, m.RawJSON())
	}
	var calls []anthropic.ContentBlockUnion
	for _, b := range m.Content {
		if b.Type != "tool_use" {
			continue
		}
		if caller := b.AsToolUse().Caller; caller.Type != want || caller.ToolID != srvID {
			t.Errorf("tool_use caller = %s, want %s %s", b.RawJSON(), want, srvID)
		}
		calls = append(calls, b)
	}
	if m.Container.ID == "" {
		t.Errorf("paused response without container: %s", m.RawJSON())
	}
	return calls
}

// answer continues p after m with a tool_result for each of calls, from result.
func answer(p anthropic.MessageNewParams, m *anthropic.Message, calls []anthropic.ContentBlockUnion, result func(b anthropic.ContentBlockUnion) (string, bool)) anthropic.MessageNewParams {
	p.Messages = append(p.Messages, m.ToParam())
	var rs []anthropic.ContentBlockParamUnion
	for _, c := range calls {
		text, isErr := result(c)
		rs = append(rs, anthropic.NewToolResultBlock(c.ID, text, isErr))
	}
	p.Messages = append(p.Messages, anthropic.NewUserMessage(rs...))
	p.Container = anthropic.MessageCreateParamsContainerUnion{OfString: anthropic.String(m.Container.ID)}
	return p
}

func echoInput(b anthropic.ContentBlockUnion) (string, bool) { return "got " + string(b.Input), false }

// stdoutOf returns the stdout of m's code_execution_tool_result.
func stdoutOf(t *testing.T, m *anthropic.Message) string {
	t.Helper()
	for _, b := range m.Content {
		if b.Type == "code_execution_tool_result" {
			var r struct {
				Content struct {
					Type   string `json:"type"`
					Stdout string `json:"stdout"`
					Stderr string `json:"stderr"`
					Code   string `json:"error_code"`
				} `json:"content"`
			}
			json.Unmarshal([]byte(b.RawJSON()), &r)
			if r.Content.Type != "code_execution_result" {
				return r.Content.Type + " " + r.Content.Code
			}
			return r.Content.Stdout + r.Content.Stderr
		}
	}
	t.Fatalf("no code_execution_tool_result in %s", m.RawJSON())
	return ""
}

func TestProgrammaticToolCalling(t *testing.T) {
	for _, format := range formats {
		t.Run(format, func(t *testing.T) { testProgrammaticToolCalling(t, format) })
	}
}

func testProgrammaticToolCalling(t *testing.T, format string) {
	code := "import asyncio\nf = open('/tmp/log', 'w')\nx = 5\n" +
		"rs = await asyncio.gather(lookup({'k': 1}), lookup({'k': 2}))\nf.write('a')\nprint(rs)\n" +
		"pending = asyncio.ensure_future(lookup({'k': x}))\nprint(await pending, x)\nf.close()\nprint(open('/tmp/log').read())"
	e := newEnv(t, format, scriptOf(turn(python(code)), turn(text("done"))), envOptions{})
	ctx := context.Background()
	c := e.client(e.keyA)
	p := e.ptcParams(tools.CodeExecution20260120)

	m1, err := c.Messages.New(ctx, p)
	if err != nil {
		t.Fatal(err)
	}
	if got := blocksOf(m1); got != "server_tool_use,tool_use,tool_use" {
		t.Fatalf("first response = %s, want server_tool_use,tool_use,tool_use: %s", got, m1.RawJSON())
	}
	srvID := m1.Content[0].ID
	calls := programmaticCalls(t, m1, srvID, tools.CodeExecution20260120)
	if codeExecRequests(t, m1) != 1 {
		t.Errorf("code_execution_requests = %d, want 1", codeExecRequests(t, m1))
	}
	// What the model was shown: lookup as a function of the code, not as a tool.
	body := string(e.upstream.Last())
	if !strings.Contains(body, "async def lookup(input: dict)") || strings.Contains(body, `"name":"lookup"`) {
		t.Errorf("model request does not describe lookup as a code function only: %s", body)
	}

	p2 := answer(p, m1, calls, echoInput)
	m2, err := c.Messages.New(ctx, p2)
	if err != nil {
		t.Fatal(err)
	}
	if got := blocksOf(m2); got != "tool_use" {
		t.Fatalf("second response = %s, want one tool_use: %s", got, m2.RawJSON())
	}
	calls = programmaticCalls(t, m2, srvID, tools.CodeExecution20260120)
	if string(calls[0].Input) != `{"k":5}` {
		t.Errorf("second call input = %s, want the code's variable", calls[0].Input)
	}

	// Streaming works for the last round.
	p3 := answer(p2, m2, calls, echoInput)
	stream := c.Messages.NewStreaming(ctx, p3)
	var m3 anthropic.Message
	for stream.Next() {
		if err := m3.Accumulate(stream.Current()); err != nil {
			t.Fatal(err)
		}
	}
	if err := stream.Err(); err != nil {
		t.Fatal(err)
	}
	if got := blocksOf(&m3); got != "code_execution_tool_result,text" || m3.StopReason != "end_turn" {
		t.Fatalf("last response = %s %s, want code_execution_tool_result,text end_turn", got, m3.StopReason)
	}
	want := `['got {"k":1}', 'got {"k":2}']` + "\n" + `got {"k":5} 5` + "\na\n"
	if out := stdoutOf(t, &m3); out != want {
		t.Errorf("code output = %q, want %q", out, want)
	}
	// The model saw the code's call and its final result, not the calls it made.
	body = string(e.upstream.Last())
	if !strings.Contains(body, srvID) || strings.Contains(body, calls[0].ID) {
		t.Errorf("final model request should hold the code execution call but not the programmatic ones: %s", body)
	}
}

// TestProgrammaticFailures covers the continuation's errors and the code's.
func TestProgrammaticFailures(t *testing.T) {
	code := "try:\n    r = await lookup({'k': 1})\nexcept ToolError as e:\n    r = 'ToolError: ' + str(e)\n" +
		"except TimeoutError as e:\n    r = 'TimeoutError: ' + str(e)\nprint(r)"
	e := newEnv(t, formatAnthropic, scriptOf(turn(python(code)), turn(text("done"))), envOptions{toolCallWindow: 2 * time.Second})
	ctx := context.Background()
	c, p, m, calls := e.ptcStart(t, tools.CodeExecution20260120)
	// Without the container: Anthropic's message.
	noCtr := answer(p, m, calls, echoInput)
	noCtr.Container = anthropic.MessageCreateParamsContainerUnion{}
	_, err := c.Messages.New(ctx, noCtr)
	if ae := apiError(t, err, 400, "invalid_request_error"); !strings.Contains(ae.RawJSON(), "container_id is required when there are pending tool uses generated by code execution with tools.") {
		t.Errorf("error = %s", ae.RawJSON())
	}
	// An unknown tool_use id, and a missing one.
	bad := answer(p, m, calls, echoInput)
	bad.Messages[len(bad.Messages)-1] = anthropic.NewUserMessage(anthropic.NewToolResultBlock("toolu_nosuchcall", "x", false))
	_, err = c.Messages.New(ctx, bad)
	if ae := apiError(t, err, 400, "invalid_request_error"); !strings.Contains(ae.RawJSON(), "toolu_nosuchcall") {
		t.Errorf("unknown id error = %s", ae.RawJSON())
	}
	bad.Messages[len(bad.Messages)-1] = anthropic.NewUserMessage(anthropic.NewTextBlock("no results"))
	_, err = c.Messages.New(ctx, bad)
	apiError(t, err, 400, "invalid_request_error")
	// Another conversation in the container meanwhile: refused at once, not kept
	// waiting for the container.
	other := e.params(anthropic.NewTextBlock("something else"))
	other.Container = bad.Container
	_, err = c.Messages.New(ctx, other)
	if ae := apiError(t, err, 409, "conflict_error"); !strings.Contains(ae.RawJSON(), "is busy") {
		t.Errorf("busy container error = %s", ae.RawJSON())
	}
	// is_error raises ToolError in the code; the turn goes on.
	m2, err := c.Messages.New(ctx, answer(p, m, calls, func(anthropic.ContentBlockUnion) (string, bool) { return "no such key", true }))
	if err != nil {
		t.Fatal(err)
	}
	if out := stdoutOf(t, m2); out != "ToolError: no such key\n" || m2.StopReason != "end_turn" {
		t.Errorf("is_error: output %q stop %s", out, m2.StopReason)
	}

	// Unanswered beyond the window: TimeoutError, and the turn goes on.
	_, _, m, calls = e.ptcStart(t, tools.CodeExecution20260120)
	time.Sleep(3 * time.Second)
	m3, err := c.Messages.New(ctx, answer(p, m, calls, echoInput))
	if err != nil {
		t.Fatal(err)
	}
	if out := stdoutOf(t, m3); !strings.HasPrefix(out, "TimeoutError: ") || m3.StopReason != "end_turn" {
		t.Errorf("late answer: output %q stop %s", out, m3.StopReason)
	}
}

// TestProgrammaticVersions runs code that calls a client tool under _20250825 (a fresh
// interpreter, caller code_execution_20250825) and _20260521 (caller
// code_execution_20260120), streamed, with a tool the model may also call directly.
func TestProgrammaticVersions(t *testing.T) {
	code := "y = await lookup({'k': 3})\nprint(y, 'fresh' if 'kept' not in globals() else 'kept')\nkept = 1"
	for _, tc := range []struct{ version, caller, out string }{
		{tools.CodeExecution20250825, tools.CodeExecution20250825, "got {\"k\":3} fresh\n"},
		{tools.CodeExecution20260521, tools.CodeExecution20260120, "got {\"k\":3} fresh\n"},
	} {
		t.Run(tc.version, func(t *testing.T) {
			e := newEnv(t, formatAnthropic, scriptOf(
				turn(obj{"type": "tool_use", "name": "lookup", "input": obj{"k": 0}}),
				turn(python(code)), turn(text("done"))), envOptions{})
			ctx := context.Background()
			c := e.client(e.keyA)
			p := e.params(anthropic.NewTextBlock("look things up"))
			tool := anthropic.ToolUnionParam{OfCodeExecutionTool20250825: &anthropic.CodeExecutionTool20250825Param{}}
			if tc.version == tools.CodeExecution20260521 {
				tool = anthropic.ToolUnionParam{OfCodeExecutionTool20260521: &anthropic.CodeExecutionTool20260521Param{}}
			}
			p.Tools = []anthropic.ToolUnionParam{tool, lookupTool("direct", tc.version)}
			// The model's own call of the tool is direct.
			m, err := c.Messages.New(ctx, p)
			if err != nil {
				t.Fatal(err)
			}
			if got := m.Content[0].AsToolUse().Caller; m.StopReason != "tool_use" || got.Type != "direct" || got.ToolID != "" {
				t.Fatalf("direct call = %s", m.RawJSON())
			}
			p.Messages = append(p.Messages, m.ToParam(), anthropic.NewUserMessage(anthropic.NewToolResultBlock(m.Content[0].ID, "direct", false)))
			p.Container = anthropic.MessageCreateParamsContainerUnion{OfString: anthropic.String(m.Container.ID)}
			stream := c.Messages.NewStreaming(ctx, p)
			var m2 anthropic.Message
			for stream.Next() {
				if err := m2.Accumulate(stream.Current()); err != nil {
					t.Fatal(err)
				}
			}
			if err := stream.Err(); err != nil {
				t.Fatal(err)
			}
			if got := blocksOf(&m2); got != "server_tool_use,tool_use" {
				t.Fatalf("streamed pause = %s", m2.RawJSON())
			}
			calls := programmaticCalls(t, &m2, m2.Content[0].ID, tc.caller)
			// codebox interprets allowed_callers; the model's API is not sent them.
			if body := string(e.upstream.Last()); strings.Contains(body, "allowed_callers") || !strings.Contains(body, `"name":"lookup"`) {
				t.Errorf("model request = %s, want lookup as a tool without allowed_callers", body)
			}
			m3, err := c.Messages.New(ctx, answer(p, &m2, calls, echoInput))
			if err != nil {
				t.Fatal(err)
			}
			if out := stdoutOf(t, m3); out != tc.out || m3.StopReason != "end_turn" {
				t.Errorf("output %q (stop %s), want %q", out, m3.StopReason, tc.out)
			}
		})
	}
}

// TestProgrammaticCellLimit: code that runs past the cell's limit after a call ends
// with execution_time_exceeded (that waiting does not count is sandbox's test).
func TestProgrammaticCellLimit(t *testing.T) {
	code := "r = await lookup({'k': 1})\nwhile True:\n    pass"
	e := newEnv(t, formatAnthropic, scriptOf(turn(python(code)), turn(text("done"))), envOptions{toolTimeout: 2 * time.Second})
	c, p, m, calls := e.ptcStart(t, tools.CodeExecution20260120)
	m2, err := c.Messages.New(context.Background(), answer(p, m, calls, echoInput))
	if err != nil {
		t.Fatal(err)
	}
	if out := stdoutOf(t, m2); out != "code_execution_tool_result_error execution_time_exceeded" {
		t.Errorf("cell past its limit = %q, want execution_time_exceeded", out)
	}
}

// TestProgrammaticIterations: a resumed execution's turn goes on under the iteration
// budget (pause_turn), with usage counting the model's tokens and the code execution
// calls of each request.
func TestProgrammaticIterations(t *testing.T) {
	e := newEnv(t, formatOpenAI, scriptOf(turn(python("print(await lookup({'k': 1}))")), turn(python("print(2)")), turn(text("done"))),
		envOptions{maxIterations: 1})
	ctx := context.Background()
	c, p, m, calls := e.ptcStart(t, tools.CodeExecution20260120)
	p = answer(p, m, calls, echoInput)
	m2, err := c.Messages.New(ctx, p)
	if err != nil {
		t.Fatal(err)
	}
	if got := blocksOf(m2); got != "code_execution_tool_result,server_tool_use,code_execution_tool_result" || m2.StopReason != "pause_turn" {
		t.Fatalf("after the resumed code = %s %s, want its result, one more call and pause_turn", got, m2.StopReason)
	}
	if n := codeExecRequests(t, m2); n != 1 || m2.Usage.InputTokens == 0 {
		t.Errorf("usage = %s, want one code execution call and the model's tokens", m2.Usage.RawJSON())
	}
	p.Messages = append(p.Messages, m2.ToParam())
	m3, err := c.Messages.New(ctx, p)
	if err != nil {
		t.Fatal(err)
	}
	if blocksOf(m3) != "text" || m3.StopReason != "end_turn" {
		t.Errorf("after pause_turn = %s", m3.RawJSON())
	}
}

// TestProgrammaticClientGone: the client goes away before its code calls a tool; the
// call nobody was shown still times out after the window, so the code ends and frees
// its container for the next request.
func TestProgrammaticClientGone(t *testing.T) {
	code := "import time\ntime.sleep(1)\ntry:\n    await lookup({'k': 1})\nexcept TimeoutError:\n    print('timed out')"
	e := newEnv(t, formatAnthropic, scriptOf(turn(python(code)), turn(text("done"))), envOptions{toolCallWindow: time.Second})
	c := e.client(e.keyA)
	p := e.ptcParams(tools.CodeExecution20260120)
	var id string
	cctx, cancel := context.WithCancel(context.Background())
	stream := c.Messages.NewStreaming(cctx, p)
	for stream.Next() {
		if ev := stream.Current(); ev.Type == "message_start" {
			id = ev.Message.Container.ID
		}
		if ev := stream.Current(); ev.Type == "content_block_stop" {
			cancel() // the code_execution call was sent: go away while it runs
		}
	}
	cancel()
	if id == "" {
		t.Fatal("no container in message_start")
	}
	other := e.params(anthropic.NewTextBlock("something else"))
	other.Tools = p.Tools[:1]
	other.Container = anthropic.MessageCreateParamsContainerUnion{OfString: anthropic.String(id)}
	deadline := time.Now().Add(time.Minute)
	for {
		_, err := c.Messages.New(context.Background(), other)
		if err == nil {
			return
		}
		var ae *anthropic.Error
		if !errors.As(err, &ae) || ae.StatusCode != 409 || time.Now().After(deadline) {
			t.Fatalf("request for the container after its client left = %v", err)
		}
		time.Sleep(200 * time.Millisecond)
	}
}
