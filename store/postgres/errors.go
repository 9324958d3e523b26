package postgres

import (
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/codebox-dev/codebox/diskspace"
	"github.com/codebox-dev/codebox/errdefs"
)

// SQLSTATE codes the driver acts on (PostgreSQL's appendix A).
const (
	codeUniqueViolation    = "23505"
	codeExclusionViolation = "23P01"
	codeDiskFull           = "53100"
)

// formatError turns driver errors into errdefs kinds, in the one place that knows
// PostgreSQL's error codes: no row is not found, a unique or exclusion violation is a
// conflict, a full disk on the database server is insufficient storage (the kind the
// SQLite driver and the blob stores use). Anything else passes through.
func formatError(err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, pgx.ErrNoRows) {
		return fmt.Errorf("%w", errdefs.ErrNotFound)
	}
	switch pgCode(err) {
	case codeUniqueViolation, codeExclusionViolation:
		return fmt.Errorf("%w: %w", errdefs.ErrConflict, err)
	case codeDiskFull:
		return diskspace.Refuse(err)
	}
	return err
}

func pgCode(err error) string {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		return pe.Code
	}
	return ""
}

// oneRow turns an update or delete that touched no row into errdefs.ErrNotFound.
func oneRow(tag pgconn.CommandTag, err error, what, id string) error {
	if err != nil {
		return formatError(err)
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("%s %s: %w", what, id, errdefs.ErrNotFound)
	}
	return nil
}
