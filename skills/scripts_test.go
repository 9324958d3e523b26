package skills_test

import (
	"bytes"
	"context"
	"io/fs"
	"os"
	"path"
	"strings"
	"testing"
	"time"

	"github.com/codebox-dev/codebox"
	"github.com/codebox-dev/codebox/sandbox"
	"github.com/codebox-dev/codebox/sandbox/sandboxtest"
	"github.com/codebox-dev/codebox/skills"
)

// TestBuiltinScripts runs each built-in skill's scripts in a real container, one
// container per skill, through testdata/check_<name>.py: it builds files with the
// scripts and checks them with the image's own libraries (openpyxl, python-pptx,
// python-docx, pypdf). The scripts are plain Python on the image's libraries, so the
// first runtime of CODEBOX_TEST_RUNTIMES is enough; the runtimes themselves are the
// sandbox package's tests.
func TestBuiltinScripts(t *testing.T) {
	// Each check starts a few dozen Python processes: on a loaded machine that takes
	// longer than sandboxtest's one-minute default limit.
	e := sandboxtest.New(t, func(c *sandbox.Config) { c.ExecTimeout = checkTimeout })
	for _, name := range builtinNames {
		t.Run(name, func(t *testing.T) { runChecks(t, e, name) })
	}
}

// checkTimeout bounds one skill's checks.
const checkTimeout = 10 * time.Minute

func runChecks(t *testing.T, e *sandboxtest.Env, name string) {
	ctx := context.Background()
	ws := codebox.DefaultWorkspace
	c, err := e.Manager.Create(ctx, ws, sandbox.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Manager.Delete(ctx, ws, c.ID)
	upload := func(dst string, data []byte) {
		t.Helper()
		if err := e.Manager.Upload(ctx, ws, c.ID, dst, bytes.NewReader(data)); err != nil {
			t.Fatalf("upload %s: %v", dst, err)
		}
	}
	skill, err := fs.Sub(skills.Builtin, name)
	if err != nil {
		t.Fatal(err)
	}
	err = fs.WalkDir(skill, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := fs.ReadFile(skill, p)
		if err == nil {
			upload(path.Join("/tmp/skills", name, p), data)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"checklib.py", "check_" + name + ".py"} {
		data, err := os.ReadFile("testdata/" + f)
		if err != nil {
			t.Fatal(err)
		}
		upload("/tmp/check/"+f, data)
	}
	res, err := e.Manager.Exec(ctx, ws, c.ID, sandbox.ExecRequest{
		// The skill's files are read-only, as where requests mount them.
		Command: "chmod -R a-w /tmp/skills/" + name + " && python3 /tmp/check/check_" + name + ".py /tmp/skills/" + name,
		Timeout: checkTimeout,
	})
	if err != nil {
		t.Fatal(err)
	}
	if res.ExitCode != 0 || !strings.HasPrefix(res.Stdout, "ok: ") {
		t.Fatalf("check_%s.py exited %d (timed out: %v, OOM-killed: %v)\nstdout:\n%s\nstderr:\n%s",
			name, res.ExitCode, res.TimedOut, res.OOMKilled, res.Stdout, res.Stderr)
	}
	t.Logf("%s: %s", name, strings.TrimSpace(res.Stdout))
}
