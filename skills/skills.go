package skills

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"time"

	"github.com/codebox-dev/codebox"
	"github.com/codebox-dev/codebox/errdefs"
	"github.com/codebox-dev/codebox/files"
	"github.com/codebox-dev/codebox/ids"
)

// ID prefixes of custom skills and their versions.
const (
	IDPrefix        = "skill_"
	VersionIDPrefix = "skver_"
)

// Skill is a custom skill of a workspace.
type Skill struct {
	ID          string
	Workspace   codebox.WorkspaceID
	DisplayName string
	// LatestVersion is the ID of the newest version.
	LatestVersion string
	CreatedAt     time.Time
	UpdatedAt     time.Time
	// Source is SourceCustom for stored skills, SourceAnthropic for built-in ones.
	Source string
}

// Sources of a skill.
const (
	SourceCustom    = "custom"
	SourceAnthropic = "anthropic"
)

// Version is one immutable upload of a skill.
type Version struct {
	ID          string
	SkillID     string
	Workspace   codebox.WorkspaceID
	Name        string // from the frontmatter; the folder it mounts as
	Description string
	// Directory is the top-level folder the files were uploaded in ("" for none); the
	// archive keeps the paths as uploaded.
	Directory   string
	Size        int64 // uncompressed bytes of all files
	ArchiveSize int64
	Checksum    string
	CreatedAt   time.Time
}

// Cursor is a position in a listing, newest first by (CreatedAt, ID).
type Cursor struct {
	CreatedAt time.Time
	ID        string
}

// Store keeps skill metadata; *sqlite.DB implements it. Every method is scoped to a
// workspace and returns errdefs.ErrNotFound for another workspace's skill.
type Store interface {
	// InsertSkill records a new skill with its first version, in one transaction.
	InsertSkill(ctx context.Context, s *Skill, v *Version) error
	// InsertSkillVersion records v as the skill's newest version, making it the latest.
	InsertSkillVersion(ctx context.Context, v *Version) error
	GetSkill(ctx context.Context, ws codebox.WorkspaceID, id string) (*Skill, error)
	// ListSkills returns up to limit skills older than after (nil: from the newest), and
	// whether more follow.
	ListSkills(ctx context.Context, ws codebox.WorkspaceID, after *Cursor, limit int) ([]*Skill, bool, error)
	// DeleteSkill deletes the skill and its versions, and returns the versions' IDs.
	DeleteSkill(ctx context.Context, ws codebox.WorkspaceID, id string) ([]string, error)
	GetSkillVersion(ctx context.Context, ws codebox.WorkspaceID, skillID, id string) (*Version, error)
	ListSkillVersions(ctx context.Context, ws codebox.WorkspaceID, skillID string, after *Cursor, limit int) ([]*Version, bool, error)
	// DeleteSkillVersion deletes a version and makes the newest remaining one the latest;
	// deleting the only version is errdefs.ErrInvalid.
	DeleteSkillVersion(ctx context.Context, ws codebox.WorkspaceID, skillID, id string) error
	// SkillVersionExists reports whether a version with this ID exists in any workspace.
	SkillVersionExists(ctx context.Context, id string) (bool, error)
}

// Blobs keeps the archives by version ID; blobs/disk implements it.
type Blobs interface {
	Put(ctx context.Context, key string, r io.Reader) (size int64, checksum string, err error)
	Open(ctx context.Context, key string) (io.ReadSeekCloser, error)
	Remove(ctx context.Context, key string) error
	Keys(ctx context.Context) ([]string, error)
}

// Config holds the limits of a Service.
type Config struct {
	// MaxSize caps the uncompressed size of one version's files (default 30 MB).
	MaxSize int64
	Logger  *slog.Logger
}

// DefaultMaxSize is Anthropic's limit on a skill upload.
const DefaultMaxSize = 30_000_000

// Service is the skills domain.
type Service struct {
	cfg     Config
	store   Store
	blobs   Blobs
	builtin *builtins
	now     func() time.Time
}

// New returns a Service over store and blobs, serving the built-in skills of builtin
// (its top-level folders; nil for none).
func New(cfg Config, store Store, blobs Blobs, builtin fs.FS) *Service {
	if cfg.MaxSize <= 0 {
		cfg.MaxSize = DefaultMaxSize
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	return &Service{cfg: cfg, store: store, blobs: blobs, builtin: newBuiltins(builtin),
		now: func() time.Time { return time.Now().UTC() }}
}

// MaxSize is the limit on one version's files, uncompressed.
func (s *Service) MaxSize() int64 { return s.cfg.MaxSize }

// Create stores a new skill from b. displayName "" means the frontmatter's name.
func (s *Service) Create(ctx context.Context, ws codebox.WorkspaceID, displayName string, b *Bundle) (*Skill, *Version, error) {
	if len(displayName) > 255 {
		return nil, nil, invalid("display_name must be at most 255 characters")
	}
	v, err := s.storeVersion(ctx, ws, ids.New(IDPrefix), b)
	if err != nil {
		return nil, nil, err
	}
	if displayName == "" {
		displayName = v.Name
	}
	sk := &Skill{ID: v.SkillID, Workspace: ws, DisplayName: displayName, LatestVersion: v.ID,
		CreatedAt: v.CreatedAt, UpdatedAt: v.CreatedAt, Source: SourceCustom}
	if err := s.store.InsertSkill(ctx, sk, v); err != nil {
		s.removeBlob(ctx, v.ID)
		return nil, nil, err
	}
	return sk, v, nil
}

// CreateVersion stores b as the newest version of skillID.
func (s *Service) CreateVersion(ctx context.Context, ws codebox.WorkspaceID, skillID string, b *Bundle) (*Version, error) {
	if _, err := s.customSkill(ctx, ws, skillID); err != nil {
		return nil, err
	}
	v, err := s.storeVersion(ctx, ws, skillID, b)
	if err != nil {
		return nil, err
	}
	if err := s.store.InsertSkillVersion(ctx, v); err != nil {
		s.removeBlob(ctx, v.ID)
		return nil, notFoundOr(err, "Skill", skillID)
	}
	return v, nil
}

// storeVersion validates b and stores its archive as a new version of skillID.
func (s *Service) storeVersion(ctx context.Context, ws codebox.WorkspaceID, skillID string, b *Bundle) (*Version, error) {
	dir, fm, err := b.finish()
	if err != nil {
		return nil, err
	}
	v := &Version{ID: ids.New(VersionIDPrefix), SkillID: skillID, Workspace: ws, Name: fm.Name,
		Description: fm.Description, Directory: dir, Size: b.size, CreatedAt: s.now()}
	if v.ArchiveSize, v.Checksum, err = s.blobs.Put(ctx, v.ID, b.tmp); err != nil {
		return nil, fmt.Errorf("store skill archive: %w", err)
	}
	return v, nil
}

func (s *Service) removeBlob(ctx context.Context, key string) {
	if err := s.blobs.Remove(context.WithoutCancel(ctx), key); err != nil {
		s.cfg.Logger.Error("remove skill archive", "version", key, "err", err)
	}
}

// Get returns a custom skill of ws, or a built-in one by its ID (xlsx, …).
func (s *Service) Get(ctx context.Context, ws codebox.WorkspaceID, id string) (*Skill, error) {
	if b := s.builtin.get(id); b != nil {
		return b.skill(), nil
	}
	return s.customSkill(ctx, ws, id)
}

func (s *Service) customSkill(ctx context.Context, ws codebox.WorkspaceID, id string) (*Skill, error) {
	if s.builtin.get(id) != nil {
		return nil, invalid("Skill %s is built in and cannot be changed", id)
	}
	if !ids.Valid(IDPrefix, id) {
		return nil, notFound("Skill", id)
	}
	sk, err := s.store.GetSkill(ctx, ws, id)
	return sk, notFoundOr(err, "Skill", id)
}

// MaxListLimit is the largest page of a listing.
const MaxListLimit = 1000

// List returns a page of skills newest first: ws's custom ones (source "custom"), the
// built-in ones ("anthropic"), or both, the built-in ones after the custom ones ("").
func (s *Service) List(ctx context.Context, ws codebox.WorkspaceID, source string, after *Cursor, limit int) ([]*Skill, bool, error) {
	var out []*Skill
	switch source {
	case "", SourceCustom:
		if after == nil || s.builtin.get(after.ID) == nil {
			list, more, err := s.store.ListSkills(ctx, ws, after, limit)
			if err != nil || more || source == SourceCustom {
				return list, more, err
			}
			out, after = list, nil
		}
	case SourceAnthropic:
	default:
		return nil, false, invalid("source must be custom or anthropic")
	}
	rest := s.builtin.list()
	if after != nil {
		for i, sk := range rest {
			if sk.ID == after.ID {
				rest = rest[i+1:]
				break
			}
		}
	}
	if room := limit - len(out); len(rest) > room {
		return append(out, rest[:room]...), true, nil
	}
	return append(out, rest...), false, nil
}

// Delete deletes a custom skill and all its versions.
func (s *Service) Delete(ctx context.Context, ws codebox.WorkspaceID, id string) error {
	if _, err := s.customSkill(ctx, ws, id); err != nil {
		return err
	}
	versions, err := s.store.DeleteSkill(ctx, ws, id)
	if err != nil {
		return notFoundOr(err, "Skill", id)
	}
	for _, v := range versions {
		s.removeBlob(ctx, v)
	}
	return nil
}

// LatestVersion is the version name that means the skill's newest version.
const LatestVersion = "latest"

// Version returns one version of a skill; version may be LatestVersion.
func (s *Service) Version(ctx context.Context, ws codebox.WorkspaceID, skillID, version string) (*Version, error) {
	if b := s.builtin.get(skillID); b != nil {
		return b.version(version)
	}
	sk, err := s.customSkill(ctx, ws, skillID)
	if err != nil {
		return nil, err
	}
	if version == LatestVersion {
		version = sk.LatestVersion
	}
	if !ids.Valid(VersionIDPrefix, version) {
		return nil, notFound("Skill version", version)
	}
	v, err := s.store.GetSkillVersion(ctx, ws, skillID, version)
	return v, notFoundOr(err, "Skill version", version)
}

// Versions returns a page of a skill's versions, newest first.
func (s *Service) Versions(ctx context.Context, ws codebox.WorkspaceID, skillID string, after *Cursor, limit int) ([]*Version, bool, error) {
	if b := s.builtin.get(skillID); b != nil {
		v, err := b.version(LatestVersion)
		return []*Version{v}, false, err
	}
	if _, err := s.customSkill(ctx, ws, skillID); err != nil {
		return nil, false, err
	}
	return s.store.ListSkillVersions(ctx, ws, skillID, after, limit)
}

// DeleteVersion deletes one version (not "latest"); the only version of a skill cannot
// be deleted, the skill can.
func (s *Service) DeleteVersion(ctx context.Context, ws codebox.WorkspaceID, skillID, version string) error {
	if _, err := s.customSkill(ctx, ws, skillID); err != nil {
		return err
	}
	if !ids.Valid(VersionIDPrefix, version) {
		return notFound("Skill version", version)
	}
	if err := s.store.DeleteSkillVersion(ctx, ws, skillID, version); err != nil {
		return notFoundOr(err, "Skill version", version)
	}
	s.removeBlob(ctx, version)
	return nil
}

// OpenArchive returns a version and its zip archive. Built-in skills are archived on
// the fly.
func (s *Service) OpenArchive(ctx context.Context, ws codebox.WorkspaceID, skillID, version string) (*Version, io.ReadSeekCloser, error) {
	v, err := s.Version(ctx, ws, skillID, version)
	if err != nil {
		return nil, nil, err
	}
	if b := s.builtin.get(skillID); b != nil {
		rc, err := b.archive()
		return v, rc, err
	}
	rc, err := s.blobs.Open(ctx, v.ID)
	if err != nil {
		return nil, nil, fmt.Errorf("open skill archive %s: %w", v.ID, err)
	}
	return v, rc, nil
}

// Recover removes archives that have no version: left by a crash between storing the
// bytes and recording them, or between deleting a version and its bytes.
func (s *Service) Recover(ctx context.Context) (removed int, err error) {
	return files.RemoveOrphans(ctx, s.blobs, s.store.SkillVersionExists)
}

func notFound(what, id string) error {
	return errdefs.New(errdefs.ErrNotFound, "", "%s %s not found", what, id)
}

// notFoundOr words a store's ErrNotFound for the client and passes other errors on.
func notFoundOr(err error, what, id string) error {
	if errors.Is(err, errdefs.ErrNotFound) {
		var pub *errdefs.Public
		if errors.As(err, &pub) {
			return err
		}
		return notFound(what, id)
	}
	return err
}
