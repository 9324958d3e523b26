package api

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/codebox-dev/codebox/errdefs"
)

// TestEnvelopeMessageNeverEmpty checks every kind, bare, wrapped and as a public error
// without a message, and upstream statuses that have no status text: the envelope
// always says something.
func TestEnvelopeMessageNeverEmpty(t *testing.T) {
	kinds := []error{errdefs.ErrInvalid, errdefs.ErrUnauthenticated, errdefs.ErrPermission, errdefs.ErrNotFound,
		errdefs.ErrConflict, errdefs.ErrTooLarge, errdefs.ErrQuota, errdefs.ErrRateLimited, errdefs.ErrUpstream,
		errdefs.ErrTimeout, errdefs.ErrUnavailable, errdefs.ErrInsufficientStorage, errors.New("anything else")}
	var errs []error
	for _, k := range kinds {
		errs = append(errs, k, fmt.Errorf("start container: %w", k), &errdefs.Public{Kind: k})
	}
	errs = append(errs, &errdefs.Public{Kind: errdefs.ErrUnavailable, Status: 529},
		&errdefs.Public{Kind: errdefs.ErrUpstream, Status: 599})
	for _, err := range errs {
		status, body := errorEnvelope(context.Background(), err)
		if body.Error.Message == "" || body.Error.Type == "" {
			t.Errorf("%v: %d %+v: empty message or type", err, status, body.Error)
		}
	}
	if _, body := errorEnvelope(context.Background(), fmt.Errorf("%w: runc run: exit status 1", errdefs.ErrUnavailable)); body.Error.Message != "Overloaded" {
		t.Errorf("529 message = %q, want Overloaded", body.Error.Message)
	}
}
