package bench

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/codebox-dev/codebox"
	"github.com/codebox-dev/codebox/sandbox"
)

// Sandbox is the part of *sandbox.Manager the benchmark drives.
type Sandbox interface {
	Create(ctx context.Context, ws codebox.WorkspaceID, opts sandbox.CreateOptions) (*sandbox.Container, error)
	Exec(ctx context.Context, ws codebox.WorkspaceID, id string, req sandbox.ExecRequest) (*sandbox.ExecResult, error)
	RunPython(ctx context.Context, ws codebox.WorkspaceID, id string, req sandbox.PythonRequest) (*sandbox.ExecResult, error)
	Delete(ctx context.Context, ws codebox.WorkspaceID, id string) error
	Stop(ctx context.Context, ws codebox.WorkspaceID, id string) (*sandbox.Container, error)
	Suspend(ctx context.Context, ws codebox.WorkspaceID, id string) (*sandbox.Container, error)
	Touch(ctx context.Context, ws codebox.WorkspaceID, id string) (*sandbox.Container, error)
	CheckpointSize(ctx context.Context, ws codebox.WorkspaceID, id string) (int64, error)
}

// Config says what to measure.
type Config struct {
	Runtime    string // for the report's title
	Iterations int
	// Pooled is a Manager with a warm pool; Cold one whose pool is empty (size 0).
	Pooled, Cold Sandbox
	// PoolReady blocks until Pooled's pool is full again, so that every pooled create
	// is served from the pool rather than measuring the refill. Nil: no wait.
	PoolReady func(ctx context.Context) error
	// Baseline, when set, adds runc run / runc exec of the same commands.
	Baseline *Baseline
	// PoolSize reports Pooled's pool: how many wait ready, and how many it fills to.
	PoolSize func() (ready, size int)
	// ColdAPI, when set, reaches Cold over HTTP on loopback: echo hi through it is an
	// extra row. PooledAPI reaches Pooled; the burst rows need it.
	ColdAPI, PooledAPI *API
	// Only, when not empty, names the groups of rows to measure: ready, exec, python,
	// burst, checkpoint, http, idle.
	Only map[string]bool
	// Idle is how many idle containers to start for the memory figure (0 skips it).
	Idle int
	// CgroupOf returns a container's cgroup v1 path (e.g. /codebox/<id>).
	CgroupOf func(id string) string
	// MachineMemory is the memory the capacity figure extrapolates to.
	MachineMemory int64
	// Prefork says the servers start python3 from the pre-imported interpreter.
	Prefork bool
	// Burst is how many containers the burst row creates at once (0 skips it).
	Burst int
	// Progress, when set, receives a line as each measurement starts.
	Progress func(string)
}

// ws is the workspace of every container the benchmark makes: the default one, which
// the HTTP row's key belongs to.
const ws = codebox.DefaultWorkspace

// Commands measured; the pandas one builds a small frame and groups it.
const (
	pandasCode   = "import pandas as pd\ndf = pd.DataFrame({'k': [i % 7 for i in range(1000)], 'v': range(1000)})\nprint(df.groupby('k')['v'].sum().iloc[0])"
	pandasResult = "71071"
)

// Run measures everything cfg asks for and returns the report. A measurement that fails
// is reported as an error in its row; Run itself fails only when nothing can run.
func Run(ctx context.Context, cfg Config) (*Report, error) {
	if cfg.Iterations <= 0 {
		cfg.Iterations = 20
	}
	if cfg.Pooled == nil || cfg.Cold == nil {
		return nil, errors.New("bench: a pooled and a cold sandbox are required")
	}
	progress := cfg.Progress
	if progress == nil {
		progress = func(string) {}
	}
	n := cfg.Iterations
	rep := &Report{Runtime: cfg.Runtime, Iterations: n, LoadBefore: loadAverage()}
	defer func() { rep.LoadAfter = loadAverage() }()
	want := func(group string) bool { return len(cfg.Only) == 0 || cfg.Only[group] }

	// One long-lived container for the round trips, as a conversation would use.
	progress("starting a container for round trips")
	c, err := cfg.Cold.Create(ctx, ws, sandbox.CreateOptions{Name: "bench"})
	if err != nil {
		return nil, fmt.Errorf("bench: creating a container: %w", err)
	}
	defer cfg.Cold.Delete(context.WithoutCancel(ctx), ws, c.ID)

	var running *Running
	if cfg.Baseline != nil {
		progress("starting the baseline container")
		if running, err = cfg.Baseline.Start(ctx); err != nil {
			return nil, fmt.Errorf("bench: baseline: %w", err)
		}
		defer running.Close(ctx)
	}
	baseRun := func(name string, args []string, want string) *Series {
		if cfg.Baseline == nil {
			return nil
		}
		progress(name)
		return measure(name, 0, 1, n, func() (time.Duration, error) { return cfg.Baseline.Run(ctx, args, want) })
	}
	baseExec := func(name string, args []string, want string) *Series {
		if running == nil {
			return nil
		}
		progress(name)
		return measure(name, 0, 1, n, func() (time.Duration, error) { return running.Exec(ctx, args, want) })
	}
	rt := "runc"
	if cfg.Baseline != nil {
		rt = baseName(cfg.Baseline.Runtime)
	}

	// Ready containers. Delete is outside the timing.
	create := func(sb Sandbox, wait bool) func() (time.Duration, error) {
		return func() (time.Duration, error) {
			if wait && cfg.PoolReady != nil {
				if err := cfg.PoolReady(ctx); err != nil {
					return 0, err
				}
			}
			start := time.Now()
			c, err := sb.Create(ctx, ws, sandbox.CreateOptions{})
			d := time.Since(start)
			if err != nil {
				return 0, err
			}
			return d, sb.Delete(ctx, ws, c.ID)
		}
	}
	if want("ready") {
		progress("ready container from the pool")
		pooled := measure("ready container, pool", 20*time.Millisecond, 1, n, create(cfg.Pooled, true))
		pooled.Note = "Create() until the container's agent answers, pool refilled between iterations"
		progress("ready container, cold")
		cold := measure("ready container, cold", 150*time.Millisecond, 1, n, create(cfg.Cold, false))
		cold.Note = "Create() with pool size 0: disk, bundle, runtime start, agent handshake"
		runTrue := baseRun(rt+" run true", []string{"true"}, "")
		if runTrue != nil {
			runTrue.Note = "create, start, wait and delete a container running /bin/true (no agent, no disk)"
		}
		rep.Rows = append(rep.Rows, Row{pooled, runTrue}, Row{cold, runTrue})
	}

	// Round trips in the long-lived container.
	execRow := func(name string, target time.Duration, cmd, want string) *Series {
		progress(name)
		return measure(name, target, 2, n, func() (time.Duration, error) {
			start := time.Now()
			res, err := cfg.Cold.Exec(ctx, ws, c.ID, sandbox.ExecRequest{Command: cmd})
			d := time.Since(start)
			if err != nil {
				return 0, err
			}
			return d, checkResult(res, want)
		})
	}
	pyRow := func(name string, target time.Duration, code, want string) *Series {
		progress(name)
		return measure(name, target, 2, n, func() (time.Duration, error) {
			start := time.Now()
			res, err := cfg.Cold.RunPython(ctx, ws, c.ID, sandbox.PythonRequest{Code: code})
			d := time.Since(start)
			if err != nil {
				return 0, err
			}
			return d, checkResult(res, want)
		})
	}
	if want("exec") {
		rep.Rows = append(rep.Rows,
			Row{execRow("echo hi", 5*time.Millisecond, "echo hi", "hi"),
				baseExec(rt+" exec echo hi", []string{"echo", "hi"}, "hi")},
			Row{pyRow("python 1+1, REPL", 5*time.Millisecond, "print(1+1)", "2"),
				baseExec(rt+" exec python3 1+1", []string{"python3", "-c", "print(1+1)"}, "2")},
			Row{pyRow("pandas groupby, REPL", 0, pandasCode, pandasResult),
				baseExec(rt+" exec python3 pandas", []string{"python3", "-c", pandasCode}, pandasResult)},
			Row{execRow("pandas groupby, fresh python3", 0, "python3 -c "+shellQuote(pandasCode), pandasResult),
				baseRun(rt+" run python3 pandas", []string{"python3", "-c", pandasCode}, pandasResult)},
		)
	}
	if want("python") {
		pyRows, pyNotes := pythonRows(ctx, cfg, c.ID, n, progress)
		rep.Rows = append(rep.Rows, pyRows...)
		rep.Notes = append(rep.Notes, pyNotes...)
	}
	if cfg.Burst > 0 && cfg.PooledAPI != nil && want("burst") {
		rows, notes := burstRows(ctx, cfg, n, progress)
		rep.Rows = append(rep.Rows, rows...)
		rep.Notes = append(rep.Notes, notes...)
	}
	if want("checkpoint") {
		rows, notes := checkpointRows(ctx, cfg, n, progress)
		rep.Rows = append(rep.Rows, rows...)
		rep.Notes = append(rep.Notes, notes...)
	}
	if cfg.ColdAPI != nil && want("http") {
		progress("echo hi over HTTP")
		s := measure("echo hi, HTTP API", 0, 2, n, func() (time.Duration, error) {
			start := time.Now()
			out, _, err := cfg.ColdAPI.Exec(ctx, c.ID, "echo hi")
			d := time.Since(start)
			if err == nil && !strings.Contains(out, "hi") {
				err = fmt.Errorf("stdout %q, want hi", out)
			}
			return d, err
		})
		s.Note = "POST /v1/containers/{id}/exec on loopback, JSON both ways"
		rep.Rows = append(rep.Rows, Row{s, nil})
	}

	if cfg.Idle > 0 && cfg.CgroupOf != nil && want("idle") {
		progress(fmt.Sprintf("memory of %d idle containers", cfg.Idle))
		rep.Notes = append(rep.Notes, idleMemory(ctx, cfg)...)
	}
	return rep, nil
}

func baseName(p string) string {
	if i := strings.LastIndexByte(p, '/'); i >= 0 {
		return p[i+1:]
	}
	return p
}

func checkResult(res *sandbox.ExecResult, want string) error {
	if res.ExitCode != 0 || res.TimedOut || !strings.Contains(res.Stdout, want) {
		return fmt.Errorf("exit %d, stdout %q, stderr %q; want %q", res.ExitCode, res.Stdout, truncate(res.Stderr, 300), want)
	}
	return nil
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n] + "…"
	}
	return s
}

func shellQuote(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }

// idleMemory starts cfg.Idle containers, lets them settle, and reports their memory
// twice: right after start (agent only) and after one REPL call (Python loaded). Per
// container = cgroup memory.usage_in_bytes (RSS + page cache charged to it) + the growth
// of this process's RSS divided by the count (host-side state: connections, buffers).
func idleMemory(ctx context.Context, cfg Config) []string {
	var lines []string
	hostBefore := selfRSS()
	availBefore := memAvailable()
	var ids []string
	defer func() {
		for _, id := range ids {
			cfg.Cold.Delete(context.WithoutCancel(ctx), ws, id)
		}
	}()
	for i := 0; i < cfg.Idle; i++ {
		c, err := cfg.Cold.Create(ctx, ws, sandbox.CreateOptions{Name: "idle"})
		if err != nil {
			return []string{fmt.Sprintf("idle containers: %v", err)}
		}
		ids = append(ids, c.ID)
		if _, err := cfg.Cold.Exec(ctx, ws, c.ID, sandbox.ExecRequest{Command: "true"}); err != nil {
			return []string{fmt.Sprintf("idle containers: %v", err)}
		}
	}
	sample := func(label string) {
		time.Sleep(500 * time.Millisecond) // let short-lived processes exit and caches settle
		var total int64
		for _, id := range ids {
			b, err := cgroupMemory(cfg.CgroupOf(id))
			if err != nil {
				lines = append(lines, fmt.Sprintf("idle containers (%s): %v", label, err))
				return
			}
			total += b
		}
		host := max(0, selfRSS()-hostBefore)
		per := (total + host) / int64(len(ids))
		usable := cfg.MachineMemory - 2<<30 // leave 2 GiB to the host and the server
		// Cross-check: the whole machine's MemAvailable drop (kernel state such as loop
		// devices and mounts included, but also anything else running meanwhile).
		sys := max(0, availBefore-memAvailable()) / int64(len(ids))
		lines = append(lines, fmt.Sprintf(
			"idle memory, %s: %s per container (cgroup %s + host process %s, mean of %d; MemAvailable drop %s) → %d idle containers in %s",
			label, mib(per), mib(total/int64(len(ids))), mib(host/int64(len(ids))), len(ids), mib(sys),
			usable/max(per, 1), gib(cfg.MachineMemory)))
	}
	sample("agent only")
	for _, step := range []struct{ label, code string }{
		{"after one REPL call (1+1)", "1+1"},
		{"after import pandas, numpy, matplotlib.pyplot in the REPL", "import pandas, numpy, matplotlib\nmatplotlib.use('Agg')\nimport matplotlib.pyplot"},
	} {
		for _, id := range ids {
			if _, err := cfg.Cold.RunPython(ctx, ws, id, sandbox.PythonRequest{Code: step.code}); err != nil {
				lines = append(lines, fmt.Sprintf("idle containers (%s): %v", step.label, err))
				return lines
			}
		}
		sample(step.label)
	}
	lines = append(lines, fmt.Sprintf("  (count = (%s - 2 GiB for the host) / per-container figure; cgroup = memory.usage_in_bytes: RSS plus the page cache charged to the container, shared image pages being charged once)", gib(cfg.MachineMemory)))
	return lines
}

// memAvailable is the machine's MemAvailable in bytes.
func memAvailable() int64 {
	b, err := os.ReadFile("/proc/meminfo")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "MemAvailable:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			return kb << 10
		}
	}
	return 0
}

func mib(b int64) string { return fmt.Sprintf("%.1f MiB", float64(b)/(1<<20)) }
func gib(b int64) string { return fmt.Sprintf("%.0f GiB", float64(b)/(1<<30)) }

// selfRSS is this process's resident set size in bytes.
func selfRSS() int64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			return kb << 10
		}
	}
	return 0
}
