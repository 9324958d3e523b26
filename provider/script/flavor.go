package script

import (
	"encoding/json"
	"fmt"
	"net/http"
	"regexp"
	"strings"
)

// Flavor makes an OpenAI-format Server behave as one provider's chat-completions
// endpoint is documented to: what it rejects, how it streams and how its errors look.
// The zero Flavor is OpenAI's behaviour.
type Flavor struct {
	// Name is the provider the flavor reproduces.
	Name string
	// ShortToolIDs makes tool-call ids nine alphanumeric characters, and rejects a
	// request whose tool calls or tool messages carry any other id.
	ShortToolIDs bool
	// RejectFields are request fields answered 422 "extra inputs are not permitted".
	RejectFields []string
	// ReasoningField is the message field thinking is sent in: reasoning_content
	// (default), reasoning, thinking, or "chunks" for Mistral's content array of
	// thinking and text chunks.
	ReasoningField string
	// RequireReasoningBack rejects a request in which an assistant message with tool
	// calls, after the last user message, has no reasoning_content.
	RequireReasoningBack bool
	// StreamUsage says where a stream's usage goes: "" in a last chunk without choices
	// when stream_options.include_usage asks for it; "last" in the chunk carrying the
	// finish_reason, whether asked or not; "none" nowhere.
	StreamUsage string
	// WholeToolCalls streams each tool call in one delta with its whole arguments;
	// NoIndex leaves "index" out of tool-call deltas.
	WholeToolCalls, NoIndex bool
	// RejectEmptyContent rejects a message whose content is empty or whitespace.
	RejectEmptyContent bool
	// RejectSchemaKeys rejects "strict" in a function and JSON Schema keywords outside
	// the OpenAPI subset in its parameters.
	RejectSchemaKeys bool
	// RejectNamedToolChoice rejects a tool_choice that is not a string.
	RejectNamedToolChoice bool
	// RejectParallelToolCalls rejects parallel_tool_calls.
	RejectParallelToolCalls bool
	// RequireParallelToolCalls rejects a request with tools but no parallel_tool_calls,
	// standing for a server whose default is one call per turn.
	RequireParallelToolCalls bool
	// MaxTokensField rejects a request carrying the other of max_tokens and
	// max_completion_tokens.
	MaxTokensField string
	// ErrorBody is the body of an error answer; nil means OpenAI's.
	ErrorBody func(status int, typ, msg string) any
	// Comments sends SSE comment lines between chunks.
	Comments bool
	// Models are listed at GET /v1/models.
	Models []string
}

// NewOpenAIServerFlavor is NewOpenAIServer behaving as f says.
func NewOpenAIServerFlavor(s *Script, f Flavor) *Server {
	srv := NewOpenAIServer(s)
	srv.flavor = f
	return srv
}

var shortIDRe = regexp.MustCompile(`^[a-zA-Z0-9]{9}$`)

// outsideSubset returns a keyword of schema outside the OpenAPI subset, or "". The
// names of properties are not keywords.
func outsideSubset(schema any) string {
	switch t := schema.(type) {
	case map[string]any:
		for k, sub := range t {
			switch k {
			case "$schema", "additionalProperties", "strict", "$id":
				return k
			case "properties":
				props, _ := sub.(map[string]any)
				for _, p := range props {
					if bad := outsideSubset(p); bad != "" {
						return bad
					}
				}
			default:
				if bad := outsideSubset(sub); bad != "" {
					return bad
				}
			}
		}
	case []any:
		for _, sub := range t {
			if bad := outsideSubset(sub); bad != "" {
				return bad
			}
		}
	}
	return ""
}

// flavorRequest is the part of a request the checks read.
type flavorRequest struct {
	Messages []struct {
		Role       string          `json:"role"`
		Content    json.RawMessage `json:"content"`
		ToolCallID *string         `json:"tool_call_id"`
		ToolCalls  []struct {
			ID string `json:"id"`
		} `json:"tool_calls"`
		ReasoningContent *string `json:"reasoning_content"`
	} `json:"messages"`
	Tools      []json.RawMessage `json:"tools"`
	ToolChoice json.RawMessage   `json:"tool_choice"`
}

// check returns the status and message the flavor rejects body with, or 0.
func (f Flavor) check(body []byte) (int, string) {
	var top map[string]json.RawMessage
	var req flavorRequest
	if json.Unmarshal(body, &top) != nil || json.Unmarshal(body, &req) != nil {
		return http.StatusBadRequest, "invalid JSON"
	}
	for _, field := range f.RejectFields {
		if _, ok := top[field]; ok {
			return http.StatusUnprocessableEntity, fmt.Sprintf("body.%s: Extra inputs are not permitted", field)
		}
	}
	if f.MaxTokensField != "" {
		other := "max_tokens"
		if f.MaxTokensField == other {
			other = "max_completion_tokens"
		}
		if _, ok := top[other]; ok {
			return http.StatusBadRequest, fmt.Sprintf("Unsupported parameter: '%s' is not supported with this model. Use '%s' instead.", other, f.MaxTokensField)
		}
	}
	if _, ok := top["parallel_tool_calls"]; ok && f.RejectParallelToolCalls {
		return http.StatusBadRequest, `Invalid JSON payload received. Unknown name "parallel_tool_calls": Cannot find field.`
	}
	if _, ok := top["parallel_tool_calls"]; !ok && f.RequireParallelToolCalls && len(req.Tools) > 0 {
		return http.StatusBadRequest, "this server calls one tool per turn unless parallel_tool_calls is true"
	}
	if f.RejectNamedToolChoice && len(req.ToolChoice) > 0 && req.ToolChoice[0] != '"' {
		return http.StatusBadRequest, "Invalid tool_choice: only \"auto\", \"none\" and \"required\" are supported"
	}
	if f.RejectSchemaKeys {
		for i, raw := range req.Tools {
			var t struct {
				Function map[string]json.RawMessage `json:"function"`
			}
			_ = json.Unmarshal(raw, &t)
			if _, ok := t.Function["strict"]; ok {
				return http.StatusBadRequest, fmt.Sprintf("Invalid JSON payload received. Unknown name \"strict\" at 'tools[%d].function': Cannot find field.", i)
			}
			var params any
			_ = json.Unmarshal(t.Function["parameters"], &params)
			if k := outsideSubset(params); k != "" {
				return http.StatusBadRequest, fmt.Sprintf("Invalid JSON payload received. Unknown name %q at 'tools[%d].function.parameters': Cannot find field.", k, i)
			}
		}
	}
	lastUser := -1
	for i, m := range req.Messages {
		if m.Role == "user" {
			lastUser = i
		}
	}
	for i, m := range req.Messages {
		if f.RejectEmptyContent && m.Role != "assistant" && emptyContent(m.Content) {
			return http.StatusBadRequest, fmt.Sprintf("messages[%d]: content must not be empty", i)
		}
		if f.ShortToolIDs {
			ids := []string{}
			if m.ToolCallID != nil {
				ids = append(ids, *m.ToolCallID)
			}
			for _, c := range m.ToolCalls {
				ids = append(ids, c.ID)
			}
			for _, id := range ids {
				if !shortIDRe.MatchString(id) {
					return http.StatusBadRequest, fmt.Sprintf("Tool call id was %s but must be a-z, A-Z, 0-9, with a length of 9.", id)
				}
			}
		}
		if f.RequireReasoningBack && m.Role == "assistant" && len(m.ToolCalls) > 0 && i > lastUser && m.ReasoningContent == nil {
			return http.StatusBadRequest, "The `reasoning_content` in the thinking mode must be passed back to the API."
		}
	}
	return 0, ""
}

func emptyContent(raw json.RawMessage) bool {
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return strings.TrimSpace(s) == ""
	}
	var parts []struct {
		Type string `json:"type"`
		Text string `json:"text"`
	}
	if json.Unmarshal(raw, &parts) == nil {
		if len(parts) == 0 {
			return true
		}
		for _, p := range parts {
			if p.Type == "text" && strings.TrimSpace(p.Text) == "" {
				return true
			}
		}
	}
	return len(raw) == 0 || string(raw) == "null"
}

// errorBody is the flavor's error body.
func (f Flavor) errorBody(status int, typ, msg string) any {
	if f.ErrorBody != nil {
		return f.ErrorBody(status, typ, msg)
	}
	return openAIError(typ, msg)
}

// toolCallID is the id of the tool call of block j in turn idx.
func (f Flavor) toolCallID(id string, idx, j int) string {
	if f.ShortToolIDs {
		return fmt.Sprintf("Call%02dx%02d", idx%100, j%100)
	}
	if id == "" {
		id = fmt.Sprintf("call_script_%d_%d", idx, j)
	}
	return id
}

// reasoningField is the message field that carries thinking.
func (f Flavor) reasoningField() string {
	if f.ReasoningField == "" {
		return "reasoning_content"
	}
	return f.ReasoningField
}

// messageContent sets the content and thinking of a non-streamed message.
func (f Flavor) messageContent(m map[string]any, text, thinking string) {
	if f.ReasoningField == "chunks" && thinking != "" {
		chunks := []any{map[string]any{"type": "thinking", "thinking": []any{map[string]any{"type": "text", "text": thinking}}}}
		if text != "" {
			chunks = append(chunks, map[string]any{"type": "text", "text": text})
		}
		m["content"] = chunks
		return
	}
	if text != "" {
		m["content"] = text
	}
	if thinking != "" {
		m[f.reasoningField()] = thinking
	}
}

// thinkingDelta is a streamed delta carrying a piece of thinking.
func (f Flavor) thinkingDelta(p string) map[string]any {
	if f.ReasoningField == "chunks" {
		return map[string]any{"content": []any{map[string]any{"type": "thinking", "thinking": []any{map[string]any{"type": "text", "text": p}}}}}
	}
	return map[string]any{f.reasoningField(): p}
}

// Gemini's OpenAI-compatible endpoint wraps Google's error in a one-element array.
func geminiError(status int, _, msg string) any {
	code := map[int]string{400: "INVALID_ARGUMENT", 401: "UNAUTHENTICATED", 403: "PERMISSION_DENIED",
		404: "NOT_FOUND", 429: "RESOURCE_EXHAUSTED", 500: "INTERNAL", 503: "UNAVAILABLE"}[status]
	return []any{map[string]any{"error": map[string]any{"code": status, "message": msg, "status": code}}}
}

// Mistral's errors: {"object": "error", "message": …, "type": …}, and for rate limits
// only {"message": …}.
func mistralError(status int, typ, msg string) any {
	if status == http.StatusTooManyRequests {
		return map[string]any{"message": msg}
	}
	return map[string]any{"object": "error", "message": msg, "type": typ, "param": nil, "code": nil}
}

// OpenRouter's errors: {"error": {"code": <status>, "message": …, "metadata": {…}}}.
func openRouterError(status int, _, msg string) any {
	return map[string]any{"error": map[string]any{"code": status, "message": msg, "metadata": map[string]any{"provider_name": "fake"}}}
}

// vLLM's errors put the message at the top level.
func vllmError(status int, typ, msg string) any {
	return map[string]any{"object": "error", "message": msg, "type": typ, "param": nil, "code": status}
}

// llama.cpp's server: {"error": {"code": …, "message": …, "type": …}}.
func llamaCppError(status int, typ, msg string) any {
	return map[string]any{"error": map[string]any{"code": status, "message": msg, "type": typ}}
}

// Ollama's OpenAI-compatible errors: {"error": {"message": …, "type": …}}; its
// native API answers {"error": "text"}, which a proxy in front may pass on.
func ollamaError(_ int, _, msg string) any {
	return map[string]any{"error": msg}
}

// Flavors are the providers' documented behaviours, by the name codebox serves each
// under. The sources: Mistral https://docs.mistral.ai/api/ and
// https://docs.mistral.ai/capabilities/function_calling/ (nine-character ids, usage in
// the last chunk, unknown fields refused); DeepSeek
// https://api-docs.deepseek.com/guides/thinking_mode (reasoning_content must come
// back on tool-call turns) and https://api-docs.deepseek.com/quick_start/error_codes;
// Gemini https://ai.google.dev/gemini-api/docs/openai (the compatibility endpoint;
// function declarations take an OpenAPI schema subset, errors are Google's);
// OpenRouter https://openrouter.ai/docs/api-reference/streaming and
// https://openrouter.ai/docs/api-reference/errors (comment lines, reasoning field,
// error codes); Ollama https://github.com/ollama/ollama/blob/main/docs/openai.md;
// vLLM https://docs.vllm.ai/en/latest/serving/openai_compatible_server.html and its
// reasoning outputs page; llama.cpp
// https://github.com/ggml-org/llama.cpp/blob/master/tools/server/README.md
// (parallel_tool_calls off by default, tool_choice strings, usage in the final chunk);
// OpenAI https://platform.openai.com/docs/api-reference/chat (max_completion_tokens).
var Flavors = map[string]Flavor{
	"openai": {Name: "openai", MaxTokensField: "max_completion_tokens"},
	"gemini": {Name: "gemini", RejectEmptyContent: true, RejectSchemaKeys: true, RejectParallelToolCalls: true,
		ReasoningField: "reasoning", WholeToolCalls: true, NoIndex: true, StreamUsage: "last", ErrorBody: geminiError,
		Models: []string{"models/gemini-2.5-flash", "models/gemini-2.5-pro"}},
	"mistral": {Name: "mistral", ShortToolIDs: true, RejectFields: []string{"stream_options"}, ReasoningField: "chunks",
		StreamUsage: "last", WholeToolCalls: true, RejectEmptyContent: true, MaxTokensField: "max_tokens",
		ErrorBody: mistralError, Models: []string{"mistral-small-latest", "magistral-small-latest"}},
	"deepseek": {Name: "deepseek", RequireReasoningBack: true, StreamUsage: "last", MaxTokensField: "max_tokens",
		Models: []string{"deepseek-chat", "deepseek-reasoner"}},
	"openrouter": {Name: "openrouter", ReasoningField: "reasoning", Comments: true, StreamUsage: "last",
		ErrorBody: openRouterError, Models: []string{"meta-llama/llama-3.3-70b-instruct", "qwen/qwen3-14b"}},
	"ollama": {Name: "ollama", ReasoningField: "reasoning", WholeToolCalls: true, NoIndex: true,
		ErrorBody: ollamaError, Models: []string{"qwen3:8b", "llama3.1:8b"}},
	"vllm": {Name: "vllm", ReasoningField: "reasoning", ErrorBody: vllmError, Models: []string{"Qwen/Qwen3-8B"}},
	"llamacpp": {Name: "llamacpp", RejectNamedToolChoice: true, RequireParallelToolCalls: true, StreamUsage: "last",
		ErrorBody: llamaCppError, Models: []string{"qwen2.5-7b-instruct-q4_k_m.gguf"}},
}
