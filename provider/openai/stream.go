package openai

import (
	"strings"

	"github.com/openai/openai-go/v3"

	"github.com/codebox-dev/codebox/provider"
)

// assembler turns chat-completion chunks into provider events and the final Response.
// Blocks open in arrival order and are contiguous: a block closes when content for
// another block arrives. Text whitespace that arrives before any visible text is held
// back, so a whitespace-only text block (which non-streamed translation drops too) is
// never opened. A tool call is known by its index, or by a new id at a known index
// (some servers omit the index). Servers stream tool calls one after the other; an argument fragment for
// a tool call whose block already closed still reaches the final Response, but not the
// events.
type assembler struct {
	events   func(provider.Event)
	thinking bool
	quirks   Quirks

	id, model    string
	finishReason string
	refusal      bool
	usage        openai.CompletionUsage

	blocks  []provider.Block
	args    map[int]*strings.Builder // block index → tool arguments so far
	tools   map[int64]int            // tool call index → block index
	open    int                      // the open block's index, or -1
	hidden  strings.Builder          // reasoning not shown, kept for Quirks.ReasoningBack
	pending string                   // leading whitespace of a text block not yet opened
}

func newAssembler(events func(provider.Event), thinking bool, q Quirks) *assembler {
	return &assembler{events: events, thinking: thinking, quirks: q, open: -1,
		args: map[int]*strings.Builder{}, tools: map[int64]int{}}
}

func (a *assembler) chunk(c openai.ChatCompletionChunk) {
	if a.id == "" {
		a.id = c.ID
	}
	if a.model == "" {
		a.model = c.Model
	}
	if c.JSON.Usage.Valid() {
		a.usage = c.Usage
	}
	for _, ch := range c.Choices {
		if ch.Index != 0 {
			continue
		}
		d := ch.Delta
		text, thoughts := contentOf(d.Content, d.JSON.Content.Raw())
		if r := reasoning(d.JSON.ExtraFields) + thoughts; r != "" {
			if a.thinking {
				a.appendText(provider.TypeThinking, r)
			} else if a.quirks.ReasoningBack {
				a.hidden.WriteString(r)
			}
		}
		if d.Refusal != "" {
			a.refusal = true
			a.appendText(provider.TypeText, d.Refusal)
		}
		if text != "" {
			a.appendText(provider.TypeText, text)
		}
		for _, tc := range d.ToolCalls {
			if tc.Type != "" && tc.Type != "function" {
				continue
			}
			bi, ok := a.tools[tc.Index]
			if ok && tc.ID != "" && a.quirks.inID(tc.ID) != a.blocks[bi].ID {
				// A new call reusing an index: servers that omit "index" (it then
				// reads as 0) send each call whole, with its own id.
				ok = false
			}
			if !ok {
				id := a.quirks.inID(tc.ID)
				if id == "" {
					id = newToolID()
				}
				bi = a.start(provider.Block{Type: provider.TypeToolUse, ID: id, Name: tc.Function.Name})
				a.tools[tc.Index] = bi
				a.args[bi] = &strings.Builder{}
			} else if a.blocks[bi].Name == "" && tc.Function.Name != "" {
				a.blocks[bi].Name = tc.Function.Name
			}
			if frag := tc.Function.Arguments; frag != "" {
				a.args[bi].WriteString(frag)
				if a.open == bi {
					a.events(provider.Event{Type: provider.BlockDelta, Index: bi, Delta: frag})
				}
			}
		}
		if ch.FinishReason != "" {
			a.finishReason = ch.FinishReason
		}
	}
}

// appendText adds text to the open block of type typ, opening one if needed.
func (a *assembler) appendText(typ, text string) {
	if a.open >= 0 && a.blocks[a.open].Type == typ {
		a.blocks[a.open].Text += text
		a.events(provider.Event{Type: provider.BlockDelta, Index: a.open, Delta: text})
		return
	}
	if typ == provider.TypeText {
		a.pending += text
		if strings.TrimSpace(a.pending) == "" {
			return
		}
		text, a.pending = a.pending, ""
	}
	i := a.start(provider.Block{Type: typ})
	a.blocks[i].Text = text
	a.events(provider.Event{Type: provider.BlockDelta, Index: i, Delta: text})
}

// start closes the open block and opens b, returning its index.
func (a *assembler) start(b provider.Block) int {
	a.close()
	a.blocks = append(a.blocks, b)
	a.open = len(a.blocks) - 1
	s := provider.Block{Type: b.Type, ID: b.ID, Name: b.Name}
	a.events(provider.Event{Type: provider.BlockStart, Index: a.open, Block: &s})
	if b.Type == provider.TypeText {
		a.pending = ""
	}
	return a.open
}

// close ends the open block, if any.
func (a *assembler) close() {
	if a.open < 0 {
		return
	}
	i := a.open
	a.open = -1
	a.seal(i)
	done := a.blocks[i]
	a.events(provider.Event{Type: provider.BlockStop, Index: i, Block: &done})
}

// seal completes block i's fields from what has arrived.
func (a *assembler) seal(i int) {
	if args, ok := a.args[i]; ok {
		a.blocks[i].Input = toolInput(args.String())
	}
}

func (a *assembler) finish() *provider.Response {
	a.close()
	for i := range a.blocks {
		a.seal(i)
	}
	stop := stopReason(a.finishReason, len(a.tools) > 0)
	if a.refusal {
		stop = "refusal"
	}
	return &provider.Response{ID: a.id, Model: a.model, Content: a.blocks, StopReason: stop, Usage: usage(a.usage)}
}
