package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/anthropics/anthropic-sdk-go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	dto "github.com/prometheus/client_model/go"

	"github.com/codebox-dev/codebox/internal/testenv"
	"github.com/codebox-dev/codebox/sandbox/sandboxtest"
)

// testImageDir is the image directory the sandboxed child servers run on; it skips the
// test (a failure in CI) when root, runc or the image is missing.
func testImageDir(t *testing.T) string {
	t.Helper()
	sandboxtest.Require(t, "runc")
	sandboxtest.RootFS(t)
	return testenv.ImageDir()
}

// startSandboxChild starts `codebox serve` with the sandbox on runc over dataDir. At
// cleanup its containers are deleted through the API and it is stopped with SIGTERM
// (which empties the pool), so that no container or mount outlives the test.
func startSandboxChild(t *testing.T, dataDir, imageDir string, extra ...string) *child {
	t.Helper()
	args := append([]string{"--sandbox=true", "--sandbox-runtime", "runc", "--image-dir", imageDir,
		"--sandbox-memory", "256MiB", "--sandbox-disk", "256MiB"}, extra...)
	srv := startChild(t, dataDir, args...)
	t.Cleanup(func() {
		var list struct {
			Data []struct {
				ID string `json:"id"`
			} `json:"data"`
		}
		if srv.call(t, "GET", "/v1/containers", nil, &list) == http.StatusOK {
			for _, ctr := range list.Data {
				srv.call(t, "DELETE", "/v1/containers/"+ctr.ID, nil, nil)
			}
		}
		srv.stop(t)
	})
	return srv
}

// call sends a JSON request with the test key and decodes the answer into out.
func (c *child) call(t *testing.T, method, path string, body, out any) int {
	t.Helper()
	var r io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		r = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, c.url+path, r)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("x-api-key", testAPIKey)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Errorf("%s %s: %v", method, path, err)
		return 0
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			t.Errorf("%s %s = %d %s: %v", method, path, resp.StatusCode, b, err)
		}
	}
	if resp.StatusCode != http.StatusOK {
		t.Logf("%s %s = %d %s", method, path, resp.StatusCode, b)
	}
	return resp.StatusCode
}

// scrapeMetrics GETs url (without a key) and parses the exposition.
func scrapeMetrics(t *testing.T, url string) exposition {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(resp.Body)
		t.Fatalf("GET %s = %d: %s", url, resp.StatusCode, b)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return fams
}

type exposition map[string]*dto.MetricFamily

// value returns the value of the series of name whose labels are exactly labels
// (a histogram's sample count), and whether it exists.
func (e exposition) value(name string, labels ...string) (float64, bool) {
	fam := e[name]
	if fam == nil {
		return 0, false
	}
	want := map[string]string{}
	for i := 0; i+1 < len(labels); i += 2 {
		want[labels[i]] = labels[i+1]
	}
	for _, m := range fam.GetMetric() {
		got := map[string]string{}
		for _, l := range m.GetLabel() {
			got[l.GetName()] = l.GetValue()
		}
		if fmt.Sprint(got) != fmt.Sprint(want) {
			continue
		}
		switch {
		case m.Counter != nil:
			return m.GetCounter().GetValue(), true
		case m.Gauge != nil:
			return m.GetGauge().GetValue(), true
		case m.Histogram != nil:
			return float64(m.GetHistogram().GetSampleCount()), true
		}
	}
	return 0, false
}

// TestMetricsAfterRealOperations scrapes a real server on loopback before and after an
// upload, a scripted-model Messages call whose command runs in a runc container, and
// native executions that exit non-zero, time out and are OOM-killed, and checks that
// each series moved by what was done.
func TestMetricsAfterRealOperations(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the server binary with real containers")
	}
	imageDir := testImageDir(t)
	dir := t.TempDir()
	scriptPath := filepath.Join(dir, "metrics.json")
	os.WriteFile(scriptPath, []byte(`{"name": "metrics", "turns": [
	  {"content": [{"type": "tool_use", "name": "bash_code_execution", "input": {"command": "echo counted"}}]},
	  {"content": [{"type": "text", "text": "done"}]}]}`), 0o644)
	srv := startSandboxChild(t, filepath.Join(dir, "data"), imageDir, "--pool-size", "1", "--pool-max", "1", "--script", scriptPath)
	metricsURL := srv.url + "/metrics"

	before := scrapeMetrics(t, metricsURL)
	for _, name := range []string{"go_goroutines", "process_resident_memory_bytes", "codebox_pool_size"} {
		if _, ok := before.value(name); !ok {
			t.Errorf("%s missing", name)
		}
	}
	if v, _ := before.value("codebox_stored_bytes"); v != 0 {
		t.Errorf("codebox_stored_bytes before any upload = %v, want 0", v)
	}

	ctx := context.Background()
	const payload = "region,revenue\nnorth,10\n"
	if _, err := srv.client().Beta.Files.Upload(ctx, anthropic.BetaFileUploadParams{
		File: anthropic.File(strings.NewReader(payload), "sales.csv", "text/csv")}); err != nil {
		t.Fatal(err)
	}
	afterUpload := scrapeMetrics(t, metricsURL)
	if v, _ := afterUpload.value("codebox_stored_bytes"); v != float64(len(payload)) {
		t.Errorf("codebox_stored_bytes after a %d-byte upload = %v", len(payload), v)
	}
	if v, _ := afterUpload.value("codebox_stored_files"); v != 1 {
		t.Errorf("codebox_stored_files after one upload = %v, want 1", v)
	}

	msg, err := srv.client().Beta.Messages.New(ctx, anthropic.BetaMessageNewParams{
		Model: "script/metrics", MaxTokens: 100,
		Messages: []anthropic.BetaMessageParam{anthropic.NewBetaUserMessage(anthropic.NewBetaTextBlock("count"))},
		Tools:    []anthropic.BetaToolUnionParam{{OfCodeExecutionTool20250825: &anthropic.BetaCodeExecutionTool20250825Param{}}},
		Betas:    []anthropic.AnthropicBeta{"code-execution-2025-08-25"},
	})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(fmt.Sprint(msg.Content), "counted") {
		t.Fatalf("the command's output is not in the answer: %+v", msg.Content)
	}

	var ctr struct {
		ID string `json:"id"`
	}
	if st := srv.call(t, "POST", "/v1/containers", map[string]any{}, &ctr); st != http.StatusOK {
		t.Fatalf("create container: %d", st)
	}
	type execResult struct {
		ReturnCode int  `json:"return_code"`
		TimedOut   bool `json:"timed_out"`
		OOMKilled  bool `json:"oom_killed"`
	}
	for _, c := range []struct {
		body map[string]any
		ok   func(execResult) bool
	}{
		{map[string]any{"command": "exit 3"}, func(r execResult) bool { return r.ReturnCode == 3 }},
		{map[string]any{"command": "sleep 30", "timeout_ms": 500}, func(r execResult) bool { return r.TimedOut }},
		{map[string]any{"command": `python3 -c "a = b'x' * (1 << 30)"`}, func(r execResult) bool { return r.OOMKilled }},
	} {
		var res execResult
		if st := srv.call(t, "POST", "/v1/containers/"+ctr.ID+"/exec", c.body, &res); st != http.StatusOK || !c.ok(res) {
			t.Fatalf("exec %v = %d %+v", c.body, st, res)
		}
	}

	after := scrapeMetrics(t, metricsURL)
	for _, c := range []struct {
		name   string
		labels []string
		want   float64
	}{
		{"codebox_http_requests_total", []string{"route", "/v1/files", "method", "POST", "code", "200"}, 1},
		{"codebox_http_requests_total", []string{"route", "/v1/messages", "method", "POST", "code", "200"}, 1},
		{"codebox_http_requests_total", []string{"route", "/v1/containers/{id}/exec", "method", "POST", "code", "200"}, 3},
		{"codebox_http_request_duration_seconds", []string{"route", "/v1/containers/{id}/exec", "method", "POST"}, 3},
		{"codebox_executions_total", []string{"kind", "bash", "outcome", "ok"}, 1},
		{"codebox_executions_total", []string{"kind", "bash", "outcome", "nonzero_exit"}, 1},
		{"codebox_executions_total", []string{"kind", "bash", "outcome", "timeout"}, 1},
		{"codebox_executions_total", []string{"kind", "bash", "outcome", "oom_killed"}, 1},
		{"codebox_execution_duration_seconds", []string{"kind", "bash"}, 4},
		{"codebox_upstream_request_duration_seconds", []string{"provider", "script"}, 2},
		{"codebox_containers", []string{"status", "running"}, 2},
		{"codebox_containers", []string{"status", "stopped"}, 0},
		{"codebox_pool_size", nil, 1},
	} {
		if got, ok := after.value(c.name, c.labels...); !ok || got != c.want {
			t.Errorf("%s%v = %v (present %t), want %v", c.name, c.labels, got, ok, c.want)
		}
		if was, _ := before.value(c.name, c.labels...); c.name != "codebox_pool_size" && c.name != "codebox_containers" && was != 0 {
			t.Errorf("%s%v was %v before anything ran", c.name, c.labels, was)
		}
	}
	if _, ok := after.value("codebox_upstream_errors_total", "provider", "script", "kind", "upstream"); ok {
		t.Error("an upstream error was counted for a turn that succeeded")
	}
}

// freeLoopbackAddr returns a loopback address no one listens on right now.
func freeLoopbackAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// TestOperatorListeners checks that --metrics-listen moves /metrics off the API's
// listener and that --debug-listen serves pprof on loopback.
func TestOperatorListeners(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the server binary")
	}
	metricsAddr, debugAddr := freeLoopbackAddr(t), freeLoopbackAddr(t)
	srv := startChild(t, t.TempDir(), "--metrics-listen", metricsAddr, "--debug-listen", debugAddr)
	if fams := scrapeMetrics(t, "http://"+metricsAddr+"/metrics"); fams["go_goroutines"] == nil {
		t.Error("go_goroutines missing from the metrics listener")
	}
	resp, err := http.Get(srv.url + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound {
		t.Errorf("GET /metrics on the API listener with --metrics-listen = %d, want 404", resp.StatusCode)
	}
	resp, err = http.Get("http://" + debugAddr + "/debug/pprof/goroutine?debug=1")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(b), "goroutine profile") {
		t.Errorf("pprof goroutine profile = %d %.200s", resp.StatusCode, b)
	}
}

// TestMetricsOff checks that --metrics=false serves no /metrics.
func TestMetricsOff(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the server binary")
	}
	srv := startChild(t, t.TempDir(), "--metrics=false")
	resp, err := http.Get(srv.url + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound {
		t.Errorf("GET /metrics with --metrics=false = %d, want 404", resp.StatusCode)
	}
}

func TestCheckLoopback(t *testing.T) {
	for addr, ok := range map[string]bool{
		"127.0.0.1:6060": true, "localhost:6060": true, "[::1]:0": true, "127.0.0.2:1": true,
		":6060": false, "0.0.0.0:6060": false, "[::]:6060": false, "192.168.1.5:6060": false,
		"example.com:6060": false, "6060": false,
	} {
		if err := checkLoopback(addr); (err == nil) != ok {
			t.Errorf("checkLoopback(%q) = %v, want ok %t", addr, err, ok)
		}
	}
}

// TestDebugListenRefusesNonLoopback checks that serve stops at start, with a clear
// message, when asked to serve profiles on every interface.
func TestDebugListenRefusesNonLoopback(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the server binary")
	}
	out, err := runServeFailing(t, t.TempDir(), "--debug-listen", "0.0.0.0:0")
	if err == nil || !strings.Contains(out, `--debug-listen: "0.0.0.0:0" is not a loopback address`) {
		t.Fatalf("serve --debug-listen 0.0.0.0:0 = %v\n%s", err, out)
	}
}

// runServeFailing runs `codebox serve` on a free port without the sandbox and returns its
// combined output once it exits; it is for configurations that must fail at start.
func runServeFailing(t *testing.T, dataDir string, extra ...string) (string, error) {
	t.Helper()
	return runServeFailingEnv(t, dataDir, nil, extra...)
}

// runServeFailingEnv is runServeFailing with env added to the environment.
func runServeFailingEnv(t *testing.T, dataDir string, env []string, extra ...string) (string, error) {
	t.Helper()
	args := append([]string{"serve", "--listen", "127.0.0.1:0", "--data-dir", dataDir, "--sandbox=false", "--log-level", "warn"}, extra...)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, codeboxBinary(t), args...)
	cmd.Env = serveEnv(append([]string{"CODEBOX_API_KEY=" + testAPIKey}, env...)...)
	out, err := cmd.CombinedOutput()
	return string(out), err
}
