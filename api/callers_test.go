package api

import (
	"encoding/json"
	"strings"
	"testing"
)

// TestProgrammaticToolRefusals: what Anthropic refuses together with programmatic
// tool calling (spec §8.1) is refused with a 400 that names the field, and the same
// tools without a code execution caller are accepted.
func TestProgrammaticToolRefusals(t *testing.T) {
	const code = `"allowed_callers":["code_execution_20260120"]`
	const direct = `"allowed_callers":["direct"]`
	tool := func(callers, extra, schema string) string {
		return `{"name":"lookup","description":"d",` + callers + extra + `,"input_schema":` + schema + `}`
	}
	plain := `{"type":"object","properties":{"q":{"type":"string"}}}`
	recursive := `{"type":"object","properties":{"node":{"$ref":"#/$defs/node"}},"$defs":{"node":{"type":"object","properties":{"children":{"type":"array","items":{"$ref":"#/$defs/node"}}}}}}`
	self := `{"type":"object","properties":{"next":{"$ref":"#"}}}`
	shared := `{"type":"object","properties":{"a":{"$ref":"#/$defs/leaf"},"b":{"$ref":"#/$defs/leaf"}},"$defs":{"leaf":{"type":"string"}}}`
	for _, tc := range []struct {
		name, tool, choice, want string
	}{
		{"strict", tool(code, `,"strict":true`, plain), ``, "tools.1.strict"},
		{"recursive defs", tool(code, ``, recursive), ``, "Circular $ref detected (#/$defs/node)"},
		{"self", tool(code, ``, self), ``, "Circular $ref detected (#)"},
		{"no parallel", tool(code, ``, plain), `,"tool_choice":{"type":"auto","disable_parallel_tool_use":true}`, "tool_choice.disable_parallel_tool_use"},
		{"shared defs", tool(code, ``, shared), ``, ""},
		{"strict direct", tool(direct, `,"strict":true`, plain), ``, ""},
		{"recursive direct", tool(direct, ``, recursive), `,"tool_choice":{"type":"auto","disable_parallel_tool_use":true}`, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			body := `{"model":"m","max_tokens":10,"messages":[{"role":"user","content":"hi"}],` +
				`"tools":[{"type":"code_execution_20260120","name":"code_execution"},` + tc.tool + `]` + tc.choice + `}`
			var wr wireRequest
			if err := json.Unmarshal([]byte(body), &wr); err != nil {
				t.Fatal(err)
			}
			_, _, err := fromWireRequest(&wr)
			switch {
			case tc.want == "" && err != nil:
				t.Errorf("refused: %v", err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Errorf("err = %v, want one containing %q", err, tc.want)
			}
		})
	}
}
