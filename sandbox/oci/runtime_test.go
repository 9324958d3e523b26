package oci

import (
	"context"
	"os"
	"strings"
	"testing"

	runc "github.com/containerd/go-runc"

	"github.com/codebox-dev/codebox/internal/testenv"
	"github.com/codebox-dev/codebox/sandbox"
)

// A container the runtime does not know is absent, and deleting it succeeds, on every
// runtime under test; a runtime that cannot answer is an error, never "absent".
func TestStateOfUnknownContainer(t *testing.T) {
	testenv.NeedRoot(t)
	runtimes := []string{"runc"}
	if v := os.Getenv("CODEBOX_TEST_RUNTIMES"); v != "" {
		runtimes = strings.Split(v, ",")
	}
	ctx := context.Background()
	for _, bin := range runtimes {
		t.Run(bin, func(t *testing.T) {
			testenv.NeedCommand(t, bin)
			r, err := New(Config{Binary: bin, Root: t.TempDir()})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { r.Close() })
			if st, err := r.State(ctx, "container_unknown"); err != nil || st != sandbox.StateAbsent {
				t.Errorf("State = %v, %v; want absent", st, err)
			}
			if err := r.Delete(ctx, "container_unknown"); err != nil {
				t.Errorf("Delete: %v", err)
			}
			if ids, err := r.List(ctx); err != nil || len(ids) != 0 {
				t.Errorf("List = %v, %v; want none", ids, err)
			}
		})
	}
	broken := &Runtime{binary: "/bin/false", rc: &runc.Runc{Command: "/bin/false", Root: t.TempDir()}}
	if st, err := broken.State(ctx, "container_unknown"); err == nil {
		t.Errorf("State with a failing runtime = %v, nil; want an error", st)
	}
}
