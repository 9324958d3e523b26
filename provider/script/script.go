// Package script serves canned model turns, for tests and for offline demos. One Script
// can be used three ways: as a provider.Model directly (Model), or as a fake upstream
// speaking the real wire formats over HTTP (NewAnthropicServer answers POST /v1/messages,
// NewOpenAIServer answers POST /v1/chat/completions), so the real drivers can be tested
// against it.
//
// # File format
//
// A script file is JSON: either an object {"turns": [turn, …]} or a bare array of turns.
// A turn is
//
//	{
//	  "content": [                                   // the blocks of the model's turn
//	    {"type": "text", "text": "Let me look."},
//	    {"type": "thinking", "thinking": "…", "signature": "…"},
//	    {"type": "tool_use", "name": "bash_code_execution", "input": {"command": "ls"},
//	     "id": "toolu_01"}                            // id optional
//	  ],
//	  "stop_reason": "tool_use",                     // optional: tool_use when the turn has a
//	                                                 // tool_use block, else end_turn
//	  "stop_sequence": "",                           // optional
//	  "usage": {"input_tokens": 10, "output_tokens": 5,
//	            "cache_read_input_tokens": 0, "cache_creation_input_tokens": 0},
//	  "error": {"status": 429, "type": "rate_limit_error", "message": "slow down",
//	            "mid_stream": false}              // optional: fail after streaming the content
//	}
//
// testdata/sales.json is a complete example: a CSV analysis (look at the data, compute and
// chart, answer) in three turns.
//
// A turn with "error" fails with that upstream error instead of answering; with
// "mid_stream": true a streamed answer fails only after its content was sent, as real
// upstreams sometimes do (see Error). A turn
// without "usage" reports deterministic estimates: input_tokens is one per four bytes of
// the request's text and tool data (at least 1), output_tokens the same over the turn's
// own blocks.
//
// # Which turn is served
//
// The turn is chosen by the conversation, not by a counter, so one script serves a
// multi-request conversation deterministically and concurrent conversations do not
// interfere: turn i is served when the request holds i assistant messages (turn 0 for a
// conversation that starts with the user, turn 1 after the model's first turn came back,
// and so on). Consecutive assistant messages count once. A client that sends a turn back
// may split it into several assistant messages (one per tool call and its result), so a
// script meant to continue across requests should make one tool call per turn. A script whose turns are exhausted
// answers with its last turn when that turn ends the conversation (no tool_use), and
// otherwise fails with an upstream error naming the script, so a runaway loop stops.
// Ids of tool_use blocks without an "id" are derived from the turn and block index
// (toolu_script_<turn>_<block>), so they too are the same on every run.
package script

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/codebox-dev/codebox/errdefs"
	"github.com/codebox-dev/codebox/provider"
)

// Script is a list of canned turns.
type Script struct {
	Name  string // for error messages; Load sets it to the file's base name
	Turns []Turn
}

// Turn is one canned model turn, or an upstream failure.
type Turn struct {
	Content      []Block         `json:"content"`
	StopReason   string          `json:"stop_reason,omitempty"`
	StopSequence string          `json:"stop_sequence,omitempty"`
	Usage        *provider.Usage `json:"usage,omitempty"`
	Error        *Error          `json:"error,omitempty"`
}

// Block is one block of a canned turn.
type Block struct {
	Type      string          `json:"type"`
	Text      string          `json:"text,omitempty"`
	Thinking  string          `json:"thinking,omitempty"`
	Signature string          `json:"signature,omitempty"`
	ID        string          `json:"id,omitempty"`
	Name      string          `json:"name,omitempty"`
	Input     json.RawMessage `json:"input,omitempty"`
}

// Error is a simulated upstream failure: the HTTP status, the error type of the
// Anthropic envelope (rate_limit_error, overloaded_error, api_error, …) and its message.
// With MidStream, a streamed request first gets a 200 and the turn's content, then the
// error (Anthropic's error event, or an error chunk in OpenAI's format), as upstreams
// fail mid-answer; a request that is not streamed gets the plain error.
type Error struct {
	Status    int    `json:"status"`
	Type      string `json:"type"`
	Message   string `json:"message"`
	MidStream bool   `json:"mid_stream,omitempty"`
}

// Parse decodes a script file's contents and checks it.
func Parse(data []byte) (*Script, error) {
	var s Script
	trimmed := strings.TrimSpace(string(data))
	if strings.HasPrefix(trimmed, "[") {
		if err := json.Unmarshal(data, &s.Turns); err != nil {
			return nil, fmt.Errorf("script: %w", err)
		}
	} else {
		var obj struct {
			Turns []Turn `json:"turns"`
		}
		if err := json.Unmarshal(data, &obj); err != nil {
			return nil, fmt.Errorf("script: %w", err)
		}
		s.Turns = obj.Turns
	}
	if err := s.Validate(); err != nil {
		return nil, err
	}
	return &s, nil
}

// Load reads and parses the script file at path; its Name is the file's base name
// without extension.
func Load(path string) (*Script, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	s, err := Parse(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	s.Name = strings.TrimSuffix(filepath.Base(path), filepath.Ext(path))
	return s, nil
}

// LoadDir loads every *.json file in dir, keyed by name (file name without .json).
func LoadDir(dir string) (map[string]*Script, error) {
	paths, err := filepath.Glob(filepath.Join(dir, "*.json"))
	if err != nil {
		return nil, err
	}
	out := make(map[string]*Script, len(paths))
	for _, p := range paths {
		s, err := Load(p)
		if err != nil {
			return nil, err
		}
		out[s.Name] = s
	}
	return out, nil
}

// Validate checks that every turn is well formed.
func (s *Script) Validate() error {
	if len(s.Turns) == 0 {
		return errors.New("script: no turns")
	}
	for i, t := range s.Turns {
		if t.Error != nil {
			if t.Error.Status < 400 || t.Error.Status > 599 {
				return fmt.Errorf("script: turn %d: error status %d is not 4xx/5xx", i, t.Error.Status)
			}
		}
		for j, b := range t.Content {
			switch b.Type {
			case provider.TypeText, provider.TypeThinking:
			case provider.TypeToolUse:
				if b.Name == "" {
					return fmt.Errorf("script: turn %d block %d: tool_use without name", i, j)
				}
				if len(b.Input) > 0 {
					var obj map[string]any
					if err := json.Unmarshal(b.Input, &obj); err != nil {
						return fmt.Errorf("script: turn %d block %d: input is not a JSON object: %w", i, j, err)
					}
				}
			default:
				return fmt.Errorf("script: turn %d block %d: unsupported type %q", i, j, b.Type)
			}
		}
	}
	return nil
}

func (s *Script) name() string {
	if s.Name == "" {
		return "script"
	}
	return s.Name
}

// pick returns the turn to serve after n assistant turns, and its index.
func (s *Script) pick(n int) (Turn, int, error) {
	if n < len(s.Turns) {
		return s.Turns[n], n, nil
	}
	last := len(s.Turns) - 1
	t := s.Turns[last]
	if t.Error == nil && !t.hasToolUse() {
		return t, last, nil
	}
	return Turn{}, 0, &errdefs.Public{Kind: errdefs.ErrUpstream,
		Message: fmt.Sprintf("script %s has %d turns; the conversation asks for turn %d", s.name(), len(s.Turns), n+1)}
}

func (t Turn) hasToolUse() bool {
	for _, b := range t.Content {
		if b.Type == provider.TypeToolUse {
			return true
		}
	}
	return false
}

// stopReason is the turn's stop_reason, defaulted from its blocks.
func (t Turn) stopReason() string {
	if t.StopReason != "" {
		return t.StopReason
	}
	if t.hasToolUse() {
		return "tool_use"
	}
	return "end_turn"
}

// toolID is block j's tool_use id in turn i.
func toolID(b Block, turn, j int) string {
	if b.ID != "" {
		return b.ID
	}
	return fmt.Sprintf("toolu_script_%d_%d", turn, j)
}

// input is b's input as a compact JSON object ("{}" when absent).
func input(b Block) json.RawMessage {
	var buf bytes.Buffer
	if len(b.Input) == 0 || json.Compact(&buf, b.Input) != nil {
		return json.RawMessage(`{}`)
	}
	return buf.Bytes()
}

// halves cuts s in two on a rune boundary, for streaming tool input.
func halves(s string) []string {
	r := []rune(s)
	return []string{string(r[:len(r)/2]), string(r[len(r)/2:])}
}

// outputTokens estimates the turn's output tokens when the script gives none.
func (t Turn) outputTokens() int64 {
	n := 0
	for _, b := range t.Content {
		n += len(b.Text) + len(b.Thinking) + len(b.Name) + len(b.Input)
	}
	return estimate(n)
}

func estimate(bytes int) int64 { return int64(bytes/4) + 1 }

// usage is the turn's usage; inputBytes is the size of the request's text.
func (t Turn) usage(inputBytes int) provider.Usage {
	if t.Usage != nil {
		return *t.Usage
	}
	return provider.Usage{InputTokens: estimate(inputBytes), OutputTokens: t.outputTokens()}
}

// splitText cuts s into up to three pieces on rune boundaries, for streaming.
func splitText(s string) []string {
	r := []rune(s)
	if len(r) < 3 {
		if s == "" {
			return nil
		}
		return []string{s}
	}
	a, b := len(r)/3, 2*len(r)/3
	return []string{string(r[:a]), string(r[a:b]), string(r[b:])}
}
