package api

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/codebox-dev/codebox/agentloop"
	"github.com/codebox-dev/codebox/errdefs"
	"github.com/codebox-dev/codebox/provider"
	"github.com/codebox-dev/codebox/skills"
	"github.com/codebox-dev/codebox/tools"
)

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
	Caller    *wireCaller     `json:"caller"`
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
	if err := checkToolChoice(req); err != nil {
		return nil, false, err
	}
	if req.Container, req.ContainerImage, req.Skills, err = decodeContainer(wr.Container); err != nil {
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
	if err := req.CheckUploads(); err != nil {
		return nil, false, err
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
		Type           string          `json:"type"`
		Name           string          `json:"name"`
		Description    string          `json:"description"`
		InputSchema    json.RawMessage `json:"input_schema"`
		AllowedCallers []string        `json:"allowed_callers"`
	}
	if err := json.Unmarshal(raw, &t); err != nil {
		return invalidf("tools.%d: must be an object: %v", i, err)
	}
	if t.AllowedCallers != nil {
		var err error
		if raw, err = takeAllowedCallers(req, i, t.Name, t.AllowedCallers, raw); err != nil {
			return err
		}
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

// decodeContainer decodes the request's container: an id, or an object with an id, the
// skills to load and, as a codebox extension, the image a new container runs.
func decodeContainer(raw json.RawMessage) (id, image string, refs []skills.Ref, err error) {
	if raw = nullToNil(raw); raw == nil {
		return "", "", nil, nil
	}
	if json.Unmarshal(raw, &id) == nil {
		return id, "", nil, nil
	}
	var obj struct {
		ID     *string           `json:"id"`
		Skills []json.RawMessage `json:"skills"`
		Image  *string           `json:"image"`
	}
	if err := json.Unmarshal(raw, &obj); err != nil {
		return "", "", nil, invalidf("container: must be a container id or an object {id, skills, image}")
	}
	for i, rs := range obj.Skills {
		var s struct {
			Type    string  `json:"type"`
			SkillID string  `json:"skill_id"`
			Version *string `json:"version"`
		}
		if err := json.Unmarshal(rs, &s); err != nil {
			return "", "", nil, invalidf("container.skills.%d: must be an object {type, skill_id, version}", i)
		}
		switch {
		case s.Type == "":
			return "", "", nil, invalidf("container.skills.%d.type: Field required", i)
		case s.SkillID == "":
			return "", "", nil, invalidf("container.skills.%d.skill_id: Field required", i)
		case s.Version != nil && (*s.Version == "" || len(*s.Version) > 64):
			return "", "", nil, invalidf("container.skills.%d.version: must be 1 to 64 characters", i)
		}
		ref := skills.Ref{Type: s.Type, SkillID: s.SkillID}
		if s.Version != nil {
			ref.Version = *s.Version
		}
		refs = append(refs, ref)
	}
	if obj.ID != nil {
		id = *obj.ID
	}
	if obj.Image != nil {
		image = *obj.Image
	}
	return id, image, refs, nil
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
		b.Caller = w.Caller.toCaller()
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
			r.ErrorCode = errdefs.CodeUnavailable
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
