package main

import (
	"context"

	"github.com/spf13/pflag"
)

// sandboxConfig is the sandbox section of the server's configuration.
type sandboxConfig struct{}

func bindSandboxFlags(fs *pflag.FlagSet, c *sandboxConfig) {}

func setupSandbox(ctx context.Context, a *app) error { return nil }
