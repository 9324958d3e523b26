package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestServeSymlinkedPaths serves with the data and image directories reached through
// symlinks, as an operator's /srv/codebox -> /mnt/disk1/codebox often is: containers
// must start (runc refuses a rootfs path with a symlink in it).
func TestServeSymlinkedPaths(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the server binary with real containers")
	}
	imageDir := testImageDir(t)
	dir := t.TempDir()
	imageLink, dataLink := filepath.Join(dir, "images"), filepath.Join(dir, "data")
	if err := os.Symlink(imageDir, imageLink); err != nil {
		t.Fatal(err)
	}
	realData := filepath.Join(dir, "disk1", "codebox")
	if err := os.MkdirAll(realData, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(realData, dataLink); err != nil {
		t.Fatal(err)
	}
	srv := startSandboxChild(t, dataLink, imageLink, "--pool-size", "0")
	var ctr struct {
		ID string `json:"id"`
	}
	if st := srv.call(t, "POST", "/v1/containers", map[string]any{}, &ctr); st != http.StatusOK {
		t.Fatalf("create container with symlinked directories = %d, want 200", st)
	}
	var res struct {
		Stdout string `json:"stdout"`
	}
	if st := srv.call(t, "POST", "/v1/containers/"+ctr.ID+"/exec", map[string]any{"command": "echo ok"}, &res); st != http.StatusOK || strings.TrimSpace(res.Stdout) != "ok" {
		t.Fatalf("exec = %d %+v", st, res)
	}
}

// serveOutcome runs `codebox serve` with args until it either says it listens (it is
// then stopped: started is true) or exits; out is everything it printed.
func serveOutcome(t *testing.T, dataDir string, args ...string) (out string, started bool) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, codeboxBinary(t), append([]string{"serve", "--listen", "127.0.0.1:0",
		"--data-dir", dataDir, "--log-level", "warn"}, args...)...)
	cmd.Env = serveEnv("CODEBOX_API_KEY=" + testAPIKey)
	pr, pw := io.Pipe()
	cmd.Stdout, cmd.Stderr = pw, pw
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { pw.CloseWithError(cmd.Wait()) }()
	var buf strings.Builder
	sc := bufio.NewScanner(pr)
	for sc.Scan() {
		buf.WriteString(sc.Text() + "\n")
		if strings.HasPrefix(sc.Text(), "codebox: listening on ") {
			cmd.Process.Signal(syscall.SIGTERM)
			io.Copy(io.Discard, pr)
			return buf.String(), true
		}
	}
	return buf.String(), false
}

// fakeRuntime writes an executable named runc that answers like one only for the
// subcommands listed in answers (sub-command → shell code), and fails otherwise.
func fakeRuntime(t *testing.T, answers map[string]string) string {
	t.Helper()
	var sh strings.Builder
	sh.WriteString("#!/bin/sh\nfor a; do case \"$a\" in\n")
	for sub, code := range answers {
		fmt.Fprintf(&sh, "%s) %s;;\n", sub, code)
	}
	sh.WriteString("esac; done\necho 'runc: exec format error' >&2\nexit 1\n")
	dir := t.TempDir()
	p := filepath.Join(dir, "runc")
	if err := os.WriteFile(p, []byte(sh.String()), 0o755); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestServeBrokenRuntime checks that a runtime that cannot run containers stops the
// server at start with a message naming the runtime and what it said, instead of a
// server that starts and answers every create with 529.
func TestServeBrokenRuntime(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the server binary")
	}
	imageDir := testImageDir(t)
	for _, tc := range []struct {
		name    string
		answers map[string]string
		want    []string
	}{
		{"not a runtime", nil, []string{"does not work", "runc --version", "exec format error"}},
		{"cannot start a container", map[string]string{
			"--version": "echo 'runc version 1.1.0'; exit 0",
			"list":      "echo '[]'; exit 0",
			"state":     "echo 'container does not exist' >&2; exit 1",
			"delete":    "exit 0",
			"run":       "echo 'invalid rootfs: not an absolute path, or a symlink' >&2; exit 1",
		}, []string{"could not start a container", "invalid rootfs"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rt := fakeRuntime(t, tc.answers)
			out, started := serveOutcome(t, t.TempDir(), "--sandbox=true", "--sandbox-runtime", rt,
				"--image-dir", imageDir, "--pool-size", "0", "--sandbox-memory", "256MiB", "--sandbox-disk", "256MiB")
			if started {
				t.Fatalf("serve started with a broken runtime:\n%s", out)
			}
			for _, w := range tc.want {
				if !strings.Contains(out, w) {
					t.Errorf("serve's output does not say %q:\n%s", w, out)
				}
			}
		})
	}
}
