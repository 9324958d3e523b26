package anthropic_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/codebox-dev/codebox/errdefs"
	"github.com/codebox-dev/codebox/provider"
	"github.com/codebox-dev/codebox/provider/anthropic"
	"github.com/codebox-dev/codebox/provider/script"
)

const turns = `[
  {"content": [{"type": "thinking", "thinking": "The user wants a listing.", "signature": "sig-1"},
               {"type": "text", "text": "Let me look at the files."},
               {"type": "tool_use", "id": "toolu_A", "name": "bash_code_execution", "input": {"command": "ls -la /workspace"}}],
   "usage": {"input_tokens": 120, "output_tokens": 40, "cache_read_input_tokens": 12, "cache_creation_input_tokens": 3}},
  {"content": [{"type": "text", "text": "There is one file, sales.csv — ünïcode ok."}], "usage": {"input_tokens": 200, "output_tokens": 9}}
]`

func setup(t *testing.T, turns string) (*anthropic.Model, *script.Server) {
	t.Helper()
	sc, err := script.Parse([]byte(turns))
	if err != nil {
		t.Fatal(err)
	}
	srv := script.NewAnthropicServer(sc)
	ts := httptest.NewServer(srv)
	t.Cleanup(ts.Close)
	return anthropic.New(anthropic.Config{BaseURL: ts.URL, APIKey: "sk-test"}), srv
}

func user(text string) provider.Message {
	return provider.Message{Role: "user", Content: []provider.Block{{Type: provider.TypeText, Text: text}}}
}

func baseRequest() *provider.Request {
	return &provider.Request{Model: "claude-sonnet-4-5", MaxTokens: 1024,
		System:   []provider.Block{{Type: provider.TypeText, Text: "You are in a container."}},
		Messages: []provider.Message{user("list the files")}}
}

// asJSON decodes raw into a generic value for comparisons.
func asJSON(t *testing.T, raw []byte) map[string]any {
	t.Helper()
	var v map[string]any
	if err := json.Unmarshal(raw, &v); err != nil {
		t.Fatalf("bad JSON %s: %v", raw, err)
	}
	return v
}

func TestToolCallTurn(t *testing.T) {
	m, srv := setup(t, turns)
	resp, err := m.Turn(context.Background(), baseRequest(), nil)
	if err != nil {
		t.Fatal(err)
	}
	want := []provider.Block{
		{Type: "thinking", Text: "The user wants a listing.", Signature: "sig-1"},
		{Type: "text", Text: "Let me look at the files."},
		{Type: "tool_use", ID: "toolu_A", Name: "bash_code_execution", Input: json.RawMessage(`{"command":"ls -la /workspace"}`)},
	}
	if !reflect.DeepEqual(resp.Content, want) {
		t.Errorf("Content = %+v\nwant %+v", resp.Content, want)
	}
	wantUsage := provider.Usage{InputTokens: 120, OutputTokens: 40, CacheReadInputTokens: 12, CacheCreationInputTokens: 3}
	if resp.StopReason != "tool_use" || resp.Usage != wantUsage || resp.ID != "msg_script_0" || resp.Model != "claude-sonnet-4-5" {
		t.Errorf("resp = %+v", resp)
	}
	rec := srv.Requests()[0]
	if rec.Header.Get("x-api-key") != "sk-test" || rec.Header.Get("anthropic-version") == "" {
		t.Errorf("headers = %v", rec.Header)
	}
	body := asJSON(t, rec.Body)
	if body["model"] != "claude-sonnet-4-5" || body["max_tokens"] != 1024.0 {
		t.Errorf("body = %v", body)
	}
	sys := body["system"].([]any)[0].(map[string]any)
	if sys["text"] != "You are in a container." {
		t.Errorf("system = %v", body["system"])
	}
	if _, ok := body["stream"]; ok {
		t.Errorf("non-streaming request has stream: %v", body["stream"])
	}
}

func TestLargeMaxTokensNonStreaming(t *testing.T) {
	m, _ := setup(t, turns)
	req := baseRequest()
	req.MaxTokens = 64000
	if _, err := m.Turn(context.Background(), req, nil); err != nil {
		t.Fatalf("max_tokens 64000 without streaming: %v", err)
	}
}

func TestMultiTurnTranslation(t *testing.T) {
	m, srv := setup(t, turns)
	temp, topK := 0.5, int64(20)
	image := json.RawMessage(`{"type":"image","source":{"type":"base64","media_type":"image/png","data":"iVBORw0KGgo="},"cache_control":{"type":"ephemeral"}}`)
	clientTool := json.RawMessage(`{"name":"get_weather","description":"Weather","input_schema":{"type":"object","properties":{"city":{"type":"string"}}},"cache_control":{"type":"ephemeral","ttl":"1h"}}`)
	req := &provider.Request{
		Model: "claude-opus-4-1", MaxTokens: 500,
		System: []provider.Block{
			{Type: "text", Text: "sys one", Raw: json.RawMessage(`{"type":"text","text":"sys one","cache_control":{"type":"ephemeral"}}`)},
			{Type: "text", Text: "container addendum"},
		},
		Messages: []provider.Message{
			{Role: "user", Content: []provider.Block{{Type: "text", Text: "what is this?"}, {Type: "image", Raw: image}}},
			{Role: "assistant", Content: []provider.Block{{Type: "thinking", Text: "from another model"}}},
			{Role: "assistant", Content: []provider.Block{
				{Type: "thinking", Text: "unsigned"},
				{Type: "thinking", Text: "hmm", Signature: "sig-9"},
				{Type: "text", Text: "Checking."},
				{Type: "tool_use", ID: "toolu_1", Name: "bash_code_execution", Input: json.RawMessage(`{"command":"file x.png"}`)},
			}},
			{Role: "user", Content: []provider.Block{
				{Type: "tool_result", ToolUseID: "toolu_1", IsError: true, Content: []provider.Block{
					{Type: "text", Text: "x.png: PNG image"},
					{Type: "image", Raw: image},
				}},
			}},
		},
		Tools: []provider.Tool{
			{Name: "get_weather", Raw: clientTool},
			{Name: "bash_code_execution", Description: "Run bash", InputSchema: json.RawMessage(`{"type":"object","properties":{"command":{"type":"string"}},"required":["command"]}`)},
		},
		ToolChoice:    &provider.ToolChoice{Type: "tool", Name: "get_weather", DisableParallelToolUse: true},
		StopSequences: []string{"STOP"},
		Temperature:   &temp,
		TopK:          &topK,
		Thinking:      json.RawMessage(`{"type":"enabled","budget_tokens":2048}`),
		Metadata:      json.RawMessage(`{"user_id":"u-1"}`),
	}
	resp, err := m.Turn(context.Background(), req, nil)
	if err != nil {
		t.Fatal(err)
	}
	if resp.Content[0].Text != "There is one file, sales.csv — ünïcode ok." {
		t.Errorf("turn 1 served %+v", resp.Content)
	}
	got := asJSON(t, srv.Last())
	want := asJSON(t, []byte(`{
	  "model": "claude-opus-4-1", "max_tokens": 500,
	  "system": [{"type":"text","text":"sys one","cache_control":{"type":"ephemeral"}}, {"type":"text","text":"container addendum"}],
	  "messages": [
	    {"role":"user","content":[{"type":"text","text":"what is this?"}, `+string(image)+`]},
	    {"role":"assistant","content":[
	      {"type":"thinking","thinking":"hmm","signature":"sig-9"},
	      {"type":"text","text":"Checking."},
	      {"type":"tool_use","id":"toolu_1","name":"bash_code_execution","input":{"command":"file x.png"}}]},
	    {"role":"user","content":[{"type":"tool_result","tool_use_id":"toolu_1","is_error":true,
	      "content":[{"type":"text","text":"x.png: PNG image"}, `+string(image)+`]}]}
	  ],
	  "tools": [`+string(clientTool)+`,
	    {"name":"bash_code_execution","description":"Run bash","input_schema":{"type":"object","properties":{"command":{"type":"string"}},"required":["command"]}}],
	  "tool_choice": {"type":"tool","name":"get_weather","disable_parallel_tool_use":true},
	  "stop_sequences": ["STOP"], "temperature": 0.5, "top_k": 20,
	  "thinking": {"type":"enabled","budget_tokens":2048},
	  "metadata": {"user_id":"u-1"}
	}`))
	if !reflect.DeepEqual(got, want) {
		gb, _ := json.MarshalIndent(got, "", " ")
		wb, _ := json.MarshalIndent(want, "", " ")
		t.Errorf("upstream request:\n%s\nwant:\n%s", gb, wb)
	}
}

func TestStreamingMatchesNonStreaming(t *testing.T) {
	m, _ := setup(t, turns)
	ctx := context.Background()
	plain, err := m.Turn(ctx, baseRequest(), nil)
	if err != nil {
		t.Fatal(err)
	}
	var evs []provider.Event
	streamed, err := m.Turn(ctx, baseRequest(), func(e provider.Event) { evs = append(evs, e) })
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(streamed, plain) {
		t.Errorf("streamed = %+v\nplain = %+v", streamed, plain)
	}
	// Rebuild the blocks from the events alone.
	var rebuilt []provider.Block
	open := -1
	for _, e := range evs {
		switch e.Type {
		case provider.BlockStart:
			if e.Index != len(rebuilt) || open != -1 {
				t.Fatalf("start %d with %d blocks, open %d", e.Index, len(rebuilt), open)
			}
			rebuilt = append(rebuilt, *e.Block)
			open = e.Index
		case provider.BlockDelta:
			if e.Index != open {
				t.Fatalf("delta for %d while %d open", e.Index, open)
			}
			b := &rebuilt[e.Index]
			if b.Type == provider.TypeToolUse {
				b.Input = append(b.Input, e.Delta...)
			} else {
				b.Text += e.Delta
			}
		case provider.BlockStop:
			if e.Index != open || !reflect.DeepEqual(*e.Block, plain.Content[e.Index]) {
				t.Errorf("stop %d block %+v", e.Index, e.Block)
			}
			b := &rebuilt[e.Index]
			b.Signature = e.Block.Signature
			open = -1
		}
	}
	for i := range rebuilt {
		if rebuilt[i].Type == provider.TypeToolUse {
			var v any
			if err := json.Unmarshal(rebuilt[i].Input, &v); err != nil {
				t.Errorf("streamed input %s: %v", rebuilt[i].Input, err)
			}
			rebuilt[i].Input = plain.Content[i].Input
		}
	}
	if !reflect.DeepEqual(rebuilt, plain.Content) {
		t.Errorf("rebuilt = %+v\nwant %+v", rebuilt, plain.Content)
	}
}

func TestErrorMapping(t *testing.T) {
	for _, tc := range []struct {
		status int
		typ    string
		kind   error
	}{
		{429, "rate_limit_error", errdefs.ErrRateLimited},
		{500, "api_error", errdefs.ErrUpstream},
		{529, "overloaded_error", errdefs.ErrUnavailable},
		{503, "overloaded_error", errdefs.ErrUnavailable},
		{400, "invalid_request_error", errdefs.ErrInvalid},
		{401, "authentication_error", errdefs.ErrUnauthenticated},
		{404, "not_found_error", errdefs.ErrNotFound},
		{413, "request_too_large", errdefs.ErrTooLarge},
	} {
		for _, stream := range []bool{false, true} {
			m, _ := setup(t, `[{"error":{"status":`+jsonInt(tc.status)+`,"type":"`+tc.typ+`","message":"upstream says no"}}]`)
			var events func(provider.Event)
			if stream {
				events = func(provider.Event) {}
			}
			_, err := m.Turn(context.Background(), baseRequest(), events)
			var pub *errdefs.Public
			if !errors.Is(err, tc.kind) || !errors.As(err, &pub) || pub.Status != tc.status || pub.Message != "upstream says no" {
				t.Errorf("status %d stream=%t: err = %#v, want kind %v", tc.status, stream, err, tc.kind)
			}
		}
	}
}

func jsonInt(n int) string { b, _ := json.Marshal(n); return string(b) }

func TestMidStreamError(t *testing.T) {
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		io.WriteString(w, "event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"id\":\"msg_1\",\"type\":\"message\",\"role\":\"assistant\",\"model\":\"m\",\"content\":[],\"stop_reason\":null,\"stop_sequence\":null,\"usage\":{\"input_tokens\":1,\"output_tokens\":1}}}\n\n")
		io.WriteString(w, "event: error\ndata: {\"type\":\"error\",\"error\":{\"type\":\"overloaded_error\",\"message\":\"Overloaded\"}}\n\n")
	}))
	defer ts.Close()
	m := anthropic.New(anthropic.Config{BaseURL: ts.URL, APIKey: "k"})
	_, err := m.Turn(context.Background(), baseRequest(), func(provider.Event) {})
	var pub *errdefs.Public
	if !errors.Is(err, errdefs.ErrUnavailable) || !errors.As(err, &pub) || pub.Message != "Overloaded" {
		t.Fatalf("err = %#v", err)
	}
}

func TestUnreachableAndNoKey(t *testing.T) {
	if _, err := anthropic.New(anthropic.Config{BaseURL: "http://127.0.0.1:1"}).Turn(context.Background(), baseRequest(), nil); !errors.Is(err, errdefs.ErrUnauthenticated) {
		t.Errorf("no key: err = %v", err)
	}
	m := anthropic.New(anthropic.Config{BaseURL: "http://127.0.0.1:1", APIKey: "k"})
	if _, err := m.Turn(context.Background(), baseRequest(), nil); !errors.Is(err, errdefs.ErrUpstream) {
		t.Errorf("unreachable: err = %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := m.Turn(ctx, baseRequest(), nil); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled: err = %v", err)
	}
}

func TestForward(t *testing.T) {
	m, srv := setup(t, turns)
	body := []byte(`{"model":"claude-x","max_tokens":10,  "messages":[{"role":"user","content":"hi"}], "stream": true, "future_field": {"kept": 1}}`)
	h := http.Header{}
	h.Set("anthropic-version", "2026-10-21")
	h.Add("anthropic-beta", "files-api-2025-04-14")
	h.Add("anthropic-beta", "context-1m")
	h.Set("x-api-key", "client-key-must-not-leak")
	resp, err := m.Forward(context.Background(), body, h)
	if err != nil {
		t.Fatal(err)
	}
	data, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/event-stream") ||
		!bytes.Contains(data, []byte("event: message_start")) || !bytes.Contains(data, []byte(`"toolu_A"`)) {
		t.Errorf("forwarded response %d %s", resp.StatusCode, data)
	}
	rec := srv.Requests()[0]
	if !bytes.Equal(rec.Body, body) {
		t.Errorf("upstream body = %s, want byte for byte %s", rec.Body, body)
	}
	if rec.Header.Get("x-api-key") != "sk-test" || rec.Header.Get("anthropic-version") != "2026-10-21" ||
		strings.Join(rec.Header.Values("anthropic-beta"), ",") != "files-api-2025-04-14,context-1m" {
		t.Errorf("upstream headers = %v", rec.Header)
	}

	// Upstream errors come back as upstream's response, untouched.
	m, _ = setup(t, `[{"error":{"status":429,"type":"rate_limit_error","message":"slow"}}]`)
	resp, err = m.Forward(context.Background(), []byte(`{"messages":[]}`), http.Header{})
	if err != nil {
		t.Fatal(err)
	}
	data, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 429 || !bytes.Contains(data, []byte(`"rate_limit_error"`)) {
		t.Errorf("forwarded error %d %s", resp.StatusCode, data)
	}
}

func TestTimeout(t *testing.T) {
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body) // so the server notices the client leaving
		<-r.Context().Done()
	}))
	defer ts.Close()
	m := anthropic.New(anthropic.Config{BaseURL: ts.URL, APIKey: "k", Timeout: 50 * time.Millisecond})
	for _, events := range []func(provider.Event){nil, func(provider.Event) {}} {
		if _, err := m.Turn(context.Background(), baseRequest(), events); !errors.Is(err, errdefs.ErrTimeout) {
			t.Errorf("err = %v, want ErrTimeout", err)
		}
	}
}

func TestScriptedMidStreamError(t *testing.T) {
	m, _ := setup(t, `[{"content":[{"type":"text","text":"Half an answer"}],
		"error":{"status":529,"type":"overloaded_error","message":"Overloaded","mid_stream":true}}]`)
	var starts int
	_, err := m.Turn(context.Background(), baseRequest(), func(e provider.Event) {
		if e.Type == provider.BlockStart {
			starts++
		}
	})
	if !errors.Is(err, errdefs.ErrUnavailable) || starts != 1 {
		t.Errorf("streamed: err = %v after %d blocks, want ErrUnavailable after 1", err, starts)
	}
	if _, err := m.Turn(context.Background(), baseRequest(), nil); !errors.Is(err, errdefs.ErrUnavailable) {
		t.Errorf("not streamed: err = %v", err)
	}
}

func TestTruncatedStream(t *testing.T) {
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		io.WriteString(w, "event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"id\":\"msg_1\",\"type\":\"message\",\"role\":\"assistant\",\"model\":\"m\",\"content\":[],\"stop_reason\":null,\"stop_sequence\":null,\"usage\":{\"input_tokens\":1,\"output_tokens\":1}}}\n\n")
		io.WriteString(w, "event: content_block_start\ndata: {\"type\":\"content_block_start\",\"index\":0,\"content_block\":{\"type\":\"text\",\"text\":\"\"}}\n\n")
	}))
	defer ts.Close()
	m := anthropic.New(anthropic.Config{BaseURL: ts.URL, APIKey: "k"})
	if _, err := m.Turn(context.Background(), baseRequest(), func(provider.Event) {}); !errors.Is(err, errdefs.ErrUpstream) {
		t.Fatalf("err = %v, want ErrUpstream", err)
	}
}

func TestCountTokens(t *testing.T) {
	m, srv := setup(t, turns)
	req := &provider.Request{Model: "claude-x", MaxTokens: 100, Messages: []provider.Message{user("hi")},
		System: []provider.Block{{Type: provider.TypeText, Text: "Be brief."}},
		Tools:  []provider.Tool{{Name: "bash_code_execution", Description: "Run bash.", InputSchema: json.RawMessage(`{"type":"object"}`)}}}
	n, err := m.CountTokens(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	rec := srv.Requests()[0]
	if rec.Path != "/v1/messages/count_tokens" || n != int64(len(rec.Body)/4+1) {
		t.Errorf("count %d from %s %s", n, rec.Path, rec.Body)
	}
	var got map[string]json.RawMessage
	if err := json.Unmarshal(rec.Body, &got); err != nil {
		t.Fatal(err)
	}
	if _, ok := got["max_tokens"]; ok || !strings.Contains(string(got["tools"]), `"bash_code_execution"`) ||
		!strings.Contains(string(got["system"]), "Be brief.") {
		t.Errorf("upstream body = %s", rec.Body)
	}

	body := []byte(`{"model":"claude-x",  "messages":[{"role":"user","content":"hi"}]}`)
	resp, err := m.ForwardCountTokens(context.Background(), body, http.Header{})
	if err != nil {
		t.Fatal(err)
	}
	data, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	rec = srv.Requests()[1]
	if resp.StatusCode != 200 || !bytes.Equal(rec.Body, body) || rec.Path != "/v1/messages/count_tokens" ||
		string(data) != fmt.Sprintf(`{"input_tokens":%d}`+"\n", len(body)/4+1) {
		t.Errorf("forwarded %d %s; upstream got %s %s", resp.StatusCode, data, rec.Path, rec.Body)
	}
}
