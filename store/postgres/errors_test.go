package postgres

import (
	"errors"
	"fmt"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/codebox-dev/codebox/errdefs"
)

func TestFormatError(t *testing.T) {
	other := errors.New("connection reset")
	for _, c := range []struct {
		err  error
		want error
	}{
		{pgx.ErrNoRows, errdefs.ErrNotFound},
		{fmt.Errorf("insert: %w", &pgconn.PgError{Code: codeUniqueViolation}), errdefs.ErrConflict},
		{&pgconn.PgError{Code: codeExclusionViolation}, errdefs.ErrConflict},
		{&pgconn.PgError{Code: codeDiskFull}, errdefs.ErrInsufficientStorage},
		{other, other},
	} {
		if got := formatError(c.err); !errors.Is(got, c.want) {
			t.Errorf("formatError(%v) = %v, want %v", c.err, got, c.want)
		}
	}
	if formatError(nil) != nil {
		t.Error("formatError(nil) is not nil")
	}
}
