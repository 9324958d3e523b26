package sqlite

import (
	"context"
	"database/sql"
	"fmt"

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
	tx, err := db.db.BeginTx(ctx, nil)
	if err != nil {
		return formatError(err)
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, `INSERT INTO skills (`+skillColumns+`) VALUES (?, ?, ?, ?, ?, ?)`,
		s.ID, string(s.Workspace), s.DisplayName, v.ID, formatTime(s.CreatedAt), formatTime(s.UpdatedAt)); err != nil {
		return formatError(err)
	}
	if err := insertVersion(ctx, tx, v); err != nil {
		return err
	}
	return formatError(tx.Commit())
}

func insertVersion(ctx context.Context, tx *sql.Tx, v *skills.Version) error {
	_, err := tx.ExecContext(ctx, `INSERT INTO skill_versions (`+versionColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		v.ID, v.SkillID, string(v.Workspace), v.Name, v.Description, v.Directory, v.Size, v.ArchiveSize, v.Checksum, formatTime(v.CreatedAt))
	return formatError(err)
}

// InsertSkillVersion records v and makes it its skill's latest version.
func (db *DB) InsertSkillVersion(ctx context.Context, v *skills.Version) error {
	tx, err := db.db.BeginTx(ctx, nil)
	if err != nil {
		return formatError(err)
	}
	defer tx.Rollback()
	res, err := tx.ExecContext(ctx, `UPDATE skills SET latest_version_id = ?, updated_at = ? WHERE id = ? AND workspace_id = ?`,
		v.ID, formatTime(v.CreatedAt), v.SkillID, string(v.Workspace))
	if err := oneRow(res, err, "skill", v.SkillID); err != nil {
		return err
	}
	if err := insertVersion(ctx, tx, v); err != nil {
		return err
	}
	return formatError(tx.Commit())
}

// oneRow turns an update or delete that touched no row into errdefs.ErrNotFound.
func oneRow(res sql.Result, err error, what, id string) error {
	if err != nil {
		return formatError(err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return formatError(err)
	}
	if n == 0 {
		return fmt.Errorf("%s %s: %w", what, id, errdefs.ErrNotFound)
	}
	return nil
}

func scanSkill(row scanner) (*skills.Skill, error) {
	var s skills.Skill
	var ws, created, updated string
	if err := row.Scan(&s.ID, &ws, &s.DisplayName, &s.LatestVersion, &created, &updated); err != nil {
		return nil, formatError(err)
	}
	s.Workspace, s.Source = codebox.WorkspaceID(ws), skills.SourceCustom
	var err error
	if s.CreatedAt, err = parseTime(created); err != nil {
		return nil, fmt.Errorf("skill %s created_at: %w", s.ID, err)
	}
	if s.UpdatedAt, err = parseTime(updated); err != nil {
		return nil, fmt.Errorf("skill %s updated_at: %w", s.ID, err)
	}
	return &s, nil
}

func scanVersion(row scanner) (*skills.Version, error) {
	var v skills.Version
	var ws, created string
	if err := row.Scan(&v.ID, &v.SkillID, &ws, &v.Name, &v.Description, &v.Directory, &v.Size, &v.ArchiveSize, &v.Checksum, &created); err != nil {
		return nil, formatError(err)
	}
	v.Workspace = codebox.WorkspaceID(ws)
	var err error
	if v.CreatedAt, err = parseTime(created); err != nil {
		return nil, fmt.Errorf("skill version %s created_at: %w", v.ID, err)
	}
	return &v, nil
}

// GetSkill returns skill id of ws, or errdefs.ErrNotFound.
func (db *DB) GetSkill(ctx context.Context, ws codebox.WorkspaceID, id string) (*skills.Skill, error) {
	return scanSkill(db.db.QueryRowContext(ctx, `SELECT `+skillColumns+` FROM skills WHERE id = ? AND workspace_id = ?`, id, string(ws)))
}

// ListSkills returns ws's skills older than after, newest first.
func (db *DB) ListSkills(ctx context.Context, ws codebox.WorkspaceID, after *skills.Cursor, limit int) ([]*skills.Skill, bool, error) {
	q, args := `SELECT `+skillColumns+` FROM skills WHERE workspace_id = ?`, []any{string(ws)}
	q, args = pageAfter(q, args, after, limit)
	return queryPage(ctx, db, q, args, limit, scanSkill)
}

// pageAfter adds the cursor condition, order and limit (one more than asked, to tell
// whether more follow) to a newest-first listing.
func pageAfter(q string, args []any, after *skills.Cursor, limit int) (string, []any) {
	if after != nil {
		c := formatTime(after.CreatedAt)
		q += ` AND (created_at < ? OR (created_at = ? AND id < ?))`
		args = append(args, c, c, after.ID)
	}
	return q + ` ORDER BY created_at DESC, id DESC LIMIT ?`, append(args, limit+1)
}

func queryPage[T any](ctx context.Context, db *DB, q string, args []any, limit int, scan func(scanner) (*T, error)) ([]*T, bool, error) {
	rows, err := db.db.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, false, formatError(err)
	}
	defer rows.Close()
	var out []*T
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return nil, false, err
		}
		out = append(out, v)
	}
	if err := rows.Err(); err != nil {
		return nil, false, formatError(err)
	}
	if len(out) > limit {
		return out[:limit], true, nil
	}
	return out, false, nil
}

// DeleteSkill deletes skill id of ws with its versions and returns the versions' IDs.
func (db *DB) DeleteSkill(ctx context.Context, ws codebox.WorkspaceID, id string) ([]string, error) {
	tx, err := db.db.BeginTx(ctx, nil)
	if err != nil {
		return nil, formatError(err)
	}
	defer tx.Rollback()
	rows, err := tx.QueryContext(ctx, `SELECT id FROM skill_versions WHERE skill_id = ? AND workspace_id = ?`, id, string(ws))
	if err != nil {
		return nil, formatError(err)
	}
	var versions []string
	for rows.Next() {
		var v string
		if err := rows.Scan(&v); err != nil {
			rows.Close()
			return nil, formatError(err)
		}
		versions = append(versions, v)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, formatError(err)
	}
	if _, err := tx.ExecContext(ctx, `DELETE FROM skill_versions WHERE skill_id = ? AND workspace_id = ?`, id, string(ws)); err != nil {
		return nil, formatError(err)
	}
	res, err := tx.ExecContext(ctx, `DELETE FROM skills WHERE id = ? AND workspace_id = ?`, id, string(ws))
	if err := oneRow(res, err, "skill", id); err != nil {
		return nil, err
	}
	return versions, formatError(tx.Commit())
}

// GetSkillVersion returns version id of skill skillID in ws, or errdefs.ErrNotFound.
func (db *DB) GetSkillVersion(ctx context.Context, ws codebox.WorkspaceID, skillID, id string) (*skills.Version, error) {
	return scanVersion(db.db.QueryRowContext(ctx, `SELECT `+versionColumns+` FROM skill_versions WHERE id = ? AND skill_id = ? AND workspace_id = ?`,
		id, skillID, string(ws)))
}

// ListSkillVersions returns the versions of skillID older than after, newest first.
func (db *DB) ListSkillVersions(ctx context.Context, ws codebox.WorkspaceID, skillID string, after *skills.Cursor, limit int) ([]*skills.Version, bool, error) {
	q, args := `SELECT `+versionColumns+` FROM skill_versions WHERE skill_id = ? AND workspace_id = ?`, []any{skillID, string(ws)}
	q, args = pageAfter(q, args, after, limit)
	return queryPage(ctx, db, q, args, limit, scanVersion)
}

// DeleteSkillVersion deletes one version, unless it is the skill's only one
// (errdefs.ErrInvalid), and points the skill at its newest remaining version.
func (db *DB) DeleteSkillVersion(ctx context.Context, ws codebox.WorkspaceID, skillID, id string) error {
	tx, err := db.db.BeginTx(ctx, nil)
	if err != nil {
		return formatError(err)
	}
	defer tx.Rollback()
	var n int
	if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM skill_versions WHERE skill_id = ? AND workspace_id = ?`, skillID, string(ws)).Scan(&n); err != nil {
		return formatError(err)
	}
	res, err := tx.ExecContext(ctx, `DELETE FROM skill_versions WHERE id = ? AND skill_id = ? AND workspace_id = ?`, id, skillID, string(ws))
	if err := oneRow(res, err, "skill version", id); err != nil {
		return err
	}
	if n == 1 {
		return errdefs.New(errdefs.ErrInvalid, "", "Cannot delete the only version of skill %s; delete the skill instead", skillID)
	}
	if _, err := tx.ExecContext(ctx, `UPDATE skills SET latest_version_id = (SELECT id FROM skill_versions WHERE skill_id = ?
		ORDER BY created_at DESC, id DESC LIMIT 1) WHERE id = ?`, skillID, skillID); err != nil {
		return formatError(err)
	}
	return formatError(tx.Commit())
}

// SkillVersionExists reports whether version id exists in any workspace.
func (db *DB) SkillVersionExists(ctx context.Context, id string) (bool, error) {
	var n int
	err := db.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM skill_versions WHERE id = ?`, id).Scan(&n)
	return n > 0, formatError(err)
}
