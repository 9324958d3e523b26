package api

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"io"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/codebox-dev/codebox"
	"github.com/codebox-dev/codebox/errdefs"
	"github.com/codebox-dev/codebox/sandbox"
	"github.com/codebox-dev/codebox/tools"
)

var updateGolden = flag.Bool("update", false, "rewrite the golden files in testdata")

// fakeContainers is an in-memory ContainerManager with the workspace scoping and error
// semantics of the real one, for testing the wire layer alone.
type fakeContainers struct {
	now time.Time

	mu sync.Mutex
	// containers by id; files by container id then path relative to /workspace.
	containers map[string]*sandbox.Container
	files      map[string]map[string][]byte
	order      []string
	lastExec   sandbox.ExecRequest
	nextID     int
}

func newFakeContainers(now time.Time) *fakeContainers {
	return &fakeContainers{now: now, containers: map[string]*sandbox.Container{}, files: map[string]map[string][]byte{}}
}

func (f *fakeContainers) lookupLocked(ws codebox.WorkspaceID, id string) (*sandbox.Container, error) {
	c, ok := f.containers[id]
	if !ok || c.Workspace != ws {
		return nil, errdefs.New(errdefs.ErrNotFound, "", "container %s not found", id)
	}
	if c.Status == sandbox.StatusExpired {
		return nil, errdefs.New(errdefs.ErrInvalid, "container_expired", "container %s has expired", id)
	}
	return c, nil
}

func (f *fakeContainers) Create(ctx context.Context, ws codebox.WorkspaceID, opts sandbox.CreateOptions) (*sandbox.Container, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.nextID++
	id := "container_" + strings.Repeat("0", 23) + string(rune('a'+f.nextID-1))
	c := &sandbox.Container{ID: id, Workspace: ws, Name: opts.Name, Status: sandbox.StatusRunning,
		CreatedAt: f.now, LastActiveAt: f.now, IdleExpiresAt: f.now.Add(15 * time.Minute),
		ExpiresAt: f.now.Add(30 * 24 * time.Hour)}
	f.containers[id] = c
	f.files[id] = map[string][]byte{}
	for _, fid := range opts.FileIDs {
		f.files[id][fid+".txt"] = []byte("copied " + fid)
	}
	f.order = append(f.order, id)
	cp := *c
	return &cp, nil
}

func (f *fakeContainers) Get(ctx context.Context, ws codebox.WorkspaceID, id string) (*sandbox.Container, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	c, ok := f.containers[id]
	if !ok || c.Workspace != ws {
		return nil, errdefs.New(errdefs.ErrNotFound, "", "container %s not found", id)
	}
	cp := *c
	return &cp, nil
}

func (f *fakeContainers) List(ctx context.Context, ws codebox.WorkspaceID, opts sandbox.ListOptions) ([]*sandbox.Container, bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []*sandbox.Container
	started := opts.After == ""
	for i := len(f.order) - 1; i >= 0; i-- { // newest first
		c := f.containers[f.order[i]]
		if c == nil || c.Workspace != ws {
			continue
		}
		if !started {
			started = c.ID == opts.After
			continue
		}
		if len(out) == opts.Limit {
			return out, true, nil
		}
		cp := *c
		out = append(out, &cp)
	}
	return out, false, nil
}

func (f *fakeContainers) Delete(ctx context.Context, ws codebox.WorkspaceID, id string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	c, ok := f.containers[id]
	if !ok || c.Workspace != ws {
		return errdefs.New(errdefs.ErrNotFound, "", "container %s not found", id)
	}
	delete(f.containers, id)
	delete(f.files, id)
	return nil
}

func (f *fakeContainers) Stop(ctx context.Context, ws codebox.WorkspaceID, id string) (*sandbox.Container, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	c, ok := f.containers[id]
	if !ok || c.Workspace != ws {
		return nil, errdefs.New(errdefs.ErrNotFound, "", "container %s not found", id)
	}
	c.Status = sandbox.StatusStopped
	cp := *c
	return &cp, nil
}

func (f *fakeContainers) Exec(ctx context.Context, ws codebox.WorkspaceID, id string, req sandbox.ExecRequest) (*sandbox.ExecResult, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, err := f.lookupLocked(ws, id); err != nil {
		return nil, err
	}
	f.lastExec = req
	switch {
	case req.Command == "echo hi":
		return &sandbox.ExecResult{Stdout: "hi\n", Duration: 3 * time.Millisecond, Files: []sandbox.OutputFile{}}, nil
	case strings.HasPrefix(req.Command, "sleep"):
		return &sandbox.ExecResult{ExitCode: 137, TimedOut: true, Stderr: "killed", Duration: req.Timeout}, nil
	case req.Command == "plot":
		f.files[id]["out/plot.png"] = []byte("\x89PNG\r\n\x1a\n")
		return &sandbox.ExecResult{Duration: 70 * time.Millisecond, Files: []sandbox.OutputFile{
			{FileID: "file_011CNha8iCJcU1wXNR6q4V8w", Path: "out/plot.png", Size: 8, MimeType: "image/png"}},
			FilesError: &sandbox.OutputError{Code: "too_many_output_files", Message: "only the first 1 of 2 files were stored"}}, nil
	}
	return &sandbox.ExecResult{ExitCode: 127, Stderr: "bash: " + req.Command + ": command not found\n"}, nil
}

// ExecStream delivers "echo hi"'s output in two chunks, the second splitting a rune.
func (f *fakeContainers) ExecStream(ctx context.Context, ws codebox.WorkspaceID, id string, req sandbox.ExecRequest, out sandbox.OutputFunc) (*sandbox.ExecResult, error) {
	res, err := f.Exec(ctx, ws, id, req)
	if err != nil {
		return nil, err
	}
	if req.Command == "echo hi" {
		euro := []byte("€\n")
		out("stdout", []byte("hi\n"))
		out("stderr", euro[:2])
		out("stderr", euro[2:])
		res.Stderr = "€\n"
	}
	return res, nil
}

func (f *fakeContainers) RunPythonStream(ctx context.Context, ws codebox.WorkspaceID, id string, req sandbox.PythonRequest, out sandbox.OutputFunc) (*sandbox.ExecResult, error) {
	res, err := f.RunPython(ctx, ws, id, req)
	if err == nil {
		out("stdout", []byte(res.Stdout))
	}
	return res, err
}

func (f *fakeContainers) RunPython(ctx context.Context, ws codebox.WorkspaceID, id string, req sandbox.PythonRequest) (*sandbox.ExecResult, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, err := f.lookupLocked(ws, id); err != nil {
		return nil, err
	}
	if req.Code == "1+1" {
		return &sandbox.ExecResult{Stdout: "2\n", Duration: 2 * time.Millisecond}, nil
	}
	return &sandbox.ExecResult{}, nil
}

func (f *fakeContainers) ViewFile(ctx context.Context, ws codebox.WorkspaceID, id, p string, viewRange []int) (*sandbox.ViewResult, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, err := f.lookupLocked(ws, id); err != nil {
		return nil, err
	}
	b, ok := f.files[id][rel(p)]
	if !ok {
		return nil, errdefs.New(errdefs.ErrNotFound, "file_not_found", "%s: no such file", p)
	}
	lines := strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
	var sb strings.Builder
	for i, l := range lines {
		sb.WriteString(strings.Repeat(" ", 5) + string(rune('1'+i)) + "\t" + l + "\n")
	}
	return &sandbox.ViewResult{FileType: "text", Content: sb.String(), NumLines: len(lines), StartLine: 1, TotalLines: len(lines)}, nil
}

func (f *fakeContainers) CreateFile(ctx context.Context, ws codebox.WorkspaceID, id, p, text string) (bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, err := f.lookupLocked(ws, id); err != nil {
		return false, err
	}
	_, existed := f.files[id][rel(p)]
	f.files[id][rel(p)] = []byte(text)
	return existed, nil
}

func (f *fakeContainers) StrReplace(ctx context.Context, ws codebox.WorkspaceID, id, p, oldStr, newStr string) (*sandbox.ReplaceResult, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, err := f.lookupLocked(ws, id); err != nil {
		return nil, err
	}
	b, ok := f.files[id][rel(p)]
	if !ok {
		return nil, errdefs.New(errdefs.ErrNotFound, "file_not_found", "%s: no such file", p)
	}
	switch strings.Count(string(b), oldStr) {
	case 0:
		return nil, errdefs.New(errdefs.ErrInvalid, "string_not_found", "old_str was not found in %s", p)
	case 1:
	default:
		return nil, errdefs.New(errdefs.ErrInvalid, "string_not_unique", "old_str occurs more than once in %s", p)
	}
	f.files[id][rel(p)] = []byte(strings.Replace(string(b), oldStr, newStr, 1))
	return &sandbox.ReplaceResult{OldStart: 1, OldLines: 1, NewStart: 1, NewLines: 1, Lines: []string{"-" + oldStr, "+" + newStr}}, nil
}

func (f *fakeContainers) Upload(ctx context.Context, ws codebox.WorkspaceID, id, p string, r io.Reader) error {
	b, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, err := f.lookupLocked(ws, id); err != nil {
		return err
	}
	f.files[id][rel(p)] = b
	return nil
}

func (f *fakeContainers) ListFiles(ctx context.Context, ws codebox.WorkspaceID, id, dir string) ([]sandbox.FileInfo, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, err := f.lookupLocked(ws, id); err != nil {
		return nil, err
	}
	var out []sandbox.FileInfo
	for p, b := range f.files[id] {
		if d := rel(dir); d != "." && !strings.HasPrefix(p, d+"/") {
			continue
		}
		out = append(out, sandbox.FileInfo{Path: p, Size: int64(len(b)), ModTime: f.now})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Path < out[j].Path })
	return out, nil
}

func (f *fakeContainers) OpenFile(ctx context.Context, ws codebox.WorkspaceID, id, p string) (io.ReadCloser, sandbox.FileInfo, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, err := f.lookupLocked(ws, id); err != nil {
		return nil, sandbox.FileInfo{}, err
	}
	if rel(p) == "out" {
		return io.NopCloser(strings.NewReader("")), sandbox.FileInfo{Path: "out", IsDir: true}, nil
	}
	b, ok := f.files[id][rel(p)]
	if !ok {
		return nil, sandbox.FileInfo{}, errdefs.New(errdefs.ErrNotFound, "", "%s: no such file", p)
	}
	return io.NopCloser(bytes.NewReader(b)), sandbox.FileInfo{Path: rel(p), Size: int64(len(b)), ModTime: f.now}, nil
}

// fakeFileID is a fake container file's id: its path's, so that golden files hold.
func fakeFileID(p string) string {
	return sandbox.FileIDPrefix + strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' {
			return r
		}
		return '_'
	}, p)
}

func (f *fakeContainers) Files(ctx context.Context, ws codebox.WorkspaceID, id, dir string) ([]*sandbox.ContainerFile, error) {
	infos, err := f.ListFiles(ctx, ws, id, dir)
	if err != nil {
		return nil, err
	}
	out := make([]*sandbox.ContainerFile, 0, len(infos))
	for _, fi := range infos {
		out = append(out, &sandbox.ContainerFile{ID: fakeFileID(fi.Path), Workspace: ws, ContainerID: id, Path: "/workspace/" + fi.Path,
			Source: sandbox.FileSourceUser, CreatedAt: f.now, Size: fi.Size, ModTime: fi.ModTime})
	}
	return out, nil
}

func (f *fakeContainers) File(ctx context.Context, ws codebox.WorkspaceID, id, fileID string) (*sandbox.ContainerFile, error) {
	files, err := f.Files(ctx, ws, id, "")
	if err != nil {
		return nil, err
	}
	for _, cf := range files {
		if cf.ID == fileID {
			return cf, nil
		}
	}
	return nil, errdefs.New(errdefs.ErrNotFound, "", "container file %s not found", fileID)
}

func (f *fakeContainers) FileAt(ctx context.Context, ws codebox.WorkspaceID, id, p string) (*sandbox.ContainerFile, error) {
	return f.File(ctx, ws, id, fakeFileID(rel(p)))
}

func (f *fakeContainers) RemoveFile(ctx context.Context, ws codebox.WorkspaceID, id, fileID string) error {
	cf, err := f.File(ctx, ws, id, fileID)
	if err != nil {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	delete(f.files[id], rel(cf.Path))
	return nil
}

func rel(p string) string {
	return strings.TrimPrefix(path.Clean(strings.TrimPrefix(p, "/workspace")), "/")
}

type fakeStored struct{}

func (fakeStored) OpenInput(ctx context.Context, ws codebox.WorkspaceID, id string) (string, io.ReadCloser, error) {
	if ws != "ws1" || id != "file_011CNha8iCJcU1wXNR6q4V8w" {
		return "", nil, errdefs.New(errdefs.ErrNotFound, "", "File not found: %s", id)
	}
	return "data.csv", io.NopCloser(strings.NewReader("a,b\n1,2\n")), nil
}

type keyAuth map[string]codebox.WorkspaceID

func (k keyAuth) Authenticate(ctx context.Context, key string) (codebox.WorkspaceID, error) {
	if ws, ok := k[key]; ok {
		return ws, nil
	}
	return "", errdefs.New(errdefs.ErrUnauthenticated, "", "invalid x-api-key")
}

var testNow = time.Date(2026, 11, 20, 12, 0, 0, 0, time.UTC)

// newContainersServer serves the containers routes over loopback HTTP with key1 in ws1
// and key2 in ws2.
func newContainersServer(t *testing.T) (*httptest.Server, *fakeContainers) {
	t.Helper()
	fake := newFakeContainers(testNow)
	s := New(Config{Auth: keyAuth{"key1": "ws1", "key2": "ws2"},
		ContainersConfig: ContainersConfig{Containers: fake, StoredFiles: fakeStored{}, MaxUploadBytes: 1 << 20}})
	s.now = func() time.Time { return testNow }
	srv := httptest.NewServer(s)
	t.Cleanup(srv.Close)
	return srv, fake
}

type call struct {
	method, path, key, ctype string
	body                     io.Reader
}

func do(t *testing.T, srv *httptest.Server, c call) (int, http.Header, []byte) {
	t.Helper()
	req, err := http.NewRequest(c.method, srv.URL+c.path, c.body)
	if err != nil {
		t.Fatal(err)
	}
	if c.key == "" {
		c.key = "key1"
	}
	req.Header.Set("x-api-key", c.key)
	if c.ctype != "" {
		req.Header.Set("Content-Type", c.ctype)
	} else if c.body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, resp.Header, b
}

func jsonBody(s string) io.Reader { return strings.NewReader(s) }

var requestIDRe = regexp.MustCompile(`"request_id":"req_[0-9A-Za-z]+"`)

// golden compares the indented JSON body with testdata/containers/<name>.json.
func golden(t *testing.T, name string, body []byte) {
	t.Helper()
	var buf bytes.Buffer
	if err := json.Indent(&buf, requestIDRe.ReplaceAll(bytes.TrimSpace(body), []byte(`"request_id":"req_X"`)), "", "  "); err != nil {
		t.Fatalf("%s: body is not JSON: %v: %s", name, err, body)
	}
	buf.WriteByte('\n')
	file := filepath.Join("testdata", "containers", name+".json")
	if *updateGolden {
		if err := os.MkdirAll(filepath.Dir(file), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(file, buf.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(file)
	if err != nil {
		t.Fatalf("%v (run go test ./api -run Containers -update to create it)", err)
	}
	if got := buf.String(); got != string(want) {
		t.Errorf("%s: body =\n%s\nwant\n%s", name, got, want)
	}
}

func TestContainersGolden(t *testing.T) {
	srv, _ := newContainersServer(t)
	steps := []struct {
		name   string
		c      call
		status int
	}{
		{"create", call{method: "POST", path: "/v1/containers", body: jsonBody(`{"name":"analysis","file_ids":["file_011CNha8iCJcU1wXNR6q4V8w"]}`)}, 200},
		{"create_second", call{method: "POST", path: "/v1/containers", body: jsonBody(`{}`)}, 200},
		{"list", call{method: "GET", path: "/v1/containers"}, 200},
		{"list_page", call{method: "GET", path: "/v1/containers?limit=1"}, 200},
		{"list_after", call{method: "GET", path: "/v1/containers?limit=1&after=container_00000000000000000000000b"}, 200},
		{"get", call{method: "GET", path: "/v1/containers/container_00000000000000000000000a"}, 200},
		{"exec", call{method: "POST", path: "/v1/containers/container_00000000000000000000000a/exec", body: jsonBody(`{"command":"echo hi"}`)}, 200},
		{"exec_files", call{method: "POST", path: "/v1/containers/container_00000000000000000000000a/exec", body: jsonBody(`{"command":"plot"}`)}, 200},
		{"exec_timeout", call{method: "POST", path: "/v1/containers/container_00000000000000000000000a/exec", body: jsonBody(`{"command":"sleep 1000","timeout_ms":1500}`)}, 200},
		{"python", call{method: "POST", path: "/v1/containers/container_00000000000000000000000a/python", body: jsonBody(`{"code":"1+1"}`)}, 200},
		{"edit_create", call{method: "POST", path: "/v1/containers/container_00000000000000000000000a/edit", body: jsonBody(`{"command":"create","path":"/workspace/notes.txt","file_text":"hello\nworld\n"}`)}, 200},
		{"edit_view", call{method: "POST", path: "/v1/containers/container_00000000000000000000000a/edit", body: jsonBody(`{"command":"view","path":"notes.txt"}`)}, 200},
		{"edit_str_replace", call{method: "POST", path: "/v1/containers/container_00000000000000000000000a/edit", body: jsonBody(`{"command":"str_replace","path":"notes.txt","old_str":"world","new_str":"there"}`)}, 200},
		{"edit_not_found", call{method: "POST", path: "/v1/containers/container_00000000000000000000000a/edit", body: jsonBody(`{"command":"str_replace","path":"notes.txt","old_str":"absent"}`)}, 400},
		{"file_copy", call{method: "POST", path: "/v1/containers/container_00000000000000000000000a/files", body: jsonBody(`{"file_id":"file_011CNha8iCJcU1wXNR6q4V8w"}`)}, 200},
		{"files_list", call{method: "GET", path: "/v1/containers/container_00000000000000000000000a/files"}, 200},
		{"files_list_dir", call{method: "GET", path: "/v1/containers/container_00000000000000000000000a/files?path=out"}, 200},
		{"delete", call{method: "DELETE", path: "/v1/containers/container_00000000000000000000000b"}, 200},
		{"get_deleted", call{method: "GET", path: "/v1/containers/container_00000000000000000000000b"}, 404},
	}
	for _, st := range steps {
		status, _, body := do(t, srv, st.c)
		if status != st.status {
			t.Fatalf("%s: status = %d, want %d: %s", st.name, status, st.status, body)
		}
		golden(t, st.name, body)
	}
}

func TestContainerFileUploadDownload(t *testing.T) {
	srv, fake := newContainersServer(t)
	status, _, body := do(t, srv, call{method: "POST", path: "/v1/containers", body: jsonBody(`{}`)})
	if status != 200 {
		t.Fatalf("create: %d %s", status, body)
	}
	id := "container_00000000000000000000000a"

	upload := func(fields map[string]string, filename, content string) (int, []byte) {
		var buf bytes.Buffer
		mw := multipart.NewWriter(&buf)
		// The file part first, so that a path field after it must still be honoured.
		fw, _ := mw.CreateFormFile("file", filename)
		io.WriteString(fw, content)
		for k, v := range fields {
			mw.WriteField(k, v)
		}
		mw.Close()
		status, _, body := do(t, srv, call{method: "POST", path: "/v1/containers/" + id + "/files", ctype: mw.FormDataContentType(), body: &buf})
		return status, body
	}
	status, body = upload(nil, "report.csv", "x,y\n1,2\n")
	if status != 200 {
		t.Fatalf("upload: %d %s", status, body)
	}
	golden(t, "file_upload", body)
	status, body = upload(map[string]string{"path": "/workspace/data/in.txt"}, "ignored.txt", "hello")
	if status != 200 || !strings.Contains(string(body), `"path":"/workspace/data/in.txt"`) {
		t.Fatalf("upload with path: %d %s", status, body)
	}
	if got := string(fake.files[id]["data/in.txt"]); got != "hello" {
		t.Errorf("uploaded content = %q, want %q", got, "hello")
	}

	status, hdr, body := do(t, srv, call{method: "GET", path: "/v1/containers/" + id + "/files/content?path=report.csv"})
	if status != 200 || string(body) != "x,y\n1,2\n" {
		t.Fatalf("download: %d %q", status, body)
	}
	if ct := hdr.Get("Content-Type"); !strings.HasPrefix(ct, "text/csv") {
		t.Errorf("Content-Type = %q, want text/csv", ct)
	}
	if cd := hdr.Get("Content-Disposition"); cd != `attachment; filename=report.csv` {
		t.Errorf("Content-Disposition = %q", cd)
	}

	for _, tc := range []struct {
		name   string
		status int
		code   string
		run    func() (int, []byte)
	}{
		{"traversal upload path", 400, "", func() (int, []byte) {
			return upload(map[string]string{"path": "../../etc/passwd"}, "x", "pwned")
		}},
		{"traversal filename", 400, "", func() (int, []byte) { return upload(nil, "..", "pwned") }},
		{"traversal download", 400, "", func() (int, []byte) {
			s, _, b := do(t, srv, call{method: "GET", path: "/v1/containers/" + id + "/files/content?path=../../etc/passwd"})
			return s, b
		}},
		{"traversal list", 400, "", func() (int, []byte) {
			s, _, b := do(t, srv, call{method: "GET", path: "/v1/containers/" + id + "/files?path=/workspace/../../"})
			return s, b
		}},
		{"download missing path", 400, "", func() (int, []byte) {
			s, _, b := do(t, srv, call{method: "GET", path: "/v1/containers/" + id + "/files/content"})
			return s, b
		}},
		{"download unknown", 404, "", func() (int, []byte) {
			s, _, b := do(t, srv, call{method: "GET", path: "/v1/containers/" + id + "/files/content?path=nope"})
			return s, b
		}},
		{"download directory", 400, "", func() (int, []byte) {
			s, _, b := do(t, srv, call{method: "GET", path: "/v1/containers/" + id + "/files/content?path=out"})
			return s, b
		}},
		{"download other workspace", 404, "", func() (int, []byte) {
			s, _, b := do(t, srv, call{method: "GET", key: "key2", path: "/v1/containers/" + id + "/files/content?path=report.csv"})
			return s, b
		}},
		{"copy other workspace file", 404, "", func() (int, []byte) {
			s, _, b := do(t, srv, call{method: "POST", path: "/v1/containers/" + id + "/files", body: jsonBody(`{"file_id":"file_unknown"}`)})
			return s, b
		}},
		{"no file part", 400, "", func() (int, []byte) {
			var buf bytes.Buffer
			mw := multipart.NewWriter(&buf)
			mw.WriteField("path", "a.txt")
			mw.Close()
			s, _, b := do(t, srv, call{method: "POST", path: "/v1/containers/" + id + "/files", ctype: mw.FormDataContentType(), body: &buf})
			return s, b
		}},
		{"too large", 413, "", func() (int, []byte) { return upload(nil, "big.bin", strings.Repeat("x", 2<<20)) }},
		{"bad content type", 400, "", func() (int, []byte) {
			s, _, b := do(t, srv, call{method: "POST", path: "/v1/containers/" + id + "/files", ctype: "text/plain", body: jsonBody("hi")})
			return s, b
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			status, body := tc.run()
			if status != tc.status {
				t.Fatalf("status = %d, want %d: %s", status, tc.status, body)
			}
			if strings.Contains(string(body), "root:x:0:0") {
				t.Fatalf("host content leaked: %s", body)
			}
			var env errorBody
			if err := json.Unmarshal(body, &env); err != nil || env.Type != "error" || env.RequestID == "" {
				t.Fatalf("not an error envelope: %s", body)
			}
		})
	}
}

func TestContainersErrors(t *testing.T) {
	srv, fake := newContainersServer(t)
	do(t, srv, call{method: "POST", path: "/v1/containers", body: jsonBody(`{}`)})
	id := "container_00000000000000000000000a"
	other := "/v1/containers/" + id

	for _, tc := range []struct {
		name   string
		c      call
		status int
		typ    string
		code   string
	}{
		{"no key", call{method: "GET", path: "/v1/containers", key: "bad"}, 401, "authentication_error", ""},
		{"malformed id", call{method: "GET", path: "/v1/containers/container_..%2F..%2Fetc"}, 400, "invalid_request_error", ""},
		{"wrong prefix", call{method: "GET", path: "/v1/containers/file_abc"}, 400, "invalid_request_error", ""},
		{"unknown id", call{method: "GET", path: "/v1/containers/container_unknown"}, 404, "not_found_error", ""},
		{"other workspace get", call{method: "GET", path: other, key: "key2"}, 404, "not_found_error", ""},
		{"other workspace delete", call{method: "DELETE", path: other, key: "key2"}, 404, "not_found_error", ""},
		{"other workspace exec", call{method: "POST", path: other + "/exec", key: "key2", body: jsonBody(`{"command":"echo hi"}`)}, 404, "not_found_error", ""},
		{"other workspace python", call{method: "POST", path: other + "/python", key: "key2", body: jsonBody(`{"code":"1"}`)}, 404, "not_found_error", ""},
		{"other workspace edit", call{method: "POST", path: other + "/edit", key: "key2", body: jsonBody(`{"command":"view","path":"a"}`)}, 404, "not_found_error", ""},
		{"other workspace list files", call{method: "GET", path: other + "/files", key: "key2"}, 404, "not_found_error", ""},
		{"missing command", call{method: "POST", path: other + "/exec", body: jsonBody(`{}`)}, 400, "invalid_request_error", "invalid_tool_input"},
		{"blank command", call{method: "POST", path: other + "/exec", body: jsonBody(`{"command":"  "}`)}, 400, "invalid_request_error", "invalid_tool_input"},
		{"bad json", call{method: "POST", path: other + "/exec", body: jsonBody(`{"command":`)}, 400, "invalid_request_error", ""},
		{"negative timeout", call{method: "POST", path: other + "/exec", body: jsonBody(`{"command":"echo hi","timeout_ms":-1}`)}, 400, "invalid_request_error", ""},
		{"missing code", call{method: "POST", path: other + "/python", body: jsonBody(`{}`)}, 400, "invalid_request_error", "invalid_tool_input"},
		{"empty code", call{method: "POST", path: other + "/python", body: jsonBody(`{"code":""}`)}, 400, "invalid_request_error", "invalid_tool_input"},
		{"edit bad command", call{method: "POST", path: other + "/edit", body: jsonBody(`{"command":"delete","path":"a"}`)}, 400, "invalid_request_error", ""},
		{"edit missing path", call{method: "POST", path: other + "/edit", body: jsonBody(`{"command":"view"}`)}, 400, "invalid_request_error", ""},
		{"edit traversal", call{method: "POST", path: other + "/edit", body: jsonBody(`{"command":"view","path":"../../etc/passwd"}`)}, 400, "invalid_request_error", ""},
		{"edit bad range", call{method: "POST", path: other + "/edit", body: jsonBody(`{"command":"view","path":"a","view_range":[3,1]}`)}, 400, "invalid_request_error", ""},
		{"edit create without text", call{method: "POST", path: other + "/edit", body: jsonBody(`{"command":"create","path":"a"}`)}, 400, "invalid_request_error", ""},
		{"edit view missing file", call{method: "POST", path: other + "/edit", body: jsonBody(`{"command":"view","path":"nope.txt"}`)}, 404, "not_found_error", "file_not_found"},
		{"create bad file id", call{method: "POST", path: "/v1/containers", body: jsonBody(`{"file_ids":["../x"]}`)}, 400, "invalid_request_error", ""},
		{"create expires_after anchor", call{method: "POST", path: "/v1/containers", body: jsonBody(`{"expires_after":{"anchor":"created_at","minutes":20}}`)}, 400, "invalid_request_error", ""},
		{"create expires_after minutes", call{method: "POST", path: "/v1/containers", body: jsonBody(`{"expires_after":{"anchor":"last_active_at","minutes":0}}`)}, 400, "invalid_request_error", ""},
		{"create memory_limit", call{method: "POST", path: "/v1/containers", body: jsonBody(`{"memory_limit":"2g"}`)}, 400, "invalid_request_error", ""},
		{"list bad order", call{method: "GET", path: "/v1/containers?order=up"}, 400, "invalid_request_error", ""},
		{"list bad limit", call{method: "GET", path: "/v1/containers?limit=0"}, 400, "invalid_request_error", ""},
		{"list bad after", call{method: "GET", path: "/v1/containers?after=x/y"}, 400, "invalid_request_error", ""},
		{"method not allowed", call{method: "PUT", path: other}, 405, "invalid_request_error", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			status, _, body := do(t, srv, tc.c)
			if status != tc.status {
				t.Fatalf("status = %d, want %d: %s", status, tc.status, body)
			}
			var env errorBody
			if err := json.Unmarshal(body, &env); err != nil {
				t.Fatalf("body is not an error envelope: %s", body)
			}
			if env.Error.Type != tc.typ {
				t.Errorf("error.type = %q, want %q", env.Error.Type, tc.typ)
			}
			if tc.code != "" && (env.Error.Details == nil || env.Error.Details.ErrorCode != tc.code) {
				t.Errorf("error.details = %+v, want code %q", env.Error.Details, tc.code)
			}
		})
	}

	// The workspace-scoped 404 must be byte-for-byte the unknown-id 404 apart from the id
	// and the request id, so that ids cannot be probed across workspaces.
	_, _, foreign := do(t, srv, call{method: "GET", path: other, key: "key2"})
	_, _, unknown := do(t, srv, call{method: "GET", path: "/v1/containers/container_00000000000000000000000z"})
	norm := func(b []byte) string {
		s := requestIDRe.ReplaceAllString(string(b), "")
		return regexp.MustCompile(`container_[0-9A-Za-z]+`).ReplaceAllString(s, "ID")
	}
	if norm(foreign) != norm(unknown) {
		t.Errorf("foreign 404 = %s, unknown 404 = %s", foreign, unknown)
	}

	// Expired containers answer 400 container_expired on use.
	fake.mu.Lock()
	fake.containers[id].Status = sandbox.StatusExpired
	fake.mu.Unlock()
	status, _, body := do(t, srv, call{method: "POST", path: other + "/exec", body: jsonBody(`{"command":"echo hi"}`)})
	if status != 400 || !strings.Contains(string(body), `"error_code":"container_expired"`) {
		t.Errorf("exec on expired: %d %s", status, body)
	}

	// timeout_ms reaches the sandbox as a duration.
	fake.mu.Lock()
	fake.containers[id].Status = sandbox.StatusRunning
	fake.mu.Unlock()
	do(t, srv, call{method: "POST", path: other + "/exec", body: jsonBody(`{"command":"echo hi","timeout_ms":2500}`)})
	if fake.lastExec.Timeout != 2500*time.Millisecond {
		t.Errorf("Timeout = %v, want 2.5s", fake.lastExec.Timeout)
	}
}

// exec and python take a seat of the same limiter as the Messages API's code execution,
// and run with its runner's timeout when the request names none.
func TestContainersRunThroughTheRunner(t *testing.T) {
	fake := newFakeContainers(testNow)
	lim := &tools.Limiter{PerWorkspace: 1, Global: 2, Queue: 2, Wait: time.Millisecond}
	runner := &tools.Runner{Limiter: lim, Timeout: 7 * time.Second}
	srv := httptest.NewServer(New(Config{Auth: keyAuth{"key1": "ws1"},
		ContainersConfig: ContainersConfig{Containers: fake, Runner: runner}}))
	t.Cleanup(srv.Close)
	_, _, body := do(t, srv, call{method: "POST", path: "/v1/containers", body: jsonBody(`{}`)})
	var c struct{ ID string }
	if err := json.Unmarshal(body, &c); err != nil || c.ID == "" {
		t.Fatalf("create: %s", body)
	}
	if status, _, body := do(t, srv, call{method: "POST", path: "/v1/containers/" + c.ID + "/exec", body: jsonBody(`{"command":"echo hi"}`)}); status != 200 {
		t.Fatalf("exec: %d %s", status, body)
	}
	if fake.lastExec.Timeout != 7*time.Second {
		t.Errorf("Timeout = %v, want the runner's 7s", fake.lastExec.Timeout)
	}
	_, release, err := lim.Acquire(context.Background(), "ws1")
	if err != nil {
		t.Fatal(err)
	}
	defer release()
	for _, route := range []string{"exec", "python"} {
		status, hdr, body := do(t, srv, call{method: "POST", path: "/v1/containers/" + c.ID + "/" + route, body: jsonBody(`{"command":"echo hi","code":"1"}`)})
		if status != 429 || hdr.Get("Retry-After") == "" {
			t.Errorf("%s with the workspace's seat taken: %d retry-after %q %s, want 429 with retry-after", route, status, hdr.Get("Retry-After"), body)
		}
	}
}

func TestContainersRoutesAbsentWithoutManager(t *testing.T) {
	srv := httptest.NewServer(New(Config{Auth: keyAuth{"key1": "ws1"}}))
	defer srv.Close()
	status, _, _ := do(t, srv, call{method: "GET", path: "/v1/containers"})
	if status != 404 {
		t.Errorf("status = %d, want 404", status)
	}
}

func TestContainersExecStream(t *testing.T) {
	srv, _ := newContainersServer(t)
	do(t, srv, call{method: "POST", path: "/v1/containers", body: jsonBody(`{}`)})
	base := "/v1/containers/container_00000000000000000000000a"

	status, hdr, body := do(t, srv, call{method: "POST", path: base + "/exec", body: jsonBody(`{"command":"echo hi","stream":true}`)})
	if status != 200 || !strings.HasPrefix(hdr.Get("Content-Type"), "text/event-stream") {
		t.Fatalf("stream: %d %s %s", status, hdr.Get("Content-Type"), body)
	}
	want := "event: output\ndata: {\"type\":\"output\",\"stream\":\"stdout\",\"text\":\"hi\\n\"}\n\n" +
		"event: output\ndata: {\"type\":\"output\",\"stream\":\"stderr\",\"text\":\"€\\n\"}\n\n" +
		"event: result\ndata: {\"object\":\"container.exec_result\",\"stdout\":\"hi\\n\",\"stderr\":\"€\\n\",\"return_code\":0,\"timed_out\":false,\"oom_killed\":false,\"truncated\":false,\"duration_ms\":3,\"files\":[]}\n\n"
	if string(body) != want {
		t.Errorf("stream body =\n%s\nwant\n%s", body, want)
	}

	// Accept: text/event-stream asks for the same.
	req, _ := http.NewRequest("POST", srv.URL+base+"/python", jsonBody(`{"code":"1+1"}`))
	req.Header.Set("x-api-key", "key1")
	req.Header.Set("Accept", "text/event-stream")
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(b), "event: output\n") || !strings.Contains(string(b), "event: result\n") {
		t.Errorf("python stream = %s", b)
	}

	// An error before any output is an ordinary error response.
	status, hdr, body = do(t, srv, call{method: "POST", path: base + "/exec", key: "key2", body: jsonBody(`{"command":"echo hi","stream":true}`)})
	if status != 404 || !strings.HasPrefix(hdr.Get("Content-Type"), "application/json") {
		t.Errorf("stream on a foreign container: %d %s %s", status, hdr.Get("Content-Type"), body)
	}
}

func TestCompleteUTF8(t *testing.T) {
	euro := []byte("a€")
	for i := 0; i <= len(euro); i++ {
		want := i
		if i == 2 || i == 3 {
			want = 1
		}
		if got := completeUTF8(euro[:i]); got != want {
			t.Errorf("completeUTF8(%q) = %d, want %d", euro[:i], got, want)
		}
	}
}
