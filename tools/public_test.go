package tools_test

import (
	"context"
	"encoding/json"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/codebox-dev/codebox/errdefs"
	"github.com/codebox-dev/codebox/sandbox"
	"github.com/codebox-dev/codebox/sandbox/sandboxtest"
	"github.com/codebox-dev/codebox/tools"
)

// TestMain lets the test binary double as the in-container agent for the tests that
// run real containers.
func TestMain(m *testing.M) {
	sandboxtest.AgentMain()
	os.Exit(m.Run())
}

// A container that cannot start again fails its call with a public message: the
// runtime's error, with its host paths, goes to the log and not to the model.
func TestRunShowsNoInternalErrorText(t *testing.T) {
	env := sandboxtest.New(t, nil)
	ctx := context.Background()
	c, err := env.Manager.Create(ctx, "ws1", sandbox.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := env.Manager.Stop(ctx, "ws1", c.ID); err != nil {
		t.Fatal(err)
	}
	// A server whose root filesystem was emptied cannot start it again (a missing one
	// is refused when the Manager is made).
	missing := filepath.Join(t.TempDir(), "empty", "rootfs")
	if err := os.MkdirAll(missing, 0o755); err != nil {
		t.Fatal(err)
	}
	env.Config.RootFS = missing
	m := env.Start(t)

	// The full error goes to the log; the test reads it there to check that none of it
	// reached the result.
	var logged strings.Builder
	runner := tools.NewRunner(m)
	runner.Logger = slog.New(slog.NewJSONHandler(&logged, nil))
	res, err := runner.Run(ctx, "ws1", c.ID, tools.CodeExecution20250825, tools.Bash, json.RawMessage(`{"command":"true"}`))
	if err != nil {
		t.Fatal(err)
	}
	var entry struct {
		Err string `json:"err"`
	}
	if err := json.Unmarshal([]byte(logged.String()), &entry); err != nil || entry.Err == "" {
		t.Fatalf("the failure was not logged with its error: %q (%v)", logged.String(), err)
	}
	internal := strings.TrimPrefix(entry.Err, "unavailable: ")
	if strings.Contains(res.ErrorMessage, internal) || strings.Contains(res.Text(), internal) {
		t.Errorf("result shows the internal error %q: %q", internal, res.ErrorMessage)
	}
	if res.ErrorCode != errdefs.CodeUnavailable {
		t.Fatalf("result = %+v, want %s", res, errdefs.CodeUnavailable)
	}
	if res.ErrorMessage == "" {
		t.Errorf("empty error message")
	}
	for _, leak := range []string{missing, env.Config.Dir, "rootfs", "runc", "runsc"} {
		if strings.Contains(res.ErrorMessage, leak) || strings.Contains(res.Text(), leak) {
			t.Errorf("result shows %q: %q", leak, res.ErrorMessage)
		}
	}
}
