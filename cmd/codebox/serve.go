package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/sync/errgroup"

	"github.com/codebox-dev/codebox/api"
	"github.com/codebox-dev/codebox/diskspace"
	"github.com/codebox-dev/codebox/files"
	"github.com/codebox-dev/codebox/sandbox"
	"github.com/codebox-dev/codebox/store/sqlite"
)

// serveConfig is the server's configuration. Each part of the system owns its own
// section (filesConfig in serve_files.go, sandboxConfig in serve_sandbox.go,
// loopConfig in serve_loop.go) and binds its own flags.
type serveConfig struct {
	Listen   string
	DataDir  string
	LogLevel string
	filesConfig
	sandboxConfig
	loopConfig
}

// app is what the setup stages build and share. Closers run in reverse order at shutdown.
type app struct {
	cfg     *serveConfig
	logger  *slog.Logger
	api     api.Config
	db      *sqlite.DB        // the one metadata database, opened by setupFiles
	files   *files.Service    // file storage, for generated files and container uploads
	space   *diskspace.Ledger // the data directory's free space and what is promised of it
	sandbox *sandbox.Manager  // containers; nil when the sandbox is disabled
	group   *errgroup.Group   // long-running loops: sweepers, pools, expiry
	closers []func(context.Context) error
}

func (a *app) onClose(f func(context.Context) error) { a.closers = append(a.closers, f) }

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
	fs.StringVar(&cfg.LogLevel, "log-level", "info", "debug, info, warn or error")
	bindFilesFlags(fs, &cfg.filesConfig)
	bindSandboxFlags(fs, &cfg.sandboxConfig)
	bindLoopFlags(fs, &cfg.loopConfig)
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
	if cfg.DataDir, err = filepath.Abs(cfg.DataDir); err != nil {
		return err
	}
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return fmt.Errorf("data dir: %w", err)
	}
	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	g, gctx := errgroup.WithContext(runCtx)
	a := &app{cfg: cfg, logger: logger, group: g}
	a.api.Logger = logger
	defer func() {
		cancel()
		closeCtx, done := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
		defer done()
		for i := len(a.closers) - 1; i >= 0; i-- {
			if err := a.closers[i](closeCtx); err != nil {
				logger.Error("shutdown", "err", err)
			}
		}
		if err := g.Wait(); err != nil && !errors.Is(err, context.Canceled) && retErr == nil {
			retErr = err
		}
	}()

	for _, setup := range []func(context.Context, *app) error{setupFiles, setupSandbox, setupLoop} {
		if err := setup(gctx, a); err != nil {
			return err
		}
	}

	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	srv := &http.Server{Handler: api.New(a.api), ReadHeaderTimeout: 30 * time.Second}
	logger.Info("codebox listening", "addr", "http://"+ln.Addr().String(), "data_dir", cfg.DataDir)
	// Tests and scripts read this line to find the port when --listen ends in :0.
	fmt.Fprintf(os.Stdout, "codebox: listening on http://%s\n", ln.Addr())

	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-gctx.Done():
	}
	logger.Info("shutting down: finishing in-flight requests")
	shutCtx, done := context.WithTimeout(context.WithoutCancel(ctx), 60*time.Second)
	defer done()
	if err := srv.Shutdown(shutCtx); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	if err := context.Cause(gctx); err != nil && !errors.Is(err, context.Canceled) {
		return err
	}
	return nil
}
