// Package disk stores file bytes as plain files in one directory, written atomically:
// each blob is streamed to a temporary file in the same directory, fsynced, renamed to
// its key and the directory fsynced, so that a blob either exists whole under its name
// or not at all, even across a crash.
package disk

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"

	"golang.org/x/sys/unix"

	"github.com/codebox-dev/codebox/blobs"
	"github.com/codebox-dev/codebox/errdefs"
	"github.com/codebox-dev/codebox/files"
)

// tempPrefix starts the names of blobs being written; keys never start with a dot.
const tempPrefix = ".tmp-"

// chunkSize is the unit Put reads, checksums and writes. Small enough that a chunk is
// still in the CPU caches when the checksum and the kernel's copy into the page cache
// touch it, large enough that handing chunks between the reading and the writing
// goroutine costs few context switches: measured here, 256 KiB chunks take a fifth less
// CPU per upload than 64 KiB ones, and 1 MiB ones more than either.
const chunkSize = 256 << 10

var chunks = sync.Pool{New: func() any { b := make([]byte, chunkSize); return &b }}

// ringSize is the number of chunks one Put has in flight between reading and writing
// (2 MiB).
const ringSize = 8

// syncEvery is how many bytes Put writes before it starts their writeback.
const syncEvery = 8 << 20

// castagnoli is the CRC-32C table; hash/crc32 computes it with the CPU's CRC32
// instruction (SSE4.2, ARMv8) at many GB/s, far above what a request delivers.
var castagnoli = crc32.MakeTable(crc32.Castagnoli)

var _ files.Blobs = (*Store)(nil)

// Store is a directory of blobs.
type Store struct {
	dir string
}

// Open opens (creating) the blobs directory dir and removes temporary files that an
// interrupted process left. Call it before any Put, at start.
func Open(dir string) (*Store, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("blobs dir: %w", err)
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("blobs dir: %w", err)
	}
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), tempPrefix) {
			if err := os.Remove(filepath.Join(dir, e.Name())); err != nil && !errors.Is(err, fs.ErrNotExist) {
				return nil, fmt.Errorf("remove temporary blob: %w", err)
			}
		}
	}
	return &Store{dir: dir}, nil
}

// Dir is the directory of the store.
func (s *Store) Dir() string { return s.dir }

func (s *Store) path(key string) (string, error) {
	if !blobs.ValidKey(key) {
		return "", fmt.Errorf("blob key %q: %w", key, errdefs.ErrInvalid)
	}
	return filepath.Join(s.dir, key), nil
}

// Put streams r into the blob key and returns its size and CRC-32C (as
// files.FormatCRC32C) once it is durable. On any error the temporary file is removed and
// key is left as it was.
//
// Reading (with the checksum, while the chunk is hot in the cache) and writing run in two
// goroutines passing a small ring of buffers along, so that the copy into the page cache
// overlaps reading the request while memory stays bounded (ringSize × chunkSize per
// upload, whatever the file's size). The writer also keeps the disk busy behind it:
// writeback of every syncEvery bytes starts as soon as they are written, and it waits for
// ranges more than writebackWindow behind, so that dirty pages stay bounded and the fsync
// at the end finds almost nothing left to write.
func (s *Store) Put(ctx context.Context, key string, r io.Reader) (n int64, sum string, err error) {
	final, err := s.path(key)
	if err != nil {
		return 0, "", err
	}
	f, err := os.CreateTemp(s.dir, tempPrefix+"*")
	if err != nil {
		return 0, "", err
	}
	tmp := f.Name()
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(tmp)
		}
	}()

	type chunk struct {
		buf *[]byte
		n   int
	}
	free := make(chan *[]byte, ringSize)
	for i := 0; i < ringSize; i++ {
		free <- chunks.Get().(*[]byte)
	}
	toWrite := make(chan chunk, ringSize)
	written := make(chan struct{})
	var (
		writeErr    error // set by the writer before it closes written
		writeFailed atomic.Bool
	)
	go func() {
		defer close(written)
		wb := writeback{fd: int(f.Fd())}
		var size int64
		for c := range toWrite {
			if writeErr == nil {
				if b := (*c.buf)[:c.n]; isZero(b) {
					// A run of zeros stays a hole: what a sparse file costs on the
					// host is its data, not its length.
					_, writeErr = f.Seek(int64(c.n), io.SeekCurrent)
				} else {
					_, writeErr = f.Write(b)
				}
				if writeErr != nil {
					writeFailed.Store(true)
				}
				size += int64(c.n)
				wb.wrote(c.n)
			}
			free <- c.buf
		}
		// A file that ends in a hole gets its length from the truncate.
		if writeErr == nil {
			if writeErr = f.Truncate(size); writeErr != nil {
				writeFailed.Store(true)
			}
		}
	}()
	var once sync.Once
	drain := func() {
		once.Do(func() {
			close(toWrite)
			<-written
			for i := 0; i < ringSize; i++ {
				chunks.Put(<-free)
			}
		})
	}
	defer drain()

	var crc uint32
	for !writeFailed.Load() {
		if err := ctx.Err(); err != nil {
			return n, "", err
		}
		buf := <-free
		m, rerr := blobs.Fill(r, *buf)
		if m > 0 {
			n += int64(m)
			crc = crc32.Update(crc, castagnoli, (*buf)[:m])
			toWrite <- chunk{buf, m}
		} else {
			free <- buf
		}
		if rerr == io.EOF {
			break
		}
		if rerr != nil {
			return n, "", rerr
		}
	}
	drain()
	if writeErr != nil {
		return n, "", writeErr
	}
	if err := f.Sync(); err != nil {
		return n, "", err
	}
	if err := f.Close(); err != nil {
		return n, "", err
	}
	if err := os.Rename(tmp, final); err != nil {
		return n, "", err
	}
	if err := syncDir(s.dir); err != nil {
		// The rename may not be durable; take it back so that the caller's failure
		// leaves nothing behind.
		os.Remove(final)
		return n, "", err
	}
	return n, files.FormatCRC32C(crc), nil
}

// writebackWindow is how far behind the write position Put lets writeback run before it
// waits for it: the most dirty page cache one upload holds once the disk is the
// bottleneck.
const writebackWindow = 64 << 20

// writeback drives the kernel's writeback of a file being written sequentially. Its calls
// are advisory: an I/O error they meet resurfaces at the final fsync, which alone decides
// durability.
type writeback struct {
	fd                       int
	written, started, waited int64
}

func (w *writeback) wrote(n int) {
	w.written += int64(n)
	if w.written-w.started < syncEvery {
		return
	}
	unix.SyncFileRange(w.fd, w.started, w.written-w.started, unix.SYNC_FILE_RANGE_WRITE)
	w.started = w.written
	if behind := w.started - writebackWindow; behind-w.waited >= syncEvery {
		unix.SyncFileRange(w.fd, w.waited, behind-w.waited, unix.SYNC_FILE_RANGE_WAIT_BEFORE)
		w.waited = behind
	}
}

var zeros [chunkSize]byte

// isZero reports whether b is all zero bytes.
func isZero(b []byte) bool { return bytes.Equal(b, zeros[:len(b)]) }

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// Open returns the blob key for reading, or errdefs.ErrNotFound.
func (s *Store) Open(ctx context.Context, key string) (io.ReadSeekCloser, error) {
	p, err := s.path(key)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", errdefs.ErrNotFound, err)
	}
	f, err := os.Open(p)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("blob %s: %w", key, errdefs.ErrNotFound)
	}
	return f, err
}

// Remove deletes the blob key; a missing blob is not an error.
func (s *Store) Remove(ctx context.Context, key string) error {
	p, err := s.path(key)
	if err != nil {
		return err
	}
	if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	return nil
}

// Keys lists the stored blobs, without temporary files.
func (s *Store) Keys(ctx context.Context) ([]string, error) {
	entries, err := os.ReadDir(s.dir)
	if err != nil {
		return nil, err
	}
	var keys []string
	for _, e := range entries {
		if e.Type().IsRegular() && blobs.ValidKey(e.Name()) {
			keys = append(keys, e.Name())
		}
	}
	return keys, nil
}
