package bench

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/codebox-dev/codebox/sandbox"
)

// restoreTarget is the p50 for the first use of an idle-stopped container whose
// REPL has pandas loaded.
const restoreTarget = 300 * time.Millisecond

// The REPL state the checkpoint rows keep: pandas and a frame. The first cell after a
// stop sums the frame, rebuilding it (and importing pandas) when the REPL is new.
const (
	pandasState  = "import pandas as pd; df = pd.DataFrame({'a': range(1000)})"
	pandasResume = "import pandas as pd; df = globals().get('df', pd.DataFrame({'a': range(1000)})); print(int(df.a.sum()))"
	pandasSum    = "499500"
)

// checkpointRows stops a container whose REPL has pandas loaded as idleness would
// (Suspend: checkpointed where the runtime can) and measures its first cell after,
// beside a plain stop whose first cell starts cold and imports pandas again; then the
// start alone (Touch) both ways. The checkpoints' sizes and the stops' times are noted.
func checkpointRows(ctx context.Context, cfg Config, n int, progress func(string)) ([]Row, []string) {
	sb := cfg.Cold
	c, err := sb.Create(ctx, ws, sandbox.CreateOptions{Name: "bench-checkpoint"})
	if err != nil {
		return []Row{{&Series{Name: "restore after idle stop", Err: err}, nil}}, nil
	}
	defer sb.Delete(context.WithoutCancel(ctx), ws, c.ID)
	cell := func() (time.Duration, error) {
		start := time.Now()
		res, err := sb.RunPython(ctx, ws, c.ID, sandbox.PythonRequest{Code: pandasResume})
		d := time.Since(start)
		if err != nil {
			return 0, err
		}
		return d, checkResult(res, pandasSum)
	}
	touch := func() (time.Duration, error) {
		start := time.Now()
		_, err := sb.Touch(ctx, ws, c.ID)
		return time.Since(start), err
	}
	var sizes []int64
	stops := map[bool]*Series{true: {}, false: {}}
	// after stops the container (suspended or plainly) with pandas loaded, then times f.
	after := func(suspend bool, f func() (time.Duration, error)) func() (time.Duration, error) {
		return func() (time.Duration, error) {
			if _, err := cell(); err != nil {
				return 0, err
			}
			start := time.Now()
			stop := sb.Stop
			if suspend {
				stop = sb.Suspend
			}
			if _, err := stop(ctx, ws, c.ID); err != nil {
				return 0, err
			}
			stops[suspend].Samples = append(stops[suspend].Samples, time.Since(start))
			if suspend {
				size, err := sb.CheckpointSize(ctx, ws, c.ID)
				if err != nil {
					return 0, err
				}
				if size == 0 {
					return 0, errors.New("no checkpoint after an idle stop: the runtime cannot checkpoint (runc: docs/checkpoint.md), or --container-checkpoint is off")
				}
				sizes = append(sizes, size)
			}
			return f()
		}
	}
	if _, err := sb.RunPython(ctx, ws, c.ID, sandbox.PythonRequest{Code: pandasState}); err != nil {
		return []Row{{&Series{Name: "restore after idle stop", Err: err}, nil}}, nil
	}
	load := loadAverage()
	progress("first cell after an idle stop, restored")
	restored := measure("REPL cell after idle stop, restored (pandas loaded)", restoreTarget, 1, n, after(true, cell))
	progress("first cell after a plain stop, cold")
	cold := measure("REPL cell after plain stop, cold (imports pandas)", 0, 1, n, after(false, cell))
	progress("start alone after an idle stop, restored")
	restoreOnly := measure("start after idle stop, restored (Touch)", 0, 1, n, after(true, touch))
	progress("start alone after a plain stop, cold")
	coldOnly := measure("start after plain stop, cold (Touch)", 0, 1, n, after(false, touch))
	restored.Note = "Suspend (checkpoint, as an idle stop), then one cell summing a frame kept in the REPL: restore, agent, cell; load average " + load + " before, " + loadAverage() + " after"
	cold.Note = "Stop, then the same cell in a new REPL: start, python, import pandas, build the frame"
	restoreOnly.Note = "Suspend, then Touch: runtime restore and the agent answering"
	coldOnly.Note = "Stop, then Touch: a cold container start"
	var notes []string
	if len(sizes) > 0 {
		slices.Sort(sizes)
		notes = append(notes, fmt.Sprintf("checkpoint of a REPL with pandas loaded: %s p50 (%s to %s, %d checkpoints); the stop that saves it p50 %s, a plain stop p50 %s",
			mib(sizes[len(sizes)/2]), mib(sizes[0]), mib(sizes[len(sizes)-1]), len(sizes),
			ms(stops[true].Percentile(50)), ms(stops[false].Percentile(50))))
	}
	return []Row{{restored, cold}, {restoreOnly, coldOnly}}, notes
}
