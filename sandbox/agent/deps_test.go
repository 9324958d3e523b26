package agent

import (
	"os/exec"
	"strings"
	"testing"
)

// TestStdlibOnly keeps the agent, which runs inside every container, free of
// dependencies: everything it imports must come from the standard library, but for
// golang.org/x/sys/unix, the Go project's own system call package, for openat2.
func TestStdlibOnly(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", "-f", "{{if not .Standard}}{{.ImportPath}}{{end}}", ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v: %s", err, out)
	}
	for _, p := range strings.Fields(string(out)) {
		if !strings.HasPrefix(p, "github.com/codebox-dev/codebox/sandbox/agent") && p != "golang.org/x/sys/unix" {
			t.Errorf("agent imports non-standard package %s", p)
		}
	}
}
