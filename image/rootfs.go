package image

import (
	_ "embed"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"
)

// fontCacheDir holds matplotlib's font list, built once with the image.
const fontCacheDir = "/usr/share/codebox/matplotlib"

// verifyScript is run by python3 inside the image; see verify.py.
//
//go:embed verify.py
var verifyScript string

// sitecustomize keeps matplotlib from writing into HOME. Its default configuration and
// cache directory is ~/.config/matplotlib, and HOME is the workspace, where anything
// written would be reported back to the user as a generated file.
const sitecustomize = `
# codebox: matplotlib needs a writable configuration and cache directory. HOME is the
# workspace, where anything written is reported as a generated file, so use /tmp, seeded
# with the font list built with the image (building it costs a second per container).
import os as _os
if "MPLCONFIGDIR" not in _os.environ:
    _os.environ["MPLCONFIGDIR"] = "/tmp/.matplotlib"
    if not _os.path.isdir("/tmp/.matplotlib"):
        try:
            _os.makedirs("/tmp/.matplotlib", exist_ok=True)
            for _n in _os.listdir("` + fontCacheDir + `"):
                with open("` + fontCacheDir + `/" + _n, "rb") as _src, open("/tmp/.matplotlib/" + _n, "wb") as _dst:
                    _dst.write(_src.read())
        except OSError:
            pass
del _os
`

// setup prepares what the sandbox expects of the root filesystem.
func (b *builder) setup() error {
	root := b.rootfs
	steps := []func() error{
		func() error { return addUser(root) },
		func() error { return mkdirOwned(filepath.Join(root, WorkspaceDir), 0o755, UID, GID) },
		func() error { return mkdirOwned(filepath.Join(root, AgentDir), 0o755, 0, 0) },
		func() error { return mkdirOwned(filepath.Join(root, fontCacheDir), 0o755, 0, 0) },
		func() error { return os.Chmod(filepath.Join(root, "tmp"), 0o777|os.ModeSticky) },
		func() error {
			return writeFile(filepath.Join(root, "etc/hostname"), b.recipe.Hostname+"\n")
		},
		func() error {
			return writeFile(filepath.Join(root, "etc/hosts"),
				"127.0.0.1\tlocalhost\n127.0.1.1\t"+b.recipe.Hostname+"\n::1\tlocalhost ip6-localhost ip6-loopback\n")
		},
		// Containers have no network: no resolver to name.
		func() error {
			return writeFile(filepath.Join(root, "etc/resolv.conf"), noResolver)
		},
		func() error { return setMatplotlibBackend(filepath.Join(root, "etc/matplotlibrc")) },
		func() error { return appendSitecustomize(root) },
		func() error { return symlink("/usr/bin/fdfind", filepath.Join(root, "usr/local/bin/fd")) },
		func() error { return javaWrapper(root) },
	}
	for _, step := range steps {
		if err := step(); err != nil {
			return fmt.Errorf("image: setup: %w", err)
		}
	}
	return nil
}

// cleanup removes what the build leaves behind that the image does not need.
func (b *builder) cleanup() error {
	for _, pattern := range []string{
		"var/log/*", "var/cache/apt/*.bin", "var/cache/debconf/*-old", "var/lib/dpkg/*-old",
		"var/tmp/*", "tmp/*", "root/.cache", "usr/share/man", "usr/share/info",
		// The runtime gives each container its own /dev; device nodes in the image
		// would only matter to a container configured without one.
		"dev/*",
	} {
		matches, err := filepath.Glob(filepath.Join(b.rootfs, pattern))
		if err != nil {
			return err
		}
		for _, m := range matches {
			// var/log keeps its directories (apt/, some packages expect them).
			if fi, err := os.Lstat(m); err == nil && fi.IsDir() && strings.HasPrefix(pattern, "var/log") {
				continue
			}
			if err := os.RemoveAll(m); err != nil {
				return fmt.Errorf("image: cleanup: %w", err)
			}
		}
	}
	return nil
}

// removeTestDirs deletes every directory named "tests" under root.
func removeTestDirs(root string) error {
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && d.Name() == "tests" {
			if err := os.RemoveAll(path); err != nil {
				return err
			}
			return filepath.SkipDir
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("image: removing test suites: %w", err)
	}
	return nil
}

// addUser adds the sandbox user "user" (uid and gid 1000, home /workspace) to the
// account files.
func addUser(root string) error {
	entries := []struct{ file, line string }{
		{"etc/passwd", fmt.Sprintf("user:x:%d:%d:codebox:%s:/bin/bash", UID, GID, WorkspaceDir)},
		{"etc/group", fmt.Sprintf("user:x:%d:", GID)},
		{"etc/shadow", "user:*:19000:0:99999:7:::"},
		{"etc/gshadow", "user:*::"},
	}
	for _, e := range entries {
		path := filepath.Join(root, e.file)
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
		for _, l := range lines {
			if strings.HasPrefix(l, "user:") {
				return fmt.Errorf("%s already has a user named user", e.file)
			}
			if f := strings.Split(l, ":"); len(f) > 2 && f[2] == fmt.Sprint(UID) && e.file != "etc/shadow" && e.file != "etc/gshadow" {
				return fmt.Errorf("%s: id %d is taken: %s", e.file, UID, l)
			}
		}
		fi, err := os.Stat(path)
		if err != nil {
			return err
		}
		f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, fi.Mode())
		if err != nil {
			return err
		}
		_, err = fmt.Fprintln(f, e.line)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return err
		}
	}
	return nil
}

func mkdirOwned(path string, mode os.FileMode, uid, gid int) error {
	if err := os.MkdirAll(path, mode); err != nil {
		return err
	}
	if err := os.Chmod(path, mode); err != nil {
		return err
	}
	return os.Lchown(path, uid, gid)
}

func writeFile(path, content string) error {
	if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	return os.WriteFile(path, []byte(content), 0o644)
}

func symlink(target, path string) error {
	if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	return os.Symlink(target, path)
}

// javaLauncher runs Java with PDFBox's font cache (tabula-py's tabula-java reads PDFs
// with PDFBox) in /tmp: its default is HOME, the workspace, where the cache file would
// be reported to the user as a generated file.
const javaLauncher = `#!/bin/sh
# codebox: PDFBox's font cache goes to /tmp, not to HOME (the workspace).
exec /usr/bin/java -Dpdfbox.fontcache=/tmp "$@"
`

// javaWrapper puts javaLauncher first on PATH when the image has Java.
func javaWrapper(root string) error {
	if _, err := os.Stat(filepath.Join(root, "usr/bin/java")); errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	path := filepath.Join(root, "usr/local/bin/java")
	if err := writeFile(path, javaLauncher); err != nil {
		return err
	}
	return os.Chmod(path, 0o755)
}

var reBackend = regexp.MustCompile(`(?m)^\s*#?\s*backend\s*:.*$`)

// setMatplotlibBackend makes Agg the default backend: there is no display, and Debian's
// default (TkAgg) would fail or fall back with a warning.
func setMatplotlibBackend(path string) error {
	b, err := os.ReadFile(path)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	s := string(b)
	if loc := reBackend.FindStringIndex(s); loc != nil {
		s = s[:loc[0]] + "backend: Agg" + s[loc[1]:]
	} else {
		s += "backend: Agg\n"
	}
	return writeFile(path, s)
}

// appendSitecustomize adds the matplotlib directory handling to the interpreter's
// sitecustomize module. Debian makes /usr/lib/python3.X/sitecustomize.py a symlink to
// /etc/python3.X/sitecustomize.py; the symlink is followed inside root.
func appendSitecustomize(root string) error {
	dirs, err := filepath.Glob(filepath.Join(root, "usr/lib/python3.[0-9]*"))
	if err != nil || len(dirs) == 0 {
		return fmt.Errorf("no python3.X library directory in the image")
	}
	for _, dir := range dirs {
		path := filepath.Join(dir, "sitecustomize.py")
		if target, err := os.Readlink(path); err == nil {
			if !filepath.IsAbs(target) {
				target = filepath.Join(strings.TrimPrefix(dir, root), target)
			}
			path = filepath.Join(root, filepath.Clean("/"+target))
		}
		b, err := os.ReadFile(path)
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
		if err := writeFile(path, string(b)+sitecustomize); err != nil {
			return err
		}
	}
	return nil
}

// stripPrivileges removes setuid and setgid bits and file capabilities from every
// file in root, so that nothing in a container can gain privileges even if
// no_new_privileges were ever missing. It returns the files it changed.
func stripPrivileges(root string) ([]string, error) {
	var changed []string
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.Type().IsRegular() {
			return nil
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		rel := strings.TrimPrefix(path, root)
		mode := info.Mode()
		if mode&(fs.ModeSetuid|fs.ModeSetgid) != 0 {
			st := info.Sys().(*syscall.Stat_t)
			if err := os.Chmod(path, fs.FileMode(st.Mode&0o777)); err != nil {
				return err
			}
			changed = append(changed, rel)
		}
		if _, err := unix.Lgetxattr(path, "security.capability", nil); err == nil {
			if err := unix.Lremovexattr(path, "security.capability"); err != nil {
				return fmt.Errorf("%s: %w", path, err)
			}
			changed = append(changed, rel+" (capabilities)")
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("image: %w", err)
	}
	return changed, nil
}
