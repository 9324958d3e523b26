package main

import (
	"context"
	"encoding/json"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/anthropics/anthropic-sdk-go"

	"github.com/codebox-dev/codebox/internal/testenv"
	"github.com/codebox-dev/codebox/sandbox/sandboxtest"
)

// TestServeWithSandbox runs `codebox serve` with the sandbox on each runtime, as an
// operator does, and drives the seed's analysis (provider/script/testdata/sales.json)
// through it with the official SDK. It is what exercises serve's wiring: setupSandbox
// (image, runtime, capacity, Manager, pool, the binary as the containers' agent) and
// setupLoop (a scripted model in the router, the runner and its limiter).
func TestServeWithSandbox(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the server binary")
	}
	script, err := filepath.Abs("../../provider/script/testdata/sales.json")
	if err != nil {
		t.Fatal(err)
	}
	sandboxtest.ForEachRuntime(t, func(t *testing.T, runtime string) {
		sandboxtest.Require(t, runtime)
		sandboxtest.RootFS(t) // the image serve finds, instead of building one here
		data := t.TempDir()
		srv := startChild(t, data, "--sandbox=true", "--sandbox-runtime", runtime, "--image-dir", testenv.ImageDir(),
			"--pool-size", "1", "--sandbox-memory", "1GiB", "--script", script)
		c := srv.client()
		ctx := context.Background()
		t.Cleanup(func() { srv.deleteContainersAndStop(t) })
		f, err := c.Beta.Files.Upload(ctx, anthropic.BetaFileUploadParams{File: anthropic.File(strings.NewReader(
			"date,region,revenue_usd\n2026-04-01,north,3000\n2026-04-02,south,2800\n2026-04-03,north,2200\n2026-04-04,east,4600\n"),
			"sales.csv", "text/csv")})
		if err != nil {
			t.Fatalf("upload: %v", err)
		}
		msg, err := c.Messages.New(ctx, anthropic.MessageNewParams{
			Model:     "script/sales",
			MaxTokens: 1024,
			Messages: []anthropic.MessageParam{anthropic.NewUserMessage(anthropic.NewTextBlock("Revenue by region, with a chart."),
				anthropic.NewContainerUploadBlock(f.ID))},
			Tools: []anthropic.ToolUnionParam{{OfCodeExecutionTool20250825: &anthropic.CodeExecutionTool20250825Param{}}},
		})
		if err != nil {
			t.Fatalf("messages: %v", err)
		}
		var results []anthropic.BashCodeExecutionResultBlock
		for _, b := range msg.Content {
			if b.Type == "bash_code_execution_tool_result" {
				results = append(results, b.AsBashCodeExecutionToolResult().Content.AsResponseBashCodeExecutionResultBlock())
			}
		}
		if len(results) != 2 || msg.StopReason != "end_turn" {
			t.Fatalf("message = %s, want two command results and end_turn", msg.RawJSON())
		}
		if r := results[0]; r.ReturnCode != 0 || !strings.Contains(r.Stdout, "north,3000") || !strings.Contains(r.Stdout, "5 sales.csv") {
			t.Errorf("head of the upload = %+v", r)
		}
		// pandas and matplotlib: the image's own libraries, in the container.
		if r := results[1]; r.ReturnCode != 0 || !strings.Contains(r.Stdout, "north    5200") || len(r.Content) != 1 {
			t.Errorf("analysis = %+v, want north's total and chart.png", r)
		}

		// The container is the runtime's: it is in the state root serve gave it.
		out, err := exec.Command(runtime, "--root", filepath.Join(data, "runtime", filepath.Base(runtime)), "list", "--format", "json").Output()
		if err != nil {
			t.Fatalf("%s list: %v", runtime, err)
		}
		var list []struct{ ID, Status string }
		if err := json.Unmarshal(out, &list); err != nil {
			t.Fatalf("%s list: %v: %s", runtime, err, out)
		}
		found := false
		for _, c := range list {
			found = found || c.ID == msg.Container.ID && c.Status == "running"
		}
		if !found {
			t.Errorf("%s list = %s, want %s running", runtime, out, msg.Container.ID)
		}
	})
}

// deleteContainersAndStop deletes the server's containers, which outlive it, then stops
// it (which empties the pool).
func (c *child) deleteContainersAndStop(t *testing.T) {
	ctx := context.Background()
	cl := c.client()
	var list struct{ Data []struct{ ID string } }
	if err := cl.Get(ctx, "v1/containers", nil, &list); err != nil {
		t.Errorf("list containers: %v", err)
	}
	for _, ct := range list.Data {
		if err := cl.Delete(ctx, "v1/containers/"+ct.ID, nil, nil); err != nil {
			t.Errorf("delete %s: %v", ct.ID, err)
		}
	}
	c.stop(t)
}
