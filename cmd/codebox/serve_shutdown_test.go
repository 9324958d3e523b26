package main

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"mime/multipart"
	"net/http"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/anthropics/anthropic-sdk-go"
	"github.com/anthropics/anthropic-sdk-go/option"
)

// TestShutdownFinishesUploads sends SIGTERM while an upload is in flight: the upload must
// complete and be acknowledged, and the server must then exit cleanly.
func TestShutdownFinishesUploads(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the server binary")
	}
	srv := startChild(t, t.TempDir())
	pr, pw := io.Pipe()
	mw := multipart.NewWriter(pw)
	type result struct {
		f   anthropic.FileMetadata
		err error
	}
	done := make(chan result, 1)
	go func() {
		var res anthropic.FileMetadata
		err := srv.client().Post(context.Background(), "v1/files", nil, &res, option.WithRequestBody(mw.FormDataContentType(), pr))
		done <- result{res, err}
	}()
	part, err := mw.CreateFormFile("file", "slow.txt")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := part.Write([]byte(strings.Repeat("first half\n", 1000))); err != nil {
		t.Fatal(err)
	}
	// The request is now being served; ask the server to stop.
	time.Sleep(200 * time.Millisecond)
	if err := srv.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	time.Sleep(200 * time.Millisecond)
	part.Write([]byte(strings.Repeat("second half\n", 1000)))
	mw.Close()
	pw.Close()
	r := <-done
	if r.err != nil {
		t.Fatalf("in-flight upload failed during shutdown: %v", r.err)
	}
	if want := int64(11*1000 + 12*1000); r.f.SizeBytes != want {
		t.Fatalf("size %d, want %d", r.f.SizeBytes, want)
	}
	srv.waitExit(t)
}

// waitExit waits for a child told to stop and fails unless it exits cleanly.
func (c *child) waitExit(t *testing.T) {
	t.Helper()
	select {
	case err := <-c.done:
		if err != nil {
			t.Fatalf("server exit: %v", err)
		}
		c.done <- nil
	case <-time.After(time.Minute):
		t.Fatal("server did not exit after SIGTERM")
	}
}

// TestShutdownDrains sends SIGTERM and checks what Kubernetes expects during the drain
// period: /readyz turns 503 at once while new requests, on new connections, are still
// served; then the server exits cleanly.
func TestShutdownDrains(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the server binary")
	}
	srv := startChild(t, t.TempDir(), "--shutdown-drain", "3s")
	if status, _ := probe(t, srv, "/readyz"); status != http.StatusOK {
		t.Fatalf("readyz before shutdown: %d", status)
	}
	if err := srv.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	for {
		status, body := probe(t, srv, "/readyz")
		if status == http.StatusServiceUnavailable {
			if !strings.Contains(body, "draining") {
				t.Errorf("readyz while draining: %s", body)
			}
			break
		}
		if status != http.StatusOK {
			t.Fatalf("readyz during shutdown: %d %s", status, body)
		}
	}
	// A client's next call, after the signal, is still served.
	f, err := srv.client().Beta.Files.Upload(context.Background(), anthropic.BetaFileUploadParams{
		File: anthropic.File(strings.NewReader("after the signal"), "late.txt", "text/plain")})
	if err != nil {
		t.Fatalf("upload during the drain: %v", err)
	}
	if f.SizeBytes != int64(len("after the signal")) {
		t.Errorf("size %d", f.SizeBytes)
	}
	if status, _ := probe(t, srv, "/livez"); status != http.StatusOK {
		t.Errorf("livez while draining: %d", status)
	}
	srv.waitExit(t)
}

// TestProbes asks /livez and /readyz without a key.
func TestProbes(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the server binary")
	}
	srv := startChild(t, t.TempDir())
	if status, body := probe(t, srv, "/livez"); status != http.StatusOK || !strings.Contains(body, `"ok"`) {
		t.Errorf("livez: %d %s", status, body)
	}
	status, body := probe(t, srv, "/readyz")
	var got struct {
		Status string
		Checks map[string]string
	}
	if err := json.Unmarshal([]byte(body), &got); err != nil {
		t.Fatalf("readyz: %d %s", status, body)
	}
	if status != http.StatusOK || got.Status != "ready" || got.Checks["database"] != "ok" || got.Checks["blobs"] != "ok" {
		t.Errorf("readyz: %d %s", status, body)
	}
}

// probe GETs path of srv without a key, on a new connection.
func probe(t *testing.T, srv *child, path string) (int, string) {
	t.Helper()
	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}, Timeout: 30 * time.Second}
	resp, err := client.Get(srv.url + path)
	if err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// TestShutdownReverseOrder checks that shutdown stops what the setup stages started in
// reverse order of start: a stage's background loop has stopped before anything set up
// ahead of it (the database the files sweeper uses) is closed.
func TestShutdownReverseOrder(t *testing.T) {
	g, gctx := errgroup.WithContext(context.Background())
	a := &app{logger: slog.New(slog.DiscardHandler), group: g}
	var mu sync.Mutex
	var events []string
	record := func(e string) {
		mu.Lock()
		events = append(events, e)
		mu.Unlock()
	}
	for _, stage := range []string{"files", "sandbox"} {
		closed := false
		a.onClose(func(context.Context) error {
			mu.Lock()
			closed = true
			mu.Unlock()
			record(stage + " closed")
			return nil
		})
		a.goLoop(gctx, func(ctx context.Context) error {
			<-ctx.Done()
			// A loop's last work, as the sweeper's, still uses its stage's resources.
			time.Sleep(50 * time.Millisecond)
			mu.Lock()
			used := closed
			mu.Unlock()
			if used {
				record(stage + " loop used a closed resource")
			}
			record(stage + " loop stopped")
			return ctx.Err()
		})
	}
	if err := a.shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	want := []string{"sandbox loop stopped", "sandbox closed", "files loop stopped", "files closed"}
	if !slices.Equal(events, want) {
		t.Errorf("shutdown order %q, want %q", events, want)
	}
}
