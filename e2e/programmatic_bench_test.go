package e2e

import (
	"context"
	"testing"

	"github.com/anthropics/anthropic-sdk-go"

	"github.com/codebox-dev/codebox/tools"
)

// BenchmarkToolCallRoundTrip measures one client tool call round trip as the client
// sees it, on the real sandbox with the scripted model over HTTP: the client sends a
// tool_result and gets the next tool_use back.
//
//   - direct: the model calls the tool; the result goes to the model, whose next turn
//     calls it again.
//   - programmatic: code in the container awaits the tool; the result resumes the code,
//     which awaits it again (pause → client → resume, no model turn).
//
// Both keep the conversation at the same size (prompt, the call, its result) and run
// with the code execution tool and one container.
func BenchmarkToolCallRoundTrip(b *testing.B) {
	b.Run("direct", func(b *testing.B) {
		call := turn(obj{"type": "tool_use", "name": "lookup", "input": obj{"k": 1}})
		benchRoundTrips(b, scriptOf(call, call))
	})
	b.Run("programmatic", func(b *testing.B) {
		code := "i = 0\nwhile True:\n    i += 1\n    await lookup({'k': i})"
		benchRoundTrips(b, scriptOf(turn(python(code)), turn(text("done"))))
	})
}

func benchRoundTrips(b *testing.B, turns string) {
	e := newEnv(b, formatAnthropic, turns, envOptions{})
	ctx := context.Background()
	c := e.client(e.keyA)
	p := e.params(anthropic.NewTextBlock("look things up"))
	p.Tools = []anthropic.ToolUnionParam{codeExecTool(tools.CodeExecution20260120), lookupTool("direct", tools.CodeExecution20260120)}
	first := p.Messages[0]
	m, err := c.Messages.New(ctx, p)
	if err != nil {
		b.Fatal(err)
	}
	p.Container = anthropic.MessageCreateParamsContainerUnion{OfString: anthropic.String(m.Container.ID)}
	// The assistant turn sent back holds the code execution call (when there is one)
	// and the latest call of the tool.
	var srv *anthropic.ContentBlockParamUnion
	if m.Content[0].Type == "server_tool_use" {
		s := m.Content[0].ToParam()
		srv = &s
	}
	b.ResetTimer()
	for range b.N {
		var call anthropic.ContentBlockUnion
		for _, blk := range m.Content {
			if blk.Type == "tool_use" {
				call = blk
			}
		}
		if call.ID == "" || m.StopReason != "tool_use" {
			b.Fatalf("response = %s, want a tool_use", m.RawJSON())
		}
		var asst []anthropic.ContentBlockParamUnion
		if srv != nil {
			asst = append(asst, *srv)
		}
		asst = append(asst, call.ToParam())
		p.Messages = []anthropic.MessageParam{first, anthropic.NewAssistantMessage(asst...),
			anthropic.NewUserMessage(anthropic.NewToolResultBlock(call.ID, "42", false))}
		if m, err = c.Messages.New(ctx, p); err != nil {
			b.Fatal(err)
		}
	}
}
