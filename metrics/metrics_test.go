package metrics_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/codebox-dev/codebox/errdefs"
	"github.com/codebox-dev/codebox/metrics"
	"github.com/codebox-dev/codebox/sandbox"
)

type sandboxStats sandbox.Stats

func (s sandboxStats) Stats() sandbox.Stats { return sandbox.Stats(s) }

type storageStats struct {
	files, bytes int64
	err          error
}

func (s storageStats) StoredFiles(context.Context) (int64, int64, error) {
	return s.files, s.bytes, s.err
}

func TestExecOutcomes(t *testing.T) {
	m := metrics.New(nil)
	for _, c := range []struct {
		res *sandbox.ExecResult
		err error
	}{
		{&sandbox.ExecResult{}, nil},
		{&sandbox.ExecResult{ExitCode: 2}, nil},
		{&sandbox.ExecResult{TimedOut: true, ExitCode: 137}, nil},
		{&sandbox.ExecResult{OOMKilled: true, ExitCode: 137}, nil},
		{nil, context.Canceled},
		{nil, errdefs.ErrUnavailable},
	} {
		m.ObserveExec(sandbox.ExecKindBash, c.res, time.Second, c.err)
	}
	want := `
# HELP codebox_executions_total Bash commands and Python runs in containers, by kind (bash, python) and outcome (ok, nonzero_exit, timeout, oom_killed, canceled, failed).
# TYPE codebox_executions_total counter
codebox_executions_total{kind="bash",outcome="canceled"} 1
codebox_executions_total{kind="bash",outcome="failed"} 1
codebox_executions_total{kind="bash",outcome="nonzero_exit"} 1
codebox_executions_total{kind="bash",outcome="ok"} 1
codebox_executions_total{kind="bash",outcome="oom_killed"} 1
codebox_executions_total{kind="bash",outcome="timeout"} 1
`
	if err := testutil.GatherAndCompare(m.Registry(), strings.NewReader(want), "codebox_executions_total"); err != nil {
		t.Fatal(err)
	}
	if n := testutil.CollectAndCount(m.Registry(), "codebox_execution_duration_seconds"); n != 1 {
		t.Fatalf("execution_duration_seconds series = %d, want 1", n)
	}
}

func TestUpstreamErrorKinds(t *testing.T) {
	m := metrics.New(nil)
	m.ObserveUpstream("anthropic", time.Second, nil)
	m.ObserveUpstream("anthropic", time.Second, &errdefs.Public{Kind: errdefs.ErrRateLimited, Message: "slow down"})
	m.ObserveUpstream("openai", time.Second, errors.Join(errors.New("x"), errdefs.ErrUpstream))
	m.ObserveUpstream("openai", time.Second, errors.New("?"))
	want := `
# HELP codebox_upstream_errors_total Failed calls to an upstream model provider, by provider and kind (rate_limited, overloaded, timeout, upstream, invalid, authentication, permission, not_found, too_large, canceled, other).
# TYPE codebox_upstream_errors_total counter
codebox_upstream_errors_total{kind="other",provider="openai"} 1
codebox_upstream_errors_total{kind="rate_limited",provider="anthropic"} 1
codebox_upstream_errors_total{kind="upstream",provider="openai"} 1
`
	if err := testutil.GatherAndCompare(m.Registry(), strings.NewReader(want), "codebox_upstream_errors_total"); err != nil {
		t.Fatal(err)
	}
}

func TestCollectors(t *testing.T) {
	m := metrics.New(nil)
	m.RegisterSandbox(sandboxStats{Containers: map[sandbox.Status]int{sandbox.StatusRunning: 3, sandbox.StatusExpired: 1}, PoolReady: 1, PoolSize: 2})
	m.RegisterStorage(storageStats{files: 4, bytes: 1234})
	want := `
# HELP codebox_containers Containers owned by workspaces, by status (running, stopped, expired); the warm pool is not included.
# TYPE codebox_containers gauge
codebox_containers{status="expired"} 1
codebox_containers{status="running"} 3
codebox_containers{status="stopped"} 0
# HELP codebox_pool_ready Pre-started containers waiting in the warm pool now.
# TYPE codebox_pool_ready gauge
codebox_pool_ready 1
# HELP codebox_pool_size Pre-started containers the warm pool keeps ready now (--pool-size to --pool-max, following demand).
# TYPE codebox_pool_size gauge
codebox_pool_size 2
# HELP codebox_stored_bytes Bytes of the files the Files API stores, across every workspace.
# TYPE codebox_stored_bytes gauge
codebox_stored_bytes 1234
# HELP codebox_stored_files Files the Files API stores, across every workspace.
# TYPE codebox_stored_files gauge
codebox_stored_files 4
`
	if err := testutil.GatherAndCompare(m.Registry(), strings.NewReader(want),
		"codebox_containers", "codebox_pool_ready", "codebox_pool_size", "codebox_stored_bytes", "codebox_stored_files"); err != nil {
		t.Fatal(err)
	}
}

// TestHandlerSurvivesFailingCollector checks that a database that does not answer
// costs the scrape its storage series, not everything else.
func TestHandlerSurvivesFailingCollector(t *testing.T) {
	m := metrics.New(nil)
	m.RegisterStorage(storageStats{err: errors.New("database is locked")})
	m.RequestStarted()
	m.RequestDone("/v1/files", "GET", 200, time.Millisecond)
	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	if rec.Code != http.StatusOK {
		t.Fatalf("status = %d, want 200", rec.Code)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(rec.Body)
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"codebox_http_requests_total", "go_goroutines", "process_resident_memory_bytes"} {
		if fams[name] == nil {
			t.Errorf("%s missing from the scrape", name)
		}
	}
	if fams["codebox_stored_bytes"] != nil {
		t.Error("codebox_stored_bytes reported although its query failed")
	}
}
