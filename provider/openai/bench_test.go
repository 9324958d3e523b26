package openai

import (
	"encoding/json"
	"fmt"
	"testing"

	"github.com/codebox-dev/codebox/provider"
)

// BenchmarkParamsMarshal measures translating and encoding a 10-round conversation.
func BenchmarkParamsMarshal(b *testing.B) {
	req := baseRequest()
	for i := range 10 {
		id := fmt.Sprintf("call_%d", i)
		req.Messages = append(req.Messages,
			provider.Message{Role: "assistant", Content: []provider.Block{{Type: "text", Text: "Running a command."},
				{Type: "tool_use", ID: id, Name: "bash_code_execution", Input: json.RawMessage(`{"command":"python3 analyze.py --step 3"}`)}}},
			provider.Message{Role: "user", Content: []provider.Block{{Type: "tool_result", ToolUseID: id,
				Content: []provider.Block{{Type: "text", Text: "region,revenue\nnorth,1200\nsouth,900\n"}}}}})
	}
	m, err := New(Config{BaseURL: "http://127.0.0.1:1/v1"})
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		p, err := m.Params(req)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := json.Marshal(p); err != nil {
			b.Fatal(err)
		}
	}
}
