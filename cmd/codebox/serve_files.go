package main

import (
	"context"

	"github.com/spf13/pflag"
)

// filesConfig is the files section of the server's configuration.
type filesConfig struct{}

func bindFilesFlags(fs *pflag.FlagSet, c *filesConfig) {}

func setupFiles(ctx context.Context, a *app) error { return nil }
