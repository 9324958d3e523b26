package diskimage_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/codebox-dev/codebox/diskimage"
)

// sparseImage makes a size-byte sparse file at path with data written at the given
// offsets (random bytes, so that compression does not hide what was archived) and
// returns its content for comparison at those offsets.
func sparseImage(t testing.TB, path string, size int64, writes map[int64]int) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := f.Truncate(size); err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for off, n := range writes {
		b := make([]byte, n)
		for i := range b {
			b[i] = byte(rng.Uint32())
		}
		if _, err := f.WriteAt(b, off); err != nil {
			t.Fatal(err)
		}
	}
}

func archive(t testing.TB, path string, gen uint64) ([]byte, diskimage.Stats) {
	t.Helper()
	var buf bytes.Buffer
	st, err := diskimage.Write(context.Background(), &buf, path, gen)
	if err != nil {
		t.Fatal(err)
	}
	if st.Written != int64(buf.Len()) {
		t.Fatalf("Stats.Written = %d, archive has %d bytes", st.Written, buf.Len())
	}
	return buf.Bytes(), st
}

func allocated(t testing.TB, path string) int64 {
	t.Helper()
	var st syscall.Stat_t
	if err := syscall.Stat(path, &st); err != nil {
		t.Fatal(err)
	}
	return st.Blocks * 512
}

// sameFile fails unless a and b have the same length and bytes. Only the data
// extents of each are compared with the other: outside them both read zeros.
func sameFile(t testing.TB, a, b string) {
	t.Helper()
	fa, err := os.Open(a)
	if err != nil {
		t.Fatal(err)
	}
	defer fa.Close()
	fb, err := os.Open(b)
	if err != nil {
		t.Fatal(err)
	}
	defer fb.Close()
	sa, _ := fa.Stat()
	sb, _ := fb.Stat()
	if sa.Size() != sb.Size() {
		t.Fatalf("%s is %d bytes, %s %d", a, sa.Size(), b, sb.Size())
	}
	compareExtents(t, fa, fb, sa.Size())
	compareExtents(t, fb, fa, sa.Size())
}

func compareExtents(t testing.TB, x, y *os.File, size int64) {
	t.Helper()
	bx, by := make([]byte, 1<<20), make([]byte, 1<<20)
	for off := int64(0); off < size; {
		data, err := unix.Seek(int(x.Fd()), off, unix.SEEK_DATA)
		if errors.Is(err, unix.ENXIO) {
			return
		}
		if err != nil {
			t.Fatal(err)
		}
		hole, err := unix.Seek(int(x.Fd()), data, unix.SEEK_HOLE)
		if err != nil {
			t.Fatal(err)
		}
		for p := data; p < hole; p += int64(len(bx)) {
			n := int(min(int64(len(bx)), hole-p))
			if _, err := x.ReadAt(bx[:n], p); err != nil {
				t.Fatal(err)
			}
			if _, err := y.ReadAt(by[:n], p); err != nil && err != io.EOF {
				t.Fatal(err)
			}
			if !bytes.Equal(bx[:n], by[:n]) {
				t.Fatalf("%s and %s differ in [%d, %d)", x.Name(), y.Name(), p, p+int64(n))
			}
		}
		off = hole
	}
}

// TestRoundTripSparse: a 5 GiB image holding 10 MB archives to about 10 MB, restores
// byte for byte, and the restored image is as sparse as the original.
func TestRoundTripSparse(t *testing.T) {
	dir := t.TempDir()
	src := filepath.Join(dir, "disk.img")
	const size = 5 << 30
	sparseImage(t, src, size, map[int64]int{
		0:                  8 << 20,
		1 << 30:            1<<20 + 17, // not a whole block
		3<<30 + 4096*3 + 5: 1 << 20,
		size - 100:         100, // the very end
	})
	// A run of zeros inside a data extent costs nothing either.
	f, err := os.OpenFile(src, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteAt(make([]byte, 4<<20), 2<<30); err != nil {
		t.Fatal(err)
	}
	f.Close()
	const data = 8<<20 + 1<<20 + 17 + 1<<20 + 100
	arch, st := archive(t, src, 7)
	if st.Data < data || st.Data > data+3*4096*2 {
		t.Errorf("Stats.Data = %d, want about %d", st.Data, data)
	}
	if len(arch) > data+data/20 {
		t.Errorf("archive of a 5 GiB image holding %d bytes of random data is %d bytes", data, len(arch))
	}
	h, err := diskimage.ReadHeader(bytes.NewReader(arch))
	if err != nil || h.Size != size || h.Generation != 7 {
		t.Fatalf("ReadHeader = %+v, %v", h, err)
	}
	dst := filepath.Join(dir, "restored.img")
	if err := os.WriteFile(dst, []byte("an older image"), 0o600); err != nil {
		t.Fatal(err)
	}
	var seen diskimage.Header
	h, err = diskimage.Restore(context.Background(), bytes.NewReader(arch), dst, diskimage.RestoreOptions{
		MaxSize: size, Check: func(h diskimage.Header) error { seen = h; return nil }})
	if err != nil {
		t.Fatal(err)
	}
	if h != seen || h.Generation != 7 {
		t.Errorf("Restore header %+v, Check saw %+v", h, seen)
	}
	sameFile(t, src, dst)
	if got := allocated(t, dst); got > data+1<<20 {
		t.Errorf("restored image allocates %d bytes for %d bytes of data", got, data)
	}
	if got, want := allocated(t, dst), allocated(t, src); got > want {
		t.Errorf("restored image allocates %d bytes, the original %d", got, want)
	}
	leftovers(t, dir, "disk.img", "restored.img")
}

func TestEmptyImage(t *testing.T) {
	dir := t.TempDir()
	src := filepath.Join(dir, "disk.img")
	sparseImage(t, src, 1<<30, nil)
	arch, st := archive(t, src, 1)
	if st.Data != 0 || len(arch) > 200 {
		t.Errorf("empty 1 GiB image: %d bytes of data, archive of %d bytes", st.Data, len(arch))
	}
	dst := filepath.Join(dir, "out.img")
	if _, err := diskimage.Restore(context.Background(), bytes.NewReader(arch), dst, diskimage.RestoreOptions{}); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(dst); err != nil || fi.Size() != 1<<30 || allocated(t, dst) != 0 {
		t.Errorf("restored empty image: %v, %v, %d allocated", fi, err, allocated(t, dst))
	}
}

// leftovers fails if dir holds anything but names.
func leftovers(t testing.TB, dir string, names ...string) {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]bool{}
	for _, n := range names {
		want[n] = true
	}
	for _, e := range entries {
		if !want[e.Name()] {
			t.Errorf("left behind: %s", e.Name())
		}
	}
}

// restoreBroken restores a broken archive over an existing image and checks that it
// fails, leaves the image as it was and nothing else behind.
func restoreBroken(t testing.TB, arch []byte, opts diskimage.RestoreOptions) error {
	t.Helper()
	dir := t.TempDir()
	dst := filepath.Join(dir, "disk.img")
	if err := os.WriteFile(dst, []byte("the previous disk"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := diskimage.Restore(context.Background(), bytes.NewReader(arch), dst, opts)
	if err == nil {
		return nil
	}
	if b, rerr := os.ReadFile(dst); rerr != nil || string(b) != "the previous disk" {
		t.Fatalf("after a failed restore (%v) the image is %q, %v", err, b, rerr)
	}
	leftovers(t, dir, "disk.img")
	return err
}

func TestCorruptArchive(t *testing.T) {
	dir := t.TempDir()
	src := filepath.Join(dir, "disk.img")
	sparseImage(t, src, 64<<20, map[int64]int{4096: 100000, 32 << 20: 5000})
	arch, _ := archive(t, src, 3)
	cases := map[string][]byte{
		"empty":          nil,
		"header only":    arch[:32],
		"cut":            arch[:len(arch)/2],
		"last byte cut":  arch[:len(arch)-1],
		"not an archive": append([]byte("PK\x03\x04 a zip file, say"), make([]byte, 64)...),
		"trailing data":  append(append([]byte{}, arch...), 0),
	}
	for _, at := range []int{9, 20, 40, len(arch) / 3, len(arch) / 2, len(arch) - 10, len(arch) - 1} {
		b := append([]byte{}, arch...)
		b[at] ^= 0x40
		cases["bit flipped at "+strconv.Itoa(at)] = b
	}
	for name, b := range cases {
		t.Run(name, func(t *testing.T) {
			err := restoreBroken(t, b, diskimage.RestoreOptions{})
			if name == "trailing data" && err == nil {
				return // bytes after the zstd stream's end are not read
			}
			if !errors.Is(err, diskimage.ErrCorrupt) {
				t.Fatalf("Restore = %v, want ErrCorrupt", err)
			}
		})
	}
	t.Run("too large", func(t *testing.T) {
		if err := restoreBroken(t, arch, diskimage.RestoreOptions{MaxSize: 1 << 20}); !errors.Is(err, diskimage.ErrCorrupt) {
			t.Fatalf("Restore = %v, want ErrCorrupt", err)
		}
	})
	t.Run("refused by Check", func(t *testing.T) {
		stale := errors.New("stale")
		err := restoreBroken(t, arch, diskimage.RestoreOptions{Check: func(h diskimage.Header) error {
			if h.Generation < 4 {
				return stale
			}
			return nil
		}})
		if !errors.Is(err, stale) {
			t.Fatalf("Restore = %v, want Check's error", err)
		}
	})
	t.Run("source fails", func(t *testing.T) {
		boom := errors.New("connection reset")
		r := io.MultiReader(bytes.NewReader(arch[:len(arch)/2]), errReader{boom})
		dst := filepath.Join(t.TempDir(), "disk.img")
		_, err := diskimage.Restore(context.Background(), r, dst, diskimage.RestoreOptions{})
		if !errors.Is(err, boom) || errors.Is(err, diskimage.ErrCorrupt) {
			t.Fatalf("Restore = %v, want the source's error, not damage", err)
		}
		if _, err := os.Stat(dst); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("a failed restore left %s: %v", dst, err)
		}
	})
}

type errReader struct{ err error }

func (e errReader) Read([]byte) (int, error) { return 0, e.err }

// FuzzRestore: whatever the bytes, Restore either reproduces a checked image or fails
// leaving the previous one in place.
func FuzzRestore(f *testing.F) {
	dir := f.TempDir()
	src := filepath.Join(dir, "disk.img")
	sparseImage(f, src, 1<<20, map[int64]int{0: 5000, 512 << 10: 3})
	arch, _ := archive(f, src, 1)
	f.Add(arch)
	f.Add(arch[:40])
	f.Fuzz(func(t *testing.T, b []byte) {
		restoreBroken(t, b, diskimage.RestoreOptions{MaxSize: 1 << 20})
	})
}
