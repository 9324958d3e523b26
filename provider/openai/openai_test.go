package openai

import (
	"context"
	"encoding/json"
	"errors"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"

	"github.com/codebox-dev/codebox/errdefs"
	"github.com/codebox-dev/codebox/provider"
	"github.com/codebox-dev/codebox/provider/script"
)

const turns = `[
  {"content": [{"type": "thinking", "thinking": "I should list files."},
               {"type": "text", "text": "Let me look at the files."},
               {"type": "tool_use", "id": "call_A", "name": "bash_code_execution", "input": {"command": "ls -la /workspace"}},
               {"type": "tool_use", "id": "call_B", "name": "text_editor_code_execution", "input": {"command": "view", "path": "/workspace/a.txt"}}],
   "usage": {"input_tokens": 100, "output_tokens": 40, "cache_read_input_tokens": 20}},
  {"content": [{"type": "text", "text": "There is one file, sales.csv — ünïcode ok."}], "usage": {"input_tokens": 200, "output_tokens": 9}}
]`

func setup(t *testing.T, turns string, cfg Config) (*Model, *script.Server) {
	t.Helper()
	return setupFlavor(t, turns, cfg, script.Flavor{})
}

// setupFlavor serves turns as a fake behaving as f and returns a driver for it.
func setupFlavor(t *testing.T, turns string, cfg Config, f script.Flavor) (*Model, *script.Server) {
	t.Helper()
	sc, err := script.Parse([]byte(turns))
	if err != nil {
		t.Fatal(err)
	}
	srv := script.NewOpenAIServerFlavor(sc, f)
	ts := httptest.NewServer(srv)
	t.Cleanup(ts.Close)
	cfg.BaseURL = ts.URL + "/v1"
	m, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return m, srv
}

func user(text string) provider.Message {
	return provider.Message{Role: "user", Content: []provider.Block{{Type: provider.TypeText, Text: text}}}
}

func baseRequest() *provider.Request {
	return &provider.Request{Model: "qwen3-coder", MaxTokens: 1024,
		System:   []provider.Block{{Type: provider.TypeText, Text: "You are in a container."}},
		Messages: []provider.Message{user("list the files")}}
}

func asJSON(t *testing.T, raw []byte) map[string]any {
	t.Helper()
	var v map[string]any
	if err := json.Unmarshal(raw, &v); err != nil {
		t.Fatalf("bad JSON %s: %v", raw, err)
	}
	return v
}

func TestToolCallTurn(t *testing.T) {
	m, srv := setup(t, turns, Config{APIKey: "sk-o"})
	resp, err := m.Turn(context.Background(), baseRequest(), nil)
	if err != nil {
		t.Fatal(err)
	}
	want := []provider.Block{
		{Type: "text", Text: "Let me look at the files."},
		{Type: "tool_use", ID: "call_A", Name: "bash_code_execution", Input: json.RawMessage(`{"command":"ls -la /workspace"}`)},
		{Type: "tool_use", ID: "call_B", Name: "text_editor_code_execution", Input: json.RawMessage(`{"command":"view","path":"/workspace/a.txt"}`)},
	}
	if !reflect.DeepEqual(resp.Content, want) {
		t.Errorf("Content = %+v\nwant %+v", resp.Content, want)
	}
	wantUsage := provider.Usage{InputTokens: 100, OutputTokens: 40, CacheReadInputTokens: 20}
	if resp.StopReason != "tool_use" || resp.Usage != wantUsage || resp.Model != "qwen3-coder" {
		t.Errorf("resp = %+v", resp)
	}
	rec := srv.Requests()[0]
	if rec.Header.Get("Authorization") != "Bearer sk-o" {
		t.Errorf("Authorization = %q", rec.Header.Get("Authorization"))
	}
	body := asJSON(t, rec.Body)
	if body["model"] != "qwen3-coder" || body["max_tokens"] != 1024.0 || body["max_completion_tokens"] != nil {
		t.Errorf("body = %v", body)
	}
	if _, ok := body["stream"]; ok {
		t.Errorf("non-streaming request has stream")
	}
	sys := body["messages"].([]any)[0].(map[string]any)
	if sys["role"] != "system" || sys["content"] != "You are in a container." {
		t.Errorf("system message = %v", sys)
	}
}

func TestThinkingWhenAsked(t *testing.T) {
	m, _ := setup(t, turns, Config{})
	req := baseRequest()
	req.Thinking = json.RawMessage(`{"type":"enabled","budget_tokens":1024}`)
	for _, stream := range []bool{false, true} {
		var events func(provider.Event)
		if stream {
			events = func(provider.Event) {}
		}
		resp, err := m.Turn(context.Background(), req, events)
		if err != nil {
			t.Fatal(err)
		}
		if resp.Content[0].Type != "thinking" || resp.Content[0].Text != "I should list files." || len(resp.Content) != 4 {
			t.Errorf("stream=%t content = %+v", stream, resp.Content)
		}
	}
}

func TestMultiTurnTranslation(t *testing.T) {
	m, srv := setup(t, turns, Config{MaxTokensField: MaxCompletionTokens})
	temp, topP := 0.2, 0.9
	pngRaw := json.RawMessage(`{"type":"image","source":{"type":"base64","media_type":"image/png","data":"iVBORw0KGgo="}}`)
	urlRaw := json.RawMessage(`{"type":"image","source":{"type":"url","url":"https://example.com/a.jpg"}}`)
	docRaw := json.RawMessage(`{"type":"document","title":"notes","source":{"type":"text","media_type":"text/plain","data":"alpha beta"}}`)
	pdfRaw := json.RawMessage(`{"type":"document","title":"report","source":{"type":"base64","media_type":"application/pdf","data":"JVBERi0="}}`)
	req := &provider.Request{
		Model: "gpt-4.1", MaxTokens: 300,
		System: []provider.Block{{Type: "text", Text: "sys one"}, {Type: "text", Text: "container addendum"}},
		Messages: []provider.Message{
			{Role: "user", Content: []provider.Block{
				{Type: "container_upload", Raw: json.RawMessage(`{"type":"container_upload","file_id":"file_1"}`)},
				{Type: "text", Text: "what are these?"},
				{Type: "image", Raw: pngRaw}, {Type: "image", Raw: urlRaw},
				{Type: "document", Raw: docRaw}, {Type: "document", Raw: pdfRaw},
			}},
			{Role: "assistant", Content: []provider.Block{
				{Type: "thinking", Text: "hmm", Signature: "sig"},
				{Type: "text", Text: "Checking."},
				{Type: "tool_use", ID: "toolu_1", Name: "bash_code_execution", Input: json.RawMessage(`{"command":"file a.png"}`)},
				{Type: "tool_use", ID: "toolu_2", Name: "get_weather", Input: json.RawMessage(`{"city":"Paris"}`)},
			}},
			{Role: "user", Content: []provider.Block{
				{Type: "tool_result", ToolUseID: "toolu_1", Content: []provider.Block{
					{Type: "text", Text: "a.png: PNG image"}, {Type: "image", Raw: pngRaw}}},
				{Type: "tool_result", ToolUseID: "toolu_2", IsError: true, Content: []provider.Block{{Type: "text", Text: "no network"}}},
				{Type: "text", Text: "and now?"},
			}},
		},
		Tools: []provider.Tool{
			{Name: "get_weather", Raw: json.RawMessage(`{"name":"get_weather","description":"Weather","input_schema":{"type":"object","properties":{"city":{"type":"string"}}},"cache_control":{"type":"ephemeral"}}`)},
			{Name: "web_search", Raw: json.RawMessage(`{"type":"web_search_20250305","name":"web_search"}`)},
			{Name: "bash_code_execution", Description: "Run bash", InputSchema: json.RawMessage(`{"type":"object","properties":{"command":{"type":"string"}},"required":["command"]}`)},
		},
		ToolChoice:    &provider.ToolChoice{Type: "any", DisableParallelToolUse: true},
		StopSequences: []string{"STOP"},
		Temperature:   &temp,
		TopP:          &topP,
	}
	resp, err := m.Turn(context.Background(), req, nil)
	if err != nil {
		t.Fatal(err)
	}
	if resp.Content[0].Text != "There is one file, sales.csv — ünïcode ok." || resp.StopReason != "end_turn" {
		t.Errorf("turn 1 served %+v", resp)
	}
	got := asJSON(t, srv.Last())
	want := asJSON(t, []byte(`{
	  "model": "gpt-4.1", "max_completion_tokens": 300,
	  "messages": [
	    {"role":"system","content":"sys one\n\ncontainer addendum"},
	    {"role":"user","content":[
	      {"type":"text","text":"what are these?"},
	      {"type":"image_url","image_url":{"url":"data:image/png;base64,iVBORw0KGgo="}},
	      {"type":"image_url","image_url":{"url":"https://example.com/a.jpg"}},
	      {"type":"text","text":"notes:\nalpha beta"},
	      {"type":"text","text":"[document \"report\" (application/pdf) omitted: this model cannot read it]"}]},
	    {"role":"assistant","content":"Checking.","tool_calls":[
	      {"id":"toolu_1","type":"function","function":{"name":"bash_code_execution","arguments":"{\"command\":\"file a.png\"}"}},
	      {"id":"toolu_2","type":"function","function":{"name":"get_weather","arguments":"{\"city\":\"Paris\"}"}}]},
	    {"role":"tool","tool_call_id":"toolu_1","content":"a.png: PNG image\n(1 image(s) from this result follow in the next user message)"},
	    {"role":"tool","tool_call_id":"toolu_2","content":"Error: no network"},
	    {"role":"user","content":[
	      {"type":"text","text":"Images returned by tool call toolu_1:"},
	      {"type":"image_url","image_url":{"url":"data:image/png;base64,iVBORw0KGgo="}},
	      {"type":"text","text":"and now?"}]}
	  ],
	  "tools": [
	    {"type":"function","function":{"name":"get_weather","description":"Weather","parameters":{"type":"object","properties":{"city":{"type":"string"}}}}},
	    {"type":"function","function":{"name":"bash_code_execution","description":"Run bash","parameters":{"type":"object","properties":{"command":{"type":"string"}},"required":["command"]}}}],
	  "tool_choice": "required", "parallel_tool_calls": false,
	  "stop": ["STOP"], "temperature": 0.2, "top_p": 0.9
	}`))
	if !reflect.DeepEqual(got, want) {
		gb, _ := json.MarshalIndent(got, "", " ")
		wb, _ := json.MarshalIndent(want, "", " ")
		t.Errorf("upstream request:\n%s\nwant:\n%s", gb, wb)
	}
}

func TestToolChoiceNamed(t *testing.T) {
	m, srv := setup(t, turns, Config{})
	req := baseRequest()
	req.Tools = []provider.Tool{{Name: "f", InputSchema: json.RawMessage(`{"type":"object"}`)}}
	req.ToolChoice = &provider.ToolChoice{Type: "tool", Name: "f"}
	if _, err := m.Turn(context.Background(), req, nil); err != nil {
		t.Fatal(err)
	}
	tc, _ := json.Marshal(asJSON(t, srv.Last())["tool_choice"])
	if string(tc) != `{"function":{"name":"f"},"type":"function"}` {
		t.Errorf("tool_choice = %s", tc)
	}
}

func TestStreamingMatchesNonStreaming(t *testing.T) {
	m, srv := setup(t, turns, Config{})
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
	if !reflect.DeepEqual(streamed.Content, plain.Content) || streamed.StopReason != plain.StopReason || streamed.Usage != plain.Usage {
		t.Errorf("streamed = %+v\nplain = %+v", streamed, plain)
	}
	body := asJSON(t, srv.Last())
	if body["stream"] != true || !reflect.DeepEqual(body["stream_options"], map[string]any{"include_usage": true}) {
		t.Errorf("stream request = %v", body)
	}
	var order []string
	rebuilt := map[int]string{}
	for _, e := range evs {
		switch e.Type {
		case provider.BlockStart:
			order = append(order, "start:"+e.Block.Type)
			if e.Index != len(order)/2 && e.Index != (len(order)-1)/2 {
				t.Errorf("start index %d after %v", e.Index, order)
			}
		case provider.BlockDelta:
			rebuilt[e.Index] += e.Delta
		case provider.BlockStop:
			order = append(order, "stop")
			if !reflect.DeepEqual(*e.Block, plain.Content[e.Index]) {
				t.Errorf("stop %d = %+v, want %+v", e.Index, e.Block, plain.Content[e.Index])
			}
		}
	}
	if got := strings.Join(order, ","); got != "start:text,stop,start:tool_use,stop,start:tool_use,stop" {
		t.Errorf("event order = %s", got)
	}
	if rebuilt[0] != plain.Content[0].Text || rebuilt[1] != string(plain.Content[1].Input) || rebuilt[2] != string(plain.Content[2].Input) {
		t.Errorf("deltas = %v", rebuilt)
	}
}

func TestErrorMapping(t *testing.T) {
	for _, tc := range []struct {
		status int
		kind   error
	}{
		{429, errdefs.ErrRateLimited}, {500, errdefs.ErrUpstream}, {529, errdefs.ErrUnavailable},
		{503, errdefs.ErrUnavailable}, {400, errdefs.ErrInvalid}, {401, errdefs.ErrUnauthenticated},
		{404, errdefs.ErrNotFound},
	} {
		for _, stream := range []bool{false, true} {
			b, _ := json.Marshal(tc.status)
			m, _ := setup(t, `[{"error":{"status":`+string(b)+`,"type":"some_error","message":"upstream says no"}}]`, Config{})
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
	m, err := New(Config{BaseURL: "http://127.0.0.1:1/v1"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := m.Turn(context.Background(), baseRequest(), nil); !errors.Is(err, errdefs.ErrUpstream) {
		t.Errorf("unreachable: err = %v", err)
	}
}

func TestToolInput(t *testing.T) {
	for _, tc := range []struct{ args, want string }{
		{``, `{}`},
		{` {"command": "ls"} `, `{"command":"ls"}`},
		{`"{\"command\": \"ls\"}"`, `{"command":"ls"}`},
		{`{"command": "ls"`, `{"_raw_arguments":"{\"command\": \"ls\""}`},
		{`[1,2]`, `{"_raw_arguments":"[1,2]"}`},
		{`null`, `{"_raw_arguments":"null"}`},
	} {
		if got := string(toolInput(tc.args)); got != tc.want {
			t.Errorf("toolInput(%q) = %s, want %s", tc.args, got, tc.want)
		}
	}
}

func TestNewConfig(t *testing.T) {
	for _, tc := range []struct {
		cfg   Config
		field string
	}{
		{Config{}, MaxCompletionTokens},
		{Config{BaseURL: "http://localhost:11434/v1"}, MaxTokens},
		{Config{BaseURL: "http://localhost:8000/v1", MaxTokensField: MaxCompletionTokens}, MaxCompletionTokens},
	} {
		m, err := New(tc.cfg)
		if err != nil {
			t.Fatal(err)
		}
		if m.cfg.MaxTokensField != tc.field {
			t.Errorf("New(%+v) field = %s, want %s", tc.cfg, m.cfg.MaxTokensField, tc.field)
		}
	}
	for _, bad := range []Config{{BaseURL: "localhost:8000"}, {MaxTokensField: "n_predict"}} {
		if _, err := New(bad); err == nil {
			t.Errorf("New(%+v) = nil error", bad)
		}
	}
}

func TestScriptedMidStreamError(t *testing.T) {
	m, _ := setup(t, `[{"content":[{"type":"text","text":"Half an answer"}],
		"error":{"status":429,"type":"rate_limit_error","message":"slow down","mid_stream":true}}]`, Config{})
	var starts int
	_, err := m.Turn(context.Background(), baseRequest(), func(e provider.Event) {
		if e.Type == provider.BlockStart {
			starts++
		}
	})
	var pub *errdefs.Public
	if !errors.Is(err, errdefs.ErrRateLimited) || !errors.As(err, &pub) || pub.Message != "slow down" || starts != 1 {
		t.Errorf("streamed: err = %#v after %d blocks", err, starts)
	}
	if _, err := m.Turn(context.Background(), baseRequest(), nil); !errors.Is(err, errdefs.ErrRateLimited) {
		t.Errorf("not streamed: err = %v", err)
	}
}
