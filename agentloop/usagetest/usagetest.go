// Package usagetest is the conformance suite of the usage store (agentloop's
// UsageRecorder and the summary the usage API reads): every driver runs it in its
// tests, so that a new one (PostgreSQL) is held to what the SQLite driver does.
package usagetest

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/codebox-dev/codebox"
	"github.com/codebox-dev/codebox/agentloop"
	"github.com/codebox-dev/codebox/internal/testenv"
	"github.com/codebox-dev/codebox/provider"
)

// Store records usage and sums it up.
type Store interface {
	agentloop.UsageRecorder
	UsageSummary(ctx context.Context, ws codebox.WorkspaceID, start, end time.Time) (*agentloop.UsageSummary, error)
}

// RunStore runs the suite against stores made by newStore, one fresh, empty store per
// subtest.
func RunStore(t *testing.T, newStore func(t *testing.T) Store) {
	ctx := context.Background()
	t0 := time.Date(2026, 11, 20, 10, 0, 0, 0, time.UTC)

	t.Run("BillingAndSummary", func(t *testing.T) {
		s := newStore(t)
		rec := func(ws, container string, start, dur time.Duration, tokens int64) {
			t.Helper()
			err := s.RecordUsage(ctx, codebox.WorkspaceID("ws"+ws), agentloop.UsageRecord{MessageID: "msg_x", Model: "m",
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

		sum, err := s.UsageSummary(ctx, "wsA", t0.Add(-time.Hour), t0.Add(24*time.Hour))
		if err != nil {
			t.Fatal(err)
		}
		if sum.Requests != 6 || sum.InputTokens != 507 || sum.OutputTokens != 6 || sum.CodeExecutionRequests != 6 {
			t.Errorf("summary = %+v", sum)
		}
		if want := 300.0 + 0 + 50 + 300 + 300; sum.ContainerBilledSeconds != want {
			t.Errorf("ContainerBilledSeconds = %v, want %v", sum.ContainerBilledSeconds, want)
		}
		if want := 10.0 + 20 + 60 + 2 + 1; sum.ContainerSeconds != want {
			t.Errorf("ContainerSeconds = %v, want %v", sum.ContainerSeconds, want)
		}
		// The period bounds the rows, start included, end excluded; another workspace is
		// not counted.
		sum, _ = s.UsageSummary(ctx, "wsA", t0.Add(time.Hour), t0.Add(24*time.Hour))
		if sum.Requests != 2 {
			t.Errorf("later period: %d requests, want 2", sum.Requests)
		}
		sum, _ = s.UsageSummary(ctx, "wsA", t0.Add(3*time.Hour), t0.Add(3*time.Hour+time.Nanosecond*1000))
		if sum.Requests != 1 || sum.InputTokens != 7 {
			t.Errorf("period starting at a record = %+v, want that record", sum)
		}
		sum, _ = s.UsageSummary(ctx, "wsA", t0.Add(2*time.Hour), t0.Add(3*time.Hour))
		if sum.Requests != 1 {
			t.Errorf("period ending at a record: %d requests, want 1 (the end is excluded)", sum.Requests)
		}
		sum, _ = s.UsageSummary(ctx, "wsB", t0.Add(-time.Hour), t0.Add(24*time.Hour))
		if sum.Requests != 1 || sum.InputTokens != 1000 {
			t.Errorf("workspace B = %+v", sum)
		}
		sum, err = s.UsageSummary(ctx, "wsC", t0.Add(-time.Hour), t0.Add(24*time.Hour))
		if err != nil || sum.Requests != 0 || sum.ContainerBilledSeconds != 0 {
			t.Errorf("workspace without usage = %+v, %v", sum, err)
		}
	})

	// Requests that share one container session and finish at once, on one server or
	// several, bill the session's window once between them. A race is won or lost by
	// chance, so several rounds run, each on its own container.
	t.Run("ConcurrentBilling", func(t *testing.T) {
		s := newStore(t)
		const rounds, n = 8, 16
		for r := range rounds {
			ws := codebox.WorkspaceID(fmt.Sprint("ws", r))
			errs := testenv.AtOnce(n, func(i int) error {
				return s.RecordUsage(ctx, ws, agentloop.UsageRecord{MessageID: fmt.Sprint("msg_", i), Model: "m",
					ContainerID: fmt.Sprint("container_", r), ContainerStart: t0.Add(time.Duration(i) * time.Second),
					ContainerEnd: t0.Add(time.Duration(i+1) * time.Second), CreatedAt: t0})
			})
			if err := errors.Join(errs...); err != nil {
				t.Fatal(err)
			}
			sum, err := s.UsageSummary(ctx, ws, t0, t0.Add(time.Hour))
			if err != nil {
				t.Fatal(err)
			}
			if sum.Requests != n || sum.ContainerBilledSeconds != agentloop.SessionMinimum.Seconds() {
				t.Fatalf("round %d: %d requests billed %v s, want %d billed %v s (one session)", r, sum.Requests,
					sum.ContainerBilledSeconds, n, agentloop.SessionMinimum.Seconds())
			}
		}
	})
}
