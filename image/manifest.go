package image

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"
)

// ManifestFile is the name of the manifest inside an image directory.
const ManifestFile = "manifest.json"

// Manifest records what a built image holds. It is written last, just before the image
// directory gets its final name.
type Manifest struct {
	Hash   string  `json:"hash"`
	Recipe *Recipe `json:"recipe"`
	// Base is the hash of the image this one was made from a copy of; empty for an
	// image bootstrapped from scratch.
	Base string `json:"base,omitempty"`
	// BuiltAt is when the build finished; BuildSeconds how long it took.
	BuiltAt      time.Time `json:"built_at"`
	BuildSeconds float64   `json:"build_seconds"`
	// SizeBytes is the disk usage of the root filesystem.
	SizeBytes int64 `json:"size_bytes"`
	// Python is the interpreter's version ("3.11.2").
	Python string `json:"python"`
	// Packages are the Debian packages installed, with versions, sorted by name.
	Packages []Package `json:"packages"`
	// Purged are the packages the trim removed.
	Purged []string `json:"purged"`
	// Modules are the recipe's Python libraries as found in the image.
	Modules []ModuleStatus `json:"modules"`
	// Tools are the recipe's commands as found in the image.
	Tools []ToolStatus `json:"tools"`
	// Missing are what the recipe cannot provide, with the reason.
	Missing []Missing `json:"missing"`
}

// Package is an installed Debian package.
type Package struct {
	Name    string `json:"name"`
	Version string `json:"version"`
}

// ModuleStatus is one Python library as found by importing it inside the image.
type ModuleStatus struct {
	Module
	Version string `json:"version,omitempty"`
	// Error is why the import failed; empty when it succeeded.
	Error string `json:"error,omitempty"`
}

// ToolStatus is one command as found on the image's PATH.
type ToolStatus struct {
	Name string `json:"name"`
	// Path is where PATH lookup found it; empty when it was not found.
	Path string `json:"path,omitempty"`
	// Error says why the tool is unusable (not found, unresolved shared libraries).
	Error string `json:"error,omitempty"`
}

// Package returns the version of the named Debian package and whether it is installed.
func (m *Manifest) Package(name string) (string, bool) {
	i := sort.Search(len(m.Packages), func(i int) bool { return m.Packages[i].Name >= name })
	if i < len(m.Packages) && m.Packages[i].Name == name {
		return m.Packages[i].Version, true
	}
	return "", false
}

// WriteManifest writes m to dir/manifest.json atomically and durably.
func WriteManifest(dir string, m *Manifest) (err error) {
	b, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return fmt.Errorf("image: encoding manifest: %w", err)
	}
	return writeFileSync(filepath.Join(dir, ManifestFile), append(b, '\n'))
}

// ReadManifest reads dir/manifest.json.
func ReadManifest(dir string) (*Manifest, error) {
	b, err := os.ReadFile(filepath.Join(dir, ManifestFile))
	if err != nil {
		return nil, fmt.Errorf("image: %w", err)
	}
	var m Manifest
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("image: %s: %w", filepath.Join(dir, ManifestFile), err)
	}
	if m.Recipe == nil || m.Hash == "" {
		return nil, fmt.Errorf("image: %s: no recipe or hash", filepath.Join(dir, ManifestFile))
	}
	return &m, nil
}

// writeFileSync writes a file through a temporary name, fsyncs it, renames it into
// place and fsyncs the directory.
func writeFileSync(path string, data []byte) (err error) {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return fmt.Errorf("image: %w", err)
	}
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(f.Name())
		}
	}()
	if _, err = f.Write(data); err != nil {
		return fmt.Errorf("image: %w", err)
	}
	if err = f.Chmod(0o644); err != nil {
		return fmt.Errorf("image: %w", err)
	}
	if err = f.Sync(); err != nil {
		return fmt.Errorf("image: %w", err)
	}
	if err = f.Close(); err != nil {
		return fmt.Errorf("image: %w", err)
	}
	if err = os.Rename(f.Name(), path); err != nil {
		return fmt.Errorf("image: %w", err)
	}
	return syncDir(filepath.Dir(path))
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("image: %w", err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("image: sync %s: %w", dir, err)
	}
	return nil
}

// readDpkgStatus returns the installed packages recorded in a dpkg status file,
// sorted by name.
func readDpkgStatus(r io.Reader) ([]Package, error) {
	var (
		pkgs []Package
		cur  Package
		ok   bool
	)
	flush := func() {
		if ok && cur.Name != "" {
			pkgs = append(pkgs, cur)
		}
		cur, ok = Package{}, false
	}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if line == "" {
			flush()
			continue
		}
		key, val, found := strings.Cut(line, ":")
		if !found || strings.HasPrefix(line, " ") {
			continue
		}
		val = strings.TrimSpace(val)
		switch key {
		case "Package":
			cur.Name = val
		case "Version":
			cur.Version = val
		case "Status":
			ok = strings.HasSuffix(val, " ok installed")
		}
	}
	flush()
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("image: reading dpkg status: %w", err)
	}
	if len(pkgs) == 0 {
		return nil, errors.New("image: dpkg status lists no installed package")
	}
	sort.Slice(pkgs, func(i, j int) bool { return pkgs[i].Name < pkgs[j].Name })
	return pkgs, nil
}
