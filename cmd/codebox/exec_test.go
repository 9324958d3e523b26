package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// execStub answers the four containers routes codebox exec uses, recording uploads.
type execStub struct {
	mu      sync.Mutex
	uploads map[string]string // filename → content
	command string
	created int
}

func (s *execStub) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if r.Header.Get("x-api-key") != "k" {
		w.WriteHeader(401)
		io.WriteString(w, `{"type":"error","error":{"type":"authentication_error","message":"invalid x-api-key"}}`)
		return
	}
	switch {
	case r.Method == "POST" && r.URL.Path == "/v1/containers":
		s.created++
		io.WriteString(w, `{"id":"container_new","object":"container"}`)
	case r.Method == "POST" && r.URL.Path == "/v1/containers/container_new/files":
		f, hdr, err := r.FormFile("file")
		if err != nil {
			w.WriteHeader(400)
			return
		}
		b, _ := io.ReadAll(f)
		s.uploads[hdr.Filename] = string(b)
		io.WriteString(w, `{"object":"container.file"}`)
	case r.Method == "POST" && r.URL.Path == "/v1/containers/container_new/exec":
		var req struct {
			Command string `json:"command"`
		}
		json.NewDecoder(r.Body).Decode(&req)
		s.command = req.Command
		io.WriteString(w, `{"stdout":"out\n","stderr":"err\n","return_code":3,"timed_out":false,
			"files":[{"file_id":"file_1","path":"/workspace/plots/a.png","bytes":4},{"file_id":"file_2","path":"/tmp/../etc/x","bytes":1}]}`)
	case r.Method == "GET" && r.URL.Path == "/v1/containers/container_new/files/content":
		io.WriteString(w, "data:"+r.URL.Query().Get("path"))
	case r.URL.Path == "/v1/containers/container_sse/exec":
		w.Header().Set("Content-Type", "text/event-stream")
		io.WriteString(w, "event: output\ndata: {\"type\":\"output\",\"stream\":\"stdout\",\"text\":\"one\\n\"}\n\n"+
			"event: output\ndata: {\"type\":\"output\",\"stream\":\"stderr\",\"text\":\"two\\n\"}\n\n"+
			"event: result\ndata: {\"stdout\":\"one\\n\",\"stderr\":\"two\\n\",\"return_code\":5,\"files\":[]}\n\n")
	case r.URL.Path == "/v1/containers/container_sse_err/exec":
		w.Header().Set("Content-Type", "text/event-stream")
		io.WriteString(w, "event: output\ndata: {\"type\":\"output\",\"stream\":\"stdout\",\"text\":\"one\\n\"}\n\n"+
			"event: error\ndata: {\"type\":\"error\",\"error\":{\"type\":\"overloaded_error\",\"message\":\"runtime gone\"}}\n\n")
	case r.URL.Path == "/v1/containers/container_gone/exec":
		w.WriteHeader(404)
		io.WriteString(w, `{"type":"error","error":{"type":"not_found_error","message":"container container_gone not found"}}`)
	default:
		w.WriteHeader(404)
	}
}

func TestRunExec(t *testing.T) {
	stub := &execStub{uploads: map[string]string{}}
	srv := httptest.NewServer(stub)
	defer srv.Close()
	dir := t.TempDir()
	in := filepath.Join(dir, "input.csv")
	os.WriteFile(in, []byte("a,b\n"), 0o644)
	t.Chdir(dir)

	var stdout, stderr bytes.Buffer
	o := &execOptions{baseURL: srv.URL + "/", apiKey: "k", files: []string{in}}
	code, err := runExec(context.Background(), o, []string{"python3", "-c", "print('it''s')"}, &stdout, &stderr)
	if err != nil {
		t.Fatal(err)
	}
	if code != 3 {
		t.Errorf("exit code = %d, want 3", code)
	}
	if stdout.String() != "out\n" || !strings.Contains(stderr.String(), "err\n") || !strings.Contains(stderr.String(), "container: container_new") {
		t.Errorf("stdout = %q, stderr = %q", stdout.String(), stderr.String())
	}
	if stub.uploads["input.csv"] != "a,b\n" {
		t.Errorf("uploads = %v", stub.uploads)
	}
	if want := `python3 -c 'print('\''it'\'''\''s'\'')'`; stub.command != want {
		t.Errorf("command = %s, want %s", stub.command, want)
	}
	if b, err := os.ReadFile(filepath.Join(dir, "plots", "a.png")); err != nil || string(b) != "data:/workspace/plots/a.png" {
		t.Errorf("downloaded plots/a.png = %q, %v", b, err)
	}
	// A path outside the working directory lands under its base name, never outside.
	if _, err := os.Stat(filepath.Join(dir, "x")); err != nil {
		t.Errorf("file outside /workspace not saved by base name: %v", err)
	}

	o = &execOptions{baseURL: srv.URL, apiKey: "k", container: "container_gone"}
	if _, err := runExec(context.Background(), o, []string{"true"}, io.Discard, io.Discard); err == nil ||
		!strings.Contains(err.Error(), "container container_gone not found") {
		t.Errorf("unknown container: err = %v", err)
	}
	o = &execOptions{baseURL: srv.URL, apiKey: "bad"}
	if _, err := runExec(context.Background(), o, []string{"true"}, io.Discard, io.Discard); err == nil ||
		!strings.Contains(err.Error(), "invalid x-api-key") {
		t.Errorf("bad key: err = %v", err)
	}
}

func TestShellCommand(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"ls -l | wc -l"}, "ls -l | wc -l"},
		{[]string{"echo", "a b", "c"}, "echo 'a b' c"},
		{[]string{"printf", "%s\n", ""}, `printf '%s` + "\n" + `' ''`},
	} {
		if got := shellCommand(tc.args); got != tc.want {
			t.Errorf("shellCommand(%q) = %q, want %q", tc.args, got, tc.want)
		}
	}
}

func TestRunExecStream(t *testing.T) {
	srv := httptest.NewServer(&execStub{uploads: map[string]string{}})
	defer srv.Close()
	var stdout, stderr bytes.Buffer
	o := &execOptions{baseURL: srv.URL, apiKey: "k", container: "container_sse"}
	code, err := runExec(context.Background(), o, []string{"x"}, &stdout, &stderr)
	if err != nil || code != 5 {
		t.Fatalf("runExec = %d, %v", code, err)
	}
	if stdout.String() != "one\n" || stderr.String() != "container: container_sse\ntwo\n" {
		t.Errorf("stdout = %q, stderr = %q (each output once, as streamed)", stdout.String(), stderr.String())
	}
	o.container = "container_sse_err"
	if _, err := runExec(context.Background(), o, []string{"x"}, io.Discard, io.Discard); err == nil || !strings.Contains(err.Error(), "runtime gone") {
		t.Errorf("error event: err = %v", err)
	}
}
