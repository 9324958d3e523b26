// Package diskimage archives sparse disk image files into a stream and restores them.
//
// An archive holds only the data of an image: the extents the filesystem reports
// (SEEK_DATA/SEEK_HOLE) less the blocks in them that are all zeros, so a 5 GiB image
// holding 10 MB of files archives to about 10 MB and is read only where it has data.
// Restoring writes a sparse file again, holes where the image had holes or zeros.
//
// The format, version 1:
//
//	header   "CBDISKIM" | version uint32 | flags uint32 | size uint64 | generation uint64
//	body     zstd stream of records, each offset uint64 | length uint32 | length bytes,
//	         offsets ascending, ranges disjoint and inside size, length ≤ MaxRecord;
//	         then the end record offset 2^64-1 | length 0 | SHA-256 of the header and
//	         every record before it
//
// (integers big-endian). The checksum is checked before a restored image takes its
// name: a damaged or cut archive is an error and leaves nothing behind.
package diskimage

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"hash"
	"io"
	"os"

	"github.com/klauspost/compress/zstd"
	"golang.org/x/sys/unix"
)

// Version is the format version Write writes and Restore reads.
const Version = 1

const (
	magic      = "CBDISKIM"
	headerSize = 32
	recordHead = 12
	// endOffset marks the end record.
	endOffset = ^uint64(0)
	// MaxRecord is the most data one record carries.
	MaxRecord = 1 << 20
	// blockSize is the granularity at which runs of zeros are left out.
	blockSize = 4096
	// flagZstd says the body is zstd-compressed (always, in version 1).
	flagZstd = 1
)

// ErrCorrupt is wrapped by every error about a damaged, cut or foreign archive.
var ErrCorrupt = errors.New("disk archive is damaged")

// Header describes an archive.
type Header struct {
	// Size is the image's length in bytes.
	Size int64
	// Generation is the caller's: a number that tells archives of one disk apart.
	Generation uint64
}

func (h Header) marshal() []byte {
	b := make([]byte, headerSize)
	copy(b, magic)
	binary.BigEndian.PutUint32(b[8:], Version)
	binary.BigEndian.PutUint32(b[12:], flagZstd)
	binary.BigEndian.PutUint64(b[16:], uint64(h.Size))
	binary.BigEndian.PutUint64(b[24:], h.Generation)
	return b
}

// Stats tells what an archive holds.
type Stats struct {
	// Data is the bytes of data archived (before compression).
	Data int64
	// Written is the archive's length.
	Written int64
}

// Write archives the image file at path, tagged with generation, to w.
func Write(ctx context.Context, w io.Writer, path string, generation uint64) (Stats, error) {
	f, err := os.Open(path)
	if err != nil {
		return Stats{}, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return Stats{}, err
	}
	cw := &countWriter{w: w}
	hdr := Header{Size: fi.Size(), Generation: generation}.marshal()
	if _, err := cw.Write(hdr); err != nil {
		return Stats{}, err
	}
	zw, err := zstd.NewWriter(cw, zstd.WithEncoderLevel(zstd.SpeedFastest), zstd.WithEncoderConcurrency(1),
		zstd.WithWindowSize(1<<20))
	if err != nil {
		return Stats{}, err
	}
	defer zw.Close()
	sum := sha256.New()
	sum.Write(hdr)
	rw := &recordWriter{w: io.MultiWriter(zw, sum)}
	buf := make([]byte, MaxRecord)
	var data int64
	err = extents(int(f.Fd()), fi.Size(), func(off, end int64) error {
		for off < end {
			if err := ctx.Err(); err != nil {
				return err
			}
			n := int(min(end-off, MaxRecord))
			if _, err := f.ReadAt(buf[:n], off); err != nil {
				return err
			}
			m, err := rw.nonZero(off, buf[:n])
			if err != nil {
				return err
			}
			data += m
			off += int64(n)
		}
		return nil
	})
	if err != nil {
		return Stats{}, err
	}
	if err := rw.record(endOffset, nil); err != nil {
		return Stats{}, err
	}
	if _, err := zw.Write(sum.Sum(nil)); err != nil {
		return Stats{}, err
	}
	if err := zw.Close(); err != nil {
		return Stats{}, err
	}
	return Stats{Data: data, Written: cw.n}, nil
}

// extents calls fn with the [start, end) of each data extent of the open file fd of
// size bytes, in order.
func extents(fd int, size int64, fn func(start, end int64) error) error {
	for off := int64(0); off < size; {
		data, err := unix.Seek(fd, off, unix.SEEK_DATA)
		if errors.Is(err, unix.ENXIO) {
			return nil // only a hole is left
		}
		if err != nil {
			return err
		}
		hole, err := unix.Seek(fd, data, unix.SEEK_HOLE)
		if err != nil {
			return err
		}
		hole = min(hole, size)
		if err := fn(data, hole); err != nil {
			return err
		}
		off = hole
	}
	return nil
}

type recordWriter struct {
	w    io.Writer
	head [recordHead]byte
}

func (rw *recordWriter) record(off uint64, b []byte) error {
	binary.BigEndian.PutUint64(rw.head[:8], off)
	binary.BigEndian.PutUint32(rw.head[8:], uint32(len(b)))
	if _, err := rw.w.Write(rw.head[:]); err != nil {
		return err
	}
	_, err := rw.w.Write(b)
	return err
}

// nonZero writes the runs of b (the image's bytes at off) that are not whole blocks of
// zeros as records and returns how many bytes they hold.
func (rw *recordWriter) nonZero(off int64, b []byte) (int64, error) {
	var n int64
	start := -1
	for i := 0; i <= len(b); i += blockSize {
		zero := i == len(b) || isZero(b[i:min(i+blockSize, len(b))])
		if !zero && start < 0 {
			start = i
		}
		if zero && start >= 0 {
			if err := rw.record(uint64(off)+uint64(start), b[start:i]); err != nil {
				return n, err
			}
			n += int64(i - start)
			start = -1
		}
	}
	return n, nil
}

var zeros [blockSize]byte

func isZero(b []byte) bool { return string(b) == string(zeros[:len(b)]) }

type countWriter struct {
	w io.Writer
	n int64
}

func (c *countWriter) Write(b []byte) (int, error) {
	n, err := c.w.Write(b)
	c.n += int64(n)
	return n, err
}

// ReadHeader reads and checks an archive's header.
func ReadHeader(r io.Reader) (Header, error) {
	b := make([]byte, headerSize)
	if _, err := io.ReadFull(r, b); err != nil {
		return Header{}, fmt.Errorf("%w: header: %w", ErrCorrupt, err)
	}
	return parseHeader(b)
}

func parseHeader(b []byte) (Header, error) {
	if string(b[:8]) != magic {
		return Header{}, fmt.Errorf("%w: not a disk archive", ErrCorrupt)
	}
	if v := binary.BigEndian.Uint32(b[8:]); v != Version {
		return Header{}, fmt.Errorf("%w: format version %d, want %d", ErrCorrupt, v, Version)
	}
	if fl := binary.BigEndian.Uint32(b[12:]); fl != flagZstd {
		return Header{}, fmt.Errorf("%w: unknown flags %#x", ErrCorrupt, fl)
	}
	size := binary.BigEndian.Uint64(b[16:])
	if size > 1<<62 {
		return Header{}, fmt.Errorf("%w: image size %d", ErrCorrupt, size)
	}
	return Header{Size: int64(size), Generation: binary.BigEndian.Uint64(b[24:])}, nil
}

// hashReader hashes what is read through it.
type hashReader struct {
	r io.Reader
	h hash.Hash
}

func (hr *hashReader) Read(b []byte) (int, error) {
	n, err := hr.r.Read(b)
	hr.h.Write(b[:n])
	return n, err
}
