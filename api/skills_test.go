package api_test

import (
	"archive/zip"
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/anthropics/anthropic-sdk-go"

	"github.com/codebox-dev/codebox/api"
	"github.com/codebox-dev/codebox/blobs/disk"
	"github.com/codebox-dev/codebox/files"
	"github.com/codebox-dev/codebox/skills"
	"github.com/codebox-dev/codebox/store/sqlite"
)

var testBuiltins = fstest.MapFS{
	"pdf/SKILL.md":         {Data: []byte("---\nname: pdf\ndescription: Makes PDFs.\n---\n")},
	"pdf/scripts/build.py": {Data: []byte("print('pdf')\n")},
	"docx/SKILL.md":        {Data: []byte("---\nname: docx\ndescription: Makes documents.\n---\n")},
}

// newSkillsEnv is a files env that also serves the Skills API.
func newSkillsEnv(t *testing.T, cfg skills.Config) (*filesEnv, *skills.Service) {
	t.Helper()
	dir := t.TempDir()
	db, err := sqlite.Open(context.Background(), filepath.Join(dir, "skills.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	blobs, err := disk.Open(filepath.Join(dir, "skills"))
	if err != nil {
		t.Fatal(err)
	}
	cfg.Logger = slog.New(slog.DiscardHandler)
	svc := skills.New(cfg, db, blobs, testBuiltins)
	return newFilesEnv(t, files.Config{}, func(c *api.Config) { c.Skills = svc }), svc
}

func skillFile(path, content string) io.Reader {
	return anthropic.File(strings.NewReader(content), path, "text/plain")
}

const testSkillMD = "---\nname: csv-report\ndescription: Summarises CSV files into a report.\n---\nRun scripts/report.py FILE.\n"

func TestSkillsGA(t *testing.T) {
	ctx := context.Background()
	e, _ := newSkillsEnv(t, skills.Config{})
	c := e.client(e.keyA)

	sk, err := c.Skills.New(ctx, anthropic.SkillNewParams{
		Files: []io.Reader{skillFile("csv-report/SKILL.md", testSkillMD), skillFile("csv-report/scripts/report.py", "print('report')\n")},
	})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(sk.ID, "skill_") || sk.DisplayName != "csv-report" || sk.Source.Type != "custom" ||
		!strings.HasPrefix(sk.LatestVersionID, "skver_") || sk.CreatedAt.IsZero() {
		t.Fatalf("created %s", sk.RawJSON())
	}
	got, err := c.Skills.Get(ctx, sk.ID, anthropic.SkillGetParams{})
	if err != nil || got.ID != sk.ID || got.LatestVersionID != sk.LatestVersionID {
		t.Fatalf("get: %v %v", got, err)
	}

	v2, err := c.Skills.Versions.New(ctx, sk.ID, anthropic.SkillVersionNewParams{
		Files: []io.Reader{skillFile("csv-report/SKILL.md", strings.Replace(testSkillMD, "Summarises", "Summarizes", 1))},
	})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(v2.ID, "skver_") || v2.SkillID != sk.ID || v2.Name != "csv-report" || v2.Description != "Summarizes CSV files into a report." {
		t.Fatalf("version %s", v2.RawJSON())
	}
	latest, err := c.Skills.Versions.Get(ctx, "latest", anthropic.SkillVersionGetParams{SkillID: sk.ID})
	if err != nil || latest.ID != v2.ID {
		t.Fatalf("latest = %v, %v; want %s", latest, err, v2.ID)
	}
	first, err := c.Skills.Versions.Get(ctx, sk.LatestVersionID, anthropic.SkillVersionGetParams{SkillID: sk.ID})
	if err != nil || first.Description != "Summarises CSV files into a report." {
		t.Fatalf("first version = %v, %v", first, err)
	}

	// Versions list newest first, and page.
	page, err := c.Skills.Versions.List(ctx, sk.ID, anthropic.SkillVersionListParams{Limit: anthropic.Int(1)})
	if err != nil {
		t.Fatal(err)
	}
	if len(page.Data) != 1 || page.Data[0].ID != v2.ID || page.NextPage == "" {
		t.Fatalf("first page %s", page.RawJSON())
	}
	var all []string
	for it := c.Skills.Versions.ListAutoPaging(ctx, sk.ID, anthropic.SkillVersionListParams{Limit: anthropic.Int(1)}); it.Next(); {
		all = append(all, it.Current().ID)
	}
	if fmt.Sprint(all) != fmt.Sprint([]string{v2.ID, sk.LatestVersionID}) {
		t.Errorf("versions = %v", all)
	}

	// Deleting the latest version makes the other the latest; the only one cannot go.
	del, err := c.Skills.Versions.Delete(ctx, v2.ID, anthropic.SkillVersionDeleteParams{SkillID: sk.ID})
	if err != nil || del.ID != v2.ID || del.Type != "skill_version_deleted" {
		t.Fatalf("delete version: %v %v", del, err)
	}
	if got, _ := c.Skills.Get(ctx, sk.ID, anthropic.SkillGetParams{}); got.LatestVersionID != sk.LatestVersionID {
		t.Errorf("latest after delete = %s", got.LatestVersionID)
	}
	_, err = c.Skills.Versions.Delete(ctx, sk.LatestVersionID, anthropic.SkillVersionDeleteParams{SkillID: sk.ID})
	if ae := apiError(t, err, 400, "invalid_request_error"); !strings.Contains(ae.RawJSON(), "only version") {
		t.Errorf("deleting the only version: %s", ae.RawJSON())
	}

	// Skills list with paging, newest first; display_name given is kept.
	var made []string
	for i := 0; i < 3; i++ {
		s, err := c.Skills.New(ctx, anthropic.SkillNewParams{DisplayName: anthropic.String(fmt.Sprintf("Report %d", i)),
			Files: []io.Reader{skillFile("SKILL.md", testSkillMD)}})
		if err != nil {
			t.Fatal(err)
		}
		if s.DisplayName != fmt.Sprintf("Report %d", i) {
			t.Errorf("display_name = %q", s.DisplayName)
		}
		made = append([]string{s.ID}, made...)
	}
	// Custom skills, then the built-in ones.
	made = append(made, sk.ID, "pdf", "docx")
	var listed []string
	for it := c.Skills.ListAutoPaging(ctx, anthropic.SkillListParams{Limit: anthropic.Int(2)}); it.Next(); {
		listed = append(listed, it.Current().ID)
	}
	if fmt.Sprint(listed) != fmt.Sprint(made) {
		t.Errorf("listed %v, want %v", listed, made)
	}
	builtin, err := c.Skills.List(ctx, anthropic.SkillListParams{Source: anthropic.String("anthropic")})
	if err != nil || len(builtin.Data) != 2 || builtin.Data[0].ID != "pdf" || builtin.Data[0].Source.Type != "anthropic" {
		t.Errorf("anthropic skills: %v %v", builtin, err)
	}

	// Another workspace sees none of it.
	other := e.client(e.keyB)
	_, err = other.Skills.Get(ctx, sk.ID, anthropic.SkillGetParams{})
	apiError(t, err, 404, "not_found_error")
	if l, err := other.Skills.List(ctx, anthropic.SkillListParams{Source: anthropic.String("custom")}); err != nil || len(l.Data) != 0 {
		t.Errorf("other workspace lists %v, %v", l, err)
	}
	_, err = other.Skills.Delete(ctx, sk.ID, anthropic.SkillDeleteParams{})
	apiError(t, err, 404, "not_found_error")

	d, err := c.Skills.Delete(ctx, sk.ID, anthropic.SkillDeleteParams{})
	if err != nil || d.ID != sk.ID || d.Type != "skill_deleted" {
		t.Fatalf("delete: %v %v", d, err)
	}
	_, err = c.Skills.Get(ctx, sk.ID, anthropic.SkillGetParams{})
	apiError(t, err, 404, "not_found_error")
	_, err = c.Skills.Versions.Get(ctx, "latest", anthropic.SkillVersionGetParams{SkillID: sk.ID})
	apiError(t, err, 404, "not_found_error")
}

func TestSkillsBetaDownload(t *testing.T) {
	ctx := context.Background()
	e, _ := newSkillsEnv(t, skills.Config{})
	c := e.client(e.keyA)
	sk, err := c.Beta.Skills.New(ctx, anthropic.BetaSkillNewParams{
		Files: []io.Reader{skillFile("csv-report/SKILL.md", testSkillMD), skillFile("csv-report/scripts/report.py", "print('report')\n")},
	})
	if err != nil {
		t.Fatal(err)
	}
	v, err := c.Beta.Skills.Versions.Get(ctx, "latest", anthropic.BetaSkillVersionGetParams{SkillID: sk.ID})
	if err != nil || v.ID != sk.LatestVersionID {
		t.Fatalf("beta latest: %v %v", v, err)
	}
	res, err := c.Beta.Skills.Versions.Download(ctx, v.ID, anthropic.BetaSkillVersionDownloadParams{SkillID: sk.ID})
	if err != nil {
		t.Fatal(err)
	}
	data, err := io.ReadAll(res.Body)
	res.Body.Close()
	if err != nil || res.Header.Get("Content-Type") != "application/zip" {
		t.Fatalf("download: %v, %s", err, res.Header.Get("Content-Type"))
	}
	zr, err := zip.NewReader(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		t.Fatal(err)
	}
	contents := map[string]string{}
	for _, f := range zr.File {
		rc, _ := f.Open()
		b, _ := io.ReadAll(rc)
		rc.Close()
		contents[f.Name] = string(b)
	}
	if contents["csv-report/SKILL.md"] != testSkillMD || contents["csv-report/scripts/report.py"] != "print('report')\n" {
		t.Errorf("archive = %v", contents)
	}
	// A built-in skill downloads too, foldered under its name.
	res, err = c.Beta.Skills.Versions.Download(ctx, "latest", anthropic.BetaSkillVersionDownloadParams{SkillID: "pdf"})
	if err != nil {
		t.Fatal(err)
	}
	data, _ = io.ReadAll(res.Body)
	res.Body.Close()
	if zr, err := zip.NewReader(bytes.NewReader(data), int64(len(data))); err != nil || len(zr.File) != 2 || zr.File[0].Name != "pdf/SKILL.md" && zr.File[1].Name != "pdf/SKILL.md" {
		t.Errorf("built-in archive: %v", err)
	}
	del, err := c.Beta.Skills.Delete(ctx, sk.ID, anthropic.BetaSkillDeleteParams{})
	if err != nil || del.Type != "skill_deleted" {
		t.Fatalf("beta delete: %v %v", del, err)
	}
}

func TestSkillsErrors(t *testing.T) {
	ctx := context.Background()
	e, _ := newSkillsEnv(t, skills.Config{MaxSize: 4096})
	c := e.client(e.keyA)
	cases := []struct {
		name   string
		files  []io.Reader
		status int
		typ    string
		msg    string
	}{
		{"no SKILL.md", []io.Reader{skillFile("x/README.md", "hi")}, 400, "invalid_request_error", "SKILL.md file must be at the root"},
		{"two folders", []io.Reader{skillFile("a/SKILL.md", testSkillMD), skillFile("b/x.py", "")}, 400, "invalid_request_error", "same top-level directory"},
		{"bad name", []io.Reader{skillFile("SKILL.md", "---\nname: Claude Helper\ndescription: x\n---\n")}, 400, "invalid_request_error", "lowercase"},
		{"reserved", []io.Reader{skillFile("SKILL.md", "---\nname: claude-helper\ndescription: x\n---\n")}, 400, "invalid_request_error", "reserved word"},
		{"no description", []io.Reader{skillFile("SKILL.md", "---\nname: a\n---\n")}, 400, "invalid_request_error", "description is required"},
		{"escape", []io.Reader{skillFile("../SKILL.md", testSkillMD)}, 400, "invalid_request_error", ".. segments"},
		{"too large", []io.Reader{skillFile("SKILL.md", testSkillMD), skillFile("big.bin", strings.Repeat("x", 5000))}, 413, "request_too_large", "4096 bytes"},
	}
	for _, tc := range cases {
		_, err := c.Skills.New(ctx, anthropic.SkillNewParams{Files: tc.files})
		ae := apiError(t, err, tc.status, tc.typ)
		if !strings.Contains(ae.RawJSON(), tc.msg) {
			t.Errorf("%s: %s, want %q", tc.name, ae.RawJSON(), tc.msg)
		}
	}
	_, err := c.Skills.New(ctx, anthropic.SkillNewParams{})
	if ae := apiError(t, err, 400, "invalid_request_error"); !strings.Contains(ae.RawJSON(), "No files uploaded") {
		t.Errorf("no files: %s", ae.RawJSON())
	}
	for _, id := range []string{"skill_doesnotexist", "nope"} {
		_, err = c.Skills.Get(ctx, id, anthropic.SkillGetParams{})
		apiError(t, err, 404, "not_found_error")
		_, err = c.Skills.Versions.New(ctx, id, anthropic.SkillVersionNewParams{Files: []io.Reader{skillFile("SKILL.md", testSkillMD)}})
		apiError(t, err, 404, "not_found_error")
	}
	_, err = c.Skills.List(ctx, anthropic.SkillListParams{Page: anthropic.String("garbage")})
	apiError(t, err, 400, "invalid_request_error")
	_, err = c.Skills.List(ctx, anthropic.SkillListParams{Limit: anthropic.Int(1001)})
	apiError(t, err, 400, "invalid_request_error")
	_, err = c.Skills.Delete(ctx, "pdf", anthropic.SkillDeleteParams{})
	apiError(t, err, 400, "invalid_request_error")
	status, _, env := rawRequest(t, http.MethodPost, e.url+"/v1/skills", e.keyA, "application/json", strings.NewReader("{}"))
	if status != 400 || !strings.Contains(fmt.Sprint(env), "multipart/form-data") {
		t.Errorf("JSON body: %d %v", status, env)
	}
}
