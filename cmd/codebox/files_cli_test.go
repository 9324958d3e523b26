package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestFilesCLI drives `codebox files` against a running server.
func TestFilesCLI(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the server binary")
	}
	srv := startChild(t, t.TempDir())
	bin := codeboxBinary(t)
	dir := t.TempDir()
	run := func(args ...string) (string, error) {
		cmd := exec.Command(bin, args...)
		cmd.Dir = dir
		var env []string
		for _, kv := range os.Environ() {
			if !strings.HasPrefix(kv, "CODEBOX_API_KEY=") && !strings.HasPrefix(kv, "CODEBOX_BASE_URL=") {
				env = append(env, kv)
			}
		}
		cmd.Env = append(env, "ANTHROPIC_BASE_URL="+srv.url, "ANTHROPIC_API_KEY="+testAPIKey)
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	src := filepath.Join(dir, "sales.csv")
	os.WriteFile(src, []byte("region,units\nnorth,12\n"), 0o644)
	out, err := run("files", "upload", src, "--expires-in", "2h")
	if err != nil {
		t.Fatalf("upload: %v\n%s", err, out)
	}
	id := strings.Fields(out)[0]
	if !strings.HasPrefix(id, "file_") || !strings.Contains(out, "sales.csv") {
		t.Fatalf("upload printed %q", out)
	}
	out, err = run("files", "list")
	if err != nil || !strings.Contains(out, id) || !strings.Contains(out, "text/csv") || !strings.HasPrefix(out, "ID") {
		t.Fatalf("list: %v\n%s", err, out)
	}
	out, err = run("files", "get", id)
	if err != nil || !strings.Contains(out, `"filename": "sales.csv"`) || !strings.Contains(out, `"expires_at"`) {
		t.Fatalf("get: %v\n%s", err, out)
	}
	out, err = run("files", "download", id, "-o", filepath.Join(dir, "copy.csv"))
	if err == nil || !strings.Contains(out, "file_not_downloadable") && !strings.Contains(out, "400") {
		t.Fatalf("download of an upload: %v\n%s", err, out)
	}
	if entries, _ := filepath.Glob(filepath.Join(dir, ".copy.csv*")); len(entries) != 0 {
		t.Fatalf("partial download left: %v", entries)
	}
	if out, err = run("files", "delete", id); err != nil || !strings.Contains(out, id) {
		t.Fatalf("delete: %v\n%s", err, out)
	}
	if out, err = run("files", "get", id); err == nil || !strings.Contains(out, "404") {
		t.Fatalf("get after delete: %v\n%s", err, out)
	}
}
