package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/sync/errgroup"

	"github.com/codebox-dev/codebox"
	"github.com/codebox-dev/codebox/api"
	"github.com/codebox-dev/codebox/bench"
	"github.com/codebox-dev/codebox/ids"
	"github.com/codebox-dev/codebox/image"
	"github.com/codebox-dev/codebox/sandbox"
	"github.com/codebox-dev/codebox/sandbox/oci"
)

// benchDisk is the bench servers' --sandbox-disk.
const benchDisk = 512 << 20

type benchOptions struct {
	iterations    int
	poolSize      int
	idle          int
	http          bool
	baseline      bool
	machineMemory byteSize
	keep          bool
	burst         int
	only          []string
}

func newBenchCmd() *cobra.Command {
	cfg := &serveConfig{}
	o := &benchOptions{machineMemory: 24 << 30}
	cmd := &cobra.Command{
		Use:   "bench",
		Short: "Measure sandbox latency and density against plain runtime baselines",
		Long: `Measure, in one run and side by side: the time to a ready container from the pool
and cold, the round trip of "echo hi", of Python 1+1 in the REPL, of import pandas plus
a small groupby (REPL and fresh python3), against runc run / runc exec of the same
commands on a plain bundle of the same root filesystem; and the memory of idle
containers, extrapolated to how many one machine holds.

The servers' parts are built exactly as serve builds them (same flags), in a temporary
data directory, and driven in-process; --http adds a row through the HTTP API on
loopback. Needs root and the runtime; the image is built on first use.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runBench(cmd.Context(), cfg, o, cmd.OutOrStdout(), cmd.ErrOrStderr())
		},
	}
	fs := cmd.Flags()
	fs.IntVarP(&o.iterations, "iterations", "n", 30, "samples per measurement")
	fs.IntVar(&o.poolSize, "bench-pool-size", 2, "pool size of the pooled server (the cold one has none)")
	fs.IntVar(&o.idle, "idle", 8, "idle containers to start for the memory figure (0 skips it)")
	fs.BoolVar(&o.http, "http", true, "also measure echo hi through the HTTP API on loopback")
	fs.BoolVar(&o.baseline, "baseline", true, "measure plain runtime baselines of the same commands")
	fs.Var(&o.machineMemory, "machine-memory", "memory of the machine the idle-container count extrapolates to")
	fs.BoolVar(&o.keep, "keep", false, "keep the temporary data directories")
	fs.IntVar(&o.burst, "burst", 40, "containers created at once through the HTTP API for the burst rows (0 skips them); the pooled server's --pool-max defaults to at least this")
	fs.StringSliceVar(&o.only, "only", nil, "measure only these groups of rows: ready, exec, python, burst, checkpoint, http, idle (default all)")
	fs.StringVar(&cfg.DataDir, "data-dir", "", "data directory (default: a temporary one, removed afterwards)")
	bindFilesFlags(fs, &cfg.filesConfig)
	bindSandboxFlags(fs, &cfg.sandboxConfig)
	cfg.ImageDir = "/var/cache/codebox/images"
	fs.Lookup("image-dir").DefValue = cfg.ImageDir
	// Every disk handed out is promised its full size (diskspace): a burst's 40 disks
	// of the server's 5 GiB would need 200 GiB free, which the measurements do not
	// need; their disks stay as small as their files.
	cfg.Disk.byteSize = benchDisk
	fs.Lookup("sandbox-disk").DefValue = cfg.Disk.String()
	return cmd
}

func init() {
	cmd := newBenchCmd()
	cmd.AddCommand(newBenchLoadCmd())
	rootCmd.AddCommand(cmd)
}

func runBench(ctx context.Context, cfg *serveConfig, o *benchOptions, stdout, stderr io.Writer) error {
	if os.Geteuid() != 0 {
		return errors.New("bench needs root (containers, loop mounts, cgroups)")
	}
	logger := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	base := cfg.DataDir
	if base == "" {
		dir, err := os.MkdirTemp("", "codebox-bench-")
		if err != nil {
			return err
		}
		base = dir
		if !o.keep {
			defer os.RemoveAll(dir)
		}
	}
	key := ids.New("sk-bench-")

	// Two servers' worth of parts: one with a pool, one without (cold creates). The
	// pooled one may grow its pool to a burst's demand.
	pooledCfg := *cfg
	if pooledCfg.PoolMax == 0 {
		pooledCfg.PoolMax = max(4*o.poolSize, o.burst)
	}
	pooled, closePooled, err := benchApp(ctx, &pooledCfg, filepath.Join(base, "pooled"), o.poolSize, key, logger)
	if err != nil {
		return err
	}
	defer closePooled()
	cold, closeCold, err := benchApp(ctx, cfg, filepath.Join(base, "cold"), 0, key, logger)
	if err != nil {
		return err
	}
	defer closeCold()

	bc := bench.Config{
		Runtime:    cfg.Runtime,
		Iterations: o.iterations,
		Pooled:     pooled.sandbox,
		Cold:       cold.sandbox,
		PoolReady: func(ctx context.Context) error {
			deadline := time.Now().Add(2 * time.Minute)
			for {
				ready, size := pooled.sandbox.PoolReady()
				if ready >= size {
					return nil
				}
				if time.Now().After(deadline) {
					return fmt.Errorf("pool did not refill: %d of %d ready", ready, size)
				}
				select {
				case <-ctx.Done():
					return ctx.Err()
				case <-time.After(5 * time.Millisecond):
				}
			}
		},
		PoolSize:      pooled.sandbox.PoolReady,
		Idle:          o.idle,
		Prefork:       cfg.Prefork,
		Burst:         o.burst,
		CgroupOf:      oci.CgroupsPath,
		MachineMemory: int64(o.machineMemory),
		Progress:      func(s string) { fmt.Fprintln(stderr, "bench:", s) },
	}
	if len(o.only) > 0 {
		bc.Only = make(map[string]bool)
		for _, g := range o.only {
			bc.Only[g] = true
		}
	}
	if o.baseline {
		img, err := findImage(cfg)
		if err != nil {
			return err
		}
		b, err := bench.NewBaseline(cfg.Runtime, img)
		if err != nil {
			return err
		}
		defer b.Close()
		bc.Baseline = b
	}
	var closers []func()
	defer func() {
		for _, c := range closers {
			c()
		}
	}()
	serve := func(a *app) (*bench.API, error) {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		srv := &http.Server{Handler: api.New(a.api)}
		go srv.Serve(ln)
		closers = append(closers, func() { srv.Close() })
		return bench.NewAPI("http://"+ln.Addr().String(), key, max(o.burst, 2)), nil
	}
	if o.http {
		if bc.ColdAPI, err = serve(cold); err != nil {
			return err
		}
	}
	if o.burst > 0 {
		if bc.PooledAPI, err = serve(pooled); err != nil {
			return err
		}
	}
	rep, err := bench.Run(ctx, bc)
	if err != nil {
		return err
	}
	fmt.Fprintln(stdout)
	rep.Print(stdout)
	return nil
}

// findImage returns the root filesystem the servers use (the current recipe's image),
// for the baseline bundle.
func findImage(cfg *serveConfig) (string, error) {
	img, err := image.Lookup(cfg.ImageDir)
	if err != nil {
		return "", err
	}
	return img.RootFS, nil
}

// benchApp builds the files and sandbox parts the way serve does, in dataDir, with the
// given pool size and API key. The returned func shuts them down.
func benchApp(ctx context.Context, base *serveConfig, dataDir string, poolSize int, key string, logger *slog.Logger) (*app, func(), error) {
	cfg := *base
	cfg.DataDir, cfg.PoolSize, cfg.APIKey = dataDir, poolSize, key
	cfg.Sandbox = true
	// Containers must not be stopped for idleness or adopted by anyone after the run.
	cfg.Idle = time.Hour
	ctx, cancel := context.WithCancel(ctx)
	g, gctx := errgroup.WithContext(ctx)
	a := &app{cfg: &cfg, logger: logger, group: g}
	closeAll := func() {
		cancel()
		closeCtx, done := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
		defer done()
		if a.sandbox != nil {
			// Nothing of a benchmark should outlive it.
			all, _, _ := a.sandbox.List(closeCtx, codebox.DefaultWorkspace, sandbox.ListOptions{Limit: 1000})
			for _, c := range all {
				a.sandbox.Delete(closeCtx, codebox.DefaultWorkspace, c.ID)
			}
		}
		for i := len(a.closers) - 1; i >= 0; i-- {
			if err := a.closers[i](closeCtx); err != nil {
				logger.Error("shutdown", "err", err)
			}
		}
		g.Wait()
	}
	if err := os.MkdirAll(dataDir, 0o700); err != nil {
		cancel()
		return nil, nil, err
	}
	for _, setup := range []func(context.Context, *app) error{setupFiles, setupSandbox} {
		if err := setup(gctx, a); err != nil {
			closeAll()
			return nil, nil, err
		}
	}
	if a.sandbox == nil {
		closeAll()
		return nil, nil, errors.New("the sandbox did not start")
	}
	return a, closeAll, nil
}
