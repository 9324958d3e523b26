package api_test

import (
	"bytes"
	"context"
	"os"
	"testing"

	"github.com/anthropics/anthropic-sdk-go"

	"github.com/codebox-dev/codebox/diskspace"
	"github.com/codebox-dev/codebox/files"
	"github.com/codebox-dev/codebox/internal/testenv"
)

// TestUploadFullDisk: an upload that does not fit on the server's disk is a 507 with
// error code insufficient_storage, not a bare 500, and leaves nothing behind — both
// when the free-space ledger sees it coming and when the disk runs out under it.
func TestUploadFullDisk(t *testing.T) {
	for _, ledger := range []bool{true, false} {
		name := map[bool]string{true: "ledger", false: "enospc"}[ledger]
		t.Run(name, func(t *testing.T) {
			dir := testenv.SmallDisk(t, "24m")
			var cfg files.Config
			if ledger {
				l, err := diskspace.New(dir, 2<<20)
				if err != nil {
					t.Fatal(err)
				}
				cfg.Space = l
			}
			e := newFilesEnvIn(t, dir, cfg)
			c := e.client(e.keyA)
			ctx := context.Background()
			if _, err := c.Beta.Files.Upload(ctx, anthropic.BetaFileUploadParams{
				File: anthropic.File(bytes.NewReader(bytes.Repeat([]byte("a"), 6<<20)), "fits.txt", "text/plain")}); err != nil {
				t.Fatalf("6 MiB upload: %v", err)
			}
			_, err := c.Beta.Files.Upload(ctx, anthropic.BetaFileUploadParams{
				File: anthropic.File(bytes.NewReader(bytes.Repeat([]byte("b"), 20<<20)), "big.txt", "text/plain")})
			ae := apiError(t, err, 507, "api_error")
			if code := errorCode(ae); code != diskspace.Code {
				t.Errorf("error code = %q, want %s: %s", code, diskspace.Code, ae.RawJSON())
			}
			entries, _ := os.ReadDir(e.blobDir)
			if len(entries) != 1 {
				t.Errorf("blobs after the refused upload: %d, want the first one only", len(entries))
			}
			list, err := c.Beta.Files.List(ctx, anthropic.BetaFileListParams{})
			if err != nil || len(list.Data) != 1 {
				t.Errorf("listing after the refused upload: %v, %v; want the first file only", list, err)
			}
		})
	}
}
