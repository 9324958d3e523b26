// Package blobstest is the conformance suite of files.Blobs: every blobs driver (blobs/disk,
// blobs/s3) runs it, so that the drivers behave alike in everything package files and the
// skills rely on.
package blobstest

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/codebox-dev/codebox/errdefs"
	"github.com/codebox-dev/codebox/files"
)

// Config tunes the suite to a driver.
type Config struct {
	// Large is the size of the large blobs: big enough to take the driver's streaming
	// path (several chunks on disk, several parts of a multipart upload on S3). The
	// default is 12 MiB.
	Large int
	// ManyKeys is how many blobs Keys must list: past the page size of the driver's
	// listing (1000 on S3). The default is 1010.
	ManyKeys int
}

// Run runs the files.Blobs conformance suite against stores made by newBlobs, one fresh,
// empty store per subtest.
func Run(t *testing.T, cfg Config, newBlobs func(t *testing.T) files.Blobs) {
	if cfg.Large == 0 {
		cfg.Large = 12 << 20
	}
	if cfg.ManyKeys == 0 {
		cfg.ManyKeys = 1010
	}
	ctx := context.Background()

	t.Run("PutOpenRemove", func(t *testing.T) {
		b := newBlobs(t)
		body := strings.Repeat("blob ", 100_000)
		put(t, b, "file_a", []byte(body))
		// The check value of CRC-32C (RFC 3720, B.4), independent of hash/crc32.
		if _, sum, err := b.Put(ctx, "file_check", strings.NewReader("123456789")); err != nil || sum != "crc32c:e3069283" {
			t.Fatalf("Put(123456789) checksum = %s, %v; want crc32c:e3069283", sum, err)
		}
		if err := b.Remove(ctx, "file_check"); err != nil {
			t.Fatal(err)
		}
		if got := readAll(t, b, "file_a"); string(got) != body {
			t.Fatalf("read back %d bytes, not what was stored", len(got))
		}
		if keys := keys(t, b); !slices.Equal(keys, []string{"file_a"}) {
			t.Fatalf("Keys = %v, want [file_a]", keys)
		}
		if err := b.Remove(ctx, "file_a"); err != nil {
			t.Fatal(err)
		}
		if err := b.Remove(ctx, "file_a"); err != nil {
			t.Fatalf("Remove of a missing blob = %v", err)
		}
		if _, err := b.Open(ctx, "file_a"); !errors.Is(err, errdefs.ErrNotFound) {
			t.Fatalf("Open after Remove = %v, want ErrNotFound", err)
		}
		if keys := keys(t, b); len(keys) != 0 {
			t.Fatalf("Keys after Remove = %v", keys)
		}
	})

	t.Run("Empty", func(t *testing.T) {
		b := newBlobs(t)
		put(t, b, "file_empty", nil)
		if got := readAll(t, b, "file_empty"); len(got) != 0 {
			t.Fatalf("empty blob reads back %d bytes", len(got))
		}
	})

	t.Run("Replace", func(t *testing.T) {
		b := newBlobs(t)
		put(t, b, "file_r", []byte("first version"))
		put(t, b, "file_r", []byte("second"))
		if got := readAll(t, b, "file_r"); string(got) != "second" {
			t.Fatalf("after a second Put: %q", got)
		}
	})

	t.Run("MissingKey", func(t *testing.T) {
		b := newBlobs(t)
		if _, err := b.Open(ctx, "file_none"); !errors.Is(err, errdefs.ErrNotFound) {
			t.Fatalf("Open of a missing key = %v, want ErrNotFound", err)
		}
		if err := b.Remove(ctx, "file_none"); err != nil {
			t.Fatalf("Remove of a missing key = %v", err)
		}
	})

	// Keys are flat names: a slash, a dot in front, an empty or overlong key never
	// reaches outside the store (another namespace, a directory, a temporary object).
	t.Run("BadKeys", func(t *testing.T) {
		b := newBlobs(t)
		for _, bad := range []string{"", "a/b", "../x", "/abs", "x/", ".tmp-1", "a b", strings.Repeat("k", 200)} {
			if _, _, err := b.Put(ctx, bad, strings.NewReader("x")); !errors.Is(err, errdefs.ErrInvalid) {
				t.Errorf("Put(%q) = %v, want ErrInvalid", bad, err)
			}
			if _, err := b.Open(ctx, bad); !errors.Is(err, errdefs.ErrNotFound) {
				t.Errorf("Open(%q) = %v, want ErrNotFound", bad, err)
			}
		}
		if keys := keys(t, b); len(keys) != 0 {
			t.Fatalf("Keys after bad Puts = %v", keys)
		}
	})

	t.Run("Seek", func(t *testing.T) {
		b := newBlobs(t)
		body := pattern(cfg.Large, 1)
		put(t, b, "file_seek", body)
		rc, err := b.Open(ctx, "file_seek")
		if err != nil {
			t.Fatal(err)
		}
		defer rc.Close()
		n := int64(len(body))
		for _, c := range []struct {
			off    int64
			whence int
			want   int64
			read   int
		}{
			{5, io.SeekStart, 5, 100},
			{10, io.SeekCurrent, 115, 1 << 20}, // after reading 100 at 5
			{-1000, io.SeekEnd, n - 1000, 1000},
			{n / 2, io.SeekStart, n / 2, 3 << 20}, // across a part boundary
			{0, io.SeekStart, 0, 7},
			{n - 3, io.SeekStart, n - 3, 3},
		} {
			pos, err := rc.Seek(c.off, c.whence)
			if err != nil || pos != c.want {
				t.Fatalf("Seek(%d, %d) = %d, %v; want %d", c.off, c.whence, pos, err, c.want)
			}
			got := make([]byte, c.read)
			if _, err := io.ReadFull(rc, got); err != nil {
				t.Fatalf("read %d at %d: %v", c.read, pos, err)
			}
			if !bytes.Equal(got, body[pos:pos+int64(c.read)]) {
				t.Fatalf("read %d at %d: wrong bytes", c.read, pos)
			}
		}
		// At the end: io.EOF, and after seeking past it too.
		if m, err := rc.Read(make([]byte, 10)); m != 0 || err != io.EOF {
			t.Fatalf("Read at the end = %d, %v; want 0, EOF", m, err)
		}
		if pos, err := rc.Seek(n+10, io.SeekStart); err != nil || pos != n+10 {
			t.Fatalf("Seek past the end = %d, %v", pos, err)
		}
		if m, err := rc.Read(make([]byte, 10)); m != 0 || err != io.EOF {
			t.Fatalf("Read past the end = %d, %v; want 0, EOF", m, err)
		}
		if _, err := rc.Seek(-1, io.SeekStart); err == nil {
			t.Fatal("Seek to a negative offset succeeded")
		}
		// Small reads in a row return the bytes in order.
		if _, err := rc.Seek(1000, io.SeekStart); err != nil {
			t.Fatal(err)
		}
		var got []byte
		buf := make([]byte, 333)
		for len(got) < 100_000 {
			m, err := rc.Read(buf)
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, buf[:m]...)
		}
		if !bytes.Equal(got, body[1000:1000+len(got)]) {
			t.Fatal("small reads: wrong bytes")
		}
	})

	t.Run("Large", func(t *testing.T) {
		b := newBlobs(t)
		body := pattern(cfg.Large+12345, 2)
		put(t, b, "file_large", body)
		if got := readAll(t, b, "file_large"); !bytes.Equal(got, body) {
			t.Fatalf("large blob reads back %d bytes, not what was stored", len(got))
		}
	})

	t.Run("FailedPutLeavesNothing", func(t *testing.T) {
		b := newBlobs(t)
		// A source that ends with io.ErrUnexpectedEOF was cut short: a failure, not an end.
		cut := io.MultiReader(strings.NewReader(strings.Repeat("x", 1<<20)), errReader{io.ErrUnexpectedEOF})
		if _, _, err := b.Put(ctx, "file_cut", cut); !errors.Is(err, io.ErrUnexpectedEOF) {
			t.Fatalf("Put of a cut reader = %v, want io.ErrUnexpectedEOF", err)
		}
		reset := errors.New("connection reset")
		broken := io.MultiReader(bytes.NewReader(pattern(cfg.Large, 3)), errReader{reset})
		if _, _, err := b.Put(ctx, "file_broken", broken); !errors.Is(err, reset) {
			t.Fatalf("Put of a large broken reader = %v, want its error", err)
		}
		cctx, cancel := context.WithCancel(ctx)
		cancel()
		if _, _, err := b.Put(cctx, "file_cancelled", strings.NewReader("x")); !errors.Is(err, context.Canceled) {
			t.Fatalf("Put with a cancelled context = %v", err)
		}
		// Cancelled in the middle of a large upload.
		cctx, cancel = context.WithCancel(ctx)
		mid := &cancelReader{r: bytes.NewReader(pattern(cfg.Large, 4)), after: cfg.Large / 2, cancel: cancel}
		if _, _, err := b.Put(cctx, "file_mid", mid); !errors.Is(err, context.Canceled) {
			t.Fatalf("Put cancelled midway = %v, want context.Canceled", err)
		}
		// Replacing an existing blob fails: the old one stays whole.
		put(t, b, "file_keep", []byte("kept"))
		if _, _, err := b.Put(ctx, "file_keep", io.MultiReader(bytes.NewReader(pattern(cfg.Large, 5)), errReader{reset})); err == nil {
			t.Fatal("failed replacement succeeded")
		}
		if got := readAll(t, b, "file_keep"); string(got) != "kept" {
			t.Fatalf("after a failed replacement: %d bytes", len(got))
		}
		for _, k := range []string{"file_cut", "file_broken", "file_cancelled", "file_mid"} {
			if _, err := b.Open(ctx, k); !errors.Is(err, errdefs.ErrNotFound) {
				t.Errorf("Open(%s) after a failed Put = %v, want ErrNotFound", k, err)
			}
		}
		if keys := keys(t, b); !slices.Equal(keys, []string{"file_keep"}) {
			t.Fatalf("Keys after failed Puts = %v, want [file_keep]", keys)
		}
	})

	// Until Put returns, the blob is neither listed nor readable.
	t.Run("InvisibleUntilComplete", func(t *testing.T) {
		b := newBlobs(t)
		pr, pw := io.Pipe()
		type result struct {
			n   int64
			sum string
			err error
		}
		done := make(chan result, 1)
		go func() {
			n, sum, err := b.Put(ctx, "file_slow", pr)
			done <- result{n, sum, err}
		}()
		body := pattern(cfg.Large, 6)
		if _, err := pw.Write(body[:len(body)-1]); err != nil {
			t.Fatal(err)
		}
		if _, err := b.Open(ctx, "file_slow"); !errors.Is(err, errdefs.ErrNotFound) {
			t.Fatalf("Open during Put = %v, want ErrNotFound", err)
		}
		if keys := keys(t, b); len(keys) != 0 {
			t.Fatalf("Keys during Put = %v", keys)
		}
		pw.Write(body[len(body)-1:])
		pw.Close()
		r := <-done
		if r.err != nil || r.n != int64(len(body)) || r.sum != crc(body) {
			t.Fatalf("Put = %d, %s, %v", r.n, r.sum, r.err)
		}
		if got := readAll(t, b, "file_slow"); !bytes.Equal(got, body) {
			t.Fatal("read back the wrong bytes")
		}
	})

	t.Run("ManyKeys", func(t *testing.T) {
		b := newBlobs(t)
		want := make([]string, cfg.ManyKeys)
		for i := range want {
			want[i] = fmt.Sprintf("file_%05d", i)
		}
		parallel(t, len(want), func(i int) error {
			_, _, err := b.Put(ctx, want[i], strings.NewReader(want[i]))
			return err
		})
		got := keys(t, b)
		if !slices.Equal(got, want) {
			t.Fatalf("Keys listed %d keys, want %d", len(got), len(want))
		}
	})

	t.Run("ConcurrentPuts", func(t *testing.T) {
		b := newBlobs(t)
		const n = 6
		bodies := make([][]byte, n)
		for i := range bodies {
			bodies[i] = pattern(cfg.Large/4+i, uint64(10+i))
		}
		parallel(t, n, func(i int) error {
			k := fmt.Sprintf("file_c%d", i)
			size, sum, err := b.Put(ctx, k, bytes.NewReader(bodies[i]))
			if err == nil && (size != int64(len(bodies[i])) || sum != crc(bodies[i])) {
				err = fmt.Errorf("Put(%s) = %d, %s", k, size, sum)
			}
			return err
		})
		for i := range bodies {
			if got := readAll(t, b, fmt.Sprintf("file_c%d", i)); !bytes.Equal(got, bodies[i]) {
				t.Errorf("file_c%d reads back the wrong bytes", i)
			}
		}
	})
}

// put stores body under key and checks the size and checksum Put returns.
func put(t *testing.T, b files.Blobs, key string, body []byte) {
	t.Helper()
	n, sum, err := b.Put(context.Background(), key, bytes.NewReader(body))
	if err != nil || n != int64(len(body)) || sum != crc(body) {
		t.Fatalf("Put(%s) = %d, %s, %v; want %d, %s", key, n, sum, err, len(body), crc(body))
	}
}

func readAll(t *testing.T, b files.Blobs, key string) []byte {
	t.Helper()
	rc, err := b.Open(context.Background(), key)
	if err != nil {
		t.Fatalf("Open(%s): %v", key, err)
	}
	defer rc.Close()
	got, err := io.ReadAll(rc)
	if err != nil {
		t.Fatalf("read %s: %v", key, err)
	}
	return got
}

func keys(t *testing.T, b files.Blobs) []string {
	t.Helper()
	k, err := b.Keys(context.Background())
	if err != nil {
		t.Fatalf("Keys: %v", err)
	}
	slices.Sort(k)
	return k
}

func crc(b []byte) string {
	return files.FormatCRC32C(crc32.Checksum(b, crc32.MakeTable(crc32.Castagnoli)))
}

// pattern returns n pseudo-random bytes, different for each seed, so that a part read
// from the wrong offset shows: a random block of an odd length (so that it lines up with
// no power-of-two part or chunk size) repeated.
func pattern(n int, seed uint64) []byte {
	r := rand.New(rand.NewPCG(seed, 0x5eed))
	block := make([]byte, 1<<20+4099)
	for i := 0; i+8 <= len(block); i += 8 {
		binary.LittleEndian.PutUint64(block[i:], r.Uint64())
	}
	b := make([]byte, n)
	for i := 0; i < n; i += copy(b[i:], block) {
	}
	return b
}

// parallel runs f(0..n-1) on a few goroutines and fails t with the first error.
func parallel(t *testing.T, n int, f func(i int) error) {
	t.Helper()
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		errs []error
		next = make(chan int)
	)
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				if err := f(i); err != nil {
					mu.Lock()
					errs = append(errs, err)
					mu.Unlock()
				}
			}
		}()
	}
	for i := range n {
		next <- i
	}
	close(next)
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatal(err)
	}
}

type errReader struct{ err error }

func (r errReader) Read([]byte) (int, error) { return 0, r.err }

// cancelReader cancels its context once after bytes have been read through it, and goes
// on reading: the driver must notice the cancellation by itself.
type cancelReader struct {
	r      io.Reader
	after  int
	read   int
	cancel context.CancelFunc
}

func (c *cancelReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.read += n
	if c.read >= c.after {
		c.cancel()
	}
	return n, err
}
