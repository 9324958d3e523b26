// Package errdefs defines the kinds of error codebox's packages return, and a
// public-error type that carries a client-safe message and a stable error code.
//
// Inner packages wrap a kind with %w; only the api package turns kinds into HTTP
// statuses and the wire's error envelope. Check kinds with errors.Is.
package errdefs

import (
	"errors"
	"fmt"
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
