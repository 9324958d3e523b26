package bench

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/codebox-dev/codebox/sandbox"
)

// importCommand is what a model's script most often starts with.
const importCommand = `python3 -c "import pandas, matplotlib"`

// preforkBudget is how much slower than `bash true` a pre-imported python3 may be.
const preforkBudget = 30 * time.Millisecond

// samplePause spaces the python rows' samples, as a model's commands are spaced by
// its turns: the fork server forks its spare child while it is idle.
const samplePause = 200 * time.Millisecond

// pythonRows measures importCommand through bash in container id, with the
// pre-imported interpreter (when the server has it) and cold, each beside `true`
// through bash measured in the same run, and reports the fork server's memory.
func pythonRows(ctx context.Context, cfg Config, id string, n int, progress func(string)) ([]Row, []string) {
	// Samples are spaced by pause, as a model's commands come (between its turns),
	// except those of the back-to-back row.
	execPaused := func(name, cmd string, pause time.Duration) *Series {
		progress(name)
		return measure(name, 0, 2, n, func() (time.Duration, error) {
			time.Sleep(pause)
			start := time.Now()
			res, err := cfg.Cold.Exec(ctx, ws, id, sandbox.ExecRequest{Command: cmd})
			d := time.Since(start)
			if err != nil {
				return 0, err
			}
			return d, checkResult(res, "")
		})
	}
	exec := func(name, cmd string) *Series { return execPaused(name, cmd, samplePause) }
	var notes []string
	if cfg.Prefork {
		// "require" asks for the server until it serves.
		progress("starting the fork server")
		res, err := cfg.Cold.Exec(ctx, ws, id, sandbox.ExecRequest{
			Command: "CODEBOX_PYTHON_PREFORK=require python3 -c pass", Timeout: 5 * time.Minute})
		if err == nil {
			err = checkResult(res, "")
		}
		if err != nil {
			notes = append(notes, fmt.Sprintf("fork server: %v", err))
		} else {
			notes = append(notes, serverMemory(ctx, cfg, id))
		}
	}
	base := exec("bash true", "true")
	base.Note = "an exec of `true` through bash in the same container, samples spaced as the python3 rows': the floor of any command"
	// Any python3 execs at least one program (the front end, or the interpreter):
	// the cost of exec'ing the smallest one is the floor under the target.
	floor := exec("/bin/true through bash", "/bin/true")
	floor.Note = "an exec of the program /bin/true through bash: what starting any program adds to `bash true`, the floor of the pre-imported python3 (about 1 ms on runc, tens of ms on gVisor)"
	rows := []Row{{floor, base}}
	if cfg.Prefork {
		pre := exec("python3 import pandas, matplotlib, pre-imported", importCommand)
		pre.Target = base.Percentile(50) + preforkBudget
		pre.Note = fmt.Sprintf("%s through bash, forked from the pre-imported interpreter, samples %s apart; target: bash true + %s", importCommand, ms(samplePause), ms(preforkBudget))
		rows = append(rows, Row{pre, base})
		tight := execPaused("python3 import pandas, matplotlib, pre-imported, back to back", importCommand, 0)
		tight.Note = "the same with each command sent as soon as the last one answered: the fork server's spare child has no time to be ready, and each program waits for its fork"
		rows = append(rows, Row{tight, base})
	}
	cold := exec("python3 import pandas, matplotlib, cold", "CODEBOX_PYTHON_PREFORK=0 "+importCommand)
	cold.Note = importCommand + " through bash, with CODEBOX_PYTHON_PREFORK=0: a cold interpreter"
	rows = append(rows, Row{cold, base})
	return rows, notes
}

// serverMemory reports the fork server's memory as the kernel counts it in container
// id: resident, proportional (its pages shared with other processes split between
// them) and anonymous (its own, which its children share until they write); gVisor,
// which has no smaps_rollup, reports resident and anonymous in status.
func serverMemory(ctx context.Context, cfg Config, id string) string {
	res, err := cfg.Cold.Exec(ctx, ws, id, sandbox.ExecRequest{
		Command: `p=/proc/$(pgrep -f -o forkserver.py)
{ grep -E '^(Rss|Pss|Anonymous):' $p/smaps_rollup 2>/dev/null || grep -E '^(VmRSS|RssAnon):' $p/status; } | tr -s ' \n' ' '`})
	if err == nil {
		err = checkResult(res, "")
	}
	if err != nil {
		return fmt.Sprintf("fork server memory: %v", err)
	}
	return "fork server memory (idle, /proc/<pid>): " + strings.TrimSpace(res.Stdout)
}
