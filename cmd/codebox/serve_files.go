package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/dustin/go-humanize"
	"github.com/spf13/pflag"

	"github.com/codebox-dev/codebox/api"
	"github.com/codebox-dev/codebox/apikey"
	"github.com/codebox-dev/codebox/diskspace"
	"github.com/codebox-dev/codebox/files"
)

// filesConfig is the files section of the server's configuration.
type filesConfig struct {
	APIKey           string
	MaxFileSize      byteSize
	StorageQuota     byteSize
	DiskReserve      byteSize
	ExpiredFileGrace time.Duration
	SweepInterval    time.Duration
}

// byteSize is a flag value that reads sizes such as "500MB", "1TB" or "64MiB".
type byteSize int64

func (b *byteSize) String() string { return humanize.Bytes(uint64(*b)) }
func (b *byteSize) Type() string   { return "size" }
func (b *byteSize) Set(s string) error {
	n, err := humanize.ParseBytes(s)
	if err != nil {
		return err
	}
	if n == 0 || n > 1<<62 {
		return fmt.Errorf("size %q out of range", s)
	}
	*b = byteSize(n)
	return nil
}

func bindFilesFlags(fs *pflag.FlagSet, c *filesConfig) {
	c.MaxFileSize = files.DefaultMaxFileSize
	fs.StringVar(&c.APIKey, "api-key", "", "register this API key for workspace default at every start (instead of generating one)")
	fs.Var(&c.MaxFileSize, "max-file-size", "largest file an upload may carry (413 beyond)")
	fs.Var(&c.StorageQuota, "storage-quota", "bytes of files each workspace may store (default: half the data directory's disk, at most 1TB)")
	fs.Var(&c.DiskReserve, "disk-reserve", "space of the data directory's disk kept free: uploads, outputs and container disks stop short of it (default: a twentieth of the disk, 256MiB to 8GiB)")
	fs.DurationVar(&c.ExpiredFileGrace, "expired-file-grace", files.DefaultExpiredGrace, "how long expired files stay listed before they are purged")
	fs.DurationVar(&c.SweepInterval, "expired-file-sweep", 10*time.Minute, "how often expired files are looked for")
}

// setupFiles opens the database and the blobs directory, recovers from any crash, makes
// sure workspace default has a key, and starts the expired-file sweeper.
func setupFiles(ctx context.Context, a *app) error {
	cfg := &a.cfg.filesConfig
	db, err := openDatabase(ctx, a.cfg.Database, a.cfg.DataDir)
	if err != nil {
		return err
	}
	a.db = db
	a.onClose(func(context.Context) error { return db.Close() })

	blobs, err := a.openBlobs(ctx, blobsFiles)
	if err != nil {
		return err
	}
	size, err := diskspace.Size(a.cfg.DataDir)
	if err != nil {
		return fmt.Errorf("data dir: %w", err)
	}
	reserve, quota := int64(cfg.DiskReserve), int64(cfg.StorageQuota)
	if reserve == 0 {
		reserve = diskspace.DefaultReserve(size)
	}
	if a.space, err = diskspace.New(a.cfg.DataDir, reserve); err != nil {
		return fmt.Errorf("data dir: %w", err)
	}
	// Files on the data directory's disk share it with the containers' disks; files in a
	// bucket take none of it.
	var space files.Space = a.space
	if quota == 0 {
		quota = min(size/2, files.DefaultStorageQuota)
	}
	if a.bucket != nil {
		space = nil
		if cfg.StorageQuota == 0 {
			quota = files.DefaultStorageQuota
		}
	}
	a.api.Checks = append(a.api.Checks, api.Check{Name: "database", Func: db.Ping})
	logger := a.logger.With("component", "files")
	logger.Info("storage", "disk", humanize.IBytes(uint64(size)), "reserve", humanize.IBytes(uint64(reserve)),
		"quota_per_workspace", humanize.IBytes(uint64(quota)))
	svc := files.New(files.Config{MaxFileSize: int64(cfg.MaxFileSize), StorageQuota: quota,
		ExpiredGrace: cfg.ExpiredFileGrace, Space: space, Logger: logger}, db, blobs)
	if n, err := svc.Recover(ctx); err != nil {
		return fmt.Errorf("recover blobs: %w", err)
	} else if n > 0 {
		logger.Info("removed blobs of unfinished uploads", "count", n)
	}
	a.files = svc
	a.api.Files = svc

	keys := apikey.New(db)
	a.api.Auth = keys
	secret, err := keys.Bootstrap(ctx, cfg.APIKey)
	if err != nil {
		return fmt.Errorf("api key: %w", err)
	}
	if secret != "" {
		path := filepath.Join(a.cfg.DataDir, "api-key")
		if err := os.WriteFile(path, []byte(secret+"\n"), 0o600); err != nil {
			return fmt.Errorf("write api key: %w", err)
		}
		fmt.Fprintf(os.Stdout, "codebox: created API key for workspace default (saved to %s):\n\n    %s\n\n", path, secret)
	}

	a.goLoop(ctx, func(ctx context.Context) error { return svc.RunSweeper(ctx, cfg.SweepInterval) })
	return nil
}
