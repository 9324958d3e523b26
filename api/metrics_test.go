package api_test

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/anthropics/anthropic-sdk-go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	dto "github.com/prometheus/client_model/go"

	"github.com/codebox-dev/codebox/api"
	"github.com/codebox-dev/codebox/files"
	"github.com/codebox-dev/codebox/metrics"
)

// scrape GETs url's /metrics without a key and parses the exposition.
func scrape(t *testing.T, url string) map[string]*dto.MetricFamily {
	t.Helper()
	resp, err := http.Get(url + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(resp.Body)
		t.Fatalf("GET /metrics = %d: %s", resp.StatusCode, b)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return fams
}

// counterValue returns the value of the series of fam whose labels include want.
func counterValue(fam *dto.MetricFamily, want map[string]string) (float64, bool) {
	if fam == nil {
		return 0, false
	}
next:
	for _, m := range fam.GetMetric() {
		for k, v := range want {
			found := false
			for _, l := range m.GetLabel() {
				if l.GetName() == k && l.GetValue() == v {
					found = true
				}
			}
			if !found {
				continue next
			}
		}
		return m.GetCounter().GetValue(), true
	}
	return 0, false
}

// TestRequestMetrics checks that requests are counted by route pattern, never by path,
// and that /metrics answers without a key.
func TestRequestMetrics(t *testing.T) {
	m := metrics.New(nil)
	e := newFilesEnv(t, files.Config{}, func(c *api.Config) {
		c.MetricsConfig = api.MetricsConfig{Observer: m, Metrics: m.Handler()}
	})
	ctx := context.Background()
	f, err := e.client(e.keyA).Beta.Files.Upload(ctx, anthropic.BetaFileUploadParams{
		File: anthropic.File(strings.NewReader("hello"), "a.txt", "text/plain")})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.client(e.keyA).Beta.Files.GetMetadata(ctx, f.ID, anthropic.BetaFileGetMetadataParams{}); err != nil {
		t.Fatal(err)
	}
	for _, r := range []struct{ method, path string }{
		{"GET", "/v1/nothing/here"},
		{"BREW", "/v1/files"},
	} {
		req, _ := http.NewRequest(r.method, e.url+r.path, nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}

	fams := scrape(t, e.url)
	reqs := fams["codebox_http_requests_total"]
	for _, c := range []map[string]string{
		{"route": "/v1/files", "method": "POST", "code": "200"},
		{"route": "/v1/files/{file_id}", "method": "GET", "code": "200"},
		{"route": "unmatched", "method": "GET", "code": "404"},
		{"route": "/v1/files", "method": "other", "code": "405"},
	} {
		if v, ok := counterValue(reqs, c); !ok || v != 1 {
			t.Errorf("codebox_http_requests_total%v = %v (found %t), want 1", c, v, ok)
		}
	}
	for _, fam := range fams {
		for _, s := range fam.GetMetric() {
			for _, l := range s.GetLabel() {
				if strings.Contains(l.GetValue(), f.ID) || strings.Contains(l.GetValue(), "nothing") {
					t.Errorf("%s has label %s=%q: a path, not a route pattern", fam.GetName(), l.GetName(), l.GetValue())
				}
			}
		}
	}
	if fams["codebox_http_request_duration_seconds"] == nil || fams["codebox_http_requests_in_flight"] == nil {
		t.Error("latency histogram or in-flight gauge missing")
	}
	if g := fams["codebox_http_requests_in_flight"].GetMetric()[0].GetGauge().GetValue(); g != 1 {
		t.Errorf("requests in flight during the scrape = %v, want 1 (the scrape itself)", g)
	}
}
