package sandbox

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"

	"github.com/codebox-dev/codebox/errdefs"
)

// resolvePaths resolves the symlinks in the directories the runtime is given: runc
// refuses a root filesystem whose path goes through one, which would otherwise fail
// every start with an error that names no cause an operator can act on.
func resolvePaths(cfg *Config) error {
	for _, p := range []struct {
		name string
		path *string
	}{{"root filesystem", &cfg.RootFS}, {"container directory", &cfg.Dir}, {"agent", &cfg.Agent}} {
		resolved, err := filepath.EvalSymlinks(*p.path)
		if err != nil {
			return fmt.Errorf("sandbox: %s: %w", p.name, err)
		}
		if *p.path, err = filepath.Abs(resolved); err != nil {
			return fmt.Errorf("sandbox: %s: %w", p.name, err)
		}
	}
	return nil
}

// Check starts a container and destroys it again, so that a server whose runtime
// cannot run containers (a broken binary, an image or a kernel it refuses) stops at
// start with the runtime's own words rather than failing every request. It must be
// called after Start. A server already at its running-container cap (containers
// adopted from before a restart) cannot start one to check; that is not an error.
func (m *Manager) Check(ctx context.Context) error {
	inst, err := m.prepare(ctx, "", Container{}, false)
	if errors.Is(err, errdefs.ErrRateLimited) {
		m.logger.Info("runtime check skipped: the server already runs as many containers as it may")
		return nil
	}
	if err != nil {
		return fmt.Errorf("the runtime could not start a container: %w", err)
	}
	if err := m.destroy(context.WithoutCancel(ctx), inst); err != nil {
		return fmt.Errorf("the runtime could not remove a container: %w", err)
	}
	return nil
}
