package s3_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/codebox-dev/codebox/blobs/blobstest"
	"github.com/codebox-dev/codebox/blobs/s3"
	"github.com/codebox-dev/codebox/errdefs"
	"github.com/codebox-dev/codebox/files"
	"github.com/codebox-dev/codebox/internal/testenv"
)

// open returns a store on a fresh bucket of the test's SeaweedFS, under prefix.
func open(t testing.TB, prefix string, tune func(*s3.Options)) (*s3.Store, *testenv.S3Env) {
	t.Helper()
	env := testenv.S3(t)
	o, err := s3.ParseURL(env.URL(prefix), envOf(env))
	if err != nil {
		t.Fatal(err)
	}
	if tune != nil {
		tune(&o)
	}
	s, err := s3.Open(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	return s, env
}

func envOf(env *testenv.S3Env) func(string) string {
	return func(k string) string {
		for _, kv := range env.Env() {
			if v, ok := strings.CutPrefix(kv, k+"="); ok {
				return v
			}
		}
		return ""
	}
}

// smallParts makes multipart uploads start at S3's smallest part size, so that the
// suite's large blobs take several parts.
func smallParts(o *s3.Options) { o.PartSize = 5 << 20; o.Parallel = 3 }

func TestConformance(t *testing.T) {
	blobstest.Run(t, blobstest.Config{}, func(t *testing.T) files.Blobs {
		s, _ := open(t, "files", smallParts)
		return s
	})
}

// TestSub: namespaces of one bucket see only their own keys, and the bucket's root sees
// none of theirs.
func TestSub(t *testing.T) {
	ctx := context.Background()
	root, env := open(t, "", smallParts)
	filesNS, err := root.Sub("files")
	if err != nil {
		t.Fatal(err)
	}
	skillsNS, _ := root.Sub("skills")
	if _, _, err := filesNS.Put(ctx, "file_1", strings.NewReader("f")); err != nil {
		t.Fatal(err)
	}
	if _, _, err := skillsNS.Put(ctx, "skillver_1", strings.NewReader("s")); err != nil {
		t.Fatal(err)
	}
	if _, _, err := root.Put(ctx, "top", strings.NewReader("t")); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		s    *s3.Store
		want []string
	}{{root, []string{"top"}}, {filesNS, []string{"file_1"}}, {skillsNS, []string{"skillver_1"}}} {
		got, err := c.s.Keys(ctx)
		if slices.Sort(got); err != nil || !slices.Equal(got, c.want) {
			t.Errorf("Keys of %s = %v, %v; want %v", c.s.Location(), got, err, c.want)
		}
	}
	if _, err := filesNS.Open(ctx, "skillver_1"); !errors.Is(err, errdefs.ErrNotFound) {
		t.Errorf("files namespace opens a skills key: %v", err)
	}
	// The objects really are under the prefixes.
	out, err := env.Client().ListObjectsV2(ctx, &awss3.ListObjectsV2Input{Bucket: &env.Bucket})
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, o := range out.Contents {
		names = append(names, *o.Key)
	}
	if slices.Sort(names); !slices.Equal(names, []string{"files/file_1", "skills/skillver_1", "top"}) {
		t.Errorf("objects in the bucket: %v", names)
	}
	if _, err := root.Sub("a/b"); !errors.Is(err, errdefs.ErrInvalid) {
		t.Errorf("Sub(a/b) = %v, want ErrInvalid", err)
	}
}

// TestStatChecksum: the CRC-32C that Put returns is the object's own S3 checksum, for a
// single PutObject and for a multipart upload alike, and the server checks it.
func TestStatChecksum(t *testing.T) {
	ctx := context.Background()
	s, env := open(t, "files", smallParts)
	for _, size := range []int{9, 13<<20 + 5} {
		body := bytes.Repeat([]byte("123456789"), size/9)
		n, sum, err := s.Put(ctx, "file_sum", bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		gotN, gotSum, err := s.Stat(ctx, "file_sum")
		if err != nil || gotN != n || gotSum != sum {
			t.Errorf("%d bytes: Stat = %d, %s, %v; Put said %d, %s", size, gotN, gotSum, err, n, sum)
		}
	}
	if _, _, err := s.Stat(ctx, "file_none"); !errors.Is(err, errdefs.ErrNotFound) {
		t.Errorf("Stat of a missing key = %v", err)
	}
	// A body that does not match its declared checksum is refused.
	key, bad := "files/file_bad", "AAAAAA=="
	if _, err := env.Client().PutObject(ctx, &awss3.PutObjectInput{Bucket: &env.Bucket, Key: &key,
		Body: strings.NewReader("123456789"), ChecksumCRC32C: &bad}); err == nil {
		t.Error("the server stored an object whose CRC-32C does not match")
	}
}

// TestFailedMultipartLeavesNoUpload: a failed or cancelled upload is aborted on the server,
// not merely left incomplete.
func TestFailedMultipartLeavesNoUpload(t *testing.T) {
	ctx := context.Background()
	s, env := open(t, "files", smallParts)
	broken := io.MultiReader(io.LimitReader(zeros{}, 12<<20), errReader{errors.New("connection reset")})
	if _, _, err := s.Put(ctx, "file_broken", broken); err == nil {
		t.Fatal("Put of a broken reader succeeded")
	}
	out, err := env.Client().ListMultipartUploads(ctx, &awss3.ListMultipartUploadsInput{Bucket: &env.Bucket})
	if err != nil {
		t.Fatal(err)
	}
	if len(out.Uploads) != 0 {
		t.Errorf("%d multipart uploads left after a failed Put", len(out.Uploads))
	}
}

// TestPutMemoryBounded: a large streamed upload allocates a few part buffers, not the
// object. Allocation is measured (TotalAlloc), not time.
func TestPutMemoryBounded(t *testing.T) {
	if testing.Short() {
		t.Skip("uploads 256 MiB")
	}
	ctx := context.Background()
	const partSize, parallel = 5 << 20, 3
	s, _ := open(t, "files", func(o *s3.Options) { o.PartSize = partSize; o.Parallel = parallel })
	const size = 256 << 20
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	n, _, err := s.Put(ctx, "file_big", io.LimitReader(zeros{}, size))
	runtime.ReadMemStats(&after)
	if err != nil || n != size {
		t.Fatalf("Put = %d, %v", n, err)
	}
	alloc := after.TotalAlloc - before.TotalAlloc
	// The part buffers, plus room for what the HTTP client and the SDK allocate per
	// request: far below the object's size.
	limit := uint64(parallel*partSize + 24<<20)
	t.Logf("upload of %d MiB in %d MiB parts allocated %.1f MiB", size>>20, partSize>>20, float64(alloc)/(1<<20))
	if alloc > limit {
		t.Errorf("upload of %d MiB allocated %d MiB, want at most %d MiB", size>>20, alloc>>20, limit>>20)
	}
}

// TestOpenReadsInStreams: reading a blob in small pieces makes one GET, not one per
// Read; a seek makes one more.
func TestOpenReadsInStreams(t *testing.T) {
	ctx := context.Background()
	var rt countingTransport
	s, _ := open(t, "files", func(o *s3.Options) { smallParts(o); o.HTTPClient = rt.client() })
	body := bytes.Repeat([]byte("0123456789abcdef"), 1<<16) // 1 MiB
	if _, _, err := s.Put(ctx, "file_r", bytes.NewReader(body)); err != nil {
		t.Fatal(err)
	}
	rt.reset()
	rc, err := s.Open(ctx, "file_r")
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	buf := make([]byte, 100)
	for range 1000 {
		if _, err := io.ReadFull(rc, buf); err != nil {
			t.Fatal(err)
		}
	}
	if got := rt.gets(); got != 1 {
		t.Errorf("1000 small reads made %d GETs, want 1", got)
	}
	if _, err := rc.Seek(900_000, io.SeekStart); err != nil {
		t.Fatal(err)
	}
	rest, err := io.ReadAll(rc)
	if err != nil || !bytes.Equal(rest, body[900_000:]) {
		t.Fatalf("after the seek: %d bytes, %v", len(rest), err)
	}
	if got := rt.gets(); got != 2 {
		t.Errorf("a seek and a read made %d GETs in all, want 2", got)
	}
}

type zeros struct{}

func (zeros) Read(p []byte) (int, error) { clear(p); return len(p), nil }

type errReader struct{ err error }

func (r errReader) Read([]byte) (int, error) { return 0, r.err }

// TestRecoverSparesFreshBlobs: a node starting on a shared bucket does not take the blob
// that another node has just stored, and not yet recorded, for a leftover of a crash.
func TestRecoverSparesFreshBlobs(t *testing.T) {
	ctx := context.Background()
	s, _ := open(t, "files", nil)
	if _, _, err := s.Put(ctx, "file_fresh", strings.NewReader("another node's upload")); err != nil {
		t.Fatal(err)
	}
	never := func(context.Context, string) (bool, error) { return false, nil }
	if n, err := files.RemoveOrphans(ctx, s, never); err != nil || n != 0 {
		t.Fatalf("RemoveOrphans = %d, %v; want the fresh blob kept", n, err)
	}
	if keys, err := s.KeysBefore(ctx, time.Now().Add(time.Minute)); err != nil || !slices.Equal(keys, []string{"file_fresh"}) {
		t.Fatalf("KeysBefore(in a minute) = %v, %v", keys, err)
	}
	if keys, err := s.KeysBefore(ctx, time.Now().Add(-time.Minute)); err != nil || len(keys) != 0 {
		t.Fatalf("KeysBefore(a minute ago) = %v, %v", keys, err)
	}
}
