package disk_test

import (
	"bytes"
	"context"
	"hash/crc32"
	"io"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/codebox-dev/codebox/blobs/disk"
	"github.com/codebox-dev/codebox/files"
)

// TestPutSparse: a file that is mostly zeros (what `truncate -s 100M` makes in a
// container) costs the host its data, not its length; it reads back the same.
func TestPutSparse(t *testing.T) {
	ctx := context.Background()
	s, err := disk.Open(filepath.Join(t.TempDir(), "blobs"))
	if err != nil {
		t.Fatal(err)
	}
	const size = 100 << 20
	body := make([]byte, size)
	copy(body[1<<20:], "data in the middle")
	copy(body[size-5:], "tail!")
	n, sum, err := s.Put(ctx, "file_sparse", bytes.NewReader(body))
	if err != nil || n != size || sum != files.FormatCRC32C(crc32.Checksum(body, crc32.MakeTable(crc32.Castagnoli))) {
		t.Fatalf("Put = %d, %s, %v", n, sum, err)
	}
	var st syscall.Stat_t
	if err := syscall.Stat(filepath.Join(s.Dir(), "file_sparse"), &st); err != nil {
		t.Fatal(err)
	}
	if st.Size != size || st.Blocks*512 > 4<<20 {
		t.Errorf("blob of 100 MiB of mostly zeros: length %d, %d bytes allocated; want the length and at most 4 MiB", st.Size, st.Blocks*512)
	}
	rc, err := s.Open(ctx, "file_sparse")
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	got, _ := io.ReadAll(rc)
	if !bytes.Equal(got, body) {
		t.Errorf("read back %d bytes, not what was stored", len(got))
	}
	// A blob that ends in zeros keeps its length.
	if n, _, err := s.Put(ctx, "file_zeros", bytes.NewReader(make([]byte, 3<<20+7))); err != nil || n != 3<<20+7 {
		t.Fatalf("Put zeros = %d, %v", n, err)
	}
	if err := syscall.Stat(filepath.Join(s.Dir(), "file_zeros"), &st); err != nil || st.Size != 3<<20+7 {
		t.Errorf("all-zero blob: size %d, %v", st.Size, err)
	}
}
