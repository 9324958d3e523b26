package main

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/anthropics/anthropic-sdk-go"
	"github.com/anthropics/anthropic-sdk-go/option"

	"github.com/codebox-dev/codebox/internal/testenv"
	"github.com/codebox-dev/codebox/sandbox/sandboxtest"
)

// TestServePostgres runs the server binary on a PostgreSQL database: a file uploaded, a
// file code execution generated (listed and downloaded), a key created with the CLI and
// the container are all still there after a restart, and no SQLite database appears in
// the data directory.
func TestServePostgres(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the server binary")
	}
	dsn := testenv.Postgres(t)
	runtime := sandboxtest.Runtimes()[0]
	sandboxtest.Require(t, runtime)
	sandboxtest.RootFS(t)
	const content = "region,revenue\nnorth,5200\n"
	script := filepath.Join(t.TempDir(), "out.json")
	turns, _ := json.Marshal(map[string]any{"turns": []any{
		map[string]any{"content": []any{map[string]any{"type": "tool_use", "name": "bash_code_execution",
			"input": map[string]any{"command": "printf '" + strings.ReplaceAll(content, "\n", `\n`) + "' > revenue.csv"}}}},
		map[string]any{"content": []any{map[string]any{"type": "text", "text": "Saved."}}},
	}})
	if err := os.WriteFile(script, turns, 0o644); err != nil {
		t.Fatal(err)
	}
	dataDir := t.TempDir()
	args := []string{"--database", dsn, "--sandbox=true", "--sandbox-runtime", runtime, "--image-dir", testenv.ImageDir(),
		"--pool-size", "0", "--sandbox-memory", "256MiB", "--sandbox-disk", "256MiB", "--script", script}
	ctx := context.Background()
	srv := startChild(t, dataDir, args...)

	if status, body := probe(t, srv, "/readyz"); status != http.StatusOK || !strings.Contains(body, "database") {
		t.Fatalf("readyz = %d %s, want 200 with the database's check", status, body)
	}
	up, err := srv.client().Files.Upload(ctx, anthropic.FileUploadParams{File: anthropic.File(strings.NewReader("a,b\n"), "in.csv", "text/csv")})
	if err != nil {
		t.Fatalf("upload: %v", err)
	}
	var msg struct {
		Container struct {
			ID string `json:"id"`
		} `json:"container"`
		Content []struct {
			Type    string `json:"type"`
			Content struct {
				ReturnCode int `json:"return_code"`
				Content    []struct {
					FileID string `json:"file_id"`
				} `json:"content"`
			} `json:"content"`
		} `json:"content"`
	}
	body := map[string]any{"model": "script/out", "max_tokens": 1024,
		"messages": []any{map[string]any{"role": "user", "content": "Save the revenue table."}},
		"tools":    []any{map[string]any{"type": "code_execution_20250825", "name": "code_execution"}}}
	if st := srv.call(t, "POST", "/v1/messages", body, &msg); st != http.StatusOK {
		t.Fatalf("POST /v1/messages = %d", st)
	}
	var generated string
	for _, c := range msg.Content {
		if c.Type == "bash_code_execution_tool_result" && c.Content.ReturnCode == 0 && len(c.Content.Content) == 1 {
			generated = c.Content.Content[0].FileID
		}
	}
	if generated == "" || msg.Container.ID == "" {
		t.Fatalf("the run generated no file or no container: %+v", msg)
	}

	// The key goes in through the CLI, configured by the environment twin.
	cmd := exec.Command(codeboxBinary(t), "keys", "create", "--workspace", "team-b", "--data-dir", dataDir)
	cmd.Env = append(os.Environ(), "CODEBOX_DATABASE="+dsn)
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("codebox keys create: %v", err)
	}
	secret := strings.TrimSpace(string(out))

	check := func(srv *child) {
		t.Helper()
		page, err := srv.client().Files.List(ctx, anthropic.FileListParams{})
		if err != nil || len(page.Data) != 2 || page.Data[0].ID != generated || page.Data[1].ID != up.ID {
			t.Fatalf("list = %+v, %v; want %s and %s", page, err, generated, up.ID)
		}
		resp, err := srv.client().Files.Download(ctx, generated, anthropic.FileDownloadParams{})
		if err != nil {
			t.Fatalf("download: %v", err)
		}
		b, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil || string(b) != content {
			t.Fatalf("download = %q, %v; want %q", b, err, content)
		}
		teamB := anthropic.NewClient(option.WithBaseURL(srv.url), option.WithAPIKey(secret), option.WithMaxRetries(0))
		page, err = teamB.Files.List(ctx, anthropic.FileListParams{})
		if err != nil || len(page.Data) != 0 {
			t.Fatalf("team-b's list = %+v, %v; want its key accepted and no files", page, err)
		}
		var ctr struct {
			ID string `json:"id"`
		}
		if st := srv.call(t, "GET", "/v1/containers/"+msg.Container.ID, nil, &ctr); st != http.StatusOK || ctr.ID != msg.Container.ID {
			t.Fatalf("GET the run's container = %d %+v", st, ctr)
		}
	}
	check(srv)
	srv.stop(t)

	srv = startChild(t, dataDir, args...)
	t.Cleanup(func() {
		srv.call(t, "DELETE", "/v1/containers/"+msg.Container.ID, nil, nil)
		srv.stop(t)
	})
	check(srv)
	if _, err := os.Stat(filepath.Join(dataDir, "codebox.db")); !os.IsNotExist(err) {
		t.Errorf("a SQLite database appeared in the data directory of a PostgreSQL server: %v", err)
	}
}

func TestOpenDatabaseRejectsOtherURLs(t *testing.T) {
	_, err := openDatabase(context.Background(), "mysql://root:s3cret@db/codebox", t.TempDir())
	if err == nil || !strings.Contains(err.Error(), "postgres://") || strings.Contains(err.Error(), "s3cret") {
		t.Fatalf("openDatabase(mysql://…) = %v; want an error naming postgres:// and not the password", err)
	}
}
