package e2e

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"image/png"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/anthropics/anthropic-sdk-go"
	"github.com/anthropics/anthropic-sdk-go/packages/param"

	"github.com/codebox-dev/codebox"
	"github.com/codebox-dev/codebox/bench"
	"github.com/codebox-dev/codebox/tools"
)

// Script-building helpers: a turn is {"content": [...]}, blocks as in provider/script.
type obj = map[string]any

func text(s string) obj { return obj{"type": "text", "text": s} }
func bash(cmd string) obj {
	return obj{"type": "tool_use", "name": tools.Bash, "input": obj{"command": cmd}}
}
func edit(input obj) obj { return obj{"type": "tool_use", "name": tools.TextEditor, "input": input} }
func python(code string) obj {
	return obj{"type": "tool_use", "name": tools.Python, "input": obj{"code": code}}
}
func turn(blocks ...obj) obj { return obj{"content": blocks} }
func failure(status int, typ, msg string) obj {
	return obj{"error": obj{"status": status, "type": typ, "message": msg}}
}
func scriptOf(turns ...obj) string {
	b, err := json.Marshal(turns)
	if err != nil {
		panic(err)
	}
	return string(b)
}

// salesCSV is the seed workflow's upload, as the load ramp sends it.
const salesCSV = bench.SalesCSV

// salesPandas is the seed's analysis as the model writes it for the real container.
const salesPandas = `python3 - <<'EOF'
import pandas as pd
import matplotlib
matplotlib.use("Agg")
import matplotlib.pyplot as plt
df = pd.read_csv("sales.csv")
rev = df.groupby("region")["revenue_usd"].sum().sort_values(ascending=False)
for region, total in rev.items():
    print(region, total)
rev.plot(kind="bar", title="Revenue by region")
plt.tight_layout()
plt.savefig("chart.png")
EOF`

func salesScript() string {
	return scriptOf(
		turn(text("I'll load the CSV and total revenue by region."), bash(salesPandas)),
		turn(text("North leads with $5,200, then east ($4,600), south ($2,800) and west ($2,640). The chart is saved as chart.png.")),
	)
}

func uploadSales(t *testing.T, c *anthropic.Client) string {
	t.Helper()
	f, err := c.Beta.Files.Upload(context.Background(), anthropic.BetaFileUploadParams{
		File: anthropic.File(strings.NewReader(salesCSV), "sales.csv", "text/csv")})
	if err != nil {
		t.Fatalf("upload: %v", err)
	}
	return f.ID
}

// TestSalesAnalysis is the seed's workflow: upload a CSV, ask for revenue by region and
// a chart, download the chart.
func TestSalesAnalysis(t *testing.T) {
	for _, format := range formats {
		t.Run(format, func(t *testing.T) {
			e := newEnv(t, format, salesScript(), envOptions{})
			c := e.client(e.keyA)
			ctx := context.Background()
			fileID := uploadSales(t, c)
			msg, err := c.Messages.New(ctx, e.params(anthropic.NewTextBlock("Total revenue by region, and save a bar chart as chart.png."),
				anthropic.NewContainerUploadBlock(fileID)))
			if err != nil {
				t.Fatal(err)
			}
			if got, want := blocksOf(msg), "text,server_tool_use,bash_code_execution_tool_result,text"; got != want {
				t.Fatalf("content = %s, want %s: %s", got, want, msg.RawJSON())
			}
			if msg.StopReason != "end_turn" || !strings.HasPrefix(msg.ID, "msg_") {
				t.Errorf("stop_reason %q id %q", msg.StopReason, msg.ID)
			}
			use := msg.Content[1].AsServerToolUse()
			if !strings.HasPrefix(use.ID, "srvtoolu_") || use.Name != "bash_code_execution" || use.Caller.Type != "direct" {
				t.Errorf("server_tool_use = %s", msg.Content[1].RawJSON())
			}
			res := msg.Content[2].AsBashCodeExecutionToolResult()
			if res.ToolUseID != use.ID {
				t.Errorf("tool_use_id %q, want %q", res.ToolUseID, use.ID)
			}
			out := res.Content.AsResponseBashCodeExecutionResultBlock()
			if out.ReturnCode != 0 || !strings.Contains(out.Stdout, "north 5200") || !strings.Contains(out.Stdout, "east 4600") {
				t.Fatalf("result = %s", msg.Content[2].RawJSON())
			}
			if len(out.Content) != 1 {
				t.Fatalf("generated files = %s, want chart.png", msg.Content[2].RawJSON())
			}
			meta, err := c.Beta.Files.GetMetadata(ctx, out.Content[0].FileID, anthropic.BetaFileGetMetadataParams{})
			if err != nil || meta.Filename != "chart.png" || !meta.Downloadable {
				t.Fatalf("chart metadata = %+v, %v", meta, err)
			}
			dl, err := c.Beta.Files.Download(ctx, out.Content[0].FileID, anthropic.BetaFileDownloadParams{})
			if err != nil {
				t.Fatal(err)
			}
			data, _ := io.ReadAll(dl.Body)
			dl.Body.Close()
			if _, err := png.Decode(bytes.NewReader(data)); err != nil {
				t.Fatalf("chart.png is not a valid PNG (%d bytes): %v", len(data), err)
			}
			if msg.Container.ID == "" || msg.Container.ExpiresAt.IsZero() {
				t.Errorf("container = %s", msg.Container.RawJSON())
			}
			if n := codeExecRequests(t, msg); n != 1 {
				t.Errorf("code_execution_requests = %d, want 1", n)
			}
			if msg.Usage.InputTokens == 0 || msg.Usage.OutputTokens == 0 {
				t.Errorf("usage = %s", msg.Usage.RawJSON())
			}
			reqs := e.upstream.Requests()
			if len(reqs) != 2 {
				t.Fatalf("upstream saw %d requests, want 2", len(reqs))
			}
			if !bytes.Contains(reqs[0].Body, []byte("/workspace/sales.csv")) || !bytes.Contains(reqs[0].Body, []byte(tools.Bash)) {
				t.Errorf("first model turn lacks the upload note or the bash tool: %s", reqs[0].Body)
			}
			if !bytes.Contains(reqs[1].Body, []byte("north 5200")) {
				t.Errorf("second model turn does not show the command's output: %s", reqs[1].Body)
			}
		})
	}
}

// TestStreamingMatchesMessage checks that the SSE stream accumulates, with the SDK's
// own accumulator, into the message the non-streaming call returns, and that the raw
// frames follow the spec: event lines, contiguous indexes, tool input as deltas, pings.
func TestStreamingMatchesMessage(t *testing.T) {
	for _, format := range formats {
		t.Run(format, func(t *testing.T) {
			first := turn(text("Checking."), bash("sleep 0.5; echo done; printf 'a,b\\n1,2\\n' > out.csv"))
			first["usage"] = obj{"input_tokens": 120, "output_tokens": 30}
			second := turn(text("All done: out.csv is saved."))
			second["usage"] = obj{"input_tokens": 200, "output_tokens": 12}
			e := newEnv(t, format, scriptOf(first, second), envOptions{})
			c := e.client(e.keyA)
			ctx := context.Background()
			p := e.params(anthropic.NewTextBlock("go"))
			plain, err := c.Messages.New(ctx, p)
			if err != nil {
				t.Fatal(err)
			}
			stream := c.Messages.NewStreaming(ctx, p)
			var acc anthropic.Message
			for stream.Next() {
				if err := acc.Accumulate(stream.Current()); err != nil {
					t.Fatalf("accumulate: %v", err)
				}
			}
			if err := stream.Err(); err != nil {
				t.Fatal(err)
			}
			if got, want := normalized(t, &acc), normalized(t, plain); got != want {
				t.Errorf("streamed message =\n%s\nwant\n%s", got, want)
			}

			// The raw frames.
			body, _ := json.Marshal(obj{"model": e.model, "max_tokens": 100, "stream": true,
				"messages": []obj{{"role": "user", "content": "go"}},
				"tools":    []obj{{"type": "code_execution_20250825", "name": "code_execution"}}})
			req, _ := http.NewRequest("POST", e.url+"/v1/messages?beta=true", bytes.NewReader(body))
			req.Header.Set("x-api-key", e.keyA)
			req.Header.Set("content-type", "application/json")
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/event-stream") {
				t.Fatalf("Content-Type = %q", ct)
			}
			sc := bufio.NewScanner(resp.Body)
			sc.Buffer(nil, 1<<20)
			var events []string
			next, pings := 0, 0
			var event string
			for sc.Scan() {
				line := sc.Text()
				switch {
				case strings.HasPrefix(line, "event: "):
					event = strings.TrimPrefix(line, "event: ")
				case strings.HasPrefix(line, "data: "):
					if event == "" {
						t.Fatalf("data frame without event line: %s", line)
					}
					var f struct {
						Type         string          `json:"type"`
						Index        *int            `json:"index"`
						ContentBlock json.RawMessage `json:"content_block"`
					}
					json.Unmarshal([]byte(strings.TrimPrefix(line, "data: ")), &f)
					if f.Type != event {
						t.Errorf("event %q carries type %q", event, f.Type)
					}
					switch event {
					case "content_block_start":
						if *f.Index != next {
							t.Errorf("content_block_start index %d, want %d", *f.Index, next)
						}
						next++
						if bytes.Contains(f.ContentBlock, []byte(`"server_tool_use"`)) && !bytes.Contains(f.ContentBlock, []byte(`"input":{}`)) {
							t.Errorf("server_tool_use start carries input: %s", f.ContentBlock)
						}
					case "ping":
						pings++
					}
					events = append(events, event)
					event = ""
				}
			}
			if events[0] != "message_start" || events[len(events)-1] != "message_stop" || events[len(events)-2] != "message_delta" {
				t.Errorf("events = %v", events)
			}
			if pings == 0 {
				t.Errorf("no ping while the command ran: %v", events)
			}
		})
	}
}

// TestContainerReuse follows the seed's example: one request writes a file, the next
// reuses the container (sending the first turn back) and reads it.
func TestContainerReuse(t *testing.T) {
	for _, format := range formats {
		t.Run(format, func(t *testing.T) {
			path := "/tmp/number.txt"
			e := newEnv(t, format, scriptOf(
				turn(bash("echo 12 > "+path)),
				turn(text("Saved.")),
				turn(bash("n=$(cat "+path+"); echo $((n*n))")),
				turn(text("The square is 144."))), envOptions{})
			c := e.client(e.keyA)
			ctx := context.Background()
			p := e.params(anthropic.NewTextBlock("Write a number to " + path))
			first, err := c.Messages.New(ctx, p)
			if err != nil {
				t.Fatal(err)
			}
			id := first.Container.ID
			// The request answered: its container is confirmed, not reclaimed as one
			// whose request never did.
			if ctr, err := e.sb.Get(ctx, codebox.DefaultWorkspace, id); err != nil || ctr.Provisional {
				t.Errorf("container after its request answered: %+v, %v; want it confirmed", ctr, err)
			}
			p.Messages = append(p.Messages, first.ToParam(), anthropic.NewUserMessage(anthropic.NewTextBlock("Read it and square it.")))
			p.Container = anthropic.MessageCreateParamsContainerUnion{OfString: param.NewOpt(id)}
			second, err := c.Messages.New(ctx, p)
			if err != nil {
				t.Fatal(err)
			}
			if second.Container.ID != id {
				t.Errorf("container %s, want %s", second.Container.ID, id)
			}
			out := second.Content[1].AsBashCodeExecutionToolResult().Content.AsResponseBashCodeExecutionResultBlock()
			if strings.TrimSpace(out.Stdout) != "144" {
				t.Fatalf("second request read %q: %s", out.Stdout, second.RawJSON())
			}

			// Another workspace cannot see it; an unknown id is not found either.
			_, err = e.client(e.keyB).Messages.New(ctx, p)
			apiError(t, err, 404, "not_found_error")
			p.Container = anthropic.MessageCreateParamsContainerUnion{OfContainers: &anthropic.ContainerParams{ID: param.NewOpt("container_unknown0000")}}
			_, err = c.Messages.New(ctx, p)
			apiError(t, err, 404, "not_found_error")

			// An expired container is a 400 naming container_expired.
			before := len(e.upstream.Requests())
			e.expire(t, id)
			p.Container = anthropic.MessageCreateParamsContainerUnion{OfString: param.NewOpt(id)}
			_, err = c.Messages.New(ctx, p)
			ae := apiError(t, err, 400, "invalid_request_error")
			if !strings.Contains(ae.RawJSON(), "container_expired") {
				t.Errorf("expired error = %s", ae.RawJSON())
			}
			if after := len(e.upstream.Requests()); after != before {
				t.Errorf("model was called %d times for rejected requests", after-before)
			}
		})
	}
}

// TestPauseTurn spends the iteration budget, then continues the same turn.
func TestPauseTurn(t *testing.T) {
	for _, format := range formats {
		t.Run(format, func(t *testing.T) {
			step := turn(bash("echo step >> log.txt; wc -l < log.txt"))
			e := newEnv(t, format, scriptOf(step, step, step, turn(text("Three steps done."))), envOptions{maxIterations: 2})
			c := e.client(e.keyA)
			ctx := context.Background()
			p := e.params(anthropic.NewTextBlock("Take three steps."))
			first, err := c.Messages.New(ctx, p)
			if err != nil {
				t.Fatal(err)
			}
			if first.StopReason != "pause_turn" || blocksOf(first) != "server_tool_use,bash_code_execution_tool_result,server_tool_use,bash_code_execution_tool_result" {
				t.Fatalf("first = %s %s", first.StopReason, blocksOf(first))
			}
			p.Messages = append(p.Messages, first.ToParam())
			p.Container = anthropic.MessageCreateParamsContainerUnion{OfString: param.NewOpt(first.Container.ID)}
			second, err := c.Messages.New(ctx, p)
			if err != nil {
				t.Fatal(err)
			}
			if second.StopReason != "end_turn" || blocksOf(second) != "server_tool_use,bash_code_execution_tool_result,text" {
				t.Fatalf("continuation = %s %s", second.StopReason, blocksOf(second))
			}
			out := second.Content[1].AsBashCodeExecutionToolResult().Content.AsResponseBashCodeExecutionResultBlock()
			if strings.TrimSpace(out.Stdout) != "3" {
				t.Errorf("third step saw %q lines", out.Stdout)
			}
			if codeExecRequests(t, first) != 2 || codeExecRequests(t, second) != 1 {
				t.Errorf("code_execution_requests = %d, %d", codeExecRequests(t, first), codeExecRequests(t, second))
			}
		})
	}
}

// resultContent returns the content object of result block i of a raw message.
func resultContent(t *testing.T, m *anthropic.Message, i int) map[string]any {
	t.Helper()
	var raw struct {
		Content []struct {
			Type    string         `json:"type"`
			Content map[string]any `json:"content"`
		} `json:"content"`
	}
	if err := json.Unmarshal([]byte(m.RawJSON()), &raw); err != nil {
		t.Fatal(err)
	}
	return raw.Content[i].Content
}

// TestToolErrorCodes produces each result error code from a real cause.
func TestToolErrorCodes(t *testing.T) {
	for _, format := range formats {
		t.Run(format, func(t *testing.T) {
			e := newEnv(t, format, scriptOf(
				turn(
					bash("sleep 20"),
					edit(obj{"command": "view", "path": "/workspace/missing.txt"}),
					edit(obj{"command": "create", "path": "notes.txt", "file_text": "alpha\nbeta\n"}),
					edit(obj{"command": "str_replace", "path": "notes.txt", "old_str": "gamma", "new_str": "delta"}),
					edit(obj{"command": "str_replace", "path": "notes.txt", "old_str": "beta", "new_str": "BETA"}),
					edit(obj{"command": "view", "path": "notes.txt"}),
					bash("head -c 100000 /dev/zero > big.bin"),
					obj{"type": "tool_use", "name": tools.Bash, "input": obj{"cmd": "ls"}},
					bash("echo a\x00b"),
					bash("echo "+strings.Repeat("x", 200<<10)),
				),
				turn(text("Done."))), envOptions{toolTimeout: time.Second, maxOutputFile: 4096})
			c := e.client(e.keyA)
			msg, err := c.Messages.New(context.Background(), e.params(anthropic.NewTextBlock("try things")))
			if err != nil {
				t.Fatal(err)
			}
			// 10 server_tool_use blocks, then their 10 results, then the text.
			want := []struct{ typ, code string }{
				{"bash_code_execution_tool_result_error", "execution_time_exceeded"},
				{"text_editor_code_execution_tool_result_error", "file_not_found"},
				{"text_editor_code_execution_create_result", ""},
				{"text_editor_code_execution_tool_result_error", "string_not_found"},
				{"text_editor_code_execution_str_replace_result", ""},
				{"text_editor_code_execution_view_result", ""},
				{"bash_code_execution_tool_result_error", "output_file_too_large"},
				{"bash_code_execution_tool_result_error", "invalid_tool_input"},
				// Commands the kernel cannot pass to bash: the model's error, never a 529.
				{"bash_code_execution_tool_result_error", "invalid_tool_input"},
				{"bash_code_execution_tool_result_error", "invalid_tool_input"},
			}
			for i, w := range want {
				got := resultContent(t, msg, len(want)+i)
				if got["type"] != w.typ || (w.code != "" && got["error_code"] != w.code) {
					t.Errorf("result %d = %v, want %s %s", i, got, w.typ, w.code)
				}
			}
			if m, _ := resultContent(t, msg, 11)["error_message"].(string); m == "" {
				t.Errorf("file_not_found carries no error_message")
			}
			if lines := resultContent(t, msg, 14)["lines"]; lines == nil {
				t.Errorf("str_replace result has no lines")
			}
			if v := resultContent(t, msg, 15)["content"].(string); !strings.Contains(v, "BETA") {
				t.Errorf("view after edit = %q", v)
			}
			if n := codeExecRequests(t, msg); n != 10 {
				t.Errorf("code_execution_requests = %d, want 10", n)
			}
		})
	}
}

// TestUpstreamErrors maps upstream failures to the client's errors and leaves the
// container and its files intact.
func TestUpstreamErrors(t *testing.T) {
	for _, format := range formats {
		t.Run(format, func(t *testing.T) {
			e := newEnv(t, format, scriptOf(
				turn(bash("echo kept > keep.txt")),
				turn(text("Saved.")),
				failure(429, "rate_limit_error", "slow down"),
				failure(500, "api_error", "upstream broke"),
				failure(529, "overloaded_error", "Overloaded"),
				turn(bash("cat keep.txt")),
				turn(text("Still there."))), envOptions{})
			c := e.client(e.keyA)
			ctx := context.Background()
			p := e.params(anthropic.NewTextBlock("save"))
			first, err := c.Messages.New(ctx, p)
			if err != nil {
				t.Fatal(err)
			}
			p.Container = anthropic.MessageCreateParamsContainerUnion{OfString: param.NewOpt(first.Container.ID)}
			p.Messages = append(p.Messages, first.ToParam())
			// Each further user/assistant pair moves the script to its next turn.
			for _, tc := range []struct {
				status int
				typ    string
			}{{429, "rate_limit_error"}, {500, "api_error"}, {529, "overloaded_error"}} {
				p.Messages = append(p.Messages, anthropic.NewUserMessage(anthropic.NewTextBlock("again")))
				_, err := c.Messages.New(ctx, p)
				apiError(t, err, tc.status, tc.typ)
				p.Messages = append(p.Messages, anthropic.NewAssistantMessage(anthropic.NewTextBlock("(failed)")))
			}
			p.Messages = append(p.Messages, anthropic.NewUserMessage(anthropic.NewTextBlock("is it there?")))
			last, err := c.Messages.New(ctx, p)
			if err != nil {
				t.Fatal(err)
			}
			out := last.Content[1].AsBashCodeExecutionToolResult().Content.AsResponseBashCodeExecutionResultBlock()
			if strings.TrimSpace(out.Stdout) != "kept" || last.Container.ID != first.Container.ID {
				t.Errorf("after upstream errors: %s", last.RawJSON())
			}
		})
	}
}

// TestLegacyAndREPLTools runs the Python-only legacy tool and the REPL whose state
// persists between calls.
func TestLegacyAndREPLTools(t *testing.T) {
	e := newEnv(t, formatAnthropic, scriptOf(turn(python("import sys\nprint(6*7, file=sys.stdout)")), turn(text("42"))), envOptions{})
	p := e.params(anthropic.NewTextBlock("compute"))
	p.Tools = []anthropic.ToolUnionParam{codeExecTool(tools.CodeExecution20250522)}
	msg, err := e.client(e.keyA).Messages.New(context.Background(), p)
	if err != nil {
		t.Fatal(err)
	}
	if blocksOf(msg) != "server_tool_use,code_execution_tool_result,text" {
		t.Fatalf("legacy = %s", msg.RawJSON())
	}
	if got := resultContent(t, msg, 1); got["type"] != "code_execution_result" || got["stdout"] != "42\n" {
		t.Errorf("legacy result = %v", got)
	}

	e = newEnv(t, formatAnthropic, scriptOf(turn(python("x = 41")), turn(python("print(x + 1)")), turn(text("42"))), envOptions{})
	p = e.params(anthropic.NewTextBlock("remember"))
	p.Tools = []anthropic.ToolUnionParam{codeExecTool(tools.CodeExecution20260120)}
	msg, err = e.client(e.keyA).Messages.New(context.Background(), p)
	if err != nil {
		t.Fatal(err)
	}
	if got := resultContent(t, msg, 3); got["stdout"] != "42\n" {
		t.Errorf("REPL state lost: %v", got)
	}
}

// TestPassThroughAndValidation checks requests without code execution go to the model
// untouched, and that bad requests fail before any model call.
func TestPassThroughAndValidation(t *testing.T) {
	e := newEnv(t, formatAnthropic, scriptOf(turn(text("Hello there."))), envOptions{})
	c := e.client(e.keyA)
	ctx := context.Background()
	p := e.params(anthropic.NewTextBlock("hi"))
	p.Tools = nil
	msg, err := c.Messages.New(ctx, p)
	if err != nil {
		t.Fatal(err)
	}
	if msg.Content[0].Text != "Hello there." {
		t.Errorf("pass-through = %s", msg.RawJSON())
	}
	reqs := e.upstream.Requests()
	if len(reqs) != 1 || bytes.Contains(reqs[0].Body, []byte("bash_code_execution")) || !bytes.Contains(reqs[0].Body, []byte(`"hi"`)) {
		t.Errorf("upstream got %s", reqs[0].Body)
	}

	// A document whose source is a file of this server reaches the model inline.
	fileID := uploadSales(t, c)
	doc := e.params(anthropic.NewDocumentBlock(anthropic.FileDocumentSourceParam{FileID: fileID}), anthropic.NewTextBlock("summarise"))
	doc.Tools = nil
	if _, err := c.Messages.New(ctx, doc); err != nil {
		t.Fatal(err)
	}
	reqs = e.upstream.Requests()
	if last := reqs[len(reqs)-1].Body; !bytes.Contains(last, []byte("north,widget")) || bytes.Contains(last, []byte(fileID)) {
		t.Errorf("document not inlined: %s", last)
	}
	_, err = c.Messages.New(ctx, e.params(anthropic.NewTextBlock("x"), anthropic.NewContainerUploadBlock(fileID)))
	if err != nil {
		t.Fatalf("code execution request after pass-through: %v", err)
	}
	calls := len(e.upstream.Requests())
	noTool := e.params(anthropic.NewContainerUploadBlock(fileID))
	noTool.Tools = nil
	_, err = c.Messages.New(ctx, noTool)
	apiError(t, err, 400, "invalid_request_error")
	_, err = c.Messages.New(ctx, e.params(anthropic.NewTextBlock("x"), anthropic.NewContainerUploadBlock("file_doesnotexist")))
	apiError(t, err, 404, "not_found_error")
	_, err = e.client(e.keyB).Messages.New(ctx, e.params(anthropic.NewTextBlock("x"), anthropic.NewContainerUploadBlock(fileID)))
	apiError(t, err, 404, "not_found_error")
	p = e.params(anthropic.NewTextBlock("x"))
	p.MaxTokens = 0
	_, err = c.Messages.New(ctx, p)
	apiError(t, err, 400, "invalid_request_error")
	if n := len(e.upstream.Requests()); n != calls {
		t.Errorf("model called %d times for rejected requests", n-calls)
	}
}

// TestUsageEndpoint reads the metered usage per workspace.
func TestUsageEndpoint(t *testing.T) {
	e := newEnv(t, formatAnthropic, scriptOf(turn(bash("true")), turn(text("ok"))), envOptions{})
	c := e.client(e.keyA)
	ctx := context.Background()
	if _, err := c.Messages.New(ctx, e.params(anthropic.NewTextBlock("x"))); err != nil {
		t.Fatal(err)
	}
	// Requests forwarded untouched are metered too, streamed or not.
	plain := e.params(anthropic.NewTextBlock("x"))
	plain.Tools = nil
	if _, err := c.Messages.New(ctx, plain); err != nil {
		t.Fatal(err)
	}
	stream := c.Messages.NewStreaming(ctx, plain)
	for stream.Next() {
	}
	if err := stream.Err(); err != nil {
		t.Fatal(err)
	}
	get := func(key string) map[string]any {
		req, _ := http.NewRequest("GET", e.url+"/v1/usage?start=2000-01-01T00:00:00Z", nil)
		req.Header.Set("x-api-key", key)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var v map[string]any
		json.NewDecoder(resp.Body).Decode(&v)
		if resp.StatusCode != 200 {
			t.Fatalf("GET /v1/usage = %d %v", resp.StatusCode, v)
		}
		return v
	}
	a := get(e.keyA)
	if a["requests"] != 3.0 || a["code_execution_requests"] != 1.0 || a["container_billed_seconds"].(float64) < 300 || a["input_tokens"].(float64) == 0 {
		t.Errorf("usage of A = %v", a)
	}
	if b := get(e.keyB); b["requests"] != 0.0 || b["container_billed_seconds"] != 0.0 {
		t.Errorf("usage of B = %v", b)
	}
}
