package sandbox_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/codebox-dev/codebox/sandbox"
	"github.com/codebox-dev/codebox/sandbox/sandboxtest"
	"github.com/codebox-dev/codebox/skills"
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

// A container left running by a server from before /skills existed is not adopted: its
// next use restarts it with the mount, so the skills set for it are there.
func TestNoAdoptionWithoutSkillsMount(t *testing.T) {
	e := sandboxtest.New(t, func(c *sandbox.Config) { c.StopOnClose = false })
	ctx := context.Background()
	c := create(t, e, sandbox.CreateOptions{})
	python(t, e, c.ID, "state = 'kept'", time.Minute)
	if err := e.Manager.Close(ctx); err != nil {
		t.Fatal(err)
	}
	// What an older server wrote: the same config without /skills.
	path := filepath.Join(e.Config.Dir, c.ID, "bundle", "config.json")
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var spec map[string]any
	if err := json.Unmarshal(data, &spec); err != nil {
		t.Fatal(err)
	}
	var mounts []any
	for _, m := range spec["mounts"].([]any) {
		if m.(map[string]any)["destination"] != sandbox.SkillsPath {
			mounts = append(mounts, m)
		}
	}
	if len(mounts) == len(spec["mounts"].([]any)) {
		t.Fatalf("config.json has no %s mount to remove", sandbox.SkillsPath)
	}
	spec["mounts"] = mounts
	if data, err = json.Marshal(spec); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	e.Manager = e.Start(t)
	if err := e.Manager.SetSkills(ctx, ws, c.ID, []sandbox.Skill{skill("chart", "c1", fstest.MapFS{"SKILL.md": {Data: []byte("chart\n")}})}); err != nil {
		t.Fatal(err)
	}
	if res := python(t, e, c.ID, "print('state' in globals())", time.Minute); res.Stdout != "False\n" {
		t.Errorf("the container was adopted: %+v", res)
	}
	if res := run(t, e, c.ID, "cat /skills/chart/SKILL.md"); res.Stdout != "chart\n" {
		t.Errorf("skills after the restart: %+v", res)
	}
}

// BenchmarkSetSkills measures loading the built-in xlsx skill into a running container:
// "copy" changes its key every time (a request naming another version), "unchanged"
// keeps it (the common reuse, which only reads the state file).
func BenchmarkSetSkills(b *testing.B) {
	e := sandboxtest.New(b, nil)
	ctx := context.Background()
	c, err := e.Manager.Create(ctx, ws, sandbox.CreateOptions{})
	if err != nil {
		b.Fatal(err)
	}
	xlsx, err := fs.Sub(skills.Builtin, "xlsx")
	if err != nil {
		b.Fatal(err)
	}
	for _, mode := range []string{"copy", "unchanged"} {
		b.Run(mode, func(b *testing.B) {
			for i := 0; b.Loop(); i++ {
				key := "k"
				if mode == "copy" {
					key = fmt.Sprint(i)
				}
				sk := sandbox.Skill{Name: "xlsx", Key: key, Open: func(context.Context) (fs.FS, io.Closer, error) {
					return xlsx, io.NopCloser(nil), nil
				}}
				if err := e.Manager.SetSkills(ctx, ws, c.ID, []sandbox.Skill{sk}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
