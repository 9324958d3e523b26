// Package bench measures codebox's sandbox against plain runc baselines: time to a ready
// container (pooled and cold), command and Python round trips, and how many idle
// containers fit in a machine's memory. `codebox bench` prints its results as one table.
package bench

import (
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"
	"time"
)

// Series is one measured quantity: N samples of a duration.
type Series struct {
	Name   string
	Target time.Duration // zero when the issue sets none
	// TargetAt is the percentile Target applies to; zero means the median.
	TargetAt float64
	Samples  []time.Duration
	Err      error // set when the measurement could not run; shown instead of figures
	// Failed counts the attempts that failed when the others' samples are still
	// shown (a burst); any failure misses the target.
	Failed int
	Note   string // how it was measured, shown after the figures
}

// Percentile returns the p-th percentile (0–100) by the nearest-rank method.
func (s *Series) Percentile(p float64) time.Duration {
	if len(s.Samples) == 0 {
		return 0
	}
	sorted := slices.Clone(s.Samples)
	slices.Sort(sorted)
	rank := int(p/100*float64(len(sorted))+0.999999) - 1
	rank = max(0, min(rank, len(sorted)-1))
	return sorted[rank]
}

// Row pairs a codebox measurement with the runc baseline of the same command.
type Row struct {
	Codebox  *Series
	Baseline *Series // nil when there is no comparable baseline
}

// Report is everything one run measured.
type Report struct {
	Runtime    string
	Iterations int
	Rows       []Row
	// Extra lines printed under the table (memory, capacity).
	Notes []string
	// The machine's 1-minute load average when the run began and ended: the machine
	// may be shared, and every figure is read beside it.
	LoadBefore, LoadAfter string
}

// Print writes the report as an aligned table.
func (r *Report) Print(w io.Writer) {
	fmt.Fprintf(w, "codebox bench: runtime %s, %d iterations per row (p50 / p95 / p99); load average %s at the start, %s at the end\n\n",
		r.Runtime, r.Iterations, r.LoadBefore, r.LoadAfter)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight|tabwriter.Debug)
	fmt.Fprintln(tw, "measurement\tcodebox p50\tp95\tp99\ttarget\t\tbaseline\tp50\tp95\tp99\t")
	for _, row := range r.Rows {
		c := row.Codebox
		cells := []string{c.Name}
		cells = append(cells, figures(c)...)
		target := "-"
		if c.Target > 0 {
			at, label := c.TargetAt, ""
			if at == 0 {
				at = 50
			} else {
				label = fmt.Sprintf("p%g ", at)
			}
			verdict := "MISS"
			if c.Err == nil && c.Failed == 0 && c.Percentile(at) <= c.Target {
				verdict = "ok"
			}
			target = label + "≤" + ms(c.Target) + " " + verdict
		}
		cells = append(cells, target, "")
		if b := row.Baseline; b != nil {
			cells = append(cells, b.Name)
			cells = append(cells, figures(b)...)
		} else {
			cells = append(cells, "-", "", "", "")
		}
		fmt.Fprintln(tw, strings.Join(cells, "\t")+"\t")
	}
	tw.Flush()
	fmt.Fprintln(w)
	shown := map[*Series]bool{}
	for _, row := range r.Rows {
		for _, s := range []*Series{row.Codebox, row.Baseline} {
			if s == nil || shown[s] {
				continue
			}
			shown[s] = true
			if s.Err != nil {
				fmt.Fprintf(w, "  %s: %v\n", s.Name, s.Err)
			} else if s.Note != "" {
				fmt.Fprintf(w, "  %s: %s\n", s.Name, s.Note)
			}
		}
	}
	for _, n := range r.Notes {
		fmt.Fprintln(w, n)
	}
}

func figures(s *Series) []string {
	if s.Err != nil || len(s.Samples) == 0 {
		return []string{"error", "", ""}
	}
	return []string{ms(s.Percentile(50)), ms(s.Percentile(95)), ms(s.Percentile(99))}
}

func ms(d time.Duration) string {
	v := float64(d) / float64(time.Millisecond)
	switch {
	case v >= 100:
		return fmt.Sprintf("%.0f ms", v)
	case v >= 10:
		return fmt.Sprintf("%.1f ms", v)
	default:
		return fmt.Sprintf("%.2f ms", v)
	}
}

// measure runs f n times (after warmup untimed runs) and records each duration. f returns
// the duration it measured itself, so that setup and teardown can stay outside the timing.
func measure(name string, target time.Duration, warmup, n int, f func() (time.Duration, error)) *Series {
	s := &Series{Name: name, Target: target}
	for i := 0; i < warmup+n; i++ {
		d, err := f()
		if err != nil {
			s.Err = err
			return s
		}
		if i >= warmup {
			s.Samples = append(s.Samples, d)
		}
	}
	return s
}
