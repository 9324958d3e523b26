package diskimage

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/klauspost/compress/zstd"
)

// RestoreOptions bounds and checks what Restore accepts.
type RestoreOptions struct {
	// MaxSize is the largest image accepted; 0 is no limit.
	MaxSize int64
	// Check, if set, is called with the header before any data is written; its error
	// ends the restore.
	Check func(Header) error
}

// tempSuffix ends the name an image is restored under until it is whole.
const tempSuffix = ".restoring"

// Restore reads an archive from r and writes its image to path, sparse, replacing
// what is there. The image is written under a temporary name beside path, checked
// against the archive's checksum, fsynced and renamed into place: on any error
// (ErrCorrupt for a damaged archive) path is left as it was.
func Restore(ctx context.Context, r io.Reader, path string, opts RestoreOptions) (h Header, retErr error) {
	hb := make([]byte, headerSize)
	if _, err := io.ReadFull(r, hb); err != nil {
		return Header{}, fmt.Errorf("%w: header: %w", ErrCorrupt, err)
	}
	h, err := parseHeader(hb)
	if err != nil {
		return h, err
	}
	if opts.MaxSize > 0 && h.Size > opts.MaxSize {
		return h, fmt.Errorf("%w: image of %d bytes, more than the %d allowed", ErrCorrupt, h.Size, opts.MaxSize)
	}
	if opts.Check != nil {
		if err := opts.Check(h); err != nil {
			return h, err
		}
	}
	tmp := path + tempSuffix
	os.Remove(tmp)
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return h, err
	}
	defer func() {
		if err := f.Close(); retErr == nil {
			retErr = err
		}
		if retErr != nil {
			os.Remove(tmp)
		}
	}()
	if err := f.Truncate(h.Size); err != nil {
		return h, err
	}
	src := &sourceReader{r: r}
	zr, err := zstd.NewReader(src, zstd.WithDecoderConcurrency(1), zstd.WithDecoderMaxWindow(8<<20))
	if err != nil {
		return h, err
	}
	defer zr.Close()
	sum := sha256.New()
	sum.Write(hb)
	if err := restoreRecords(ctx, &hashReader{r: zr, h: sum}, f, h.Size); err != nil {
		return h, src.cause(err)
	}
	want := sum.Sum(nil)
	got := make([]byte, sha256.Size)
	if _, err := io.ReadFull(zr, got); err != nil {
		return h, src.cause(corrupt("checksum", err))
	}
	if !bytes.Equal(got, want) {
		return h, fmt.Errorf("%w: checksum mismatch", ErrCorrupt)
	}
	if n, err := zr.Read(make([]byte, 1)); n > 0 || !errors.Is(err, io.EOF) {
		return h, fmt.Errorf("%w: data after the end", ErrCorrupt)
	}
	if err := f.Sync(); err != nil {
		return h, err
	}
	if err := os.Rename(tmp, path); err != nil {
		return h, err
	}
	return h, syncDir(filepath.Dir(path))
}

// restoreRecords writes the records of r into f until the end record.
func restoreRecords(ctx context.Context, r io.Reader, f *os.File, size int64) error {
	head := make([]byte, recordHead)
	buf := make([]byte, MaxRecord)
	var next uint64 // the lowest offset the next record may start at
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		if _, err := io.ReadFull(r, head); err != nil {
			return corrupt("record", err)
		}
		off, n := binary.BigEndian.Uint64(head), uint64(binary.BigEndian.Uint32(head[8:]))
		if off == endOffset {
			if n != 0 {
				return fmt.Errorf("%w: bad end record", ErrCorrupt)
			}
			return nil
		}
		if n == 0 || n > MaxRecord || off < next || off > uint64(size) || n > uint64(size)-off {
			return fmt.Errorf("%w: record of %d bytes at %d is out of order or outside the %d-byte image", ErrCorrupt, n, off, size)
		}
		if _, err := io.ReadFull(r, buf[:n]); err != nil {
			return corrupt("record data", err)
		}
		if _, err := f.WriteAt(buf[:n], int64(off)); err != nil {
			return err
		}
		next = off + n
	}
}

// sourceReader remembers a read error of the archive's source other than its end, so
// that a failed download is reported as what it is rather than as damage.
type sourceReader struct {
	r   io.Reader
	err error
}

func (s *sourceReader) Read(b []byte) (int, error) {
	n, err := s.r.Read(b)
	if err != nil && err != io.EOF && s.err == nil {
		s.err = err
	}
	return n, err
}

// cause is the source's error if it had one, else err.
func (s *sourceReader) cause(err error) error {
	if s.err != nil {
		return fmt.Errorf("read disk archive: %w", s.err)
	}
	return err
}

// corrupt wraps a read error of the archive: a cut or undecodable stream is damage.
func corrupt(what string, err error) error {
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	if errors.Is(err, io.EOF) {
		err = io.ErrUnexpectedEOF
	}
	return fmt.Errorf("%w: %s: %w", ErrCorrupt, what, err)
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}
