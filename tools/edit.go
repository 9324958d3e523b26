package tools

import (
	"context"

	"github.com/codebox-dev/codebox"
	"github.com/codebox-dev/codebox/errdefs"
	"github.com/codebox-dev/codebox/sandbox"
)

// EditInput is the text editor's input, as the model's text_editor_code_execution
// calls and the containers API's edit requests both send it.
type EditInput struct {
	Command   string  `json:"command"`
	Path      string  `json:"path"`
	FileText  *string `json:"file_text"`
	OldStr    *string `json:"old_str"`
	NewStr    *string `json:"new_str"`
	ViewRange []int   `json:"view_range"`
}

// Editor is the part of the sandbox the text editor uses.
type Editor interface {
	ViewFile(ctx context.Context, ws codebox.WorkspaceID, id, unsafePath string, viewRange []int) (*sandbox.ViewResult, error)
	CreateFile(ctx context.Context, ws codebox.WorkspaceID, id, unsafePath, text string) (updated bool, err error)
	StrReplace(ctx context.Context, ws codebox.WorkspaceID, id, unsafePath, oldStr, newStr string) (*sandbox.ReplaceResult, error)
}

// Edit checks in and runs it in container id. Input that cannot be used is
// errdefs.ErrInvalid with a message naming the field; the sandbox's errors are
// returned as they are.
func Edit(ctx context.Context, ed Editor, ws codebox.WorkspaceID, id string, in EditInput) (*EditResult, error) {
	if in.Path == "" {
		return nil, errdefs.New(errdefs.ErrInvalid, "", "path: is required")
	}
	switch in.Command {
	case EditView:
		if r := in.ViewRange; r != nil && (len(r) != 2 || r[0] < 1 || (r[1] != -1 && r[1] < r[0])) {
			return nil, errdefs.New(errdefs.ErrInvalid, "", "view_range: must be [start, end] with 1 <= start <= end, or end = -1")
		}
		v, err := ed.ViewFile(ctx, ws, id, in.Path, in.ViewRange)
		if err != nil {
			return nil, err
		}
		return &EditResult{Command: EditView, View: *v}, nil
	case EditCreate:
		if in.FileText == nil {
			return nil, errdefs.New(errdefs.ErrInvalid, "", "file_text: is required for create")
		}
		updated, err := ed.CreateFile(ctx, ws, id, in.Path, *in.FileText)
		if err != nil {
			return nil, err
		}
		return &EditResult{Command: EditCreate, IsFileUpdate: updated}, nil
	case EditStrReplace:
		if in.OldStr == nil || *in.OldStr == "" {
			return nil, errdefs.New(errdefs.ErrInvalid, "", "old_str: is required for str_replace")
		}
		newStr := ""
		if in.NewStr != nil {
			newStr = *in.NewStr
		}
		rep, err := ed.StrReplace(ctx, ws, id, in.Path, *in.OldStr, newStr)
		if err != nil {
			return nil, err
		}
		return &EditResult{Command: EditStrReplace, Replace: *rep}, nil
	case "":
		return nil, errdefs.New(errdefs.ErrInvalid, "", "command: is required (view, create or str_replace)")
	}
	cmd := in.Command
	if len(cmd) > 40 {
		cmd = cmd[:40]
	}
	return nil, errdefs.New(errdefs.ErrInvalid, "", "command: must be view, create or str_replace, not %q", cmd)
}
