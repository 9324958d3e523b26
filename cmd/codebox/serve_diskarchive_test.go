package main

import (
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestServeDiskArchive: with --disk-archive on, a container stopped through the API is
// archived; with its local disk image gone it starts again with its files; a damaged
// archive is a clear error that leaves the container, which starts once the archive
// is whole again.
func TestServeDiskArchive(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the server binary")
	}
	data := t.TempDir()
	srv := startSandboxChild(t, data, testImageDir(t), "--disk-archive", "on", "--pool-size", "0")
	var ctr struct {
		ID string `json:"id"`
	}
	if st := srv.call(t, "POST", "/v1/containers", map[string]any{}, &ctr); st != http.StatusOK {
		t.Fatalf("create container: %d", st)
	}
	type execResult struct {
		ReturnCode int    `json:"return_code"`
		Stdout     string `json:"stdout"`
		Stderr     string `json:"stderr"`
	}
	exec := func(cmd string) execResult {
		t.Helper()
		var res execResult
		if st := srv.call(t, "POST", "/v1/containers/"+ctr.ID+"/exec", map[string]any{"command": cmd}, &res); st != http.StatusOK {
			t.Fatalf("exec %q = %d", cmd, st)
		}
		return res
	}
	dir := filepath.Join(data, "containers", ctr.ID)
	// stopArchived stops the container and waits for its archive of generation gen.
	stopArchived := func(gen string) {
		t.Helper()
		if st := srv.call(t, "POST", "/v1/containers/"+ctr.ID+"/stop", nil, nil); st != http.StatusOK {
			t.Fatalf("stop = %d", st)
		}
		for deadline := time.Now().Add(2 * time.Minute); ; time.Sleep(20 * time.Millisecond) {
			if b, _ := os.ReadFile(filepath.Join(dir, "disk.gen")); strings.TrimSpace(string(b)) == gen {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("no archive of generation %s", gen)
			}
		}
	}
	if res := exec("echo kept > w.txt && head -c 5000000 /dev/urandom > big.bin && md5sum big.bin > big.md5"); res.ReturnCode != 0 {
		t.Fatalf("writing files: %+v", res)
	}
	stopArchived("1")
	if err := os.Remove(filepath.Join(dir, "disk.img")); err != nil {
		t.Fatal(err)
	}
	if res := exec("cat w.txt && md5sum -c --quiet big.md5"); res.ReturnCode != 0 || res.Stdout != "kept\n" {
		t.Fatalf("after restoring the disk: %+v", res)
	}

	stopArchived("2")
	blob := filepath.Join(data, "disks", ctr.ID)
	good, err := os.ReadFile(blob)
	if err != nil {
		t.Fatal(err)
	}
	bad := append([]byte{}, good...)
	bad[len(bad)/2] ^= 1
	if err := os.WriteFile(blob, bad, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(filepath.Join(dir, "disk.img")); err != nil {
		t.Fatal(err)
	}
	var env struct {
		Type  string `json:"type"`
		Error struct {
			Type    string `json:"type"`
			Message string `json:"message"`
		} `json:"error"`
	}
	st := srv.call(t, "POST", "/v1/containers/"+ctr.ID+"/exec", map[string]any{"command": "true"}, &env)
	if st != http.StatusInternalServerError || env.Type != "error" || env.Error.Type != "api_error" ||
		!strings.Contains(env.Error.Message, "saved disk could not be restored") || strings.Contains(env.Error.Message, data) {
		t.Fatalf("exec with a damaged archive = %d %+v; want 500 api_error saying the saved disk could not be restored", st, env)
	}
	if st := srv.call(t, "GET", "/v1/containers/"+ctr.ID, nil, nil); st != http.StatusOK {
		t.Fatalf("the container after a failed restore: %d", st)
	}
	if err := os.WriteFile(blob, good, 0o600); err != nil {
		t.Fatal(err)
	}
	if res := exec("cat w.txt && md5sum -c --quiet big.md5"); res.ReturnCode != 0 || res.Stdout != "kept\n" {
		t.Fatalf("with the archive whole again: %+v", res)
	}
	if st := srv.call(t, "DELETE", "/v1/containers/"+ctr.ID, nil, nil); st != http.StatusOK {
		t.Fatalf("delete = %d", st)
	}
	if _, err := os.Stat(blob); !os.IsNotExist(err) {
		t.Errorf("archive after delete: %v", err)
	}
}
