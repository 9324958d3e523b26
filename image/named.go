package image

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/codebox-dev/codebox/errdefs"
)

// namedDir holds, for each custom image, <name>.json (the hash of its current build)
// and, while a build runs, <name>.building, locked by the builder. It is hidden, so
// Stale never counts it as an image.
const namedDir = ".named"

// namedRecord is <name>.json.
type namedRecord struct {
	Name string `json:"name"`
	Hash string `json:"hash"`
}

// Resolve returns the image called name in dir: DefaultName (or "") is the default
// image; any other name is a custom image's current build. An unknown name is an
// errdefs.ErrInvalid error naming it; a custom image whose first build is still
// running is an errdefs.ErrConflict: a root filesystem is used only once complete.
func Resolve(dir, name string) (*Image, error) {
	if name == "" || name == DefaultName {
		return Lookup(dir)
	}
	if !ValidName(name) {
		return nil, errdefs.New(errdefs.ErrInvalid, "", "unknown image %q", name)
	}
	b, err := os.ReadFile(filepath.Join(dir, namedDir, name+".json"))
	if errors.Is(err, fs.ErrNotExist) {
		if building(dir, name) {
			return nil, errdefs.New(errdefs.ErrConflict, "", "image %q is still being built; it can be used once `codebox image list` shows it ready", name)
		}
		return nil, errdefs.New(errdefs.ErrInvalid, "", "unknown image %q (`codebox image list` shows the images)", name)
	}
	if err != nil {
		return nil, fmt.Errorf("image: %w", err)
	}
	var rec namedRecord
	if err := json.Unmarshal(b, &rec); err != nil {
		return nil, fmt.Errorf("image: %s: %w", name, err)
	}
	m, err := ReadManifest(filepath.Join(dir, rec.Hash))
	if err != nil {
		return nil, fmt.Errorf("image %s: %w", name, err)
	}
	return LookupRecipe(dir, m.Recipe)
}

// Entry is one image of List.
type Entry struct {
	Name string
	// Image is the current build; nil while the first build runs or after it failed.
	Image *Image
	// Building says a build of this image is running now.
	Building bool
	// Err says why the image cannot be used.
	Err error
}

// List returns the default image and every custom image of dir, by name.
func List(dir string) ([]Entry, error) {
	img, err := Lookup(dir)
	out := []Entry{{Name: DefaultName, Image: img, Err: err}}
	entries, err := os.ReadDir(filepath.Join(dir, namedDir))
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("image: %w", err)
	}
	names := map[string]bool{}
	for _, e := range entries {
		name, ok := strings.CutSuffix(e.Name(), ".json")
		if !ok {
			name, ok = strings.CutSuffix(e.Name(), ".building")
		}
		if ok && ValidName(name) {
			names[name] = true
		}
	}
	sorted := make([]string, 0, len(names))
	for n := range names {
		sorted = append(sorted, n)
	}
	sort.Strings(sorted)
	for _, n := range sorted {
		e := Entry{Name: n, Building: building(dir, n)}
		e.Image, e.Err = Resolve(dir, n)
		out = append(out, e)
	}
	return out, nil
}

// inUse returns the hashes of the current builds of dir's custom images.
func inUse(dir string) map[string]bool {
	keep := map[string]bool{}
	entries, _ := os.ReadDir(filepath.Join(dir, namedDir))
	for _, e := range entries {
		if !strings.HasSuffix(e.Name(), ".json") {
			continue
		}
		var rec namedRecord
		if b, err := os.ReadFile(filepath.Join(dir, namedDir, e.Name())); err == nil && json.Unmarshal(b, &rec) == nil {
			keep[rec.Hash] = true
		}
	}
	return keep
}

// markBuilding records that name is being built, until the returned function runs.
// The marker is locked while the build runs: one left by a killed build is not.
func markBuilding(dir, name string) (done func(), err error) {
	if err := os.MkdirAll(filepath.Join(dir, namedDir), 0o755); err != nil {
		return nil, fmt.Errorf("image: %w", err)
	}
	path := filepath.Join(dir, namedDir, name+".building")
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, fmt.Errorf("image: %w", err)
	}
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
		f.Close()
		return nil, fmt.Errorf("image: %s is being built already: %w", name, err)
	}
	return func() {
		os.Remove(path)
		f.Close()
	}, nil
}

// building reports whether a build of name runs now.
func building(dir, name string) bool {
	f, err := os.Open(filepath.Join(dir, namedDir, name+".building"))
	if err != nil {
		return false
	}
	defer f.Close()
	err = unix.Flock(int(f.Fd()), unix.LOCK_SH|unix.LOCK_NB)
	return errors.Is(err, unix.EWOULDBLOCK)
}

// publish makes hash name's current build.
func publish(dir, name, hash string) error {
	b, err := json.Marshal(namedRecord{Name: name, Hash: hash})
	if err != nil {
		return fmt.Errorf("image: %w", err)
	}
	return writeFileSync(filepath.Join(dir, namedDir, name+".json"), append(b, '\n'))
}

// Catalog gives the sandbox the root filesystems of the images in Dir by name.
type Catalog struct{ Dir string }

// RootFS returns the root filesystem of the named image's current build.
func (c Catalog) RootFS(name string) (string, error) {
	img, err := Resolve(c.Dir, name)
	if err != nil {
		return "", err
	}
	return img.RootFS, nil
}
