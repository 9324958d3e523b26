// Package s3 stores blobs in an S3-compatible object store (AWS S3, SeaweedFS, MinIO…),
// so that several codebox nodes share one set of bytes.
//
// A blob is one object, named by its store's prefix and its key. Put streams: a blob that
// fits in one part goes up in one PutObject, a larger one as a multipart upload with a
// fixed number of part buffers in flight, whatever its size; the upload is aborted on any
// error, so a blob is visible whole or not at all. The CRC-32C that Put returns is also
// the object's S3 checksum (a FULL_OBJECT checksum for multipart uploads), which the
// server checks on arrival and Stat reads back. Open reads with ranged GETs, one stream
// per seek rather than one request per Read.
package s3

import (
	"context"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/credentials"
	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/codebox-dev/codebox/blobs"
	"github.com/codebox-dev/codebox/errdefs"
	"github.com/codebox-dev/codebox/files"
)

var (
	_ files.Blobs       = (*Store)(nil)
	_ files.SharedBlobs = (*Store)(nil)
)

// Options says where the bucket is and how to upload to it.
type Options struct {
	Bucket string
	// Prefix starts the name of every object ("" or ending in "/").
	Prefix string
	// Endpoint is the server's URL; "" means AWS itself.
	Endpoint string
	Region   string // default us-east-1
	// PathStyle addresses the bucket in the URL's path (http://host/bucket/key) rather
	// than its host name: what loopback and most self-hosted servers need.
	PathStyle bool

	AccessKey, SecretKey, SessionToken string

	// PartSize is the size of a multipart upload's parts, and the largest blob sent in
	// one PutObject (default 8 MiB, at least 5 MiB: S3's smallest part).
	PartSize int
	// Parallel is how many parts of one upload are in memory (read or being sent) at
	// once (default 4): an upload holds at most Parallel × PartSize bytes.
	Parallel int
	// HTTPClient, when set, replaces the SDK's.
	HTTPClient *http.Client
}

// Defaults of Options.
const (
	DefaultPartSize = 8 << 20
	DefaultParallel = 4
	DefaultRegion   = "us-east-1"
	minPartSize     = 5 << 20
	maxParts        = 10_000
)

// Store is one namespace (a prefix) of a bucket. Its methods are safe for concurrent use.
type Store struct {
	client *awss3.Client
	opts   Options
	bucket string
	prefix string
	bufs   *sync.Pool // of *[]byte of opts.PartSize, shared by a store and its Subs
}

// New returns a store on opts without contacting the server; Open also checks that the
// bucket answers.
func New(opts Options) (*Store, error) {
	if opts.Bucket == "" {
		return nil, fmt.Errorf("s3: no bucket: %w", errdefs.ErrInvalid)
	}
	if opts.Prefix != "" && !strings.HasSuffix(opts.Prefix, "/") {
		opts.Prefix += "/"
	}
	if opts.Region == "" {
		opts.Region = DefaultRegion
	}
	if opts.PartSize == 0 {
		opts.PartSize = DefaultPartSize
	}
	if opts.PartSize < minPartSize {
		return nil, fmt.Errorf("s3: part size %d below the minimum of %d: %w", opts.PartSize, minPartSize, errdefs.ErrInvalid)
	}
	if opts.Parallel <= 0 {
		opts.Parallel = DefaultParallel
	}
	o := awss3.Options{
		Region:       opts.Region,
		UsePathStyle: opts.PathStyle,
		Credentials:  credentials.NewStaticCredentialsProvider(opts.AccessKey, opts.SecretKey, opts.SessionToken),
		// Put sends the checksums it computed while streaming; the SDK computing its own
		// would read every part a second time. Ranged GETs have no whole-object checksum
		// to validate.
		RequestChecksumCalculation: aws.RequestChecksumCalculationWhenRequired,
		ResponseChecksumValidation: aws.ResponseChecksumValidationWhenRequired,
	}
	if opts.Endpoint != "" {
		o.BaseEndpoint = aws.String(opts.Endpoint)
	}
	if opts.HTTPClient != nil {
		o.HTTPClient = opts.HTTPClient
	}
	size := opts.PartSize
	return &Store{
		client: awss3.New(o),
		opts:   opts,
		bucket: opts.Bucket,
		prefix: opts.Prefix,
		bufs:   &sync.Pool{New: func() any { b := make([]byte, size); return &b }},
	}, nil
}

// Open returns a store on opts once its bucket answers.
func Open(ctx context.Context, opts Options) (*Store, error) {
	s, err := New(opts)
	if err != nil {
		return nil, err
	}
	if err := s.Ping(ctx); err != nil {
		return nil, err
	}
	return s, nil
}

// Sub returns the namespace name of s: the same bucket, its objects under
// Prefix + name + "/". The keys of a Sub are not keys of s.
func (s *Store) Sub(name string) (*Store, error) {
	if !blobs.ValidKey(name) {
		return nil, fmt.Errorf("s3: namespace %q: %w", name, errdefs.ErrInvalid)
	}
	sub := *s
	sub.prefix = s.prefix + name + "/"
	return &sub, nil
}

// Location names the store for logs and errors: bucket and prefix, never credentials.
func (s *Store) Location() string {
	loc := "s3://" + s.bucket + "/" + s.prefix
	if s.opts.Endpoint != "" {
		loc += " at " + s.opts.Endpoint
	}
	return loc
}

// Ping checks that the bucket exists and the credentials may use it.
func (s *Store) Ping(ctx context.Context) error {
	if _, err := s.client.HeadBucket(ctx, &awss3.HeadBucketInput{Bucket: &s.bucket}); err != nil {
		if statusOf(err) == http.StatusNotFound {
			return fmt.Errorf("bucket %s: %w", s.bucket, errdefs.ErrNotFound)
		}
		return fmt.Errorf("bucket %s: %w", s.bucket, err)
	}
	return nil
}

func (s *Store) name(key string) (string, error) {
	if !blobs.ValidKey(key) {
		return "", fmt.Errorf("blob key %q: %w", key, errdefs.ErrInvalid)
	}
	return s.prefix + key, nil
}

// Stat returns the size of the blob key and its CRC-32C as files.FormatCRC32C renders it
// ("" for an object stored without one), or errdefs.ErrNotFound.
func (s *Store) Stat(ctx context.Context, key string) (size int64, checksum string, err error) {
	name, err := s.name(key)
	if err != nil {
		return 0, "", fmt.Errorf("%w: %v", errdefs.ErrNotFound, err)
	}
	out, err := s.client.HeadObject(ctx, &awss3.HeadObjectInput{Bucket: &s.bucket, Key: &name,
		ChecksumMode: types.ChecksumModeEnabled})
	if err != nil {
		return 0, "", s.objectError(key, err)
	}
	if c := aws.ToString(out.ChecksumCRC32C); c != "" {
		if sum, ok := decodeCRC(c); ok {
			checksum = files.FormatCRC32C(sum)
		}
	}
	return aws.ToInt64(out.ContentLength), checksum, nil
}

// Remove deletes the blob key; a missing blob is not an error.
func (s *Store) Remove(ctx context.Context, key string) error {
	name, err := s.name(key)
	if err != nil {
		return err
	}
	if _, err := s.client.DeleteObject(ctx, &awss3.DeleteObjectInput{Bucket: &s.bucket, Key: &name}); err != nil && statusOf(err) != http.StatusNotFound {
		return fmt.Errorf("remove blob %s: %w", key, err)
	}
	return nil
}

// Keys lists the blobs of the store, page by page; the objects of its Subs and names that
// are not keys are left out.
func (s *Store) Keys(ctx context.Context) ([]string, error) { return s.keys(ctx, time.Time{}) }

// KeysBefore lists the blobs stored before t: a bucket is shared by every node, and what
// is younger may be an upload another node is about to record (files.SharedBlobs).
func (s *Store) KeysBefore(ctx context.Context, t time.Time) ([]string, error) { return s.keys(ctx, t) }

// keys lists the store's blobs, those stored before before unless it is zero.
func (s *Store) keys(ctx context.Context, before time.Time) ([]string, error) {
	var keys []string
	p := awss3.NewListObjectsV2Paginator(s.client, &awss3.ListObjectsV2Input{Bucket: &s.bucket,
		Prefix: aws.String(s.prefix), Delimiter: aws.String("/")})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("list blobs: %w", err)
		}
		for _, o := range page.Contents {
			if !before.IsZero() && (o.LastModified == nil || !o.LastModified.Before(before)) {
				continue
			}
			if k := strings.TrimPrefix(aws.ToString(o.Key), s.prefix); blobs.ValidKey(k) {
				keys = append(keys, k)
			}
		}
	}
	return keys, nil
}

// objectError turns a 404 into errdefs.ErrNotFound.
func (s *Store) objectError(key string, err error) error {
	switch statusOf(err) {
	case http.StatusNotFound:
		return fmt.Errorf("blob %s: %w", key, errdefs.ErrNotFound)
	}
	return fmt.Errorf("blob %s: %w", key, err)
}

// statusOf is the HTTP status of the response that err reports, 0 if none.
func statusOf(err error) int {
	var re *awshttp.ResponseError
	if errors.As(err, &re) {
		return re.HTTPStatusCode()
	}
	return 0
}

// castagnoli is the CRC-32C table; hash/crc32 uses the CPU's CRC32 instruction.
var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// encodeCRC renders a CRC-32C as S3's checksum headers carry it: base64 of its four
// big-endian bytes.
func encodeCRC(sum uint32) *string {
	return aws.String(base64.StdEncoding.EncodeToString(binary.BigEndian.AppendUint32(nil, sum)))
}

func decodeCRC(s string) (uint32, bool) {
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil || len(b) != 4 {
		return 0, false
	}
	return binary.BigEndian.Uint32(b), true
}
