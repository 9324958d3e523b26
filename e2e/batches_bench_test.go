package e2e

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/anthropics/anthropic-sdk-go"

	"github.com/codebox-dev/codebox/batches"
	"github.com/codebox-dev/codebox/bench"
	"github.com/codebox-dev/codebox/tools"
)

// BenchmarkBatch measures, in one run on the real sandbox, a batch's throughput and
// what it costs interactive requests: the latency of interactive code execution
// requests (one command each, in a container of their own workspace) with the server
// idle, then while a batch of batchBenchRequests such requests runs in another
// workspace, spread over four containers, with the default share of the execution
// seats (half). Run it once: go test -run '^$' -bench Batch -benchtime 1x ./e2e/
func BenchmarkBatch(b *testing.B) {
	const batchBenchRequests = 400
	turns, o := batchScript("echo ok")
	// The server's default: half the execution seats, of all and of one workspace.
	lim := tools.DefaultLimiter()
	o.batches = &batches.Config{Workers: max(1, lim.Global/2), WorkersPerWorkspace: max(1, lim.PerWorkspace/2)}
	e := newEnv(b, formatAnthropic, turns, o)
	ctx := context.Background()
	batchClient, interactive := e.client(e.keyA), e.client(e.keyB)

	first, err := interactive.Messages.New(ctx, e.params(anthropic.NewTextBlock("warm up")))
	if err != nil {
		b.Fatal(err)
	}
	ask := func() time.Duration {
		p := e.params(anthropic.NewTextBlock("interactive"))
		p.Container = anthropic.MessageCreateParamsContainerUnion{OfString: anthropic.String(first.Container.ID)}
		start := time.Now()
		if _, err := interactive.Messages.New(ctx, p); err != nil {
			b.Fatal(err)
		}
		return time.Since(start)
	}
	var ctrs []string
	for range 4 {
		m, err := batchClient.Messages.New(ctx, e.params(anthropic.NewTextBlock("make a container")))
		if err != nil {
			b.Fatal(err)
		}
		ctrs = append(ctrs, m.Container.ID)
	}
	reqs := make([]anthropic.MessageBatchNewParamsRequest, batchBenchRequests)
	for i := range reqs {
		p := e.batchParams("batch", true)
		p.Container = anthropic.MessageCreateParamsContainerUnion{OfString: anthropic.String(ctrs[i%len(ctrs)])}
		reqs[i] = anthropic.MessageBatchNewParamsRequest{CustomID: fmt.Sprintf("r-%d", i), Params: p}
	}

	b.ResetTimer()
	for range b.N {
		idle := &bench.Series{}
		for range 100 {
			idle.Samples = append(idle.Samples, ask())
		}
		start := time.Now()
		bt, err := batchClient.Messages.Batches.New(ctx, anthropic.MessageBatchNewParams{Requests: reqs})
		if err != nil {
			b.Fatal(err)
		}
		busy := &bench.Series{}
		var took time.Duration
		for {
			busy.Samples = append(busy.Samples, ask())
			got, err := batchClient.Messages.Batches.Get(ctx, bt.ID, anthropic.MessageBatchGetParams{})
			if err != nil {
				b.Fatal(err)
			}
			if got.ProcessingStatus == "ended" {
				took = got.EndedAt.Sub(got.CreatedAt)
				if got.RequestCounts.Succeeded != batchBenchRequests {
					b.Fatalf("batch = %s", got.RawJSON())
				}
				break
			}
		}
		ms := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
		b.ReportMetric(batchBenchRequests/took.Minutes(), "batch-req/min")
		b.ReportMetric(ms(idle.Percentile(50)), "idle-p50-ms")
		b.ReportMetric(ms(idle.Percentile(99)), "idle-p99-ms")
		b.ReportMetric(ms(busy.Percentile(50)), "busy-p50-ms")
		b.ReportMetric(ms(busy.Percentile(99)), "busy-p99-ms")
		b.Logf("batch of %d in %v (%d workers, %d per workspace, %v since create); interactive: idle p50 %v p99 %v (n=%d), during the batch p50 %v p99 %v (n=%d)",
			batchBenchRequests, took.Round(time.Millisecond), o.batches.Workers, o.batches.WorkersPerWorkspace, time.Since(start).Round(time.Millisecond),
			idle.Percentile(50).Round(time.Millisecond), idle.Percentile(99).Round(time.Millisecond), len(idle.Samples),
			busy.Percentile(50).Round(time.Millisecond), busy.Percentile(99).Round(time.Millisecond), len(busy.Samples))
	}
}
