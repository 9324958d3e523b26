package tools

import (
	"encoding/json"
	"strings"
)

// Versions of the code execution tool a request may list in tools[]. Only the type
// selects the version; the name is always "code_execution".
const (
	CodeExecution20250522 = "code_execution_20250522" // legacy: Python only, fresh interpreter per call
	CodeExecution20250825 = "code_execution_20250825" // bash and the text editor
	CodeExecution20260120 = "code_execution_20260120" // adds the persistent Python REPL
	CodeExecution20260521 = "code_execution_20260521" // same runtime as _20260120, 90 s per cell
)

// Names of the sub-tools the model calls. They are the names of the server_tool_use
// blocks on the wire, and the names the tools are offered under to every upstream model.
const (
	Bash       = "bash_code_execution"
	TextEditor = "text_editor_code_execution"
	Python     = "code_execution"
)

// IsCodeExecution reports whether typ is one of the code execution tool versions.
func IsCodeExecution(typ string) bool {
	switch typ {
	case CodeExecution20250522, CodeExecution20250825, CodeExecution20260120, CodeExecution20260521:
		return true
	}
	return false
}

// PersistentPython reports whether version keeps Python state between code_execution
// calls (the REPL of _20260120 and later).
func PersistentPython(version string) bool {
	return version == CodeExecution20260120 || version == CodeExecution20260521
}

// Definition is a sub-tool as offered to the model.
type Definition struct {
	Name        string
	Description string
	InputSchema json.RawMessage
}

var (
	bashSchema = json.RawMessage(`{"type":"object","properties":{"command":{"type":"string","description":"The bash command to run."}},"required":["command"]}`)
	editSchema = json.RawMessage(`{"type":"object","properties":{` +
		`"command":{"type":"string","enum":["view","create","str_replace"],"description":"The operation."},` +
		`"path":{"type":"string","description":"File path, absolute or relative to /workspace."},` +
		`"file_text":{"type":"string","description":"For create: the whole content of the new file."},` +
		`"old_str":{"type":"string","description":"For str_replace: the exact text to replace; it must occur exactly once."},` +
		`"new_str":{"type":"string","description":"For str_replace: the replacement text."},` +
		`"view_range":{"type":"array","items":{"type":"integer"},"description":"For view: optional [start_line, end_line], 1-based; end -1 means the last line."}` +
		`},"required":["command","path"]}`)
	pythonSchema = json.RawMessage(`{"type":"object","properties":{"code":{"type":"string","description":"The Python code to run."}},"required":["code"]}`)
)

// Definitions returns the sub-tools version offers, in a stable order. It returns nil
// for a type that is not a code execution tool.
func Definitions(version string) []Definition {
	bash := Definition{Name: Bash, InputSchema: bashSchema, Description: "Run a bash command in the sandboxed Linux container. " +
		"Commands start in /workspace; files persist in the container between calls. There is no network access. " +
		"Returns stdout, stderr and the exit code, and lists files the command created or modified under /workspace."}
	edit := Definition{Name: TextEditor, InputSchema: editSchema, Description: "View, create and edit text files in the container. " +
		"view shows a file with line numbers (optionally a view_range); create writes a whole file, creating parent directories; " +
		"str_replace replaces old_str, which must occur exactly once, with new_str."}
	switch version {
	case CodeExecution20250522:
		return []Definition{{Name: Python, InputSchema: pythonSchema, Description: "Run Python 3.11 code in the sandboxed container. " +
			"Each call starts a fresh interpreter in /workspace: variables do not persist, files do. Print what you want to see."}}
	case CodeExecution20250825:
		bash.Description += " Run Python here too, with python3."
		return []Definition{bash, edit}
	case CodeExecution20260120, CodeExecution20260521:
		desc := "Run Python 3.11 code in the container's persistent interpreter. Variables, imports and functions " +
			"persist between calls in the same container; the working directory is /workspace. Print what you want to see."
		if version == CodeExecution20260521 {
			desc += " Each call may run for at most 90 seconds."
		}
		bash.Description += " For Python, use " + Python + "."
		return []Definition{bash, edit, {Name: Python, InputSchema: pythonSchema, Description: desc}}
	}
	return nil
}

// Offers reports whether version offers the sub-tool name.
func Offers(version, name string) bool {
	for _, d := range Definitions(version) {
		if d.Name == name {
			return true
		}
	}
	return false
}

// ResultType returns the wire type of the result block for a call of sub-tool name:
// bash_code_execution_tool_result, text_editor_code_execution_tool_result or
// code_execution_tool_result.
func ResultType(name string) string {
	return name + "_tool_result"
}

// SubToolOfResult returns the sub-tool whose result block type is typ, or "".
func SubToolOfResult(typ string) string {
	name, ok := strings.CutSuffix(typ, "_tool_result")
	if !ok {
		return ""
	}
	switch name {
	case Bash, TextEditor, Python:
		return name
	}
	return ""
}
