package main

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"net/textproto"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/codebox-dev/codebox/store/sqlite"
)

// BenchmarkFilesThroughput uploads and downloads one large file (1 GiB, or
// CODEBOX_BENCH_FILE_SIZE bytes) through a codebox server running as a child process,
// times a plain `cp` of the same file in the same run, and samples the server's resident
// memory during the upload. It reports MB/s for each, the ratios to cp, and the growth of
// the server's RSS over its idle size. Run with -benchtime 1x.
//
// Two baselines: cp alone leaves the copy in the page cache, while an upload is
// acknowledged only once fsynced, so the upload is also compared to cp followed by sync,
// its durable equivalent. Downloads are timed as a client sees them, into a file through
// net/http like an SDK user's io.Copy, and again into io.Discard, which is the server's
// delivery rate without the client's write into its own page cache.
func BenchmarkFilesThroughput(b *testing.B) {
	size := int64(1 << 30)
	if v := os.Getenv("CODEBOX_BENCH_FILE_SIZE"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			b.Fatal(err)
		}
		size = n
	}
	dir := b.TempDir()
	src := filepath.Join(dir, "src.bin")
	writeRandomFile(b, src, size)
	dataDir := filepath.Join(dir, "data")
	srv := startChild(b, dataDir, "--max-file-size", strconv.FormatInt(size+1, 10))
	pid := srv.cmd.Process.Pid

	for i := 0; i < b.N; i++ {
		// cp, and cp followed by sync, since an upload is fsynced before it is acknowledged.
		dst := filepath.Join(dir, "cp.bin")
		t0 := time.Now()
		run(b, "cp", src, dst)
		cpDur := time.Since(t0)
		run(b, "sync", dst)
		cpSyncDur := time.Since(t0)
		os.Remove(dst)

		idle := rss(b, pid, "VmRSS")
		var peak int64
		stop := make(chan struct{})
		var wg sync.WaitGroup
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				if v := rss(b, pid, "VmRSS"); v > peak {
					peak = v
				}
				select {
				case <-stop:
					return
				case <-time.After(5 * time.Millisecond):
				}
			}
		}()
		cpu0, self0 := cpuTime(b, pid), cpuTime(b, os.Getpid())
		t0 = time.Now()
		id := benchUpload(b, srv.url, src, size)
		upDur := time.Since(t0)
		upCPU, clientCPU := cpuTime(b, pid)-cpu0, cpuTime(b, os.Getpid())-self0
		close(stop)
		wg.Wait()

		// Uploads are not downloadable by design; flip the row to time the download path.
		makeDownloadable(b, dataDir, id)
		out := filepath.Join(dir, "down.bin")
		cpu0, self0 = cpuTime(b, pid), cpuTime(b, os.Getpid())
		t0 = time.Now()
		got := benchDownload(b, srv.url, id, out)
		downDur := time.Since(t0)
		downCPU, downClientCPU := cpuTime(b, pid)-cpu0, cpuTime(b, os.Getpid())-self0
		if got != size {
			b.Fatalf("downloaded %d bytes, want %d", got, size)
		}
		os.Remove(out)
		// The same download with the client discarding the bytes: the server's own rate,
		// without the client's copy into its page cache.
		t0 = time.Now()
		if got := benchDownload(b, srv.url, id, ""); got != size {
			b.Fatalf("downloaded %d bytes, want %d", got, size)
		}
		discardDur := time.Since(t0)

		mbps := func(d time.Duration) float64 { return float64(size) / 1e6 / d.Seconds() }
		b.ReportMetric(mbps(cpDur), "cp-MB/s")
		b.ReportMetric(mbps(cpSyncDur), "cp+sync-MB/s")
		b.ReportMetric(mbps(upDur), "upload-MB/s")
		b.ReportMetric(mbps(downDur), "download-MB/s")
		b.ReportMetric(100*cpDur.Seconds()/upDur.Seconds(), "upload-%cp")
		b.ReportMetric(100*cpSyncDur.Seconds()/upDur.Seconds(), "upload-%cp+sync")
		b.ReportMetric(100*cpDur.Seconds()/downDur.Seconds(), "download-%cp")
		b.ReportMetric(mbps(discardDur), "download-discard-MB/s")
		b.ReportMetric(100*cpDur.Seconds()/discardDur.Seconds(), "download-discard-%cp")
		b.ReportMetric(float64(peak-idle)/(1<<20), "rss-growth-MiB")
		b.ReportMetric(upCPU.Seconds()/(float64(size)/(1<<30)), "upload-server-cpu-s/GiB")
		b.Logf("size %d MiB: cp %v (%.0f MB/s), cp+sync %v (%.0f MB/s), upload %v (%.0f MB/s, %.0f%% of cp, %.0f%% of cp+sync), download %v (%.0f MB/s, %.0f%% of cp; into io.Discard %.0f MB/s, %.0f%% of cp); server RSS idle %.1f MiB, peak %.1f MiB during upload, growth %.1f MiB; CPU during upload: server %v, client %v; during download: server %v, client %v",
			size>>20, cpDur.Round(time.Millisecond), mbps(cpDur), cpSyncDur.Round(time.Millisecond), mbps(cpSyncDur),
			upDur.Round(time.Millisecond), mbps(upDur), 100*cpDur.Seconds()/upDur.Seconds(), 100*cpSyncDur.Seconds()/upDur.Seconds(),
			downDur.Round(time.Millisecond), mbps(downDur), 100*cpDur.Seconds()/downDur.Seconds(), mbps(discardDur), 100*cpDur.Seconds()/discardDur.Seconds(),
			float64(idle)/(1<<20), float64(peak)/(1<<20), float64(peak-idle)/(1<<20), upCPU.Round(time.Millisecond), clientCPU.Round(time.Millisecond),
			downCPU.Round(time.Millisecond), downClientCPU.Round(time.Millisecond))
	}
}

func run(tb testing.TB, name string, args ...string) {
	tb.Helper()
	if out, err := exec.Command(name, args...).CombinedOutput(); err != nil {
		tb.Fatalf("%s: %v\n%s", name, err, out)
	}
}

func writeRandomFile(tb testing.TB, path string, size int64) {
	tb.Helper()
	f, err := os.Create(path)
	if err != nil {
		tb.Fatal(err)
	}
	defer f.Close()
	block := make([]byte, 4<<20)
	rand.Read(block)
	w := bufio.NewWriterSize(f, len(block))
	for left := size; left > 0; left -= int64(len(block)) {
		block[0]++ // no two blocks alike
		if _, err := w.Write(block[:min(left, int64(len(block)))]); err != nil {
			tb.Fatal(err)
		}
	}
	if err := w.Flush(); err != nil {
		tb.Fatal(err)
	}
}

// cpuTime returns the user plus system CPU time pid has used, from /proc/PID/stat.
func cpuTime(tb testing.TB, pid int) time.Duration {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		tb.Fatal(err)
	}
	// Fields after the parenthesised command name; utime and stime are fields 14 and 15.
	f := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+2:]))
	ut, _ := strconv.ParseInt(f[11], 10, 64)
	st, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(ut+st) * time.Second / 100 // USER_HZ is 100 on Linux
}

// rss reads a memory field (VmRSS, VmHWM) of pid from /proc, in bytes.
func rss(tb testing.TB, pid int, field string) int64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, field+":"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 10, 64)
			return kb << 10
		}
	}
	return 0
}

// benchUpload sends path as a multipart body with a known Content-Length, the way an SDK
// sends a file, streaming it from disk.
func benchUpload(tb testing.TB, url, path string, size int64) string {
	tb.Helper()
	f, err := os.Open(path)
	if err != nil {
		tb.Fatal(err)
	}
	defer f.Close()
	var head, tail strings.Builder
	mw := multipart.NewWriter(&head)
	h := textproto.MIMEHeader{}
	h.Set("Content-Disposition", `form-data; name="file"; filename="big.bin"`)
	h.Set("Content-Type", "application/octet-stream")
	if _, err := mw.CreatePart(h); err != nil {
		tb.Fatal(err)
	}
	tail.WriteString("\r\n--" + mw.Boundary() + "--\r\n")
	body := io.MultiReader(strings.NewReader(head.String()), f, strings.NewReader(tail.String()))
	req, err := http.NewRequest("POST", url+"/v1/files", body)
	if err != nil {
		tb.Fatal(err)
	}
	req.ContentLength = int64(head.Len()) + size + int64(tail.Len())
	req.Header.Set("Content-Type", mw.FormDataContentType())
	req.Header.Set("x-api-key", testAPIKey)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		tb.Fatal(err)
	}
	defer res.Body.Close()
	var out struct {
		ID        string `json:"id"`
		SizeBytes int64  `json:"size_bytes"`
	}
	if err := json.NewDecoder(res.Body).Decode(&out); err != nil || res.StatusCode != 200 || out.SizeBytes != size {
		tb.Fatalf("upload: status %d, %+v, %v", res.StatusCode, out, err)
	}
	return out.ID
}

// benchDownload fetches id into the file out, or discards it when out is "".
func benchDownload(tb testing.TB, url, id, out string) int64 {
	tb.Helper()
	req, _ := http.NewRequest("GET", url+"/v1/files/"+id+"/content", nil)
	req.Header.Set("x-api-key", testAPIKey)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		tb.Fatal(err)
	}
	defer res.Body.Close()
	if res.StatusCode != 200 {
		tb.Fatalf("download: status %d", res.StatusCode)
	}
	if out == "" {
		n, err := io.Copy(io.Discard, res.Body)
		if err != nil {
			tb.Fatal(err)
		}
		return n
	}
	f, err := os.Create(out)
	if err != nil {
		tb.Fatal(err)
	}
	defer f.Close()
	n, err := io.Copy(f, res.Body)
	if err != nil {
		tb.Fatal(err)
	}
	return n
}

func makeDownloadable(tb testing.TB, dataDir, id string) {
	tb.Helper()
	db, err := sqlite.Open(context.Background(), filepath.Join(dataDir, "codebox.db"))
	if err != nil {
		tb.Fatal(err)
	}
	defer db.Close()
	if _, err := db.SQL().Exec(`UPDATE files SET downloadable = 1 WHERE id = ?`, id); err != nil {
		tb.Fatal(err)
	}
}
