package main

import (
	"context"

	"github.com/spf13/pflag"
)

// loopConfig is the loop section of the server's configuration.
type loopConfig struct{}

func bindLoopFlags(fs *pflag.FlagSet, c *loopConfig) {}

func setupLoop(ctx context.Context, a *app) error { return nil }
