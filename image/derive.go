package image

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// noResolver is the image's /etc/resolv.conf: containers have no network.
const noResolver = "# no network in codebox containers\n"

// derivable returns what r adds to base when r is base plus more packages, wheels,
// modules, tools and files, and ok = false when r differs from base in anything else
// (the suite, the sources, what is purged or excluded…): then it cannot be built on
// top of base's image.
func derivable(r, base *Recipe) (packages []string, wheels []Wheel, ok bool) {
	if len(base.Files) > 0 {
		return nil, nil, false
	}
	for _, p := range base.Packages {
		if !slices.Contains(r.Packages, p) {
			return nil, nil, false
		}
	}
	for _, w := range base.Wheels {
		if !slices.Contains(r.Wheels, w) {
			return nil, nil, false
		}
	}
	rest := *r
	rest.Name, rest.Packages, rest.Wheels = base.Name, base.Packages, base.Wheels
	rest.Modules, rest.Tools, rest.Missing, rest.Files = base.Modules, base.Tools, base.Missing, base.Files
	if rest.Hash() != base.Hash() {
		return nil, nil, false
	}
	for _, p := range r.Packages {
		if !slices.Contains(base.Packages, p) {
			packages = append(packages, p)
		}
	}
	for _, w := range r.Wheels {
		if w.Name != installerName && !slices.Contains(base.Wheels, w) {
			wheels = append(wheels, w)
		}
	}
	return packages, wheels, true
}

// derive builds the image as a copy of base's root filesystem with the recipe's
// additions: minutes less than a bootstrap, since only the new packages and wheels are
// fetched and installed. The result is verified as thoroughly as a bootstrapped image.
func (b *builder) derive(ctx context.Context, base *Image, packages []string, wheels []Wheel) (*Manifest, error) {
	wheelPaths, installerPath, err := b.fetchAll(ctx, wheels)
	if err != nil {
		return nil, err
	}
	b.p.Stage("copy", "root filesystem of image %s", base.Hash)
	if err := b.exec(ctx, nil, "cp", "-a", "--reflink=auto", base.RootFS, b.rootfs); err != nil {
		return nil, err
	}
	if len(packages) > 0 {
		b.p.Stage("packages", "installing %s", strings.Join(packages, ", "))
		if err := b.installPackages(ctx, packages); err != nil {
			return nil, err
		}
	}
	if len(wheels) > 0 {
		b.p.Stage("pip", "installing %d wheels into Python %s (binary only, hash-checked, no index)", len(wheels), b.recipe.Python)
		if err := b.installWheels(ctx, installerPath, wheels, wheelPaths); err != nil {
			return nil, err
		}
	}
	purged, err := b.trim(ctx)
	if err != nil {
		return nil, err
	}
	m, err := b.finish(ctx, append(slices.Clone(base.Manifest.Purged), purged...))
	if err != nil {
		return nil, err
	}
	m.Base = base.Hash
	return m, nil
}

// emptyStatus is an empty dpkg status file inside the root filesystem during
// installPackages.
const emptyStatus = "/var/tmp/codebox-empty-status"

// installPackages installs Debian packages into the copied root filesystem. apt
// cannot do it directly: the image's build-time dependencies were purged with
// --force-depends, and apt refuses to work on a system with unmet dependencies. So apt
// resolves the packages as for an empty system and only downloads them, and dpkg
// installs those of the downloaded packages the image lacks, except the ones the
// recipe purges (compilers and headers nothing needs at run time).
func (b *builder) installPackages(ctx context.Context, packages []string) (err error) {
	resolv := filepath.Join(b.rootfs, "etc/resolv.conf")
	host, err := os.ReadFile("/etc/resolv.conf")
	if err != nil {
		return fmt.Errorf("image: the host's resolver configuration, to reach the Debian mirrors: %w", err)
	}
	if err := writeFile(resolv, string(host)); err != nil {
		return fmt.Errorf("image: %w", err)
	}
	defer func() {
		if werr := writeFile(resolv, noResolver); werr != nil && err == nil {
			err = fmt.Errorf("image: %w", werr)
		}
		if cerr := b.cleanApt(); cerr != nil && err == nil {
			err = cerr
		}
	}()
	if err := writeFile(filepath.Join(b.rootfs, emptyStatus), ""); err != nil {
		return fmt.Errorf("image: %w", err)
	}
	// The image's package lists were removed after its build.
	if err := b.chroot(ctx, nil, "0:0", nil, "apt-get", "update", "-q"); err != nil {
		return err
	}
	args := append([]string{"apt-get", "-q", "-y", "-o", "Dir::State::status=" + emptyStatus,
		"install", "--download-only", "--no-install-recommends"}, packages...)
	if err := b.chroot(ctx, nil, "0:0", nil, args...); err != nil {
		return b.explainBootstrap(err)
	}

	st, err := os.Open(filepath.Join(b.rootfs, "var/lib/dpkg/status"))
	if err != nil {
		return fmt.Errorf("image: %w", err)
	}
	installed, err := readDpkgStatus(st)
	st.Close()
	if err != nil {
		return err
	}
	archives := filepath.Join(b.rootfs, "var/cache/apt/archives")
	debs, err := filepath.Glob(filepath.Join(archives, "*.deb"))
	if err != nil {
		return fmt.Errorf("image: %w", err)
	}
	install := []string{"dpkg", "--force-depends", "--force-unsafe-io", "--install"}
	n := len(install)
	for _, deb := range debs {
		// apt names a downloaded package <name>_<version, escaped>_<arch>.deb.
		fields := strings.Split(strings.TrimSuffix(filepath.Base(deb), ".deb"), "_")
		if len(fields) != 3 {
			continue
		}
		name := fields[0]
		version, err := url.PathUnescape(fields[1])
		if err != nil {
			return fmt.Errorf("image: %s: %w", deb, err)
		}
		if slices.Contains(installed, Package{Name: name, Version: version}) || len(b.recipe.purgeList([]string{name})) > 0 {
			continue
		}
		install = append(install, "/var/cache/apt/archives/"+filepath.Base(deb))
	}
	b.p.Printf("%d packages to install, of %d downloaded", len(install)-n, len(debs))
	if len(install) == n {
		return nil
	}
	return b.chroot(ctx, nil, "0:0", nil, install...)
}

// cleanApt removes what installPackages leaves: downloaded packages and lists.
func (b *builder) cleanApt() error {
	for _, pattern := range []string{"var/cache/apt/archives/*.deb", "var/lib/apt/lists/*_*", "var/cache/apt/*.bin", "var/tmp/codebox-empty-status"} {
		matches, err := filepath.Glob(filepath.Join(b.rootfs, pattern))
		if err != nil {
			return fmt.Errorf("image: %w", err)
		}
		for _, m := range matches {
			if err := os.RemoveAll(m); err != nil {
				return fmt.Errorf("image: cleanup: %w", err)
			}
		}
	}
	return nil
}
