package tools

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/codebox-dev/codebox"
	"github.com/codebox-dev/codebox/sandbox"
)

// CodeFunction is a client tool the model's code may call (programmatic tool calling):
// in the code_execution environment it is an async function named PyName that takes
// one dict and returns the tool result's text.
type CodeFunction struct {
	Name        string
	PyName      string
	Description string
	InputSchema json.RawMessage
}

// Caller is the caller type of the tool_use blocks that code running under version
// makes: the versions with a persistent REPL all answer code_execution_20260120.
func Caller(version string) string {
	if PersistentPython(version) {
		return CodeExecution20260120
	}
	return version
}

// CallableFrom reports whether a client tool with allowedCallers may be called from the
// code of code execution tool version: any code execution version from _20250825 on
// names them all.
func CallableFrom(version string, allowedCallers []string) bool {
	if version == "" || version == CodeExecution20250522 {
		return false
	}
	for _, c := range allowedCallers {
		switch c {
		case CodeExecution20250825, CodeExecution20260120, CodeExecution20260521:
			return true
		}
	}
	return false
}

// PythonName is the name tool has as a Python function: tool names may hold '-', and
// may be a keyword or start with a digit.
func PythonName(tool string) string {
	var b strings.Builder
	for _, r := range tool {
		if r == '_' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' {
			b.WriteRune(r)
		} else {
			b.WriteByte('_')
		}
	}
	s := b.String()
	if s == "" || s[0] >= '0' && s[0] <= '9' || pythonKeywords[s] {
		s = "_" + s
	}
	return s
}

var pythonKeywords = map[string]bool{}

func init() {
	for _, k := range strings.Fields("False None True and as assert async await break class continue def del elif else " +
		"except finally for from global if import in is lambda nonlocal not or pass raise return try while with yield") {
		pythonKeywords[k] = true
	}
}

// DefinitionsFor is Definitions with the client tools fns callable from code: the
// Python sub-tool is offered (a fresh interpreter per call for _20250825) and its
// description tells the model how to call them.
func DefinitionsFor(version string, fns []CodeFunction) []Definition {
	defs := Definitions(version)
	if len(fns) == 0 || version == CodeExecution20250522 || defs == nil {
		return defs
	}
	if !Offers(version, Python) {
		defs = append(defs, Definition{Name: Python, InputSchema: pythonSchema, Description: "Run Python 3.11 code in the sandboxed container. " +
			"Each call starts a fresh interpreter in /workspace: variables do not persist, files do. Print what you want to see."})
	}
	for i := range defs {
		if defs[i].Name == Python {
			defs[i].Description += FunctionsText(fns)
		}
	}
	return defs
}

// FunctionsText describes fns for the model, as an addendum to the Python tool.
func FunctionsText(fns []CodeFunction) string {
	var b strings.Builder
	b.WriteString("\n\nIn this code, these client tools are async Python functions. Each takes one dict (the tool's input) " +
		"and returns the tool's result as a string; await it (top-level await works), and use asyncio.gather to call " +
		"several at once. A tool that fails raises ToolError; one left unanswered raises TimeoutError. " +
		"Their results reach you only through what your code prints.\n")
	for _, f := range fns {
		fmt.Fprintf(&b, "- async def %s(input: dict) -> str", f.PyName)
		if f.PyName != f.Name {
			fmt.Fprintf(&b, " (tool %q)", f.Name)
		}
		if d := strings.TrimSpace(f.Description); d != "" {
			fmt.Fprintf(&b, ": %s", d)
		}
		if len(f.InputSchema) > 0 {
			fmt.Fprintf(&b, " Input schema: %s", compactJSON(f.InputSchema))
		}
		b.WriteByte('\n')
	}
	return b.String()
}

func compactJSON(raw json.RawMessage) string {
	var m any
	if json.Unmarshal(raw, &m) != nil {
		return string(raw)
	}
	out, _ := json.Marshal(m)
	return string(out)
}

// RunCode runs a code_execution call whose code may call the client tools of ct (see
// sandbox.CellTools), under version's rules, like Run.
func (r *Runner) RunCode(ctx context.Context, ws codebox.WorkspaceID, id, version string, input json.RawMessage, ct *sandbox.CellTools) (*Result, error) {
	return r.run(ctx, ws, id, version, Python, input, ct)
}
