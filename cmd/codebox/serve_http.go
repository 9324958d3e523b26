package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"time"

	"github.com/spf13/pflag"
	"golang.org/x/sys/unix"

	"github.com/codebox-dev/codebox/api"
	"github.com/codebox-dev/codebox/connlimit"
	"github.com/codebox-dev/codebox/errdefs"
	"github.com/codebox-dev/codebox/web"
)

// httpConfig is the HTTP section of the server's configuration: what connections may
// hold, and how shutdown drains.
type httpConfig struct {
	MaxConnections    int
	ReadHeaderTimeout time.Duration
	IdleTimeout       time.Duration
	BodyReadTimeout   time.Duration
	ShutdownDrain     time.Duration
	ShutdownTimeout   time.Duration
}

func bindHTTPFlags(fs *pflag.FlagSet, c *httpConfig) {
	fs.IntVar(&c.MaxConnections, "max-connections", defaultMaxConnections(),
		"connections held at once, unless set half the open-file limit and at most one per 256 KiB of memory; beyond, idle ones are closed, then new ones answered 529")
	fs.DurationVar(&c.ReadHeaderTimeout, "read-header-timeout", 10*time.Second, "time a connection has to send its request line and headers")
	fs.DurationVar(&c.IdleTimeout, "idle-timeout", 30*time.Second, "how long an idle keep-alive connection is kept")
	fs.DurationVar(&c.BodyReadTimeout, "body-read-timeout", 30*time.Second, "longest wait for more of a request body (408 beyond); a body that keeps arriving is never cut")
	fs.DurationVar(&c.ShutdownDrain, "shutdown-drain", 5*time.Second, "after SIGTERM, how long /readyz answers 503 while requests are still served, before the listener closes")
	fs.DurationVar(&c.ShutdownTimeout, "shutdown-timeout", time.Minute, "after the drain, how long requests in flight may take to finish")
}

// connBudget is the memory one connection is allowed in the default connection limit:
// a goroutine, its buffers and TLS-free HTTP/1.1 state take tens of KiB; the rest is
// headroom for the request it serves.
const connBudget = 256 << 10

// defaultMaxConnections is half the open-file limit the server raises itself to (the
// other half is for containers' pipes, the database and files), and at most one
// connection per connBudget of memory.
func defaultMaxConnections() int {
	var rl unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_NOFILE, &rl); err != nil {
		return 1024
	}
	n := rl.Max / 2
	var si unix.Sysinfo_t
	if err := unix.Sysinfo(&si); err == nil {
		n = min(n, uint64(si.Totalram)*uint64(si.Unit)/connBudget)
	}
	return int(max(n, 64))
}

// raiseNoFile raises the soft open-file limit to the hard one, so that the connection
// limit, not the file descriptors, is what refuses clients.
func raiseNoFile() (unix.Rlimit, error) {
	var rl unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_NOFILE, &rl); err != nil {
		return rl, err
	}
	if rl.Cur < rl.Max {
		rl.Cur = rl.Max
		if err := unix.Setrlimit(unix.RLIMIT_NOFILE, &rl); err != nil {
			return rl, err
		}
	}
	return rl, nil
}

// errConnectionsFull answers a connection refused because every held one is busy.
var errConnectionsFull = errdefs.WithRetryAfter(errdefs.New(errdefs.ErrUnavailable, "",
	"The server holds as many connections as it may and all are busy; retry after a few seconds"), time.Second)

// serveHTTP listens and serves a's API until ctx ends (a signal) or the parts fail
// (appCtx ends). On a signal it drains: /readyz answers 503 and keep-alives end while
// requests are still served for ShutdownDrain, then the listener closes and requests in
// flight get ShutdownTimeout to finish.
func serveHTTP(ctx, appCtx context.Context, a *app) error {
	cfg, logger := &a.cfg.httpConfig, a.logger
	if cfg.MaxConnections < 1 {
		return errors.New("--max-connections must be at least 1")
	}
	rl, err := raiseNoFile()
	if err != nil {
		logger.Warn("raising the open-file limit", "err", err)
	}
	if uint64(cfg.MaxConnections) > rl.Cur {
		logger.Warn("--max-connections exceeds the open-file limit; clients may be refused by the kernel instead",
			"max_connections", cfg.MaxConnections, "nofile", rl.Cur)
	}
	inner, err := net.Listen("tcp", a.cfg.Listen)
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	ln := connlimit.New(inner, cfg.MaxConnections, func(c net.Conn) {
		c.SetDeadline(time.Now().Add(2 * time.Second))
		api.WriteConnError(c, errConnectionsFull)
	})
	a.api.BodyReadTimeout = cfg.BodyReadTimeout
	a.api.Console = web.Handler()
	handler := api.New(a.api)
	srv := &http.Server{
		Handler:           handler,
		ReadHeaderTimeout: cfg.ReadHeaderTimeout,
		IdleTimeout:       cfg.IdleTimeout,
		ConnState:         ln.ConnState,
	}
	logger.Info("codebox listening", "addr", "http://"+inner.Addr().String(), "data_dir", a.cfg.DataDir,
		"max_connections", cfg.MaxConnections, "nofile", rl.Cur)
	// Tests and scripts read this line to find the port when --listen ends in :0.
	fmt.Fprintf(os.Stdout, "codebox: listening on http://%s\n", inner.Addr())

	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-appCtx.Done():
		logger.Error("a background part failed; shutting down", "err", context.Cause(appCtx))
	case <-ctx.Done():
		logger.Info("draining: /readyz answers 503, requests are still served", "for", cfg.ShutdownDrain)
		handler.Drain()
		srv.SetKeepAlivesEnabled(false)
		select {
		case <-time.After(cfg.ShutdownDrain):
		case <-appCtx.Done():
		case err := <-errc:
			return err
		}
	}
	logger.Info("shutting down: finishing in-flight requests", "timeout", cfg.ShutdownTimeout)
	shutCtx, done := context.WithTimeout(context.WithoutCancel(ctx), cfg.ShutdownTimeout)
	defer done()
	if err := srv.Shutdown(shutCtx); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	if err := context.Cause(appCtx); err != nil && !errors.Is(err, context.Canceled) {
		return err
	}
	return nil
}
