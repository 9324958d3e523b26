package postgres

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/codebox-dev/codebox"
	"github.com/codebox-dev/codebox/errdefs"
	"github.com/codebox-dev/codebox/skills"
)

var _ skills.Store = (*DB)(nil)

const (
	skillColumns   = `id, workspace_id, display_name, latest_version_id, created_at, updated_at`
	versionColumns = `id, skill_id, workspace_id, name, description, directory, size_bytes, archive_size, checksum, created_at`
)

// InsertSkill records s and its first version v in one transaction.
func (db *DB) InsertSkill(ctx context.Context, s *skills.Skill, v *skills.Version) error {
	return pgx.BeginFunc(ctx, db.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `INSERT INTO skills (`+skillColumns+`) VALUES ($1, $2, $3, $4, $5, $6)`,
			s.ID, string(s.Workspace), s.DisplayName, v.ID, s.CreatedAt, s.UpdatedAt); err != nil {
			return formatError(err)
		}
		return insertVersion(ctx, tx, v)
	})
}

func insertVersion(ctx context.Context, tx pgx.Tx, v *skills.Version) error {
	_, err := tx.Exec(ctx, `INSERT INTO skill_versions (`+versionColumns+`) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`,
		v.ID, v.SkillID, string(v.Workspace), v.Name, v.Description, v.Directory, v.Size, v.ArchiveSize, v.Checksum, v.CreatedAt)
	return formatError(err)
}

// InsertSkillVersion records v and makes it its skill's latest version.
func (db *DB) InsertSkillVersion(ctx context.Context, v *skills.Version) error {
	return pgx.BeginFunc(ctx, db.pool, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `UPDATE skills SET latest_version_id = $1, updated_at = $2 WHERE id = $3 AND workspace_id = $4`,
			v.ID, v.CreatedAt, v.SkillID, string(v.Workspace))
		if err := oneRow(tag, err, "skill", v.SkillID); err != nil {
			return err
		}
		return insertVersion(ctx, tx, v)
	})
}

func scanSkill(row pgx.Row) (*skills.Skill, error) {
	var s skills.Skill
	var ws string
	if err := row.Scan(&s.ID, &ws, &s.DisplayName, &s.LatestVersion, &s.CreatedAt, &s.UpdatedAt); err != nil {
		return nil, formatError(err)
	}
	s.Workspace, s.Source = codebox.WorkspaceID(ws), skills.SourceCustom
	s.CreatedAt, s.UpdatedAt = s.CreatedAt.UTC(), s.UpdatedAt.UTC()
	return &s, nil
}

func scanVersion(row pgx.Row) (*skills.Version, error) {
	var v skills.Version
	var ws string
	if err := row.Scan(&v.ID, &v.SkillID, &ws, &v.Name, &v.Description, &v.Directory, &v.Size, &v.ArchiveSize, &v.Checksum, &v.CreatedAt); err != nil {
		return nil, formatError(err)
	}
	v.Workspace, v.CreatedAt = codebox.WorkspaceID(ws), v.CreatedAt.UTC()
	return &v, nil
}

// GetSkill returns skill id of ws, or errdefs.ErrNotFound.
func (db *DB) GetSkill(ctx context.Context, ws codebox.WorkspaceID, id string) (*skills.Skill, error) {
	return scanSkill(db.pool.QueryRow(ctx, `SELECT `+skillColumns+` FROM skills WHERE id = $1 AND workspace_id = $2`, id, string(ws)))
}

// ListSkills returns ws's skills older than after, newest first.
func (db *DB) ListSkills(ctx context.Context, ws codebox.WorkspaceID, after *skills.Cursor, limit int) ([]*skills.Skill, bool, error) {
	q, args := pageAfter(`SELECT `+skillColumns+` FROM skills WHERE workspace_id = $1`, []any{string(ws)}, after, limit)
	return queryPage(ctx, db, q, args, limit, scanSkill)
}

// pageAfter adds the cursor condition, order and limit (one more than asked, to tell
// whether more follow) to a newest-first listing.
func pageAfter(q string, args []any, after *skills.Cursor, limit int) (string, []any) {
	if after != nil {
		args = append(args, after.CreatedAt, after.ID)
		q += fmt.Sprintf(` AND (created_at, id) < ($%d, $%d)`, len(args)-1, len(args))
	}
	args = append(args, limit+1)
	return q + fmt.Sprintf(` ORDER BY created_at DESC, id DESC LIMIT $%d`, len(args)), args
}

func queryPage[T any](ctx context.Context, db *DB, q string, args []any, limit int, scan func(pgx.Row) (*T, error)) ([]*T, bool, error) {
	rows, err := db.pool.Query(ctx, q, args...)
	if err != nil {
		return nil, false, formatError(err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (*T, error) { return scan(r) })
	if err != nil {
		return nil, false, formatError(err)
	}
	if len(out) > limit {
		return out[:limit], true, nil
	}
	return out, false, nil
}

// DeleteSkill deletes skill id of ws with its versions and returns the versions' IDs.
func (db *DB) DeleteSkill(ctx context.Context, ws codebox.WorkspaceID, id string) ([]string, error) {
	var versions []string
	err := pgx.BeginFunc(ctx, db.pool, func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx, `DELETE FROM skill_versions WHERE skill_id = $1 AND workspace_id = $2 RETURNING id`, id, string(ws))
		if err != nil {
			return formatError(err)
		}
		if versions, err = pgx.CollectRows(rows, pgx.RowTo[string]); err != nil {
			return formatError(err)
		}
		tag, err := tx.Exec(ctx, `DELETE FROM skills WHERE id = $1 AND workspace_id = $2`, id, string(ws))
		return oneRow(tag, err, "skill", id)
	})
	if err != nil {
		return nil, err
	}
	return versions, nil
}

// GetSkillVersion returns version id of skill skillID in ws, or errdefs.ErrNotFound.
func (db *DB) GetSkillVersion(ctx context.Context, ws codebox.WorkspaceID, skillID, id string) (*skills.Version, error) {
	return scanVersion(db.pool.QueryRow(ctx, `SELECT `+versionColumns+` FROM skill_versions WHERE id = $1 AND skill_id = $2 AND workspace_id = $3`,
		id, skillID, string(ws)))
}

// ListSkillVersions returns the versions of skillID older than after, newest first.
func (db *DB) ListSkillVersions(ctx context.Context, ws codebox.WorkspaceID, skillID string, after *skills.Cursor, limit int) ([]*skills.Version, bool, error) {
	q, args := pageAfter(`SELECT `+versionColumns+` FROM skill_versions WHERE skill_id = $1 AND workspace_id = $2`,
		[]any{skillID, string(ws)}, after, limit)
	return queryPage(ctx, db, q, args, limit, scanVersion)
}

// DeleteSkillVersion deletes one version, unless it is the skill's only one
// (errdefs.ErrInvalid), and points the skill at its newest remaining version. The
// skill's row is locked first, so that two deletes of its last two versions cannot both
// pass the check.
func (db *DB) DeleteSkillVersion(ctx context.Context, ws codebox.WorkspaceID, skillID, id string) error {
	return pgx.BeginFunc(ctx, db.pool, func(tx pgx.Tx) error {
		var locked string
		if err := tx.QueryRow(ctx, `SELECT id FROM skills WHERE id = $1 AND workspace_id = $2 FOR UPDATE`, skillID, string(ws)).Scan(&locked); err != nil {
			return fmt.Errorf("skill %s: %w", skillID, formatError(err))
		}
		var n int
		if err := tx.QueryRow(ctx, `SELECT count(*) FROM skill_versions WHERE skill_id = $1`, skillID).Scan(&n); err != nil {
			return formatError(err)
		}
		tag, err := tx.Exec(ctx, `DELETE FROM skill_versions WHERE id = $1 AND skill_id = $2 AND workspace_id = $3`, id, skillID, string(ws))
		if err := oneRow(tag, err, "skill version", id); err != nil {
			return err
		}
		if n == 1 {
			return errdefs.New(errdefs.ErrInvalid, "", "Cannot delete the only version of skill %s; delete the skill instead", skillID)
		}
		_, err = tx.Exec(ctx, `UPDATE skills SET latest_version_id = (SELECT id FROM skill_versions WHERE skill_id = $1
			ORDER BY created_at DESC, id DESC LIMIT 1) WHERE id = $1`, skillID)
		return formatError(err)
	})
}

// SkillVersionExists reports whether version id exists in any workspace.
func (db *DB) SkillVersionExists(ctx context.Context, id string) (bool, error) {
	var ok bool
	err := db.pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM skill_versions WHERE id = $1)`, id).Scan(&ok)
	return ok, formatError(err)
}
