package api

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/codebox-dev/codebox"
	"github.com/codebox-dev/codebox/agentloop"
	"github.com/codebox-dev/codebox/errdefs"
	"github.com/codebox-dev/codebox/provider"
)

// MessageLoop runs Messages requests; *agentloop.Loop satisfies it.
type MessageLoop interface {
	Run(ctx context.Context, ws codebox.WorkspaceID, req *agentloop.Request, events func(agentloop.Event)) (*agentloop.Response, error)
	// Forwarder returns a driver that can pass the raw request through, for requests
	// without a code execution tool, and the upstream model name.
	Forwarder(model string) (provider.Forwarder, string, bool)
	// RecordForwarded meters the tokens of a forwarded request.
	RecordForwarded(ctx context.Context, ws codebox.WorkspaceID, messageID, model string, u agentloop.Usage)
}

// UsageReader reads a workspace's metered usage; *sqlite.DB satisfies it.
type UsageReader interface {
	UsageSummary(ctx context.Context, ws codebox.WorkspaceID, start, end time.Time) (*agentloop.UsageSummary, error)
}

// MessagesConfig holds the dependencies of the messages and usage routes.
type MessagesConfig struct {
	Loop  MessageLoop
	Usage UsageReader
}

func (s *Server) registerMessageRoutes() {
	s.handle("POST", "/v1/messages", s.createMessage)
	s.handle("POST", "/v1/messages/count_tokens", s.countTokens)
	s.handle("GET", "/v1/usage", s.getUsage)
}

func (s *Server) createMessage(w http.ResponseWriter, r *http.Request) error {
	if s.Loop == nil {
		return errdefs.New(errdefs.ErrUnavailable, "", "the Messages API is not configured on this server")
	}
	body, err := s.readBody(w, r)
	if err != nil {
		return err
	}
	var wr wireRequest
	if err := json.Unmarshal(body, &wr); err != nil {
		return errdefs.New(errdefs.ErrInvalid, "", "Invalid JSON body: %v", err)
	}
	req, uploads, err := fromWireRequest(&wr)
	if err != nil {
		return err
	}
	ws := workspace(r)
	fileSources, err := s.resolveFileSources(r.Context(), ws, req)
	if err != nil {
		return err
	}
	// container.skills needs the loop, which refuses it without code execution.
	if req.CodeExecution == "" && !uploads && !fileSources && len(req.Skills) == 0 {
		if f, upstream, ok := s.Loop.Forwarder(req.Model); ok {
			return s.forward(w, r, f, body, req.Model, upstream)
		}
	}
	if !wr.Stream {
		resp, err := s.Loop.Run(r.Context(), ws, req, nil)
		if err != nil {
			return err
		}
		writeJSON(w, http.StatusOK, toWireMessage(resp))
		return nil
	}
	sse := newMessageStream(w)
	resp, err := s.Loop.Run(r.Context(), ws, req, func(e agentloop.Event) { sse.loopEvent(e) })
	if err != nil {
		if !sse.started {
			return err
		}
		s.streamError(r, sse, err)
		return nil
	}
	if !sse.started {
		sse.loopEvent(agentloop.Event{Type: agentloop.EventMessageStart, Message: resp})
	}
	sse.finish(resp)
	return nil
}

// TokenCounter counts a request's input tokens; *agentloop.Loop satisfies it.
type TokenCounter interface {
	CountTokens(ctx context.Context, ws codebox.WorkspaceID, req *agentloop.Request) (int64, error)
}

// countTokens answers POST /v1/messages/count_tokens. A request the model would get
// unchanged goes to upstream's count_tokens byte for byte; one with a code execution
// tool is counted as the model will see it (sub-tools and system addendum included).
// No container or file content is touched.
func (s *Server) countTokens(w http.ResponseWriter, r *http.Request) error {
	tc, ok := s.Loop.(TokenCounter)
	if s.Loop == nil || !ok {
		return errdefs.New(errdefs.ErrUnavailable, "", "the Messages API is not configured on this server")
	}
	body, err := s.readBody(w, r)
	if err != nil {
		return err
	}
	var wr wireRequest
	if err := json.Unmarshal(body, &wr); err != nil {
		return errdefs.New(errdefs.ErrInvalid, "", "Invalid JSON body: %v", err)
	}
	// count_tokens has no max_tokens; the conversion checks it as for /v1/messages.
	one := int64(1)
	wr.MaxTokens = &one
	req, _, err := fromWireRequest(&wr)
	if err != nil {
		return err
	}
	if req.CodeExecution == "" && !hasFileSource(req) && len(req.Skills) == 0 {
		if f, upstream, ok := s.Loop.Forwarder(req.Model); ok {
			if cf, ok := f.(provider.CountForwarder); ok {
				return s.forwardCount(w, r, cf, body, req.Model, upstream)
			}
		}
	}
	if _, err := s.resolveFileSources(r.Context(), workspace(r), req); err != nil {
		return err
	}
	n, err := tc.CountTokens(r.Context(), workspace(r), req)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, struct {
		InputTokens int64 `json:"input_tokens"`
	}{n})
	return nil
}

// hasFileSource reports whether an image or document block of req names a file of the
// Files API, which upstream cannot see.
func hasFileSource(req *agentloop.Request) bool {
	var has func(b *provider.Block) bool
	has = func(b *provider.Block) bool {
		for i := range b.Content {
			if has(&b.Content[i]) {
				return true
			}
		}
		if (b.Type != provider.TypeImage && b.Type != provider.TypeDocument) || len(b.Raw) == 0 {
			return false
		}
		var blk struct {
			Source struct {
				Type string `json:"type"`
			} `json:"source"`
		}
		return json.Unmarshal(b.Raw, &blk) == nil && blk.Source.Type == "file"
	}
	for i := range req.Messages {
		for j := range req.Messages[i].Content {
			if has(&req.Messages[i].Content[j].Block) {
				return true
			}
		}
	}
	return false
}

// streamError reports a failure after the 200 as an error event.
func (s *Server) streamError(r *http.Request, sse *messageStream, err error) {
	ctx := r.Context()
	if ctx.Err() != nil {
		return
	}
	status, body := errorEnvelope(ctx, err)
	if status >= 500 {
		s.Logger.Error("stream failed", "request_id", requestID(ctx), "status", status, "err", err)
	}
	sse.send("error", struct {
		Type  string      `json:"type"`
		Error errorDetail `json:"error"`
	}{"error", body.Error})
}

// maxInlinedFile caps a file referenced by an image or document block, which is sent to
// the model inline.
const maxInlinedFile = 32 << 20

// resolveFileSources rewrites image and document blocks whose source is a file of the
// Files API ({"type":"file","file_id":…}) to carry the file's bytes, since the upstream
// model provider cannot see this server's files. It reports whether it rewrote any.
func (s *Server) resolveFileSources(ctx context.Context, ws codebox.WorkspaceID, req *agentloop.Request) (bool, error) {
	found := false
	var rewrite func(b *provider.Block) error
	rewrite = func(b *provider.Block) error {
		for i := range b.Content {
			if err := rewrite(&b.Content[i]); err != nil {
				return err
			}
		}
		if (b.Type != provider.TypeImage && b.Type != provider.TypeDocument) || len(b.Raw) == 0 {
			return nil
		}
		var blk map[string]json.RawMessage
		if json.Unmarshal(b.Raw, &blk) != nil {
			return nil
		}
		var src struct {
			Type   string `json:"type"`
			FileID string `json:"file_id"`
		}
		if json.Unmarshal(blk["source"], &src) != nil || src.Type != "file" {
			return nil
		}
		found = true
		if s.Files == nil {
			return errdefs.New(errdefs.ErrInvalid, "", "file sources are not available on this server")
		}
		f, body, err := s.Files.Open(ctx, ws, src.FileID)
		if err != nil {
			return err
		}
		defer body.Close()
		if f.Size > maxInlinedFile {
			return errdefs.New(errdefs.ErrInvalid, "", "file %s is too large to send to the model (%d bytes, at most %d)", src.FileID, f.Size, maxInlinedFile)
		}
		data, err := io.ReadAll(io.LimitReader(body, maxInlinedFile+1))
		if err != nil {
			return fmt.Errorf("read %s: %w", src.FileID, err)
		}
		mt := f.MimeType
		var source any
		switch {
		case b.Type == provider.TypeDocument && strings.HasPrefix(mt, "text/"):
			source = map[string]string{"type": "text", "media_type": "text/plain", "data": string(data)}
		case b.Type == provider.TypeDocument && mt != "application/pdf":
			return errdefs.New(errdefs.ErrInvalid, "", "file %s (%s) cannot be a document: use a PDF or a text file", src.FileID, mt)
		case b.Type == provider.TypeImage && !strings.HasPrefix(mt, "image/"):
			return errdefs.New(errdefs.ErrInvalid, "", "file %s (%s) is not an image", src.FileID, mt)
		default:
			source = map[string]string{"type": "base64", "media_type": mt, "data": base64.StdEncoding.EncodeToString(data)}
		}
		blk["source"], _ = json.Marshal(source)
		b.Raw, _ = json.Marshal(blk)
		return nil
	}
	for i := range req.Messages {
		for j := range req.Messages[i].Content {
			if err := rewrite(&req.Messages[i].Content[j].Block); err != nil {
				return found, err
			}
		}
	}
	return found, nil
}
