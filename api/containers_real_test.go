package api

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/codebox-dev/codebox/ids"
	"github.com/codebox-dev/codebox/sandbox"
	"github.com/codebox-dev/codebox/sandbox/sandboxtest"
)

// TestMain lets the test binary double as the in-container agent for the tests that
// run real containers.
func TestMain(m *testing.M) {
	sandboxtest.AgentMain()
	os.Exit(m.Run())
}

// realServer serves the containers API over loopback HTTP with a real Manager on
// runtime, key1 in ws1 and key2 in ws2. It skips without root, the runtime or an image.
func realServer(t *testing.T, runtime string, configure func(*sandbox.Config)) (*httptest.Server, *sandboxtest.Env) {
	t.Helper()
	env := sandboxtest.NewWithRuntime(t, runtime, configure)
	s := New(Config{Auth: keyAuth{"key1": "ws1", "key2": "ws2"},
		ContainersConfig: ContainersConfig{Containers: env.Manager, StoredFiles: env.Files}})
	srv := httptest.NewServer(s)
	t.Cleanup(srv.Close)
	return srv, env
}

func decode[T any](t *testing.T, body []byte) T {
	t.Helper()
	var v T
	if err := json.Unmarshal(body, &v); err != nil {
		t.Fatalf("decoding %s: %v", body, err)
	}
	return v
}

func mustDo(t *testing.T, srv *httptest.Server, c call, want int) []byte {
	t.Helper()
	status, _, body := do(t, srv, c)
	if status != want {
		t.Fatalf("%s %s: status = %d, want %d: %s", c.method, c.path, status, want, body)
	}
	return body
}

func multipartUpload(t *testing.T, filename, content, dest string) (io.Reader, string) {
	t.Helper()
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	fw, err := mw.CreateFormFile("file", filename)
	if err != nil {
		t.Fatal(err)
	}
	io.WriteString(fw, content)
	if dest != "" {
		mw.WriteField("path", dest)
	}
	mw.Close()
	return &buf, mw.FormDataContentType()
}

func TestContainersAPIRealRuntime(t *testing.T) {
	sandboxtest.ForEachRuntime(t, testContainersAPIReal)
}

func testContainersAPIReal(t *testing.T, runtime string) {
	srv, env := realServer(t, runtime, nil)

	// Create, with a Files API file copied in.
	fid := env.Files.Add("ws1", "sales.csv", []byte("region,sales\nnorth,10\nsouth,25\nnorth,5\n"))
	c := decode[containerJSON](t, mustDo(t, srv, call{method: "POST", path: "/v1/containers",
		body: jsonBody(`{"name":"real","file_ids":["` + fid + `"]}`)}, 200))
	if !ids.Valid(sandbox.IDPrefix, c.ID) || c.Object != "container" || c.Name != "real" || c.Status != "running" {
		t.Fatalf("created = %+v", c)
	}
	if c.CreatedAt == 0 || c.ExpiresAt <= c.CreatedAt || c.IdleExpiresAt <= c.CreatedAt {
		t.Errorf("times = %+v", c)
	}
	base := "/v1/containers/" + c.ID

	got := decode[containerJSON](t, mustDo(t, srv, call{method: "GET", path: base}, 200))
	if got.ID != c.ID || got.Name != "real" {
		t.Errorf("get = %+v", got)
	}
	list := decode[containerListJSON](t, mustDo(t, srv, call{method: "GET", path: "/v1/containers"}, 200))
	if len(list.Data) != 1 || list.Data[0].ID != c.ID || list.HasMore {
		t.Errorf("list = %+v", list)
	}
	if list := decode[containerListJSON](t, mustDo(t, srv, call{method: "GET", path: "/v1/containers", key: "key2"}, 200)); len(list.Data) != 0 {
		t.Errorf("ws2 sees %d containers, want 0", len(list.Data))
	}

	// Exec: the uploaded file is in the working directory; a generated file comes back.
	res := decode[execResultJSON](t, mustDo(t, srv, call{method: "POST", path: base + "/exec",
		body: jsonBody(`{"command":"pwd; cat sales.csv | wc -l; echo out > result.txt; echo err >&2; exit 3"}`)}, 200))
	if res.Stdout != "/workspace\n4\n" || res.Stderr != "err\n" || res.ReturnCode != 3 || res.TimedOut {
		t.Errorf("exec = %+v", res)
	}
	if len(res.Files) != 1 || res.Files[0].Path != "/workspace/result.txt" || !strings.HasPrefix(res.Files[0].FileID, "file_") || res.Files[0].Bytes != 4 {
		t.Errorf("exec files = %+v, want result.txt", res.Files)
	}

	// Stop: the container stops now, its files stay, and its next use starts it again.
	stopped := decode[containerJSON](t, mustDo(t, srv, call{method: "POST", path: base + "/stop"}, 200))
	if stopped.ID != c.ID || stopped.Status != "stopped" {
		t.Errorf("stopped = %+v", stopped)
	}
	if got := decode[containerJSON](t, mustDo(t, srv, call{method: "GET", path: base}, 200)); got.Status != "stopped" {
		t.Errorf("after stop, status = %q", got.Status)
	}
	mustDo(t, srv, call{method: "POST", path: base + "/stop", key: "key2"}, 404)
	if res := decode[execResultJSON](t, mustDo(t, srv, call{method: "POST", path: base + "/exec",
		body: jsonBody(`{"command":"cat result.txt"}`)}, 200)); res.Stdout != "out\n" {
		t.Errorf("exec after stop = %+v", res)
	}

	// Streaming: output events, then the result.
	status, hdr, sbody := do(t, srv, call{method: "POST", path: base + "/exec",
		body: jsonBody(`{"command":"echo one; sleep 0.2; echo two >&2","stream":true}`)})
	if status != 200 || !strings.HasPrefix(hdr.Get("Content-Type"), "text/event-stream") ||
		!strings.Contains(string(sbody), `"stream":"stdout","text":"one\n"`) ||
		!strings.Contains(string(sbody), `"stream":"stderr","text":"two\n"`) ||
		!strings.Contains(string(sbody), "event: result\ndata: {\"object\":\"container.exec_result\",\"stdout\":\"one\\n\"") {
		t.Errorf("stream: %d %s", status, sbody)
	}

	// Commands the kernel cannot pass to bash are the client's error: a 400 that says
	// why, never a retryable 529.
	for _, bad := range []string{`"echo a\u0000b"`, `"echo ` + strings.Repeat("x", 200<<10) + `"`} {
		status, _, body := do(t, srv, call{method: "POST", path: base + "/exec", body: jsonBody(`{"command":` + bad + `}`)})
		if status != 400 || !strings.Contains(string(body), `"invalid_request_error"`) || !strings.Contains(string(body), "the command") {
			t.Errorf("exec of a bad command (%d bytes): %d %.300s", len(bad), status, body)
		}
	}

	// Python: REPL state persists between calls.
	mustDo(t, srv, call{method: "POST", path: base + "/python", body: jsonBody(`{"code":"x = 41"}`)}, 200)
	res = decode[execResultJSON](t, mustDo(t, srv, call{method: "POST", path: base + "/python", body: jsonBody(`{"code":"print(x + 1)"}`)}, 200))
	if res.Stdout != "42\n" || res.ReturnCode != 0 {
		t.Errorf("python = %+v, want 42", res)
	}

	// Timeout.
	res = decode[execResultJSON](t, mustDo(t, srv, call{method: "POST", path: base + "/exec",
		body: jsonBody(`{"command":"sleep 30","timeout_ms":500}`)}, 200))
	if !res.TimedOut {
		t.Errorf("sleep 30 with 500 ms limit = %+v, want timed_out", res)
	}

	// Editor.
	cr := decode[createResultJSON](t, mustDo(t, srv, call{method: "POST", path: base + "/edit",
		body: jsonBody(`{"command":"create","path":"/workspace/notes.txt","file_text":"hello\nworld\n"}`)}, 200))
	if cr.Type != "text_editor_code_execution_create_result" || cr.IsFileUpdate {
		t.Errorf("create = %+v", cr)
	}
	rr := decode[replaceResultJSON](t, mustDo(t, srv, call{method: "POST", path: base + "/edit",
		body: jsonBody(`{"command":"str_replace","path":"notes.txt","old_str":"world","new_str":"there"}`)}, 200))
	if len(rr.Lines) == 0 {
		t.Errorf("str_replace = %+v", rr)
	}
	vr := decode[viewResultJSON](t, mustDo(t, srv, call{method: "POST", path: base + "/edit",
		body: jsonBody(`{"command":"view","path":"notes.txt"}`)}, 200))
	if vr.FileType != "text" || !strings.Contains(vr.Content, "there") || vr.TotalLines != 2 {
		t.Errorf("view = %+v", vr)
	}
	status, _, body := do(t, srv, call{method: "POST", path: base + "/edit",
		body: jsonBody(`{"command":"str_replace","path":"notes.txt","old_str":"absent","new_str":"x"}`)})
	if status != 400 || !strings.Contains(string(body), "string_not_found") {
		t.Errorf("str_replace of a missing string: %d %s", status, body)
	}

	// Container files: upload, list, download.
	rd, ctype := multipartUpload(t, "upload.bin", "payload", "data/in.bin")
	up := decode[containerFileJSON](t, mustDo(t, srv, call{method: "POST", path: base + "/files", ctype: ctype, body: rd}, 200))
	if up.Path != "/workspace/data/in.bin" || up.Bytes != 7 {
		t.Errorf("upload = %+v", up)
	}
	res = decode[execResultJSON](t, mustDo(t, srv, call{method: "POST", path: base + "/exec", body: jsonBody(`{"command":"cat data/in.bin"}`)}, 200))
	if res.Stdout != "payload" {
		t.Errorf("uploaded file reads %q inside, want payload", res.Stdout)
	}
	files := decode[containerFileListJSON](t, mustDo(t, srv, call{method: "GET", path: base + "/files"}, 200))
	paths := map[string]bool{}
	for _, f := range files.Data {
		paths[f.Path] = true
	}
	for _, p := range []string{"/workspace/sales.csv", "/workspace/result.txt", "/workspace/notes.txt", "/workspace/data/in.bin"} {
		if !paths[p] {
			t.Errorf("file list lacks %s: %+v", p, files.Data)
		}
	}
	if b := mustDo(t, srv, call{method: "GET", path: base + "/files/content?path=/workspace/data/in.bin"}, 200); string(b) != "payload" {
		t.Errorf("download = %q", b)
	}
	mustDo(t, srv, call{method: "POST", path: base + "/files", body: jsonBody(`{"file_id":"` + fid + `","path":"copy.csv"}`)}, 200)
	if b := mustDo(t, srv, call{method: "GET", path: base + "/files/content?path=copy.csv"}, 200); !strings.HasPrefix(string(b), "region,sales") {
		t.Errorf("copied file = %q", b)
	}

	// Escapes: '..' is refused; symlinks made inside the container never reach host
	// files, whatever the endpoint.
	secret := fmt.Sprintf("host-secret-%d", time.Now().UnixNano())
	hostFile := filepath.Join(t.TempDir(), "secret.txt")
	if err := os.WriteFile(hostFile, []byte(secret), 0o644); err != nil {
		t.Fatal(err)
	}
	mustDo(t, srv, call{method: "POST", path: base + "/exec", body: jsonBody(
		`{"command":"ln -s ` + hostFile + ` leak; ln -s / rootlink; ln -s /etc/passwd pw; ln -s ../../../../../.. up"}`)}, 200)
	for _, p := range []string{"../../etc/passwd", "/workspace/../etc/passwd", "leak", "rootlink" + hostFile, "up" + hostFile,
		"/proc/self/root" + hostFile, "/proc/1/root/etc/passwd", "pw", "/etc/passwd", hostFile} {
		for _, c := range []call{
			{method: "GET", path: base + "/files/content?path=" + p},
			{method: "GET", path: base + "/files?path=" + p},
			{method: "POST", path: base + "/edit", body: jsonBody(`{"command":"view","path":"` + p + `"}`)},
		} {
			status, _, body := do(t, srv, c)
			if status == 200 && c.method == "GET" && strings.Contains(c.path, "/content") {
				t.Errorf("%s %s: 200 %q, want 400/404", c.method, c.path, truncate(string(body), 100))
			}
			// The editor works inside the container, where /etc/passwd is the image's
			// own; the files endpoints read the container's disk and must never show one.
			hostSide := c.method == "GET"
			if strings.Contains(string(body), secret) || hostSide && strings.Contains(string(body), "root:x:0:0") {
				t.Errorf("%s %s leaked host content: %s", c.method, c.path, truncate(string(body), 200))
			}
		}
	}
	rd, ctype = multipartUpload(t, "x", "pwned", "leak")
	do(t, srv, call{method: "POST", path: base + "/files", ctype: ctype, body: rd})
	if b, _ := os.ReadFile(hostFile); string(b) != secret {
		t.Errorf("upload through a symlink wrote the host file: %q", b)
	}
	do(t, srv, call{method: "POST", path: base + "/edit", body: jsonBody(`{"command":"create","path":"leak","file_text":"pwned"}`)})
	if b, _ := os.ReadFile(hostFile); string(b) != secret {
		t.Errorf("editor create through a symlink wrote the host file: %q", b)
	}

	// Another workspace: 404 on everything.
	for _, c := range []call{
		{method: "GET", path: base},
		{method: "POST", path: base + "/exec", body: jsonBody(`{"command":"echo hi"}`)},
		{method: "POST", path: base + "/python", body: jsonBody(`{"code":"1"}`)},
		{method: "POST", path: base + "/edit", body: jsonBody(`{"command":"view","path":"notes.txt"}`)},
		{method: "GET", path: base + "/files"},
		{method: "GET", path: base + "/files/content?path=notes.txt"},
		{method: "DELETE", path: base},
	} {
		c.key = "key2"
		if status, _, body := do(t, srv, c); status != 404 {
			t.Errorf("ws2 %s %s: %d %s, want 404", c.method, c.path, status, body)
		}
	}
	// The foreign 404 is the unknown-id 404, apart from the ids.
	_, _, foreign := do(t, srv, call{method: "GET", path: base, key: "key2"})
	_, _, unknown := do(t, srv, call{method: "GET", path: "/v1/containers/" + ids.New(sandbox.IDPrefix), key: "key2"})
	idRe := regexp.MustCompile(`(container|req)_[0-9A-Za-z]+`)
	if a, b := idRe.ReplaceAllString(string(foreign), "ID"), idRe.ReplaceAllString(string(unknown), "ID"); a != b {
		t.Errorf("foreign 404 %s differs from unknown 404 %s", foreign, unknown)
	}
	// ws2 cannot copy ws1's file into its own container either.
	c2 := decode[containerJSON](t, mustDo(t, srv, call{method: "POST", path: "/v1/containers", key: "key2", body: jsonBody(`{}`)}, 200))
	mustDo(t, srv, call{method: "POST", path: "/v1/containers/" + c2.ID + "/files", key: "key2", body: jsonBody(`{"file_id":"` + fid + `"}`)}, 404)
	mustDo(t, srv, call{method: "POST", path: "/v1/containers", key: "key2", body: jsonBody(`{"file_ids":["` + fid + `"]}`)}, 404)

	// Expired: past the hard expiry a container answers 400 container_expired.
	env.Clock.Advance(31 * 24 * time.Hour)
	status, _, body = do(t, srv, call{method: "POST", path: base + "/exec", body: jsonBody(`{"command":"echo hi"}`)})
	if status != 400 || !strings.Contains(string(body), `"error_code":"container_expired"`) {
		t.Errorf("exec on an expired container: %d %s, want 400 container_expired", status, body)
	}

	// Delete.
	del := decode[containerDeletedJSON](t, mustDo(t, srv, call{method: "DELETE", path: "/v1/containers/" + c2.ID, key: "key2"}, 200))
	if !del.Deleted || del.ID != c2.ID || del.Object != "container.deleted" {
		t.Errorf("delete = %+v", del)
	}
	mustDo(t, srv, call{method: "GET", path: "/v1/containers/" + c2.ID, key: "key2"}, 404)
}

// TestContainersIsolationRealRuntime checks the basics every runtime must give:
// no network, a read-only root, and a memory-limit kill that is reported while the
// container stays usable (under gVisor the whole sandbox dies and is restarted).
func TestContainersIsolationRealRuntime(t *testing.T) {
	for _, rt := range sandboxtest.Runtimes() {
		t.Run(rt, func(t *testing.T) {
			// A low process limit: under gVisor every process has a host-side stub,
			// so hundreds of forked Pythons would meet the memory limit first.
			srv, _ := realServer(t, rt, func(c *sandbox.Config) { c.Limits.PIDs = 64 })
			c := decode[containerJSON](t, mustDo(t, srv, call{method: "POST", path: "/v1/containers", body: jsonBody(`{}`)}, 200))
			base := "/v1/containers/" + c.ID
			exec := func(cmd string) execResultJSON {
				b, _ := json.Marshal(map[string]any{"command": cmd, "timeout_ms": 60000})
				return decode[execResultJSON](t, mustDo(t, srv, call{method: "POST", path: base + "/exec", body: bytes.NewReader(b)}, 200))
			}
			mustDo(t, srv, call{method: "POST", path: base + "/python", body: jsonBody(`{"code":"kept = 7"}`)}, 200)

			res := exec(`python3 -c '
import socket
for target in [("1.1.1.1", 80), ("8.8.8.8", 53)]:
    try:
        socket.create_connection(target, timeout=3); print("connected", target)
    except OSError as e:
        print("blocked", target)
try:
    socket.getaddrinfo("example.com", 80); print("resolved")
except OSError:
    print("no dns")
s = socket.socket(); s.bind(("127.0.0.1", 0)); s.listen(); print("loopback ok")
'`)
			if strings.Contains(res.Stdout, "connected") || strings.Contains(res.Stdout, "resolved") || !strings.Contains(res.Stdout, "loopback ok") {
				t.Errorf("network: %+v", res)
			}
			// /var/tmp is world-writable in the image, so only a read-only root stops it.
			res = exec("touch /var/tmp/x 2>&1; echo ok > /workspace/w && echo ok > /tmp/t && echo writable")
			if !strings.Contains(res.Stdout, "Read-only file system") || !strings.Contains(res.Stdout, "writable") {
				t.Errorf("filesystem: %+v", res)
			}
			res = exec("id -u; grep -E '^(CapEff|NoNewPrivs)' /proc/self/status")
			if !strings.HasPrefix(res.Stdout, "1000\n") || !strings.Contains(res.Stdout, "CapEff:\t0000000000000000") {
				t.Errorf("identity: %+v", res)
			}

			// The process limit holds a bounded fork loop:
			// cgroup pids under runc, RLIMIT_NPROC inside gVisor.
			res = exec(`python3 -c '
import os, time
n = 0
for i in range(600):
    try:
        pid = os.fork()
    except OSError:
        break
    if pid == 0:
        time.sleep(3); os._exit(0)
    n += 1
print("forked", n)
'`)
			var forked int
			fmt.Sscanf(res.Stdout, "forked %d", &forked)
			if forked == 0 || forked >= 600 {
				t.Errorf("fork loop: %+v, want it stopped below 600", res)
			}
			if r := exec("echo alive"); r.Stdout != "alive\n" {
				t.Errorf("after the fork loop: %+v", r)
			}

			// The test Manager's limit is 512 MiB.
			res = exec(`python3 -c 'b = bytearray(1 << 30); b[::4096] = b"x" * len(b[::4096]); print("survived")'`)
			if strings.Contains(res.Stdout, "survived") || res.ReturnCode == 0 {
				t.Errorf("1 GiB allocation under a 512 MiB limit: %+v", res)
			}
			if !res.OOMKilled {
				t.Errorf("memory kill not reported: %+v", res)
			}
			// The container remains usable; files survive (the REPL may not, under gVisor).
			res = exec("cat /workspace/w /tmp/t")
			if res.Stdout != "ok\nok\n" {
				t.Errorf("after the memory kill: %+v", res)
			}
			r := decode[execResultJSON](t, mustDo(t, srv, call{method: "POST", path: base + "/python", body: jsonBody(`{"code":"print(1+1)"}`)}, 200))
			if r.Stdout != "2\n" {
				t.Errorf("python after the memory kill: %+v", r)
			}
		})
	}
}

// Deleting a container while a download of one of its files is open cuts the download
// and removes the whole container, never a still-mounted disk.
func TestDeleteWhileDownloading(t *testing.T) {
	for _, rt := range sandboxtest.Runtimes() {
		t.Run(rt, func(t *testing.T) { testDeleteWhileDownloading(t, rt) })
	}
}

func testDeleteWhileDownloading(t *testing.T, runtime string) {
	srv, env := realServer(t, runtime, nil)
	c := decode[containerJSON](t, mustDo(t, srv, call{method: "POST", path: "/v1/containers", body: jsonBody(`{}`)}, 200))
	base := "/v1/containers/" + c.ID
	const size = 64 << 20
	mustDo(t, srv, call{method: "POST", path: base + "/exec",
		body: jsonBody(fmt.Sprintf(`{"command":"head -c %d /dev/urandom > big.bin"}`, size))}, 200)

	req, err := http.NewRequest("GET", srv.URL+base+"/files/content?path=big.bin", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("x-api-key", "key1")
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("download: status %d", resp.StatusCode)
	}
	// A slow reader: one megabyte, then nothing while the container is deleted.
	if _, err := io.CopyN(io.Discard, resp.Body, 1<<20); err != nil {
		t.Fatal(err)
	}

	mustDo(t, srv, call{method: "DELETE", path: base}, 200)
	mustDo(t, srv, call{method: "GET", path: base}, 404)
	mustDo(t, srv, call{method: "POST", path: base + "/exec", body: jsonBody(`{"command":"true"}`)}, 404)

	n, err := io.Copy(io.Discard, resp.Body)
	if err == nil && 1<<20+n == size {
		t.Errorf("the download of a deleted container's file ran to its end")
	}
	dir := filepath.Join(env.Config.Dir, c.ID)
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		entries, _ := os.ReadDir(dir)
		t.Errorf("container directory left behind (%v): %v", err, entries)
	}
	mounts, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(mounts), dir) {
		t.Errorf("a mount under %s is left", dir)
	}
	if all, _ := env.Store.AllContainers(t.Context()); len(all) != 0 {
		t.Errorf("store still holds %d containers", len(all))
	}
}
