package openai

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/codebox-dev/codebox/errdefs"
	"github.com/codebox-dev/codebox/provider"
)

// TestStreamCompat feeds the driver the stream shapes of less strict servers: tool calls
// sent whole without "index" (older Ollama), a call without an id, leading whitespace-only
// content, and finish_reason "stop" on a turn with tool calls.
func TestStreamCompat(t *testing.T) {
	chunks := []string{
		`{"id":"c1","object":"chat.completion.chunk","created":1,"model":"llama3","choices":[{"index":0,"delta":{"role":"assistant","content":"\n\n"},"finish_reason":null}]}`,
		`{"id":"c1","object":"chat.completion.chunk","created":1,"model":"llama3","choices":[{"index":0,"delta":{"tool_calls":[{"id":"call_1","type":"function","function":{"name":"bash_code_execution","arguments":"{\"command\":\"ls\"}"}}]},"finish_reason":null}]}`,
		`{"id":"c1","object":"chat.completion.chunk","created":1,"model":"llama3","choices":[{"index":0,"delta":{"tool_calls":[{"id":"call_2","type":"function","function":{"name":"bash_code_execution","arguments":"{\"command\":\"pwd\"}"}}]},"finish_reason":null}]}`,
		`{"id":"c1","object":"chat.completion.chunk","created":1,"model":"llama3","choices":[{"index":0,"delta":{"tool_calls":[{"index":5,"type":"function","function":{"name":"code_execution","arguments":"{\"code\": "}}]},"finish_reason":null}]}`,
		`{"id":"c1","object":"chat.completion.chunk","created":1,"model":"llama3","choices":[{"index":0,"delta":{"tool_calls":[{"index":5,"function":{"arguments":"\"print(1)\"}"}}]},"finish_reason":"stop"}]}`,
		`{"id":"c1","object":"chat.completion.chunk","created":1,"model":"llama3","choices":[],"usage":{"prompt_tokens":50,"completion_tokens":7,"total_tokens":57}}`,
	}
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "text/event-stream")
		for _, c := range chunks {
			io.WriteString(w, "data: "+c+"\n\n")
		}
		io.WriteString(w, "data: [DONE]\n\n")
	}))
	defer ts.Close()
	m, err := New(Config{BaseURL: ts.URL + "/v1"})
	if err != nil {
		t.Fatal(err)
	}
	var order []string
	resp, err := m.Turn(context.Background(), &provider.Request{Model: "llama3", MaxTokens: 10,
		Messages: []provider.Message{{Role: "user", Content: []provider.Block{{Type: "text", Text: "hi"}}}}},
		func(e provider.Event) {
			switch e.Type {
			case provider.BlockStart:
				order = append(order, "start:"+e.Block.Type)
			case provider.BlockStop:
				order = append(order, "stop")
			}
		})
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(order, ","); got != "start:tool_use,stop,start:tool_use,stop,start:tool_use,stop" {
		t.Errorf("events = %s", got)
	}
	if len(resp.Content) != 3 || resp.StopReason != "tool_use" || resp.Usage.InputTokens != 50 || resp.Usage.OutputTokens != 7 {
		t.Fatalf("resp = %+v", resp)
	}
	wantIn := []string{`{"command":"ls"}`, `{"command":"pwd"}`, `{"code":"print(1)"}`}
	for i, b := range resp.Content {
		if string(b.Input) != wantIn[i] {
			t.Errorf("block %d input = %s, want %s", i, b.Input, wantIn[i])
		}
	}
	if resp.Content[0].ID != "call_1" || resp.Content[1].ID != "call_2" || !strings.HasPrefix(resp.Content[2].ID, "toolu_") {
		t.Errorf("ids = %s %s %s", resp.Content[0].ID, resp.Content[1].ID, resp.Content[2].ID)
	}
}

func TestNonStreamingCompat(t *testing.T) {
	body := `{"id":"x","object":"chat.completion","created":1,"model":"m","choices":[{"index":0,"finish_reason":"content_filter",
	  "message":{"role":"assistant","content":null,"refusal":"I can't help with that."}}],
	  "usage":{"prompt_tokens":5,"completion_tokens":2,"total_tokens":7}}`
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, body)
	}))
	defer ts.Close()
	m, _ := New(Config{BaseURL: ts.URL + "/v1"})
	resp, err := m.Turn(context.Background(), &provider.Request{Model: "m"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	want := []provider.Block{{Type: "text", Text: "I can't help with that."}}
	if !reflect.DeepEqual(resp.Content, want) || resp.StopReason != "refusal" {
		t.Errorf("resp = %+v", resp)
	}
}

func TestTimeout(t *testing.T) {
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body) // so the server notices the client leaving
		<-r.Context().Done()
	}))
	defer ts.Close()
	m, _ := New(Config{BaseURL: ts.URL + "/v1", Timeout: 50 * time.Millisecond})
	for _, events := range []func(provider.Event){nil, func(provider.Event) {}} {
		if _, err := m.Turn(context.Background(), &provider.Request{Model: "m"}, events); !errors.Is(err, errdefs.ErrTimeout) {
			t.Errorf("err = %v, want ErrTimeout", err)
		}
	}
}

func TestReasoningField(t *testing.T) {
	body := `{"id":"x","object":"chat.completion","created":1,"model":"m","choices":[{"index":0,"finish_reason":"stop",
	  "message":{"role":"assistant","content":"42","reasoning":"6 times 7"}}],
	  "usage":{"prompt_tokens":5,"completion_tokens":2,"total_tokens":7}}`
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, body)
	}))
	defer ts.Close()
	m, _ := New(Config{BaseURL: ts.URL + "/v1"})
	req := &provider.Request{Model: "m", Thinking: []byte(`{"type":"adaptive"}`)}
	resp, err := m.Turn(context.Background(), req, nil)
	if err != nil {
		t.Fatal(err)
	}
	want := []provider.Block{{Type: "thinking", Text: "6 times 7"}, {Type: "text", Text: "42"}}
	if !reflect.DeepEqual(resp.Content, want) || resp.StopReason != "end_turn" {
		t.Errorf("resp = %+v", resp)
	}
	req.Thinking = nil
	resp, _ = m.Turn(context.Background(), req, nil)
	if len(resp.Content) != 1 {
		t.Errorf("without thinking asked: %+v", resp.Content)
	}
}

func TestTruncatedStream(t *testing.T) {
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "text/event-stream")
		io.WriteString(w, `data: {"id":"c1","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,"delta":{"content":"Hel"},"finish_reason":null}]}`+"\n\n")
	}))
	defer ts.Close()
	m, _ := New(Config{BaseURL: ts.URL + "/v1"})
	if _, err := m.Turn(context.Background(), &provider.Request{Model: "m"}, func(provider.Event) {}); !errors.Is(err, errdefs.ErrUpstream) {
		t.Fatalf("err = %v, want ErrUpstream", err)
	}
}
