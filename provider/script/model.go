package script

import (
	"context"
	"fmt"
	"sync/atomic"

	"github.com/codebox-dev/codebox/provider"
)

// Model serves a Script as a provider.Model. It is safe for concurrent use.
type Model struct {
	script *Script
	calls  atomic.Int64
}

// NewModel returns a Model serving s.
func NewModel(s *Script) *Model { return &Model{script: s} }

// Calls reports how many turns the model has been asked for, failed ones included.
func (m *Model) Calls() int64 { return m.calls.Load() }

// CountTokens implements provider.TokenCounter with the estimate Turn reports as input
// tokens when its turn sets no usage.
func (m *Model) CountTokens(ctx context.Context, req *provider.Request) (int64, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	return estimate(requestBytes(req)), nil
}

// Turn answers req with the scripted turn its conversation has reached (see the package
// comment). A scripted error comes back as the error provider.UpstreamError makes of its
// status and message. With events, text and thinking arrive in up to three deltas and
// tool input in two.
func (m *Model) Turn(ctx context.Context, req *provider.Request, events func(provider.Event)) (*provider.Response, error) {
	m.calls.Add(1)
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	turn, idx, err := m.script.pick(assistantTurns(req.Messages))
	if err != nil {
		return nil, err
	}
	if turn.Error != nil && (!turn.Error.MidStream || events == nil) {
		return nil, provider.UpstreamError(turn.Error.Status, turn.Error.Message, nil)
	}
	resp := &provider.Response{
		ID:           fmt.Sprintf("msg_script_%d", idx),
		Model:        req.Model,
		StopReason:   turn.stopReason(),
		StopSequence: turn.StopSequence,
		Usage:        turn.usage(requestBytes(req)),
	}
	for j, sb := range turn.Content {
		b := toProvider(sb, idx, j)
		if events != nil {
			emit(events, len(resp.Content), b)
		}
		resp.Content = append(resp.Content, b)
	}
	if turn.Error != nil {
		return nil, provider.UpstreamError(turn.Error.Status, turn.Error.Message, nil)
	}
	return resp, nil
}

// toProvider converts block j of turn idx.
func toProvider(sb Block, idx, j int) provider.Block {
	switch sb.Type {
	case provider.TypeThinking:
		return provider.Block{Type: provider.TypeThinking, Text: sb.Thinking, Signature: sb.Signature}
	case provider.TypeToolUse:
		return provider.Block{Type: provider.TypeToolUse, ID: toolID(sb, idx, j), Name: sb.Name, Input: input(sb)}
	default:
		return provider.Block{Type: provider.TypeText, Text: sb.Text}
	}
}

// emit streams b as block i.
func emit(events func(provider.Event), i int, b provider.Block) {
	start := provider.Block{Type: b.Type, ID: b.ID, Name: b.Name}
	events(provider.Event{Type: provider.BlockStart, Index: i, Block: &start})
	var deltas []string
	switch b.Type {
	case provider.TypeToolUse:
		deltas = halves(string(b.Input))
	default:
		deltas = splitText(b.Text)
	}
	for _, d := range deltas {
		events(provider.Event{Type: provider.BlockDelta, Index: i, Delta: d})
	}
	done := b
	events(provider.Event{Type: provider.BlockStop, Index: i, Block: &done})
}

// assistantTurns counts assistant messages, consecutive ones once.
func assistantTurns(msgs []provider.Message) int {
	n := 0
	prev := ""
	for _, m := range msgs {
		if m.Role == "assistant" && prev != "assistant" {
			n++
		}
		prev = m.Role
	}
	return n
}

// requestBytes is the size of the request's text, for usage estimates.
func requestBytes(req *provider.Request) int {
	n := blockBytes(req.System)
	for _, m := range req.Messages {
		n += blockBytes(m.Content)
	}
	for _, t := range req.Tools {
		n += len(t.Name) + len(t.Description) + len(t.InputSchema)
	}
	return n
}

func blockBytes(bs []provider.Block) int {
	n := 0
	for _, b := range bs {
		n += len(b.Text) + len(b.Input) + blockBytes(b.Content)
		if b.Text == "" && len(b.Input) == 0 && len(b.Content) == 0 {
			n += len(b.Raw)
		}
	}
	return n
}
