package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/sync/errgroup"

	"github.com/codebox-dev/codebox/api"
	"github.com/codebox-dev/codebox/blobs/s3"
	"github.com/codebox-dev/codebox/diskspace"
	"github.com/codebox-dev/codebox/files"
	"github.com/codebox-dev/codebox/metrics"
	"github.com/codebox-dev/codebox/sandbox"
	"github.com/codebox-dev/codebox/skills"
)

// serveConfig is the server's configuration. Each part of the system owns its own
// section (filesConfig in serve_files.go, sandboxConfig in serve_sandbox.go,
// loopConfig in serve_loop.go) and binds its own flags.
type serveConfig struct {
	Listen   string
	DataDir  string
	Database string
	LogLevel string
	httpConfig
	blobsConfig
	filesConfig
	skillsConfig
	sandboxConfig
	loopConfig
	batchesConfig
	observeConfig
	clusterConfig
}

// app is what the setup stages build and share. Whatever a stage starts registers how
// to stop it (onClose, goLoop), and shutdown stops everything in reverse order of start.
type app struct {
	cfg    *serveConfig
	logger *slog.Logger
	api    api.Config
	db     database          // the one metadata database, opened by setupFiles
	files  *files.Service    // file storage, for generated files and container uploads
	skills *skills.Service   // Agent Skills, for the Skills API and container.skills
	space  *diskspace.Ledger // the data directory's free space and what is promised of it
	bucket *s3.Store         // the --blobs bucket; nil for blobs under the data directory
	// blobDirs are the blobs directories opened under the data directory, for readiness.
	blobDirs []string
	sandbox  *sandbox.Manager // containers; nil when the sandbox is disabled
	metrics  *metrics.Metrics // always made; served only as --metrics says
	group    *errgroup.Group  // long-running loops: sweepers, pools, expiry
	closers  []func(context.Context) error
}

func (a *app) onClose(f func(context.Context) error) { a.closers = append(a.closers, f) }

// goLoop runs f in the group (its failure stops the server) until shutdown reaches it:
// its stop is a closer like any other, so a loop stops, and is waited for, before
// whatever was set up ahead of it (the database under the files sweeper) is closed.
func (a *app) goLoop(ctx context.Context, f func(context.Context) error) {
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	a.group.Go(func() error {
		defer close(done)
		return f(ctx)
	})
	a.onClose(func(closeCtx context.Context) error {
		cancel()
		select {
		case <-done:
			return nil
		case <-closeCtx.Done():
			return fmt.Errorf("background loop did not stop: %w", closeCtx.Err())
		}
	})
}

// shutdown runs the closers in reverse order of registration and waits for the group.
func (a *app) shutdown(ctx context.Context) error {
	var errs []error
	for i := len(a.closers) - 1; i >= 0; i-- {
		if err := a.closers[i](ctx); err != nil {
			a.logger.Error("shutdown", "err", err)
			errs = append(errs, err)
		}
	}
	if err := a.group.Wait(); err != nil && !errors.Is(err, context.Canceled) {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

func newServeCmd() *cobra.Command {
	cfg := &serveConfig{}
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run the codebox server (SQLite, local disk and the local sandbox runtime by default)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runServe(cmd.Context(), cfg)
		},
	}
	fs := cmd.Flags()
	fs.StringVar(&cfg.Listen, "listen", "127.0.0.1:8080", "address to listen on")
	fs.StringVar(&cfg.DataDir, "data-dir", "./codebox-data", "directory for the database, file bytes, images and containers")
	bindDatabaseFlag(fs, &cfg.Database)
	fs.StringVar(&cfg.LogLevel, "log-level", "info", "debug, info, warn or error")
	bindHTTPFlags(fs, &cfg.httpConfig)
	bindBlobsFlags(fs, &cfg.blobsConfig)
	bindFilesFlags(fs, &cfg.filesConfig)
	bindSkillsFlags(fs, &cfg.skillsConfig)
	bindSandboxFlags(fs, &cfg.sandboxConfig)
	bindLoopFlags(fs, &cfg.loopConfig)
	bindBatchesFlags(fs, &cfg.batchesConfig)
	bindObserveFlags(fs, &cfg.observeConfig)
	bindClusterFlags(fs, &cfg.clusterConfig)
	return cmd
}

func init() { rootCmd.AddCommand(newServeCmd()) }

func newLogger(level string) (*slog.Logger, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("--log-level: %w", err)
	}
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: l})), nil
}

func runServe(ctx context.Context, cfg *serveConfig) (retErr error) {
	logger, err := newLogger(cfg.LogLevel)
	if err != nil {
		return err
	}
	if err := resolveDirs(cfg); err != nil {
		return err
	}
	// The parts run until the HTTP server has finished its requests, not until the
	// signal: requests in flight need the database, files and sandbox to their end.
	appCtx, stopApp := context.WithCancel(context.WithoutCancel(ctx))
	defer stopApp()
	g, gctx := errgroup.WithContext(appCtx)
	a := &app{cfg: cfg, logger: logger, group: g}
	a.api.Logger = logger
	defer func() {
		closeCtx, done := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
		defer done()
		if err := a.shutdown(closeCtx); err != nil && retErr == nil {
			retErr = err
		}
	}()

	for _, setup := range []func(context.Context, *app) error{setupMetrics, setupFiles, setupSkills, setupSandbox, setupCluster, setupLoop, setupBatches, setupOperator} {
		if err := setup(gctx, a); err != nil {
			return err
		}
	}
	return serveHTTP(ctx, gctx, a)
}
