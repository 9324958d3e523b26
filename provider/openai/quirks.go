package openai

import (
	"crypto/sha256"
	"encoding/json"
	"math/big"
	"strings"
	"sync"

	"github.com/codebox-dev/codebox/provider"
)

// Quirks are the ways one OpenAI-compatible server departs from OpenAI's API that the
// translation must follow. The zero value is OpenAI's behaviour as every server
// tolerates it; what every server tolerates (no empty text parts, tool calls streamed
// whole or without index, usage late or missing, error bodies of any shape) is always
// handled and needs no quirk.
type Quirks struct {
	// ShortToolIDs sends tool-call ids as the nine alphanumeric characters Mistral
	// accepts: an id of that shape, or one this driver made by prefixing such an id with
	// "toolu_", is sent as those nine characters; any other id as nine characters
	// derived from its hash, the same for the tool call and its result. Ids the server
	// returns come back to the client with the "toolu_" prefix.
	ShortToolIDs bool `json:"short_tool_ids,omitempty"`
	// ReasoningBack sends the reasoning of each assistant turn that called tools after
	// the last user message back as reasoning_content, as DeepSeek's thinking mode
	// requires: the turn's thinking blocks, or when the client did not ask to see them
	// what the driver remembers of the turn, or else an empty string. Reasoning of
	// earlier turns is never sent, since DeepSeek ignores it there and it only costs
	// tokens.
	ReasoningBack bool `json:"reasoning_back,omitempty"`
	// NoStreamOptions leaves stream_options out of streamed requests, for servers that
	// reject unknown fields and put usage in the last chunk unasked (Mistral).
	NoStreamOptions bool `json:"no_stream_options,omitempty"`
	// ParallelToolCalls says how parallel_tool_calls is sent: "" sends false when the
	// client disabled parallel tool use and nothing otherwise; "always" sends true or
	// false on every request with tools, for servers whose default is off (llama.cpp);
	// "never" never sends it, for servers that reject it.
	ParallelToolCalls string `json:"parallel_tool_calls,omitempty"`
	// Strict forwards a client tool's "strict" flag. Servers that reject unknown fields
	// in a function declaration (Gemini) must not get it.
	Strict bool `json:"strict,omitempty"`
	// SchemaSubset removes the JSON Schema keywords that Gemini's function declarations
	// reject ($schema, $id, additionalProperties, …) from tool parameters.
	SchemaSubset bool `json:"schema_subset,omitempty"`
	// NoNamedToolChoice sends a tool_choice naming one tool as "required" with only that
	// tool offered, for servers that accept only the string forms (llama.cpp).
	NoNamedToolChoice bool `json:"no_named_tool_choice,omitempty"`
}

// Values of Quirks.ParallelToolCalls.
const (
	ParallelAlways = "always"
	ParallelNever  = "never"
)

// shortIDPrefix marks an id the server made that was given to the client.
const shortIDPrefix = "toolu_"

const alnum = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"

func isShortID(id string) bool {
	if len(id) != 9 {
		return false
	}
	for i := 0; i < len(id); i++ {
		if strings.IndexByte(alnum, id[i]) < 0 {
			return false
		}
	}
	return true
}

// shortID maps any tool-call id to nine alphanumeric characters (see
// Quirks.ShortToolIDs). The hash makes the mapping the same in every request, so a
// conversation sent back later maps the same way.
func shortID(id string) string {
	if isShortID(id) {
		return id
	}
	if rest, ok := strings.CutPrefix(id, shortIDPrefix); ok && isShortID(rest) {
		return rest
	}
	sum := sha256.Sum256([]byte(id))
	n := new(big.Int).SetBytes(sum[:])
	base := big.NewInt(int64(len(alnum)))
	out := make([]byte, 9)
	mod := new(big.Int)
	for i := range out {
		n.DivMod(n, base, mod)
		out[i] = alnum[mod.Int64()]
	}
	return string(out)
}

// outID is the id sent upstream for a tool call or result.
func (q Quirks) outID(id string) string {
	if q.ShortToolIDs {
		return shortID(id)
	}
	return id
}

// inID is the id a tool call from upstream gets on the Anthropic side.
func (q Quirks) inID(id string) string {
	if q.ShortToolIDs && isShortID(id) {
		return shortIDPrefix + id
	}
	return id
}

// unsupportedSchemaKeys are the JSON Schema keywords outside the OpenAPI subset that
// Gemini's function declarations accept.
var unsupportedSchemaKeys = []string{"$schema", "$id", "$comment", "additionalProperties", "strict", "examples"}

// schemaSubset removes unsupportedSchemaKeys from a schema, at every depth. Maps of
// named schemas (properties, $defs) keep their names, even one called "strict".
func schemaSubset(v any) any {
	switch t := v.(type) {
	case map[string]any:
		for _, k := range unsupportedSchemaKeys {
			delete(t, k)
		}
		for k, sub := range t {
			named, ok := sub.(map[string]any)
			if ok && (k == "properties" || k == "$defs" || k == "definitions" || k == "patternProperties") {
				for name, s := range named {
					named[name] = schemaSubset(s)
				}
				continue
			}
			t[k] = schemaSubset(sub)
		}
	case []any:
		for i, sub := range t {
			t[i] = schemaSubset(sub)
		}
	}
	return v
}

// strictOf reads a client tool's "strict" flag.
func strictOf(raw json.RawMessage) (bool, bool) {
	var t struct {
		Strict *bool `json:"strict"`
	}
	if len(raw) == 0 || json.Unmarshal(raw, &t) != nil || t.Strict == nil {
		return false, false
	}
	return *t.Strict, true
}

// reasonMemorySize bounds how many turns' reasoning a Model remembers.
const reasonMemorySize = 512

// reasonMemory remembers the reasoning of recent tool-call turns by the calls they
// made, for Quirks.ReasoningBack when the client did not ask to see the thinking (and
// so sends back none): the loop sends a turn back with new tool-call ids, but with the
// same names and inputs.
type reasonMemory struct {
	mu    sync.Mutex
	texts map[string]string
	order []string // oldest first
}

// callsKey identifies a turn by its tool calls; "" when it made none.
func callsKey(blocks []provider.Block) string {
	var b strings.Builder
	for _, bl := range blocks {
		if bl.Type == provider.TypeToolUse {
			b.WriteString(bl.Name + "\x00" + string(bl.Input) + "\x00")
		}
	}
	return b.String()
}

// keep remembers the thinking of a turn that called tools.
func (r *reasonMemory) keep(blocks []provider.Block) {
	key := callsKey(blocks)
	var text strings.Builder
	for _, b := range blocks {
		if b.Type == provider.TypeThinking {
			text.WriteString(b.Text)
		}
	}
	if key == "" || text.Len() == 0 {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.texts == nil {
		r.texts = map[string]string{}
	}
	if _, ok := r.texts[key]; !ok {
		r.order = append(r.order, key)
	}
	r.texts[key] = text.String()
	if len(r.order) > reasonMemorySize {
		delete(r.texts, r.order[0])
		r.order = r.order[1:]
	}
}

// recall returns the remembered thinking of the turn that made blocks' calls, or "".
func (r *reasonMemory) recall(blocks []provider.Block) string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.texts[callsKey(blocks)]
}
