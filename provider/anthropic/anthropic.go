// Package anthropic is the provider.Model for Claude, over the official
// anthropic-sdk-go client, plus a raw passthrough (provider.Forwarder) for requests
// codebox does not need to interpret.
//
// Translation is lossless where the client's own wire JSON is at hand: blocks and tools
// that carry Raw (the client's JSON) are sent exactly as written, through the SDK's
// param.Override, so images, documents, search results, citations and cache_control
// reach the API untouched. A block whose Raw has a different type than the block (the
// loop rewrote it) is built from its fields. Loop-made blocks without Raw are built from
// their fields; a loop-made block of a type that needs a source (image, document) cannot
// be built and is sent as a short text note instead. Thinking blocks without a signature
// (made by another provider's model) are left out, since the API rejects them, and so is
// a message left empty by that.
//
// Response blocks of the core types (text, thinking, tool_use) are converted to fields
// and carry no Raw; other types (redacted_thinking, server blocks of upstream's own
// tools) keep upstream's JSON in Raw. Citations on text blocks are not kept.
package anthropic

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/anthropics/anthropic-sdk-go"
	"github.com/anthropics/anthropic-sdk-go/option"
	"github.com/anthropics/anthropic-sdk-go/packages/param"

	"github.com/codebox-dev/codebox/errdefs"
	"github.com/codebox-dev/codebox/provider"
)

// DefaultBaseURL is the public Anthropic API. Following the SDK's convention, a base URL
// has no /v1 suffix.
const DefaultBaseURL = "https://api.anthropic.com"

// nonStreamingTimeout bounds a non-streamed call when Config.Timeout is 0: the longest
// generation the SDK itself would expect (its estimate for 128k output tokens).
const nonStreamingTimeout = time.Hour

// Config configures a Model.
type Config struct {
	// BaseURL is the API's base URL without /v1; empty means DefaultBaseURL.
	BaseURL string
	// APIKey is sent as x-api-key. Without it every call fails with ErrUnauthenticated.
	APIKey string
	// MaxRetries is how often the SDK retries a failed call itself. The default 0 leaves
	// retries to the client, whose SDK retries codebox's 429 and 5xx answers anyway.
	MaxRetries int
	// Timeout bounds one upstream call; 0 leaves it to ctx.
	Timeout time.Duration
	// HTTPClient is the client used for upstream calls; nil means a client without a
	// global timeout (streams may run long).
	HTTPClient *http.Client
}

// Model is the Claude driver. It is safe for concurrent use.
type Model struct {
	cfg    Config
	client anthropic.Client
	http   *http.Client
}

var (
	_ provider.Model          = (*Model)(nil)
	_ provider.Forwarder      = (*Model)(nil)
	_ provider.CountForwarder = (*Model)(nil)
	_ provider.TokenCounter   = (*Model)(nil)
)

// New returns a Model for cfg. It never reads the environment: the SDK's own
// ANTHROPIC_* autoloading is off, so only cfg decides where calls go.
func New(cfg Config) *Model {
	cfg.BaseURL = strings.TrimRight(cfg.BaseURL, "/")
	if cfg.BaseURL == "" {
		cfg.BaseURL = DefaultBaseURL
	}
	hc := cfg.HTTPClient
	if hc == nil {
		hc = &http.Client{}
	}
	opts := []option.RequestOption{
		option.WithoutEnvironmentDefaults(),
		option.WithBaseURL(cfg.BaseURL + "/"),
		option.WithHTTPClient(hc),
		option.WithMaxRetries(cfg.MaxRetries),
		option.WithAPIKey(cfg.APIKey),
	}
	if cfg.Timeout > 0 {
		opts = append(opts, option.WithRequestTimeout(cfg.Timeout))
	}
	return &Model{cfg: cfg, client: anthropic.NewClient(opts...), http: hc}
}

func errNoKey() error {
	return errdefs.New(errdefs.ErrUnauthenticated, "",
		"anthropic: this server has no Anthropic API key configured (set ANTHROPIC_API_KEY where codebox runs)")
}

// Turn runs one turn with Messages.New, or with events via NewStreaming, reporting
// blocks as they arrive and returning the accumulated message. Errors: see
// provider.Model.
func (m *Model) Turn(ctx context.Context, req *provider.Request, events func(provider.Event)) (*provider.Response, error) {
	if m.cfg.APIKey == "" {
		return nil, errNoKey()
	}
	params, err := Params(req)
	if err != nil {
		return nil, err
	}
	if events == nil {
		// An explicit timeout also stops the SDK from refusing non-streamed calls with a
		// large max_tokens ("streaming is required"), which the API itself accepts.
		timeout := m.cfg.Timeout
		if timeout == 0 {
			timeout = nonStreamingTimeout
		}
		msg, err := m.client.Messages.New(ctx, params, option.WithRequestTimeout(timeout))
		if err != nil {
			return nil, mapError(ctx, err)
		}
		return response(msg), nil
	}

	stream := m.client.Messages.NewStreaming(ctx, params)
	defer stream.Close()
	var acc anthropic.Message
	stopped := false
	for stream.Next() {
		ev := stream.Current()
		stopped = stopped || ev.Type == "message_stop"
		if err := acc.Accumulate(ev); err != nil {
			return nil, &errdefs.Public{Kind: errdefs.ErrUpstream, Message: "anthropic: malformed stream from upstream", Err: err}
		}
		switch ev.Type {
		case "content_block_start":
			i := int(ev.Index)
			b := acc.Content[i]
			start := provider.Block{Type: b.Type, ID: b.ID, Name: b.Name}
			events(provider.Event{Type: provider.BlockStart, Index: i, Block: &start})
		case "content_block_delta":
			var d string
			switch ev.Delta.Type {
			case "text_delta":
				d = ev.Delta.Text
			case "thinking_delta":
				d = ev.Delta.Thinking
			case "input_json_delta":
				d = ev.Delta.PartialJSON
			default: // signature_delta, citations_delta: only in the final block
				continue
			}
			if d != "" {
				events(provider.Event{Type: provider.BlockDelta, Index: int(ev.Index), Delta: d})
			}
		case "content_block_stop":
			i := int(ev.Index)
			if i < 0 || i >= len(acc.Content) {
				return nil, errdefs.New(errdefs.ErrUpstream, "", "anthropic: malformed stream from upstream")
			}
			b := block(acc.Content[i])
			events(provider.Event{Type: provider.BlockStop, Index: i, Block: &b})
		}
	}
	if err := stream.Err(); err != nil {
		return nil, mapError(ctx, err)
	}
	if !stopped {
		return nil, errdefs.New(errdefs.ErrUpstream, "", "anthropic: upstream stream ended before message_stop")
	}
	return response(&acc), nil
}

// Forward implements provider.Forwarder: body goes to upstream /v1/messages byte for
// byte, with the server's key and the client's anthropic-version and anthropic-beta.
func (m *Model) Forward(ctx context.Context, body []byte, header http.Header) (*http.Response, error) {
	return m.forward(ctx, "/v1/messages", body, header)
}

// ForwardCountTokens implements provider.CountForwarder: Forward for upstream's
// /v1/messages/count_tokens.
func (m *Model) ForwardCountTokens(ctx context.Context, body []byte, header http.Header) (*http.Response, error) {
	return m.forward(ctx, "/v1/messages/count_tokens", body, header)
}

// CountTokens implements provider.TokenCounter with Messages.CountTokens, sending req
// as Turn would (without max_tokens and the sampling parameters count_tokens rejects).
func (m *Model) CountTokens(ctx context.Context, req *provider.Request) (int64, error) {
	if m.cfg.APIKey == "" {
		return 0, errNoKey()
	}
	p, err := Params(req)
	if err != nil {
		return 0, err
	}
	cp := anthropic.MessageCountTokensParams{
		Model: p.Model, Messages: p.Messages, Thinking: p.Thinking, ToolChoice: p.ToolChoice,
		System: anthropic.MessageCountTokensParamsSystemUnion{OfTextBlockArray: p.System},
	}
	for i, t := range p.Tools {
		raw, err := json.Marshal(t)
		if err != nil {
			return 0, errdefs.New(errdefs.ErrInvalid, "", "tools.%d: %v", i, err)
		}
		cp.Tools = append(cp.Tools, param.Override[anthropic.MessageCountTokensToolUnionParam](json.RawMessage(raw)))
	}
	n, err := m.client.Messages.CountTokens(ctx, cp)
	if err != nil {
		return 0, mapError(ctx, err)
	}
	return n.InputTokens, nil
}

func (m *Model) forward(ctx context.Context, path string, body []byte, header http.Header) (*http.Response, error) {
	if m.cfg.APIKey == "" {
		return nil, errNoKey()
	}
	parent, cancel := ctx, context.CancelFunc(func() {})
	if m.cfg.Timeout > 0 {
		ctx, cancel = context.WithTimeout(ctx, m.cfg.Timeout)
	}
	r, err := http.NewRequestWithContext(ctx, http.MethodPost, m.cfg.BaseURL+path, bytes.NewReader(body))
	if err != nil {
		cancel()
		return nil, fmt.Errorf("anthropic: %w", err)
	}
	r.Header.Set("Content-Type", "application/json")
	r.Header.Set("x-api-key", m.cfg.APIKey)
	version := header.Get("anthropic-version")
	if version == "" {
		version = "2023-06-01"
	}
	r.Header.Set("anthropic-version", version)
	for _, v := range header.Values("anthropic-beta") {
		r.Header.Add("anthropic-beta", v)
	}
	if a := header.Get("Accept"); a != "" {
		r.Header.Set("Accept", a)
	}
	resp, err := m.http.Do(r)
	if err != nil {
		cancel()
		return nil, provider.TransportError(parent, "anthropic", err)
	}
	resp.Body = cancelBody{resp.Body, cancel}
	return resp, nil
}

// mapError turns an SDK error into the provider.Model error contract.
func mapError(ctx context.Context, err error) error {
	var apiErr *anthropic.Error
	if !errors.As(err, &apiErr) {
		return provider.TransportError(ctx, "anthropic", err)
	}
	status := apiErr.StatusCode
	if status < 400 {
		// An error event in a stream that started with 200: its type tells the status.
		status = statusOfType(string(apiErr.Type()))
	}
	return provider.UpstreamError(status, upstreamMessage(apiErr.RawJSON()), err)
}

// statusOfType is the HTTP status that goes with an Anthropic error.type.
func statusOfType(typ string) int {
	switch typ {
	case "invalid_request_error":
		return http.StatusBadRequest
	case "authentication_error":
		return http.StatusUnauthorized
	case "permission_error":
		return http.StatusForbidden
	case "not_found_error":
		return http.StatusNotFound
	case "request_too_large":
		return http.StatusRequestEntityTooLarge
	case "rate_limit_error":
		return http.StatusTooManyRequests
	case "timeout_error":
		return http.StatusGatewayTimeout
	case "overloaded_error":
		return 529
	default:
		return http.StatusInternalServerError
	}
}

// upstreamMessage extracts error.message from an error envelope.
func upstreamMessage(raw string) string {
	var env struct {
		Error struct {
			Message string `json:"message"`
		} `json:"error"`
	}
	if json.Unmarshal([]byte(raw), &env) == nil {
		return env.Error.Message
	}
	return ""
}

// response converts an upstream message.
func response(msg *anthropic.Message) *provider.Response {
	r := &provider.Response{
		ID:           msg.ID,
		Model:        string(msg.Model),
		StopReason:   string(msg.StopReason),
		StopSequence: msg.StopSequence,
		Usage: provider.Usage{
			InputTokens:              msg.Usage.InputTokens,
			OutputTokens:             msg.Usage.OutputTokens,
			CacheCreationInputTokens: msg.Usage.CacheCreationInputTokens,
			CacheReadInputTokens:     msg.Usage.CacheReadInputTokens,
		},
	}
	for _, b := range msg.Content {
		r.Content = append(r.Content, block(b))
	}
	return r
}

// block converts one upstream content block.
func block(b anthropic.ContentBlockUnion) provider.Block {
	switch b.Type {
	case provider.TypeText:
		return provider.Block{Type: b.Type, Text: b.Text}
	case provider.TypeThinking:
		return provider.Block{Type: b.Type, Text: b.Thinking, Signature: b.Signature}
	case provider.TypeToolUse:
		in := b.Input
		if len(bytes.TrimSpace(in)) == 0 {
			in = json.RawMessage(`{}`)
		}
		return provider.Block{Type: b.Type, ID: b.ID, Name: b.Name, Input: in}
	default:
		return provider.Block{Type: b.Type, ID: b.ID, Name: b.Name, Input: b.Input, Raw: json.RawMessage(b.RawJSON())}
	}
}

// Params converts a provider.Request to the SDK's request parameters. It fails with
// ErrInvalid when a Raw block or tool is not valid JSON.
func Params(req *provider.Request) (anthropic.MessageNewParams, error) {
	p := anthropic.MessageNewParams{
		Model:         anthropic.Model(req.Model),
		MaxTokens:     req.MaxTokens,
		StopSequences: req.StopSequences,
	}
	if req.Temperature != nil {
		p.Temperature = param.NewOpt(*req.Temperature)
	}
	if req.TopP != nil {
		p.TopP = param.NewOpt(*req.TopP)
	}
	if req.TopK != nil {
		p.TopK = param.NewOpt(*req.TopK)
	}
	if isSet(req.Thinking) {
		p.Thinking = param.Override[anthropic.ThinkingConfigParamUnion](req.Thinking)
	}
	if isSet(req.Metadata) {
		p.Metadata = param.Override[anthropic.MetadataParam](req.Metadata)
	}
	for i, b := range req.System {
		if b.Type != provider.TypeText {
			return p, errdefs.New(errdefs.ErrInvalid, "", "system.%d: type %q is not text", i, b.Type)
		}
		if raw, ok := rawOf(b); ok {
			p.System = append(p.System, param.Override[anthropic.TextBlockParam](raw))
		} else {
			p.System = append(p.System, anthropic.TextBlockParam{Text: b.Text})
		}
	}
	for i, msg := range req.Messages {
		mp := anthropic.MessageParam{Role: anthropic.MessageParamRole(msg.Role)}
		for j, b := range msg.Content {
			if b.Type == provider.TypeThinking && b.Signature == "" && len(b.Raw) == 0 {
				continue // made by another provider: the API would reject it unsigned
			}
			c, err := contentParam(b)
			if err != nil {
				return p, errdefs.New(errdefs.ErrInvalid, "", "messages.%d.content.%d: %v", i, j, err)
			}
			mp.Content = append(mp.Content, c)
		}
		if len(mp.Content) > 0 {
			p.Messages = append(p.Messages, mp)
		}
	}
	for i, t := range req.Tools {
		raw := t.Raw
		if len(raw) == 0 {
			var err error
			raw, err = toolJSON(t)
			if err != nil {
				return p, errdefs.New(errdefs.ErrInvalid, "", "tools.%d: %v", i, err)
			}
		} else if !json.Valid(raw) {
			return p, errdefs.New(errdefs.ErrInvalid, "", "tools.%d: invalid JSON", i)
		}
		p.Tools = append(p.Tools, param.Override[anthropic.ToolUnionParam](raw))
	}
	if tc := req.ToolChoice; tc != nil {
		v := map[string]any{"type": tc.Type}
		if tc.Type == "tool" {
			v["name"] = tc.Name
		}
		if tc.DisableParallelToolUse && tc.Type != "none" {
			v["disable_parallel_tool_use"] = true
		}
		raw, _ := json.Marshal(v)
		p.ToolChoice = param.Override[anthropic.ToolChoiceUnionParam](json.RawMessage(raw))
	}
	return p, nil
}

func isSet(raw json.RawMessage) bool {
	s := bytes.TrimSpace(raw)
	return len(s) > 0 && !bytes.Equal(s, []byte("null"))
}

// rawOf returns b.Raw when it is the client's JSON for a block of b's own type.
func rawOf(b provider.Block) (json.RawMessage, bool) {
	if len(b.Raw) == 0 {
		return nil, false
	}
	var head struct {
		Type string `json:"type"`
	}
	if json.Unmarshal(b.Raw, &head) != nil || head.Type != b.Type {
		return nil, false
	}
	return b.Raw, true
}

// contentParam converts one message block.
func contentParam(b provider.Block) (anthropic.ContentBlockParamUnion, error) {
	if raw, ok := rawOf(b); ok {
		return param.Override[anthropic.ContentBlockParamUnion](raw), nil
	}
	switch b.Type {
	case provider.TypeText:
		return anthropic.NewTextBlock(b.Text), nil
	case provider.TypeThinking:
		return anthropic.NewThinkingBlock(b.Signature, b.Text), nil
	case provider.TypeToolUse:
		in := b.Input
		if !isSet(in) {
			in = json.RawMessage(`{}`)
		} else if !json.Valid(in) {
			return anthropic.ContentBlockParamUnion{}, errors.New("tool_use input is not valid JSON")
		}
		return anthropic.ContentBlockParamUnion{OfToolUse: &anthropic.ToolUseBlockParam{ID: b.ID, Name: b.Name, Input: in}}, nil
	case provider.TypeToolResult:
		tr := &anthropic.ToolResultBlockParam{ToolUseID: b.ToolUseID}
		if b.IsError {
			tr.IsError = param.NewOpt(true)
		}
		for _, c := range b.Content {
			if raw, ok := rawOf(c); ok {
				tr.Content = append(tr.Content, param.Override[anthropic.ToolResultBlockParamContentUnion](raw))
				continue
			}
			text := c.Text
			if c.Type != provider.TypeText {
				text = note(c)
			}
			tr.Content = append(tr.Content, anthropic.ToolResultBlockParamContentUnion{OfText: &anthropic.TextBlockParam{Text: text}})
		}
		return anthropic.ContentBlockParamUnion{OfToolResult: tr}, nil
	default:
		return anthropic.NewTextBlock(note(b)), nil
	}
}

// note stands in for a block that cannot be expressed without its client JSON.
func note(b provider.Block) string {
	return fmt.Sprintf("[%s block omitted]", b.Type)
}

// toolJSON is the wire definition of a tool made by the loop.
func toolJSON(t provider.Tool) (json.RawMessage, error) {
	schema := t.InputSchema
	if !isSet(schema) {
		schema = json.RawMessage(`{"type":"object"}`)
	} else if !json.Valid(schema) {
		return nil, errors.New("input_schema is not valid JSON")
	}
	v := struct {
		Name        string          `json:"name"`
		Description string          `json:"description,omitempty"`
		InputSchema json.RawMessage `json:"input_schema"`
	}{t.Name, t.Description, schema}
	return json.Marshal(v)
}

// cancelBody releases a forwarded call's deadline when its body is closed.
type cancelBody struct {
	io.ReadCloser
	cancel context.CancelFunc
}

func (b cancelBody) Close() error {
	err := b.ReadCloser.Close()
	b.cancel()
	return err
}
