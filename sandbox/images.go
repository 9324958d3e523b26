package sandbox

import (
	"context"

	"github.com/codebox-dev/codebox"
	"github.com/codebox-dev/codebox/errdefs"
)

// imageFor returns the image a new container of ws runs: the one asked for, else the
// workspace's default, checked to exist and be complete. "" is the built-in image.
func (m *Manager) imageFor(ctx context.Context, ws codebox.WorkspaceID, asked string) (string, error) {
	name := asked
	if name == "" {
		var err error
		if name, err = m.store.WorkspaceImage(ctx, ws); err != nil {
			return "", err
		}
	}
	if name == DefaultImage {
		name = ""
	}
	if _, err := m.rootFS(name); err != nil {
		return "", err
	}
	return name, nil
}

// rootFS returns the root filesystem of the named image; "" is the built-in one.
func (m *Manager) rootFS(image string) (string, error) {
	if image == "" {
		return m.cfg.RootFS, nil
	}
	if m.cfg.Images == nil {
		return "", errdefs.New(errdefs.ErrInvalid, "", "unknown image %q: this server has no custom images", image)
	}
	return m.cfg.Images.RootFS(image)
}
