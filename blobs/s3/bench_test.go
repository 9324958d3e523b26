package s3_test

import (
	"context"
	"io"
	"testing"

	"github.com/codebox-dev/codebox/blobs/disk"
	"github.com/codebox-dev/codebox/files"
)

// BenchmarkBlobs compares Put and Open (read to the end) of a 64 MiB blob on S3
// (SeaweedFS on loopback) with the disk driver, in the same run:
//
//	go test -run '^$' -bench Blobs ./blobs/s3
func BenchmarkBlobs(b *testing.B) {
	const size = 64 << 20
	ctx := context.Background()
	d, err := disk.Open(b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	s, _ := open(b, "bench", nil)
	for _, c := range []struct {
		name  string
		blobs files.Blobs
	}{{"disk", d}, {"s3", s}} {
		b.Run(c.name+"/Put", func(b *testing.B) {
			b.SetBytes(size)
			for b.Loop() {
				if _, _, err := c.blobs.Put(ctx, "file_bench", io.LimitReader(filler{}, size)); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(c.name+"/Open", func(b *testing.B) {
			b.SetBytes(size)
			for b.Loop() {
				rc, err := c.blobs.Open(ctx, "file_bench")
				if err != nil {
					b.Fatal(err)
				}
				if n, err := io.Copy(io.Discard, rc); err != nil || n != size {
					b.Fatalf("read %d, %v", n, err)
				}
				rc.Close()
			}
		})
	}
}

// filler reads as an endless run of one non-zero byte: not zeros, which the disk driver
// would store as a hole.
type filler struct{}

func (filler) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = 0xa5
	}
	return len(p), nil
}
