package main

import (
	"fmt"
	"os"
	"path/filepath"
)

// resolveDirs makes the configured directories absolute, creates them, and resolves
// the symlinks in their paths, once, at start. runc refuses a root filesystem whose
// path goes through a symlink, so an image directory reached through one would
// otherwise fail every container start, long after the server said it was ready.
func resolveDirs(cfg *serveConfig) error {
	var err error
	if cfg.DataDir, err = resolveDir(cfg.DataDir, 0o700); err != nil {
		return fmt.Errorf("--data-dir: %w", err)
	}
	if !cfg.Sandbox {
		return nil
	}
	if cfg.ImageDir == "" {
		cfg.ImageDir = filepath.Join(cfg.DataDir, "images")
	}
	if cfg.ImageDir, err = resolveDir(cfg.ImageDir, 0o755); err != nil {
		return fmt.Errorf("--image-dir: %w", err)
	}
	if cfg.RuntimeRoot != "" {
		if cfg.RuntimeRoot, err = resolveDir(cfg.RuntimeRoot, 0o700); err != nil {
			return fmt.Errorf("--sandbox-runtime-root: %w", err)
		}
	}
	return nil
}

// resolveDir creates dir (with perm) if needed and returns its absolute path with
// every symlink resolved.
func resolveDir(dir string, perm os.FileMode) (string, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return "", err
	}
	if err := os.MkdirAll(abs, perm); err != nil {
		return "", err
	}
	return filepath.EvalSymlinks(abs)
}
