package sqlite_test

import (
	"context"
	"testing"
	"time"

	"github.com/codebox-dev/codebox"
	"github.com/codebox-dev/codebox/agentloop"
	"github.com/codebox-dev/codebox/provider"
)

func TestUsageBillingAndSummary(t *testing.T) {
	db := MustOpen(t)
	ctx := context.Background()
	t0 := time.Date(2026, 11, 20, 10, 0, 0, 0, time.UTC)
	rec := func(ws, container string, start, dur time.Duration, tokens int64) {
		t.Helper()
		err := db.RecordUsage(ctx, codebox.WorkspaceID("ws"+ws), agentloop.UsageRecord{MessageID: "msg_x", Model: "m",
			Usage: agentloop.Usage{Usage: provider.Usage{InputTokens: tokens, OutputTokens: 1}, CodeExecutionRequests: 1}, ContainerID: container,
			ContainerStart: t0.Add(start), ContainerEnd: t0.Add(start + dur), CreatedAt: t0.Add(start + dur)})
		if err != nil {
			t.Fatal(err)
		}
	}
	rec("A", "container_1", 0, 10*time.Second, 100)                         // new session: 300 s billed
	rec("A", "container_1", time.Minute, 20*time.Second, 100)               // joins it: nothing more
	rec("A", "container_1", 4*time.Minute+50*time.Second, time.Minute, 100) // runs 50 s past the window
	rec("A", "container_2", 0, 2*time.Second, 100)                          // another container: its own session
	rec("A", "container_1", 2*time.Hour, time.Second, 100)                  // idle for long: a new session
	rec("A", "", 3*time.Hour, 0, 7)                                         // no container
	rec("B", "container_9", 0, time.Second, 1000)

	sum, err := db.UsageSummary(ctx, "wsA", t0.Add(-time.Hour), t0.Add(24*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if sum.Requests != 6 || sum.InputTokens != 507 || sum.CodeExecutionRequests != 6 {
		t.Errorf("summary = %+v", sum)
	}
	if want := 300.0 + 0 + 50 + 300 + 300; sum.ContainerBilledSeconds != want {
		t.Errorf("ContainerBilledSeconds = %v, want %v", sum.ContainerBilledSeconds, want)
	}
	if want := 10.0 + 20 + 60 + 2 + 1; sum.ContainerSeconds != want {
		t.Errorf("ContainerSeconds = %v, want %v", sum.ContainerSeconds, want)
	}
	// The period bounds the rows; another workspace is not counted.
	sum, _ = db.UsageSummary(ctx, "wsA", t0.Add(time.Hour), t0.Add(24*time.Hour))
	if sum.Requests != 2 {
		t.Errorf("later period: %d requests, want 2", sum.Requests)
	}
	sum, _ = db.UsageSummary(ctx, "wsB", t0.Add(-time.Hour), t0.Add(24*time.Hour))
	if sum.Requests != 1 || sum.InputTokens != 1000 {
		t.Errorf("workspace B = %+v", sum)
	}
}
