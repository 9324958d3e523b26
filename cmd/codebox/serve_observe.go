package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"time"

	"github.com/spf13/pflag"

	"github.com/codebox-dev/codebox/metrics"
)

// observeConfig is the operator section of the server's configuration: metrics and
// profiling.
type observeConfig struct {
	Metrics       bool
	MetricsListen string
	DebugListen   string
}

func bindObserveFlags(fs *pflag.FlagSet, c *observeConfig) {
	fs.BoolVar(&c.Metrics, "metrics", true, "serve Prometheus metrics at GET /metrics, without an API key")
	fs.StringVar(&c.MetricsListen, "metrics-listen", "", "serve /metrics on this address instead of on --listen (e.g. a private interface)")
	fs.StringVar(&c.DebugListen, "debug-listen", "", "serve Go's pprof profiles at /debug/pprof/ on this loopback address (e.g. 127.0.0.1:6060)")
}

// setupMetrics makes the registry before anything it observes is built, and refuses a
// --debug-listen that is not loopback before anything starts. /metrics is
// served without a key: its figures are server-wide (no workspace, id or model name
// in any label), a workspace's key must not be what unlocks another workspace's load,
// and Prometheus scrapes without credentials by default. An operator who does not want
// them next to the API moves them with --metrics-listen or turns them off.
func setupMetrics(ctx context.Context, a *app) error {
	if a.cfg.DebugListen != "" {
		if err := checkLoopback(a.cfg.DebugListen); err != nil {
			return fmt.Errorf("--debug-listen: %w", err)
		}
	}
	a.metrics = metrics.New(a.logger.With("component", "metrics"))
	a.api.MetricsConfig.Observer = a.metrics
	if a.cfg.Metrics && a.cfg.MetricsListen == "" {
		a.api.MetricsConfig.Metrics = a.metrics.Handler()
	}
	return nil
}

// setupOperator registers the collectors of what the earlier stages built, and starts
// the metrics and debug listeners when they have their own addresses.
func setupOperator(ctx context.Context, a *app) error {
	if a.db != nil {
		a.metrics.RegisterStorage(a.db)
	}
	if a.sandbox != nil {
		a.metrics.RegisterSandbox(a.sandbox)
	}
	if a.cfg.Metrics && a.cfg.MetricsListen != "" {
		mux := http.NewServeMux()
		mux.Handle("GET /metrics", a.metrics.Handler())
		if err := a.serveOperator("metrics", a.cfg.MetricsListen, mux); err != nil {
			return fmt.Errorf("--metrics-listen: %w", err)
		}
	}
	if a.cfg.DebugListen != "" {
		if err := a.serveOperator("debug", a.cfg.DebugListen, pprofMux()); err != nil {
			return fmt.Errorf("--debug-listen: %w", err)
		}
	}
	return nil
}

// serveOperator serves h on addr until shutdown.
func (a *app) serveOperator(name, addr string, h http.Handler) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	a.logger.Info("codebox "+name+" listening", "addr", "http://"+ln.Addr().String())
	fmt.Fprintf(os.Stdout, "codebox: %s listening on http://%s\n", name, ln.Addr())
	a.group.Go(func() error {
		if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
			return fmt.Errorf("%s listener: %w", name, err)
		}
		return nil
	})
	a.onClose(srv.Shutdown)
	return nil
}

// checkLoopback refuses an address that is not on the loopback interface: profiles
// show memory contents and command lines, and a CPU profile costs the server CPU.
func checkLoopback(addr string) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return err
	}
	if host == "localhost" {
		return nil
	}
	if ip := net.ParseIP(host); ip != nil && ip.IsLoopback() {
		return nil
	}
	return fmt.Errorf("%q is not a loopback address: profiles are served on 127.0.0.1, [::1] or localhost only", addr)
}

// pprofMux serves net/http/pprof's handlers on a mux of its own, so that nothing
// reaches them through http.DefaultServeMux.
func pprofMux() *http.ServeMux {
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	return mux
}
