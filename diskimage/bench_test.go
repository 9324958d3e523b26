package diskimage_test

import (
	"bytes"
	"context"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/codebox-dev/codebox/diskimage"
)

// BenchmarkDisk50MB archives and restores a 5 GiB image holding 50 MB (half random
// bytes, half text), beside `cp --sparse=always` of the same image as the baseline.
// archive-bytes is the archive's size.
func BenchmarkDisk50MB(b *testing.B) {
	dir := b.TempDir()
	src := filepath.Join(dir, "disk.img")
	sparseImage(b, src, 5<<30, map[int64]int{0: 1 << 20, 1 << 30: 12 << 20, 3 << 30: 12 << 20})
	text := []byte(strings.Repeat("region,date,revenue_usd\nnorth,2026-04-01,3000\nsouth,2026-04-02,2800\n", 400_000)[:25<<20])
	f, err := os.OpenFile(src, os.O_WRONLY, 0)
	if err != nil {
		b.Fatal(err)
	}
	if _, err := f.WriteAt(text, 2<<30); err != nil {
		b.Fatal(err)
	}
	f.Close()
	var arch bytes.Buffer
	if _, err := diskimage.Write(context.Background(), &arch, src, 1); err != nil {
		b.Fatal(err)
	}
	b.Run("archive", func(b *testing.B) {
		b.SetBytes(50 << 20)
		for b.Loop() {
			st, err := diskimage.Write(context.Background(), io.Discard, src, 1)
			if err != nil {
				b.Fatal(err)
			}
			b.ReportMetric(float64(st.Written), "archive-bytes")
		}
	})
	b.Run("restore", func(b *testing.B) {
		b.SetBytes(50 << 20)
		dst := filepath.Join(dir, "restored.img")
		for b.Loop() {
			if _, err := diskimage.Restore(context.Background(), bytes.NewReader(arch.Bytes()), dst, diskimage.RestoreOptions{}); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("cp-sparse", func(b *testing.B) {
		b.SetBytes(50 << 20)
		dst := filepath.Join(dir, "copy.img")
		for b.Loop() {
			os.Remove(dst)
			if out, err := exec.Command("cp", "--sparse=always", src, dst).CombinedOutput(); err != nil {
				b.Fatalf("cp: %v: %s", err, out)
			}
		}
	})
}
