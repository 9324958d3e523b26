package s3

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"slices"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/codebox-dev/codebox/blobs"
	"github.com/codebox-dev/codebox/files"
)

// abortTimeout bounds the abort of a failed multipart upload, which runs even when the
// caller's context is gone.
const abortTimeout = time.Minute

// Put streams r into the blob key and returns its size and CRC-32C (as
// files.FormatCRC32C) once the object is complete. A blob of up to PartSize bytes is one
// PutObject; a larger one a multipart upload holding at most Parallel parts in memory. On
// any error, a cancelled ctx included, the upload is aborted: no object appears, and an
// object already under key stays as it was.
func (s *Store) Put(ctx context.Context, key string, r io.Reader) (int64, string, error) {
	name, err := s.name(key)
	if err != nil {
		return 0, "", err
	}
	if err := ctx.Err(); err != nil {
		return 0, "", err
	}
	buf := s.bufs.Get().(*[]byte)
	m, err := blobs.Fill(r, *buf)
	if err != nil && err != io.EOF {
		s.bufs.Put(buf)
		return int64(m), "", err
	}
	if err == io.EOF {
		defer s.bufs.Put(buf)
		if err := ctx.Err(); err != nil {
			return int64(m), "", err
		}
		sum := crc32.Checksum((*buf)[:m], castagnoli)
		if _, err := s.client.PutObject(ctx, &awss3.PutObjectInput{Bucket: &s.bucket, Key: &name,
			Body: bytes.NewReader((*buf)[:m]), ContentLength: aws.Int64(int64(m)),
			ChecksumCRC32C: encodeCRC(sum)}); err != nil {
			return int64(m), "", fmt.Errorf("put blob %s: %w", key, ctxErr(ctx, err))
		}
		return int64(m), files.FormatCRC32C(sum), nil
	}
	return s.putMultipart(ctx, key, name, r, buf)
}

// upload is one multipart upload in progress.
type upload struct {
	s     *Store
	ctx   context.Context // cancelled at the first failure
	fail  context.CancelCauseFunc
	name  string
	id    *string
	free  chan *[]byte // part buffers back from the senders
	nbufs int          // buffers taken from the pool, at most Parallel
	wg    sync.WaitGroup
	mu    sync.Mutex
	parts []types.CompletedPart
}

func (s *Store) putMultipart(ctx context.Context, key, name string, r io.Reader, first *[]byte) (n int64, sum string, err error) {
	u := &upload{s: s, name: name, free: make(chan *[]byte, s.opts.Parallel), nbufs: 1}
	u.ctx, u.fail = context.WithCancelCause(ctx)
	cur, m := first, len(*first) // cur: the buffer in the loop's hands, nil once sent
	defer func() {
		u.fail(nil)
		u.wg.Wait()
		if cur != nil {
			s.bufs.Put(cur)
		}
		for range len(u.free) {
			s.bufs.Put(<-u.free)
		}
	}()
	create, err := s.client.CreateMultipartUpload(ctx, &awss3.CreateMultipartUploadInput{Bucket: &s.bucket, Key: &name,
		ChecksumAlgorithm: types.ChecksumAlgorithmCrc32c, ChecksumType: types.ChecksumTypeFullObject})
	if err != nil {
		return 0, "", fmt.Errorf("put blob %s: %w", key, ctxErr(ctx, err))
	}
	u.id = create.UploadId
	defer func() {
		if err != nil {
			if aerr := u.abort(); aerr != nil {
				err = errors.Join(err, fmt.Errorf("abort the upload of blob %s: %w", key, aerr))
			}
		}
	}()

	var crc uint32
	last := false
	for part := int32(1); ; part++ {
		if err := u.ctx.Err(); err != nil {
			return n, "", u.err(ctx, key, context.Cause(u.ctx))
		}
		if part > maxParts {
			return n, "", fmt.Errorf("put blob %s: more than %d parts of %d bytes", key, maxParts, s.opts.PartSize)
		}
		crc = crc32.Update(crc, castagnoli, (*cur)[:m])
		n += int64(m)
		u.send(part, cur, m)
		cur = nil
		if last {
			break
		}
		if cur, err = u.buffer(); err != nil {
			return n, "", u.err(ctx, key, err)
		}
		var rerr error
		m, rerr = blobs.Fill(r, *cur)
		if rerr != nil && rerr != io.EOF {
			return n + int64(m), "", rerr
		}
		if rerr == io.EOF {
			if m == 0 {
				break
			}
			last = true
		}
	}
	u.wg.Wait()
	if u.ctx.Err() != nil {
		return n, "", u.err(ctx, key, context.Cause(u.ctx))
	}
	slices.SortFunc(u.parts, func(a, b types.CompletedPart) int { return int(*a.PartNumber - *b.PartNumber) })
	if _, err := s.client.CompleteMultipartUpload(ctx, &awss3.CompleteMultipartUploadInput{Bucket: &s.bucket, Key: &name,
		UploadId: u.id, MultipartUpload: &types.CompletedMultipartUpload{Parts: u.parts},
		ChecksumCRC32C: encodeCRC(crc), ChecksumType: types.ChecksumTypeFullObject}); err != nil {
		return n, "", fmt.Errorf("put blob %s: complete: %w", key, ctxErr(ctx, err))
	}
	return n, files.FormatCRC32C(crc), nil
}

// buffer returns a free part buffer: a new one while fewer than Parallel are out, else
// the first a sender gives back.
func (u *upload) buffer() (*[]byte, error) {
	select {
	case b := <-u.free:
		return b, nil
	default:
	}
	if u.nbufs < u.s.opts.Parallel {
		u.nbufs++
		return u.s.bufs.Get().(*[]byte), nil
	}
	select {
	case b := <-u.free:
		return b, nil
	case <-u.ctx.Done():
		return nil, context.Cause(u.ctx)
	}
}

// send uploads part in the background and gives its buffer back when done.
func (u *upload) send(part int32, buf *[]byte, m int) {
	u.wg.Add(1)
	go func() {
		defer u.wg.Done()
		defer func() { u.free <- buf }()
		b := (*buf)[:m]
		out, err := u.s.client.UploadPart(u.ctx, &awss3.UploadPartInput{Bucket: &u.s.bucket, Key: &u.name,
			UploadId: u.id, PartNumber: aws.Int32(part), Body: bytes.NewReader(b), ContentLength: aws.Int64(int64(m)),
			ChecksumCRC32C: encodeCRC(crc32.Checksum(b, castagnoli))})
		if err != nil {
			u.fail(fmt.Errorf("part %d: %w", part, err))
			return
		}
		u.mu.Lock()
		u.parts = append(u.parts, types.CompletedPart{PartNumber: aws.Int32(part), ETag: out.ETag,
			ChecksumCRC32C: out.ChecksumCRC32C})
		u.mu.Unlock()
	}()
}

// err is the error a failed upload returns: the caller's cancellation if that is what
// happened, else the first failure.
func (u *upload) err(ctx context.Context, key string, err error) error {
	if ctx.Err() != nil {
		return ctx.Err()
	}
	return fmt.Errorf("put blob %s: %w", key, err)
}

// abort drops the parts sent so far, once every sender has finished: a part that lands
// after the abort would start the upload anew on some servers. It runs even when the
// caller's context is gone. An upload whose abort fails is still never visible; a bucket
// lifecycle rule (AbortIncompleteMultipartUpload) reclaims its parts.
func (u *upload) abort() error {
	u.fail(errors.New("upload aborted"))
	u.wg.Wait()
	ctx, cancel := context.WithTimeout(context.WithoutCancel(u.ctx), abortTimeout)
	defer cancel()
	_, err := u.s.client.AbortMultipartUpload(ctx, &awss3.AbortMultipartUploadInput{Bucket: &u.s.bucket,
		Key: &u.name, UploadId: u.id})
	return err
}

// ctxErr prefers the caller's cancellation to the SDK's account of it.
func ctxErr(ctx context.Context, err error) error {
	if cerr := ctx.Err(); cerr != nil {
		return cerr
	}
	return err
}
