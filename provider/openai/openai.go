// Package openai is the provider.Model for any OpenAI-compatible chat-completions
// endpoint (OpenAI, vLLM, Ollama, llama.cpp, LM Studio, DeepSeek, Mistral, OpenRouter),
// over the official openai-go client. It translates Anthropic-shaped turns to chat
// completions and back.
//
// Request translation:
//   - system blocks become one system message (texts joined by blank lines);
//   - user text, images (base64 → data: URL, url → URL) and documents (plain text inline,
//     other media as a short note, since chat completions has no portable document
//     part) become user content parts; images given by file id, search results and
//     unknown blocks become text notes or their text;
//   - assistant text becomes the message content and tool_use blocks its tool_calls
//     (id, function name, arguments = the input JSON); thinking and redacted_thinking are
//     dropped, as upstream could not verify them;
//   - each tool_result becomes a "tool" message right after the assistant message (text
//     joined by newlines, prefixed "Error: " when is_error and not already so worded); images in results follow in
//     one user message, because tool messages carry text only;
//   - tools become function tools (parameters = input_schema); Anthropic server tools
//     without an input_schema are left out; tool_choice auto/any/tool/none becomes
//     "auto"/"required"/a named function/"none", and disable_parallel_tool_use
//     parallel_tool_calls:false;
//   - max_tokens is sent as max_completion_tokens to api.openai.com and as max_tokens to
//     every other server (vLLM, Ollama, llama.cpp and LM Studio read that one), unless
//     Config.MaxTokensField says otherwise; stop, temperature and top_p pass through,
//     top_k, thinking and metadata are not sent.
//
// Response translation: reasoning_content or reasoning (the fields of vLLM, DeepSeek,
// llama.cpp, Ollama and OpenRouter) becomes a thinking block when the request asked for
// thinking; content becomes a text block
// (dropped when only whitespace, which Anthropic rejects); a refusal becomes a text block
// with stop_reason refusal; each tool call becomes a tool_use block. Arguments that are
// not a JSON object (some models double-encode them, which is undone) are kept as
// {"_raw_arguments": "<text>"}, so the tool reports invalid input and the model can retry.
// Missing tool call ids get a generated toolu_ id. finish_reason stop → end_turn,
// length → max_tokens, tool_calls/function_call → tool_use (also when tool calls come with
// "stop", as some servers send), content_filter → refusal. Usage: prompt_tokens minus
// cached tokens → input_tokens, cached tokens → cache_read_input_tokens,
// completion_tokens → output_tokens.
//
// Errors follow provider.Model: the upstream status picks the kind, and the message is
// read from whichever error body the server sends (OpenAI's, vLLM's, Ollama's, FastAPI's
// or plain text).
package openai

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"
	"github.com/openai/openai-go/v3/packages/param"
	"github.com/openai/openai-go/v3/packages/respjson"
	"github.com/openai/openai-go/v3/packages/ssestream"
	"github.com/openai/openai-go/v3/shared"

	"github.com/codebox-dev/codebox/errdefs"
	"github.com/codebox-dev/codebox/provider"
)

// DefaultBaseURL is OpenAI's API. Following the SDK's convention, base URLs include /v1.
const DefaultBaseURL = "https://api.openai.com/v1"

// Names for Config.MaxTokensField.
const (
	MaxCompletionTokens = "max_completion_tokens"
	MaxTokens           = "max_tokens"
)

// Config configures a Model.
type Config struct {
	// BaseURL is the endpoint's base URL including /v1 (http://localhost:11434/v1 for
	// Ollama, http://localhost:8000/v1 for vLLM); empty means DefaultBaseURL.
	BaseURL string
	// APIKey is sent as a bearer token; empty sends none (local servers need none).
	APIKey string
	// MaxTokensField is the request field that carries max_tokens: MaxCompletionTokens,
	// MaxTokens, or "" to pick by host (max_completion_tokens for api.openai.com only).
	MaxTokensField string
	// MaxRetries is how often the SDK retries a failed call itself (default 0).
	MaxRetries int
	// Timeout bounds one upstream call; 0 leaves it to ctx.
	Timeout time.Duration
	// HTTPClient is used for upstream calls; nil means a client without a global timeout.
	HTTPClient *http.Client
	// Name is the provider's name in error messages ("openai" when empty).
	Name string
	// KeyHint, when set, makes the key required: without one, Turn fails with
	// ErrUnauthenticated telling the user to set it, in KeyHint's words (the variables
	// and flag that carry it).
	KeyHint string
	// Quirks are the server's departures from OpenAI's API.
	Quirks Quirks
}

// Model is the OpenAI-compatible driver. It is safe for concurrent use.
type Model struct {
	cfg         Config
	completions openai.ChatCompletionService
	models      openai.ModelService
	reasons     reasonMemory // Quirks.ReasoningBack only
}

var _ provider.Model = (*Model)(nil)

// New returns a Model for cfg. Unlike openai.NewClient it reads no OPENAI_* environment
// variables: only cfg decides where calls go and with which key.
func New(cfg Config) (*Model, error) {
	cfg.BaseURL = strings.TrimRight(cfg.BaseURL, "/")
	if cfg.Name == "" {
		cfg.Name = "openai"
	}
	switch cfg.Quirks.ParallelToolCalls {
	case "", ParallelAlways, ParallelNever:
	default:
		return nil, fmt.Errorf("%s: parallel_tool_calls quirk %q: want %q, %q or empty", cfg.Name, cfg.Quirks.ParallelToolCalls, ParallelAlways, ParallelNever)
	}
	if cfg.BaseURL == "" {
		cfg.BaseURL = DefaultBaseURL
	}
	u, err := url.Parse(cfg.BaseURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("%s: base URL %q: want http(s)://host[:port]/path", cfg.Name, cfg.BaseURL)
	}
	switch cfg.MaxTokensField {
	case MaxCompletionTokens, MaxTokens:
	case "":
		cfg.MaxTokensField = MaxTokens
		if u.Hostname() == "api.openai.com" {
			cfg.MaxTokensField = MaxCompletionTokens
		}
	default:
		return nil, fmt.Errorf("%s: max tokens field %q: want %s or %s", cfg.Name, cfg.MaxTokensField, MaxCompletionTokens, MaxTokens)
	}
	hc := cfg.HTTPClient
	if hc == nil {
		hc = &http.Client{}
	}
	opts := []option.RequestOption{
		option.WithBaseURL(cfg.BaseURL + "/"),
		option.WithHTTPClient(hc),
		option.WithMaxRetries(cfg.MaxRetries),
		option.WithAPIKey(cfg.APIKey),
		option.WithMiddleware(normalizeErrors),
	}
	if cfg.Timeout > 0 {
		opts = append(opts, option.WithRequestTimeout(cfg.Timeout))
	}
	// The service is built directly, not through openai.NewClient, which would add
	// settings from OPENAI_* environment variables.
	return &Model{cfg: cfg, completions: openai.NewChatCompletionService(opts...), models: openai.NewModelService(opts...)}, nil
}

// Turn runs one chat completion, streamed when events is non-nil. Errors: see
// provider.Model.
func (m *Model) Turn(ctx context.Context, req *provider.Request, events func(provider.Event)) (*provider.Response, error) {
	if m.cfg.APIKey == "" && m.cfg.KeyHint != "" {
		return nil, m.errNoKey()
	}
	params, err := m.Params(req)
	if err != nil {
		return nil, err
	}
	thinking := wantsThinking(req)
	if events == nil {
		cc, err := m.completions.New(ctx, params)
		if err != nil {
			return nil, m.mapError(ctx, err)
		}
		if len(cc.Choices) == 0 {
			return nil, errdefs.New(errdefs.ErrUpstream, "", "%s: upstream returned no choices", m.cfg.Name)
		}
		if !m.cfg.Quirks.ReasoningBack {
			return response(cc, thinking, m.cfg.Quirks), nil
		}
		resp := response(cc, true, m.cfg.Quirks)
		m.reasons.keep(resp.Content)
		if !thinking {
			resp.Content = slices.DeleteFunc(resp.Content, func(b provider.Block) bool { return b.Type == provider.TypeThinking })
		}
		return resp, nil
	}
	if !m.cfg.Quirks.NoStreamOptions {
		params.StreamOptions = openai.ChatCompletionStreamOptionsParam{IncludeUsage: param.NewOpt(true)}
	}
	stream := m.completions.NewStreaming(ctx, params)
	defer stream.Close()
	a := newAssembler(events, thinking, m.cfg.Quirks)
	for stream.Next() {
		a.chunk(stream.Current())
	}
	if err := stream.Err(); err != nil {
		return nil, m.mapError(ctx, err)
	}
	if a.finishReason == "" {
		return nil, errdefs.New(errdefs.ErrUpstream, "", "%s: upstream stream ended before a finish_reason", m.cfg.Name)
	}
	resp := a.finish()
	if m.cfg.Quirks.ReasoningBack {
		m.reasons.keep(append([]provider.Block{{Type: provider.TypeThinking, Text: a.hidden.String()}}, resp.Content...))
	}
	return resp, nil
}

func (m *Model) errNoKey() error {
	return errdefs.New(errdefs.ErrUnauthenticated, "", "%s: no API key is configured on this server: set %s", m.cfg.Name, m.cfg.KeyHint)
}

func wantsThinking(req *provider.Request) bool {
	var t struct {
		Type string `json:"type"`
	}
	return len(req.Thinking) > 0 && json.Unmarshal(req.Thinking, &t) == nil && t.Type != "" && t.Type != "disabled"
}

// maxErrorBody bounds how much of an upstream error body is read.
const maxErrorBody = 1 << 20

// normalizeErrors rewrites an error response whose body is not OpenAI's
// {"error": {"message": …}} into that shape, so the SDK reports it as an *openai.Error
// with its status and message. Servers differ: vLLM puts message at the top level,
// Ollama's native errors are {"error": "text"}, FastAPI servers send {"detail": …},
// Google's endpoint (Gemini) wraps its error in a one-element array, Mistral's
// validation errors carry an object as message, and proxies answer in plain text or
// HTML.
func normalizeErrors(req *http.Request, next option.MiddlewareNext) (*http.Response, error) {
	resp, err := next(req)
	if err != nil || resp.StatusCode < 400 {
		return resp, err
	}
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
	resp.Body.Close()
	if err != nil {
		return nil, err
	}
	var env struct {
		Error   json.RawMessage `json:"error"`
		Message json.RawMessage `json:"message"`
		Detail  json.RawMessage `json:"detail"`
	}
	var list []json.RawMessage
	body := data
	if json.Unmarshal(data, &list) == nil && len(list) > 0 {
		body = list[0]
	}
	msg := ""
	if json.Unmarshal(body, &env) == nil {
		var obj struct {
			Message string `json:"message"`
		}
		var str string
		switch {
		case json.Unmarshal(env.Error, &obj) == nil && obj.Message != "":
			if len(list) == 0 {
				resp.Body = io.NopCloser(bytes.NewReader(data))
				return resp, nil
			}
			msg = obj.Message
		case json.Unmarshal(env.Error, &str) == nil && str != "":
			msg = str
		case json.Unmarshal(env.Message, &str) == nil && str != "":
			msg = str
		case len(env.Message) > 0 && string(env.Message) != "null":
			msg = string(env.Message)
		case json.Unmarshal(env.Detail, &str) == nil && str != "":
			msg = str
		case len(env.Detail) > 0:
			msg = string(env.Detail)
		}
	}
	if msg == "" && !bytes.HasPrefix(bytes.TrimSpace(data), []byte("<")) {
		msg = strings.TrimSpace(string(data))
		if len(msg) > 500 {
			msg = msg[:500]
		}
	}
	out, _ := json.Marshal(map[string]any{"error": map[string]any{"message": msg, "type": "upstream_error"}})
	resp.Body = io.NopCloser(bytes.NewReader(out))
	resp.ContentLength = int64(len(out))
	resp.Header.Set("Content-Type", "application/json")
	resp.Header.Del("Content-Length")
	return resp, nil
}

// mapError turns an SDK error into the provider.Model error contract.
func (m *Model) mapError(ctx context.Context, err error) error {
	var apiErr *openai.Error
	if errors.As(err, &apiErr) {
		return provider.UpstreamError(apiErr.StatusCode, apiErr.Message, err)
	}
	var se *ssestream.StreamError
	if errors.As(err, &se) {
		// An error object in a stream that started with 200 (OpenRouter, vLLM).
		var body struct {
			Error struct {
				Message string `json:"message"`
				Code    any    `json:"code"`
			} `json:"error"`
		}
		_ = json.Unmarshal(se.Event.Data, &body)
		status := http.StatusInternalServerError
		switch c := body.Error.Code.(type) {
		case float64:
			if c >= 400 && c <= 599 {
				status = int(c)
			}
		case string:
			// OpenRouter names the error in the stream: a status as text, or a kind.
			if n, err := strconv.Atoi(c); err == nil && n >= 400 && n <= 599 {
				status = n
			} else if c == "rate_limit_exceeded" {
				status = http.StatusTooManyRequests
			}
		}
		return provider.UpstreamError(status, body.Error.Message, err)
	}
	return provider.TransportError(ctx, m.cfg.Name, err)
}

// Params converts a provider.Request to chat-completion parameters. It fails with
// ErrInvalid when a tool's schema or a block's JSON is malformed.
func (m *Model) Params(req *provider.Request) (openai.ChatCompletionNewParams, error) {
	p := openai.ChatCompletionNewParams{Model: shared.ChatModel(req.Model)}
	if req.MaxTokens > 0 {
		if m.cfg.MaxTokensField == MaxCompletionTokens {
			p.MaxCompletionTokens = param.NewOpt(req.MaxTokens)
		} else {
			p.MaxTokens = param.NewOpt(req.MaxTokens)
		}
	}
	if req.Temperature != nil {
		p.Temperature = param.NewOpt(*req.Temperature)
	}
	if req.TopP != nil {
		p.TopP = param.NewOpt(*req.TopP)
	}
	if len(req.StopSequences) > 0 {
		p.Stop = openai.ChatCompletionNewParamsStopUnion{OfStringArray: req.StopSequences}
	}
	var sys []string
	for _, b := range req.System {
		if t := blockText(b); t != "" {
			sys = append(sys, t)
		}
	}
	if len(sys) > 0 {
		p.Messages = append(p.Messages, openai.SystemMessage(strings.Join(sys, "\n\n")))
	}
	q := m.cfg.Quirks
	chain := chainStart(req.Messages)
	for i, msg := range req.Messages {
		var out []openai.ChatCompletionMessageParamUnion
		var err error
		if msg.Role == "assistant" {
			var recall func([]provider.Block) string
			if q.ReasoningBack && i >= chain {
				recall = m.reasons.recall
			}
			out, err = assistantMessages(msg.Content, q, recall)
		} else {
			out, err = userMessages(msg.Content, q)
		}
		if err != nil {
			return p, errdefs.New(errdefs.ErrInvalid, "", "messages.%d: %v", i, err)
		}
		p.Messages = append(p.Messages, out...)
	}
	tc := req.ToolChoice
	for i, t := range req.Tools {
		if tc != nil && tc.Type == "tool" && q.NoNamedToolChoice && t.Name != tc.Name && toolName(t) != tc.Name {
			continue // only the named tool is offered, with tool_choice "required"
		}
		tool, ok, err := functionTool(t, q)
		if err != nil {
			return p, errdefs.New(errdefs.ErrInvalid, "", "tools.%d: %v", i, err)
		}
		if ok {
			p.Tools = append(p.Tools, tool)
		}
	}
	if len(p.Tools) == 0 {
		return p, nil
	}
	if tc != nil {
		switch tc.Type {
		case "any":
			p.ToolChoice = openai.ChatCompletionToolChoiceOptionUnionParam{OfAuto: param.NewOpt("required")}
		case "none":
			p.ToolChoice = openai.ChatCompletionToolChoiceOptionUnionParam{OfAuto: param.NewOpt("none")}
		case "tool":
			if q.NoNamedToolChoice {
				p.ToolChoice = openai.ChatCompletionToolChoiceOptionUnionParam{OfAuto: param.NewOpt("required")}
			} else {
				p.ToolChoice = openai.ToolChoiceOptionFunctionToolChoice(openai.ChatCompletionNamedToolChoiceFunctionParam{Name: tc.Name})
			}
		default:
			p.ToolChoice = openai.ChatCompletionToolChoiceOptionUnionParam{OfAuto: param.NewOpt("auto")}
		}
	}
	parallel := tc == nil || !tc.DisableParallelToolUse
	switch {
	case q.ParallelToolCalls == ParallelNever, tc != nil && tc.Type == "none":
	case q.ParallelToolCalls == ParallelAlways:
		p.ParallelToolCalls = param.NewOpt(parallel)
	case !parallel:
		p.ParallelToolCalls = param.NewOpt(false)
	}
	return p, nil
}

// toolName is a tool's name, from its client definition when the field is empty.
func toolName(t provider.Tool) string {
	if t.Name != "" || len(t.Raw) == 0 {
		return t.Name
	}
	var raw struct {
		Name string `json:"name"`
	}
	_ = json.Unmarshal(t.Raw, &raw)
	return raw.Name
}

// chainStart is the index of the first message after the last user message that says
// something besides tool results: the assistant turns from there on are one chain of
// tool calls answering it.
func chainStart(msgs []provider.Message) int {
	for i := len(msgs) - 1; i >= 0; i-- {
		if msgs[i].Role != "user" {
			continue
		}
		for _, b := range msgs[i].Content {
			if b.Type != provider.TypeToolResult {
				return i + 1
			}
		}
	}
	return 0
}

// functionTool converts a tool; ok is false for tools chat completions cannot express.
func functionTool(t provider.Tool, q Quirks) (openai.ChatCompletionToolUnionParam, bool, error) {
	name, desc, schema := t.Name, t.Description, t.InputSchema
	if len(t.Raw) > 0 {
		var raw struct {
			Name        string          `json:"name"`
			Description string          `json:"description"`
			InputSchema json.RawMessage `json:"input_schema"`
		}
		if err := json.Unmarshal(t.Raw, &raw); err != nil {
			return openai.ChatCompletionToolUnionParam{}, false, fmt.Errorf("invalid tool JSON: %w", err)
		}
		if name == "" {
			name = raw.Name
		}
		if desc == "" {
			desc = raw.Description
		}
		if len(schema) == 0 {
			schema = raw.InputSchema
		}
		if len(schema) == 0 {
			return openai.ChatCompletionToolUnionParam{}, false, nil // an Anthropic server tool
		}
	}
	params := shared.FunctionParameters{"type": "object", "properties": map[string]any{}}
	if len(schema) > 0 {
		params = nil
		if err := json.Unmarshal(schema, &params); err != nil || params == nil {
			return openai.ChatCompletionToolUnionParam{}, false, errors.New("input_schema is not a JSON object")
		}
	}
	if q.SchemaSubset {
		schemaSubset(map[string]any(params))
	}
	def := shared.FunctionDefinitionParam{Name: name, Parameters: params}
	if desc != "" {
		def.Description = param.NewOpt(desc)
	}
	if strict, ok := strictOf(t.Raw); ok && q.Strict {
		def.Strict = param.NewOpt(strict)
	}
	return openai.ChatCompletionFunctionTool(def), true, nil
}

// assistantMessages converts an assistant turn to one assistant message. With recall,
// a turn that calls tools carries its thinking as reasoning_content (see
// Quirks.ReasoningBack): its thinking blocks, or when the client did not keep them
// what recall remembers of the turn.
func assistantMessages(blocks []provider.Block, q Quirks, recall func([]provider.Block) string) ([]openai.ChatCompletionMessageParamUnion, error) {
	var texts, thoughts []string
	var calls []openai.ChatCompletionMessageToolCallUnionParam
	for _, b := range blocks {
		switch b.Type {
		case provider.TypeThinking:
			thoughts = append(thoughts, b.Text)
		case "redacted_thinking":
		case provider.TypeToolUse:
			args := "{}"
			if len(b.Input) > 0 {
				if !json.Valid(b.Input) {
					return nil, fmt.Errorf("tool_use %s: input is not valid JSON", b.ID)
				}
				args = string(b.Input)
			}
			calls = append(calls, openai.ChatCompletionMessageToolCallUnionParam{OfFunction: &openai.ChatCompletionMessageFunctionToolCallParam{
				ID:       q.outID(b.ID),
				Function: openai.ChatCompletionMessageFunctionToolCallFunctionParam{Name: b.Name, Arguments: args},
			}})
		default:
			if t := blockText(b); strings.TrimSpace(t) != "" {
				texts = append(texts, t)
			}
		}
	}
	if len(texts) == 0 && len(calls) == 0 {
		return nil, nil
	}
	am := openai.ChatCompletionAssistantMessageParam{ToolCalls: calls}
	if len(texts) > 0 {
		am.Content.OfString = param.NewOpt(strings.Join(texts, "\n\n"))
	}
	if recall != nil && len(calls) > 0 {
		r := strings.Join(thoughts, "")
		if r == "" {
			r = recall(blocks)
		}
		am.SetExtraFields(map[string]any{"reasoning_content": r})
	}
	return []openai.ChatCompletionMessageParamUnion{{OfAssistant: &am}}, nil
}

// userMessages converts a user turn: tool messages first (they must follow the
// assistant's tool_calls), then one user message with the other content and any images
// from tool results.
func userMessages(blocks []provider.Block, q Quirks) ([]openai.ChatCompletionMessageParamUnion, error) {
	var out []openai.ChatCompletionMessageParamUnion
	var parts, resultImages []openai.ChatCompletionContentPartUnionParam
	for _, b := range blocks {
		switch b.Type {
		case provider.TypeToolResult:
			var texts []string
			var imgs []openai.ChatCompletionContentPartUnionParam
			for _, c := range b.Content {
				if c.Type == provider.TypeImage {
					if part, ok := imagePart(c); ok {
						imgs = append(imgs, part)
						continue
					}
				}
				if t := blockText(c); t != "" {
					texts = append(texts, t)
				}
			}
			text := strings.Join(texts, "\n")
			if b.IsError && !strings.HasPrefix(text, "Error") {
				text = "Error: " + text
			}
			if strings.TrimSpace(text) == "" {
				text = "(no output)"
			}
			if len(imgs) > 0 {
				text += fmt.Sprintf("\n(%d image(s) from this result follow in the next user message)", len(imgs))
				resultImages = append(resultImages, openai.TextContentPart("Images returned by tool call "+b.ToolUseID+":"))
				resultImages = append(resultImages, imgs...)
			}
			out = append(out, openai.ToolMessage(text, q.outID(b.ToolUseID)))
		case provider.TypeImage:
			if part, ok := imagePart(b); ok {
				parts = append(parts, part)
			} else {
				parts = append(parts, openai.TextContentPart(blockText(b)))
			}
		case "container_upload":
			// The loop copies the file into the container and says so in the system prompt.
		default:
			// Whitespace alone is empty content, which Gemini and Mistral reject.
			if t := blockText(b); strings.TrimSpace(t) != "" {
				parts = append(parts, openai.TextContentPart(t))
			}
		}
	}
	parts = append(resultImages, parts...)
	if len(parts) == 0 {
		return out, nil
	}
	if len(parts) == 1 && parts[0].OfText != nil {
		return append(out, openai.UserMessage(parts[0].OfText.Text)), nil
	}
	return append(out, openai.UserMessage(parts)), nil
}

// source is the "source" of an image or document block.
type source struct {
	Type      string          `json:"type"`
	MediaType string          `json:"media_type"`
	Data      string          `json:"data"`
	URL       string          `json:"url"`
	FileID    string          `json:"file_id"`
	Content   json.RawMessage `json:"content"`
}

// rawBlock is the part of a client block's JSON the translation reads.
type rawBlock struct {
	Type    string          `json:"type"`
	Text    string          `json:"text"`
	Title   string          `json:"title"`
	Source  json.RawMessage `json:"source"`
	Content json.RawMessage `json:"content"`
}

func parseRaw(b provider.Block) (rawBlock, source) {
	var rb rawBlock
	var src source
	if len(b.Raw) > 0 && json.Unmarshal(b.Raw, &rb) == nil && len(rb.Source) > 0 {
		if json.Unmarshal(rb.Source, &src) != nil {
			// search_result blocks have a string source.
			src = source{}
		}
	}
	return rb, src
}

// imagePart converts an image block with a base64 or URL source.
func imagePart(b provider.Block) (openai.ChatCompletionContentPartUnionParam, bool) {
	_, src := parseRaw(b)
	switch src.Type {
	case "base64":
		return openai.ImageContentPart(openai.ChatCompletionContentPartImageImageURLParam{
			URL: "data:" + src.MediaType + ";base64," + src.Data}), true
	case "url":
		return openai.ImageContentPart(openai.ChatCompletionContentPartImageImageURLParam{URL: src.URL}), true
	}
	return openai.ChatCompletionContentPartUnionParam{}, false
}

// blockText renders a block as text for upstream: its text, a document's plain text,
// a search result's content, or a short note for what cannot be shown.
func blockText(b provider.Block) string {
	switch b.Type {
	case provider.TypeText:
		return b.Text
	case provider.TypeThinking, "redacted_thinking":
		return ""
	case provider.TypeImage:
		_, src := parseRaw(b)
		if src.Type == "file" {
			return fmt.Sprintf("[image %s is not available to this model]", src.FileID)
		}
		return "[image omitted]"
	case provider.TypeDocument:
		rb, src := parseRaw(b)
		title := ""
		if rb.Title != "" {
			title = rb.Title + ":\n"
		}
		switch {
		case src.Type == "text":
			return title + src.Data
		case src.Type == "base64" && strings.HasPrefix(src.MediaType, "text/"):
			if data, err := base64.StdEncoding.DecodeString(src.Data); err == nil {
				return title + string(data)
			}
		case src.Type == "content":
			return title + textOfBlocks(src.Content)
		}
		what := src.MediaType
		if what == "" {
			what = src.Type
		}
		return fmt.Sprintf("[document %q (%s) omitted: this model cannot read it]", rb.Title, what)
	case "search_result":
		rb, _ := parseRaw(b)
		var srcStr struct {
			Source string `json:"source"`
		}
		_ = json.Unmarshal(b.Raw, &srcStr)
		return fmt.Sprintf("Search result %q (%s):\n%s", rb.Title, srcStr.Source, textOfBlocks(rb.Content))
	}
	if b.Text != "" {
		return b.Text
	}
	return fmt.Sprintf("[%s block omitted]", b.Type)
}

// textOfBlocks joins the text of a JSON array of text blocks (or returns a JSON string).
func textOfBlocks(raw json.RawMessage) string {
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s
	}
	var blocks []struct {
		Type string `json:"type"`
		Text string `json:"text"`
	}
	_ = json.Unmarshal(raw, &blocks)
	var texts []string
	for _, b := range blocks {
		if b.Text != "" {
			texts = append(texts, b.Text)
		}
	}
	return strings.Join(texts, "\n")
}

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
