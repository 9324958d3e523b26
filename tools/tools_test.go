package tools_test

import (
	"context"
	"encoding/json"
	"io"
	"strings"
	"sync"
	"testing"

	"github.com/codebox-dev/codebox"
	"github.com/codebox-dev/codebox/errdefs"
	"github.com/codebox-dev/codebox/sandbox"
	"github.com/codebox-dev/codebox/tools"
)

func TestDefinitions(t *testing.T) {
	for _, tc := range []struct{ version, want string }{
		{tools.CodeExecution20250522, "code_execution"},
		{tools.CodeExecution20250825, "bash_code_execution,text_editor_code_execution"},
		{tools.CodeExecution20260120, "bash_code_execution,text_editor_code_execution,code_execution"},
		{tools.CodeExecution20260521, "bash_code_execution,text_editor_code_execution,code_execution"},
		{"web_search_20250305", ""},
	} {
		var names []string
		for _, d := range tools.Definitions(tc.version) {
			names = append(names, d.Name)
			var schema map[string]any
			if err := json.Unmarshal(d.InputSchema, &schema); err != nil || schema["type"] != "object" {
				t.Errorf("%s %s: schema %s", tc.version, d.Name, d.InputSchema)
			}
		}
		if got := strings.Join(names, ","); got != tc.want {
			t.Errorf("Definitions(%s) = %s, want %s", tc.version, got, tc.want)
		}
	}
	if tools.SubToolOfResult("text_editor_code_execution_tool_result") != tools.TextEditor || tools.SubToolOfResult("tool_result") != "" {
		t.Errorf("SubToolOfResult")
	}
}

// stubSandbox answers every call with fixed values or errors, and can block Exec.
type stubSandbox struct {
	err     error
	exec    *sandbox.ExecResult
	block   chan struct{}
	started chan struct{}
	mu      sync.Mutex
	lastCmd string
}

func (s *stubSandbox) Create(context.Context, codebox.WorkspaceID, sandbox.CreateOptions) (*sandbox.Container, error) {
	return &sandbox.Container{ID: "container_x"}, nil
}
func (s *stubSandbox) Get(context.Context, codebox.WorkspaceID, string) (*sandbox.Container, error) {
	return &sandbox.Container{ID: "container_x"}, nil
}
func (s *stubSandbox) Exec(ctx context.Context, ws codebox.WorkspaceID, id string, req sandbox.ExecRequest) (*sandbox.ExecResult, error) {
	s.mu.Lock()
	s.lastCmd = req.Command
	s.mu.Unlock()
	if s.block != nil {
		s.started <- struct{}{}
		<-s.block
	}
	if s.err != nil {
		return nil, s.err
	}
	return s.exec, nil
}
func (s *stubSandbox) RunPython(ctx context.Context, ws codebox.WorkspaceID, id string, req sandbox.PythonRequest) (*sandbox.ExecResult, error) {
	if s.err != nil {
		return nil, s.err
	}
	return s.exec, nil
}
func (s *stubSandbox) ViewFile(context.Context, codebox.WorkspaceID, string, string, []int) (*sandbox.ViewResult, error) {
	if s.err != nil {
		return nil, s.err
	}
	return &sandbox.ViewResult{FileType: "text", Content: "     1\tx\n", NumLines: 1, StartLine: 1, TotalLines: 1}, nil
}
func (s *stubSandbox) CreateFile(context.Context, codebox.WorkspaceID, string, string, string) (bool, error) {
	return false, s.err
}
func (s *stubSandbox) StrReplace(context.Context, codebox.WorkspaceID, string, string, string, string) (*sandbox.ReplaceResult, error) {
	if s.err != nil {
		return nil, s.err
	}
	return &sandbox.ReplaceResult{OldStart: 1, OldLines: 1, NewStart: 1, NewLines: 1, Lines: []string{"-a", "+b"}}, nil
}
func (s *stubSandbox) Upload(context.Context, codebox.WorkspaceID, string, string, io.Reader) error {
	return s.err
}

func TestRunErrorMapping(t *testing.T) {
	ctx := context.Background()
	view := json.RawMessage(`{"command":"view","path":"a"}`)
	ls := json.RawMessage(`{"command":"ls"}`)
	for _, tc := range []struct {
		name  string
		err   error
		exec  *sandbox.ExecResult
		tool  string
		input json.RawMessage
		code  string
	}{
		{"timeout", nil, &sandbox.ExecResult{TimedOut: true}, tools.Bash, ls, errdefs.CodeExecutionTimeExceeded},
		{"outputs too large", nil, &sandbox.ExecResult{FilesError: &sandbox.OutputError{Code: "output_file_too_large", Message: "big"}}, tools.Bash, ls, errdefs.CodeOutputFileTooLarge},
		{"unavailable", errdefs.New(errdefs.ErrUnavailable, "", "runtime down"), nil, tools.Bash, ls, errdefs.CodeUnavailable},
		{"expired", errdefs.New(errdefs.ErrInvalid, "container_expired", "gone"), nil, tools.Bash, ls, errdefs.CodeContainerExpired},
		{"rate limited", errdefs.New(errdefs.ErrRateLimited, "", "busy"), nil, tools.Bash, ls, errdefs.CodeTooManyRequests},
		{"missing file", errdefs.New(errdefs.ErrNotFound, "", "no such file"), nil, tools.TextEditor, view, errdefs.CodeFileNotFound},
		{"container gone", errdefs.New(errdefs.ErrNotFound, "", "no container"), nil, tools.Bash, ls, errdefs.CodeUnavailable},
		{"not unique", errdefs.New(errdefs.ErrInvalid, "string_not_unique", "2 matches"), nil, tools.TextEditor,
			json.RawMessage(`{"command":"str_replace","path":"a","old_str":"x","new_str":"y"}`), errdefs.CodeInvalidToolInput},
		{"not found string", errdefs.New(errdefs.ErrInvalid, "string_not_found", "absent"), nil, tools.TextEditor,
			json.RawMessage(`{"command":"str_replace","path":"a","old_str":"x"}`), errdefs.CodeStringNotFound},
		{"bad json", nil, nil, tools.Bash, json.RawMessage(`[1]`), errdefs.CodeInvalidToolInput},
		{"view_range", nil, nil, tools.TextEditor, json.RawMessage(`{"command":"view","path":"a","view_range":[3,1]}`), errdefs.CodeInvalidToolInput},
		{"create without text", nil, nil, tools.TextEditor, json.RawMessage(`{"command":"create","path":"a"}`), errdefs.CodeInvalidToolInput},
		{"undo_edit", nil, nil, tools.TextEditor, json.RawMessage(`{"command":"undo_edit","path":"a"}`), errdefs.CodeInvalidToolInput},
		{"python not offered", nil, nil, tools.Python, json.RawMessage(`{"code":"1"}`), errdefs.CodeInvalidToolInput},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := tools.NewRunner(&stubSandbox{err: tc.err, exec: tc.exec})
			res, err := r.Run(ctx, "ws", "container_x", tools.CodeExecution20250825, tc.tool, tc.input)
			if err != nil {
				t.Fatal(err)
			}
			if res.ErrorCode != tc.code || res.Tool != tc.tool {
				t.Errorf("result = %+v, want code %s", res, tc.code)
			}
			if !strings.HasPrefix(res.Text(), "Error: "+tc.code) {
				t.Errorf("Text() = %q", res.Text())
			}
		})
	}
	// An unknown failure is the infrastructure's: a Go error.
	r := tools.NewRunner(&stubSandbox{err: io.ErrUnexpectedEOF})
	if _, err := r.Run(ctx, "ws", "c", tools.CodeExecution20250825, tools.Bash, ls); err == nil {
		t.Errorf("infrastructure failure returned no error")
	}
}

func TestRunLegacyPythonAndText(t *testing.T) {
	sb := &stubSandbox{exec: &sandbox.ExecResult{Stdout: "42\n", Stderr: "warn", ExitCode: 1,
		Files: []sandbox.OutputFile{{FileID: "file_1", Path: "out.png"}}}}
	r := tools.NewRunner(sb)
	res, err := r.Run(context.Background(), "ws", "c", tools.CodeExecution20250522, tools.Python, json.RawMessage(`{"code":"print('it''s')"}`))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(sb.lastCmd, "exec python3 -c ") || strings.Contains(sb.lastCmd, "print(") {
		t.Errorf("legacy command = %q: code must travel encoded", sb.lastCmd)
	}
	want := "42\n[stderr]\nwarn\n[exit code 1]\n[files saved: out.png]"
	if got := res.Text(); got != want {
		t.Errorf("Text() = %q, want %q", got, want)
	}
}

func TestRunTooManyRequests(t *testing.T) {
	sb := &stubSandbox{exec: &sandbox.ExecResult{}, block: make(chan struct{}), started: make(chan struct{})}
	r := tools.NewRunner(sb)
	r.Limiter = &tools.Limiter{PerWorkspace: 1}
	ls := json.RawMessage(`{"command":"ls"}`)
	done := make(chan struct{})
	go func() {
		r.Run(context.Background(), "ws", "c", tools.CodeExecution20250825, tools.Bash, ls)
		close(done)
	}()
	<-sb.started
	res, err := r.Run(context.Background(), "ws", "c", tools.CodeExecution20250825, tools.Bash, ls)
	if err != nil || res.ErrorCode != errdefs.CodeTooManyRequests {
		t.Errorf("second call = %+v, %v; want too_many_requests", res, err)
	}
	// Another workspace is not limited by this one.
	go func() { <-sb.started }()
	close(sb.block)
	<-done
	if res, _ := r.Run(context.Background(), "other", "c", tools.CodeExecution20250825, tools.Bash, ls); res.IsError() {
		t.Errorf("other workspace = %+v", res)
	}
}
