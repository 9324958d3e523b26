package api

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/codebox-dev/codebox/errdefs"
	"github.com/codebox-dev/codebox/provider"
)

// forwardCount passes a count_tokens request through and copies upstream's answer back.
func (s *Server) forwardCount(w http.ResponseWriter, r *http.Request, f provider.CountForwarder, body []byte, model, upstream string) error {
	resp, done, err := s.sendUpstream(w, r, f.ForwardCountTokens, body, model, upstream)
	if err != nil {
		return err
	}
	defer done()
	if _, err := io.Copy(w, resp.Body); err != nil {
		s.Logger.Warn("forwarded response cut", "request_id", requestID(r.Context()), "err", err)
	}
	return nil
}

// sendUpstream sends a passed-through request body, under the upstream model name,
// with send, and writes upstream's status and headers to w. The caller copies the
// answer's body and then calls done, which closes it and observes the call.
func (s *Server) sendUpstream(w http.ResponseWriter, r *http.Request,
	send func(ctx context.Context, body []byte, header http.Header) (*http.Response, error),
	body []byte, model, upstream string) (_ *http.Response, done func(), _ error) {
	body, err := withModel(body, model, upstream)
	if err != nil {
		return nil, nil, err
	}
	began := time.Now()
	resp, err := send(r.Context(), body, r.Header)
	if err != nil {
		s.observeForward(model, began, 0, err)
		return nil, nil, err
	}
	writeUpstreamHead(w, resp)
	return resp, func() {
		s.observeForward(model, began, resp.StatusCode, nil)
		resp.Body.Close()
	}, nil
}

// writeUpstreamHead copies a forwarded answer's status and the headers a client acts on
// (content type, caching, retry hints).
func writeUpstreamHead(w http.ResponseWriter, resp *http.Response) {
	for _, h := range []string{"Content-Type", "Cache-Control", "retry-after", "x-should-retry"} {
		if v := resp.Header.Get(h); v != "" {
			w.Header().Set(h, v)
		}
	}
	w.WriteHeader(resp.StatusCode)
}

// withModel rewrites body's "model" to the upstream name when routing changed it.
func withModel(body []byte, model, upstream string) ([]byte, error) {
	if upstream == model {
		return body, nil
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(body, &m); err != nil {
		return nil, errdefs.New(errdefs.ErrInvalid, "", "Invalid JSON body: %v", err)
	}
	m["model"], _ = json.Marshal(upstream)
	return json.Marshal(m)
}

// forward passes the request through to a driver that speaks Anthropic's wire format,
// metering the tokens the answer reports.
func (s *Server) forward(w http.ResponseWriter, r *http.Request, f provider.Forwarder, body []byte, model, upstream string) error {
	resp, done, err := s.sendUpstream(w, r, f.Forward, body, model, upstream)
	if err != nil {
		return err
	}
	defer done()
	var meter usageSniffer
	meter.sse = strings.HasPrefix(resp.Header.Get("Content-Type"), "text/event-stream")
	// What upstream answered is metered even when the client leaves mid-answer: the
	// tokens were spent.
	defer func() {
		if u, id, ok := meter.result(); ok {
			s.Loop.RecordForwarded(r.Context(), workspace(r), id, model, u)
		}
	}()
	rc := http.NewResponseController(w)
	buf := make([]byte, 32<<10)
	for {
		n, err := resp.Body.Read(buf)
		if n > 0 {
			if resp.StatusCode == http.StatusOK {
				meter.Write(buf[:n])
			}
			if _, werr := w.Write(buf[:n]); werr != nil {
				return nil
			}
			rc.Flush()
		}
		if err != nil {
			if err != io.EOF && r.Context().Err() == nil {
				s.Logger.Warn("forwarded response cut", "request_id", requestID(r.Context()), "err", err)
			}
			return nil
		}
	}
}
