package metrics

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/codebox-dev/codebox/errdefs"
	"github.com/codebox-dev/codebox/sandbox"
)

// namespace prefixes every codebox metric.
const namespace = "codebox"

// Buckets of the latency histograms, in seconds. HTTP requests span cached reads
// (milliseconds) to streamed agent runs (minutes); commands and model turns span
// sub-second calls to the five-minute default limit.
var (
	httpBuckets     = []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60, 120, 300}
	execBuckets     = []float64{.01, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600}
	upstreamBuckets = []float64{.1, .25, .5, 1, 2.5, 5, 10, 20, 30, 60, 120, 300}
)

// Metrics is the server's registry and the instruments the observer hooks feed. The
// observer methods do nothing on a nil *Metrics.
type Metrics struct {
	reg    *prometheus.Registry
	logger *slog.Logger

	httpRequests *prometheus.CounterVec
	httpDuration *prometheus.HistogramVec
	httpInFlight prometheus.Gauge

	execs        *prometheus.CounterVec
	execDuration *prometheus.HistogramVec

	upstreamDuration *prometheus.HistogramVec
	upstreamErrors   *prometheus.CounterVec

	forwards        *prometheus.CounterVec
	forwardDuration *prometheus.HistogramVec
	adoptions       prometheus.Counter
}

// New returns a registry holding the Go runtime's and the process's metrics and
// codebox's own request, execution and upstream instruments. Collectors of other
// state are added with RegisterSandbox and RegisterStorage.
func New(logger *slog.Logger) *Metrics {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	m := &Metrics{
		reg:    prometheus.NewRegistry(),
		logger: logger,
		httpRequests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace, Name: "http_requests_total",
			Help: "HTTP requests answered, by route pattern, method and status code.",
		}, []string{"route", "method", "code"}),
		httpDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: namespace, Name: "http_request_duration_seconds",
			Help:    "Time from a request's arrival to the end of its answer (whole stream included), by route pattern and method.",
			Buckets: httpBuckets,
		}, []string{"route", "method"}),
		httpInFlight: prometheus.NewGauge(prometheus.GaugeOpts{
			Namespace: namespace, Name: "http_requests_in_flight",
			Help: "HTTP requests being served now.",
		}),
		execs: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace, Name: "executions_total",
			Help: "Bash commands and Python runs in containers, by kind (bash, python) and outcome " +
				"(ok, nonzero_exit, timeout, oom_killed, canceled, failed).",
		}, []string{"kind", "outcome"}),
		execDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: namespace, Name: "execution_duration_seconds",
			Help:    "Wall-clock time of a command or Python run as its caller waited for it (container restart and output collection included), by kind.",
			Buckets: execBuckets,
		}, []string{"kind"}),
		upstreamDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: namespace, Name: "upstream_request_duration_seconds",
			Help:    "Time of one call to an upstream model provider (a model turn, streamed to its end, or a forwarded request), by provider.",
			Buckets: upstreamBuckets,
		}, []string{"provider"}),
		upstreamErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace, Name: "upstream_errors_total",
			Help: "Failed calls to an upstream model provider, by provider and kind " +
				"(rate_limited, overloaded, timeout, upstream, invalid, authentication, permission, not_found, too_large, canceled, other).",
		}, []string{"provider", "kind"}),
		forwards: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace, Name: "forwarded_requests_total",
			Help: "Requests this node forwarded to another node of its cluster, by kind (container: to the node hosting it; " +
				"placement: a new container on a less loaded node) and the status code answered (error: the node could not be reached).",
		}, []string{"kind", "code"}),
		forwardDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: namespace, Name: "forwarded_request_duration_seconds",
			Help:    "Time from forwarding a request to another node to the end of its answer (whole stream included), by kind.",
			Buckets: httpBuckets,
		}, []string{"kind"}),
		adoptions: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: namespace, Name: "containers_adopted_total",
			Help: "Stopped containers of dead nodes this node took over.",
		}),
	}
	m.reg.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		m.httpRequests, m.httpDuration, m.httpInFlight,
		m.execs, m.execDuration,
		m.upstreamDuration, m.upstreamErrors,
		m.forwards, m.forwardDuration, m.adoptions,
	)
	return m
}

// Registry is where collectors are registered; tests gather from it.
func (m *Metrics) Registry() *prometheus.Registry { return m.reg }

// Handler serves the registry in the Prometheus exposition format. A collector that
// fails (the database did not answer) is reported in the log and leaves its series out
// rather than failing the whole scrape.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{
		ErrorLog:          slog.NewLogLogger(m.logger.Handler(), slog.LevelWarn),
		ErrorHandling:     promhttp.ContinueOnError,
		EnableOpenMetrics: true,
	})
}

// RequestStarted counts a request in flight until its RequestDone.
func (m *Metrics) RequestStarted() {
	if m != nil {
		m.httpInFlight.Inc()
	}
}

// RequestDone records one answered HTTP request. route is the pattern the request
// matched ("/v1/files/{file_id}"), never its path, so that the series stay few.
func (m *Metrics) RequestDone(route, method string, status int, d time.Duration) {
	if m == nil {
		return
	}
	m.httpInFlight.Dec()
	m.httpRequests.WithLabelValues(route, method, strconv.Itoa(status)).Inc()
	m.httpDuration.WithLabelValues(route, method).Observe(d.Seconds())
}

// ObserveExec records one command (kind "bash") or Python run (kind "python").
func (m *Metrics) ObserveExec(kind string, res *sandbox.ExecResult, d time.Duration, err error) {
	if m == nil {
		return
	}
	m.execs.WithLabelValues(kind, execOutcome(res, err)).Inc()
	m.execDuration.WithLabelValues(kind).Observe(d.Seconds())
}

func execOutcome(res *sandbox.ExecResult, err error) string {
	switch {
	case errors.Is(err, context.Canceled):
		return "canceled"
	case errors.Is(err, errdefs.ErrTimeout), errors.Is(err, context.DeadlineExceeded):
		return "timeout"
	case err != nil || res == nil:
		return "failed"
	case res.TimedOut:
		return "timeout"
	case res.OOMKilled:
		return "oom_killed"
	case res.ExitCode != 0:
		return "nonzero_exit"
	}
	return "ok"
}

// ObserveUpstream records one call to an upstream model provider ("anthropic",
// "openai", "script"); err is nil on success, else the driver's error (errdefs kinds).
func (m *Metrics) ObserveUpstream(provider string, d time.Duration, err error) {
	if m == nil {
		return
	}
	if provider == "" {
		provider = "unknown"
	}
	m.upstreamDuration.WithLabelValues(provider).Observe(d.Seconds())
	if err != nil {
		m.upstreamErrors.WithLabelValues(provider, upstreamKind(err)).Inc()
	}
}

func upstreamKind(err error) string {
	for _, k := range []struct {
		err  error
		name string
	}{
		{context.Canceled, "canceled"},
		{errdefs.ErrRateLimited, "rate_limited"},
		{errdefs.ErrUnavailable, "overloaded"},
		{errdefs.ErrTimeout, "timeout"},
		{context.DeadlineExceeded, "timeout"},
		{errdefs.ErrUpstream, "upstream"},
		{errdefs.ErrUnauthenticated, "authentication"},
		{errdefs.ErrPermission, "permission"},
		{errdefs.ErrNotFound, "not_found"},
		{errdefs.ErrTooLarge, "too_large"},
		{errdefs.ErrInvalid, "invalid"},
	} {
		if errors.Is(err, k.err) {
			return k.name
		}
	}
	return "other"
}
