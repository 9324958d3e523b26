package api

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"time"

	"github.com/codebox-dev/codebox/errdefs"
)

var errInternal = errors.New("internal error")

// errorBody is Anthropic's error envelope (spec §1.5).
type errorBody struct {
	Type      string      `json:"type"`
	Error     errorDetail `json:"error"`
	RequestID string      `json:"request_id"`
}

type errorDetail struct {
	Type    string        `json:"type"`
	Message string        `json:"message"`
	Details *errorDetails `json:"details,omitempty"`
}

type errorDetails struct {
	ErrorCode string `json:"error_code"`
}

// statusOf maps an error kind to its HTTP status and error.type.
func statusOf(err error) (int, string) {
	// The kind a client-facing error states wins over its private cause's: a missing
	// object behind "the saved disk could not be restored" is not the client's 404.
	var pub *errdefs.Public
	if errors.As(err, &pub) && pub.Kind != nil {
		err = pub.Kind
	}
	switch {
	case errors.Is(err, errdefs.ErrInvalid), errors.Is(err, errdefs.ErrQuota):
		return http.StatusBadRequest, "invalid_request_error"
	case errors.Is(err, errdefs.ErrUnauthenticated):
		return http.StatusUnauthorized, "authentication_error"
	case errors.Is(err, errdefs.ErrPermission):
		return http.StatusForbidden, "permission_error"
	case errors.Is(err, errdefs.ErrNotFound):
		return http.StatusNotFound, "not_found_error"
	case errors.Is(err, errdefs.ErrConflict):
		return http.StatusConflict, "conflict_error"
	case errors.Is(err, errdefs.ErrTooLarge):
		return http.StatusRequestEntityTooLarge, "request_too_large"
	case errors.Is(err, errdefs.ErrRateLimited):
		return http.StatusTooManyRequests, "rate_limit_error"
	case errors.Is(err, errdefs.ErrTimeout):
		return http.StatusGatewayTimeout, "timeout_error"
	case errors.Is(err, errdefs.ErrInsufficientStorage):
		return http.StatusInsufficientStorage, "api_error"
	case errors.Is(err, errdefs.ErrUnreachable):
		return http.StatusServiceUnavailable, "api_error"
	case errors.Is(err, errdefs.ErrUnavailable):
		return 529, "overloaded_error"
	default:
		return http.StatusInternalServerError, "api_error"
	}
}

// errorEnvelope builds the envelope for err. Only *errdefs.Public messages reach the
// client; anything else gets a bland message for its kind.
func errorEnvelope(ctx context.Context, err error) (int, errorBody) {
	status, typ := statusOf(err)
	var msg, code string
	var pub *errdefs.Public
	if errors.As(err, &pub) {
		msg, code = pub.Message, pub.Code
		if pub.Status != 0 {
			status = pub.Status
		}
	}
	if msg == "" {
		msg = defaultMessage(status)
	}
	body := errorBody{Type: "error", Error: errorDetail{Type: typ, Message: msg}, RequestID: requestID(ctx)}
	if code != "" {
		body.Error.Details = &errorDetails{ErrorCode: code}
	}
	return status, body
}

// defaultMessage is the message of an error that brings none a client may see. It is
// never empty: 529 has no status text of its own, and an empty message tells an
// operator nothing.
func defaultMessage(status int) string {
	switch status {
	case http.StatusInternalServerError:
		return "Internal server error"
	case 529:
		return "Overloaded"
	}
	if text := http.StatusText(status); text != "" {
		return text
	}
	return fmt.Sprintf("Request failed with status %d", status)
}

// writeError writes err as the error envelope. A request the client cancelled gets no
// body; unexpected errors are logged with their full chain.
func (s *Server) writeError(w http.ResponseWriter, r *http.Request, err error) {
	ctx := r.Context()
	if errors.Is(err, context.Canceled) && ctx.Err() != nil {
		s.Logger.Debug("client went away", "request_id", requestID(ctx), "status", 499)
		return
	}
	status, body := errorEnvelope(ctx, err)
	if status >= 500 {
		s.Logger.Error("request failed", "request_id", requestID(ctx), "method", r.Method,
			"path", r.URL.Path, "status", status, "err", err)
	}
	if after, ok := errdefs.RetryAfter(err); ok {
		w.Header().Set("retry-after", retryAfterSeconds(after))
	}
	if status == http.StatusUnauthorized {
		// A client without a valid key keeps no connection open.
		w.Header().Set("Connection", "close")
	}
	if status == http.StatusUnauthorized || status == http.StatusRequestEntityTooLarge {
		// The SDKs would otherwise retry 4xx they do not understand; these never succeed on retry.
		w.Header().Set("x-should-retry", "false")
	}
	writeJSON(w, status, body)
}

// WriteConnError answers err on a raw connection and asks the client to close it, in
// the same envelope and headers as the handlers' errors; for refusals made before HTTP
// serving begins (a full connection table).
func WriteConnError(w io.Writer, err error) error {
	status, body := errorEnvelope(context.Background(), err)
	b, jerr := json.Marshal(body)
	if jerr != nil {
		return jerr
	}
	b = append(b, '\n')
	resp := &http.Response{StatusCode: status, ProtoMajor: 1, ProtoMinor: 1, Close: true,
		Header: http.Header{"Content-Type": {"application/json"}}, ContentLength: int64(len(b)), Body: io.NopCloser(bytes.NewReader(b))}
	if after, ok := errdefs.RetryAfter(err); ok {
		resp.Header.Set("retry-after", retryAfterSeconds(after))
	}
	return resp.Write(w)
}

// retryAfterSeconds renders a wait as retry-after's whole seconds, rounded up: the SDKs
// read the header as an integer, and 0 would invite an immediate retry.
func retryAfterSeconds(d time.Duration) string {
	return strconv.FormatInt(max(1, int64((d+time.Second-1)/time.Second)), 10)
}

// writeJSON writes v as a JSON response.
func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		http.Error(w, `{"type":"error","error":{"type":"api_error","message":"encoding response"}}`, http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	w.Write(append(b, '\n'))
}

func errRouteNotFound(r *http.Request) error {
	return errdefs.New(errdefs.ErrNotFound, "", "Not found: %s %s", r.Method, r.URL.Path)
}

func errMethodNotAllowed(r *http.Request) error {
	return &errdefs.Public{Kind: errdefs.ErrInvalid, Status: http.StatusMethodNotAllowed,
		Message: "Method " + r.Method + " is not allowed on " + r.URL.Path}
}

// readBody reads a request body of at most s.MaxJSONBodyBytes; a larger one is
// errdefs.ErrTooLarge.
func (s *Server) readBody(w http.ResponseWriter, r *http.Request) ([]byte, error) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, s.MaxJSONBodyBytes))
	if err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			return nil, errdefs.New(errdefs.ErrTooLarge, "", "Request body exceeds the maximum size of %d bytes", tooLarge.Limit)
		}
		return nil, err
	}
	return body, nil
}

// decodeJSON reads a JSON body of at most s.MaxJSONBodyBytes into v.
func (s *Server) decodeJSON(w http.ResponseWriter, r *http.Request, v any) error {
	body, err := s.readBody(w, r)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(body, v); err != nil {
		return errdefs.New(errdefs.ErrInvalid, "", "Invalid JSON body: %v", err)
	}
	return nil
}
