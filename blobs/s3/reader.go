package s3

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/aws/aws-sdk-go-v2/aws"
	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/codebox-dev/codebox/errdefs"
)

// skipAhead is how far forward a seek may land and still be served by reading on through
// the open stream instead of starting a new ranged GET.
const skipAhead = 256 << 10

// Open returns the blob key for reading, or errdefs.ErrNotFound. The reader streams the
// object from where it is positioned: the GET that Open makes serves reads from the
// start, and a seek elsewhere opens one ranged GET from there on the next Read. Every GET
// is pinned to the object's ETag, so a blob replaced while it is read fails the read
// instead of mixing two versions.
func (s *Store) Open(ctx context.Context, key string) (io.ReadSeekCloser, error) {
	name, err := s.name(key)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", errdefs.ErrNotFound, err)
	}
	out, err := s.client.GetObject(ctx, &awss3.GetObjectInput{Bucket: &s.bucket, Key: &name})
	if err != nil {
		return nil, s.objectError(key, err)
	}
	return &reader{ctx: ctx, s: s, key: key, name: name, etag: out.ETag,
		size: aws.ToInt64(out.ContentLength), body: out.Body}, nil
}

type reader struct {
	ctx       context.Context
	s         *Store
	key, name string
	etag      *string
	size      int64
	pos       int64         // where the next Read reads
	body      io.ReadCloser // the stream of the last GET, nil if none
	bodyPos   int64         // where body's next byte is in the object
}

func (r *reader) Read(p []byte) (int, error) {
	if r.pos >= r.size {
		return 0, io.EOF
	}
	if r.body != nil && r.pos != r.bodyPos {
		if d := r.pos - r.bodyPos; d > 0 && d <= skipAhead {
			n, err := io.CopyN(io.Discard, r.body, d)
			r.bodyPos += n
			if err != nil {
				r.closeBody()
			}
		} else {
			r.closeBody()
		}
	}
	if r.body == nil {
		if err := r.get(); err != nil {
			return 0, err
		}
	}
	if rem := r.size - r.pos; int64(len(p)) > rem {
		p = p[:rem]
	}
	n, err := r.body.Read(p)
	r.pos += int64(n)
	r.bodyPos += int64(n)
	if err == io.EOF {
		r.closeBody()
		if r.pos < r.size {
			return n, fmt.Errorf("blob %s: stream ended at %d of %d bytes: %w", r.key, r.pos, r.size, io.ErrUnexpectedEOF)
		}
		err = nil
	}
	return n, err
}

// get starts a ranged GET from the current position to the end.
func (r *reader) get() error {
	out, err := r.s.client.GetObject(r.ctx, &awss3.GetObjectInput{Bucket: &r.s.bucket, Key: &r.name,
		Range: aws.String(fmt.Sprintf("bytes=%d-", r.pos)), IfMatch: r.etag})
	if err != nil {
		return r.s.objectError(r.key, err)
	}
	r.body, r.bodyPos = out.Body, r.pos
	return nil
}

func (r *reader) closeBody() {
	if r.body != nil {
		r.body.Close()
		r.body = nil
	}
}

func (r *reader) Seek(offset int64, whence int) (int64, error) {
	switch whence {
	case io.SeekStart:
	case io.SeekCurrent:
		offset += r.pos
	case io.SeekEnd:
		offset += r.size
	default:
		return r.pos, errors.New("s3: invalid whence")
	}
	if offset < 0 {
		return r.pos, errors.New("s3: negative position")
	}
	r.pos = offset
	return offset, nil
}

func (r *reader) Close() error {
	r.closeBody()
	return nil
}
