package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"math/rand/v2"
	"mime/multipart"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/anthropics/anthropic-sdk-go"
	"github.com/anthropics/anthropic-sdk-go/option"

	"github.com/codebox-dev/codebox"
	"github.com/codebox-dev/codebox/files"
	"github.com/codebox-dev/codebox/ids"
	"github.com/codebox-dev/codebox/internal/testenv"
	"github.com/codebox-dev/codebox/store/sqlite"
)

var (
	buildOnce sync.Once
	buildPath string
	buildErr  error
)

// TestMain removes the binary codeboxBinary built and stops the PostgreSQL server
// testenv.Postgres started.
func TestMain(m *testing.M) {
	code := m.Run()
	testenv.StopPostgres()
	if buildPath != "" {
		os.RemoveAll(filepath.Dir(buildPath))
	}
	os.Exit(code)
}

// codeboxBinary builds the codebox binary once per test process.
func codeboxBinary(tb testing.TB) string {
	tb.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "codebox-bin-")
		if err != nil {
			buildErr = err
			return
		}
		buildPath = filepath.Join(dir, "codebox")
		out, err := exec.Command("go", "build", "-o", buildPath, ".").CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		tb.Fatal(buildErr)
	}
	return buildPath
}

// child is a codebox server running as a separate process.
type child struct {
	cmd  *exec.Cmd
	url  string
	done chan error
}

const testAPIKey = "sk-cbx-test-key-for-child-servers-0123456789"

// serveEnv is the environment of a child server: the test's, a parent cgroup of the
// child's own, then env. A server limits its parent cgroup, and so removes it and
// the empty cgroups in it when it stops: with the shared default it removed those of
// containers that other tests' runtimes were creating ("open …/cpuset/codebox/
// container_…/cpuset.cpus: no such file or directory" from runsc).
func serveEnv(env ...string) []string {
	parent := "CODEBOX_SANDBOX_CGROUP_PARENT=/codebox-test-" + strings.ToLower(ids.New("")[:12])
	return append(append(os.Environ(), parent), env...)
}

// startChild runs `codebox serve` on a free loopback port over dataDir, without the
// sandbox, and waits for its listening line.
func startChild(tb testing.TB, dataDir string, extra ...string) *child {
	tb.Helper()
	return startChildEnv(tb, dataDir, []string{"CODEBOX_API_KEY=" + testAPIKey}, extra...)
}

// startChildEnv is startChild with env added to the environment instead of the test key.
func startChildEnv(tb testing.TB, dataDir string, env []string, extra ...string) *child {
	tb.Helper()
	args := append([]string{"serve", "--listen", "127.0.0.1:0", "--data-dir", dataDir, "--sandbox=false", "--log-level", "warn"}, extra...)
	cmd := exec.Command(codeboxBinary(tb), args...)
	cmd.Env = serveEnv(env...)
	cmd.Stderr = os.Stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		tb.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		tb.Fatal(err)
	}
	c := &child{cmd: cmd, done: make(chan error, 1)}
	addr := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if rest, ok := strings.CutPrefix(sc.Text(), "codebox: listening on "); ok {
				addr <- rest
			}
		}
		io.Copy(io.Discard, stdout)
	}()
	go func() { c.done <- cmd.Wait() }()
	select {
	case c.url = <-addr:
	case err := <-c.done:
		tb.Fatalf("codebox serve exited before listening: %v", err)
	case <-time.After(2 * time.Minute):
		cmd.Process.Kill()
		tb.Fatal("codebox serve did not start listening")
	}
	tb.Cleanup(func() { c.kill() })
	return c
}

// stop ends the server with SIGTERM, as an operator does, and waits for it to exit.
func (c *child) stop(tb testing.TB) {
	tb.Helper()
	if err := c.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		tb.Fatal(err)
	}
	select {
	case err := <-c.done:
		c.done <- err // for kill
		if err != nil {
			tb.Errorf("server exit after SIGTERM: %v", err)
		}
	case <-time.After(2 * time.Minute):
		tb.Error("server did not exit after SIGTERM")
	}
}

func (c *child) kill() {
	c.cmd.Process.Signal(syscall.SIGKILL)
	<-c.done
	c.done <- errors.New("killed")
}

func (c *child) client() *anthropic.Client {
	cl := anthropic.NewClient(option.WithBaseURL(c.url), option.WithAPIKey(testAPIKey), option.WithMaxRetries(0))
	return &cl
}

type acked struct {
	id   string
	size int64
	sum  string
}

// TestCrashDuringUploads kills the server with SIGKILL in the middle of many concurrent
// uploads, restarts it, and checks that every acknowledged upload is intact and that no
// partial file is listed or left on disk.
func TestCrashDuringUploads(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the server binary")
	}
	dataDir := t.TempDir()
	// The stalled uploads below must outlast the wait for the others, whatever the
	// machine's speed: no body read timeout may end them first.
	srv := startChild(t, dataDir, "--body-read-timeout", "1h")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()

	// Slow uploads stream a first part of their body and stall, so that the kill always
	// finds uploads in the middle of their bytes.
	const slow = 3
	var wg sync.WaitGroup
	killed := make(chan struct{})
	for i := 0; i < slow; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			pr, pw := io.Pipe()
			mw := multipart.NewWriter(pw)
			go func() {
				part, _ := mw.CreateFormFile("file", "stalled.bin")
				part.Write(make([]byte, 1<<20))
				<-killed
				pw.CloseWithError(errors.New("client gave up"))
			}()
			var res anthropic.FileMetadata
			if err := srv.client().Post(ctx, "v1/files", nil, &res, option.WithRequestBody(mw.FormDataContentType(), pr)); err == nil {
				t.Errorf("a stalled upload was acknowledged: %s", res.ID)
			}
		}()
	}
	blobDir := filepath.Join(dataDir, "blobs")
	countTemp := func() int {
		entries, _ := os.ReadDir(blobDir)
		n := 0
		for _, e := range entries {
			if strings.HasPrefix(e.Name(), ".") {
				n++
			}
		}
		return n
	}
	for deadline := time.Now().Add(time.Minute); countTemp() < slow; {
		if time.Now().After(deadline) {
			t.Fatal("the stalled uploads never reached the server's disk")
		}
		time.Sleep(10 * time.Millisecond)
	}

	var mu sync.Mutex
	var ok []acked
	killAt := 60
	for w := 0; w < 12; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(w), 7))
			cl := srv.client()
			for i := 0; ; i++ {
				select {
				case <-killed:
					return
				default:
				}
				body := make([]byte, 1+rng.IntN(3<<20))
				for j := range body {
					body[j] = byte(rng.Uint32())
				}
				f, err := cl.Files.Upload(ctx, anthropic.FileUploadParams{File: anthropic.File(bytes.NewReader(body), fmt.Sprintf("w%d-%d.bin", w, i), "")})
				if err != nil {
					return // the server died under us: not acknowledged
				}
				sum := sha256.Sum256(body)
				mu.Lock()
				ok = append(ok, acked{id: f.ID, size: int64(len(body)), sum: hex.EncodeToString(sum[:])})
				if len(ok) == killAt {
					srv.kill()
					close(killed)
				}
				mu.Unlock()
			}
		}(w)
	}
	wg.Wait()
	select {
	case <-killed:
	default:
		t.Fatalf("only %d uploads acknowledged before the workers stopped", len(ok))
	}
	tmp := countTemp()
	t.Logf("%d uploads acknowledged before SIGKILL; %d temporary files of cut uploads on disk", len(ok), tmp)
	if tmp < slow {
		t.Fatalf("%d temporary files at the kill, want at least the %d stalled uploads", tmp, slow)
	}

	srv = startChild(t, dataDir)
	cl := srv.client()
	listed := map[string]anthropic.FileMetadata{}
	pager := cl.Files.ListAutoPaging(ctx, anthropic.FileListParams{Limit: anthropic.Int(1000)})
	for pager.Next() {
		listed[pager.Current().ID] = pager.Current()
	}
	if err := pager.Err(); err != nil {
		t.Fatal(err)
	}
	for _, a := range ok {
		f, found := listed[a.id]
		if !found {
			t.Errorf("acknowledged file %s lost", a.id)
			continue
		}
		if f.SizeBytes != a.size {
			t.Errorf("%s: size %d, want %d", a.id, f.SizeBytes, a.size)
		}
	}
	// Every listed file (acknowledged or committed just before the kill) must be whole:
	// its blob's size and CRC-32C match its row, and an acknowledged file's bytes have the
	// SHA-256 of what was sent.
	db, err := sqlite.Open(ctx, filepath.Join(dataDir, "codebox.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	want := map[string]acked{}
	for _, a := range ok {
		want[a.id] = a
	}
	for id := range listed {
		row, err := db.GetFile(ctx, codebox.DefaultWorkspace, id)
		if err != nil {
			t.Fatalf("row of %s: %v", id, err)
		}
		size, crc, sum := hashFile(t, filepath.Join(dataDir, "blobs", id))
		if size != row.Size || crc != row.Checksum {
			t.Errorf("%s: blob has %d bytes checksum %s, row says %d %s", id, size, crc, row.Size, row.Checksum)
		}
		if a, found := want[id]; found && a.sum != sum {
			t.Errorf("%s: blob sha256 %s, uploaded %s", id, sum, a.sum)
		}
	}
	// Nothing else is on disk: no temporary files, no blob without a row.
	entries, err := os.ReadDir(blobDir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if _, found := listed[e.Name()]; !found {
			t.Errorf("left on disk after restart: %s", e.Name())
		}
	}
	if len(entries) != len(listed) {
		t.Errorf("%d blobs on disk, %d files listed", len(entries), len(listed))
	}
}

// hashFile returns the size, the CRC-32C as stored in a row, and the hex SHA-256 of a file.
func hashFile(t *testing.T, path string) (int64, string, string) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatalf("blob: %v", err)
	}
	defer f.Close()
	h, c := sha256.New(), crc32.New(crc32.MakeTable(crc32.Castagnoli))
	n, err := io.Copy(io.MultiWriter(h, c), f)
	if err != nil {
		t.Fatal(err)
	}
	return n, files.FormatCRC32C(c.Sum32()), hex.EncodeToString(h.Sum(nil))
}
