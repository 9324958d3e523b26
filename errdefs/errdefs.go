// Package errdefs defines the kinds of error codebox's packages return, and a
// public-error type that carries a client-safe message and a stable error code.
//
// Inner packages wrap a kind with %w; only the api package turns kinds into HTTP
// statuses and the wire's error envelope. Check kinds with errors.Is.
package errdefs

import (
	"errors"
	"fmt"
	"time"
)

// Kinds of failure. Each maps to one HTTP status and error.type in api/errors.go.
var (
	ErrInvalid         = errors.New("invalid argument")  // 400 invalid_request_error
	ErrUnauthenticated = errors.New("unauthenticated")   // 401 authentication_error
	ErrPermission      = errors.New("permission denied") // 403 permission_error
	ErrNotFound        = errors.New("not found")         // 404 not_found_error
	ErrConflict        = errors.New("conflict")          // 409 conflict_error
	ErrTooLarge        = errors.New("too large")         // 413 request_too_large
	ErrQuota           = errors.New("quota exceeded")    // 400 invalid_request_error
	ErrRateLimited     = errors.New("rate limited")      // 429 rate_limit_error
	ErrUpstream        = errors.New("upstream error")    // 500 api_error
	ErrTimeout         = errors.New("timeout")           // 504 timeout_error
	ErrUnavailable     = errors.New("unavailable")       // 529 overloaded_error
	// ErrUnreachable is a resource that lives on another codebox node that cannot be
	// reached (its node stopped heartbeating): 503 api_error with error_code
	// container_unavailable. It is not overload, and a retry succeeds once the node
	// is back.
	ErrUnreachable = errors.New("unreachable") // 503 api_error
	// ErrInsufficientStorage is a server out of disk space: 507 api_error with
	// error_code insufficient_storage, never a bare 500 and never a write reported done.
	ErrInsufficientStorage = errors.New("insufficient storage") // 507 api_error
)

// Public is an error whose Message may be shown to clients as is. Code, when set, is a
// stable machine-readable code sent as error.details.error_code (file_expired,
// storage_quota_exceeded, container_expired, …). Status, when non-zero, overrides the
// HTTP status the kind maps to (used to relay an upstream model provider's status).
type Public struct {
	Kind    error
	Code    string
	Message string
	Status  int
	Err     error // private cause, logged but never sent
}

func (e *Public) Error() string {
	if e.Err != nil {
		return e.Message + ": " + e.Err.Error()
	}
	return e.Message
}

// Unwrap lets errors.Is find both the kind and the private cause.
func (e *Public) Unwrap() []error {
	errs := []error{e.Kind}
	if e.Err != nil {
		errs = append(errs, e.Err)
	}
	return errs
}

// New returns a *Public of the given kind with a client-safe message and an optional code.
func New(kind error, code, format string, args ...any) error {
	return &Public{Kind: kind, Code: code, Message: fmt.Sprintf(format, args...)}
}

// Code returns the stable error code attached anywhere in err's chain, or "".
func Code(err error) string {
	var p *Public
	if errors.As(err, &p) {
		return p.Code
	}
	return ""
}

// retryAfter carries how long a client should wait before trying again.
type retryAfter struct {
	error
	after time.Duration
}

func (e *retryAfter) Unwrap() error { return e.error }

// WithRetryAfter marks err (a limit that frees up with time: ErrRateLimited,
// ErrUnavailable) with how long a client should wait before retrying; the API answers it
// as the retry-after header.
func WithRetryAfter(err error, after time.Duration) error {
	if err == nil {
		return nil
	}
	return &retryAfter{error: err, after: after}
}

// RetryAfter returns the wait WithRetryAfter attached anywhere in err's chain.
func RetryAfter(err error) (time.Duration, bool) {
	var r *retryAfter
	if errors.As(err, &r) {
		return r.after, true
	}
	return 0, false
}
