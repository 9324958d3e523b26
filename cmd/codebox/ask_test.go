package main

import (
	"bytes"
	"context"
	"log/slog"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/anthropics/anthropic-sdk-go"
	"github.com/anthropics/anthropic-sdk-go/option"

	"github.com/codebox-dev/codebox"
	"github.com/codebox-dev/codebox/agentloop"
	"github.com/codebox-dev/codebox/api"
	"github.com/codebox-dev/codebox/blobs/disk"
	"github.com/codebox-dev/codebox/errdefs"
	"github.com/codebox-dev/codebox/files"
	"github.com/codebox-dev/codebox/provider"
	"github.com/codebox-dev/codebox/provider/script"
	"github.com/codebox-dev/codebox/store/sqlite"
	"github.com/codebox-dev/codebox/tools/toolstest"
)

type oneKey string

func (k oneKey) Authenticate(ctx context.Context, key string) (codebox.WorkspaceID, error) {
	if key != string(k) {
		return "", errdefs.New(errdefs.ErrUnauthenticated, "", "invalid x-api-key")
	}
	return codebox.DefaultWorkspace, nil
}

// TestAsk runs the ask command against a server with a scripted model and the
// host-directory test sandbox: upload, streamed narrative and commands, a paused turn
// resumed, the generated file downloaded, container and usage printed.
func TestAsk(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	logger := slog.New(slog.DiscardHandler)
	db, err := sqlite.Open(ctx, filepath.Join(dir, "codebox.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	blobs, err := disk.Open(filepath.Join(dir, "blobs"))
	if err != nil {
		t.Fatal(err)
	}
	svc := files.New(files.Config{Logger: logger}, db, blobs)
	sb := toolstest.New(filepath.Join(dir, "containers"), svc)
	s, err := script.Parse([]byte(`[
	 {"content":[{"type":"text","text":"Counting lines."},{"type":"tool_use","name":"bash_code_execution","input":{"command":"wc -l < notes.txt"}}]},
	 {"content":[{"type":"tool_use","name":"bash_code_execution","input":{"command":"tr a-z A-Z < notes.txt > upper.txt"}}]},
	 {"content":[{"type":"text","text":"notes.txt has 2 lines; upper.txt holds the upper-cased copy."}]}]`))
	if err != nil {
		t.Fatal(err)
	}
	loop := agentloop.New(agentloop.Config{Models: &provider.Router{Scripts: map[string]provider.Model{"demo": script.NewModel(s)}},
		Sandbox: sb, Files: svc, Usage: db, MaxIterations: 1, Logger: logger})
	srv := httptest.NewServer(api.New(api.Config{Logger: logger, Auth: oneKey("k"),
		FilesConfig: api.FilesConfig{Files: svc}, MessagesConfig: api.MessagesConfig{Loop: loop, Usage: db}}))
	defer srv.Close()

	in := filepath.Join(dir, "notes.txt")
	os.WriteFile(in, []byte("alpha\nbeta\n"), 0o644)
	out := t.TempDir()
	c := anthropic.NewClient(option.WithBaseURL(srv.URL), option.WithAPIKey("k"), option.WithMaxRetries(0))
	var buf bytes.Buffer
	err = runAsk(ctx, &c, &askOptions{prompt: "count and upper-case", model: "script/demo", tool: "code_execution_20250825",
		files: []string{in}, maxTokens: 1000, out: out}, &buf)
	if err != nil {
		t.Fatal(err)
	}
	got := buf.String()
	for _, want := range []string{"uploaded ", "Counting lines.", "$ wc -l < notes.txt", "  2", "$ tr a-z A-Z",
		"notes.txt has 2 lines", "saved ", "container: container_", "2 code execution requests", "container time"} {
		if !strings.Contains(got, want) {
			t.Errorf("output lacks %q:\n%s", want, got)
		}
	}
	data, err := os.ReadFile(filepath.Join(out, "upper.txt"))
	if err != nil || string(data) != "ALPHA\nBETA\n" {
		t.Errorf("upper.txt = %q, %v", data, err)
	}
}
