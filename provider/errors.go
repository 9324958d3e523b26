package provider

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"

	"github.com/codebox-dev/codebox/errdefs"
)

// UpstreamError turns an upstream model provider's HTTP failure into an *errdefs.Public
// whose kind follows the status (429 → ErrRateLimited, 529/503 → ErrUnavailable,
// 408/504 → ErrTimeout, other 5xx → ErrUpstream, 400 and other 4xx → ErrInvalid,
// 401 → ErrUnauthenticated, 403 → ErrPermission, 404 → ErrNotFound, 413 → ErrTooLarge).
// Status carries the upstream status so the client sees what upstream said, and
// Message the upstream's own message (or the status text when it sent none). cause is
// kept as the private cause.
func UpstreamError(status int, message string, cause error) error {
	if message == "" {
		message = fmt.Sprintf("upstream model provider: %d %s", status, http.StatusText(status))
	}
	var kind error
	switch {
	case status == http.StatusTooManyRequests:
		kind = errdefs.ErrRateLimited
	case status == 529 || status == http.StatusServiceUnavailable:
		kind = errdefs.ErrUnavailable
	case status == http.StatusRequestTimeout || status == http.StatusGatewayTimeout:
		kind = errdefs.ErrTimeout
	case status >= 500:
		kind = errdefs.ErrUpstream
	case status == http.StatusUnauthorized:
		kind = errdefs.ErrUnauthenticated
	case status == http.StatusForbidden:
		kind = errdefs.ErrPermission
	case status == http.StatusNotFound:
		kind = errdefs.ErrNotFound
	case status == http.StatusRequestEntityTooLarge:
		kind = errdefs.ErrTooLarge
	case status >= 400:
		kind = errdefs.ErrInvalid
	default:
		kind = errdefs.ErrUpstream
		status = http.StatusInternalServerError
	}
	return &errdefs.Public{Kind: kind, Message: message, Status: status, Err: cause}
}

// TransportError classifies a failure to reach upstream or to read its answer (no HTTP
// status): ctx's own error is returned as is; a timeout becomes ErrTimeout and anything
// else ErrUpstream, both with a generic message naming provider and the private cause.
func TransportError(ctx context.Context, provider string, err error) error {
	if ctxErr := ctx.Err(); ctxErr != nil {
		return ctxErr
	}
	var ne net.Error
	if errors.Is(err, context.DeadlineExceeded) || (errors.As(err, &ne) && ne.Timeout()) {
		return &errdefs.Public{Kind: errdefs.ErrTimeout, Message: provider + ": upstream model provider timed out", Err: err}
	}
	return &errdefs.Public{Kind: errdefs.ErrUpstream, Message: provider + ": upstream model provider failed", Err: err}
}
