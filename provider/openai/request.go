package openai

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/packages/param"
	"github.com/openai/openai-go/v3/shared"

	"github.com/codebox-dev/codebox/errdefs"
	"github.com/codebox-dev/codebox/provider"
)

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
