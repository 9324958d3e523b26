package sandbox

import (
	"context"
	"encoding/base64"
	"fmt"
	"path"
	"strings"

	"github.com/codebox-dev/codebox"
	"github.com/codebox-dev/codebox/errdefs"
	"github.com/codebox-dev/codebox/sandbox/agent"
)

// The text editor runs its file access through the container's agent, so it sees the
// container's whole filesystem exactly as the container's user does and nothing else.

// fileTypes are the non-text types the editor reports, by extension.
var fileTypes = map[string]string{
	".png": "image", ".jpg": "image", ".jpeg": "image", ".gif": "image", ".webp": "image",
	".pdf": "pdf",
}

// containerPath makes an editor path absolute in the container.
func containerPath(unsafePath string) (string, error) {
	if unsafePath == "" || strings.IndexByte(unsafePath, 0) >= 0 {
		return "", errdefs.New(errdefs.ErrInvalid, "", "invalid path %q", unsafePath)
	}
	if !path.IsAbs(unsafePath) {
		unsafePath = agent.WorkDir + "/" + unsafePath
	}
	return path.Clean(unsafePath), nil
}

func (m *Manager) readFile(ctx context.Context, inst *instance, p string) ([]byte, error) {
	var data []byte
	err := m.withAgent(ctx, inst, func(c *agent.Client) error {
		d, isDir, err := c.ReadFile(ctx, p, MaxViewBytes)
		if err != nil {
			return err
		}
		if isDir {
			return &agent.Error{Kind: agent.KindIsDir, Message: p + " is a directory"}
		}
		data = d
		return nil
	})
	return data, err
}

// ViewFile returns an image or PDF as base64, and text with line numbers (cat -n
// style), optionally only lines viewRange[0] to viewRange[1] (1-based, -1 = last).
func (m *Manager) ViewFile(ctx context.Context, ws codebox.WorkspaceID, id, unsafePath string, viewRange []int) (*ViewResult, error) {
	p, err := containerPath(unsafePath)
	if err != nil {
		return nil, err
	}
	inst, err := m.use(ctx, ws, id)
	if err != nil {
		return nil, err
	}
	defer inst.release()
	defer m.touch(ctx, inst)
	data, err := m.readFile(ctx, inst, p)
	if err != nil {
		return nil, err
	}
	if ft, ok := fileTypes[strings.ToLower(path.Ext(p))]; ok {
		return &ViewResult{FileType: ft, Content: base64.StdEncoding.EncodeToString(data)}, nil
	}
	return viewText(string(data), viewRange)
}

// splitLines splits text into lines without their newlines; a final newline does not
// start another line.
func splitLines(s string) []string {
	if s == "" {
		return nil
	}
	return strings.Split(strings.TrimSuffix(s, "\n"), "\n")
}

func viewText(text string, viewRange []int) (*ViewResult, error) {
	lines := splitLines(text)
	total := len(lines)
	start, end := 1, total
	if viewRange != nil {
		if len(viewRange) != 2 {
			return nil, errdefs.New(errdefs.ErrInvalid, "", "view_range must be [start, end]")
		}
		start, end = viewRange[0], viewRange[1]
		if end == -1 {
			end = total
		}
		if start < 1 || start > max(total, 1) || end < start || end > total {
			return nil, errdefs.New(errdefs.ErrInvalid, "",
				"invalid view_range [%d, %d]: the file has %d lines", viewRange[0], viewRange[1], total)
		}
	}
	var b strings.Builder
	for i := start; i <= end && i <= total; i++ {
		fmt.Fprintf(&b, "%6d\t%s\n", i, lines[i-1])
	}
	n := 0
	if total > 0 {
		n = end - start + 1
	}
	return &ViewResult{FileType: "text", Content: b.String(), NumLines: n, StartLine: start, TotalLines: total}, nil
}

// CreateFile writes text to unsafePath, creating parent directories, and reports
// whether it replaced an existing file.
func (m *Manager) CreateFile(ctx context.Context, ws codebox.WorkspaceID, id, unsafePath, text string) (bool, error) {
	p, err := containerPath(unsafePath)
	if err != nil {
		return false, err
	}
	if len(text) > MaxViewBytes {
		return false, errdefs.New(errdefs.ErrTooLarge, "", "file text over %d bytes", MaxViewBytes)
	}
	inst, err := m.use(ctx, ws, id)
	if err != nil {
		return false, err
	}
	defer inst.release()
	defer m.touch(ctx, inst)
	var existed bool
	err = m.withAgent(ctx, inst, func(c *agent.Client) error {
		var err error
		existed, err = c.WriteFile(ctx, p, []byte(text))
		return err
	})
	return existed, err
}

// StrReplace replaces the one occurrence of oldStr in the file with newStr. Zero or
// several occurrences are errdefs.ErrInvalid with code string_not_found or
// string_not_unique. The result is the change as a unified-diff hunk.
func (m *Manager) StrReplace(ctx context.Context, ws codebox.WorkspaceID, id, unsafePath, oldStr, newStr string) (*ReplaceResult, error) {
	p, err := containerPath(unsafePath)
	if err != nil {
		return nil, err
	}
	if oldStr == "" {
		return nil, errdefs.New(errdefs.ErrInvalid, errdefs.CodeStringNotFound, "old_str must not be empty")
	}
	inst, err := m.use(ctx, ws, id)
	if err != nil {
		return nil, err
	}
	defer inst.release()
	defer m.touch(ctx, inst)
	data, err := m.readFile(ctx, inst, p)
	if err != nil {
		return nil, err
	}
	text := string(data)
	updated, hunk, err := replaceOnce(text, oldStr, newStr)
	if err != nil {
		return nil, err
	}
	err = m.withAgent(ctx, inst, func(c *agent.Client) error {
		_, err := c.WriteFile(ctx, p, []byte(updated))
		return err
	})
	if err != nil {
		return nil, err
	}
	return hunk, nil
}

// replaceOnce replaces the single occurrence of oldStr and describes the change as a
// hunk over the whole lines it touched.
func replaceOnce(text, oldStr, newStr string) (string, *ReplaceResult, error) {
	switch n := strings.Count(text, oldStr); {
	case n == 0:
		return "", nil, errdefs.New(errdefs.ErrInvalid, errdefs.CodeStringNotFound, "old_str was not found in the file")
	case n > 1:
		return "", nil, errdefs.New(errdefs.ErrInvalid, errdefs.CodeStringNotUnique,
			"old_str occurs %d times in the file; it must occur exactly once", n)
	}
	at := strings.Index(text, oldStr)
	updated := text[:at] + newStr + text[at+len(oldStr):]
	// The touched region widened to whole lines, in the old and the new text.
	lineStart := strings.LastIndexByte(text[:at], '\n') + 1
	oldEnd := lineEnd(text, at+len(oldStr))
	newEnd := lineEnd(updated, at+len(newStr))
	oldLines := splitLines(text[lineStart:oldEnd])
	newLines := splitLines(updated[lineStart:newEnd])
	first := strings.Count(text[:lineStart], "\n") + 1
	h := &ReplaceResult{OldStart: first, OldLines: len(oldLines), NewStart: first, NewLines: len(newLines)}
	for _, l := range oldLines {
		h.Lines = append(h.Lines, "-"+l)
	}
	for _, l := range newLines {
		h.Lines = append(h.Lines, "+"+l)
	}
	return updated, h, nil
}

// lineEnd is the index just past the newline ending the line that contains s[i-1]
// (or s[i] when the match was empty), or len(s).
func lineEnd(s string, i int) int {
	if i > 0 && s[i-1] == '\n' {
		return i
	}
	if j := strings.IndexByte(s[i:], '\n'); j >= 0 {
		return i + j + 1
	}
	return len(s)
}
