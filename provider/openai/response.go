package openai

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"strings"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/packages/respjson"

	"github.com/codebox-dev/codebox/provider"
)

// response converts a non-streamed completion.
func response(cc *openai.ChatCompletion, thinking bool, q Quirks) *provider.Response {
	ch := cc.Choices[0]
	var content []provider.Block
	text, chunkThoughts := contentOf(ch.Message.Content, ch.Message.JSON.Content.Raw())
	if thinking {
		if r := reasoning(ch.Message.JSON.ExtraFields) + chunkThoughts; r != "" {
			content = append(content, provider.Block{Type: provider.TypeThinking, Text: r})
		}
	}
	refusal := ch.Message.Refusal != ""
	switch {
	case refusal:
		content = append(content, provider.Block{Type: provider.TypeText, Text: ch.Message.Refusal})
	case strings.TrimSpace(text) != "":
		content = append(content, provider.Block{Type: provider.TypeText, Text: text})
	}
	calls := 0
	for _, tc := range ch.Message.ToolCalls {
		if tc.Type != "" && tc.Type != "function" {
			continue
		}
		calls++
		content = append(content, toolUse(q.inID(tc.ID), tc.Function.Name, tc.Function.Arguments))
	}
	stop := stopReason(ch.FinishReason, calls > 0)
	if refusal {
		stop = "refusal"
	}
	return &provider.Response{ID: cc.ID, Model: cc.Model, Content: content, StopReason: stop, Usage: usage(cc.Usage)}
}

// reasoning reads a message's or delta's reasoning text from its extra fields:
// reasoning_content (vLLM, DeepSeek, llama.cpp), reasoning (OpenRouter, Ollama, newer
// vLLM) or thinking (Ollama's own messages and some proxies).
func reasoning(extra map[string]respjson.Field) string {
	for _, key := range []string{"reasoning_content", "reasoning", "thinking"} {
		if f, ok := extra[key]; ok {
			var s string
			if json.Unmarshal([]byte(f.Raw()), &s) == nil && s != "" {
				return s
			}
		}
	}
	return ""
}

// contentOf reads a message's or delta's content: the string, or, when the server sent
// an array of chunks (Mistral's reasoning models), the text of its text chunks and
// separately that of its thinking chunks, {"type": "thinking", "thinking": [text
// chunks]}.
func contentOf(s, raw string) (text, thoughts string) {
	if !strings.HasPrefix(strings.TrimSpace(raw), "[") {
		return s, ""
	}
	var chunks []struct {
		Type     string          `json:"type"`
		Text     string          `json:"text"`
		Thinking json.RawMessage `json:"thinking"`
	}
	if json.Unmarshal([]byte(raw), &chunks) != nil {
		return s, ""
	}
	var tb, th strings.Builder
	for _, c := range chunks {
		switch c.Type {
		case "text":
			tb.WriteString(c.Text)
		case "thinking":
			th.WriteString(textOfBlocks(c.Thinking))
		}
	}
	return tb.String(), th.String()
}

func usage(u openai.CompletionUsage) provider.Usage {
	cached := u.PromptTokensDetails.CachedTokens
	return provider.Usage{InputTokens: u.PromptTokens - cached, OutputTokens: u.CompletionTokens, CacheReadInputTokens: cached}
}

func stopReason(finish string, hasCalls bool) string {
	switch finish {
	case "length":
		return "max_tokens"
	case "content_filter":
		return "refusal"
	case "tool_calls", "function_call":
		return "tool_use"
	}
	if hasCalls {
		return "tool_use"
	}
	return "end_turn"
}

// toolUse builds a tool_use block from a tool call.
func toolUse(id, name, args string) provider.Block {
	if id == "" {
		id = newToolID()
	}
	return provider.Block{Type: provider.TypeToolUse, ID: id, Name: name, Input: toolInput(args)}
}

// toolInput parses tool-call arguments into a JSON object (see the package comment).
func toolInput(args string) json.RawMessage {
	trimmed := strings.TrimSpace(args)
	if trimmed == "" {
		return json.RawMessage(`{}`)
	}
	var obj map[string]json.RawMessage
	if json.Unmarshal([]byte(trimmed), &obj) == nil && obj != nil {
		return compact(trimmed)
	}
	var inner string
	if json.Unmarshal([]byte(trimmed), &inner) == nil && json.Unmarshal([]byte(inner), &obj) == nil && obj != nil {
		return compact(inner)
	}
	b, _ := json.Marshal(map[string]string{"_raw_arguments": args})
	return b
}

func compact(s string) json.RawMessage {
	var buf bytes.Buffer
	_ = json.Compact(&buf, []byte(s)) // s is known to be valid JSON
	return buf.Bytes()
}

func newToolID() string {
	var b [12]byte
	_, _ = rand.Read(b[:])
	return "toolu_" + hex.EncodeToString(b[:])
}
