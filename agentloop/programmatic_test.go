package agentloop

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/codebox-dev/codebox/errdefs"
	"github.com/codebox-dev/codebox/provider"
	"github.com/codebox-dev/codebox/tools"
)

func codeBlk(id string) Block {
	b := blk(TypeServerToolUse)
	b.ID, b.Name, b.Input = id, tools.Python, json.RawMessage(`{"code":"await f({})"}`)
	return b
}

func progCall(id, caller string) Block {
	b := blk(provider.TypeToolUse)
	b.ID, b.Name, b.Input = id, "f", json.RawMessage(`{}`)
	b.Caller = &Caller{Type: tools.CodeExecution20260120, ToolID: caller}
	return b
}

func progResult(id, text string) Block {
	b := blk(provider.TypeToolResult)
	b.ToolUseID = id
	b.Content = []provider.Block{{Type: provider.TypeText, Text: text}}
	return b
}

// TestConvertProgrammatic: the model never sees programmatic calls or their results; a
// code execution call that awaits them is pending with the last turn's answers, in
// every place its slot can be.
func TestConvertProgrammatic(t *testing.T) {
	for _, tc := range []struct {
		name string
		msgs []Message
		want string
	}{
		{"first round", []Message{
			{Role: "user", Content: []Block{textBlk("go")}},
			{Role: "assistant", Content: []Block{codeBlk("s1"), progCall("t1", "s1"), progCall("t2", "s1")}},
			{Role: "user", Content: []Block{progResult("t1", "a"), progResult("t2", "b")}},
		}, "user:text\nassistant:tool_use\nuser:tool_result(s1)"},
		{"second round", []Message{
			{Role: "user", Content: []Block{textBlk("go")}},
			{Role: "assistant", Content: []Block{codeBlk("s1"), progCall("t1", "s1")}},
			{Role: "user", Content: []Block{progResult("t1", "a")}},
			{Role: "assistant", Content: []Block{progCall("t2", "s1")}},
			{Role: "user", Content: []Block{progResult("t2", "b")}},
		}, "user:text\nassistant:tool_use\nuser:tool_result(s1)"},
		{"after a call that ran", []Message{
			{Role: "user", Content: []Block{textBlk("go")}},
			{Role: "assistant", Content: []Block{useBlk("s0"), codeBlk("s1"), resBlk("s0", "ran"), progCall("t2", "s1")}},
			{Role: "user", Content: []Block{progResult("t2", "b")}},
		}, "user:text\nassistant:tool_use,tool_use\nuser:tool_result(s0)=ran,tool_result(s1)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := convert(tc.msgs, nil)
			if got := shape(c.messages); got != tc.want {
				t.Errorf("convert =\n%s\nwant\n%s", got, tc.want)
			}
			if len(c.pending) != 1 || c.pending[0].resume == nil || c.pending[0].ID != "s1" {
				t.Fatalf("pending = %+v, want s1 to resume", c.pending)
			}
			p := c.pending[0]
			if slot := c.messages[p.msg].Content[p.blk]; slot.ToolUseID != "s1" {
				t.Errorf("slot holds %q", slot.ToolUseID)
			}
			last := tc.msgs[len(tc.msgs)-1].Content
			if len(p.resume.Results) != len(last) {
				t.Errorf("answers = %+v, want the last turn's %d", p.resume.Results, len(last))
			}
		})
	}
}

func TestCheckProgrammatic(t *testing.T) {
	base := []Message{
		{Role: "user", Content: []Block{textBlk("go")}},
		{Role: "assistant", Content: []Block{codeBlk("s1"), progCall("t1", "s1"), progCall("t2", "s1")}},
	}
	img := progResult("t2", "")
	img.Content = []provider.Block{{Type: "image"}}
	for _, tc := range []struct {
		name      string
		container string
		last      []Block
		want      string // in the error; "" for none
	}{
		{"answered", "container_1", []Block{progResult("t1", "a"), progResult("t2", "b")}, ""},
		{"no container", "", []Block{progResult("t1", "a"), progResult("t2", "b")}, "container_id is required"},
		{"unknown id", "container_1", []Block{progResult("t1", "a"), progResult("t2", "b"), progResult("t9", "c")}, "unexpected `tool_use_id`"},
		{"missing id", "container_1", []Block{progResult("t1", "a")}, "without `tool_result` blocks immediately after: t2"},
		{"text beside results", "container_1", []Block{progResult("t1", "a"), progResult("t2", "b"), textBlk("and")}, "only tool_result blocks"},
		{"image result", "container_1", []Block{progResult("t1", "a"), img}, "only text"},
	} {
		req := &Request{Container: tc.container, Messages: append(append([]Message(nil), base...), Message{Role: "user", Content: tc.last})}
		err := checkProgrammatic(req)
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("%s: %v", tc.name, err)
		case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want) || !errors.Is(err, errdefs.ErrInvalid)):
			t.Errorf("%s: %v, want invalid with %q", tc.name, err, tc.want)
		}
	}
}

func TestCodeFunctions(t *testing.T) {
	req := &Request{CodeExecution: tools.CodeExecution20260521, Tools: []provider.Tool{{Name: "get-row"}, {Name: "class"}, {Name: "direct_only"}, {Name: "plain"}},
		AllowedCallers: map[string][]string{
			"get-row":     {tools.CodeExecution20260120},
			"class":       {"direct", tools.CodeExecution20250825},
			"direct_only": {"direct"},
		}}
	_, names := codeFunctions(req)
	if len(names) != 2 || names["get_row"] != "get-row" || names["_class"] != "class" {
		t.Errorf("functions = %v", names)
	}
	var direct []string
	for _, tl := range directTools(req) {
		direct = append(direct, tl.Name)
	}
	if got := strings.Join(direct, ","); got != "class,direct_only,plain" {
		t.Errorf("direct tools = %s", got)
	}
}
