package sandbox_test

import (
	"context"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/codebox-dev/codebox/sandbox"
	"github.com/codebox-dev/codebox/sandbox/sandboxtest"
)

// reportP50 adds the median of ds as a metric next to the mean ns/op.
func reportP50(b *testing.B, ds []time.Duration) {
	if len(ds) == 0 {
		return
	}
	slices.Sort(ds)
	b.ReportMetric(float64(ds[len(ds)/2].Microseconds())/1000, "p50-ms")
}

func BenchmarkCreateCold(b *testing.B) {
	e := sandboxtest.New(b, func(c *sandbox.Config) { c.Limits.Disk = 5 << 30 })
	ctx := context.Background()
	var ds []time.Duration
	b.ResetTimer()
	for b.Loop() {
		t0 := time.Now()
		c, err := e.Manager.Create(ctx, ws, sandbox.CreateOptions{})
		if err != nil {
			b.Fatal(err)
		}
		ds = append(ds, time.Since(t0))
		b.StopTimer()
		e.Manager.Delete(ctx, ws, c.ID)
		b.StartTimer()
	}
	reportP50(b, ds)
}

func BenchmarkCreatePooled(b *testing.B) {
	e := sandboxtest.New(b, func(c *sandbox.Config) { c.PoolSize = 2; c.Limits.Disk = 5 << 30 })
	ctx := context.Background()
	var ds []time.Duration
	b.ResetTimer()
	for b.Loop() {
		b.StopTimer()
		for e.Manager.PoolLen() < 1 {
			time.Sleep(time.Millisecond)
		}
		b.StartTimer()
		t0 := time.Now()
		c, err := e.Manager.Create(ctx, ws, sandbox.CreateOptions{})
		if err != nil {
			b.Fatal(err)
		}
		ds = append(ds, time.Since(t0))
		b.StopTimer()
		e.Manager.Delete(ctx, ws, c.ID)
		b.StartTimer()
	}
	reportP50(b, ds)
}

func BenchmarkExecEcho(b *testing.B) {
	e := sandboxtest.New(b, nil)
	ctx := context.Background()
	c, err := e.Manager.Create(ctx, ws, sandbox.CreateOptions{})
	if err != nil {
		b.Fatal(err)
	}
	var ds []time.Duration
	b.ResetTimer()
	for b.Loop() {
		t0 := time.Now()
		res, err := e.Manager.Exec(ctx, ws, c.ID, sandbox.ExecRequest{Command: "echo hi"})
		if err != nil || res.Stdout != "hi\n" {
			b.Fatal(res, err)
		}
		ds = append(ds, time.Since(t0))
	}
	reportP50(b, ds)
}

func BenchmarkPythonOnePlusOne(b *testing.B) {
	e := sandboxtest.New(b, nil)
	ctx := context.Background()
	c, err := e.Manager.Create(ctx, ws, sandbox.CreateOptions{})
	if err != nil {
		b.Fatal(err)
	}
	e.Manager.RunPython(ctx, ws, c.ID, sandbox.PythonRequest{Code: "0"}) // start the REPL
	var ds []time.Duration
	b.ResetTimer()
	for b.Loop() {
		t0 := time.Now()
		res, err := e.Manager.RunPython(ctx, ws, c.ID, sandbox.PythonRequest{Code: "1+1"})
		if err != nil || res.Stdout != "2\n" {
			b.Fatal(res, err)
		}
		ds = append(ds, time.Since(t0))
	}
	reportP50(b, ds)
}

func BenchmarkPandasGroupby(b *testing.B) {
	e := sandboxtest.New(b, nil)
	ctx := context.Background()
	c, err := e.Manager.Create(ctx, ws, sandbox.CreateOptions{})
	if err != nil {
		b.Fatal(err)
	}
	e.Manager.RunPython(ctx, ws, c.ID, sandbox.PythonRequest{Code: "import pandas as pd"})
	var ds []time.Duration
	b.ResetTimer()
	for b.Loop() {
		t0 := time.Now()
		res, err := e.Manager.RunPython(ctx, ws, c.ID, sandbox.PythonRequest{Code: "pd.DataFrame({'k': [1, 1, 2], 'v': [1, 2, 3]}).groupby('k').v.sum().to_dict()"})
		if err != nil || res.Stdout != "{1: 3, 2: 3}\n" {
			b.Fatal(res, err)
		}
		ds = append(ds, time.Since(t0))
	}
	reportP50(b, ds)
}

// BenchmarkIdleResumePandas: the first cell after an idle stop of a container whose
// REPL has pandas loaded, restored from its checkpoint (runsc) beside started cold
// and importing pandas again; the checkpoint's size is reported too.
func BenchmarkIdleResumePandas(b *testing.B) {
	for _, checkpoint := range []bool{true, false} {
		name := "cold"
		if checkpoint {
			name = "restore"
		}
		b.Run(name, func(b *testing.B) {
			e := sandboxtest.NewWithRuntime(b, "runsc", func(c *sandbox.Config) { c.Idle = time.Minute; c.Checkpoint = checkpoint })
			ctx := context.Background()
			c, err := e.Manager.Create(ctx, ws, sandbox.CreateOptions{})
			if err != nil {
				b.Fatal(err)
			}
			cell := func(code string) {
				res, err := e.Manager.RunPython(ctx, ws, c.ID, sandbox.PythonRequest{Code: code})
				if err != nil || res.ExitCode != 0 {
					b.Fatal(res, err)
				}
			}
			cell("import pandas as pd; df = pd.DataFrame({'a': range(1000)})")
			var ds []time.Duration
			var size int64
			for b.Loop() {
				b.StopTimer()
				idleStop(b, e, c.ID)
				size, _ = sandbox.DirSize(filepath.Join(e.Config.Dir, c.ID, "checkpoint"))
				b.StartTimer()
				t0 := time.Now()
				cell("import pandas as pd; df = globals().get('df', pd.DataFrame({'a': range(1000)})); int(df.a.sum())")
				ds = append(ds, time.Since(t0))
			}
			reportP50(b, ds)
			b.ReportMetric(float64(size)/(1<<20), "checkpoint-MiB")
		})
	}
}
