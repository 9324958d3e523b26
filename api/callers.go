package api

import (
	"encoding/json"

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
	delete(m, "allowed_callers")
	out, err := json.Marshal(m)
	if err != nil {
		return raw, nil
	}
	return out, nil
}

// checkToolChoice refuses a tool_choice that names a tool the model may not call
// directly.
func checkToolChoice(req *agentloop.Request) error {
	tc := req.ToolChoice
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
