package skills

import (
	"archive/zip"
	"bytes"
	"context"
	"fmt"
	"io"
	"io/fs"

	"github.com/codebox-dev/codebox"
	"github.com/codebox-dev/codebox/errdefs"
)

// MaxPerRequest is how many skills one request may load.
const MaxPerRequest = 20

// Ref names a skill as a request does: Type SourceCustom or SourceAnthropic, the
// skill's ID, and a version ("" or LatestVersion for the newest).
type Ref struct {
	Type    string
	SkillID string
	Version string
}

// Resolved is a skill a container mounts: Ref with its version resolved, and what the
// model is told of it.
type Resolved struct {
	Ref
	Name        string // the folder under /skills
	Description string
	// Key identifies the files: equal keys mean equal files.
	Key  string
	open func(ctx context.Context) (fs.FS, io.Closer, error)
}

// Open returns the skill's files, rooted at its SKILL.md's folder; close the Closer
// when done.
func (r *Resolved) Open(ctx context.Context) (fs.FS, io.Closer, error) { return r.open(ctx) }

// Resolve looks up a request's skills in ws: an unknown skill or version, or another
// workspace's, is errdefs.ErrNotFound; more than MaxPerRequest, a bad type, or two
// skills with one name are errdefs.ErrInvalid.
func (s *Service) Resolve(ctx context.Context, ws codebox.WorkspaceID, refs []Ref) ([]*Resolved, error) {
	if len(refs) > MaxPerRequest {
		return nil, invalid("container.skills: at most %d skills per request, got %d", MaxPerRequest, len(refs))
	}
	out := make([]*Resolved, 0, len(refs))
	names := map[string]string{}
	for i, ref := range refs {
		if ref.Version == "" {
			ref.Version = LatestVersion
		}
		var r *Resolved
		var err error
		switch ref.Type {
		case SourceAnthropic:
			r, err = s.resolveBuiltin(ref)
		case SourceCustom:
			r, err = s.resolveCustom(ctx, ws, ref)
		default:
			err = invalid("container.skills.%d.type: must be \"anthropic\" or \"custom\"", i)
		}
		if err != nil {
			return nil, err
		}
		if prev, dup := names[r.Name]; dup {
			return nil, invalid("container.skills: %s and %s are both named %q; each skill mounts at /skills/<name>/, so names must differ", prev, ref.SkillID, r.Name)
		}
		names[r.Name] = ref.SkillID
		out = append(out, r)
	}
	return out, nil
}

func (s *Service) resolveBuiltin(ref Ref) (*Resolved, error) {
	b := s.builtin.get(ref.SkillID)
	if b == nil {
		return nil, errdefs.New(errdefs.ErrNotFound, "", "Skill %s not found: the anthropic skills are %s", ref.SkillID, s.builtinNames())
	}
	v, err := b.version(ref.Version)
	if err != nil {
		return nil, err
	}
	ref.Version = v.ID
	return &Resolved{Ref: ref, Name: b.fm.Name, Description: b.fm.Description, Key: b.key,
		open: func(context.Context) (fs.FS, io.Closer, error) { return b.files, io.NopCloser(nil), nil }}, nil
}

func (s *Service) builtinNames() string {
	list := s.builtin.list()
	out := ""
	for i, sk := range list {
		if i > 0 {
			out += ", "
		}
		out += sk.ID
	}
	if out == "" {
		return "none on this server"
	}
	return out
}

func (s *Service) resolveCustom(ctx context.Context, ws codebox.WorkspaceID, ref Ref) (*Resolved, error) {
	v, err := s.Version(ctx, ws, ref.SkillID, ref.Version)
	if err != nil {
		return nil, err
	}
	ref.Version = v.ID
	return &Resolved{Ref: ref, Name: v.Name, Description: v.Description, Key: v.ID,
		open: func(ctx context.Context) (fs.FS, io.Closer, error) { return s.openVersion(ctx, v) }}, nil
}

// openVersion reads a version's archive in place when the blob store gives a file, and
// into memory otherwise.
func (s *Service) openVersion(ctx context.Context, v *Version) (fs.FS, io.Closer, error) {
	rc, err := s.blobs.Open(ctx, v.ID)
	if err != nil {
		return nil, nil, fmt.Errorf("open skill archive %s: %w", v.ID, err)
	}
	ra, ok := rc.(io.ReaderAt)
	if !ok {
		data, err := io.ReadAll(rc)
		if err != nil {
			rc.Close()
			return nil, nil, err
		}
		ra = bytes.NewReader(data)
	}
	zr, err := zip.NewReader(ra, v.ArchiveSize)
	if err != nil {
		rc.Close()
		return nil, nil, fmt.Errorf("skill archive %s: %w", v.ID, err)
	}
	var fsys fs.FS = zr
	if v.Directory != "" {
		if fsys, err = fs.Sub(zr, v.Directory); err != nil {
			rc.Close()
			return nil, nil, err
		}
	}
	return fsys, rc, nil
}
