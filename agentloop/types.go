// Package agentloop runs the Messages API's server-side code execution loop: it asks a
// model for a turn, runs the model's bash, text editor and Python calls in the request's
// container through package tools, feeds the results back, and repeats until the model
// ends its turn, calls a client tool, or the iteration budget is spent (pause_turn).
//
// It speaks model-neutral Go types (provider blocks plus the server blocks of the code
// execution tool); the api package converts the wire format at the edge. It also meters
// usage: tokens summed over the turns, code execution calls, and container time.
package agentloop

import (
	"encoding/json"
	"time"

	"github.com/codebox-dev/codebox/errdefs"
	"github.com/codebox-dev/codebox/provider"
	"github.com/codebox-dev/codebox/sandbox"
	"github.com/codebox-dev/codebox/skills"
	"github.com/codebox-dev/codebox/tools"
)

// Block types the loop adds to the provider's.
const (
	TypeServerToolUse   = "server_tool_use"
	TypeContainerUpload = "container_upload"
)

// Block is one content block of a conversation or response. Provider block types keep
// their provider fields; a server_tool_use uses ID, Name and Input; a sub-tool result
// (Type is tools.ResultType of the sub-tool) uses ToolUseID and Result; a
// container_upload uses FileID.
type Block struct {
	provider.Block
	Result *tools.Result
	FileID string
	// Caller is who made a tool_use; nil for the model itself (direct).
	Caller *Caller
}

// IsToolResult reports whether b is a code execution result block.
func (b *Block) IsToolResult() bool { return tools.SubToolOfResult(b.Type) != "" }

// Message is one conversation turn. Role is "user" or "assistant".
type Message struct {
	Role    string
	Content []Block
}

// Request is one Messages request.
type Request struct {
	Model    string
	System   []provider.Block
	Messages []Message
	// Tools are the client's tools; the code execution tool is CodeExecution.
	Tools []provider.Tool
	// AllowedCallers holds the allowed_callers of the client tools that list them, by
	// tool name (without an entry a tool is direct only).
	AllowedCallers map[string][]string
	// CodeExecution is the code execution tool version the request lists
	// (tools.CodeExecution20250825, …), or "" when it lists none.
	CodeExecution string
	// Container is the container to reuse, or "" for a new one.
	Container string
	// ContainerImage is the image of a new container; "" is the workspace's default.
	ContainerImage string
	// Skills are the container.skills to load at /skills/<name>/.
	Skills        []skills.Ref
	ToolChoice    *provider.ToolChoice
	MaxTokens     int64
	StopSequences []string
	Temperature   *float64
	TopP          *float64
	TopK          *int64
	Thinking      json.RawMessage
	Metadata      json.RawMessage
}

// CheckUploads refuses container_upload blocks in a request without a code execution
// tool: there is no container to put the files in.
func (req *Request) CheckUploads() error {
	if req.CodeExecution != "" {
		return nil
	}
	for _, m := range req.Messages {
		for _, b := range m.Content {
			if b.Type == TypeContainerUpload {
				return errdefs.New(errdefs.ErrInvalid, "", "container_upload blocks require a code execution tool (code_execution_20250825 or later) in tools")
			}
		}
	}
	return nil
}

// Response is the assistant message the loop produced.
type Response struct {
	ID           string
	Model        string
	Content      []Block
	StopReason   string
	StopSequence string
	// Container is the request's container with fresh expiry times; nil when the
	// request had no code execution tool.
	Container *sandbox.Container
	// Skills are the request's skills with their versions resolved.
	Skills []skills.Ref
	Usage  Usage
}

// Usage is what a request consumed: the tokens of its model turns and the sub-tool
// calls it executed.
type Usage struct {
	provider.Usage
	CodeExecutionRequests int64
}

// EventType says what an Event carries.
type EventType int

const (
	// EventMessageStart comes first, before any block: Message has ID, Model and
	// Container (nil without code execution).
	EventMessageStart EventType = iota
	// EventBlockStart opens block Index. Block is complete for result blocks; tool_use
	// and server_tool_use blocks open with no Input, text and thinking blocks empty.
	EventBlockStart
	// EventBlockDelta extends block Index: DeltaType says which field Delta extends.
	EventBlockDelta
	// EventBlockStop closes block Index.
	EventBlockStop
	// EventPing keeps the stream alive while a command runs.
	EventPing
)

// Delta kinds of EventBlockDelta.
const (
	DeltaText      = "text"
	DeltaThinking  = "thinking"
	DeltaSignature = "signature"
	DeltaInputJSON = "input_json"
)

// Event is one streaming event of a response. Indexes count the response's blocks from
// 0 without gaps.
type Event struct {
	Type      EventType
	Index     int
	Block     *Block
	DeltaType string
	Delta     string
	Message   *Response
}

// UsageRecord is one request's metered usage, persisted per workspace.
type UsageRecord struct {
	MessageID string
	Model     string
	Usage
	// ContainerID is the container the request used, "" for none. ContainerStart and
	// ContainerEnd bound the request's use of it (its container session, see BillSession).
	ContainerID    string
	ContainerStart time.Time
	ContainerEnd   time.Time
	CreatedAt      time.Time
}

// UsageSummary totals a workspace's usage over a period.
type UsageSummary struct {
	Start, End time.Time
	Requests   int64
	Usage
	// ContainerSeconds is the wall time containers were in use by requests;
	// ContainerBilledSeconds applies the 5-minute session minimum (see BillSession).
	ContainerSeconds       float64
	ContainerBilledSeconds float64
}
