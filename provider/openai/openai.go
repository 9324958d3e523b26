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
	"github.com/openai/openai-go/v3/packages/ssestream"

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
