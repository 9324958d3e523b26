package tools

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/codebox-dev/codebox/sandbox"
)

// Kinds of successful text editor results.
const (
	EditView       = "view"
	EditCreate     = "create"
	EditStrReplace = "str_replace"
)

// Result is the outcome of one sub-tool call. Exactly one of the variants is set:
// ErrorCode (an error block); Edit (a text editor result); otherwise an execution result
// (Stdout, Stderr, ReturnCode, Files) for bash_code_execution and code_execution.
type Result struct {
	// Tool is the sub-tool that produced it (Bash, TextEditor or Python); it selects
	// the wire block types.
	Tool string

	// ErrorCode, when set, makes this an error result. ErrorMessage is shown for text
	// editor errors, and to the model for every tool.
	ErrorCode    string
	ErrorMessage string

	Stdout     string
	Stderr     string
	ReturnCode int
	Files      []sandbox.OutputFile

	// Encrypted marks a code_execution result that arrived from a client as
	// encrypted_code_execution_result; Stdout then holds encrypted_stdout.
	Encrypted bool

	Edit *EditResult
}

// EditResult is a successful text editor result. Command says which fields apply.
type EditResult struct {
	Command      string // EditView, EditCreate or EditStrReplace
	View         sandbox.ViewResult
	IsFileUpdate bool
	Replace      sandbox.ReplaceResult
}

// IsError reports whether r is an error result.
func (r *Result) IsError() bool { return r.ErrorCode != "" }

func errorResult(tool, code, format string, args ...any) *Result {
	return &Result{Tool: tool, ErrorCode: code, ErrorMessage: fmt.Sprintf(format, args...)}
}

// maxModelText caps each stream shown back to the model, so that a command printing
// megabytes does not blow the model's context. The client still gets the full output.
const maxModelText = 30000

// Text renders r compactly for the model: the output, the exit code and the generated
// files of a run; the editor's output; or the error.
func (r *Result) Text() string {
	var b strings.Builder
	switch {
	case r.IsError():
		b.WriteString("Error: " + r.ErrorCode)
		if r.ErrorMessage != "" {
			b.WriteString(": " + r.ErrorMessage)
		}
	case r.Edit != nil:
		switch r.Edit.Command {
		case EditView:
			v := r.Edit.View
			if v.FileType != "" && v.FileType != "text" {
				fmt.Fprintf(&b, "[%s file, %d bytes of base64 content not shown]", v.FileType, len(v.Content))
				break
			}
			b.WriteString(clip(v.Content))
			if v.TotalLines > 0 && (v.StartLine > 1 || v.NumLines < v.TotalLines) {
				fmt.Fprintf(&b, "\n[lines %d-%d of %d]", v.StartLine, v.StartLine+v.NumLines-1, v.TotalLines)
			}
		case EditCreate:
			if r.Edit.IsFileUpdate {
				b.WriteString("File overwritten.")
			} else {
				b.WriteString("File created.")
			}
		case EditStrReplace:
			p := r.Edit.Replace
			fmt.Fprintf(&b, "File edited.\n@@ -%d,%d +%d,%d @@", p.OldStart, p.OldLines, p.NewStart, p.NewLines)
			for _, l := range p.Lines {
				b.WriteString("\n" + l)
			}
		}
	default:
		if r.Encrypted {
			b.WriteString("[encrypted output]\n")
		} else if r.Stdout != "" {
			b.WriteString(clip(r.Stdout))
			if !strings.HasSuffix(r.Stdout, "\n") {
				b.WriteByte('\n')
			}
		}
		if r.Stderr != "" {
			b.WriteString("[stderr]\n" + clip(r.Stderr))
			if !strings.HasSuffix(r.Stderr, "\n") {
				b.WriteByte('\n')
			}
		}
		b.WriteString("[exit code " + strconv.Itoa(r.ReturnCode) + "]")
		if len(r.Files) > 0 {
			b.WriteString("\n[files saved:")
			for _, f := range r.Files {
				name := f.Path
				if name == "" {
					name = f.FileID
				}
				b.WriteString(" " + name)
			}
			b.WriteString("]")
		}
	}
	return b.String()
}

func clip(s string) string {
	if len(s) <= maxModelText {
		return s
	}
	half := maxModelText / 2
	return s[:half] + fmt.Sprintf("\n[... %d bytes omitted ...]\n", len(s)-2*half) + s[len(s)-half:]
}
