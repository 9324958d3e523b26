package e2e

import (
	"bytes"
	"context"
	"image/png"
	"io"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/anthropics/anthropic-sdk-go"

	"github.com/codebox-dev/codebox/internal/testenv"
)

// The official Python SDKs drive a real codebox: each test starts the server with the
// real sandbox, runs a script of python/ (or the README's quick start) with the Python of
// the virtual environment scripts/pyvenv.sh makes from python/requirements.txt, and
// checks what it prints and what the server holds afterwards. The seeds' code runs
// unchanged: the SDKs read the base URL from ANTHROPIC_BASE_URL and OPENAI_BASE_URL, and
// the scripted upstream answers for the claude-* models they name.

// pythonDir holds the Python scripts and their pinned requirements.
const pythonDir = "python"

// The pinned SDK sets, by requirements file: the latest anthropic and openai SDKs, and
// the newest anthropic 0.x for seed code that the 1.0 SDK no longer runs.
const (
	sdkLatest = "requirements.txt"
	sdk0x     = "requirements-0.x.txt"
)

// venvPython is the python of the virtual environment made for the requirements file sdk.
func venvPython(t testing.TB, sdk string) string {
	t.Helper()
	return testenv.PythonVenv(t, filepath.Join(pythonDir, sdk))
}

// pyEnv is a server for a Python test.
type pyEnv struct {
	*env
	python string
	dir    string   // the scripts' working directory
	vars   []string // more environment variables for the scripts
}

func newPyEnv(t *testing.T, sdk, turns string, o envOptions) *pyEnv {
	t.Helper()
	py := venvPython(t, sdk)
	return &pyEnv{env: newEnv(t, formatAnthropic, turns, o), python: py, dir: t.TempDir()}
}

// write puts a file in the scripts' working directory.
func (p *pyEnv) write(t *testing.T, name, content string) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(p.dir, name), []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

// run runs the Python file script in the working directory with both SDKs pointed at the
// server and workspace default's key, and returns what it printed. The test fails with
// the script's output if it exits non-zero.
func (p *pyEnv) run(t *testing.T, script string) string {
	t.Helper()
	lib, err := filepath.Abs(pythonDir)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, p.python, script)
	cmd.Dir = p.dir
	cmd.Env = []string{
		"PATH=/usr/local/bin:/usr/bin:/bin",
		"HOME=" + p.dir, // no user configuration of the SDKs
		"PYTHONPATH=" + lib,
		"PYTHONDONTWRITEBYTECODE=1",
		"PYTHONUNBUFFERED=1",
		"ANTHROPIC_BASE_URL=" + p.url,
		"ANTHROPIC_API_KEY=" + p.keyA,
		"OPENAI_BASE_URL=" + p.url + "/v1",
		"OPENAI_API_KEY=" + p.keyA,
		"CODEBOX_OTHER_KEY=" + p.keyB, // a key of workspace "other"
	}
	cmd.Env = append(cmd.Env, p.vars...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("python %s: %v\nstdout:\n%s\nstderr:\n%s", filepath.Base(script), err, stdout.String(), stderr.String())
	}
	return stdout.String()
}

// runScript runs a script of pythonDir.
func (p *pyEnv) runScript(t *testing.T, name string) string {
	t.Helper()
	path, err := filepath.Abs(filepath.Join(pythonDir, name))
	if err != nil {
		t.Fatal(err)
	}
	return p.run(t, path)
}

// wantLines checks that out has each of want as a substring.
func wantLines(t *testing.T, out string, want ...string) {
	t.Helper()
	for _, w := range want {
		if !strings.Contains(out, w) {
			t.Errorf("output lacks %q:\n%s", w, out)
		}
	}
}

// wantPNG checks that the scripts wrote the PNG image name.
func (p *pyEnv) wantPNG(t *testing.T, name string) {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(p.dir, name))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := png.Decode(bytes.NewReader(data)); err != nil {
		t.Errorf("%s is not a PNG: %v", name, err)
	}
}

// storedFiles maps the names of the files of workspace default to their ids.
func (p *pyEnv) storedFiles(t *testing.T) map[string]string {
	t.Helper()
	out := map[string]string{}
	c := p.client(p.keyA)
	iter := c.Beta.Files.ListAutoPaging(context.Background(), anthropic.BetaFileListParams{})
	for iter.Next() {
		f := iter.Current()
		out[f.Filename] = f.ID
	}
	if err := iter.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// names lists the keys of files, sorted, comma-separated.
func names(files map[string]string) string {
	return strings.Join(slices.Sorted(maps.Keys(files)), ",")
}

// download returns the bytes of a file of workspace default.
func (p *pyEnv) download(t *testing.T, id string) []byte {
	t.Helper()
	res, err := p.client(p.keyA).Beta.Files.Download(context.Background(), id, anthropic.BetaFileDownloadParams{})
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	data, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return data
}
