package sandbox

import (
	"context"
	"io"

	"github.com/codebox-dev/codebox"
)

// Store persists container metadata; *sqlite.DB satisfies it. Every method but
// AllContainers is scoped to a workspace, so another workspace's container is
// errdefs.ErrNotFound like an unknown one.
type Store interface {
	FileRecords

	// CreateContainer records a new container. A duplicate ID is errdefs.ErrConflict.
	CreateContainer(ctx context.Context, c *Container) error
	// GetContainer returns one container of ws, or errdefs.ErrNotFound.
	GetContainer(ctx context.Context, ws codebox.WorkspaceID, id string) (*Container, error)
	// ListContainers returns ws's containers, newest first (oldest first with
	// opts.Ascending), named opts.Name when set, after the container with ID
	// opts.After when set, at most opts.Limit of them, and whether more follow.
	ListContainers(ctx context.Context, ws codebox.WorkspaceID, opts ListOptions) ([]*Container, bool, error)
	// UpdateContainer saves c's Status, LastActiveAt, IdleExpiresAt, ExpiresAt,
	// Provisional, DiskGeneration and DiskChecksum.
	UpdateContainer(ctx context.Context, c *Container) error
	// DeleteContainer removes the record with its files' records; an absent one is
	// errdefs.ErrNotFound.
	DeleteContainer(ctx context.Context, ws codebox.WorkspaceID, id string) error
	// AllContainers returns every container that is not expired, of every workspace,
	// for reconciliation after a restart and for the expiry sweep.
	AllContainers(ctx context.Context) ([]*Container, error)
	// WorkspaceImage returns the image new containers of ws run when a request names
	// none; "" when the operator chose none.
	WorkspaceImage(ctx context.Context, ws codebox.WorkspaceID) (string, error)
}

// Images finds the root filesystems of custom images by name.
type Images interface {
	// RootFS returns the root filesystem of the named image's current build. An
	// unknown name is errdefs.ErrInvalid; an image whose first build still runs is
	// errdefs.ErrConflict.
	RootFS(name string) (string, error)
}

// ListOptions pages through a workspace's containers.
type ListOptions struct {
	Limit     int    // 1 to 1000; 0 means 20
	After     string // a container ID from the previous page
	Ascending bool   // oldest first
	Name      string // only the containers of this name
}

// FileStore is where generated files go and uploads come from; serve wires it to the
// Files API.
type FileStore interface {
	// StoreOutput stores a file a run generated as a downloadable file of ws and
	// returns its ID and detected MIME type. A file over the store's limits is
	// errdefs.ErrTooLarge or errdefs.ErrQuota.
	StoreOutput(ctx context.Context, ws codebox.WorkspaceID, filename string, r io.Reader) (id, mimeType string, err error)
	// OpenInput opens a stored file of ws (errdefs.ErrNotFound if it is not ws's) and
	// returns its filename.
	OpenInput(ctx context.Context, ws codebox.WorkspaceID, fileID string) (filename string, r io.ReadCloser, err error)
}
