package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/spf13/pflag"
	"golang.org/x/sys/unix"

	"github.com/codebox-dev/codebox/api"
	"github.com/codebox-dev/codebox/blobs/disk"
	"github.com/codebox-dev/codebox/blobs/s3"
	"github.com/codebox-dev/codebox/files"
)

// blobsConfig is where the bytes of files, skills and saved container disks live.
type blobsConfig struct {
	// Blobs is "" for directories under the data directory, or an s3:// URL.
	Blobs string
}

func bindBlobsFlags(fs *pflag.FlagSet, c *blobsConfig) {
	fs.StringVar(&c.Blobs, "blobs", "", "where file bytes, skill archives and saved container disks are stored: "+
		"directories under --data-dir (default), or s3://BUCKET[/PREFIX]?endpoint=URL&region=REGION for an S3-compatible "+
		"bucket (credentials from CODEBOX_S3_ACCESS_KEY and CODEBOX_S3_SECRET_KEY, or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY)")
}

// Namespaces of the blobs: one directory under the data directory each, or one prefix
// of the bucket each.
const (
	blobsFiles  = "files"  // uploaded and generated files
	blobsSkills = "skills" // skill archives
	blobsDisks  = "disks"  // saved container disks
)

// blobDirs are the directories of the namespaces under the data directory; the files'
// is "blobs" for the data directories made before there were others.
var blobDirs = map[string]string{blobsFiles: "blobs", blobsSkills: "skills", blobsDisks: "disks"}

// bucketTimeout bounds the first contact with the bucket at start.
const bucketTimeout = 30 * time.Second

// openBlobs opens the namespace name (blobsFiles, blobsSkills, blobsDisks) of the
// configured blobs: its directory under the data directory, or its prefix of the bucket.
// The first namespace opened on a bucket checks that the bucket answers. The readiness
// check "blobs" covers every namespace opened: the directories are writable, or the
// bucket answers.
func (a *app) openBlobs(ctx context.Context, name string) (files.Blobs, error) {
	dir, ok := blobDirs[name]
	if !ok {
		return nil, fmt.Errorf("unknown blobs namespace %q", name)
	}
	if a.cfg.Blobs == "" {
		s, err := disk.Open(filepath.Join(a.cfg.DataDir, dir))
		if err != nil {
			return nil, err
		}
		if a.blobDirs == nil {
			a.api.Checks = append(a.api.Checks, api.Check{Name: "blobs", Func: a.checkBlobDirs})
		}
		a.blobDirs = append(a.blobDirs, s.Dir())
		return s, nil
	}
	if a.bucket == nil {
		b, err := openBucket(ctx, a.cfg.Blobs)
		if err != nil {
			return nil, err
		}
		a.bucket = b
		a.api.Checks = append(a.api.Checks, api.Check{Name: "blobs", Func: b.Ping})
		a.logger.Info("blobs", "bucket", b.Location())
	}
	return a.bucket.Sub(name)
}

// openBucket opens the bucket of an s3:// --blobs URL and checks that it answers. Its
// errors name the bucket and endpoint but never the credentials.
func openBucket(ctx context.Context, rawURL string) (*s3.Store, error) {
	o, err := s3.ParseURL(rawURL, os.Getenv)
	if err != nil {
		return nil, fmt.Errorf("--blobs: %w", err)
	}
	b, err := s3.New(o)
	if err != nil {
		return nil, fmt.Errorf("--blobs: %w", err)
	}
	ctx, cancel := context.WithTimeout(ctx, bucketTimeout)
	defer cancel()
	if err := b.Ping(ctx); err != nil {
		return nil, fmt.Errorf("--blobs: cannot use %s: %w", b.Location(), err)
	}
	return b, nil
}

func (a *app) checkBlobDirs(context.Context) error {
	for _, dir := range a.blobDirs {
		if err := unix.Access(dir, unix.W_OK|unix.X_OK); err != nil {
			return fmt.Errorf("%s: %w", dir, err)
		}
	}
	return nil
}
