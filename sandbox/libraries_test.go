package sandbox_test

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/codebox-dev/codebox/image"
	"github.com/codebox-dev/codebox/sandbox"
	"github.com/codebox-dev/codebox/sandbox/sandboxtest"
)

// TestImageLibraries runs the image build's verification inside a real container, as
// the container's user with its limits: every library of the hosted tool's list
// imports and passes its functional check (parquet, pptx, PDF reading, rendering and
// tables, HTML and images to PDF), and every tool is on PATH.
func TestImageLibraries(t *testing.T) {
	e := sandboxtest.New(t, func(c *sandbox.Config) { c.Limits.Memory = 2 << 30 })
	c := create(t, e, sandbox.CreateOptions{})
	program, input, err := image.VerifyProgram(image.DefaultRecipe())
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for name, content := range map[string][]byte{"/tmp/verify.py": []byte(program), "/tmp/verify.json": input} {
		if err := e.Manager.Upload(ctx, ws, c.ID, name, bytes.NewReader(content)); err != nil {
			t.Fatal(err)
		}
	}
	res := runTimeout(t, e, c.ID, "python3 /tmp/verify.py < /tmp/verify.json", 5*time.Minute)
	var rep struct {
		Modules []image.ModuleStatus `json:"modules"`
		Tools   []image.ToolStatus   `json:"tools"`
		Errors  []string             `json:"errors"`
	}
	if err := json.Unmarshal([]byte(res.Stdout), &rep); err != nil {
		t.Fatalf("verification output: %v\nstdout %q\nstderr %s", err, res.Stdout, res.Stderr)
	}
	for _, m := range rep.Modules {
		if m.Error != "" {
			t.Errorf("%s: %s", m.Name, m.Error)
		}
	}
	for _, tool := range rep.Tools {
		if tool.Error != "" {
			t.Errorf("tool %s: %s", tool.Name, tool.Error)
		}
	}
	for _, e := range rep.Errors {
		t.Error(e)
	}
	if len(rep.Modules) != len(image.DefaultRecipe().Modules) {
		t.Errorf("verified %d modules, want %d", len(rep.Modules), len(image.DefaultRecipe().Modules))
	}
	if len(res.Files) > 0 {
		var names []string
		for _, f := range res.Files {
			names = append(names, f.Path)
		}
		t.Errorf("the checks left files in the workspace: %s", strings.Join(names, " "))
	}
}
