package skills

import (
	"archive/zip"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"io/fs"
	"log/slog"
	"path"
	"sort"
	"sync"
	"time"
)

// BuiltinVersion is the version every built-in skill reports and accepts besides
// "latest": the date of the Anthropic skills that requests name.
const BuiltinVersion = "20251013"

// builtinTime is the creation time built-in skills report.
var builtinTime = time.Date(2025, 10, 13, 0, 0, 0, 0, time.UTC)

type builtins struct {
	fsys   fs.FS
	once   sync.Once
	skills map[string]*builtinSkill
}

type builtinSkill struct {
	id    string
	fm    Frontmatter
	files fs.FS
	// key changes with the files' contents, so that a reused container whose copy is
	// from an older codebox gets the new one.
	key  string
	size int64
}

func newBuiltins(fsys fs.FS) *builtins { return &builtins{fsys: fsys} }

// load reads the folders of fsys once. A folder without a valid SKILL.md is not a skill.
func (b *builtins) load() {
	b.skills = map[string]*builtinSkill{}
	if b.fsys == nil {
		return
	}
	entries, err := fs.ReadDir(b.fsys, ".")
	if err != nil {
		slog.Error("built-in skills", "err", err)
		return
	}
	for _, e := range entries {
		if !e.IsDir() {
			continue
		}
		sub := mustSub(b.fsys, e.Name())
		md, err := fs.ReadFile(sub, SkillFile)
		if err != nil {
			continue
		}
		fm, err := ParseFrontmatter(md)
		if err != nil {
			slog.Error("built-in skill", "skill", e.Name(), "err", err)
			continue
		}
		sk := &builtinSkill{id: e.Name(), fm: fm, files: sub}
		h := sha256.New()
		err = fs.WalkDir(sub, ".", func(p string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				return err
			}
			data, err := fs.ReadFile(sub, p)
			if err != nil {
				return err
			}
			sk.size += int64(len(data))
			h.Write([]byte(p + "\x00"))
			h.Write(data)
			return nil
		})
		if err != nil {
			slog.Error("built-in skill", "skill", e.Name(), "err", err)
			continue
		}
		sk.key = "builtin:" + e.Name() + ":" + hex.EncodeToString(h.Sum(nil))[:16]
		b.skills[e.Name()] = sk
	}
}

func (b *builtins) get(id string) *builtinSkill {
	b.once.Do(b.load)
	return b.skills[id]
}

// list returns the built-in skills in listing order: newest first by creation time
// (all equal) and ID.
func (b *builtins) list() []*Skill {
	b.once.Do(b.load)
	out := make([]*Skill, 0, len(b.skills))
	for _, sk := range b.skills {
		out = append(out, sk.skill())
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID > out[j].ID })
	return out
}

func (sk *builtinSkill) skill() *Skill {
	return &Skill{ID: sk.id, DisplayName: sk.fm.Name, LatestVersion: BuiltinVersion,
		CreatedAt: builtinTime, UpdatedAt: builtinTime, Source: SourceAnthropic}
}

func (sk *builtinSkill) version(v string) (*Version, error) {
	if v != LatestVersion && v != BuiltinVersion {
		return nil, notFound("Skill version", v)
	}
	return &Version{ID: BuiltinVersion, SkillID: sk.id, Name: sk.fm.Name, Description: sk.fm.Description,
		Size: sk.size, CreatedAt: builtinTime}, nil
}

// archive zips the skill's files under a folder named for it, as an upload would be.
func (sk *builtinSkill) archive() (io.ReadSeekCloser, error) {
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	err := fs.WalkDir(sk.files, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := fs.ReadFile(sk.files, p)
		if err != nil {
			return err
		}
		w, err := zw.CreateHeader(&zip.FileHeader{Name: path.Join(sk.id, p), Method: zip.Deflate})
		if err != nil {
			return err
		}
		_, err = w.Write(data)
		return err
	})
	if err == nil {
		err = zw.Close()
	}
	if err != nil {
		return nil, err
	}
	return nopCloser{bytes.NewReader(buf.Bytes())}, nil
}

type nopCloser struct{ io.ReadSeeker }

func (nopCloser) Close() error { return nil }
