package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/anthropics/anthropic-sdk-go"

	"github.com/codebox-dev/codebox/ids"
	"github.com/codebox-dev/codebox/internal/testenv"
	"github.com/codebox-dev/codebox/store/postgres"
)

const pgSkill = "---\nname: pg-report\ndescription: Writes reports from PostgreSQL.\n---\nRun scripts/report.py.\n"

// TestServePostgresBatchesSkillsContainers serves with --database postgres://…: a batch, a skill and a
// container made through the API live in PostgreSQL (no SQLite file is made), and a
// restarted server answers with them again: the batch's results, the skill mounted in a
// new conversation's container, the container with its file.
func TestServePostgresBatchesSkillsContainers(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the server binary with PostgreSQL and real containers")
	}
	imageDir := testImageDir(t)
	dsn := testenv.Postgres(t)
	dir := t.TempDir()
	data, scripts := filepath.Join(dir, "data"), filepath.Join(dir, "scripts")
	if err := os.Mkdir(scripts, 0o755); err != nil {
		t.Fatal(err)
	}
	for name, body := range map[string]string{
		"hello.json": `[{"content":[{"type":"text","text":"hello from the batch"}]}]`,
		"skill.json": `[{"content":[{"type":"tool_use","name":"bash_code_execution","input":{"command":"cat /skills/pg-report/SKILL.md; python3 /skills/pg-report/scripts/report.py"}}]},
			{"content":[{"type":"text","text":"Read."}]}]`,
	} {
		if err := os.WriteFile(filepath.Join(scripts, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	// The same cgroup parent across the restart, as containers may outlive a server.
	common := []string{"--pool-size", "0", "--script", scripts, "--database", dsn,
		"--sandbox-cgroup-parent", "/codebox-test-" + strings.ToLower(ids.New("")[:12])}
	srv := startChild(t, data, append([]string{"--sandbox=true", "--sandbox-runtime", "runc", "--image-dir", imageDir,
		"--sandbox-memory", "256MiB", "--sandbox-disk", "256MiB"}, common...)...)
	c := srv.client()
	ctx := context.Background()

	// A container with a file on its disk.
	var ctr struct {
		ID   string `json:"id"`
		Name string `json:"name"`
	}
	if code := srv.call(t, "POST", "/v1/containers", map[string]string{"name": "pg-box"}, &ctr); code != http.StatusOK {
		t.Fatalf("create container: %d", code)
	}
	if out := execIn(t, srv, ctr.ID, "echo kept > /workspace/note.txt && echo written"); out != "written\n" {
		t.Fatalf("exec = %q", out)
	}

	// A skill, used by a conversation.
	sk, err := c.Skills.New(ctx, anthropic.SkillNewParams{Files: []io.Reader{
		anthropic.File(strings.NewReader(pgSkill), "pg-report/SKILL.md", "text/markdown"),
		anthropic.File(strings.NewReader("print('report from pg')\n"), "pg-report/scripts/report.py", "text/x-python"),
	}})
	if err != nil {
		t.Fatalf("create skill: %v", err)
	}
	useSkill(t, c, sk.ID)

	// A batch, run to its end.
	reqs := make([]anthropic.MessageBatchNewParamsRequest, 3)
	for i := range reqs {
		reqs[i] = anthropic.MessageBatchNewParamsRequest{CustomID: fmt.Sprintf("req-%d", i),
			Params: anthropic.MessageBatchNewParamsRequestParams{Model: "script/hello", MaxTokens: 64,
				Messages: []anthropic.MessageParam{anthropic.NewUserMessage(anthropic.NewTextBlock("hi"))}}}
	}
	b, err := c.Messages.Batches.New(ctx, anthropic.MessageBatchNewParams{Requests: reqs})
	if err != nil {
		t.Fatalf("create batch: %v", err)
	}
	waitBatchEnded(t, c, b.ID, 5*time.Minute)
	checkBatchResults(t, c, b.ID, len(reqs))

	srv.stop(t)
	if _, err := os.Stat(filepath.Join(data, "codebox.db")); !os.IsNotExist(err) {
		t.Errorf("a SQLite database was made beside PostgreSQL: %v", err)
	}
	db, err := postgres.Open(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	for _, row := range []struct{ table, id string }{{"containers", ctr.ID}, {"skills", sk.ID}, {"message_batches", b.ID}} {
		var n int
		if err := db.Pool().QueryRow(ctx, `SELECT count(*) FROM `+row.table+` WHERE id = $1`, row.id).Scan(&n); err != nil || n != 1 {
			t.Errorf("%s %s in PostgreSQL: %d rows, %v", row.table, row.id, n, err)
		}
	}
	db.Close()

	// The restarted server: the same database and data directory.
	srv = startSandboxChild(t, data, imageDir, common...)
	c = srv.client()
	var got struct {
		ID   string `json:"id"`
		Name string `json:"name"`
	}
	if code := srv.call(t, "GET", "/v1/containers/"+ctr.ID, nil, &got); code != http.StatusOK || got.Name != "pg-box" {
		t.Fatalf("container after the restart: %d %+v", code, got)
	}
	if out := execIn(t, srv, ctr.ID, "cat /workspace/note.txt"); out != "kept\n" {
		t.Errorf("the container's file after the restart = %q, want kept", out)
	}
	gotSkill, err := c.Skills.Get(ctx, sk.ID, anthropic.SkillGetParams{})
	if err != nil || gotSkill.LatestVersionID != sk.LatestVersionID {
		t.Fatalf("skill after the restart = %+v, %v", gotSkill, err)
	}
	useSkill(t, c, sk.ID)
	gotBatch, err := c.Messages.Batches.Get(ctx, b.ID, anthropic.MessageBatchGetParams{})
	if err != nil || gotBatch.ProcessingStatus != "ended" || gotBatch.RequestCounts.Succeeded != int64(len(reqs)) {
		t.Fatalf("batch after the restart = %+v, %v", gotBatch, err)
	}
	checkBatchResults(t, c, b.ID, len(reqs))
}

// execIn runs command in container id through the containers API and returns its
// standard output.
func execIn(t *testing.T, srv *child, id, command string) string {
	t.Helper()
	var out struct{ Stdout string }
	if code := srv.call(t, "POST", "/v1/containers/"+id+"/exec", map[string]string{"command": command}, &out); code != http.StatusOK {
		t.Fatalf("exec %q in %s: %d", command, id, code)
	}
	return out.Stdout
}

// useSkill has a new conversation read skill id's files in its container.
func useSkill(t *testing.T, c *anthropic.Client, id string) {
	t.Helper()
	m, err := c.Messages.New(context.Background(), anthropic.MessageNewParams{Model: "script/skill", MaxTokens: 256,
		Messages:  []anthropic.MessageParam{anthropic.NewUserMessage(anthropic.NewTextBlock("Read the skill."))},
		Tools:     []anthropic.ToolUnionParam{{OfCodeExecutionTool20250825: &anthropic.CodeExecutionTool20250825Param{}}},
		Container: anthropic.MessageCreateParamsContainerUnion{OfContainers: &anthropic.ContainerParams{Skills: []anthropic.SkillParams{{Type: anthropic.SkillParamsTypeCustom, SkillID: id}}}}})
	if err != nil {
		t.Fatalf("use skill: %v", err)
	}
	var out string
	for _, b := range m.Content {
		if b.Type == "bash_code_execution_tool_result" {
			r := b.AsBashCodeExecutionToolResult().Content.AsResponseBashCodeExecutionResultBlock()
			out = r.Stdout + r.Stderr
		}
	}
	if out != pgSkill+"report from pg\n" {
		t.Errorf("the skill in the container: %q; message %s", out, m.RawJSON())
	}
}

// waitBatchEnded polls batch id until it has ended, for at most timeout, and returns it.
func waitBatchEnded(t *testing.T, c *anthropic.Client, id string, timeout time.Duration) *anthropic.MessageBatch {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		b, err := c.Messages.Batches.Get(context.Background(), id, anthropic.MessageBatchGetParams{})
		if err != nil {
			t.Fatal(err)
		}
		if b.ProcessingStatus == "ended" {
			return b
		}
		if time.Now().After(deadline) {
			t.Fatalf("batch did not end in %v: %s", timeout, b.RawJSON())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// checkBatchResults reads batch id's results: n, each the script's answer.
func checkBatchResults(t *testing.T, c *anthropic.Client, id string, n int) {
	t.Helper()
	stream := c.Messages.Batches.ResultsStreaming(context.Background(), id, anthropic.MessageBatchResultsParams{})
	defer stream.Close()
	seen := map[string]bool{}
	for stream.Next() {
		r := stream.Current()
		m := r.Result.Message
		if r.Result.Type != "succeeded" || len(m.Content) != 1 || m.Content[0].Text != "hello from the batch" || seen[r.CustomID] {
			t.Errorf("result %s", r.RawJSON())
		}
		seen[r.CustomID] = true
	}
	if err := stream.Err(); err != nil {
		t.Fatal(err)
	}
	if len(seen) != n {
		t.Errorf("%d results, want %d", len(seen), n)
	}
}
