package main

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/spf13/pflag"

	"github.com/codebox-dev/codebox/api"
	"github.com/codebox-dev/codebox/batches"
)

// batchesConfig is the Message Batches section of the server's configuration.
type batchesConfig struct {
	BatchShare     float64
	BatchWorkers   int
	BatchRetention time.Duration
}

func bindBatchesFlags(fs *pflag.FlagSet, c *batchesConfig) {
	fs.Float64Var(&c.BatchShare, "batch-share", 0.5, "share (0 to 1) of the execution seats (--max-executions, and of one workspace's) that batch requests may hold at once; the rest stays for interactive requests")
	fs.IntVar(&c.BatchWorkers, "batch-workers", 0, "batch requests running at once (0: --batch-share of --max-executions, at least 1)")
	fs.DurationVar(&c.BatchRetention, "batch-retention", batches.DefaultRetention, "how long an ended batch and its results are kept")
}

// setupBatches serves /v1/messages/batches and runs its workers, which send each
// request through the Messages handler; it needs the database and the loop.
func setupBatches(ctx context.Context, a *app) error {
	cfg := &a.cfg.batchesConfig
	if cfg.BatchShare <= 0 || cfg.BatchShare > 1 {
		return fmt.Errorf("--batch-share must be more than 0 and at most 1")
	}
	if cfg.BatchWorkers < 0 || cfg.BatchRetention <= 0 {
		return fmt.Errorf("--batch-workers must be at least 0 and --batch-retention positive")
	}
	if a.db == nil || a.api.MessagesConfig.Loop == nil {
		return nil
	}
	ex := &a.cfg.loopConfig.Executions
	workers := cfg.BatchWorkers
	if workers == 0 {
		workers = max(1, int(cfg.BatchShare*float64(ex.Global)))
	}
	perWS := max(1, int(cfg.BatchShare*float64(ex.PerWorkspace)))
	var seats api.SeatTaker
	if a.api.ContainersConfig.Runner != nil {
		seats = a.api.ContainersConfig.Runner
	}
	svc := batches.New(batches.Config{Workers: workers, WorkersPerWorkspace: perWS, Retention: cfg.BatchRetention,
		Owner: batchOwner(a.cfg.DataDir), Logger: a.logger.With("component", "batches")}, a.db, api.NewMessageExecutor(a.api, seats))
	a.api.BatchesConfig.Batches = svc
	a.goLoop(ctx, svc.Run)
	a.logger.Info("message batches ready", "workers", workers, "workers_per_workspace", perWS, "retention", cfg.BatchRetention)
	return nil
}

// batchOwner names this server's batch claims: its host and its data directory. The
// name stays the same across restarts, so that a restarted server takes back its own
// claims at once, and differs between servers sharing one database, even on one host,
// so that none releases the claims another is running.
func batchOwner(dataDir string) string {
	host, err := os.Hostname()
	if err != nil || host == "" {
		host = "localhost"
	}
	return host + ":" + dataDir
}
