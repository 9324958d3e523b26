package anthropic_test

import (
	"encoding/json"
	"fmt"
	"testing"

	"github.com/codebox-dev/codebox/provider"
	"github.com/codebox-dev/codebox/provider/anthropic"
)

// conversation is a request with n tool-call rounds.
func conversation(n int) *provider.Request {
	req := baseRequest()
	for i := range n {
		id := fmt.Sprintf("toolu_%d", i)
		req.Messages = append(req.Messages,
			provider.Message{Role: "assistant", Content: []provider.Block{{Type: "text", Text: "Running a command."},
				{Type: "tool_use", ID: id, Name: "bash_code_execution", Input: json.RawMessage(`{"command":"python3 analyze.py --step 3"}`)}}},
			provider.Message{Role: "user", Content: []provider.Block{{Type: "tool_result", ToolUseID: id,
				Content: []provider.Block{{Type: "text", Text: "region,revenue\nnorth,1200\nsouth,900\n"}}}}})
	}
	return req
}

// BenchmarkParamsMarshal measures translating and encoding a 10-round conversation.
func BenchmarkParamsMarshal(b *testing.B) {
	req := conversation(10)
	b.ReportAllocs()
	for b.Loop() {
		p, err := anthropic.Params(req)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := json.Marshal(p); err != nil {
			b.Fatal(err)
		}
	}
}
