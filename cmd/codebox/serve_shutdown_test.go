package main

import (
	"context"
	"io"
	"mime/multipart"
	"strings"
	"syscall"
	"testing"
	"time"

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
	select {
	case err := <-srv.done:
		if err != nil {
			t.Fatalf("server exit: %v", err)
		}
		srv.done <- nil
	case <-time.After(time.Minute):
		t.Fatal("server did not exit after SIGTERM")
	}
}
