package api

import (
	"net/http"
	"strings"
	"unicode/utf8"

	"github.com/codebox-dev/codebox/sandbox"
)

// wantsStream reports whether a run request asked for server-sent events, by
// "stream": true or by Accept: text/event-stream.
func wantsStream(r *http.Request, stream bool) bool {
	return stream || strings.Contains(r.Header.Get("Accept"), "text/event-stream")
}

// outputEventJSON is one piece of a running command's output.
type outputEventJSON struct {
	Type   string `json:"type"`   // "output"
	Stream string `json:"stream"` // "stdout" or "stderr"
	Text   string `json:"text"`
}

// streamRun answers a run as server-sent events: "output" events while it runs, then
// one "result" event with the same object the JSON answer has, or one "error" event
// with the error envelope. An error before any output is an ordinary error response.
func (s *Server) streamRun(w http.ResponseWriter, r *http.Request, run func(sandbox.OutputFunc) (*sandbox.ExecResult, error)) error {
	sw := &runEventWriter{eventStream: newEventStream(w), carry: map[string][]byte{}}
	res, err := run(sw.output)
	if err != nil && !sw.started {
		return err
	}
	sw.flushCarry()
	if err != nil {
		status, body := errorEnvelope(r.Context(), err)
		if status >= 500 {
			s.Logger.Error("request failed", "request_id", requestID(r.Context()), "method", r.Method,
				"path", r.URL.Path, "status", status, "err", err)
		}
		sw.event("error", body)
		return nil
	}
	sw.event("result", toExecResultJSON(res))
	return nil
}

// runEventWriter writes a run's output as server-sent events. Output arrives in arbitrary
// byte chunks, so an incomplete UTF-8 sequence at a chunk's end waits for the next chunk of
// its stream.
type runEventWriter struct {
	*eventStream
	carry map[string][]byte // stream → bytes of an unfinished rune
}

func (s *runEventWriter) event(name string, v any) { s.send(name, v) }

func (s *runEventWriter) output(stream string, p []byte) {
	data := append(s.carry[stream], p...)
	cut := completeUTF8(data)
	s.carry[stream] = append([]byte(nil), data[cut:]...)
	if cut > 0 {
		s.event("output", outputEventJSON{Type: "output", Stream: stream, Text: string(data[:cut])})
	}
}

func (s *runEventWriter) flushCarry() {
	for _, stream := range []string{"stdout", "stderr"} {
		if len(s.carry[stream]) > 0 {
			s.event("output", outputEventJSON{Type: "output", Stream: stream, Text: string(s.carry[stream])})
			delete(s.carry, stream)
		}
	}
}

// completeUTF8 returns the length of b without a trailing incomplete UTF-8 sequence.
func completeUTF8(b []byte) int {
	for i := len(b) - 1; i >= 0 && i >= len(b)-utf8.UTFMax; i-- {
		if utf8.RuneStart(b[i]) {
			if !utf8.FullRune(b[i:]) {
				return i
			}
			break
		}
	}
	return len(b)
}
