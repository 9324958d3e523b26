package mcp

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"

	sdk "github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/codebox-dev/codebox/sandbox"
	"github.com/codebox-dev/codebox/tools"
)

// maxReadBytes caps what read_file returns: an MCP result travels as one JSON message.
const maxReadBytes = 10 << 20

// NewServer returns an MCP server whose tools run in b's containers. One server is one
// MCP session: it creates a container on its first call and keeps it until a tool
// switches or deletes it.
func NewServer(b Backend, version string) *sdk.Server {
	srv := sdk.NewServer(&sdk.Implementation{Name: "codebox", Version: version}, &sdk.ServerOptions{
		Instructions: "Tools run in one codebox container (a Linux sandbox without network, working directory " +
			"/workspace) that this session keeps across calls. Python state persists between run_python calls. " +
			"Files the code creates or changes are stored through the Files API and their file ids returned.",
	})
	s := &session{b: b}
	sdk.AddTool(srv, &sdk.Tool{Name: "run_bash", Description: "Run a bash command in the container; returns stdout, stderr, the exit code and the ids of files it generated."}, s.runBash)
	sdk.AddTool(srv, &sdk.Tool{Name: "run_python", Description: "Run Python code in the container's persistent interpreter (variables and imports persist across calls)."}, s.runPython)
	sdk.AddTool(srv, &sdk.Tool{Name: "text_editor", Description: "View a file or directory (view), create or overwrite a file (create), or replace one unique occurrence of old_str with new_str (str_replace)."}, s.edit)
	sdk.AddTool(srv, &sdk.Tool{Name: "upload_file", Description: "Write a file into the container from text or base64 content."}, s.upload)
	sdk.AddTool(srv, &sdk.Tool{Name: "read_file", Description: "Read a file out of the container: text as text, an image as image content, anything else as base64."}, s.read)
	sdk.AddTool(srv, &sdk.Tool{Name: "list_files", Description: "List the files under a directory of the container (default /workspace), recursively."}, s.list)
	sdk.AddTool(srv, &sdk.Tool{Name: "container", Description: "Manage this session's container: current (show its id), new (start a fresh one), use (switch to an existing one by id), delete (delete it; the next call starts a fresh one)."}, s.container)
	return srv
}

// session is one MCP session's state: the container its tools use.
type session struct {
	b  Backend
	mu sync.Mutex
	id string
}

// containerID returns the session's container, creating one on first use.
func (s *session) containerID(ctx context.Context) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.id == "" {
		id, err := s.b.NewContainer(ctx)
		if err != nil {
			return "", err
		}
		s.id = id
	}
	return s.id, nil
}

func (s *session) setID(id string) {
	s.mu.Lock()
	s.id = id
	s.mu.Unlock()
}

type bashInput struct {
	Command string `json:"command" jsonschema:"the bash command to run"`
}

type pythonInput struct {
	Code string `json:"code" jsonschema:"the Python code to run"`
}

// RunOutput is the structured result of run_bash and run_python.
type RunOutput struct {
	ContainerID string          `json:"container_id"`
	Stdout      string          `json:"stdout"`
	Stderr      string          `json:"stderr"`
	ExitCode    int             `json:"exit_code"`
	TimedOut    bool            `json:"timed_out,omitempty"`
	Files       []GeneratedFile `json:"files"`
	FilesError  string          `json:"files_error,omitempty"`
}

// GeneratedFile is a file the code wrote, stored through the Files API.
type GeneratedFile struct {
	FileID   string `json:"file_id"`
	Path     string `json:"path"`
	Bytes    int64  `json:"bytes"`
	MimeType string `json:"mime_type"`
}

func (s *session) runBash(ctx context.Context, _ *sdk.CallToolRequest, in bashInput) (*sdk.CallToolResult, RunOutput, error) {
	return s.run(ctx, func(id string) (*sandbox.ExecResult, error) { return s.b.Exec(ctx, id, in.Command) })
}

func (s *session) runPython(ctx context.Context, _ *sdk.CallToolRequest, in pythonInput) (*sdk.CallToolResult, RunOutput, error) {
	return s.run(ctx, func(id string) (*sandbox.ExecResult, error) { return s.b.Python(ctx, id, in.Code) })
}

func (s *session) run(ctx context.Context, do func(id string) (*sandbox.ExecResult, error)) (*sdk.CallToolResult, RunOutput, error) {
	id, err := s.containerID(ctx)
	if err != nil {
		return nil, RunOutput{}, err
	}
	res, err := do(id)
	if err != nil {
		return nil, RunOutput{}, err
	}
	out := RunOutput{ContainerID: id, Stdout: res.Stdout, Stderr: res.Stderr, ExitCode: res.ExitCode,
		TimedOut: res.TimedOut, Files: make([]GeneratedFile, 0, len(res.Files))}
	for _, f := range res.Files {
		out.Files = append(out.Files, GeneratedFile{FileID: f.FileID, Path: sandbox.AbsPath(f.Path), Bytes: f.Size, MimeType: f.MimeType})
	}
	if res.FilesError != nil {
		out.FilesError = res.FilesError.Message
	}
	var text strings.Builder
	text.WriteString(res.Stdout)
	if res.Stderr != "" {
		fmt.Fprintf(&text, "\n[stderr]\n%s", res.Stderr)
	}
	switch {
	case res.TimedOut:
		text.WriteString("\n[timed out]")
	case res.OOMKilled:
		text.WriteString("\n[killed: out of memory]")
	case res.ExitCode != 0:
		fmt.Fprintf(&text, "\n[exit code %d]", res.ExitCode)
	}
	for _, f := range out.Files {
		fmt.Fprintf(&text, "\n[generated %s: file_id %s]", f.Path, f.FileID)
	}
	failed := res.ExitCode != 0 || res.TimedOut || res.OOMKilled
	return &sdk.CallToolResult{IsError: failed, Content: []sdk.Content{&sdk.TextContent{Text: text.String()}}}, out, nil
}

// editInput is tools.EditInput with the optional fields marked so in the tool's schema.
type editInput struct {
	Command   string  `json:"command" jsonschema:"view, create or str_replace"`
	Path      string  `json:"path" jsonschema:"the file (or, for view, directory), absolute or relative to /workspace"`
	FileText  *string `json:"file_text,omitempty" jsonschema:"create: the file's content"`
	OldStr    *string `json:"old_str,omitempty" jsonschema:"str_replace: the text to replace, which must occur exactly once"`
	NewStr    *string `json:"new_str,omitempty" jsonschema:"str_replace: the replacement text"`
	ViewRange []int   `json:"view_range,omitempty" jsonschema:"view: [first line, last line] (last -1 for the end)"`
}

func (s *session) edit(ctx context.Context, _ *sdk.CallToolRequest, args editInput) (*sdk.CallToolResult, any, error) {
	in := tools.EditInput(args)
	if err := checkPath(in.Path); err != nil {
		return nil, nil, err
	}
	id, err := s.containerID(ctx)
	if err != nil {
		return nil, nil, err
	}
	res, err := s.b.Edit(ctx, id, in)
	if err != nil {
		return nil, nil, err
	}
	var text string
	switch res.Command {
	case tools.EditView:
		if res.View.FileType == "image" {
			return s.readResult(ctx, id, in.Path)
		}
		text = res.View.Content
	case tools.EditCreate:
		text = "Created " + in.Path
		if res.IsFileUpdate {
			text = "Overwrote " + in.Path
		}
	case tools.EditStrReplace:
		r := res.Replace
		text = fmt.Sprintf("Replaced in %s: lines %d-%d are now\n%s", in.Path, r.NewStart, r.NewStart+r.NewLines-1, strings.Join(r.Lines, "\n"))
	}
	return textResult(text), nil, nil
}

type uploadInput struct {
	Path    string `json:"path" jsonschema:"where to write the file, absolute or relative to /workspace"`
	Content string `json:"content" jsonschema:"the file's content"`
	Base64  bool   `json:"base64,omitempty" jsonschema:"content is base64-encoded bytes"`
}

func (s *session) upload(ctx context.Context, _ *sdk.CallToolRequest, in uploadInput) (*sdk.CallToolResult, any, error) {
	if err := checkPath(in.Path); err != nil {
		return nil, nil, err
	}
	data := []byte(in.Content)
	if in.Base64 {
		var err error
		if data, err = base64.StdEncoding.DecodeString(in.Content); err != nil {
			return nil, nil, errors.New("content: not valid base64")
		}
	}
	id, err := s.containerID(ctx)
	if err != nil {
		return nil, nil, err
	}
	if err := s.b.Upload(ctx, id, in.Path, data); err != nil {
		return nil, nil, err
	}
	return textResult(fmt.Sprintf("Wrote %d bytes to %s", len(data), in.Path)), nil, nil
}

type pathInput struct {
	Path string `json:"path" jsonschema:"a path in the container, absolute or relative to /workspace"`
}

func (s *session) read(ctx context.Context, _ *sdk.CallToolRequest, in pathInput) (*sdk.CallToolResult, any, error) {
	if err := checkPath(in.Path); err != nil {
		return nil, nil, err
	}
	id, err := s.containerID(ctx)
	if err != nil {
		return nil, nil, err
	}
	return s.readResult(ctx, id, in.Path)
}

func (s *session) readResult(ctx context.Context, id, p string) (*sdk.CallToolResult, any, error) {
	data, err := s.b.ReadFile(ctx, id, p, maxReadBytes)
	if err != nil {
		return nil, nil, err
	}
	ctype := http.DetectContentType(data)
	switch {
	case strings.HasPrefix(ctype, "image/"):
		return &sdk.CallToolResult{Content: []sdk.Content{&sdk.ImageContent{Data: data, MIMEType: ctype}}}, nil, nil
	case strings.HasPrefix(ctype, "text/"), len(data) == 0:
		return textResult(string(data)), nil, nil
	}
	return textResult(fmt.Sprintf("%s is binary (%s, %d bytes); base64:\n%s", p, ctype, len(data),
		base64.StdEncoding.EncodeToString(data))), nil, nil
}

type listInput struct {
	Path string `json:"path,omitempty" jsonschema:"the directory to list (default /workspace)"`
}

// ListOutput is list_files's structured result.
type ListOutput struct {
	Files []File `json:"files"`
}

func (s *session) list(ctx context.Context, _ *sdk.CallToolRequest, in listInput) (*sdk.CallToolResult, ListOutput, error) {
	if err := checkPath(in.Path); err != nil {
		return nil, ListOutput{}, err
	}
	id, err := s.containerID(ctx)
	if err != nil {
		return nil, ListOutput{}, err
	}
	fs, err := s.b.ListFiles(ctx, id, in.Path)
	if err != nil {
		return nil, ListOutput{}, err
	}
	var text strings.Builder
	for _, f := range fs {
		fmt.Fprintf(&text, "%s\t%d\n", f.Path, f.Bytes)
	}
	if fs == nil {
		fs = []File{}
	}
	return textResult(text.String()), ListOutput{Files: fs}, nil
}

type containerInput struct {
	Action string `json:"action" jsonschema:"current, new, use or delete"`
	ID     string `json:"id,omitempty" jsonschema:"the container id, for use (and for delete of another container)"`
}

// ContainerOutput is the container tool's structured result.
type ContainerOutput struct {
	ContainerID string `json:"container_id"`
	Deleted     bool   `json:"deleted,omitempty"`
}

func (s *session) container(ctx context.Context, _ *sdk.CallToolRequest, in containerInput) (*sdk.CallToolResult, ContainerOutput, error) {
	var out ContainerOutput
	switch in.Action {
	case "current":
		id, err := s.containerID(ctx)
		if err != nil {
			return nil, out, err
		}
		out.ContainerID = id
	case "new":
		id, err := s.b.NewContainer(ctx)
		if err != nil {
			return nil, out, err
		}
		s.setID(id)
		out.ContainerID = id
	case "use":
		if in.ID == "" {
			return nil, out, errors.New("id: is required for use")
		}
		if err := s.b.CheckContainer(ctx, in.ID); err != nil {
			return nil, out, err
		}
		s.setID(in.ID)
		out.ContainerID = in.ID
	case "delete":
		s.mu.Lock()
		id := in.ID
		if id == "" {
			id = s.id
		}
		s.mu.Unlock()
		if id == "" {
			return nil, out, errors.New("no container to delete: this session has none yet")
		}
		if err := s.b.DeleteContainer(ctx, id); err != nil {
			return nil, out, err
		}
		s.mu.Lock()
		if s.id == id {
			s.id = ""
		}
		s.mu.Unlock()
		out = ContainerOutput{ContainerID: id, Deleted: true}
	default:
		return nil, out, fmt.Errorf("action: must be current, new, use or delete, not %q", truncate(in.Action, 40))
	}
	b, _ := json.Marshal(out)
	return textResult(string(b)), out, nil
}

func textResult(text string) *sdk.CallToolResult {
	return &sdk.CallToolResult{Content: []sdk.Content{&sdk.TextContent{Text: text}}}
}

// checkPath rejects what the containers API rejects before the sandbox sees a path.
func checkPath(p string) error {
	if strings.ContainsRune(p, 0) || len(p) > 4096 {
		return errors.New("path: invalid path")
	}
	for _, elem := range strings.Split(p, "/") {
		if elem == ".." {
			return errors.New("path: must not contain '..'")
		}
	}
	return nil
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n] + "…"
	}
	return s
}
