package bench

import (
	"context"
	"testing"
	"time"

	"github.com/codebox-dev/codebox/internal/testenv"
	"github.com/codebox-dev/codebox/sandbox/sandboxtest"
)

// testRootFS finds the built image's root filesystem, or stops the test
// (testenv.Missing).
func testRootFS(t *testing.T) string {
	t.Helper()
	testenv.NeedRoot(t)
	return sandboxtest.RootFS(t)
}

// testRuntimes is CODEBOX_TEST_RUNTIMES; a runtime that is not installed stops the
// test (testenv.Missing).
func testRuntimes(t *testing.T) []string {
	rts := sandboxtest.Runtimes()
	testenv.NeedCommand(t, rts...)
	return rts
}

func TestBaseline(t *testing.T) {
	rootfs := testRootFS(t)
	for _, rt := range testRuntimes(t) {
		t.Run(rt, func(t *testing.T) {
			ctx := context.Background()
			b, err := NewBaseline(rt, rootfs)
			if err != nil {
				t.Fatal(err)
			}
			defer b.Close()
			if _, err := b.Run(ctx, []string{"echo", "hi"}, "hi"); err != nil {
				t.Fatal(err)
			}
			r, err := b.Start(ctx)
			if err != nil {
				t.Fatal(err)
			}
			defer r.Close(ctx)
			if _, err := r.Exec(ctx, []string{"python3", "-c", "print(1+1)"}, "2"); err != nil {
				t.Fatal(err)
			}
			// No network: the baseline must be as isolated as the sandbox it is compared with.
			if _, err := r.Exec(ctx, []string{"python3", "-c",
				"import socket\ntry:\n socket.create_connection(('1.1.1.1',80),timeout=2)\n print('connected')\nexcept OSError as e:\n print('unreachable', e)"},
				"unreachable"); err != nil {
				t.Fatal(err)
			}
			if _, err := r.Exec(ctx, []string{"sh", "-c", "touch /etc/x 2>&1 || echo read-only"}, "read-only"); err != nil {
				t.Fatal(err)
			}
			if rt == "runc" {
				if n, err := r.MemoryUsage(); err != nil || n <= 0 {
					t.Errorf("MemoryUsage = %d, %v", n, err)
				}
			}
		})
	}
}

func TestPercentile(t *testing.T) {
	s := &Series{}
	for i := 1; i <= 100; i++ {
		s.Samples = append(s.Samples, timeMS(i))
	}
	for _, tc := range []struct {
		p    float64
		want int
	}{{50, 50}, {95, 95}, {99, 99}, {100, 100}, {0, 1}} {
		if got := s.Percentile(tc.p); got != timeMS(tc.want) {
			t.Errorf("Percentile(%v) = %v, want %v", tc.p, got, timeMS(tc.want))
		}
	}
}

func timeMS(n int) time.Duration { return time.Duration(n) * time.Millisecond }
