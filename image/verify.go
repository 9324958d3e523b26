package image

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strings"
)

// verifyReport is what verify.py prints.
type verifyReport struct {
	Python  string         `json:"python"`
	Modules []ModuleStatus `json:"modules"`
	Tools   []ToolStatus   `json:"tools"`
	Errors  []string       `json:"errors"`
}

// verify imports every module of the recipe and exercises the stack (a pandas groupby
// plotted to a PNG, a scikit-learn fit) inside the image as the sandbox user, and
// checks every tool is on PATH with its shared libraries resolved.
func (b *builder) verify(ctx context.Context) (*verifyReport, error) {
	rep, err := runVerify(ctx, b.rootfs, b.recipe, b.log)
	if err != nil {
		return nil, err
	}
	var failed []string
	for _, m := range rep.Modules {
		if m.Error != "" {
			failed = append(failed, m.Name+": "+m.Error)
		} else {
			b.p.Printf("%-16s %s", m.Name, m.Version)
		}
	}
	for _, t := range rep.Tools {
		if t.Error != "" {
			failed = append(failed, t.Name+": "+t.Error)
		}
	}
	failed = append(failed, rep.Errors...)
	if len(failed) > 0 {
		return nil, fmt.Errorf("image: verification failed:\n  %s", strings.Join(failed, "\n  "))
	}
	b.p.Printf("Python %s: %d modules import, %d tools present, functional checks pass", rep.Python, len(rep.Modules), len(rep.Tools))
	return rep, nil
}

// VerifyProgram returns the verification program (Python, run with python3) and its
// input for r: run inside a container of the image, it prints the report the build
// checks, as JSON.
func VerifyProgram(r *Recipe) (program string, input []byte, err error) {
	input, err = json.Marshal(map[string]any{"modules": r.Modules, "tools": r.Tools})
	return verifyScript, input, err
}

// runVerify runs verify.py inside root as the sandbox user and decodes its report.
func runVerify(ctx context.Context, root string, r *Recipe, log io.Writer) (*verifyReport, error) {
	program, in, err := VerifyProgram(r)
	if err != nil {
		return nil, err
	}
	cmd := chrootCommand(ctx, root, fmt.Sprintf("%d:%d", UID, GID),
		[]string{"HOME=" + WorkspaceDir, "USER=user"}, "python3", "-c", program)
	cmd.Dir = "/"
	cmd.Stdin = strings.NewReader(string(in))
	var stdout strings.Builder
	cmd.Stdout = &stdout
	if log == nil {
		log = io.Discard
	}
	var stderr strings.Builder
	cmd.Stderr = io.MultiWriter(log, &stderr)
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("image: verification could not run: %w: %s", err, strings.TrimSpace(stderr.String()))
	}
	var rep verifyReport
	if err := json.Unmarshal([]byte(stdout.String()), &rep); err != nil {
		return nil, fmt.Errorf("image: verification output: %w: %q", err, stdout.String())
	}
	return &rep, nil
}
