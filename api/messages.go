package api

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/codebox-dev/codebox"
	"github.com/codebox-dev/codebox/agentloop"
	"github.com/codebox-dev/codebox/errdefs"
	"github.com/codebox-dev/codebox/provider"
	"github.com/codebox-dev/codebox/tools"
)

// MessageLoop runs Messages requests; *agentloop.Loop satisfies it.
type MessageLoop interface {
	Run(ctx context.Context, ws codebox.WorkspaceID, req *agentloop.Request, events func(agentloop.Event)) (*agentloop.Response, error)
	// Forwarder returns a driver that can pass the raw request through, for requests
	// without a code execution tool, and the upstream model name.
	Forwarder(model string) (provider.Forwarder, string, bool)
	// RecordForwarded meters the tokens of a forwarded request.
	RecordForwarded(ctx context.Context, ws codebox.WorkspaceID, messageID, model string, u agentloop.Usage)
}

// UsageReader reads a workspace's metered usage; *sqlite.DB satisfies it.
type UsageReader interface {
	UsageSummary(ctx context.Context, ws codebox.WorkspaceID, start, end time.Time) (*agentloop.UsageSummary, error)
}

// MessagesConfig holds the dependencies of the messages and usage routes.
type MessagesConfig struct {
	Loop  MessageLoop
	Usage UsageReader
}

func (s *Server) registerMessageRoutes() {
	s.handle("POST", "/v1/messages", s.createMessage)
	s.handle("POST", "/v1/messages/count_tokens", s.countTokens)
	s.handle("GET", "/v1/usage", s.getUsage)
}

func (s *Server) createMessage(w http.ResponseWriter, r *http.Request) error {
	if s.Loop == nil {
		return errdefs.New(errdefs.ErrUnavailable, "", "the Messages API is not configured on this server")
	}
	body, err := s.readBody(w, r)
	if err != nil {
		return err
	}
	var wr wireRequest
	if err := json.Unmarshal(body, &wr); err != nil {
		return errdefs.New(errdefs.ErrInvalid, "", "Invalid JSON body: %v", err)
	}
	req, uploads, err := fromWireRequest(&wr)
	if err != nil {
		return err
	}
	ws := workspace(r)
	fileSources, err := s.resolveFileSources(r.Context(), ws, req)
	if err != nil {
		return err
	}
	if req.CodeExecution == "" && !uploads && !fileSources {
		if f, upstream, ok := s.Loop.Forwarder(req.Model); ok {
			return s.forward(w, r, f, body, req.Model, upstream)
		}
	}
	if !wr.Stream {
		resp, err := s.Loop.Run(r.Context(), ws, req, nil)
		if err != nil {
			return err
		}
		writeJSON(w, http.StatusOK, toWireMessage(resp))
		return nil
	}
	sse := newMessageStream(w)
	resp, err := s.Loop.Run(r.Context(), ws, req, func(e agentloop.Event) { sse.loopEvent(e) })
	if err != nil {
		if !sse.started {
			return err
		}
		s.streamError(r, sse, err)
		return nil
	}
	if !sse.started {
		sse.loopEvent(agentloop.Event{Type: agentloop.EventMessageStart, Message: resp})
	}
	sse.finish(resp)
	return nil
}

// TokenCounter counts a request's input tokens; *agentloop.Loop satisfies it.
type TokenCounter interface {
	CountTokens(ctx context.Context, ws codebox.WorkspaceID, req *agentloop.Request) (int64, error)
}

// countTokens answers POST /v1/messages/count_tokens. A request the model would get
// unchanged goes to upstream's count_tokens byte for byte; one with a code execution
// tool is counted as the model will see it (sub-tools and system addendum included).
// No container or file content is touched.
func (s *Server) countTokens(w http.ResponseWriter, r *http.Request) error {
	tc, ok := s.Loop.(TokenCounter)
	if s.Loop == nil || !ok {
		return errdefs.New(errdefs.ErrUnavailable, "", "the Messages API is not configured on this server")
	}
	body, err := s.readBody(w, r)
	if err != nil {
		return err
	}
	var wr wireRequest
	if err := json.Unmarshal(body, &wr); err != nil {
		return errdefs.New(errdefs.ErrInvalid, "", "Invalid JSON body: %v", err)
	}
	// count_tokens has no max_tokens; the conversion checks it as for /v1/messages.
	one := int64(1)
	wr.MaxTokens = &one
	req, _, err := fromWireRequest(&wr)
	if err != nil {
		return err
	}
	if req.CodeExecution == "" && !hasFileSource(req) {
		if f, upstream, ok := s.Loop.Forwarder(req.Model); ok {
			if cf, ok := f.(provider.CountForwarder); ok {
				return s.forwardCount(w, r, cf, body, req.Model, upstream)
			}
		}
	}
	if _, err := s.resolveFileSources(r.Context(), workspace(r), req); err != nil {
		return err
	}
	n, err := tc.CountTokens(r.Context(), workspace(r), req)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, struct {
		InputTokens int64 `json:"input_tokens"`
	}{n})
	return nil
}

// hasFileSource reports whether an image or document block of req names a file of the
// Files API, which upstream cannot see.
func hasFileSource(req *agentloop.Request) bool {
	var has func(b *provider.Block) bool
	has = func(b *provider.Block) bool {
		for i := range b.Content {
			if has(&b.Content[i]) {
				return true
			}
		}
		if (b.Type != provider.TypeImage && b.Type != provider.TypeDocument) || len(b.Raw) == 0 {
			return false
		}
		var blk struct {
			Source struct {
				Type string `json:"type"`
			} `json:"source"`
		}
		return json.Unmarshal(b.Raw, &blk) == nil && blk.Source.Type == "file"
	}
	for i := range req.Messages {
		for j := range req.Messages[i].Content {
			if has(&req.Messages[i].Content[j].Block) {
				return true
			}
		}
	}
	return false
}

// forwardCount passes a count_tokens request through and copies upstream's answer back.
func (s *Server) forwardCount(w http.ResponseWriter, r *http.Request, f provider.CountForwarder, body []byte, model, upstream string) error {
	body, err := withModel(body, model, upstream)
	if err != nil {
		return err
	}
	resp, err := f.ForwardCountTokens(r.Context(), body, r.Header)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	writeUpstreamHead(w, resp)
	if _, err := io.Copy(w, resp.Body); err != nil {
		s.Logger.Warn("forwarded response cut", "request_id", requestID(r.Context()), "err", err)
	}
	return nil
}

// writeUpstreamHead copies a forwarded answer's status and the headers a client acts on
// (content type, caching, retry hints).
func writeUpstreamHead(w http.ResponseWriter, resp *http.Response) {
	for _, h := range []string{"Content-Type", "Cache-Control", "retry-after", "x-should-retry"} {
		if v := resp.Header.Get(h); v != "" {
			w.Header().Set(h, v)
		}
	}
	w.WriteHeader(resp.StatusCode)
}

// withModel rewrites body's "model" to the upstream name when routing changed it.
func withModel(body []byte, model, upstream string) ([]byte, error) {
	if upstream == model {
		return body, nil
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(body, &m); err != nil {
		return nil, errdefs.New(errdefs.ErrInvalid, "", "Invalid JSON body: %v", err)
	}
	m["model"], _ = json.Marshal(upstream)
	return json.Marshal(m)
}

// streamError reports a failure after the 200 as an error event.
func (s *Server) streamError(r *http.Request, sse *messageStream, err error) {
	ctx := r.Context()
	if ctx.Err() != nil {
		return
	}
	status, body := errorEnvelope(ctx, err)
	if status >= 500 {
		s.Logger.Error("stream failed", "request_id", requestID(ctx), "status", status, "err", err)
	}
	sse.send("error", struct {
		Type  string      `json:"type"`
		Error errorDetail `json:"error"`
	}{"error", body.Error})
}

// forward passes the request through to a driver that speaks Anthropic's wire format,
// metering the tokens the answer reports.
func (s *Server) forward(w http.ResponseWriter, r *http.Request, f provider.Forwarder, body []byte, model, upstream string) error {
	body, err := withModel(body, model, upstream)
	if err != nil {
		return err
	}
	resp, err := f.Forward(r.Context(), body, r.Header)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	writeUpstreamHead(w, resp)
	var meter usageSniffer
	meter.sse = strings.HasPrefix(resp.Header.Get("Content-Type"), "text/event-stream")
	rc := http.NewResponseController(w)
	buf := make([]byte, 32<<10)
	for {
		n, err := resp.Body.Read(buf)
		if n > 0 {
			if resp.StatusCode == http.StatusOK {
				meter.Write(buf[:n])
			}
			if _, werr := w.Write(buf[:n]); werr != nil {
				return nil
			}
			rc.Flush()
		}
		if err != nil {
			if err != io.EOF {
				s.Logger.Warn("forwarded response cut", "request_id", requestID(r.Context()), "err", err)
			}
			break
		}
	}
	if u, id, ok := meter.result(); ok {
		s.Loop.RecordForwarded(r.Context(), workspace(r), id, model, u)
	}
	return nil
}

// usageSniffer reads the usage of a forwarded answer as it passes: the JSON message,
// or the message_start and message_delta events of a stream (whose counts are
// cumulative, so the last one wins).
type usageSniffer struct {
	sse     bool
	buf     []byte
	skip    bool // the current line is too long to matter
	id      string
	usage   agentloop.Usage
	found   bool
	tooLong bool
}

// maxSniffed bounds what the sniffer keeps: a JSON answer, or one SSE line.
const maxSniffed = 8 << 20

type sniffedUsage struct {
	InputTokens              *int64 `json:"input_tokens"`
	OutputTokens             *int64 `json:"output_tokens"`
	CacheCreationInputTokens *int64 `json:"cache_creation_input_tokens"`
	CacheReadInputTokens     *int64 `json:"cache_read_input_tokens"`
}

func (u *usageSniffer) apply(su *sniffedUsage) {
	if su == nil {
		return
	}
	u.found = true
	for _, f := range []struct {
		src *int64
		dst *int64
	}{{su.InputTokens, &u.usage.InputTokens}, {su.OutputTokens, &u.usage.OutputTokens},
		{su.CacheCreationInputTokens, &u.usage.CacheCreationInputTokens}, {su.CacheReadInputTokens, &u.usage.CacheReadInputTokens}} {
		if f.src != nil {
			*f.dst = *f.src
		}
	}
}

func (u *usageSniffer) Write(p []byte) {
	if !u.sse {
		if len(u.buf)+len(p) > maxSniffed {
			u.tooLong = true
			return
		}
		u.buf = append(u.buf, p...)
		return
	}
	for len(p) > 0 {
		i := bytes.IndexByte(p, '\n')
		if i < 0 {
			if !u.skip && len(u.buf)+len(p) <= maxSniffed {
				u.buf = append(u.buf, p...)
			} else {
				u.skip = true
			}
			return
		}
		if !u.skip {
			u.line(append(u.buf, p[:i]...))
		}
		u.buf, u.skip, p = u.buf[:0], false, p[i+1:]
	}
}

func (u *usageSniffer) line(l []byte) {
	data, ok := bytes.CutPrefix(l, []byte("data: "))
	if !ok || !(bytes.Contains(data, []byte(`"message_start"`)) || bytes.Contains(data, []byte(`"message_delta"`))) {
		return
	}
	var ev struct {
		Message *struct {
			ID    string        `json:"id"`
			Usage *sniffedUsage `json:"usage"`
		} `json:"message"`
		Usage *sniffedUsage `json:"usage"`
	}
	if json.Unmarshal(data, &ev) != nil {
		return
	}
	if ev.Message != nil {
		u.id = ev.Message.ID
		u.apply(ev.Message.Usage)
	}
	u.apply(ev.Usage)
}

func (u *usageSniffer) result() (agentloop.Usage, string, bool) {
	if !u.sse && !u.tooLong {
		var m struct {
			ID    string        `json:"id"`
			Usage *sniffedUsage `json:"usage"`
		}
		if json.Unmarshal(u.buf, &m) == nil {
			u.id = m.ID
			u.apply(m.Usage)
		}
	}
	return u.usage, u.id, u.found
}

// maxInlinedFile caps a file referenced by an image or document block, which is sent to
// the model inline.
const maxInlinedFile = 32 << 20

// resolveFileSources rewrites image and document blocks whose source is a file of the
// Files API ({"type":"file","file_id":…}) to carry the file's bytes, since the upstream
// model provider cannot see this server's files. It reports whether it rewrote any.
func (s *Server) resolveFileSources(ctx context.Context, ws codebox.WorkspaceID, req *agentloop.Request) (bool, error) {
	found := false
	var rewrite func(b *provider.Block) error
	rewrite = func(b *provider.Block) error {
		for i := range b.Content {
			if err := rewrite(&b.Content[i]); err != nil {
				return err
			}
		}
		if (b.Type != provider.TypeImage && b.Type != provider.TypeDocument) || len(b.Raw) == 0 {
			return nil
		}
		var blk map[string]json.RawMessage
		if json.Unmarshal(b.Raw, &blk) != nil {
			return nil
		}
		var src struct {
			Type   string `json:"type"`
			FileID string `json:"file_id"`
		}
		if json.Unmarshal(blk["source"], &src) != nil || src.Type != "file" {
			return nil
		}
		found = true
		if s.Files == nil {
			return errdefs.New(errdefs.ErrInvalid, "", "file sources are not available on this server")
		}
		f, body, err := s.Files.Open(ctx, ws, src.FileID)
		if err != nil {
			return err
		}
		defer body.Close()
		if f.Size > maxInlinedFile {
			return errdefs.New(errdefs.ErrInvalid, "", "file %s is too large to send to the model (%d bytes, at most %d)", src.FileID, f.Size, maxInlinedFile)
		}
		data, err := io.ReadAll(io.LimitReader(body, maxInlinedFile+1))
		if err != nil {
			return fmt.Errorf("read %s: %w", src.FileID, err)
		}
		mt := f.MimeType
		var source any
		switch {
		case b.Type == provider.TypeDocument && strings.HasPrefix(mt, "text/"):
			source = map[string]string{"type": "text", "media_type": "text/plain", "data": string(data)}
		case b.Type == provider.TypeDocument && mt != "application/pdf":
			return errdefs.New(errdefs.ErrInvalid, "", "file %s (%s) cannot be a document: use a PDF or a text file", src.FileID, mt)
		case b.Type == provider.TypeImage && !strings.HasPrefix(mt, "image/"):
			return errdefs.New(errdefs.ErrInvalid, "", "file %s (%s) is not an image", src.FileID, mt)
		default:
			source = map[string]string{"type": "base64", "media_type": mt, "data": base64.StdEncoding.EncodeToString(data)}
		}
		blk["source"], _ = json.Marshal(source)
		b.Raw, _ = json.Marshal(blk)
		return nil
	}
	for i := range req.Messages {
		for j := range req.Messages[i].Content {
			if err := rewrite(&req.Messages[i].Content[j].Block); err != nil {
				return found, err
			}
		}
	}
	return found, nil
}

// ---- request decoding ----

type wireRequest struct {
	Model         string            `json:"model"`
	MaxTokens     *int64            `json:"max_tokens"`
	Messages      []wireMessageIn   `json:"messages"`
	System        json.RawMessage   `json:"system"`
	Tools         []json.RawMessage `json:"tools"`
	ToolChoice    json.RawMessage   `json:"tool_choice"`
	Stream        bool              `json:"stream"`
	Container     json.RawMessage   `json:"container"`
	Metadata      json.RawMessage   `json:"metadata"`
	StopSequences []string          `json:"stop_sequences"`
	Temperature   *float64          `json:"temperature"`
	TopP          *float64          `json:"top_p"`
	TopK          *int64            `json:"top_k"`
	Thinking      json.RawMessage   `json:"thinking"`
}

type wireMessageIn struct {
	Role    string          `json:"role"`
	Content json.RawMessage `json:"content"`
}

type wireBlockIn struct {
	Type      string          `json:"type"`
	Text      string          `json:"text"`
	Thinking  string          `json:"thinking"`
	Signature string          `json:"signature"`
	ID        string          `json:"id"`
	Name      string          `json:"name"`
	Input     json.RawMessage `json:"input"`
	ToolUseID string          `json:"tool_use_id"`
	Content   json.RawMessage `json:"content"`
	IsError   bool            `json:"is_error"`
	FileID    string          `json:"file_id"`
}

type wireResultIn struct {
	Type            string          `json:"type"`
	Stdout          string          `json:"stdout"`
	EncryptedStdout string          `json:"encrypted_stdout"`
	Stderr          string          `json:"stderr"`
	ReturnCode      int             `json:"return_code"`
	Content         json.RawMessage `json:"content"`
	ErrorCode       string          `json:"error_code"`
	ErrorMessage    *string         `json:"error_message"`
	FileType        string          `json:"file_type"`
	NumLines        int             `json:"num_lines"`
	StartLine       int             `json:"start_line"`
	TotalLines      int             `json:"total_lines"`
	IsFileUpdate    *bool           `json:"is_file_update"`
	OldStart        int             `json:"old_start"`
	OldLines        int             `json:"old_lines"`
	NewStart        int             `json:"new_start"`
	NewLines        int             `json:"new_lines"`
	Lines           []string        `json:"lines"`
}

func invalidf(format string, args ...any) error {
	return errdefs.New(errdefs.ErrInvalid, "", format, args...)
}

// fromWireRequest validates and converts a request; uploads reports whether it holds
// container_upload blocks.
func fromWireRequest(wr *wireRequest) (_ *agentloop.Request, uploads bool, _ error) {
	if wr.Model == "" {
		return nil, false, invalidf("model: Field required")
	}
	if wr.MaxTokens == nil {
		return nil, false, invalidf("max_tokens: Field required")
	}
	if *wr.MaxTokens < 1 {
		return nil, false, invalidf("max_tokens: must be at least 1")
	}
	if len(wr.Messages) == 0 {
		return nil, false, invalidf("messages: at least one message is required")
	}
	req := &agentloop.Request{
		Model: wr.Model, MaxTokens: *wr.MaxTokens, StopSequences: wr.StopSequences,
		Temperature: wr.Temperature, TopP: wr.TopP, TopK: wr.TopK,
		Thinking: nullToNil(wr.Thinking), Metadata: nullToNil(wr.Metadata),
	}
	var err error
	if req.System, err = decodeSystem(wr.System); err != nil {
		return nil, false, err
	}
	for i, raw := range wr.Tools {
		if err := decodeTool(req, i, raw); err != nil {
			return nil, false, err
		}
	}
	if req.ToolChoice, err = decodeToolChoice(wr.ToolChoice); err != nil {
		return nil, false, err
	}
	if req.Container, err = decodeContainer(wr.Container); err != nil {
		return nil, false, err
	}
	for i, m := range wr.Messages {
		if m.Role != "user" && m.Role != "assistant" {
			return nil, false, invalidf("messages.%d.role: must be \"user\" or \"assistant\", got %q", i, m.Role)
		}
		content, err := decodeContent(m.Content, fmt.Sprintf("messages.%d.content", i))
		if err != nil {
			return nil, false, err
		}
		for _, b := range content {
			if b.Type == agentloop.TypeContainerUpload {
				uploads = true
			}
		}
		req.Messages = append(req.Messages, agentloop.Message{Role: m.Role, Content: content})
	}
	if uploads && req.CodeExecution == "" {
		return nil, false, invalidf("container_upload blocks require a code execution tool (code_execution_20250825 or later) in tools")
	}
	return req, uploads, nil
}

func nullToNil(raw json.RawMessage) json.RawMessage {
	if t := bytes.TrimSpace(raw); len(t) == 0 || string(t) == "null" {
		return nil
	}
	return raw
}

func decodeSystem(raw json.RawMessage) ([]provider.Block, error) {
	raw = nullToNil(raw)
	if raw == nil {
		return nil, nil
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		if s == "" {
			return nil, nil
		}
		return []provider.Block{{Type: provider.TypeText, Text: s}}, nil
	}
	var blocks []json.RawMessage
	if err := json.Unmarshal(raw, &blocks); err != nil {
		return nil, invalidf("system: must be a string or an array of text blocks")
	}
	var out []provider.Block
	for i, rb := range blocks {
		var b wireBlockIn
		if err := json.Unmarshal(rb, &b); err != nil || b.Type != "text" {
			return nil, invalidf("system.%d: must be a text block", i)
		}
		out = append(out, provider.Block{Type: provider.TypeText, Text: b.Text, Raw: rb})
	}
	return out, nil
}

func decodeTool(req *agentloop.Request, i int, raw json.RawMessage) error {
	var t struct {
		Type        string          `json:"type"`
		Name        string          `json:"name"`
		Description string          `json:"description"`
		InputSchema json.RawMessage `json:"input_schema"`
	}
	if err := json.Unmarshal(raw, &t); err != nil {
		return invalidf("tools.%d: must be an object: %v", i, err)
	}
	switch {
	case tools.IsCodeExecution(t.Type):
		if t.Name != "" && t.Name != "code_execution" {
			return invalidf("tools.%d.name: must be \"code_execution\" for %s", i, t.Type)
		}
		if req.CodeExecution != "" {
			return invalidf("tools.%d: only one code execution tool may be listed", i)
		}
		req.CodeExecution = t.Type
		return nil
	case strings.HasPrefix(t.Type, "code_execution_"):
		return invalidf("tools.%d.type: unknown code execution tool version %q (use code_execution_20250522, _20250825, _20260120 or _20260521)", i, t.Type)
	case strings.HasPrefix(t.Type, "web_search_"), strings.HasPrefix(t.Type, "web_fetch_"),
		strings.HasPrefix(t.Type, "tool_search_tool_"), strings.HasPrefix(t.Type, "mcp_"):
		return invalidf("tools.%d.type: %s is a server tool this server does not provide", i, t.Type)
	}
	if t.Name == "" {
		return invalidf("tools.%d.name: Field required", i)
	}
	switch t.Name {
	case tools.Bash, tools.TextEditor, tools.Python:
		if req.CodeExecution != "" || t.Type == "" || t.Type == "custom" {
			return invalidf("tools.%d.name: %q is reserved for the code execution tool", i, t.Name)
		}
	}
	schema := nullToNil(t.InputSchema)
	if (t.Type == "" || t.Type == "custom") && schema == nil {
		return invalidf("tools.%d.input_schema: Field required", i)
	}
	if schema == nil {
		schema = json.RawMessage(`{"type":"object"}`)
	}
	req.Tools = append(req.Tools, provider.Tool{Name: t.Name, Description: t.Description, InputSchema: schema, Raw: raw})
	return nil
}

func decodeToolChoice(raw json.RawMessage) (*provider.ToolChoice, error) {
	if raw = nullToNil(raw); raw == nil {
		return nil, nil
	}
	var tc struct {
		Type                   string `json:"type"`
		Name                   string `json:"name"`
		DisableParallelToolUse bool   `json:"disable_parallel_tool_use"`
	}
	if err := json.Unmarshal(raw, &tc); err != nil {
		return nil, invalidf("tool_choice: %v", err)
	}
	switch tc.Type {
	case "auto", "any", "none":
	case "tool":
		if tc.Name == "" {
			return nil, invalidf("tool_choice.name: Field required for type tool")
		}
	default:
		return nil, invalidf("tool_choice.type: must be auto, any, tool or none")
	}
	return &provider.ToolChoice{Type: tc.Type, Name: tc.Name, DisableParallelToolUse: tc.DisableParallelToolUse}, nil
}

func decodeContainer(raw json.RawMessage) (string, error) {
	if raw = nullToNil(raw); raw == nil {
		return "", nil
	}
	var id string
	if json.Unmarshal(raw, &id) == nil {
		return id, nil
	}
	var obj struct {
		ID     *string           `json:"id"`
		Skills []json.RawMessage `json:"skills"`
	}
	if err := json.Unmarshal(raw, &obj); err != nil {
		return "", invalidf("container: must be a container id or an object {id, skills}")
	}
	if len(obj.Skills) > 0 {
		return "", invalidf("container.skills: Agent Skills are not supported by this server")
	}
	if obj.ID == nil {
		return "", nil
	}
	return *obj.ID, nil
}

// decodeContent decodes a message's content: a string or an array of blocks.
func decodeContent(raw json.RawMessage, where string) ([]agentloop.Block, error) {
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return []agentloop.Block{{Block: provider.Block{Type: provider.TypeText, Text: s}}}, nil
	}
	var blocks []json.RawMessage
	if err := json.Unmarshal(raw, &blocks); err != nil {
		return nil, invalidf("%s: must be a string or an array of content blocks", where)
	}
	out := make([]agentloop.Block, 0, len(blocks))
	for j, rb := range blocks {
		b, err := decodeBlock(rb, fmt.Sprintf("%s.%d", where, j))
		if err != nil {
			return nil, err
		}
		out = append(out, b)
	}
	return out, nil
}

func decodeBlock(rb json.RawMessage, where string) (agentloop.Block, error) {
	var w wireBlockIn
	if err := json.Unmarshal(rb, &w); err != nil {
		return agentloop.Block{}, invalidf("%s: invalid content block: %v", where, err)
	}
	b := agentloop.Block{Block: provider.Block{Type: w.Type, Raw: rb}}
	switch w.Type {
	case "":
		return b, invalidf("%s.type: Field required", where)
	case provider.TypeText:
		b.Text = w.Text
	case provider.TypeThinking:
		b.Text, b.Signature = w.Thinking, w.Signature
	case provider.TypeToolUse, agentloop.TypeServerToolUse:
		if w.ID == "" || w.Name == "" {
			return b, invalidf("%s: %s blocks need id and name", where, w.Type)
		}
		b.ID, b.Name, b.Input = w.ID, w.Name, nullToNil(w.Input)
		if b.Input == nil {
			b.Input = json.RawMessage(`{}`)
		}
		if w.Type == agentloop.TypeServerToolUse {
			b.Raw = nil
		}
	case provider.TypeToolResult:
		if w.ToolUseID == "" {
			return b, invalidf("%s.tool_use_id: Field required", where)
		}
		b.ToolUseID, b.IsError = w.ToolUseID, w.IsError
		if c := nullToNil(w.Content); c != nil {
			inner, err := decodeContent(c, where+".content")
			if err != nil {
				return b, err
			}
			for _, ib := range inner {
				b.Content = append(b.Content, ib.Block)
			}
		}
	case agentloop.TypeContainerUpload:
		if w.FileID == "" {
			return b, invalidf("%s.file_id: Field required", where)
		}
		b.FileID, b.Raw = w.FileID, nil
	default:
		if tool := tools.SubToolOfResult(w.Type); tool != "" {
			if w.ToolUseID == "" {
				return b, invalidf("%s.tool_use_id: Field required", where)
			}
			b.ToolUseID, b.Raw = w.ToolUseID, nil
			var rc wireResultIn
			if err := json.Unmarshal(nullToNil(w.Content), &rc); err != nil {
				return b, invalidf("%s.content: invalid %s content: %v", where, w.Type, err)
			}
			b.Result = fromWireResult(tool, &rc)
		}
		// Other blocks (image, document, search_result, redacted_thinking, …) travel in Raw.
	}
	return b, nil
}

func fromWireResult(tool string, rc *wireResultIn) *tools.Result {
	r := &tools.Result{Tool: tool}
	switch {
	case rc.ErrorCode != "" || strings.HasSuffix(rc.Type, "_error"):
		r.ErrorCode = rc.ErrorCode
		if r.ErrorCode == "" {
			r.ErrorCode = tools.ErrCodeUnavailable
		}
		if rc.ErrorMessage != nil {
			r.ErrorMessage = *rc.ErrorMessage
		}
	case tool == tools.TextEditor:
		e := &tools.EditResult{}
		switch {
		case rc.Type == "text_editor_code_execution_create_result" || rc.IsFileUpdate != nil:
			e.Command = tools.EditCreate
			e.IsFileUpdate = rc.IsFileUpdate != nil && *rc.IsFileUpdate
		case rc.Type == "text_editor_code_execution_str_replace_result" || rc.Lines != nil:
			e.Command = tools.EditStrReplace
			e.Replace.OldStart, e.Replace.OldLines, e.Replace.NewStart, e.Replace.NewLines = rc.OldStart, rc.OldLines, rc.NewStart, rc.NewLines
			e.Replace.Lines = rc.Lines
		default:
			e.Command = tools.EditView
			var text string
			json.Unmarshal(rc.Content, &text)
			e.View.FileType, e.View.Content = rc.FileType, text
			e.View.NumLines, e.View.StartLine, e.View.TotalLines = rc.NumLines, rc.StartLine, rc.TotalLines
		}
		r.Edit = e
	default:
		r.Stdout, r.Stderr, r.ReturnCode = rc.Stdout, rc.Stderr, rc.ReturnCode
		if rc.Type == "encrypted_code_execution_result" {
			r.Stdout, r.Encrypted = rc.EncryptedStdout, true
		}
		var outs []struct {
			FileID string `json:"file_id"`
		}
		json.Unmarshal(rc.Content, &outs)
		for _, o := range outs {
			r.Files = append(r.Files, outputFile(o.FileID))
		}
	}
	return r
}
