package agentloop

import (
	"encoding/json"
	"fmt"

	"github.com/codebox-dev/codebox/provider"
	"github.com/codebox-dev/codebox/tools"
)

// pendingCall is a server_tool_use the client sent back without its result (the model
// also called a client tool in that turn). The loop runs it before the next model turn
// and fills its tool_result slot in the converted conversation.
type pendingCall struct {
	ID, Name string
	Input    json.RawMessage
	msg, blk int // position of its tool_result slot in the converted messages
	// resume is set for a code execution call whose code awaits client tools.
	resume *resumeCall
}

// converted is the conversation as the model sees it.
type converted struct {
	messages []provider.Message
	pending  []pendingCall
}

// uploadNames maps a container_upload's file id to the name it has in the container.
type uploadNames map[string]string

// convert turns the client's conversation into the model's: each server_tool_use
// becomes a tool_use of the same id and each result block a tool_result rendered as
// text, split into assistant/user turns the way the calls happened; container_upload
// blocks become a text note naming the file's place in the container.
//
// Programmatic tool calls (tool_use blocks with a code execution caller) and their
// tool_results are not the model's: they are left out, and a code execution call that
// awaits them is pending, to resume with the client's answers of the last user turn.
func convert(msgs []Message, names uploadNames) converted {
	results := map[string]*Block{}
	for i := range msgs {
		for j := range msgs[i].Content {
			if b := &msgs[i].Content[j]; b.IsToolResult() {
				results[b.ToolUseID] = b
			}
		}
	}
	prog := programmaticCalls(msgs)
	var c converted
	used := map[string]bool{}
	var carry []provider.Block // tool_results owed to the next user turn
	var carryPending []pendingCall

	appendMsg := func(role string, content []provider.Block) {
		if len(content) == 0 {
			return
		}
		if n := len(c.messages); n > 0 && c.messages[n-1].Role == role {
			c.messages[n-1].Content = append(c.messages[n-1].Content, content...)
			return
		}
		c.messages = append(c.messages, provider.Message{Role: role, Content: content})
	}
	// flushCarry emits owed tool_results as a user turn, recording where the pending
	// slots landed.
	flushCarry := func(extra []provider.Block) {
		if len(carry) == 0 {
			appendMsg("user", extra)
			return
		}
		content := append(carry, extra...)
		appendMsg("user", content)
		last := len(c.messages) - 1
		offset := len(c.messages[last].Content) - len(content)
		for _, p := range carryPending {
			p.msg, p.blk = last, offset+p.blk
			c.pending = append(c.pending, p)
		}
		carry, carryPending = nil, nil
	}

	for _, m := range msgs {
		if m.Role != "assistant" {
			var content []provider.Block
			for _, b := range m.Content {
				switch {
				case b.Type == TypeContainerUpload:
					name := names[b.FileID]
					if name == "" {
						name = b.FileID
					}
					content = append(content, provider.Block{Type: provider.TypeText,
						Text: fmt.Sprintf("[The file %s (%s) is in the container at /workspace/%s]", name, b.FileID, name)})
				case b.IsToolResult(), b.Type == TypeServerToolUse:
					// Server blocks belong to assistant turns; a client that puts them in a
					// user turn gets them ignored rather than a confused model.
				case b.Type == provider.TypeToolResult && prog.calls[b.ToolUseID] != "":
				default:
					content = append(content, b.Block)
				}
			}
			flushCarry(content)
			continue
		}
		flushCarry(nil)
		var seg []provider.Block
		var open []Block
		closeSeg := func() {
			appendMsg("assistant", seg)
			seg = nil
			var trs []provider.Block
			var waiting []pendingCall
			for _, u := range open {
				if r, ok := results[u.ID]; ok {
					trs = append(trs, toolResultBlock(u.ID, r.Result))
					used[u.ID] = true
				} else if rc := prog.resume(u.ID); rc != nil {
					// Its code awaits client tools: it resumes, and its result fills
					// this slot.
					waiting = append(waiting, pendingCall{ID: u.ID, Name: u.Name, Input: u.Input, blk: len(trs), resume: rc})
					trs = append(trs, provider.Block{Type: provider.TypeToolResult, ToolUseID: u.ID})
				} else {
					trs = append(trs, provider.Block{Type: provider.TypeToolResult, ToolUseID: u.ID, IsError: true,
						Content: []provider.Block{{Type: provider.TypeText, Text: "Error: this call was not executed."}}})
				}
			}
			appendMsg("user", trs)
			if len(waiting) > 0 {
				last := len(c.messages) - 1
				offset := len(c.messages[last].Content) - len(trs)
				for _, p := range waiting {
					p.msg, p.blk = last, offset+p.blk
					c.pending = append(c.pending, p)
				}
			}
			open = nil
		}
		for _, b := range m.Content {
			switch {
			case b.Type == TypeServerToolUse:
				seg = append(seg, provider.Block{Type: provider.TypeToolUse, ID: b.ID, Name: b.Name, Input: objectOrEmpty(b.Input)})
				open = append(open, b)
			case b.IsToolResult():
				if used[b.ToolUseID] {
					continue
				}
				for _, u := range open {
					if u.ID == b.ToolUseID {
						closeSeg()
						break
					}
				}
			case b.Type == TypeContainerUpload, b.Type == provider.TypeToolUse && b.Caller.Programmatic():
			default:
				seg = append(seg, b.Block)
			}
		}
		appendMsg("assistant", seg)
		for _, u := range open {
			if r, ok := results[u.ID]; ok {
				// Its result came in a later assistant message (after a client tool).
				carry = append(carry, toolResultBlock(u.ID, r.Result))
				used[u.ID] = true
				continue
			}
			carryPending = append(carryPending, pendingCall{ID: u.ID, Name: u.Name, Input: u.Input, blk: len(carry), resume: prog.resume(u.ID)})
			carry = append(carry, provider.Block{Type: provider.TypeToolResult, ToolUseID: u.ID})
		}
	}
	if len(carry) > 0 {
		flushCarry(nil)
	}
	return c
}

// toolResultBlock renders a sub-tool result for the model.
func toolResultBlock(id string, r *tools.Result) provider.Block {
	text := "Error: no result."
	isErr := true
	if r != nil {
		text, isErr = r.Text(), r.IsError()
	}
	return provider.Block{Type: provider.TypeToolResult, ToolUseID: id, IsError: isErr,
		Content: []provider.Block{{Type: provider.TypeText, Text: text}}}
}

// objectOrEmpty returns in when it is a JSON object, else {}.
func objectOrEmpty(in json.RawMessage) json.RawMessage {
	var m map[string]json.RawMessage
	if len(in) == 0 || json.Unmarshal(in, &m) != nil || m == nil {
		return json.RawMessage(`{}`)
	}
	return in
}

// progCalls are the programmatic tool calls of a conversation.
type progCalls struct {
	// calls maps each programmatic tool_use id to the srvtoolu id of its caller.
	calls map[string]string
	// answers holds, by caller, the client's answers in the last user turn.
	answers map[string]map[string]Answer
}

func programmaticCalls(msgs []Message) progCalls {
	p := progCalls{calls: map[string]string{}, answers: map[string]map[string]Answer{}}
	for _, m := range msgs {
		if m.Role != "assistant" {
			continue
		}
		for _, b := range m.Content {
			if b.Type == provider.TypeToolUse && b.Caller.Programmatic() {
				p.calls[b.ID] = b.Caller.ToolID
			}
		}
	}
	if n := len(msgs); n > 0 && msgs[n-1].Role == "user" {
		for _, b := range msgs[n-1].Content {
			caller := p.calls[b.ToolUseID]
			if b.Type != provider.TypeToolResult || caller == "" {
				continue
			}
			if p.answers[caller] == nil {
				p.answers[caller] = map[string]Answer{}
			}
			p.answers[caller][b.ToolUseID] = Answer{Text: resultText(b.Content), IsError: b.IsError}
		}
	}
	return p
}

// resume returns the resumption of code execution call id when its code made
// programmatic calls, else nil.
func (p progCalls) resume(id string) *resumeCall {
	for _, caller := range p.calls {
		if caller == id {
			return &resumeCall{ID: id, Results: p.answers[id]}
		}
	}
	return nil
}

// resultText is the text of a tool_result's content.
func resultText(content []provider.Block) string {
	var s string
	for _, b := range content {
		if b.Type == provider.TypeText {
			s += b.Text
		}
	}
	return s
}
