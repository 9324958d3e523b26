package bench

import (
	"syscall"
	"testing"
	"time"
)

// TestCPUTime: the machine's CPU time counts at least the CPU this process burns.
func TestCPUTime(t *testing.T) {
	self := func() time.Duration {
		var ru syscall.Rusage
		if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
			t.Fatal(err)
		}
		return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	}
	before, mine := cpuTime(), self()
	if before <= 0 {
		t.Fatalf("cpuTime() = %v, want the machine's CPU time so far", before)
	}
	for self()-mine < 200*time.Millisecond {
	}
	// /proc/stat counts in ticks of 10 ms; half of what was burnt is a safe floor.
	if got := cpuTime() - before; got < 100*time.Millisecond {
		t.Errorf("cpuTime advanced %v while this process alone used 200 ms", got)
	}
}
