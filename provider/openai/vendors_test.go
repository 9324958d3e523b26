package openai

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/codebox-dev/codebox/errdefs"
	"github.com/codebox-dev/codebox/provider"
	"github.com/codebox-dev/codebox/provider/script"
)

// vendorTurns: a first turn that thinks, talks and calls two tools, then an answer.
const vendorTurns = `[
  {"content": [{"type": "thinking", "thinking": "Two commands will do."},
               {"type": "text", "text": "Looking."},
               {"type": "tool_use", "name": "bash_code_execution", "input": {"command": "ls"}},
               {"type": "tool_use", "name": "get_weather", "input": {"city": "Paris"}}],
   "usage": {"input_tokens": 100, "output_tokens": 40}},
  {"content": [{"type": "text", "text": "Done."}], "usage": {"input_tokens": 200, "output_tokens": 9}}
]`

// vendorSetup serves turns as the fake of vendor v (script.Flavors, each citing the
// vendor's documentation) and returns the driver configured as codebox configures v.
func vendorSetup(t *testing.T, v Vendor, turns string) (*Model, *script.Server) {
	t.Helper()
	f, ok := script.Flavors[v.Name]
	if !ok {
		t.Fatalf("no fake for %s", v.Name)
	}
	cfg := Config{Name: v.Name, APIKey: "k", MaxTokensField: v.MaxTokensField, Quirks: v.Quirks}
	if v.Name == "openai" {
		cfg.MaxTokensField = MaxCompletionTokens // what the host api.openai.com picks; the fake listens elsewhere
	}
	return setupFlavor(t, turns, cfg, f)
}

// vendorRequest is a request with everything the quirks touch: a client tool with
// strict and schema keywords outside Gemini's subset, whitespace-only text, thinking
// asked for.
func vendorRequest() *provider.Request {
	return &provider.Request{Model: "m", MaxTokens: 512,
		System:   []provider.Block{{Type: provider.TypeText, Text: "sys"}},
		Thinking: json.RawMessage(`{"type":"enabled","budget_tokens":1024}`),
		Messages: []provider.Message{{Role: "user", Content: []provider.Block{
			{Type: provider.TypeText, Text: "weather and files?"}, {Type: provider.TypeText, Text: "  \n"}}}},
		Tools: []provider.Tool{
			{Name: "bash_code_execution", Description: "Run bash", InputSchema: json.RawMessage(`{"type":"object","properties":{"command":{"type":"string"}},"required":["command"]}`)},
			{Name: "get_weather", Raw: json.RawMessage(`{"name":"get_weather","description":"Weather","strict":true,
			  "input_schema":{"$schema":"http://json-schema.org/draft-07/schema#","type":"object","additionalProperties":false,
			  "properties":{"city":{"type":"string"},"strict":{"type":"boolean"}},"required":["city"]}}`)},
		},
	}
}

// continueWith appends resp as the assistant turn and one result per tool call, with
// server-style ids in place of the model's, as the loop sends them back.
func continueWith(req *provider.Request, resp *provider.Response) {
	var asst, results []provider.Block
	for i, b := range resp.Content {
		if b.Type == provider.TypeToolUse && b.Name == "bash_code_execution" {
			b.ID = "srvtoolu_01ABCdef" + string(rune('0'+i))
		}
		asst = append(asst, b)
		if b.Type == provider.TypeToolUse {
			results = append(results, provider.Block{Type: provider.TypeToolResult, ToolUseID: b.ID,
				Content: []provider.Block{{Type: provider.TypeText, Text: "ok"}}})
		}
	}
	req.Messages = append(req.Messages, provider.Message{Role: "assistant", Content: asst},
		provider.Message{Role: "user", Content: results})
}

// TestVendorConversations runs a two-turn tool conversation, plain and streamed,
// against each provider's fake: every documented rejection the fake reproduces (ids,
// fields, schema keywords, empty content, tool_choice and parallel_tool_calls shapes,
// reasoning sent back) would fail it, and every stream shape it sends (usage late or
// absent, tool calls whole or without index, comment lines, content chunks) must
// assemble into the same turn.
func TestVendorConversations(t *testing.T) {
	for _, v := range Vendors {
		t.Run(v.Name, func(t *testing.T) {
			m, srv := vendorSetup(t, v, vendorTurns)
			for _, stream := range []bool{false, true} {
				var events func(provider.Event)
				if stream {
					events = func(provider.Event) {}
				}
				req := vendorRequest()
				resp, err := m.Turn(context.Background(), req, events)
				if err != nil {
					t.Fatalf("stream=%t turn 1: %v", stream, err)
				}
				var types []string
				for _, b := range resp.Content {
					types = append(types, b.Type)
				}
				if got := strings.Join(types, ","); got != "thinking,text,tool_use,tool_use" || resp.StopReason != "tool_use" {
					t.Fatalf("stream=%t turn 1 = %s %s: %+v", stream, got, resp.StopReason, resp.Content)
				}
				if resp.Content[0].Text != "Two commands will do." || string(resp.Content[3].Input) != `{"city":"Paris"}` {
					t.Errorf("stream=%t turn 1 = %+v", stream, resp.Content)
				}
				if v.Quirks.ShortToolIDs && !strings.HasPrefix(resp.Content[2].ID, "toolu_") {
					t.Errorf("id %q lacks the toolu_ prefix", resp.Content[2].ID)
				}
				if f := script.Flavors[v.Name]; f.StreamUsage != "none" && resp.Usage.OutputTokens != 40 {
					t.Errorf("stream=%t usage = %+v", stream, resp.Usage)
				}
				continueWith(req, resp)
				resp, err = m.Turn(context.Background(), req, events)
				if err != nil {
					t.Fatalf("stream=%t turn 2: %v\nrequest: %s", stream, err, srv.Last())
				}
				if len(resp.Content) != 1 || resp.Content[0].Text != "Done." {
					t.Errorf("stream=%t turn 2 = %+v", stream, resp.Content)
				}
			}
		})
	}
}

func lastRequest(t *testing.T, srv *script.Server) map[string]any {
	t.Helper()
	return asJSON(t, srv.Last())
}

// TestMistralToolIDs: Mistral accepts only ids of nine letters and digits
// (https://docs.mistral.ai/capabilities/function_calling/; its API answers "Tool call
// id was … but must be a-z, A-Z, 0-9, with a length of 9"). Its own ids come back to
// the client as toolu_<id> and go upstream as they were; any other id maps to the same
// nine characters in the call and in its result.
func TestMistralToolIDs(t *testing.T) {
	v, _ := LookupVendor("mistral")
	m, srv := vendorSetup(t, v, vendorTurns)
	req := vendorRequest()
	resp, err := m.Turn(context.Background(), req, nil)
	if err != nil {
		t.Fatal(err)
	}
	weather := resp.Content[3].ID
	continueWith(req, resp)
	if _, err := m.Turn(context.Background(), req, nil); err != nil {
		t.Fatal(err)
	}
	msgs := lastRequest(t, srv)["messages"].([]any)
	asst := msgs[2].(map[string]any)
	calls := asst["tool_calls"].([]any)
	bashID := calls[0].(map[string]any)["id"].(string)
	weatherID := calls[1].(map[string]any)["id"].(string)
	if weatherID != strings.TrimPrefix(weather, "toolu_") {
		t.Errorf("Mistral's own id %q went back as %q", weather, weatherID)
	}
	if len(bashID) != 9 || bashID != shortID("srvtoolu_01ABCdef2") {
		t.Errorf("server id went upstream as %q", bashID)
	}
	if msgs[3].(map[string]any)["tool_call_id"] != bashID || msgs[4].(map[string]any)["tool_call_id"] != weatherID {
		t.Errorf("tool messages = %v %v", msgs[3], msgs[4])
	}
	if _, ok := lastRequest(t, srv)["stream_options"]; ok {
		t.Error("stream_options sent to Mistral")
	}
	// The hash spreads ids sharing a prefix.
	seen := map[string]bool{}
	for i := range 1000 {
		id := shortID("srvtoolu_01" + strings.Repeat("a", i%7) + string(rune('A'+i%26)) + string(rune('0'+i%10)) + strings.Repeat("z", i/260))
		seen[id] = true
		if !isShortID(id) {
			t.Fatalf("shortID = %q", id)
		}
	}
	if len(seen) < 900 {
		t.Errorf("%d distinct ids of 1000", len(seen))
	}
}

// TestDeepSeekReasoningBack: DeepSeek's thinking mode needs each tool-call turn's
// reasoning_content back within the tool-call chain, answering 400 otherwise, and
// ignores it after a new user message
// (https://api-docs.deepseek.com/guides/thinking_mode): codebox sends it only on the
// chain's tool-call turns, from the thinking blocks the client kept or, when it did not
// ask to see them, from what the driver remembers of the turn.
func TestDeepSeekReasoningBack(t *testing.T) {
	v, _ := LookupVendor("deepseek")
	m, srv := vendorSetup(t, v, vendorTurns)
	for _, stream := range []bool{false, true} {
		var events func(provider.Event)
		if stream {
			events = func(provider.Event) {}
		}
		req := vendorRequest()
		req.Thinking = nil // the client does not ask to see it
		resp, err := m.Turn(context.Background(), req, events)
		if err != nil {
			t.Fatal(err)
		}
		if resp.Content[0].Type == provider.TypeThinking {
			t.Errorf("stream=%t: thinking shown though not asked: %+v", stream, resp.Content[0])
		}
		continueWith(req, resp)
		if _, err := m.Turn(context.Background(), req, events); err != nil {
			t.Fatal(err)
		}
		if rc := lastRequest(t, srv)["messages"].([]any)[2].(map[string]any)["reasoning_content"]; rc != "Two commands will do." {
			t.Errorf("stream=%t: chain turn reasoning_content = %v", stream, rc)
		}
	}

	// A turn the driver does not remember (another server made it) still gets the field.
	other, srv2 := vendorSetup(t, v, vendorTurns)
	req := vendorRequest()
	req.Thinking = nil
	resp, _ := m.Turn(context.Background(), req, nil)
	continueWith(req, resp)
	if _, err := other.Turn(context.Background(), req, nil); err != nil {
		t.Fatal(err)
	}
	if rc, ok := lastRequest(t, srv2)["messages"].([]any)[2].(map[string]any)["reasoning_content"]; !ok || rc != "" {
		t.Errorf("unremembered turn: reasoning_content = %v, %t", rc, ok)
	}

	// With thinking shown, the client's text goes back; after a new user message, nothing.
	req = vendorRequest()
	resp, _ = m.Turn(context.Background(), req, nil)
	resp.Content[0].Text = "As the client kept it."
	continueWith(req, resp)
	if _, err := m.Turn(context.Background(), req, nil); err != nil {
		t.Fatal(err)
	}
	if rc := lastRequest(t, srv)["messages"].([]any)[2].(map[string]any)["reasoning_content"]; rc != "As the client kept it." {
		t.Errorf("reasoning_content = %v", rc)
	}
	req.Messages = append(req.Messages, provider.Message{Role: "assistant", Content: []provider.Block{{Type: provider.TypeText, Text: "Done."}}},
		user("and again?"))
	if _, err := m.Turn(context.Background(), req, nil); err != nil {
		t.Fatal(err)
	}
	for i, msg := range lastRequest(t, srv)["messages"].([]any) {
		if _, ok := msg.(map[string]any)["reasoning_content"]; ok {
			t.Errorf("message %d before the last user message carries reasoning_content", i)
		}
	}
}

// TestGeminiRequestShape: Gemini's OpenAI-compatible endpoint takes function
// parameters in an OpenAPI schema subset and refuses "strict", "$schema" and
// "additionalProperties" ("Invalid JSON payload received. Unknown name …"), and empty
// text (https://ai.google.dev/gemini-api/docs/openai,
// https://ai.google.dev/api/caching#Schema). A property named "strict" stays.
func TestGeminiRequestShape(t *testing.T) {
	v, _ := LookupVendor("gemini")
	m, srv := vendorSetup(t, v, vendorTurns)
	req := vendorRequest()
	req.ToolChoice = &provider.ToolChoice{Type: "auto", DisableParallelToolUse: true}
	if _, err := m.Turn(context.Background(), req, nil); err != nil {
		t.Fatal(err)
	}
	body := lastRequest(t, srv)
	fn := body["tools"].([]any)[1].(map[string]any)["function"].(map[string]any)
	props := fn["parameters"].(map[string]any)["properties"].(map[string]any)
	if _, ok := props["strict"]; !ok {
		t.Errorf("the property named strict was removed: %v", fn)
	}
	if _, ok := body["parallel_tool_calls"]; ok {
		t.Error("parallel_tool_calls sent to Gemini")
	}
}

// TestParallelAndToolChoice: llama.cpp's server calls one tool per turn unless
// parallel_tool_calls is true, and takes tool_choice only as "auto", "none" or
// "required"
// (https://github.com/ggml-org/llama.cpp/blob/master/tools/server/README.md); OpenAI
// takes parallel_tool_calls false only when asked, and a named tool_choice object.
func TestParallelAndToolChoice(t *testing.T) {
	for _, tc := range []struct {
		vendor   string
		choice   *provider.ToolChoice
		parallel any // nil: not sent
		choiceJS string
		tools    int
	}{
		{"llamacpp", nil, true, "null", 2},
		{"llamacpp", &provider.ToolChoice{Type: "auto", DisableParallelToolUse: true}, false, `"auto"`, 2},
		{"llamacpp", &provider.ToolChoice{Type: "tool", Name: "get_weather"}, true, `"required"`, 1},
		{"openai", nil, nil, "null", 2},
		{"openai", &provider.ToolChoice{Type: "tool", Name: "get_weather", DisableParallelToolUse: true}, false, `{"function":{"name":"get_weather"},"type":"function"}`, 2},
		{"gemini", &provider.ToolChoice{Type: "any", DisableParallelToolUse: true}, nil, `"required"`, 2},
	} {
		v, _ := LookupVendor(tc.vendor)
		m, srv := vendorSetup(t, v, vendorTurns)
		req := vendorRequest()
		req.ToolChoice = tc.choice
		if _, err := m.Turn(context.Background(), req, nil); err != nil {
			t.Fatalf("%s %+v: %v", tc.vendor, tc.choice, err)
		}
		body := lastRequest(t, srv)
		choice, _ := json.Marshal(body["tool_choice"])
		if body["parallel_tool_calls"] != tc.parallel || string(choice) != tc.choiceJS || len(body["tools"].([]any)) != tc.tools {
			t.Errorf("%s %+v: parallel_tool_calls %v tool_choice %s tools %d", tc.vendor, tc.choice, body["parallel_tool_calls"], choice, len(body["tools"].([]any)))
		}
	}
}

// TestMaxTokensAndStrict: OpenAI's reasoning models refuse max_tokens and want
// max_completion_tokens (https://platform.openai.com/docs/api-reference/chat/create),
// and OpenAI takes a function's strict flag; the others get max_tokens.
func TestMaxTokensAndStrict(t *testing.T) {
	for _, name := range []string{"openai", "mistral", "deepseek", "vllm"} {
		v, _ := LookupVendor(name)
		m, srv := vendorSetup(t, v, vendorTurns)
		if _, err := m.Turn(context.Background(), vendorRequest(), nil); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		body := lastRequest(t, srv)
		field := "max_tokens"
		if name == "openai" {
			field = "max_completion_tokens"
		}
		if body[field] != 512.0 {
			t.Errorf("%s: %s = %v in %v", name, field, body[field], body)
		}
		strict := body["tools"].([]any)[1].(map[string]any)["function"].(map[string]any)["strict"]
		if (strict == true) != v.Quirks.Strict {
			t.Errorf("%s: strict = %v", name, strict)
		}
	}
}

// TestVendorErrors maps each vendor's error bodies (the shapes of the pages cited on
// script.Flavors) to the Anthropic error kinds.
func TestVendorErrors(t *testing.T) {
	for _, v := range Vendors {
		for _, tc := range []struct {
			status int
			kind   error
		}{
			{429, errdefs.ErrRateLimited}, {503, errdefs.ErrUnavailable}, {400, errdefs.ErrInvalid},
			{401, errdefs.ErrUnauthenticated}, {500, errdefs.ErrUpstream},
		} {
			turns := `[{"error": {"status": ` + itoa(tc.status) + `, "type": "some_error", "message": "vendor says no"}}]`
			m, _ := vendorSetup(t, v, turns)
			_, err := m.Turn(context.Background(), vendorRequest(), nil)
			var pub *errdefs.Public
			if !errors.Is(err, tc.kind) || !errors.As(err, &pub) || pub.Message != "vendor says no" {
				t.Errorf("%s %d: err = %#v, want kind %v with the vendor's message", v.Name, tc.status, err, tc.kind)
			}
		}
	}
}

func itoa(n int) string { b, _ := json.Marshal(n); return string(b) }

// TestMissingKey: a provider that needs a key and has none answers 401 saying where
// to put it, without calling upstream.
func TestMissingKey(t *testing.T) {
	v, _ := LookupVendor("mistral")
	m, srv := vendorSetup(t, v, vendorTurns)
	m.cfg.APIKey, m.cfg.KeyHint = "", "MISTRAL_API_KEY"
	_, err := m.Turn(context.Background(), vendorRequest(), nil)
	var pub *errdefs.Public
	if !errors.Is(err, errdefs.ErrUnauthenticated) || !errors.As(err, &pub) || !strings.Contains(pub.Message, "MISTRAL_API_KEY") {
		t.Fatalf("err = %v", err)
	}
	if len(srv.Requests()) != 0 {
		t.Error("upstream was called without a key")
	}
}

// TestStreamWithoutUsage: a server that sends no usage in its stream (llama.cpp and
// Ollama builds that ignore stream_options) still yields the turn, with usage zero
// rather than invented.
func TestStreamWithoutUsage(t *testing.T) {
	m, _ := setupFlavor(t, vendorTurns, Config{}, script.Flavor{StreamUsage: "none", WholeToolCalls: true, NoIndex: true})
	resp, err := m.Turn(context.Background(), vendorRequest(), func(provider.Event) {})
	if err != nil {
		t.Fatal(err)
	}
	if len(resp.Content) != 4 || resp.StopReason != "tool_use" || resp.Usage != (provider.Usage{}) {
		t.Errorf("resp = %+v", resp)
	}
}
