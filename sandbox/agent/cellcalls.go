package agent

import (
	"encoding/json"
	"errors"
	"io"
	"sync"
	"time"
)

// CellOptions let a cell's code call client tools.
type CellOptions struct {
	// Functions maps the Python names of the cell's async functions to client tools.
	Functions map[string]string
	// Fresh runs the cell in an interpreter of its own, which ends with it.
	Fresh bool
	// Calls gets each batch of calls the code makes, from the goroutine reading the
	// agent; it must not block. Every call must be answered on Replies (Reply.ID is
	// Call.ID), in any order.
	Calls   func([]Call)
	Replies <-chan Reply
	// Bound is how long the host waits for the cell while no call is unanswered (the
	// cell's limit and a grace): an agent that stops answering cannot hold the caller
	// forever, and a cell waiting for its client is not charged for the wait.
	Bound time.Duration
}

// errCellUnanswered ends a cell whose agent went silent beyond the host's bound.
var errCellUnanswered = errors.New("agent: the cell did not end within its limit")

// writeReplies sends each answer from replies to the agent until stop is closed.
func writeReplies(w io.Writer, stop <-chan struct{}, replies <-chan Reply, wd *watchdog) {
	for {
		select {
		case <-stop:
			return
		case rep, ok := <-replies:
			if !ok {
				return
			}
			line, _ := json.Marshal(rep)
			if _, err := w.Write(append(line, '\n')); err != nil {
				return
			}
			wd.resume(1)
		}
	}
}

// watchdog fires after bound of running time, not counting the time calls are
// unanswered.
type watchdog struct {
	mu      sync.Mutex
	t       *time.Timer
	left    time.Duration
	since   time.Time
	pending int
}

func newWatchdog(bound time.Duration, fire func()) *watchdog {
	return &watchdog{t: time.AfterFunc(bound, fire), left: bound, since: time.Now()}
}

func (w *watchdog) pause(n int) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.pending == 0 && w.t.Stop() {
		w.left -= time.Since(w.since)
	}
	w.pending += n
}

func (w *watchdog) resume(n int) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.pending == 0 {
		return
	}
	w.pending = max(w.pending-n, 0)
	if w.pending == 0 {
		w.since = time.Now()
		w.t.Reset(max(w.left, time.Millisecond))
	}
}

func (w *watchdog) stop() { w.t.Stop() }
