package multinode

import (
	"bytes"
	"context"
	"fmt"
	"image/png"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/anthropics/anthropic-sdk-go"
	"github.com/anthropics/anthropic-sdk-go/option"

	"github.com/codebox-dev/codebox/bench"
	"github.com/codebox-dev/codebox/internal/testenv"
)

// scripts are the scripted models the nodes serve, as script/<name>. Every request
// replays its script from the first turn.
var scripts = map[string]string{
	// write leaves a file in the container; read finds it in a later request.
	"write": `[{"content":[{"type":"tool_use","name":"bash_code_execution","input":{"command":"echo kept > kept.txt && echo written"}}]},
		{"content":[{"type":"text","text":"written"}]}]`,
	"read": `[{"content":[{"type":"tool_use","name":"bash_code_execution","input":{"command":"cat kept.txt && wc -l < sales.csv"}}]},
		{"content":[{"type":"text","text":"read"}]}]`,
	// count appends a line to its container's count.txt per request.
	"count": `[{"content":[{"type":"tool_use","name":"bash_code_execution","input":{"command":"echo run >> count.txt && echo counted"}}]},
		{"content":[{"type":"text","text":"done"}]}]`,
}

// writeScripts writes the scripts and the seed workflow's (script/sales) into a
// directory for --script.
func writeScripts(tb testing.TB) string {
	tb.Helper()
	dir := tb.TempDir()
	sales, err := os.ReadFile("../../provider/script/testdata/sales.json")
	if err != nil {
		tb.Fatal(err)
	}
	files := map[string][]byte{"sales.json": sales}
	for name, s := range scripts {
		files[name+".json"] = []byte(s)
	}
	for name, b := range files {
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
			tb.Fatal(err)
		}
	}
	return dir
}

var codeExecution = []anthropic.ToolUnionParam{{OfCodeExecutionTool20250825: &anthropic.CodeExecutionTool20250825Param{}}}

// ask is a request to script/<model> with code execution, in container if not "".
func ask(model, container string, blocks ...anthropic.ContentBlockParamUnion) anthropic.MessageNewParams {
	p := anthropic.MessageNewParams{Model: anthropic.Model("script/" + model), MaxTokens: 1024, Tools: codeExecution,
		Messages: []anthropic.MessageParam{anthropic.NewUserMessage(append([]anthropic.ContentBlockParamUnion{anthropic.NewTextBlock("go")}, blocks...)...)}}
	if container != "" {
		p.Container = anthropic.MessageCreateParamsContainerUnion{OfString: anthropic.String(container)}
	}
	return p
}

// bashResult is the first bash result of m.
func bashResult(t *testing.T, m *anthropic.Message) anthropic.BashCodeExecutionResultBlock {
	t.Helper()
	for _, b := range m.Content {
		if b.Type == "bash_code_execution_tool_result" {
			return b.AsBashCodeExecutionToolResult().Content.AsResponseBashCodeExecutionResultBlock()
		}
	}
	t.Fatalf("no bash result in %s", m.RawJSON())
	return anthropic.BashCodeExecutionResultBlock{}
}

func upload(t *testing.T, c *anthropic.Client, name string, data []byte) string {
	t.Helper()
	f, err := c.Beta.Files.Upload(context.Background(), anthropic.BetaFileUploadParams{
		File: anthropic.File(bytes.NewReader(data), name, "text/csv")})
	if err != nil {
		t.Fatalf("upload %s: %v", name, err)
	}
	return f.ID
}

func download(t *testing.T, c *anthropic.Client, id string) []byte {
	t.Helper()
	dl, err := c.Beta.Files.Download(context.Background(), id, anthropic.BetaFileDownloadParams{})
	if err != nil {
		t.Fatalf("download %s: %v", id, err)
	}
	defer dl.Body.Close()
	b, err := io.ReadAll(dl.Body)
	if err != nil {
		t.Fatalf("download %s: %v", id, err)
	}
	return b
}

// TestThroughAnotherNode runs the SDK's flows on three nodes, each request of a
// container sent to a node that does not host it: the seed workflow, the download of
// the generated file, a reuse of the container, the same streamed, the native
// containers API, a batch, a new key, and the usage, all seen from every node.
func TestThroughAnotherNode(t *testing.T) {
	c := newCluster(t, 3)
	ctx := context.Background()

	// The seed workflow, through node0; the container lands wherever placement puts it.
	first := c.nodes[0].client()
	fileID := upload(t, first, "sales.csv", []byte(bench.SalesCSV))
	msg, err := first.Messages.New(ctx, ask("sales", "", anthropic.NewContainerUploadBlock(fileID)))
	if err != nil {
		t.Fatalf("seed workflow: %v", err)
	}
	var chart string
	for _, b := range msg.Content {
		if b.Type == "bash_code_execution_tool_result" {
			for _, f := range b.AsBashCodeExecutionToolResult().Content.AsResponseBashCodeExecutionResultBlock().Content {
				chart = f.FileID
			}
		}
	}
	if chart == "" {
		t.Fatalf("no chart.png: %s", msg.RawJSON())
	}
	ctr := msg.Container.ID
	host := c.hostOf(t, ctr)
	via := c.other(t, host)
	third := c.other(t, host, via.name)
	t.Logf("container %s on %s; requests through %s, reads through %s", ctr, host, via.name, third.name)
	vc := via.client()

	if _, err := png.Decode(bytes.NewReader(download(t, third.client(), chart))); err != nil {
		t.Errorf("chart.png through %s: %v", third.name, err)
	}

	// Reuse: a file left by one request is there in the next, both through via.
	if m, err := vc.Messages.New(ctx, ask("write", ctr)); err != nil {
		t.Fatalf("write through %s: %v", via.name, err)
	} else if out := bashResult(t, m); out.ReturnCode != 0 || out.Stdout != "written\n" {
		t.Errorf("write: %s", m.RawJSON())
	}
	m, err := vc.Messages.New(ctx, ask("read", ctr))
	if err != nil {
		t.Fatalf("read through %s: %v", via.name, err)
	}
	if out := bashResult(t, m); out.Stdout != "kept\n10\n" {
		t.Errorf("read through %s: %s", via.name, m.RawJSON())
	}

	// The same, streamed.
	stream := vc.Messages.NewStreaming(ctx, ask("read", ctr))
	var acc anthropic.Message
	for stream.Next() {
		if err := acc.Accumulate(stream.Current()); err != nil {
			t.Fatalf("accumulate: %v", err)
		}
	}
	if err := stream.Err(); err != nil {
		t.Fatalf("stream through %s: %v", via.name, err)
	}
	if out := bashResult(t, &acc); out.Stdout != "kept\n10\n" || acc.StopReason != "end_turn" {
		t.Errorf("streamed read through %s: %s", via.name, acc.RawJSON())
	}

	// The official Python SDK, through via too.
	py := exec.Command(testenv.PythonVenv(t, "../python/requirements.txt"), "testdata/check_cluster.py")
	py.Env = []string{"PATH=/usr/local/bin:/usr/bin:/bin", "HOME=" + t.TempDir(), "PYTHONDONTWRITEBYTECODE=1",
		"ANTHROPIC_BASE_URL=" + via.url, "ANTHROPIC_API_KEY=" + apiKey, "CODEBOX_CONTAINER=" + ctr}
	if out, err := py.CombinedOutput(); err != nil {
		t.Errorf("check_cluster.py through %s: %v\n%s", via.name, err, out)
	}

	// The native containers API.
	var ex struct {
		Stdout   string `json:"stdout"`
		ExitCode int    `json:"exit_code"`
	}
	if code := c.call(t, via, "POST", "/v1/containers/"+ctr+"/exec", map[string]string{"command": "cat kept.txt; ls"}, &ex); code != 200 ||
		!strings.Contains(ex.Stdout, "kept\n") || !strings.Contains(ex.Stdout, "chart.png") {
		t.Errorf("exec through %s: %d %+v", via.name, code, ex)
	}

	// A batch made through via, read through the third node. Its requests make their
	// containers on whichever node claims them (a batch request cannot name another
	// node's container: docs/cluster.md).
	const batchSize = 6
	reqs := make([]anthropic.MessageBatchNewParamsRequest, batchSize)
	for i := range reqs {
		p := ask("write", "")
		reqs[i] = anthropic.MessageBatchNewParamsRequest{CustomID: fmt.Sprintf("r%d", i),
			Params: anthropic.MessageBatchNewParamsRequestParams{Model: p.Model, MaxTokens: p.MaxTokens, Messages: p.Messages, Tools: p.Tools}}
	}
	b, err := vc.Messages.Batches.New(ctx, anthropic.MessageBatchNewParams{Requests: reqs})
	if err != nil {
		t.Fatalf("batch through %s: %v", via.name, err)
	}
	ended := waitBatch(t, third.client(), b.ID)
	if rc := ended.RequestCounts; rc.Succeeded != batchSize {
		t.Errorf("batch request_counts = %s", ended.JSON.RequestCounts.Raw())
	}
	results := third.client().Messages.Batches.ResultsStreaming(ctx, b.ID, anthropic.MessageBatchResultsParams{})
	n := 0
	for results.Next() {
		r := results.Current()
		if m := r.Result.Message; r.Result.Type != "succeeded" || bashResult(t, &m).Stdout != "written\n" {
			t.Errorf("batch result %s: %s", r.CustomID, r.RawJSON())
		}
		n++
	}
	if err := results.Err(); err != nil || n != batchSize {
		t.Errorf("batch results through %s: %d, %v", third.name, n, err)
	}

	// A key made on the database works on every node.
	out, err := exec.Command(codeboxBinary(t), "keys", "create", "--database", c.database, "--workspace", "cluster").Output()
	if err != nil {
		t.Fatalf("keys create: %v", err)
	}
	key := strings.TrimSpace(string(out))
	for _, nd := range c.nodes {
		kc := anthropic.NewClient(option.WithBaseURL(nd.url), option.WithAPIKey(key), option.WithMaxRetries(0))
		if _, err := kc.Models.List(ctx, anthropic.ModelListParams{}); err != nil {
			t.Errorf("the new key on %s: %v", nd.name, err)
		}
	}

	// Usage: every Messages request above (the seed workflow, three in Go and two in
	// Python, the batch's), whichever node served it, is counted once.
	var usage struct {
		Requests              int64 `json:"requests"`
		CodeExecutionRequests int64 `json:"code_execution_requests"`
	}
	for _, nd := range c.nodes {
		if code := c.call(t, nd, "GET", "/v1/usage", nil, &usage); code != 200 || usage.Requests != 6+batchSize {
			t.Errorf("usage on %s: %d %+v, want %d requests", nd.name, code, usage, 6+batchSize)
		}
	}
}

// waitBatch polls batch id until it ends (or hangTimeout passes).
func waitBatch(t *testing.T, c *anthropic.Client, id string) *anthropic.MessageBatch {
	t.Helper()
	deadline := time.Now().Add(hangTimeout)
	for {
		b, err := c.Messages.Batches.Get(context.Background(), id, anthropic.MessageBatchGetParams{})
		if err != nil {
			t.Fatalf("batch %s: %v", id, err)
		}
		if b.ProcessingStatus == "ended" {
			return b
		}
		if time.Now().After(deadline) {
			t.Fatalf("batch %s did not end: %s", id, b.RawJSON())
		}
		time.Sleep(100 * time.Millisecond)
	}
}
