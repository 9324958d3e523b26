package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/anthropics/anthropic-sdk-go"

	"github.com/codebox-dev/codebox/ids"
	"github.com/codebox-dev/codebox/store/sqlite"
)

// batchCrashRequests is the size of the batch TestBatchSurvivesKill runs.
const batchCrashRequests = 1000

// TestBatchSurvivesKill runs a batch of 1,000 code execution requests on the real
// server, kills it with SIGKILL halfway, starts it again on the same data directory,
// and checks that every request is answered exactly once: one result per custom_id,
// the results written before the kill unchanged, and the commands the containers ran
// (each appends a line to a file of its container, which the model cannot write) one
// per request plus at most one per request that was running at the kill.
func TestBatchSurvivesKill(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the server binary with a thousand-request batch")
	}
	imageDir := testImageDir(t)
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	script := filepath.Join(dir, "count.json")
	if err := os.WriteFile(script, []byte(`[{"content":[{"type":"tool_use","name":"bash_code_execution",
		"input":{"command":"echo run >> /workspace/count.txt && echo counted"}}]},
		{"content":[{"type":"text","text":"done"}]}]`), 0o644); err != nil {
		t.Fatal(err)
	}
	// The same cgroup parent across the restart: the containers outlive the first server.
	args := []string{"--sandbox=true", "--sandbox-runtime", "runc", "--image-dir", imageDir,
		"--sandbox-memory", "256MiB", "--sandbox-disk", "256MiB", "--pool-size", "0", "--script", script,
		"--sandbox-cgroup-parent", "/codebox-test-" + strings.ToLower(ids.New("")[:12]),
		"--batch-share", "1", "--max-executions-per-workspace", "8"}
	srv := startChild(t, data, args...)
	c := srv.client()
	ctx := context.Background()

	// Four containers share the requests, so the test spends its CPU on the batch
	// rather than on starting a thousand containers.
	var ctrs []string
	for i := range 4 {
		var ctr struct{ ID string }
		if code := srv.call(t, "POST", "/v1/containers", map[string]string{"name": fmt.Sprintf("c%d", i)}, &ctr); code != 200 {
			t.Fatalf("create container: %d", code)
		}
		ctrs = append(ctrs, ctr.ID)
	}
	reqs := make([]anthropic.MessageBatchNewParamsRequest, batchCrashRequests)
	for i := range reqs {
		reqs[i] = anthropic.MessageBatchNewParamsRequest{CustomID: fmt.Sprintf("req-%04d", i),
			Params: anthropic.MessageBatchNewParamsRequestParams{Model: "script/count", MaxTokens: 256,
				Messages:  []anthropic.MessageParam{anthropic.NewUserMessage(anthropic.NewTextBlock("count"))},
				Tools:     []anthropic.ToolUnionParam{{OfCodeExecutionTool20250825: &anthropic.CodeExecutionTool20250825Param{}}},
				Container: anthropic.MessageCreateParamsContainerUnion{OfString: anthropic.String(ctrs[i%len(ctrs)])}}}
	}
	b, err := c.Messages.Batches.New(ctx, anthropic.MessageBatchNewParams{Requests: reqs})
	if err != nil {
		t.Fatalf("create batch: %v", err)
	}
	for {
		got, err := c.Messages.Batches.Get(ctx, b.ID, anthropic.MessageBatchGetParams{})
		if err != nil {
			t.Fatal(err)
		}
		if got.RequestCounts.Succeeded+got.RequestCounts.Errored >= batchCrashRequests/2 {
			break
		}
		if got.ProcessingStatus == "ended" {
			t.Fatalf("batch ended before the kill: %s", got.RawJSON())
		}
		time.Sleep(20 * time.Millisecond)
	}
	srv.kill()

	// What the dead server left: the answered requests and their results, and how many
	// were running.
	db, err := sqlite.Open(ctx, filepath.Join(data, "codebox.db"))
	if err != nil {
		t.Fatal(err)
	}
	before := map[string]string{}
	rows, err := db.SQL().Query(`SELECT custom_id, state, COALESCE(result, '') FROM message_batch_requests WHERE batch_id = ?`, b.ID)
	if err != nil {
		t.Fatal(err)
	}
	running := 0
	for rows.Next() {
		var id, state, result string
		if err := rows.Scan(&id, &state, &result); err != nil {
			t.Fatal(err)
		}
		switch state {
		case "succeeded", "errored":
			before[id] = result
		case "running":
			running++
		}
	}
	rows.Close()
	db.Close()
	t.Logf("at the kill: %d answered, %d running", len(before), running)
	if len(before) < batchCrashRequests/2 || len(before) == batchCrashRequests {
		t.Fatalf("%d answered at the kill, want about half", len(before))
	}

	srv = startChild(t, data, args...)
	c = srv.client()
	t.Cleanup(func() {
		for _, id := range ctrs {
			srv.call(t, "DELETE", "/v1/containers/"+id, nil, nil)
		}
		srv.stop(t)
	})
	ended := waitBatchEnded(t, c, b.ID, 20*time.Minute)
	if rc := ended.RequestCounts; rc.Succeeded != batchCrashRequests || rc.Processing+rc.Errored+rc.Canceled+rc.Expired != 0 {
		t.Errorf("request_counts = %s", ended.JSON.RequestCounts.Raw())
	}

	stream := c.Messages.Batches.ResultsStreaming(ctx, b.ID, anthropic.MessageBatchResultsParams{})
	seen := map[string]bool{}
	for stream.Next() {
		r := stream.Current()
		if seen[r.CustomID] {
			t.Errorf("%s answered twice", r.CustomID)
		}
		seen[r.CustomID] = true
		m := r.Result.Message
		if r.Result.Type != "succeeded" || len(m.Content) != 3 ||
			m.Content[1].AsBashCodeExecutionToolResult().Content.AsResponseBashCodeExecutionResultBlock().Stdout != "counted\n" {
			t.Errorf("%s: %s", r.CustomID, r.RawJSON())
			continue
		}
		if old, ok := before[r.CustomID]; ok && old != m.RawJSON() {
			t.Errorf("%s: answered before the kill, then again:\n%s\n%s", r.CustomID, old, m.RawJSON())
		}
	}
	if err := stream.Err(); err != nil {
		t.Fatal(err)
	}
	stream.Close()
	if len(seen) != batchCrashRequests {
		t.Errorf("%d results, want %d", len(seen), batchCrashRequests)
	}

	// The containers' own count of the commands they ran.
	ran := 0
	for _, id := range ctrs {
		var out struct{ Stdout string }
		if code := srv.call(t, "POST", "/v1/containers/"+id+"/exec", map[string]string{"command": "wc -l < /workspace/count.txt"}, &out); code != 200 {
			t.Fatalf("count in %s: %d", id, code)
		}
		n, err := strconv.Atoi(strings.TrimSpace(out.Stdout))
		if err != nil {
			t.Fatalf("count in %s: %q", id, out.Stdout)
		}
		ran += n
	}
	t.Logf("commands run: %d for %d requests (%d running at the kill)", ran, batchCrashRequests, running)
	if ran < batchCrashRequests || ran > batchCrashRequests+running {
		t.Errorf("%d commands ran, want %d to %d", ran, batchCrashRequests, batchCrashRequests+running)
	}
}
