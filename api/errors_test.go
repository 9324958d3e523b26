package api

import (
	"encoding/json"
	"fmt"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/codebox-dev/codebox/errdefs"
)

// TestRetryAfterHeader checks that a wait attached to an error, wrapped any number of
// times, becomes the retry-after header in whole seconds rounded up.
func TestRetryAfterHeader(t *testing.T) {
	s := New(Config{})
	for _, tc := range []struct {
		err        error
		status     int
		typ, after string
	}{
		{errdefs.WithRetryAfter(errdefs.New(errdefs.ErrRateLimited, "", "busy"), 1500*time.Millisecond), 429, "rate_limit_error", "2"},
		{fmt.Errorf("run: %w", errdefs.WithRetryAfter(errdefs.New(errdefs.ErrUnavailable, "", "full"), 0)), 529, "overloaded_error", "1"},
		{errdefs.New(errdefs.ErrRateLimited, "", "busy"), 429, "rate_limit_error", ""},
		{errdefs.WithRetryAfter(errdefs.New(errdefs.ErrUnreachable, errdefs.CodeContainerUnavailable, "node down"), 5*time.Second), 503, "api_error", "5"},
	} {
		w := httptest.NewRecorder()
		s.writeError(w, httptest.NewRequest("POST", "/v1/messages", nil), tc.err)
		var body errorBody
		if err := json.Unmarshal(w.Body.Bytes(), &body); err != nil {
			t.Fatal(err)
		}
		if w.Code != tc.status || body.Error.Type != tc.typ || w.Header().Get("retry-after") != tc.after {
			t.Errorf("%v: %d %s retry-after %q, want %d %s %q", tc.err, w.Code, body.Error.Type,
				w.Header().Get("retry-after"), tc.status, tc.typ, tc.after)
		}
	}
}

// TestStatusFollowsThePublicKind: the kind a client-facing error states decides its
// status, whatever kind its private cause has (a missing archive object behind "the
// container's saved disk could not be restored" is a server failure, not a 404).
func TestStatusFollowsThePublicKind(t *testing.T) {
	s := New(Config{})
	for _, tc := range []struct {
		err    error
		status int
		typ    string
	}{
		{&errdefs.Public{Kind: errdefs.ErrUpstream, Message: "saved disk lost", Err: fmt.Errorf("open: %w", errdefs.ErrNotFound)}, 500, "api_error"},
		{fmt.Errorf("start: %w", &errdefs.Public{Kind: errdefs.ErrUnreachable, Message: "node down", Err: errdefs.ErrInvalid}), 503, "api_error"},
		{fmt.Errorf("lookup: %w", errdefs.ErrNotFound), 404, "not_found_error"},
	} {
		w := httptest.NewRecorder()
		s.writeError(w, httptest.NewRequest("POST", "/v1/messages", nil), tc.err)
		var body errorBody
		if err := json.Unmarshal(w.Body.Bytes(), &body); err != nil {
			t.Fatal(err)
		}
		if w.Code != tc.status || body.Error.Type != tc.typ {
			t.Errorf("%v: %d %s, want %d %s", tc.err, w.Code, body.Error.Type, tc.status, tc.typ)
		}
	}
}
