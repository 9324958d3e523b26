package script

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/codebox-dev/codebox/errdefs"
	"github.com/codebox-dev/codebox/provider"
)

const testScript = `{"turns": [
  {"content": [{"type": "text", "text": "Let me run that."},
               {"type": "tool_use", "name": "bash_code_execution", "input": {"command": "echo héllo"}}]},
  {"content": [{"type": "text", "text": "It printed héllo."}], "usage": {"input_tokens": 7, "output_tokens": 3}}
]}`

func mustParse(t *testing.T, s string) *Script {
	t.Helper()
	sc, err := Parse([]byte(s))
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	return sc
}

func TestParse(t *testing.T) {
	obj := mustParse(t, testScript)
	arr := mustParse(t, `[{"content":[{"type":"text","text":"hi"}]}]`)
	if len(obj.Turns) != 2 || len(arr.Turns) != 1 {
		t.Fatalf("turns = %d, %d, want 2, 1", len(obj.Turns), len(arr.Turns))
	}
	for _, bad := range []string{
		`[]`,
		`[{"content":[{"type":"image"}]}]`,
		`[{"content":[{"type":"tool_use"}]}]`,
		`[{"content":[{"type":"tool_use","name":"x","input":[1]}]}]`,
		`[{"error":{"status":200}}]`,
		`{"turns": 3}`,
	} {
		if _, err := Parse([]byte(bad)); err == nil {
			t.Errorf("Parse(%s) = nil error, want error", bad)
		}
	}
}

func userMsg(text string) provider.Message {
	return provider.Message{Role: "user", Content: []provider.Block{{Type: provider.TypeText, Text: text}}}
}

func TestModelTurnsFollowConversation(t *testing.T) {
	m := NewModel(mustParse(t, testScript))
	ctx := context.Background()
	req := &provider.Request{Model: "demo", Messages: []provider.Message{userMsg("run it")}}
	r1, err := m.Turn(ctx, req, nil)
	if err != nil {
		t.Fatal(err)
	}
	if r1.StopReason != "tool_use" || len(r1.Content) != 2 || r1.Content[1].ID != "toolu_script_0_1" {
		t.Fatalf("turn 0 = %+v", r1)
	}
	if string(r1.Content[1].Input) != `{"command":"echo héllo"}` {
		t.Errorf("input = %s", r1.Content[1].Input)
	}
	// Asking again with the same conversation gives the same turn.
	again, _ := m.Turn(ctx, req, nil)
	if again.Content[1].ID != r1.Content[1].ID {
		t.Errorf("repeat turn id = %s, want %s", again.Content[1].ID, r1.Content[1].ID)
	}
	req.Messages = append(req.Messages,
		provider.Message{Role: "assistant", Content: r1.Content},
		provider.Message{Role: "user", Content: []provider.Block{{Type: provider.TypeToolResult, ToolUseID: r1.Content[1].ID,
			Content: []provider.Block{{Type: provider.TypeText, Text: "héllo"}}}}})
	r2, err := m.Turn(ctx, req, nil)
	if err != nil {
		t.Fatal(err)
	}
	if r2.StopReason != "end_turn" || r2.Content[0].Text != "It printed héllo." || r2.Usage.InputTokens != 7 {
		t.Fatalf("turn 1 = %+v", r2)
	}
	// Past the end, a final text turn repeats.
	req.Messages = append(req.Messages, provider.Message{Role: "assistant", Content: r2.Content}, userMsg("more"))
	if _, err := m.Turn(ctx, req, nil); err != nil {
		t.Errorf("past the end after end_turn: %v", err)
	}
	if m.Calls() != 4 {
		t.Errorf("Calls = %d, want 4", m.Calls())
	}
}

func TestModelExhaustedToolScriptFails(t *testing.T) {
	m := NewModel(mustParse(t, `[{"content":[{"type":"tool_use","name":"x"}]}]`))
	req := &provider.Request{Messages: []provider.Message{userMsg("a"), {Role: "assistant"}, userMsg("b")}}
	_, err := m.Turn(context.Background(), req, nil)
	if !errors.Is(err, errdefs.ErrUpstream) {
		t.Fatalf("err = %v, want ErrUpstream", err)
	}
}

func TestModelStreamingEvents(t *testing.T) {
	m := NewModel(mustParse(t, testScript))
	var got []provider.Event
	resp, err := m.Turn(context.Background(), &provider.Request{Messages: []provider.Message{userMsg("x")}},
		func(e provider.Event) { got = append(got, e) })
	if err != nil {
		t.Fatal(err)
	}
	texts := map[int]string{}
	var order []string
	for _, e := range got {
		switch e.Type {
		case provider.BlockStart:
			order = append(order, "start")
		case provider.BlockDelta:
			texts[e.Index] += e.Delta
		case provider.BlockStop:
			order = append(order, "stop")
			if e.Block.Type != resp.Content[e.Index].Type {
				t.Errorf("stop block %d type %s", e.Index, e.Block.Type)
			}
		}
	}
	if strings.Join(order, ",") != "start,stop,start,stop" {
		t.Errorf("order = %v", order)
	}
	if texts[0] != resp.Content[0].Text || texts[1] != string(resp.Content[1].Input) {
		t.Errorf("deltas = %v, want %q and %s", texts, resp.Content[0].Text, resp.Content[1].Input)
	}
}

func TestModelScriptedError(t *testing.T) {
	m := NewModel(mustParse(t, `[{"error":{"status":529,"type":"overloaded_error","message":"Overloaded"}}]`))
	_, err := m.Turn(context.Background(), &provider.Request{}, nil)
	var pub *errdefs.Public
	if !errors.As(err, &pub) || !errors.Is(err, errdefs.ErrUnavailable) || pub.Message != "Overloaded" || pub.Status != 529 {
		t.Fatalf("err = %#v", err)
	}
}

func TestAnthropicServerStreamFrames(t *testing.T) {
	srv := NewAnthropicServer(mustParse(t, testScript))
	ts := httptest.NewServer(srv)
	defer ts.Close()
	resp, err := http.Post(ts.URL+"/v1/messages?beta=true", "application/json",
		strings.NewReader(`{"model":"m","stream":true,"messages":[{"role":"user","content":"hi"}]}`))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	var events []string
	var lastEvent string
	for sc.Scan() {
		line := sc.Text()
		switch {
		case strings.HasPrefix(line, "event: "):
			lastEvent = strings.TrimPrefix(line, "event: ")
			events = append(events, lastEvent)
		case strings.HasPrefix(line, "data: "):
			var v struct{ Type string }
			if err := json.Unmarshal([]byte(strings.TrimPrefix(line, "data: ")), &v); err != nil || v.Type != lastEvent {
				t.Errorf("data type %q after event %q (%v)", v.Type, lastEvent, err)
			}
			lastEvent = ""
		}
	}
	want := "message_start,ping,content_block_start,content_block_delta,content_block_delta,content_block_delta," +
		"content_block_stop,content_block_start,content_block_delta,content_block_delta,content_block_stop," +
		"message_delta,message_stop"
	if got := strings.Join(events, ","); got != want {
		t.Errorf("events = %s\nwant %s", got, want)
	}
	if len(srv.Requests()) != 1 {
		t.Errorf("recorded %d requests", len(srv.Requests()))
	}
}

func TestOpenAIServerError(t *testing.T) {
	srv := NewOpenAIServer(mustParse(t, `[{"error":{"status":429,"type":"rate_limit_error","message":"slow"}}]`))
	ts := httptest.NewServer(srv)
	defer ts.Close()
	resp, err := http.Post(ts.URL+"/v1/chat/completions", "application/json", strings.NewReader(`{"messages":[]}`))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body struct {
		Error struct{ Message, Type string }
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != 429 || body.Error.Message != "slow" {
		t.Errorf("status %d body %+v", resp.StatusCode, body)
	}
}

func TestLoadDir(t *testing.T) {
	all, err := LoadDir("testdata")
	if err != nil {
		t.Fatal(err)
	}
	s, ok := all["sales"]
	if !ok || s.Name != "sales" || len(s.Turns) != 3 {
		t.Fatalf("LoadDir = %v", all)
	}
}

func TestModelMidStreamError(t *testing.T) {
	m := NewModel(mustParse(t, `[{"content":[{"type":"text","text":"partial"}],"error":{"status":500,"type":"api_error","message":"boom","mid_stream":true}}]`))
	var n int
	_, err := m.Turn(context.Background(), &provider.Request{}, func(provider.Event) { n++ })
	if !errors.Is(err, errdefs.ErrUpstream) || n != 5 {
		t.Errorf("err = %v after %d events, want ErrUpstream after 5", err, n)
	}
	if _, err := m.Turn(context.Background(), &provider.Request{}, nil); !errors.Is(err, errdefs.ErrUpstream) {
		t.Errorf("not streamed: err = %v", err)
	}
}
