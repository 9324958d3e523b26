package agent

import (
	"bytes"
	"os"
	"sync"
	"testing"
)

func TestResolve(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"a.txt", "/workspace/a.txt"},
		{"../etc/passwd", "/etc/passwd"},
		{"/tmp/../workspace/x", "/workspace/x"},
		{"/", "/"},
	} {
		got, err := resolve(tc.in)
		if err != nil || got != tc.want {
			t.Errorf("resolve(%q) = %q, %v, want %q", tc.in, got, err, tc.want)
		}
	}
	for _, bad := range []string{"", "a\x00b"} {
		if _, err := resolve(bad); err == nil {
			t.Errorf("resolve(%q) = nil error, want error", bad)
		}
	}
}

// TestSplitMarkers feeds the REPL stream splitter output in awkward pieces: a marker
// cut across reads and NUL bytes that are not markers.
func TestSplitMarkers(t *testing.T) {
	stream := []byte("hello\x00world\n")
	stream = append(stream, cellMarker...)
	stream = append(stream, "ok\nsecond"...)
	stream = append(stream, cellMarker...)
	stream = append(stream, "error\n"...)
	for _, chunk := range []int{1, 3, 7, len(stream)} {
		r, w, err := os.Pipe()
		if err != nil {
			t.Fatal(err)
		}
		var mu sync.Mutex
		var got bytes.Buffer
		p := &replProc{}
		p.c = &conn{}
		sink := &recordingCapture{buf: &got, mu: &mu}
		ends := make(chan string, 4)
		go func() {
			for i := 0; i < len(stream); i += chunk {
				w.Write(stream[i:min(i+chunk, len(stream))])
			}
			w.Close()
		}()
		p.splitTo(r, ends, sink.write)
		var statuses []string
		for s := range ends {
			statuses = append(statuses, s)
		}
		if want := "hello\x00world\nsecond"; got.String() != want {
			t.Errorf("chunk %d: output = %q, want %q", chunk, got.String(), want)
		}
		if len(statuses) != 2 || statuses[0] != "ok" || statuses[1] != "error" {
			t.Errorf("chunk %d: statuses = %q, want [ok error]", chunk, statuses)
		}
	}
}

type recordingCapture struct {
	mu  *sync.Mutex
	buf *bytes.Buffer
}

func (r *recordingCapture) write(b []byte) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.buf.Write(b)
}

func TestCaptureCaps(t *testing.T) {
	cp := &capture{stream: Stdout}
	c := &conn{enc: nil}
	c.err = os.ErrClosed // events are dropped; only the accounting is tested
	cp.write(c, make([]byte, MaxOutput-10))
	cp.write(c, make([]byte, 100))
	if cp.sent != MaxOutput || !cp.truncated {
		t.Errorf("sent %d truncated %v, want %d true", cp.sent, cp.truncated, MaxOutput)
	}
}

func TestMountOf(t *testing.T) {
	saved := mountPoints
	defer func() { mountPoints = saved }()
	mountPoints = []string{"/run/codebox", "/workspace", "/proc", "/run", "/"}
	for _, tc := range []struct{ in, mnt, rel string }{
		{"/workspace", "/workspace", "."},
		{"/workspace/a/b", "/workspace", "a/b"},
		{"/workspaces/x", "/", "workspaces/x"},
		{"/run/codebox/agent.sock", "/run/codebox", "agent.sock"},
		{"/run/x", "/run", "x"},
		{"/", "/", "."},
		{"/etc/passwd", "/", "etc/passwd"},
	} {
		if mnt, rel := mountOf(tc.in); mnt != tc.mnt || rel != tc.rel {
			t.Errorf("mountOf(%q) = %q, %q, want %q, %q", tc.in, mnt, rel, tc.mnt, tc.rel)
		}
	}
	if got := unescapeMountinfo(`/a\040b\134c`); got != `/a b\c` {
		t.Errorf("unescapeMountinfo = %q", got)
	}
}
