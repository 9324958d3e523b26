package sandbox_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/codebox-dev/codebox/sandbox"
	"github.com/codebox-dev/codebox/sandbox/sandboxtest"
)

// execLog is an ExecObserver that keeps what it was told.
type execLog struct {
	mu   sync.Mutex
	runs []string // kind, then "err" or the exit code
}

func (l *execLog) ObserveExec(kind string, res *sandbox.ExecResult, d time.Duration, err error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if err != nil || res == nil {
		l.runs = append(l.runs, kind+" err")
		return
	}
	l.runs = append(l.runs, kind+" "+string(rune('0'+res.ExitCode)))
}

// TestStatsAndObserver checks the counts metrics read on each scrape and that every
// run, bash or Python, streamed or not, reaches the observer once.
func TestStatsAndObserver(t *testing.T) { sandboxtest.ForEachRuntime(t, testStatsAndObserver) }

func testStatsAndObserver(t *testing.T, runtime string) {
	log := &execLog{}
	e := sandboxtest.NewWithRuntime(t, runtime, func(c *sandbox.Config) { c.Observer = log; c.Expiry = time.Hour })
	ctx := context.Background()
	if st := e.Manager.Stats(); len(st.Containers) != 0 || st.PoolSize != 0 {
		t.Fatalf("Stats of an empty Manager = %+v", st)
	}
	a := create(t, e, sandbox.CreateOptions{})
	b := create(t, e, sandbox.CreateOptions{})
	run(t, e, a.ID, "exit 3")
	if _, err := e.Manager.RunPython(ctx, ws, a.ID, sandbox.PythonRequest{Code: "1+1"}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.Manager.ExecStream(ctx, ws, a.ID, sandbox.ExecRequest{Command: "true"}, func(string, []byte) {}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.Manager.Exec(ctx, ws, "container_nosuchcontainer000000000000", sandbox.ExecRequest{Command: "true"}); err == nil {
		t.Fatal("Exec in an unknown container succeeded")
	}
	if _, err := e.Manager.Stop(ctx, ws, b.ID); err != nil {
		t.Fatal(err)
	}
	if st := e.Manager.Stats(); st.Containers[sandbox.StatusRunning] != 1 || st.Containers[sandbox.StatusStopped] != 1 {
		t.Errorf("Stats after one stop = %+v, want 1 running, 1 stopped", st)
	}
	e.Clock.Advance(2 * time.Hour)
	if st := e.Manager.Stats(); st.Containers[sandbox.StatusExpired] != 2 {
		t.Errorf("Stats past expiry = %+v, want 2 expired", st)
	}
	want := []string{"bash 3", "python 0", "bash 0", "bash err"}
	log.mu.Lock()
	defer log.mu.Unlock()
	if len(log.runs) != len(want) {
		t.Fatalf("observed %v, want %v", log.runs, want)
	}
	for i := range want {
		if log.runs[i] != want[i] {
			t.Errorf("observed %v, want %v", log.runs, want)
			break
		}
	}
}
