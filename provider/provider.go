// Package provider defines one model turn, independent of any vendor's API: a Request in,
// a Response out, with optional streaming events. Drivers live in subpackages:
// provider/anthropic (Claude, via anthropic-sdk-go), provider/openai (any OpenAI-compatible
// chat-completions endpoint, via openai-go) and provider/script (canned turns for tests and
// offline demos).
package provider

import (
	"context"
	"encoding/json"
)

// Model runs one model turn.
type Model interface {
	// Turn sends req and returns the model's complete turn. When events is non-nil the
	// driver streams from upstream and calls events, in order and from one goroutine, as
	// blocks are produced: BlockStart, then zero or more BlockDelta, then BlockStop, for
	// each block, with Index counting blocks of this turn from 0.
	//
	// Errors are *errdefs.Public values of kind errdefs.ErrRateLimited (upstream 429),
	// ErrUnavailable (529/503, overloaded), ErrUpstream (other 5xx or a broken stream),
	// ErrInvalid (upstream 400), ErrUnauthenticated/ErrPermission (upstream 401/403),
	// ErrTimeout, carrying the upstream's message; or ctx's error.
	Turn(ctx context.Context, req *Request, events func(Event)) (*Response, error)
}

// Request is the model-neutral form of one turn's input.
type Request struct {
	Model         string // the upstream model name (routing prefix removed)
	System        []Block
	Messages      []Message
	Tools         []Tool
	ToolChoice    *ToolChoice
	MaxTokens     int64
	StopSequences []string
	Temperature   *float64
	TopP          *float64
	TopK          *int64
	// Thinking is the client's thinking config, passed as is to providers that support it.
	Thinking json.RawMessage
	// Metadata is the client's metadata object, passed as is where supported.
	Metadata json.RawMessage
}

// Message is one conversation turn. Role is "user" or "assistant".
type Message struct {
	Role    string
	Content []Block
}

// Block types the loop produces and every driver must handle. Drivers pass other types
// (image, document, search_result, redacted_thinking, …) through from Raw when their API
// can express them, and otherwise render them as text or drop them with a note.
const (
	TypeText       = "text"
	TypeThinking   = "thinking"
	TypeToolUse    = "tool_use"
	TypeToolResult = "tool_result"
	TypeImage      = "image"
	TypeDocument   = "document"
)

// Block is one content block.
type Block struct {
	Type string
	// Text is the text of a text block, or the thinking text of a thinking block.
	Text string
	// Signature is a thinking block's signature.
	Signature string
	// ID, Name and Input describe a tool_use block. Input is a JSON object.
	ID    string
	Name  string
	Input json.RawMessage
	// ToolUseID, Content and IsError describe a tool_result block.
	ToolUseID string
	Content   []Block
	IsError   bool
	// Raw is the block exactly as the client sent it (Anthropic wire JSON), kept so that
	// drivers can forward what they do not interpret (images, documents, citations,
	// cache_control) without loss. Empty for blocks the loop made itself. Drivers use Raw
	// in place of the fields only while its "type" equals Type, so code that rewrites a
	// block into another type need not clear it, but code that edits a block's fields
	// in place must.
	Raw json.RawMessage
}

// Tool is a tool the model may call.
type Tool struct {
	Name        string
	Description string
	InputSchema json.RawMessage // a JSON Schema object
	// Raw is the client's tool definition as sent (Anthropic wire JSON), forwarded as is
	// to Anthropic for client tools; empty for the code execution sub-tools.
	Raw json.RawMessage
}

// ToolChoice is the client's tool_choice: Type is "auto", "any", "tool" or "none"; Name
// is set for "tool".
type ToolChoice struct {
	Type                   string
	Name                   string
	DisableParallelToolUse bool
}

// Response is the model's complete turn.
type Response struct {
	ID           string
	Model        string
	Content      []Block
	StopReason   string // end_turn, max_tokens, stop_sequence, tool_use, refusal, …
	StopSequence string
	Usage        Usage
}

// Usage is the token count of one turn.
type Usage struct {
	InputTokens              int64 `json:"input_tokens"`
	OutputTokens             int64 `json:"output_tokens"`
	CacheCreationInputTokens int64 `json:"cache_creation_input_tokens,omitempty"`
	CacheReadInputTokens     int64 `json:"cache_read_input_tokens,omitempty"`
}

// Add adds o's counts to u.
func (u *Usage) Add(o Usage) {
	u.InputTokens += o.InputTokens
	u.OutputTokens += o.OutputTokens
	u.CacheCreationInputTokens += o.CacheCreationInputTokens
	u.CacheReadInputTokens += o.CacheReadInputTokens
}

// EventType says what an Event carries.
type EventType int

const (
	// BlockStart opens block Index; Block has its Type (and ID and Name for tool_use).
	BlockStart EventType = iota
	// BlockDelta carries Delta: text for text blocks, thinking text for thinking blocks,
	// a fragment of the input JSON for tool_use blocks.
	BlockDelta
	// BlockStop closes block Index; Block is the complete block.
	BlockStop
)

// Event is one streaming event of a turn.
type Event struct {
	Type  EventType
	Index int
	Block *Block
	Delta string
}
