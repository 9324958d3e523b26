package script

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
)

// Server is a fake upstream serving a Script in one real wire format. It records every
// request it receives. It is safe for concurrent use.
type Server struct {
	script *Script
	path   string
	count  bool // also answers path+"/count_tokens"
	serve  func(w http.ResponseWriter, body []byte, n int)
	flavor Flavor // OpenAI format only

	mu       sync.Mutex // guards requests
	requests []Recorded
}

// Recorded is one request a Server received.
type Recorded struct {
	Path   string
	Header http.Header
	Body   []byte
}

// NewAnthropicServer returns a Server answering POST /v1/messages (with or without
// ?beta=true) in Anthropic's Messages format: a JSON message, or with "stream": true
// server-sent events with event: lines (message_start, content_block_start/delta/stop,
// message_delta, message_stop, and a ping). Scripted errors come back as the error
// envelope with their status, or mid-stream as an error event. It also answers POST
// /v1/messages/count_tokens with {"input_tokens": N}, N estimated from the body's size
// as the usage of its messages is.
func NewAnthropicServer(s *Script) *Server {
	srv := &Server{script: s, path: "/v1/messages", count: true}
	srv.serve = srv.serveAnthropic
	return srv
}

// NewOpenAIServer returns a Server answering POST /v1/chat/completions in OpenAI's
// chat-completions format: a chat.completion object, or with "stream": true chunks as
// "data: {chunk}" events ending with "data: [DONE]" (and a usage chunk when
// stream_options.include_usage is set). Text blocks of a turn are joined into the
// message content, thinking blocks are sent as reasoning_content (the convention of
// vLLM and DeepSeek), tool_use blocks become tool_calls. Scripted errors come back as
// OpenAI's {"error": {…}} body with their status, or mid-stream as a data: {"error": …}
// chunk whose code is the status.
func NewOpenAIServer(s *Script) *Server {
	srv := &Server{script: s, path: "/v1/chat/completions"}
	srv.serve = srv.serveOpenAI
	return srv
}

// Requests returns a copy of the requests received so far, oldest first.
func (s *Server) Requests() []Recorded {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Recorded(nil), s.requests...)
}

// Last returns the body of the last request received, or nil.
func (s *Server) Last() []byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.requests) == 0 {
		return nil
	}
	return s.requests[len(s.requests)-1].Body
}

// ServeHTTP implements http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method == http.MethodGet && r.URL.Path == "/v1/models" && len(s.flavor.Models) > 0 {
		var data []any
		for _, m := range s.flavor.Models {
			data = append(data, map[string]any{"id": m, "object": "model", "created": 1767225600, "owned_by": s.flavor.Name})
		}
		writeJSON(w, http.StatusOK, map[string]any{"object": "list", "data": data})
		return
	}
	counting := s.count && r.URL.Path == s.path+"/count_tokens"
	if r.URL.Path != s.path && !counting {
		http.NotFound(w, r)
		return
	}
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	body, err := io.ReadAll(r.Body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	s.mu.Lock()
	s.requests = append(s.requests, Recorded{Path: r.URL.Path, Header: r.Header.Clone(), Body: body})
	s.mu.Unlock()

	var conv struct {
		Messages []struct {
			Role string `json:"role"`
		} `json:"messages"`
	}
	if err := json.Unmarshal(body, &conv); err != nil {
		http.Error(w, "bad JSON: "+err.Error(), http.StatusBadRequest)
		return
	}
	if counting {
		writeJSON(w, http.StatusOK, map[string]any{"input_tokens": estimate(len(body))})
		return
	}
	n, prev := 0, ""
	for _, m := range conv.Messages {
		if m.Role == "assistant" && prev != "assistant" {
			n++
		}
		prev = m.Role
	}
	s.serve(w, body, n)
}

// wireRequest holds the request fields both formats look at.
type wireRequest struct {
	Model         string `json:"model"`
	Stream        bool   `json:"stream"`
	StreamOptions struct {
		IncludeUsage bool `json:"include_usage"`
	} `json:"stream_options"`
}

func (s *Server) serveAnthropic(w http.ResponseWriter, body []byte, n int) {
	var req wireRequest
	_ = json.Unmarshal(body, &req) // already checked to be valid JSON
	w.Header().Set("request-id", fmt.Sprintf("req_script_%d", n))
	turn, idx, err := s.script.pick(n)
	if err != nil {
		writeJSON(w, http.StatusInternalServerError, anthropicError("api_error", err.Error()))
		return
	}
	if e := turn.Error; e != nil && !(e.MidStream && req.Stream) {
		writeJSON(w, e.Status, anthropicError(e.Type, e.Message))
		return
	}
	u := turn.usage(len(body))
	usage := map[string]any{
		"input_tokens":                u.InputTokens,
		"output_tokens":               u.OutputTokens,
		"cache_creation_input_tokens": u.CacheCreationInputTokens,
		"cache_read_input_tokens":     u.CacheReadInputTokens,
	}
	var stopSeq any
	if turn.StopSequence != "" {
		stopSeq = turn.StopSequence
	}
	msg := map[string]any{
		"id": fmt.Sprintf("msg_script_%d", idx), "type": "message", "role": "assistant", "model": req.Model,
		"content": []any{}, "stop_reason": nil, "stop_sequence": nil, "usage": usage,
	}
	blocks := make([]map[string]any, len(turn.Content))
	for j, b := range turn.Content {
		switch b.Type {
		case "thinking":
			blocks[j] = map[string]any{"type": "thinking", "thinking": b.Thinking, "signature": b.Signature}
		case "tool_use":
			blocks[j] = map[string]any{"type": "tool_use", "id": toolID(b, idx, j), "name": b.Name, "input": input(b)}
		default:
			blocks[j] = map[string]any{"type": "text", "text": b.Text}
		}
	}
	if !req.Stream {
		msg["content"], msg["stop_reason"], msg["stop_sequence"] = blocks, turn.stopReason(), stopSeq
		writeJSON(w, http.StatusOK, msg)
		return
	}

	sse := newSSE(w)
	msg["usage"] = map[string]any{"input_tokens": u.InputTokens, "output_tokens": 1,
		"cache_creation_input_tokens": u.CacheCreationInputTokens, "cache_read_input_tokens": u.CacheReadInputTokens}
	sse.event("message_start", map[string]any{"type": "message_start", "message": msg})
	sse.event("ping", map[string]any{"type": "ping"})
	for i, b := range blocks {
		var start map[string]any
		var deltas []map[string]any
		switch b["type"] {
		case "thinking":
			start = map[string]any{"type": "thinking", "thinking": "", "signature": ""}
			for _, p := range splitText(b["thinking"].(string)) {
				deltas = append(deltas, map[string]any{"type": "thinking_delta", "thinking": p})
			}
			deltas = append(deltas, map[string]any{"type": "signature_delta", "signature": b["signature"]})
		case "tool_use":
			start = map[string]any{"type": "tool_use", "id": b["id"], "name": b["name"], "input": map[string]any{}}
			in := string(b["input"].(json.RawMessage))
			for _, p := range halves(in) {
				deltas = append(deltas, map[string]any{"type": "input_json_delta", "partial_json": p})
			}
		default:
			start = map[string]any{"type": "text", "text": ""}
			for _, p := range splitText(b["text"].(string)) {
				deltas = append(deltas, map[string]any{"type": "text_delta", "text": p})
			}
		}
		sse.event("content_block_start", map[string]any{"type": "content_block_start", "index": i, "content_block": start})
		for _, d := range deltas {
			sse.event("content_block_delta", map[string]any{"type": "content_block_delta", "index": i, "delta": d})
		}
		sse.event("content_block_stop", map[string]any{"type": "content_block_stop", "index": i})
	}
	if e := turn.Error; e != nil {
		sse.event("error", map[string]any{"type": "error", "error": map[string]any{"type": e.Type, "message": e.Message}})
		return
	}
	sse.event("message_delta", map[string]any{"type": "message_delta",
		"delta": map[string]any{"stop_reason": turn.stopReason(), "stop_sequence": stopSeq}, "usage": usage})
	sse.event("message_stop", map[string]any{"type": "message_stop"})
}

func anthropicError(typ, msg string) map[string]any {
	return map[string]any{"type": "error", "error": map[string]any{"type": typ, "message": msg}, "request_id": "req_script"}
}

// finishReason maps an Anthropic stop_reason to OpenAI's finish_reason.
func finishReason(stop string) string {
	switch stop {
	case "tool_use":
		return "tool_calls"
	case "max_tokens":
		return "length"
	case "refusal":
		return "content_filter"
	default:
		return "stop"
	}
}

func (s *Server) serveOpenAI(w http.ResponseWriter, body []byte, n int) {
	var req wireRequest
	_ = json.Unmarshal(body, &req)
	f := s.flavor
	if status, msg := f.check(body); status != 0 {
		writeJSON(w, status, f.errorBody(status, "invalid_request_error", msg))
		return
	}
	turn, idx, err := s.script.pick(n)
	if err != nil {
		writeJSON(w, http.StatusInternalServerError, f.errorBody(http.StatusInternalServerError, "server_error", err.Error()))
		return
	}
	if e := turn.Error; e != nil && !(e.MidStream && req.Stream) {
		writeJSON(w, e.Status, f.errorBody(e.Status, e.Type, e.Message))
		return
	}
	u := turn.usage(len(body))
	usage := map[string]any{
		"prompt_tokens": u.InputTokens + u.CacheReadInputTokens, "completion_tokens": u.OutputTokens,
		"total_tokens":          u.InputTokens + u.CacheReadInputTokens + u.OutputTokens,
		"prompt_tokens_details": map[string]any{"cached_tokens": u.CacheReadInputTokens},
	}
	var texts, thinking []string
	var calls []map[string]any
	for j, b := range turn.Content {
		switch b.Type {
		case "thinking":
			thinking = append(thinking, b.Thinking)
		case "tool_use":
			id := f.toolCallID(b.ID, idx, j)
			calls = append(calls, map[string]any{"id": id, "type": "function",
				"function": map[string]any{"name": b.Name, "arguments": string(input(b))}})
		default:
			texts = append(texts, b.Text)
		}
	}
	id := fmt.Sprintf("chatcmpl-script-%d", idx)
	const created = 1767225600
	finish := finishReason(turn.stopReason())
	if !req.Stream {
		m := map[string]any{"role": "assistant", "content": nil, "refusal": nil}
		f.messageContent(m, strings.Join(texts, ""), strings.Join(thinking, ""))
		if len(calls) > 0 {
			m["tool_calls"] = calls
		}
		writeJSON(w, http.StatusOK, map[string]any{
			"id": id, "object": "chat.completion", "created": created, "model": req.Model,
			"choices": []any{map[string]any{"index": 0, "message": m, "finish_reason": finish, "logprobs": nil}},
			"usage":   usage,
		})
		return
	}

	sse := newSSE(w)
	chunk := func(delta map[string]any, finish any) {
		c := map[string]any{"id": id, "object": "chat.completion.chunk", "created": created, "model": req.Model,
			"choices": []any{map[string]any{"index": 0, "delta": delta, "finish_reason": finish, "logprobs": nil}}}
		if req.StreamOptions.IncludeUsage && f.StreamUsage == "" {
			c["usage"] = nil
		}
		if finish != nil && f.StreamUsage == "last" {
			c["usage"] = usage
		}
		sse.data(c)
		if f.Comments {
			sse.raw(": OPENROUTER PROCESSING\n\n")
		}
	}
	chunk(map[string]any{"role": "assistant", "content": ""}, nil)
	for _, p := range splitText(strings.Join(thinking, "")) {
		chunk(f.thinkingDelta(p), nil)
	}
	for _, p := range splitText(strings.Join(texts, "")) {
		chunk(map[string]any{"content": p}, nil)
	}
	for k, c := range calls {
		fn := c["function"].(map[string]any)
		args := fn["arguments"].(string)
		first := map[string]any{"index": k, "id": c["id"], "type": "function",
			"function": map[string]any{"name": fn["name"], "arguments": ""}}
		if f.NoIndex {
			delete(first, "index")
		}
		if f.WholeToolCalls {
			first["function"].(map[string]any)["arguments"] = args
			chunk(map[string]any{"tool_calls": []any{first}}, nil)
			continue
		}
		chunk(map[string]any{"tool_calls": []any{first}}, nil)
		for _, p := range halves(args) {
			d := map[string]any{"index": k, "function": map[string]any{"arguments": p}}
			if f.NoIndex {
				delete(d, "index")
			}
			chunk(map[string]any{"tool_calls": []any{d}}, nil)
		}
	}
	if e := turn.Error; e != nil {
		// OpenRouter's shape: the status as the error code.
		sse.data(map[string]any{"error": map[string]any{"message": e.Message, "type": e.Type, "code": e.Status}})
		return
	}
	chunk(map[string]any{}, finish)
	if req.StreamOptions.IncludeUsage && f.StreamUsage == "" {
		sse.data(map[string]any{"id": id, "object": "chat.completion.chunk", "created": created, "model": req.Model,
			"choices": []any{}, "usage": usage})
	}
	sse.raw("data: [DONE]\n\n")
}

func openAIError(typ, msg string) map[string]any {
	return map[string]any{"error": map[string]any{"message": msg, "type": typ, "param": nil, "code": typ}}
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// sseWriter writes server-sent events, flushing after each.
type sseWriter struct {
	w http.ResponseWriter
	f http.Flusher
}

func newSSE(w http.ResponseWriter) *sseWriter {
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-cache")
	w.WriteHeader(http.StatusOK)
	f, _ := w.(http.Flusher)
	return &sseWriter{w: w, f: f}
}

func (s *sseWriter) raw(frame string) {
	_, _ = io.WriteString(s.w, frame)
	if s.f != nil {
		s.f.Flush()
	}
}

func (s *sseWriter) event(name string, v any) {
	b, _ := json.Marshal(v)
	s.raw("event: " + name + "\ndata: " + string(b) + "\n\n")
}

func (s *sseWriter) data(v any) {
	b, _ := json.Marshal(v)
	s.raw("data: " + string(b) + "\n\n")
}
