package skills_test

import (
	"archive/zip"
	"bytes"
	"context"
	"errors"
	"io"
	"io/fs"
	"path/filepath"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/codebox-dev/codebox/blobs/disk"
	"github.com/codebox-dev/codebox/errdefs"
	"github.com/codebox-dev/codebox/skills"
	"github.com/codebox-dev/codebox/store/sqlite"
)

const skillMD = "---\nname: report\ndescription: Writes reports.\n---\nRun scripts/make.py.\n"

var builtinFS = fstest.MapFS{
	"xlsx/SKILL.md":        {Data: []byte("---\nname: xlsx\ndescription: Spreadsheets.\n---\n")},
	"xlsx/scripts/make.py": {Data: []byte("print('xlsx')\n")},
	"README.md":            {Data: []byte("not a skill")},
}

func newService(t *testing.T, cfg skills.Config) *skills.Service {
	t.Helper()
	ctx := context.Background()
	db, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "codebox.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	blobs, err := disk.Open(filepath.Join(t.TempDir(), "skills"))
	if err != nil {
		t.Fatal(err)
	}
	return skills.New(cfg, db, blobs, builtinFS)
}

// bundle uploads files (path → content) in order.
func bundle(t *testing.T, s *skills.Service, files ...string) (*skills.Bundle, error) {
	t.Helper()
	b, err := s.NewBundle()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	for i := 0; i < len(files); i += 2 {
		if err := b.Add(files[i], strings.NewReader(files[i+1])); err != nil {
			return b, err
		}
	}
	return b, nil
}

func TestCreateAndResolve(t *testing.T) {
	ctx := context.Background()
	s := newService(t, skills.Config{})
	b, err := bundle(t, s, "report/SKILL.md", skillMD, "report/scripts/make.py", "print(1)\n")
	if err != nil {
		t.Fatal(err)
	}
	sk, v, err := s.Create(ctx, "ws1", "", b)
	if err != nil {
		t.Fatal(err)
	}
	if sk.DisplayName != "report" || sk.LatestVersion != v.ID || v.Name != "report" || v.Description != "Writes reports." || v.Directory != "report" {
		t.Fatalf("skill %+v version %+v", sk, v)
	}
	// A second version, uploaded without an enclosing folder, becomes the latest.
	b2, err := bundle(t, s, "SKILL.md", strings.Replace(skillMD, "Writes", "Now writes", 1), "scripts/make.py", "print(2)\n")
	if err != nil {
		t.Fatal(err)
	}
	v2, err := s.CreateVersion(ctx, "ws1", sk.ID, b2)
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := s.Version(ctx, "ws1", sk.ID, "latest"); got.ID != v2.ID {
		t.Errorf("latest = %s, want %s", got.ID, v2.ID)
	}

	res, err := s.Resolve(ctx, "ws1", []skills.Ref{{Type: "custom", SkillID: sk.ID, Version: v.ID}, {Type: "anthropic", SkillID: "xlsx"}})
	if err != nil {
		t.Fatal(err)
	}
	if res[0].Version != v.ID || res[0].Name != "report" || res[1].Version != skills.BuiltinVersion || res[1].Name != "xlsx" {
		t.Fatalf("resolved %+v, %+v", res[0].Ref, res[1].Ref)
	}
	for i, want := range []string{"print(1)\n", "print('xlsx')\n"} {
		fsys, c, err := res[i].Open(ctx)
		if err != nil {
			t.Fatal(err)
		}
		got, err := fs.ReadFile(fsys, "scripts/make.py")
		c.Close()
		if err != nil || string(got) != want {
			t.Errorf("%s scripts/make.py = %q, %v; want %q", res[i].Name, got, err, want)
		}
	}
	latest, err := s.Resolve(ctx, "ws1", []skills.Ref{{Type: "custom", SkillID: sk.ID}})
	if err != nil || latest[0].Version != v2.ID {
		t.Errorf("version omitted resolves to %+v, %v; want %s", latest, err, v2.ID)
	}

	// The archive downloads as uploaded.
	_, rc, err := s.OpenArchive(ctx, "ws1", sk.ID, v.ID)
	if err != nil {
		t.Fatal(err)
	}
	data, _ := io.ReadAll(rc)
	rc.Close()
	zr, err := zip.NewReader(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, f := range zr.File {
		names = append(names, f.Name)
	}
	if strings.Join(names, ",") != "report/SKILL.md,report/scripts/make.py" {
		t.Errorf("archive holds %v", names)
	}

	// Another workspace sees nothing of it.
	if _, err := s.Resolve(ctx, "ws2", []skills.Ref{{Type: "custom", SkillID: sk.ID}}); !errors.Is(err, errdefs.ErrNotFound) {
		t.Errorf("another workspace's skill: %v, want ErrNotFound", err)
	}
	if _, err := s.Get(ctx, "ws2", sk.ID); !errors.Is(err, errdefs.ErrNotFound) {
		t.Errorf("Get from another workspace: %v", err)
	}

	// Deleting the skill removes its versions' archives.
	if err := s.Delete(ctx, "ws1", sk.ID); err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.OpenArchive(ctx, "ws1", sk.ID, v.ID); !errors.Is(err, errdefs.ErrNotFound) {
		t.Errorf("archive of a deleted skill: %v", err)
	}
	if n, err := s.Recover(ctx); err != nil || n != 0 {
		t.Errorf("Recover after delete removed %d, %v: the delete left archives behind", n, err)
	}
}

func TestResolveErrors(t *testing.T) {
	ctx := context.Background()
	s := newService(t, skills.Config{})
	b, _ := bundle(t, s, "SKILL.md", skillMD)
	sk, _, err := s.Create(ctx, "ws1", "Reports", b)
	if err != nil {
		t.Fatal(err)
	}
	if sk.DisplayName != "Reports" {
		t.Errorf("display name %q", sk.DisplayName)
	}
	many := make([]skills.Ref, skills.MaxPerRequest+1)
	for i := range many {
		many[i] = skills.Ref{Type: "anthropic", SkillID: "xlsx"}
	}
	cases := []struct {
		refs []skills.Ref
		kind error
		msg  string
	}{
		{many, errdefs.ErrInvalid, "at most 20 skills"},
		{[]skills.Ref{{Type: "plugin", SkillID: "x"}}, errdefs.ErrInvalid, "must be \"anthropic\" or \"custom\""},
		{[]skills.Ref{{Type: "anthropic", SkillID: "docx"}}, errdefs.ErrNotFound, "Skill docx not found"},
		{[]skills.Ref{{Type: "anthropic", SkillID: "xlsx", Version: "19990101"}}, errdefs.ErrNotFound, "19990101"},
		{[]skills.Ref{{Type: "custom", SkillID: "skill_nope"}}, errdefs.ErrNotFound, "skill_nope"},
		{[]skills.Ref{{Type: "custom", SkillID: sk.ID, Version: "skver_nope"}}, errdefs.ErrNotFound, "skver_nope"},
		{[]skills.Ref{{Type: "custom", SkillID: sk.ID}, {Type: "custom", SkillID: sk.ID}}, errdefs.ErrInvalid, "both named \"report\""},
	}
	for _, c := range cases {
		_, err := s.Resolve(ctx, "ws1", c.refs)
		if !errors.Is(err, c.kind) || !strings.Contains(err.Error(), c.msg) {
			t.Errorf("%v: %v, want %v containing %q", c.refs, err, c.kind, c.msg)
		}
	}
}

func TestUploadRules(t *testing.T) {
	ctx := context.Background()
	s := newService(t, skills.Config{MaxSize: 1000})
	cases := []struct {
		files []string
		kind  error
		msg   string
	}{
		{nil, errdefs.ErrInvalid, "No files uploaded"},
		{[]string{"a/SKILL.md", skillMD, "b/x.py", "x"}, errdefs.ErrInvalid, "same top-level directory"},
		{[]string{"a/README.md", "x"}, errdefs.ErrInvalid, "SKILL.md file must be at the root"},
		{[]string{"a/b/SKILL.md", skillMD}, errdefs.ErrInvalid, "SKILL.md file must be at the root"},
		{[]string{"../SKILL.md", skillMD}, errdefs.ErrInvalid, ".. segments"},
		{[]string{"/etc/SKILL.md", skillMD}, errdefs.ErrInvalid, "must be relative"},
		{[]string{"SKILL.md", skillMD, "SKILL.md", skillMD}, errdefs.ErrInvalid, "uploaded twice"},
		{[]string{"SKILL.md", "no frontmatter"}, errdefs.ErrInvalid, "frontmatter"},
		{[]string{"SKILL.md", skillMD, "big.bin", strings.Repeat("x", 1000)}, errdefs.ErrTooLarge, "maximum total size of 1000 bytes"},
	}
	for _, c := range cases {
		b, err := bundle(t, s, c.files...)
		if err == nil {
			_, _, err = s.Create(ctx, "ws1", "", b)
		}
		if !errors.Is(err, c.kind) || !strings.Contains(err.Error(), c.msg) {
			t.Errorf("%q: %v, want %v containing %q", c.files, err, c.kind, c.msg)
		}
	}
	if list, _, err := s.List(ctx, "ws1", "custom", nil, 10); err != nil || len(list) != 0 {
		t.Errorf("refused uploads left skills: %d, %v", len(list), err)
	}
	if n, err := s.Recover(ctx); err != nil || n != 0 {
		t.Errorf("refused uploads left %d archives (%v)", n, err)
	}
}

func TestVersionDeleteAndBuiltins(t *testing.T) {
	ctx := context.Background()
	s := newService(t, skills.Config{})
	b, _ := bundle(t, s, "SKILL.md", skillMD)
	sk, v1, err := s.Create(ctx, "ws1", "", b)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteVersion(ctx, "ws1", sk.ID, v1.ID); !errors.Is(err, errdefs.ErrInvalid) {
		t.Errorf("deleting the only version: %v, want ErrInvalid", err)
	}
	b2, _ := bundle(t, s, "SKILL.md", skillMD)
	v2, err := s.CreateVersion(ctx, "ws1", sk.ID, b2)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteVersion(ctx, "ws1", sk.ID, v2.ID); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.Get(ctx, "ws1", sk.ID); got.LatestVersion != v1.ID {
		t.Errorf("latest after deleting the newest = %s, want %s", got.LatestVersion, v1.ID)
	}
	list, more, err := s.List(ctx, "ws1", "anthropic", nil, 20)
	if err != nil || more || len(list) != 1 || list[0].ID != "xlsx" || list[0].Source != "anthropic" {
		t.Fatalf("built-in listing: %+v %v", list, err)
	}
	if err := s.Delete(ctx, "ws1", "xlsx"); !errors.Is(err, errdefs.ErrInvalid) {
		t.Errorf("deleting a built-in skill: %v, want ErrInvalid", err)
	}
	bv, err := s.Version(ctx, "ws1", "xlsx", "latest")
	if err != nil || bv.ID != skills.BuiltinVersion || bv.Description != "Spreadsheets." {
		t.Errorf("built-in version: %+v, %v", bv, err)
	}
}
