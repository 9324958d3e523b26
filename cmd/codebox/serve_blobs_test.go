package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/anthropics/anthropic-sdk-go"
	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/codebox-dev/codebox/internal/testenv"
)

// TestServeS3Blobs serves with --blobs s3://… on SeaweedFS: an upload lands in the bucket
// and not in the data directory, survives a restart and is read back from the bucket into
// a container; a file generated in a container goes to the bucket and downloads the same
// before and after another restart; a deleted file leaves the bucket.
func TestServeS3Blobs(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the server binary with real containers")
	}
	imageDir := testImageDir(t)
	s3env := testenv.S3(t)
	ctx := context.Background()
	dataDir := filepath.Join(t.TempDir(), "data")
	env := append([]string{"CODEBOX_API_KEY=" + testAPIKey}, s3env.Env()...)
	blobsFlag := []string{"--blobs", s3env.URL("codebox")}
	object := func(id string) (int64, bool) {
		t.Helper()
		key := "codebox/files/" + id
		out, err := s3env.Client().HeadObject(ctx, &awss3.HeadObjectInput{Bucket: &s3env.Bucket, Key: &key})
		if err != nil {
			return 0, false
		}
		return *out.ContentLength, true
	}

	// An upload of several parts.
	srv := startChildEnv(t, dataDir, env, blobsFlag...)
	body := make([]byte, 9<<20+123)
	rand.Read(body)
	up, err := srv.client().Beta.Files.Upload(ctx, anthropic.BetaFileUploadParams{
		File: anthropic.File(bytes.NewReader(body), "input.bin", "application/octet-stream")})
	if err != nil {
		t.Fatal(err)
	}
	if size, ok := object(up.ID); !ok || size != int64(len(body)) {
		t.Fatalf("object of %s in the bucket: %d bytes, present %v; want %d", up.ID, size, ok, len(body))
	}
	if entries, _ := os.ReadDir(filepath.Join(dataDir, "blobs")); len(entries) != 0 {
		t.Errorf("file bytes in the data directory: %v", entries)
	}
	if st := srv.call(t, "GET", "/readyz", nil, nil); st != http.StatusOK {
		t.Errorf("/readyz = %d", st)
	}
	srv.stop(t)

	// Restarted, with the sandbox: the upload goes into a container, a generated file
	// comes out.
	srv = startChildEnv(t, dataDir, env, append(blobsFlag, "--sandbox=true", "--sandbox-runtime", "runc",
		"--image-dir", imageDir, "--sandbox-memory", "256MiB", "--sandbox-disk", "256MiB", "--pool-size", "0")...)
	var ctr struct {
		ID string `json:"id"`
	}
	if st := srv.call(t, "POST", "/v1/containers", map[string]any{}, &ctr); st != http.StatusOK {
		t.Fatalf("create container: %d", st)
	}
	if st := srv.call(t, "POST", "/v1/containers/"+ctr.ID+"/files", map[string]any{"file_id": up.ID, "path": "input.bin"}, nil); st != http.StatusOK {
		t.Fatalf("copy the upload into the container: %d", st)
	}
	type execResult struct {
		Stdout     string `json:"stdout"`
		ReturnCode int    `json:"return_code"`
		Files      []struct {
			FileID string `json:"file_id"`
			Path   string `json:"path"`
		} `json:"files"`
	}
	var res execResult
	cmd := "sha256sum /workspace/input.bin && head -c 6000000 /dev/urandom > /workspace/out.bin && sha256sum /workspace/out.bin"
	if st := srv.call(t, "POST", "/v1/containers/"+ctr.ID+"/exec", map[string]any{"command": cmd}, &res); st != http.StatusOK || res.ReturnCode != 0 {
		t.Fatalf("exec = %d %+v", st, res)
	}
	sums := strings.Fields(res.Stdout)
	if want := sha256.Sum256(body); len(sums) != 4 || sums[0] != hex.EncodeToString(want[:]) {
		t.Fatalf("the upload in the container: %q, want sha256 %x", res.Stdout, want)
	}
	var gen string
	for _, f := range res.Files {
		if f.Path == "/workspace/out.bin" {
			gen = f.FileID
		}
	}
	if gen == "" {
		t.Fatalf("no generated file for out.bin: %+v", res.Files)
	}
	if size, ok := object(gen); !ok || size != 6000000 {
		t.Fatalf("object of generated %s: %d bytes, present %v", gen, size, ok)
	}
	download := func(srv *child) string {
		t.Helper()
		resp, err := srv.client().Beta.Files.Download(ctx, gen, anthropic.BetaFileDownloadParams{})
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		h := sha256.New()
		if _, err := io.Copy(h, resp.Body); err != nil {
			t.Fatal(err)
		}
		return hex.EncodeToString(h.Sum(nil))
	}
	if got := download(srv); got != sums[2] {
		t.Fatalf("download of the generated file: sha256 %s, want %s", got, sums[2])
	}
	if st := srv.call(t, "DELETE", "/v1/containers/"+ctr.ID, nil, nil); st != http.StatusOK {
		t.Errorf("delete container: %d", st)
	}
	srv.stop(t)

	// Restarted again: the generated file downloads the same; a delete empties its object.
	srv = startChildEnv(t, dataDir, env, blobsFlag...)
	if got := download(srv); got != sums[2] {
		t.Fatalf("download after a restart: sha256 %s, want %s", got, sums[2])
	}
	if _, err := srv.client().Beta.Files.Delete(ctx, up.ID, anthropic.BetaFileDeleteParams{}); err != nil {
		t.Fatal(err)
	}
	if _, ok := object(up.ID); ok {
		t.Errorf("object of deleted %s still in the bucket", up.ID)
	}
	if entries, _ := os.ReadDir(filepath.Join(dataDir, "blobs")); len(entries) != 0 {
		t.Errorf("file bytes in the data directory: %v", entries)
	}
	srv.stop(t)
}

// TestServeBadBlobs: a malformed --blobs URL, an unreachable endpoint and a missing bucket
// stop the server at start with an error that says what is wrong and never shows the
// secret key.
func TestServeBadBlobs(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the server binary")
	}
	s3env := testenv.S3(t)
	const secret = "SECRET-never-printed-0123456789"
	for _, c := range []struct {
		url, want string
	}{
		{"s3://bucket?endpont=http://127.0.0.1:1", `unknown parameter "endpont"`},
		{"s3://key:" + secret + "@bucket", "credentials do not belong in the URL"},
		{"s3://bucket?endpoint=http://127.0.0.1:1", "cannot use s3://bucket/ at http://127.0.0.1:1"},
		{"s3://no-such-bucket?endpoint=" + s3env.Endpoint, "cannot use s3://no-such-bucket/"},
	} {
		cmd := []string{"--blobs", c.url}
		out, err := runServeFailingEnv(t, t.TempDir(), []string{"CODEBOX_S3_ACCESS_KEY=" + s3env.AccessKey, "CODEBOX_S3_SECRET_KEY=" + secret}, cmd...)
		if err == nil {
			t.Errorf("--blobs %s: the server started", c.url)
			continue
		}
		if !strings.Contains(out, c.want) {
			t.Errorf("--blobs %s: output %q does not say %q", c.url, out, c.want)
		}
		if strings.Contains(out, secret) {
			t.Errorf("--blobs %s: output shows the secret key: %q", c.url, out)
		}
	}
}
