package sandbox

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/codebox-dev/codebox"
	"github.com/codebox-dev/codebox/errdefs"
)

// SkillsPath is where a container sees the skills of the request using it, one folder
// per skill, read-only.
const SkillsPath = "/skills"

// On the container's disk, skillsDir holds the mounted skills and skillsState, beside
// it and out of the container's sight, records which files each folder holds.
const (
	skillsDir   = "skills"
	skillsState = "skills.json"
)

// Skill is a folder of files placed at /skills/<Name>/.
type Skill struct {
	Name string
	// Key identifies the files: a folder whose key is unchanged is not copied again.
	Key string
	// Open returns the files; the Closer is closed once they are copied.
	Open func(ctx context.Context) (fs.FS, io.Closer, error)
}

// ensureSkillsDir creates the mount point of /skills on a disk made before it existed.
// It belongs to the host's root: the container only reads it.
func ensureSkillsDir(mnt string) error {
	err := os.Mkdir(filepath.Join(mnt, skillsDir), 0o755)
	if err != nil && !errors.Is(err, fs.ErrExist) {
		return err
	}
	return nil
}

// mountsSkills reports whether the container of bundle was started with /skills. One
// started by a server from before skills is not adopted but restarted on its next use,
// so that the skills a request loads are there.
func mountsSkills(bundle string) bool {
	b, err := os.ReadFile(filepath.Join(bundle, "config.json"))
	if err != nil {
		return false
	}
	var spec struct {
		Mounts []struct {
			Destination string `json:"destination"`
		} `json:"mounts"`
	}
	if json.Unmarshal(b, &spec) != nil {
		return false
	}
	for _, mt := range spec.Mounts {
		if mt.Destination == SkillsPath {
			return true
		}
	}
	return false
}

// SetSkills makes /skills of container id hold exactly skills: folders of skills not
// listed are removed, so that a reused container shows only the skills of the request
// using it. Each new folder is written beside its final name and renamed into place,
// so the container never sees half a skill.
func (m *Manager) SetSkills(ctx context.Context, ws codebox.WorkspaceID, id string, skills []Skill) error {
	want := map[string]Skill{}
	for _, sk := range skills {
		if sk.Name == "" || strings.ContainsAny(sk.Name, "/\\\x00") || sk.Name == "." || sk.Name == ".." || strings.HasPrefix(sk.Name, ".") {
			return errdefs.New(errdefs.ErrInvalid, "", "skill name %q cannot be a folder name", sk.Name)
		}
		want[sk.Name] = sk
	}
	return m.withDisk(ctx, ws, id, func(inst *instance) error {
		root, err := os.OpenRoot(inst.mntDir())
		if err != nil {
			return err
		}
		defer root.Close()
		if err := root.Mkdir(skillsDir, 0o755); err != nil && !errors.Is(err, fs.ErrExist) {
			return err
		}
		have := map[string]string{}
		if b, err := root.ReadFile(skillsState); err == nil {
			json.Unmarshal(b, &have)
		}
		entries, err := fs.ReadDir(root.FS(), skillsDir)
		if err != nil {
			return err
		}
		for _, e := range entries {
			if sk, ok := want[e.Name()]; ok && have[e.Name()] == sk.Key {
				continue
			}
			if err := root.RemoveAll(path.Join(skillsDir, e.Name())); err != nil {
				return fmt.Errorf("remove skill %s: %w", e.Name(), err)
			}
			delete(have, e.Name())
		}
		for name, sk := range want {
			if _, ok := have[name]; ok {
				continue
			}
			if err := copySkill(ctx, root, sk); err != nil {
				return err
			}
			have[name] = sk.Key
		}
		b, err := json.Marshal(have)
		if err != nil {
			return err
		}
		return root.WriteFile(skillsState, b, 0o600)
	})
}

// copySkill writes sk's files into a hidden folder, then renames it to sk.Name.
func copySkill(ctx context.Context, root *os.Root, sk Skill) (retErr error) {
	fsys, closer, err := sk.Open(ctx)
	if err != nil {
		return fmt.Errorf("skill %s: %w", sk.Name, err)
	}
	defer closer.Close()
	tmp := path.Join(skillsDir, ".new-"+sk.Name)
	if err := root.RemoveAll(tmp); err != nil {
		return err
	}
	defer func() {
		if retErr != nil {
			root.RemoveAll(tmp)
		}
	}()
	err = fs.WalkDir(fsys, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		dst := path.Join(tmp, p)
		if d.IsDir() {
			return root.Mkdir(dst, 0o755)
		}
		if !d.Type().IsRegular() {
			return nil
		}
		return copySkillFile(root, fsys, p, dst)
	})
	if err != nil {
		if errors.Is(err, syscall.ENOSPC) {
			return errdefs.New(errdefs.ErrTooLarge, "", "the container's disk is full: skill %s does not fit", sk.Name)
		}
		return fmt.Errorf("copy skill %s: %w", sk.Name, err)
	}
	return root.Rename(tmp, path.Join(skillsDir, sk.Name))
}

// copySkillFile copies one file; a script that starts with "#!" is made executable.
func copySkillFile(root *os.Root, fsys fs.FS, src, dst string) error {
	in, err := fsys.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	var head [2]byte
	n, _ := io.ReadFull(in, head[:])
	mode := os.FileMode(0o644)
	if bytes.Equal(head[:n], []byte("#!")) {
		mode = 0o755
	}
	out, err := root.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, mode)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, io.MultiReader(bytes.NewReader(head[:n]), in)); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}
