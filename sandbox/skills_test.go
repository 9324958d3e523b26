package sandbox_test

import (
	"context"
	"io"
	"io/fs"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/codebox-dev/codebox/sandbox"
	"github.com/codebox-dev/codebox/sandbox/sandboxtest"
)

func skill(name, key string, files fstest.MapFS) sandbox.Skill {
	return sandbox.Skill{Name: name, Key: key, Open: func(context.Context) (fs.FS, io.Closer, error) {
		return files, io.NopCloser(nil), nil
	}}
}

// A container's /skills holds exactly the skills last set, read-only: a later set
// replaces changed ones and removes those no longer listed, in a running container.
func TestSetSkills(t *testing.T) { sandboxtest.ForEachRuntime(t, testSetSkills) }

func testSetSkills(t *testing.T, runtime string) {
	e := sandboxtest.NewWithRuntime(t, runtime, nil)
	ctx := context.Background()
	c := create(t, e, sandbox.CreateOptions{})
	report := fstest.MapFS{
		"SKILL.md":        {Data: []byte("---\nname: report\n---\nv1\n")},
		"scripts/make.sh": {Data: []byte("#!/bin/sh\necho made\n")},
	}
	chart := fstest.MapFS{"SKILL.md": {Data: []byte("chart v1\n")}}
	if err := e.Manager.SetSkills(ctx, ws, c.ID, []sandbox.Skill{skill("report", "r1", report), skill("chart", "c1", chart)}); err != nil {
		t.Fatal(err)
	}
	res := run(t, e, c.ID, "ls /skills; cat /skills/report/SKILL.md; /skills/report/scripts/make.sh; "+
		"touch /skills/report/x 2>/dev/null || echo refused; rm -rf /skills/chart 2>/dev/null || echo refused; ls /skills/chart")
	for _, want := range []string{"chart\nreport\n", "v1\n", "made\nrefused\nrefused\nSKILL.md\n"} {
		if !strings.Contains(res.Stdout, want) {
			t.Errorf("first request: stdout %q lacks %q (stderr %q)", res.Stdout, want, res.Stderr)
		}
	}
	// The next request names a new version of report and no chart.
	report2 := fstest.MapFS{"SKILL.md": {Data: []byte("---\nname: report\n---\nv2\n")}}
	if err := e.Manager.SetSkills(ctx, ws, c.ID, []sandbox.Skill{skill("report", "r2", report2)}); err != nil {
		t.Fatal(err)
	}
	res = run(t, e, c.ID, "ls -A /skills; cat /skills/report/SKILL.md; ls /skills/report")
	if res.Stdout != "report\n---\nname: report\n---\nv2\nSKILL.md\n" {
		t.Errorf("second request: stdout %q, stderr %q", res.Stdout, res.Stderr)
	}
	// A stopped container restarts with its skills; none set empties /skills.
	if _, err := e.Manager.Stop(ctx, ws, c.ID); err != nil {
		t.Fatal(err)
	}
	if res := run(t, e, c.ID, "cat /skills/report/SKILL.md"); !strings.Contains(res.Stdout, "v2") {
		t.Errorf("after a restart: %q %q", res.Stdout, res.Stderr)
	}
	if err := e.Manager.SetSkills(ctx, ws, c.ID, nil); err != nil {
		t.Fatal(err)
	}
	if res := run(t, e, c.ID, "ls -A /skills | wc -l"); strings.TrimSpace(res.Stdout) != "0" {
		t.Errorf("after setting none: %q %q", res.Stdout, res.Stderr)
	}
	// Another workspace cannot set them.
	if err := e.Manager.SetSkills(ctx, "other", c.ID, nil); err == nil {
		t.Error("SetSkills from another workspace succeeded")
	}
	if err := e.Manager.SetSkills(ctx, ws, c.ID, []sandbox.Skill{skill("../x", "k", chart)}); err == nil {
		t.Error("a skill named ../x was accepted")
	}
}
