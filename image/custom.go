package image

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
)

// DefaultName is the name of the image built from DefaultRecipe.
const DefaultName = "default"

// File is a file of the host copied into a custom image.
type File struct {
	// Src is the host path; it is not part of the recipe's identity, SHA256 is.
	Src string `json:"-"`
	// Dest is the absolute path in the image.
	Dest   string `json:"dest"`
	Mode   uint32 `json:"mode"`
	SHA256 string `json:"sha256"`
}

// RecipeFile is what an operator writes to define a custom image: the default
// image plus more Debian packages, pinned wheels and files. Paths are relative to the
// recipe file.
type RecipeFile struct {
	Name     string   `json:"name"`
	Packages []string `json:"packages"`
	// Lock is a lock file of wheels in the format of the default image's (pip's
	// hash-checking requirements: name==version --hash=sha256:…).
	Lock string `json:"lock"`
	// Modules are Python libraries the build imports (and checks, with their Check
	// code) inside the image; each names its Debian package or wheel.
	Modules []Module `json:"modules"`
	// Tools are commands that must be on PATH.
	Tools []string `json:"tools"`
	Files []struct {
		Src  string `json:"src"`
		Dest string `json:"dest"`
		// Mode is the octal permission string ("0755"); default 0644.
		Mode string `json:"mode"`
	} `json:"files"`
}

var reImageName = regexp.MustCompile(`^[a-z0-9][a-z0-9_.-]{0,62}$`)

// ValidName reports whether name can name an image.
func ValidName(name string) bool { return reImageName.MatchString(name) }

// LoadRecipeFile reads a recipe file and returns the full recipe it defines: the
// default recipe with its additions.
func LoadRecipeFile(file string) (*Recipe, error) {
	b, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("image: recipe: %w", err)
	}
	var rf RecipeFile
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&rf); err != nil {
		return nil, fmt.Errorf("image: recipe %s: %w", file, err)
	}
	base := filepath.Dir(file)
	rel := func(p string) string {
		if filepath.IsAbs(p) {
			return p
		}
		return filepath.Join(base, p)
	}
	switch {
	case !ValidName(rf.Name):
		return nil, fmt.Errorf("image: recipe %s: name %q must be 1-63 of a-z, 0-9, '.', '_', '-', starting with a letter or digit", file, rf.Name)
	case rf.Name == DefaultName:
		return nil, fmt.Errorf("image: recipe %s: %q is the built-in image's name", file, rf.Name)
	}
	r := DefaultRecipe()
	r.Name = rf.Name
	for _, p := range rf.Packages {
		if slices.Contains(r.Packages, p) {
			continue
		}
		r.Packages = append(r.Packages, p)
	}
	if rf.Lock != "" {
		f, err := os.Open(rel(rf.Lock))
		if err != nil {
			return nil, fmt.Errorf("image: recipe %s: %w", file, err)
		}
		wheels, err := ParseLock(f)
		f.Close()
		if err != nil {
			return nil, fmt.Errorf("image: recipe %s: %s: %w", file, rf.Lock, err)
		}
		for _, w := range wheels {
			if slices.ContainsFunc(r.Wheels, func(d Wheel) bool { return d.Name == w.Name }) {
				return nil, fmt.Errorf("image: recipe %s: wheel %s is part of the default image already", file, w.Name)
			}
			r.Wheels = append(r.Wheels, w)
		}
	}
	r.Modules = append(r.Modules, rf.Modules...)
	r.Tools = append(r.Tools, rf.Tools...)
	for _, f := range rf.Files {
		mode := uint64(0o644)
		if f.Mode != "" {
			if _, err := fmt.Sscanf(f.Mode, "%o", &mode); err != nil || mode > 0o777 {
				return nil, fmt.Errorf("image: recipe %s: file %s: mode %q is not an octal permission", file, f.Dest, f.Mode)
			}
		}
		src := rel(f.Src)
		sum, err := fileSHA256(src)
		if err != nil {
			return nil, fmt.Errorf("image: recipe %s: file %s: %w", file, f.Src, err)
		}
		r.Files = append(r.Files, File{Src: src, Dest: f.Dest, Mode: uint32(mode), SHA256: sum})
	}
	if err := r.Validate(); err != nil {
		return nil, fmt.Errorf("image: recipe %s: %w", file, err)
	}
	return r, nil
}

// validateFiles reports a file that cannot be copied where the recipe says: into the
// image's own tree, never over the mount points the sandbox provides.
func validateFiles(files []File) error {
	for _, f := range files {
		clean := path.Clean(f.Dest)
		if !path.IsAbs(f.Dest) || clean == "/" || clean != f.Dest {
			return fmt.Errorf("file %s: the destination must be a clean absolute path", f.Dest)
		}
		for _, mp := range []string{WorkspaceDir, AgentDir, "/tmp", "/proc", "/dev", "/sys"} {
			if clean == mp || strings.HasPrefix(clean, mp+"/") {
				return fmt.Errorf("file %s: %s is provided by the sandbox at run time", f.Dest, mp)
			}
		}
		if f.Mode&^0o777 != 0 {
			return fmt.Errorf("file %s: mode %o has more than permission bits", f.Dest, f.Mode)
		}
	}
	return nil
}

// copyFiles copies the recipe's files into the root filesystem, owned by root. The
// copy goes through an os.Root: a symbolic link in the image cannot lead it outside.
func (b *builder) copyFiles() error {
	if len(b.recipe.Files) == 0 {
		return nil
	}
	root, err := os.OpenRoot(b.rootfs)
	if err != nil {
		return fmt.Errorf("image: %w", err)
	}
	defer root.Close()
	for _, f := range b.recipe.Files {
		data, err := os.ReadFile(f.Src)
		if err != nil {
			return fmt.Errorf("image: file %s: %w", f.Dest, err)
		}
		if sum := sha256Hex(data); sum != f.SHA256 {
			return fmt.Errorf("image: file %s: %s changed since the recipe was read", f.Dest, f.Src)
		}
		name := strings.TrimPrefix(f.Dest, "/")
		if err := root.MkdirAll(path.Dir(name), 0o755); err != nil {
			return fmt.Errorf("image: file %s: %w", f.Dest, err)
		}
		if err := root.WriteFile(name, data, os.FileMode(f.Mode)); err != nil {
			return fmt.Errorf("image: file %s: %w", f.Dest, err)
		}
		if err := root.Chmod(name, os.FileMode(f.Mode)); err != nil {
			return fmt.Errorf("image: file %s: %w", f.Dest, err)
		}
		b.p.Printf("copied %s", f.Dest)
	}
	return nil
}
