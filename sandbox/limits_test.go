package sandbox_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/codebox-dev/codebox/errdefs"
	"github.com/codebox-dev/codebox/sandbox"
	"github.com/codebox-dev/codebox/sandbox/sandboxtest"
)

// TestContainerMemoryLimit: a container that asks for less memory than the server's
// limit gets that limit in its memory cgroup, and keeps it across a restart; more
// than the server's limit is refused, naming the maximum.
func TestContainerMemoryLimit(t *testing.T) { sandboxtest.ForEachRuntime(t, testContainerMemoryLimit) }

func testContainerMemoryLimit(t *testing.T, runtime string) {
	e := sandboxtest.NewWithRuntime(t, runtime, func(c *sandbox.Config) { c.Limits.Memory = 1 << 30 })
	ctx := context.Background()
	const small = 256 << 20
	c := create(t, e, sandbox.CreateOptions{MemoryLimit: small})
	if c.MemoryLimit != small {
		t.Errorf("MemoryLimit = %d, want %d", c.MemoryLimit, small)
	}
	if got := e.CgroupFile(t, c.ID, "memory", "memory.limit_in_bytes"); got != strconv.Itoa(small) {
		t.Errorf("memory.limit_in_bytes = %s, want %d", got, small)
	}
	alloc := `python3 -c 'b = bytearray(400 << 20); print("allocated")'`
	if res := run(t, e, c.ID, alloc); !res.OOMKilled || strings.Contains(res.Stdout, "allocated") {
		t.Errorf("400 MiB in 256 MiB = %+v, want OOMKilled", res)
	}
	if _, err := e.Manager.Stop(ctx, ws, c.ID); err != nil {
		t.Fatal(err)
	}
	run(t, e, c.ID, "true")
	if got := e.CgroupFile(t, c.ID, "memory", "memory.limit_in_bytes"); got != strconv.Itoa(small) {
		t.Errorf("after a restart memory.limit_in_bytes = %s, want %d", got, small)
	}

	def := create(t, e, sandbox.CreateOptions{})
	if got := e.CgroupFile(t, def.ID, "memory", "memory.limit_in_bytes"); got != strconv.Itoa(1<<30) {
		t.Errorf("default memory.limit_in_bytes = %s, want the server's %d", got, 1<<30)
	}
	if res := run(t, e, def.ID, alloc); res.OOMKilled || res.Stdout != "allocated\n" {
		t.Errorf("400 MiB in the server's 1 GiB = %+v, want allocated", res)
	}

	_, err := e.Manager.Create(ctx, ws, sandbox.CreateOptions{MemoryLimit: 4 << 30})
	if !errors.Is(err, errdefs.ErrInvalid) || err == nil || !strings.Contains(err.Error(), "maximum of 1.0 GiB") {
		t.Errorf("4 GiB on a 1 GiB server = %v, want invalid naming the maximum", err)
	}
}

// TestExpiresAfter: a container with an expiry after inactivity expires that long after
// its last use (each use pushes it back), its files destroyed; the period is capped at
// the server's hard expiry.
func TestExpiresAfter(t *testing.T) { sandboxtest.ForEachRuntime(t, testExpiresAfter) }

func testExpiresAfter(t *testing.T, runtime string) {
	e := sandboxtest.NewWithRuntime(t, runtime, func(c *sandbox.Config) { c.Expiry = time.Hour })
	ctx := context.Background()
	c := create(t, e, sandbox.CreateOptions{ExpiresAfter: 20 * time.Minute})
	if c.ExpiresAfter != 20*time.Minute || c.ExpiresAt.Sub(c.LastActiveAt) != 20*time.Minute {
		t.Errorf("created: expires after %v at %v (last active %v), want 20m after last activity", c.ExpiresAfter, c.ExpiresAt, c.LastActiveAt)
	}
	e.Clock.Advance(10 * time.Minute)
	run(t, e, c.ID, "echo kept > /workspace/a")
	e.Clock.Advance(15 * time.Minute) // 25 minutes after creation, 15 after the last use
	e.Manager.SweepOnce(ctx)
	got, err := e.Manager.Get(ctx, ws, c.ID)
	if err != nil {
		t.Fatalf("15 minutes after its last use: %v, want it alive", err)
	}
	if got.ExpiresAt.Sub(got.LastActiveAt) != 20*time.Minute {
		t.Errorf("after a use: expires at %v, last active %v; want 20m later", got.ExpiresAt, got.LastActiveAt)
	}
	e.Clock.Advance(6 * time.Minute)
	if _, err := e.Manager.Exec(ctx, ws, c.ID, sandbox.ExecRequest{Command: "true"}); errdefs.Code(err) != errdefs.CodeContainerExpired {
		t.Errorf("21 minutes after its last use: %v, want container_expired", err)
	}
	e.Manager.SweepOnce(ctx)
	if _, err := os.Stat(filepath.Join(e.Config.Dir, c.ID)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("expired container's directory still exists: %v", err)
	}
	list, _, err := e.Manager.List(ctx, ws, sandbox.ListOptions{})
	if err != nil || len(list) != 1 || list[0].Status != sandbox.StatusExpired {
		t.Errorf("List = %+v, %v; want it expired", list, err)
	}

	capped := create(t, e, sandbox.CreateOptions{ExpiresAfter: 3 * time.Hour})
	if capped.ExpiresAfter != time.Hour || !capped.ExpiresAt.Equal(capped.CreatedAt.Add(time.Hour)) {
		t.Errorf("3h on a server expiring containers after 1h: expires after %v at %v, want 1h", capped.ExpiresAfter, capped.ExpiresAt)
	}
}

// TestContainerFileIDs: uploads are the user's, files the code writes get ids as the
// assistant's when first listed, ids stay across listings and a server restart, and
// an id whose file is gone is forgotten.
func TestContainerFileIDs(t *testing.T) { sandboxtest.ForEachRuntime(t, testContainerFileIDs) }

func testContainerFileIDs(t *testing.T, runtime string) {
	e := sandboxtest.NewWithRuntime(t, runtime, nil)
	ctx := context.Background()
	c := create(t, e, sandbox.CreateOptions{})
	if err := e.Manager.Upload(ctx, ws, c.ID, "in/data.txt", strings.NewReader("data")); err != nil {
		t.Fatal(err)
	}
	run(t, e, c.ID, "printf made > made.txt; printf scratch > /tmp/scratch")
	byPath := func(m *sandbox.Manager) map[string]*sandbox.ContainerFile {
		t.Helper()
		files, err := m.Files(ctx, ws, c.ID, "")
		if err != nil {
			t.Fatal(err)
		}
		out := map[string]*sandbox.ContainerFile{}
		for _, f := range files {
			out[f.Path] = f
		}
		return out
	}
	first := byPath(e.Manager)
	data, made := first["/workspace/in/data.txt"], first["/workspace/made.txt"]
	if len(first) != 2 || data == nil || made == nil || data.Source != sandbox.FileSourceUser || made.Source != sandbox.FileSourceAssistant ||
		data.Size != 4 || made.Size != 4 || !strings.HasPrefix(made.ID, sandbox.FileIDPrefix) {
		t.Fatalf("Files = %+v, want in/data.txt (user) and made.txt (assistant)", first)
	}
	restarted := e.Start(t)
	if again := byPath(restarted); again["/workspace/made.txt"].ID != made.ID || again["/workspace/in/data.txt"].ID != data.ID {
		t.Errorf("ids after a restart: %+v, want %s and %s", again, made.ID, data.ID)
	}
	if f, err := restarted.File(ctx, ws, c.ID, made.ID); err != nil || f.Path != made.Path || f.Size != 4 {
		t.Errorf("File = %+v, %v", f, err)
	}
	if _, err := restarted.File(ctx, "ws_other", c.ID, made.ID); !errors.Is(err, errdefs.ErrNotFound) {
		t.Errorf("File from another workspace = %v, want not found", err)
	}
	if err := restarted.RemoveFile(ctx, ws, c.ID, data.ID); err != nil {
		t.Fatal(err)
	}
	if res, err := restarted.Exec(ctx, ws, c.ID, sandbox.ExecRequest{Command: "ls in; rm made.txt"}); err != nil || res.Stdout != "" {
		t.Errorf("after RemoveFile: ls = %+v, %v; want empty", res, err)
	}
	for _, id := range []string{data.ID, made.ID} {
		if _, err := restarted.File(ctx, ws, c.ID, id); !errors.Is(err, errdefs.ErrNotFound) {
			t.Errorf("File(%s) after its file went = %v, want not found", id, err)
		}
	}

	// FileAt gives an unlisted file its id; an upload over it keeps the id, now the user's.
	if _, err := restarted.Exec(ctx, ws, c.ID, sandbox.ExecRequest{Command: "printf again > again.txt"}); err != nil {
		t.Fatal(err)
	}
	again, err := restarted.FileAt(ctx, ws, c.ID, "/workspace/again.txt")
	if err != nil || again.Source != sandbox.FileSourceAssistant || again.Size != 5 {
		t.Fatalf("FileAt = %+v, %v; want the assistant's 5 bytes", again, err)
	}
	if err := restarted.Upload(ctx, ws, c.ID, "again.txt", strings.NewReader("replaced")); err != nil {
		t.Fatal(err)
	}
	if f, err := restarted.FileAt(ctx, ws, c.ID, "again.txt"); err != nil || f.ID != again.ID || f.Source != sandbox.FileSourceUser || f.Size != 8 {
		t.Errorf("after an upload over it: %+v, %v; want id %s, the user's 8 bytes", f, err, again.ID)
	}
}
