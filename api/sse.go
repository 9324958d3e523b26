package api

import (
	"encoding/json"
	"net/http"
	"time"

	"github.com/codebox-dev/codebox/agentloop"
	"github.com/codebox-dev/codebox/errdefs"
	"github.com/codebox-dev/codebox/provider"
	"github.com/codebox-dev/codebox/sandbox"
	"github.com/codebox-dev/codebox/skills"
	"github.com/codebox-dev/codebox/tools"
)

// eventStream writes server-sent events: every frame has an event: line (the SDKs skip
// frames without one) and is flushed as written. The 200 status and headers go out with the
// first frame, so a failure before it can still be an ordinary error response.
type eventStream struct {
	w       http.ResponseWriter
	rc      *http.ResponseController
	started bool
	failed  bool // the client went away; later writes are dropped
}

func newEventStream(w http.ResponseWriter) *eventStream {
	return &eventStream{w: w, rc: http.NewResponseController(w)}
}

func (s *eventStream) begin() {
	if s.started {
		return
	}
	s.started = true
	h := s.w.Header()
	h.Set("Content-Type", "text/event-stream; charset=utf-8")
	h.Set("Cache-Control", "no-cache")
	h.Set("X-Accel-Buffering", "no")
	s.w.WriteHeader(http.StatusOK)
}

func (s *eventStream) send(event string, v any) {
	s.begin()
	if s.failed {
		return
	}
	data, err := json.Marshal(v)
	if err != nil {
		data = []byte(`{"type":"error","error":{"type":"api_error","message":"encoding event"}}`)
		event = "error"
	}
	buf := make([]byte, 0, len(data)+len(event)+16)
	buf = append(buf, "event: "...)
	buf = append(buf, event...)
	buf = append(buf, "\ndata: "...)
	buf = append(buf, data...)
	buf = append(buf, "\n\n"...)
	if _, err := s.w.Write(buf); err != nil {
		s.failed = true
		return
	}
	if err := s.rc.Flush(); err != nil {
		s.failed = true
	}
}

// messageStream writes a Messages stream (spec §5), where each event's name equals its
// payload's type.
type messageStream struct {
	*eventStream
}

func newMessageStream(w http.ResponseWriter) *messageStream {
	return &messageStream{newEventStream(w)}
}

type sseTyped struct {
	Type string `json:"type"`
}

type sseMessageStart struct {
	Type    string       `json:"type"`
	Message wireMessageO `json:"message"`
}

type sseBlockStart struct {
	Type         string `json:"type"`
	Index        int    `json:"index"`
	ContentBlock any    `json:"content_block"`
}

type sseBlockDelta struct {
	Type  string `json:"type"`
	Index int    `json:"index"`
	Delta any    `json:"delta"`
}

type sseIndex struct {
	Type  string `json:"type"`
	Index int    `json:"index"`
}

type sseMessageDelta struct {
	Type  string           `json:"type"`
	Delta sseMessageDeltaD `json:"delta"`
	Usage wireUsage        `json:"usage"`
}

type sseMessageDeltaD struct {
	StopReason   *string        `json:"stop_reason"`
	StopSequence *string        `json:"stop_sequence"`
	StopDetails  any            `json:"stop_details"`
	Container    *wireContainer `json:"container"`
}

type textDelta struct {
	Type string `json:"type"`
	Text string `json:"text"`
}

type thinkingDelta struct {
	Type     string `json:"type"`
	Thinking string `json:"thinking"`
}

type signatureDelta struct {
	Type      string `json:"type"`
	Signature string `json:"signature"`
}

type inputJSONDelta struct {
	Type        string `json:"type"`
	PartialJSON string `json:"partial_json"`
}

// loopEvent writes one loop event.
func (s *messageStream) loopEvent(e agentloop.Event) {
	switch e.Type {
	case agentloop.EventMessageStart:
		m := toWireMessage(e.Message)
		m.Content = []any{}
		m.StopReason, m.StopSequence = nil, nil
		m.Usage = toWireUsage(agentloop.Usage{}, e.Message.Container != nil)
		s.send("message_start", sseMessageStart{Type: "message_start", Message: m})
	case agentloop.EventBlockStart:
		s.send("content_block_start", sseBlockStart{Type: "content_block_start", Index: e.Index, ContentBlock: startBlock(e.Block)})
	case agentloop.EventBlockDelta:
		var d any
		switch e.DeltaType {
		case agentloop.DeltaText:
			d = textDelta{"text_delta", e.Delta}
		case agentloop.DeltaThinking:
			d = thinkingDelta{"thinking_delta", e.Delta}
		case agentloop.DeltaSignature:
			d = signatureDelta{"signature_delta", e.Delta}
		default:
			d = inputJSONDelta{"input_json_delta", e.Delta}
		}
		s.send("content_block_delta", sseBlockDelta{Type: "content_block_delta", Index: e.Index, Delta: d})
	case agentloop.EventBlockStop:
		s.send("content_block_stop", sseIndex{Type: "content_block_stop", Index: e.Index})
	case agentloop.EventPing:
		s.send("ping", sseTyped{"ping"})
	}
}

// startBlock is the content_block_start form of b: text and thinking empty, tool input
// {} (its JSON follows as input_json_delta), result blocks whole.
func startBlock(b *agentloop.Block) any {
	switch b.Type {
	case provider.TypeText:
		return textOut{Type: "text", Text: ""}
	case provider.TypeThinking:
		return thinkingOut{Type: "thinking", Thinking: "", Signature: ""}
	case provider.TypeToolUse, agentloop.TypeServerToolUse:
		c := *b
		c.Input = json.RawMessage(`{}`)
		return toWireBlock(&c)
	}
	return toWireBlock(b)
}

// finish writes message_delta with the final stop reason, cumulative usage and the
// container, then message_stop.
func (s *messageStream) finish(resp *agentloop.Response) {
	m := toWireMessage(resp)
	s.send("message_delta", sseMessageDelta{Type: "message_delta",
		Delta: sseMessageDeltaD{StopReason: m.StopReason, StopSequence: m.StopSequence, Container: m.Container},
		Usage: m.Usage})
	s.send("message_stop", sseTyped{"message_stop"})
}

// ---- response encoding ----

type wireMessageO struct {
	ID           string         `json:"id"`
	Type         string         `json:"type"`
	Role         string         `json:"role"`
	Model        string         `json:"model"`
	Content      []any          `json:"content"`
	StopReason   *string        `json:"stop_reason"`
	StopSequence *string        `json:"stop_sequence"`
	StopDetails  any            `json:"stop_details"`
	Container    *wireContainer `json:"container"`
	Usage        wireUsage      `json:"usage"`
}

type wireContainer struct {
	ID        string           `json:"id"`
	ExpiresAt string           `json:"expires_at"`
	Skills    []wireSkillParam `json:"skills"`
}

// wireSkillParam is a skill of the request, with its version resolved.
type wireSkillParam struct {
	Type    string `json:"type"`
	SkillID string `json:"skill_id"`
	Version string `json:"version"`
}

type wireUsage struct {
	InputTokens              int64             `json:"input_tokens"`
	OutputTokens             int64             `json:"output_tokens"`
	CacheCreationInputTokens int64             `json:"cache_creation_input_tokens"`
	CacheReadInputTokens     int64             `json:"cache_read_input_tokens"`
	CacheCreation            wireCacheCreation `json:"cache_creation"`
	ServerToolUse            wireServerToolUse `json:"server_tool_use"`
	ServiceTier              string            `json:"service_tier"`
}

type wireCacheCreation struct {
	Ephemeral5m int64 `json:"ephemeral_5m_input_tokens"`
	Ephemeral1h int64 `json:"ephemeral_1h_input_tokens"`
}

type wireServerToolUse struct {
	WebSearchRequests     int64 `json:"web_search_requests"`
	WebFetchRequests      int64 `json:"web_fetch_requests"`
	CodeExecutionRequests int64 `json:"code_execution_requests"`
}

func toWireUsage(u agentloop.Usage, _ bool) wireUsage {
	return wireUsage{
		InputTokens: u.InputTokens, OutputTokens: u.OutputTokens,
		CacheCreationInputTokens: u.CacheCreationInputTokens, CacheReadInputTokens: u.CacheReadInputTokens,
		CacheCreation: wireCacheCreation{Ephemeral5m: u.CacheCreationInputTokens},
		ServerToolUse: wireServerToolUse{CodeExecutionRequests: u.CodeExecutionRequests},
		ServiceTier:   "standard",
	}
}

func toWireContainer(c *sandbox.Container, refs []skills.Ref) *wireContainer {
	if c == nil {
		return nil
	}
	exp := c.IdleExpiresAt
	if exp.IsZero() {
		exp = c.ExpiresAt
	}
	w := &wireContainer{ID: c.ID, ExpiresAt: exp.UTC().Format(time.RFC3339), Skills: []wireSkillParam{}}
	for _, r := range refs {
		w.Skills = append(w.Skills, wireSkillParam{Type: r.Type, SkillID: r.SkillID, Version: r.Version})
	}
	return w
}

func strPtr(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

func toWireMessage(resp *agentloop.Response) wireMessageO {
	m := wireMessageO{
		ID: resp.ID, Type: "message", Role: "assistant", Model: resp.Model,
		Content:    make([]any, 0, len(resp.Content)),
		StopReason: strPtr(resp.StopReason), StopSequence: strPtr(resp.StopSequence),
		Container: toWireContainer(resp.Container, resp.Skills),
		Usage:     toWireUsage(resp.Usage, resp.Container != nil),
	}
	for i := range resp.Content {
		m.Content = append(m.Content, toWireBlock(&resp.Content[i]))
	}
	return m
}

var directCaller = callerOut{Type: "direct"}

type callerOut struct {
	Type   string `json:"type"`
	ToolID string `json:"tool_id,omitempty"`
}

type textOut struct {
	Type string `json:"type"`
	Text string `json:"text"`
}

type thinkingOut struct {
	Type      string `json:"type"`
	Thinking  string `json:"thinking"`
	Signature string `json:"signature"`
}

type toolUseOut struct {
	Type   string          `json:"type"`
	ID     string          `json:"id"`
	Name   string          `json:"name"`
	Input  json.RawMessage `json:"input"`
	Caller callerOut       `json:"caller"`
}

type resultOut struct {
	Type      string `json:"type"`
	ToolUseID string `json:"tool_use_id"`
	Content   any    `json:"content"`
}

type execOut struct {
	Type       string       `json:"type"`
	Stdout     string       `json:"stdout"`
	Stderr     string       `json:"stderr"`
	ReturnCode int          `json:"return_code"`
	Content    []fileOutput `json:"content"`
}

type fileOutput struct {
	Type   string `json:"type"`
	FileID string `json:"file_id"`
}

type errorOut struct {
	Type      string `json:"type"`
	ErrorCode string `json:"error_code"`
}

type editErrorOut struct {
	Type         string  `json:"type"`
	ErrorCode    string  `json:"error_code"`
	ErrorMessage *string `json:"error_message"`
}

type viewOut struct {
	Type       string `json:"type"`
	FileType   string `json:"file_type"`
	Content    string `json:"content"`
	NumLines   int    `json:"num_lines"`
	StartLine  int    `json:"start_line"`
	TotalLines int    `json:"total_lines"`
}

type createOut struct {
	Type         string `json:"type"`
	IsFileUpdate bool   `json:"is_file_update"`
}

type replaceOut struct {
	Type     string   `json:"type"`
	OldStart int      `json:"old_start"`
	OldLines int      `json:"old_lines"`
	NewStart int      `json:"new_start"`
	NewLines int      `json:"new_lines"`
	Lines    []string `json:"lines"`
}

// toWireBlock converts one response block to its wire shape (spec §4.5).
func toWireBlock(b *agentloop.Block) any {
	switch {
	case b.Type == provider.TypeText:
		return textOut{Type: "text", Text: b.Text}
	case b.Type == provider.TypeThinking:
		return thinkingOut{Type: "thinking", Thinking: b.Text, Signature: b.Signature}
	case b.Type == provider.TypeToolUse || b.Type == agentloop.TypeServerToolUse:
		in := b.Input
		if len(in) == 0 {
			in = json.RawMessage(`{}`)
		}
		caller := directCaller
		if b.Caller.Programmatic() {
			caller = callerOut{Type: b.Caller.Type, ToolID: b.Caller.ToolID}
		}
		return toolUseOut{Type: b.Type, ID: b.ID, Name: b.Name, Input: in, Caller: caller}
	case b.IsToolResult():
		return resultOut{Type: b.Type, ToolUseID: b.ToolUseID, Content: toWireResult(b.Result)}
	case len(b.Raw) > 0:
		return b.Raw
	}
	return textOut{Type: "text", Text: b.Text}
}

func toWireResult(r *tools.Result) any {
	if r == nil {
		return errorOut{Type: "code_execution_tool_result_error", ErrorCode: errdefs.CodeUnavailable}
	}
	if r.IsError() {
		if r.Tool == tools.TextEditor {
			return editErrorOut{Type: r.Tool + "_tool_result_error", ErrorCode: r.ErrorCode, ErrorMessage: strPtr(r.ErrorMessage)}
		}
		return errorOut{Type: r.Tool + "_tool_result_error", ErrorCode: r.ErrorCode}
	}
	if r.Edit != nil {
		switch r.Edit.Command {
		case tools.EditCreate:
			return createOut{Type: "text_editor_code_execution_create_result", IsFileUpdate: r.Edit.IsFileUpdate}
		case tools.EditStrReplace:
			p := r.Edit.Replace
			lines := p.Lines
			if lines == nil {
				lines = []string{}
			}
			return replaceOut{Type: "text_editor_code_execution_str_replace_result", OldStart: p.OldStart, OldLines: p.OldLines,
				NewStart: p.NewStart, NewLines: p.NewLines, Lines: lines}
		default:
			v := r.Edit.View
			ft := v.FileType
			if ft == "" {
				ft = "text"
			}
			return viewOut{Type: "text_editor_code_execution_view_result", FileType: ft, Content: v.Content,
				NumLines: v.NumLines, StartLine: v.StartLine, TotalLines: v.TotalLines}
		}
	}
	out := execOut{Type: r.Tool + "_result", Stdout: r.Stdout, Stderr: r.Stderr, ReturnCode: r.ReturnCode, Content: []fileOutput{}}
	for _, f := range r.Files {
		out.Content = append(out.Content, fileOutput{Type: r.Tool + "_output", FileID: f.FileID})
	}
	return out
}

func outputFile(id string) sandbox.OutputFile { return sandbox.OutputFile{FileID: id} }
