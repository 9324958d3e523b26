package agentloop

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/codebox-dev/codebox/provider"
	"github.com/codebox-dev/codebox/tools"
)

func blk(typ string) Block { return Block{Block: provider.Block{Type: typ}} }

func textBlk(s string) Block { b := blk(provider.TypeText); b.Text = s; return b }

func useBlk(id string) Block {
	b := blk(TypeServerToolUse)
	b.ID, b.Name, b.Input = id, tools.Bash, json.RawMessage(`{"command":"ls"}`)
	return b
}

func resBlk(id, stdout string) Block {
	b := blk(tools.ResultType(tools.Bash))
	b.ToolUseID, b.Result = id, &tools.Result{Tool: tools.Bash, Stdout: stdout}
	return b
}

// shape renders a converted conversation as role:types lines.
func shape(msgs []provider.Message) string {
	var lines []string
	for _, m := range msgs {
		var ts []string
		for _, b := range m.Content {
			t := b.Type
			if b.Type == provider.TypeToolResult {
				t += "(" + b.ToolUseID + ")"
				if len(b.Content) > 0 {
					t += "=" + strings.TrimSpace(strings.Split(b.Content[0].Text, "\n")[0])
				}
			}
			ts = append(ts, t)
		}
		lines = append(lines, m.Role+":"+strings.Join(ts, ","))
	}
	return strings.Join(lines, "\n")
}

func TestConvert(t *testing.T) {
	upload := blk(TypeContainerUpload)
	upload.FileID = "file_1"
	client := blk(provider.TypeToolUse)
	client.ID, client.Name = "toolu_c", "weather"
	clientRes := blk(provider.TypeToolResult)
	clientRes.ToolUseID = "toolu_c"
	for _, tc := range []struct {
		name    string
		msgs    []Message
		want    string
		pending int
	}{
		{"interleaved calls split into turns", []Message{
			{Role: "user", Content: []Block{textBlk("go"), upload}},
			{Role: "assistant", Content: []Block{textBlk("a"), useBlk("s1"), resBlk("s1", "one"), textBlk("b"), useBlk("s2"), resBlk("s2", "two"), textBlk("c")}},
			{Role: "user", Content: []Block{textBlk("more")}},
		}, "user:text,text\nassistant:text,tool_use\nuser:tool_result(s1)=one\nassistant:text,tool_use\nuser:tool_result(s2)=two\nassistant:text\nuser:text", 0},
		{"paused turn ends with results", []Message{
			{Role: "user", Content: []Block{textBlk("go")}},
			{Role: "assistant", Content: []Block{useBlk("s1"), resBlk("s1", "one")}},
		}, "user:text\nassistant:tool_use\nuser:tool_result(s1)=one", 0},
		{"server call left pending by a client tool", []Message{
			{Role: "user", Content: []Block{textBlk("go")}},
			{Role: "assistant", Content: []Block{useBlk("s1"), client}},
			{Role: "user", Content: []Block{clientRes}},
		}, "user:text\nassistant:tool_use,tool_use\nuser:tool_result(s1),tool_result(toolu_c)", 1},
		{"result delivered in the next assistant message", []Message{
			{Role: "user", Content: []Block{textBlk("go")}},
			{Role: "assistant", Content: []Block{useBlk("s1"), client}},
			{Role: "user", Content: []Block{clientRes}},
			{Role: "assistant", Content: []Block{resBlk("s1", "late"), textBlk("done")}},
		}, "user:text\nassistant:tool_use,tool_use\nuser:tool_result(s1)=late,tool_result(toolu_c)\nassistant:text", 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := convert(tc.msgs, uploadNames{"file_1": "sales.csv"})
			if got := shape(c.messages); got != tc.want {
				t.Errorf("convert =\n%s\nwant\n%s", got, tc.want)
			}
			if len(c.pending) != tc.pending {
				t.Fatalf("pending = %d, want %d", len(c.pending), tc.pending)
			}
			for _, p := range c.pending {
				if slot := c.messages[p.msg].Content[p.blk]; slot.ToolUseID != p.ID {
					t.Errorf("pending slot holds %q, want %q", slot.ToolUseID, p.ID)
				}
			}
		})
	}
	c := convert([]Message{{Role: "user", Content: []Block{upload}}}, uploadNames{"file_1": "sales.csv"})
	if got := c.messages[0].Content[0].Text; !strings.Contains(got, "/workspace/sales.csv") {
		t.Errorf("upload note = %q", got)
	}
}
