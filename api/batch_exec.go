package api

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"strconv"
	"time"

	"github.com/codebox-dev/codebox"
	"github.com/codebox-dev/codebox/batches"
)

// SeatTaker takes an execution seat only when one is free now; *tools.Runner satisfies it.
type SeatTaker interface {
	TryAdmit(ctx context.Context, ws codebox.WorkspaceID) (context.Context, func(), bool)
}

// seatPoll is how often a batch request with code execution looks for a free seat.
const seatPoll = 250 * time.Millisecond

// defaultBatchRetry is how long a refused batch request waits without a retry-after.
const defaultBatchRetry = 5 * time.Second

// MessageExecutor runs batch requests through the handler of POST /v1/messages, so that
// a batch request is decoded, checked, run, metered and answered (or refused, in the
// same error envelope) exactly as an interactive one. A request with code execution
// first waits for an execution seat that interactive requests leave free (Seats), so
// that a batch never queues ahead of them.
type MessageExecutor struct {
	s     *Server
	seats SeatTaker
}

var _ batches.Executor = (*MessageExecutor)(nil)

// NewMessageExecutor returns the executor of batch requests over cfg's Messages loop;
// seats may be nil (no execution limit).
func NewMessageExecutor(cfg Config, seats SeatTaker) *MessageExecutor {
	return &MessageExecutor{s: New(cfg), seats: seats}
}

// Execute runs params as the body of POST /v1/messages in workspace ws.
func (e *MessageExecutor) Execute(ctx context.Context, ws codebox.WorkspaceID, params []byte) batches.Outcome {
	if e.seats != nil && e.usesCodeExecution(params) {
		seated, release, err := e.waitSeat(ctx, ws)
		if err != nil {
			return batches.Outcome{}
		}
		defer release()
		ctx = seated
	}
	ctx = withWorkspace(withRequestID(ctx, newRequestID()), ws)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, "/v1/messages", bytes.NewReader(params))
	if err != nil {
		return batches.Outcome{}
	}
	req.Header.Set("Content-Type", "application/json")
	rec := &bufferedResponse{header: http.Header{}}
	e.s.wrap(e.s.createMessage).ServeHTTP(rec, req)
	body := bytes.TrimSpace(rec.body.Bytes())
	var compact bytes.Buffer
	if json.Compact(&compact, body) == nil {
		body = compact.Bytes()
	}
	switch status := rec.statusOr200(); {
	case status == http.StatusOK:
		return batches.Outcome{Type: batches.Succeeded, Body: body}
	case status == http.StatusTooManyRequests || status == 529:
		// The server or upstream could not take it now: not an answer.
		after := defaultBatchRetry
		if n, err := strconv.Atoi(rec.header.Get("retry-after")); err == nil && n > 0 {
			after = time.Duration(n) * time.Second
		}
		return batches.Outcome{Type: batches.Errored, Body: body, Retry: after}
	default:
		return batches.Outcome{Type: batches.Errored, Body: body}
	}
}

// usesCodeExecution reports whether params declare a code execution tool; params that
// do not decode are left to the handler to refuse.
func (e *MessageExecutor) usesCodeExecution(params []byte) bool {
	var wr wireRequest
	if json.Unmarshal(params, &wr) != nil {
		return false
	}
	req, _, err := fromWireRequest(&wr)
	return err == nil && req.CodeExecution != ""
}

// waitSeat polls for a free execution seat until ctx ends.
func (e *MessageExecutor) waitSeat(ctx context.Context, ws codebox.WorkspaceID) (context.Context, func(), error) {
	t := time.NewTicker(seatPoll)
	defer t.Stop()
	for {
		if seated, release, ok := e.seats.TryAdmit(ctx, ws); ok {
			return seated, release, nil
		}
		select {
		case <-ctx.Done():
			return nil, nil, ctx.Err()
		case <-t.C:
		}
	}
}

// bufferedResponse is an http.ResponseWriter that keeps the answer in memory.
type bufferedResponse struct {
	header http.Header
	status int
	body   bytes.Buffer
}

func (b *bufferedResponse) Header() http.Header { return b.header }

func (b *bufferedResponse) WriteHeader(code int) {
	if b.status == 0 {
		b.status = code
	}
}

func (b *bufferedResponse) Write(p []byte) (int, error) {
	if b.status == 0 {
		b.status = http.StatusOK
	}
	return b.body.Write(p)
}

// Flush lets handlers that flush (forwarded answers) write through it.
func (b *bufferedResponse) Flush() {}

func (b *bufferedResponse) statusOr200() int {
	if b.status == 0 {
		return http.StatusOK
	}
	return b.status
}
