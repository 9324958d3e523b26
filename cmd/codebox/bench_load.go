package main

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/codebox-dev/codebox/bench"
)

func newBenchLoadCmd() *cobra.Command {
	cfg := bench.LoadConfig{}
	var levels string
	cmd := &cobra.Command{
		Use:   "load",
		Short: "Ramp concurrent seed workflows against a server on loopback and print throughput, p99 and errors",
		Long: `Drive a running codebox server on this machine with the seed workflow: upload
sales.csv, then one Messages request with code execution (the scripted model
script/sales by default; start the server with
--script provider/script/testdata/sales.json) that analyses it and saves chart.png.
A workflow succeeds when the chart comes back. Each level runs its number of
concurrent clients for --duration, each client repeating the workflow and deleting
what it made; after a 429 or 529 a client waits as retry-after asks (at most
--max-retry-after). Only loopback servers are accepted.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			for _, f := range strings.Split(levels, ",") {
				n, err := strconv.Atoi(strings.TrimSpace(f))
				if err != nil || n < 1 || n > 500 {
					return fmt.Errorf("--clients: %q is not a number of clients from 1 to 500", f)
				}
				cfg.Levels = append(cfg.Levels, n)
			}
			if cfg.APIKey == "" {
				return fmt.Errorf("--api-key (or CODEBOX_API_KEY) is required")
			}
			cfg.Progress = func(s string) { fmt.Fprintln(cmd.ErrOrStderr(), "bench load:", s) }
			res, err := bench.RunLoad(cmd.Context(), cfg)
			if len(res) > 0 {
				fmt.Fprintf(cmd.OutOrStdout(), "\ncodebox bench load: %s, model %s, %s per level\n\n", cfg.BaseURL, cfg.Model, cfg.Duration)
				bench.PrintLoad(cmd.OutOrStdout(), res)
			}
			return err
		},
	}
	fs := cmd.Flags()
	fs.StringVar(&cfg.BaseURL, "url", "http://127.0.0.1:8080", "base URL of the server (loopback only)")
	fs.StringVar(&cfg.APIKey, "api-key", "", "API key of the server")
	fs.StringVar(&cfg.Model, "model", "script/sales", "model to ask")
	fs.StringVar(&levels, "clients", "1,5,10,25,50", "comma-separated numbers of concurrent clients, one level each")
	fs.DurationVar(&cfg.Duration, "duration", 20*time.Second, "how long each level starts new workflows")
	fs.DurationVar(&cfg.RequestTimeout, "request-timeout", 2*time.Minute, "client-side limit of one workflow")
	fs.DurationVar(&cfg.MaxRetryAfter, "max-retry-after", 10*time.Second, "longest wait a retry-after may impose on a client")
	fs.DurationVar(&cfg.Pause, "pause", 5*time.Second, "pause between levels")
	return cmd
}
