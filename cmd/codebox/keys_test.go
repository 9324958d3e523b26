package main

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/anthropics/anthropic-sdk-go"
	"github.com/anthropics/anthropic-sdk-go/option"
)

// TestKeysWhileServing creates and revokes keys with the CLI against the data directory
// of a running server, and checks the server honours both at once.
func TestKeysWhileServing(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the server binary")
	}
	dataDir := t.TempDir()
	srv := startChild(t, dataDir)
	bin := codeboxBinary(t)
	cli := func(args ...string) string {
		t.Helper()
		cmd := exec.Command(bin, append(args, "--data-dir", dataDir)...)
		cmd.Env = os.Environ()
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("codebox %v: %v", args, err)
		}
		return strings.TrimSpace(string(out))
	}
	secret := cli("keys", "create", "--workspace", "team-a")
	if !strings.HasPrefix(secret, "sk-cbx-") {
		t.Fatalf("keys create printed %q", secret)
	}
	ctx := context.Background()
	c := anthropic.NewClient(option.WithBaseURL(srv.url), option.WithAPIKey(secret), option.WithMaxRetries(0))
	f, err := c.Files.Upload(ctx, anthropic.FileUploadParams{File: anthropic.File(strings.NewReader("a,b\n"), "t.csv", "")})
	if err != nil {
		t.Fatalf("upload with the new key: %v", err)
	}
	// The default workspace (the CODEBOX_API_KEY key) does not see team-a's file.
	if _, err := srv.client().Files.GetMetadata(ctx, f.ID, anthropic.FileGetMetadataParams{}); err == nil {
		t.Fatal("default workspace sees team-a's file")
	}

	list := cli("keys", "list")
	var id string
	for _, line := range strings.Split(list, "\n") {
		if strings.Contains(line, "team-a") {
			id = strings.Fields(line)[0]
		}
	}
	if !strings.HasPrefix(id, "key_") || strings.Contains(list, secret) {
		t.Fatalf("keys list:\n%s", list)
	}
	cli("keys", "revoke", id)
	_, err = c.Files.List(ctx, anthropic.FileListParams{})
	var ae *anthropic.Error
	if !errors.As(err, &ae) || ae.StatusCode != 401 {
		t.Fatalf("revoked key: %v, want 401", err)
	}
	if _, err := os.Stat(filepath.Join(dataDir, "api-key")); !os.IsNotExist(err) {
		t.Fatalf("api-key file written although CODEBOX_API_KEY was set: %v", err)
	}
}

// TestFirstStartWritesKey checks that a first start without CODEBOX_API_KEY creates a
// key, saves it with mode 0600, and that a second start keeps it.
func TestFirstStartWritesKey(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the server binary")
	}
	dataDir := t.TempDir()
	t.Setenv("CODEBOX_API_KEY", "")
	os.Unsetenv("CODEBOX_API_KEY")
	start := func() *child {
		cmd := startChildEnv(t, dataDir, nil)
		return cmd
	}
	srv := start()
	path := filepath.Join(dataDir, "api-key")
	st, err := os.Stat(path)
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("api-key: %v, %v", st, err)
	}
	b, _ := os.ReadFile(path)
	key := strings.TrimSpace(string(b))
	c := anthropic.NewClient(option.WithBaseURL(srv.url), option.WithAPIKey(key), option.WithMaxRetries(0))
	if _, err := c.Files.List(context.Background(), anthropic.FileListParams{}); err != nil {
		t.Fatalf("saved key: %v", err)
	}
	srv.kill()
	srv = start()
	b2, _ := os.ReadFile(path)
	if string(b2) != string(b) {
		t.Fatal("second start replaced the key")
	}
	c = anthropic.NewClient(option.WithBaseURL(srv.url), option.WithAPIKey(key), option.WithMaxRetries(0))
	if _, err := c.Files.List(context.Background(), anthropic.FileListParams{}); err != nil {
		t.Fatalf("key after restart: %v", err)
	}
}
