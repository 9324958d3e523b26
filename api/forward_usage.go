package api

import (
	"bytes"
	"encoding/json"

	"github.com/codebox-dev/codebox/agentloop"
)

// usageSniffer reads the usage of a forwarded answer as it passes: the JSON message,
// or the message_start and message_delta events of a stream (whose counts are
// cumulative, so the last one wins).
type usageSniffer struct {
	sse     bool
	buf     []byte
	skip    bool // the current line is too long to matter
	id      string
	usage   agentloop.Usage
	found   bool
	tooLong bool
}

// maxSniffed bounds what the sniffer keeps: a JSON answer, or one SSE line.
const maxSniffed = 8 << 20

// apply takes the counts a usage object reports. Decoding over the counts so far
// keeps those it leaves out: a message_delta may report only some.
func (u *usageSniffer) apply(raw json.RawMessage) {
	if len(raw) == 0 || string(raw) == "null" {
		return
	}
	if json.Unmarshal(raw, &u.usage.Usage) == nil {
		u.found = true
	}
}

func (u *usageSniffer) Write(p []byte) {
	if !u.sse {
		if len(u.buf)+len(p) > maxSniffed {
			u.tooLong = true
			return
		}
		u.buf = append(u.buf, p...)
		return
	}
	for len(p) > 0 {
		i := bytes.IndexByte(p, '\n')
		if i < 0 {
			if !u.skip && len(u.buf)+len(p) <= maxSniffed {
				u.buf = append(u.buf, p...)
			} else {
				u.skip = true
			}
			return
		}
		if !u.skip {
			u.line(append(u.buf, p[:i]...))
		}
		u.buf, u.skip, p = u.buf[:0], false, p[i+1:]
	}
}

func (u *usageSniffer) line(l []byte) {
	data, ok := bytes.CutPrefix(l, []byte("data: "))
	if !ok || !(bytes.Contains(data, []byte(`"message_start"`)) || bytes.Contains(data, []byte(`"message_delta"`))) {
		return
	}
	var ev struct {
		Message *struct {
			ID    string          `json:"id"`
			Usage json.RawMessage `json:"usage"`
		} `json:"message"`
		Usage json.RawMessage `json:"usage"`
	}
	if json.Unmarshal(data, &ev) != nil {
		return
	}
	if ev.Message != nil {
		u.id = ev.Message.ID
		u.apply(ev.Message.Usage)
	}
	u.apply(ev.Usage)
}

func (u *usageSniffer) result() (agentloop.Usage, string, bool) {
	if !u.sse && !u.tooLong {
		var m struct {
			ID    string          `json:"id"`
			Usage json.RawMessage `json:"usage"`
		}
		if json.Unmarshal(u.buf, &m) == nil {
			u.id = m.ID
			u.apply(m.Usage)
		}
	}
	return u.usage, u.id, u.found
}
