package api

import (
	"encoding/json"
	"strings"

	"github.com/codebox-dev/codebox/agentloop"
	"github.com/codebox-dev/codebox/tools"
)

// wireCaller is a tool_use block's caller: {"type": "direct"} or a code execution
// tool version with the srvtoolu id of the call whose code made it.
type wireCaller struct {
	Type   string `json:"type"`
	ToolID string `json:"tool_id"`
}

func (c *wireCaller) toCaller() *agentloop.Caller {
	if c == nil || c.Type == "" || c.Type == "direct" {
		return nil
	}
	return &agentloop.Caller{Type: c.Type, ToolID: c.ToolID}
}

// takeAllowedCallers validates a client tool's allowed_callers, records them on req,
// and returns the tool's JSON without them: codebox interprets them, and an upstream
// model is shown the tool without the code execution tool they refer to.
func takeAllowedCallers(req *agentloop.Request, i int, name string, callers []string, raw json.RawMessage) (json.RawMessage, error) {
	for j, c := range callers {
		switch c {
		case "direct", tools.CodeExecution20250825, tools.CodeExecution20260120, tools.CodeExecution20260521:
		default:
			return nil, invalidf("tools.%d.allowed_callers.%d: must be \"direct\", %q, %q or %q, got %q", i, j,
				tools.CodeExecution20250825, tools.CodeExecution20260120, tools.CodeExecution20260521, c)
		}
	}
	if req.AllowedCallers == nil {
		req.AllowedCallers = map[string][]string{}
	}
	req.AllowedCallers[name] = callers
	var m map[string]json.RawMessage
	if json.Unmarshal(raw, &m) != nil {
		return raw, nil
	}
	if fromCode(callers) {
		var strict bool
		if json.Unmarshal(m["strict"], &strict) == nil && strict {
			return nil, invalidf("tools.%d.strict: strict tools cannot be called from code execution; remove strict or the code execution caller from allowed_callers", i)
		}
		if ref := circularRef(m["input_schema"]); ref != "" {
			return nil, invalidf("tools.%d.input_schema: Circular $ref detected (%s); tools called from code execution need a schema without recursion", i, ref)
		}
	}
	delete(m, "allowed_callers")
	out, err := json.Marshal(m)
	if err != nil {
		return raw, nil
	}
	return out, nil
}

// fromCode reports whether callers let code execution call the tool.
func fromCode(callers []string) bool {
	for _, c := range callers {
		if c != "direct" {
			return true
		}
	}
	return false
}

// circularRef returns the first $ref of schema that leads back to a schema it is
// inside of, or "" when there is none: code calling a tool is handed a function
// whose argument must be described without recursion.
func circularRef(schema json.RawMessage) string {
	var root any
	if json.Unmarshal(schema, &root) != nil {
		return ""
	}
	var walk func(node any, inside map[string]bool) string
	steps := 0 // a schema of shared definitions can branch exponentially
	follow := func(ref string, inside map[string]bool) string {
		if inside[ref] {
			return ref
		}
		if steps++; steps > 100_000 {
			return ""
		}
		target, ok := jsonPointer(root, ref)
		if !ok {
			return ""
		}
		inside[ref] = true
		defer delete(inside, ref)
		return walk(target, inside)
	}
	walk = func(node any, inside map[string]bool) string {
		switch n := node.(type) {
		case map[string]any:
			if ref, ok := n["$ref"].(string); ok {
				if found := follow(ref, inside); found != "" {
					return found
				}
			}
			for k, v := range n {
				if k == "$defs" || k == "definitions" {
					continue // reached only through a $ref
				}
				if found := walk(v, inside); found != "" {
					return found
				}
			}
		case []any:
			for _, v := range n {
				if found := walk(v, inside); found != "" {
					return found
				}
			}
		}
		return ""
	}
	return walk(root, map[string]bool{"#": true})
}

// jsonPointer resolves a local reference ("#", "#/$defs/node") in doc.
func jsonPointer(doc any, ref string) (any, bool) {
	if ref == "#" {
		return doc, true
	}
	rest, ok := strings.CutPrefix(ref, "#/")
	if !ok {
		return nil, false
	}
	node := doc
	for _, tok := range strings.Split(rest, "/") {
		tok = strings.ReplaceAll(strings.ReplaceAll(tok, "~1", "/"), "~0", "~")
		m, ok := node.(map[string]any)
		if !ok {
			return nil, false
		}
		if node, ok = m[tok]; !ok {
			return nil, false
		}
	}
	return node, true
}

// checkToolChoice refuses a tool_choice that names a tool the model may not call
// directly, and turning parallel tool use off while tools are called from code,
// whose calls run side by side.
func checkToolChoice(req *agentloop.Request) error {
	tc := req.ToolChoice
	if tc != nil && tc.DisableParallelToolUse {
		for name, callers := range req.AllowedCallers {
			if fromCode(callers) {
				return invalidf("tool_choice.disable_parallel_tool_use: cannot be true while tool %q is callable from code execution (allowed_callers)", name)
			}
		}
	}
	if tc == nil || tc.Type != "tool" {
		return nil
	}
	callers, ok := req.AllowedCallers[tc.Name]
	if !ok {
		return nil
	}
	for _, c := range callers {
		if c == "direct" {
			return nil
		}
	}
	return invalidf("tool_choice.name: tool %q cannot be called directly (its allowed_callers do not include \"direct\")", tc.Name)
}
