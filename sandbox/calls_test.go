package sandbox_test

import (
	"context"
	"encoding/json"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/codebox-dev/codebox/sandbox"
	"github.com/codebox-dev/codebox/sandbox/sandboxtest"
)

// cellClient answers a cell's tool calls with answer, recording each batch.
type cellClient struct {
	mu      sync.Mutex
	batches [][]sandbox.ToolCall
	replies chan sandbox.ToolReply
	answer  func(sandbox.ToolCall) sandbox.ToolReply
}

func newCellClient(answer func(sandbox.ToolCall) sandbox.ToolReply) *cellClient {
	return &cellClient{replies: make(chan sandbox.ToolReply, 64), answer: answer}
}

func (cc *cellClient) tools(functions ...string) *sandbox.CellTools {
	fs := map[string]string{}
	for _, f := range functions {
		fs[f] = f
	}
	return &sandbox.CellTools{Functions: fs, Replies: cc.replies, Calls: func(calls []sandbox.ToolCall) {
		cc.mu.Lock()
		cc.batches = append(cc.batches, calls)
		cc.mu.Unlock()
		go func() {
			for _, c := range calls {
				cc.replies <- cc.answer(c)
			}
		}()
	}}
}

func (cc *cellClient) sizes() []int {
	cc.mu.Lock()
	defer cc.mu.Unlock()
	var n []int
	for _, b := range cc.batches {
		n = append(n, len(b))
	}
	return n
}

func echo(c sandbox.ToolCall) sandbox.ToolReply {
	return sandbox.ToolReply{ID: c.ID, Status: "ok", Content: c.Name + ":" + string(c.Input)}
}

func cell(t *testing.T, e *sandboxtest.Env, id, code string, timeout time.Duration, tools *sandbox.CellTools) *sandbox.ExecResult {
	t.Helper()
	res, err := e.Manager.RunPython(context.Background(), ws, id, sandbox.PythonRequest{Code: code, Timeout: timeout, Tools: tools})
	if err != nil {
		t.Fatalf("RunPython(%q): %v", code, err)
	}
	return res
}

func TestCellToolCalls(t *testing.T) { sandboxtest.ForEachRuntime(t, testCellToolCalls) }

func testCellToolCalls(t *testing.T, runtime string) {
	e := sandboxtest.NewWithRuntime(t, runtime, nil)
	c := create(t, e, sandbox.CreateOptions{})

	// Parallel calls travel as one batch; state and open files outlive the wait.
	cc := newCellClient(echo)
	res := cell(t, e, c.ID, "import asyncio\nf = open('log.txt', 'w')\nn = 7\n"+
		"rs = await asyncio.gather(lookup({'k': 1}), lookup({'k': 2}), lookup({'k': 3}))\n"+
		"f.write(str(n)); f.close()\nprint(rs)\nawait lookup({'again': n})", time.Minute, cc.tools("lookup"))
	want := "['lookup:{\"k\":1}', 'lookup:{\"k\":2}', 'lookup:{\"k\":3}']\n'lookup:{\"again\":7}'\n"
	if res.ExitCode != 0 || res.Stdout != want {
		t.Errorf("gather cell = %+v, want stdout %q", res, want)
	}
	if got := cc.sizes(); len(got) != 2 || got[0] != 3 || got[1] != 1 {
		t.Errorf("batches = %v, want [3 1]", got)
	}
	if res := run(t, e, c.ID, "cat log.txt"); res.Stdout != "7" {
		t.Errorf("file written after the calls = %+v", res)
	}

	// Answers: an error raises ToolError, a timeout TimeoutError; a function the
	// cell was not given does not exist.
	cc = newCellClient(func(c sandbox.ToolCall) sandbox.ToolReply {
		var in map[string]string
		json.Unmarshal(c.Input, &in)
		return sandbox.ToolReply{ID: c.ID, Status: in["status"], Content: "because " + in["status"]}
	})
	res = cell(t, e, c.ID, "for s in ('error', 'timeout'):\n    try:\n        await act({'status': s})\n"+
		"    except ToolError as e:\n        print('ToolError', e)\n    except TimeoutError as e:\n        print('TimeoutError', e)\n"+
		"print('lookup' in globals())", time.Minute, cc.tools("act"))
	if want := "ToolError because error\nTimeoutError because timeout\nFalse\n"; res.Stdout != want {
		t.Errorf("error answers = %+v, want stdout %q", res, want)
	}

	// Waiting for an answer does not count against the cell's limit; running does.
	cc = newCellClient(func(c sandbox.ToolCall) sandbox.ToolReply {
		time.Sleep(2 * time.Second)
		return echo(c)
	})
	res = cell(t, e, c.ID, "await slow({})", time.Second, cc.tools("slow"))
	if res.TimedOut || res.Stdout != "'slow:{}'\n" {
		t.Errorf("cell waiting longer than its limit = %+v, want its answer", res)
	}
	res = cell(t, e, c.ID, "await slow({})\nwhile True: pass", time.Second, cc.tools("slow"))
	if !res.TimedOut {
		t.Errorf("cell running past its limit after a call = %+v, want TimedOut", res)
	}
	if res := python(t, e, c.ID, "n", time.Minute); res.Stdout != "7\n" {
		t.Errorf("REPL state after the cells = %+v", res)
	}

	// A fresh interpreter sees none of the REPL's state and leaves none.
	cc = newCellClient(echo)
	fresh := cc.tools("lookup")
	fresh.Fresh = true
	res = cell(t, e, c.ID, "m = 'n' in globals()\nprint(m, await lookup({}))", time.Minute, fresh)
	if res.Stdout != "False lookup:{}\n" || strings.Contains(res.Stderr, "restarted") {
		t.Errorf("fresh cell = %+v", res)
	}
	if res := python(t, e, c.ID, "'m' in globals(), n", time.Minute); res.Stdout != "(False, 7)\n" {
		t.Errorf("REPL after a fresh cell = %+v", res)
	}
}

// BenchmarkCellToolCall is the sandbox's share of a programmatic call's round trip:
// code awaits a tool, the agent passes the call to the host, the host answers at once.
func BenchmarkCellToolCall(b *testing.B) {
	runtime := sandboxtest.Runtimes()[0]
	e := sandboxtest.NewWithRuntime(b, runtime, nil)
	c, err := e.Manager.Create(context.Background(), ws, sandbox.CreateOptions{})
	if err != nil {
		b.Fatal(err)
	}
	cc := newCellClient(echo)
	code := "for i in range(" + strconv.Itoa(b.N) + "):\n    await lookup({'i': i})"
	b.ResetTimer()
	res, err := e.Manager.RunPython(context.Background(), ws, c.ID, sandbox.PythonRequest{Code: code, Timeout: time.Hour, Tools: cc.tools("lookup")})
	if err != nil || res.ExitCode != 0 {
		b.Fatalf("RunPython = %+v, %v", res, err)
	}
}
