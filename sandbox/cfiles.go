package sandbox

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path"
	"strings"
	"time"

	"github.com/codebox-dev/codebox"
	"github.com/codebox-dev/codebox/errdefs"
	"github.com/codebox-dev/codebox/ids"
)

// Container files have durable IDs, as OpenAI's container files API gives them. The
// container's disk stays the source of truth for what exists; the store gives each path
// its ID, its source and the time it was first seen. A file uploaded (through any route)
// is recorded as the user's at once; a file the code wrote gets its ID, as the
// assistant's, when a listing first finds it; an ID whose file is gone is forgotten when
// a listing or a lookup notices.

// FileIDPrefix starts every container file ID.
const FileIDPrefix = "cfile_"

// Sources of container files.
const (
	FileSourceUser      = "user"      // uploaded
	FileSourceAssistant = "assistant" // written by code in the container
)

// ContainerFile is a regular file of a container with its durable ID.
type ContainerFile struct {
	ID          string
	Workspace   codebox.WorkspaceID
	ContainerID string
	// Path is absolute: under /workspace or /tmp.
	Path      string
	Source    string
	CreatedAt time.Time
	// Size and ModTime are read from the disk, not stored.
	Size    int64
	ModTime time.Time
}

// FileRecords persists container file IDs; Store includes it.
type FileRecords interface {
	// PutContainerFiles records files by container and path. A path already recorded
	// keeps its ID; with replace it takes the new Source and CreatedAt, without it is
	// left as it is.
	PutContainerFiles(ctx context.Context, files []*ContainerFile, replace bool) error
	// ContainerFiles returns the records of ws's container id.
	ContainerFiles(ctx context.Context, ws codebox.WorkspaceID, id string) ([]*ContainerFile, error)
	// GetContainerFile returns one record of ws's container id, or errdefs.ErrNotFound.
	GetContainerFile(ctx context.Context, ws codebox.WorkspaceID, id, fileID string) (*ContainerFile, error)
	// DeleteContainerFiles forgets the records fileIDs of ws's container id.
	DeleteContainerFiles(ctx context.Context, ws codebox.WorkspaceID, id string, fileIDs ...string) error
}

func fileNotFound(fileID string) error {
	return errdefs.New(errdefs.ErrNotFound, errdefs.CodeFileNotFound, "container file %s not found", fileID)
}

// absPath is the absolute container path of a disk path.
func absPath(dp string) string { return "/" + dp }

// recordUpload records the file just uploaded to disk path dp as the user's.
func (m *Manager) recordUpload(ctx context.Context, ws codebox.WorkspaceID, id, dp string) error {
	f := &ContainerFile{ID: ids.New(FileIDPrefix), Workspace: ws, ContainerID: id, Path: absPath(dp),
		Source: FileSourceUser, CreatedAt: m.cfg.Now()}
	return m.store.PutContainerFiles(context.WithoutCancel(ctx), []*ContainerFile{f}, true)
}

// Files lists the regular files under unsafeDir (default /workspace), recursively,
// with their IDs: a file without one gets one, as the assistant's; the IDs of files
// gone from the directory are forgotten.
func (m *Manager) Files(ctx context.Context, ws codebox.WorkspaceID, id, unsafeDir string) ([]*ContainerFile, error) {
	if unsafeDir == "" {
		unsafeDir = "/workspace"
	}
	dir, err := diskPath(unsafeDir)
	if err != nil {
		return nil, err
	}
	began := m.cfg.Now()
	infos, truncated, err := m.listFiles(ctx, ws, id, unsafeDir)
	if err != nil {
		return nil, err
	}
	recs, err := m.store.ContainerFiles(ctx, ws, id)
	if err != nil {
		return nil, err
	}
	byPath := make(map[string]*ContainerFile, len(recs))
	for _, r := range recs {
		byPath[r.Path] = r
	}
	var out, fresh []*ContainerFile
	onDisk := make(map[string]bool, len(infos))
	for _, fi := range infos {
		if fi.IsDir {
			continue
		}
		p := AbsPath(fi.Path)
		onDisk[p] = true
		f := byPath[p]
		if f == nil {
			f = &ContainerFile{ID: ids.New(FileIDPrefix), Workspace: ws, ContainerID: id, Path: p,
				Source: FileSourceAssistant, CreatedAt: fi.ModTime}
			fresh = append(fresh, f)
		}
		c := *f
		c.Size, c.ModTime = fi.Size, fi.ModTime
		out = append(out, &c)
	}
	if len(fresh) > 0 {
		if err := m.store.PutContainerFiles(ctx, fresh, false); err != nil {
			return nil, err
		}
		// Another listing may have recorded some of them first: its IDs stand.
		if recs, err = m.store.ContainerFiles(ctx, ws, id); err != nil {
			return nil, err
		}
		idOf := make(map[string]string, len(recs))
		for _, r := range recs {
			idOf[r.Path] = r.ID
		}
		for _, f := range out {
			if rid := idOf[f.Path]; rid != "" {
				f.ID = rid
			}
		}
	}
	if !truncated {
		var gone []string
		for _, r := range recs {
			// A record made since the listing began is of a file it may have missed.
			if inDir(dir, r.Path) && !onDisk[r.Path] && r.CreatedAt.Before(began) {
				gone = append(gone, r.ID)
			}
		}
		if len(gone) > 0 {
			if err := m.store.DeleteContainerFiles(ctx, ws, id, gone...); err != nil {
				return nil, err
			}
		}
	}
	return out, nil
}

// inDir reports whether the absolute path p is below disk directory dir.
func inDir(dir, p string) bool {
	return strings.HasPrefix(p, absPath(dir)+"/")
}

// AbsPath is the absolute form of a FileInfo path (relative to the working directory
// under it).
func AbsPath(p string) string {
	if path.IsAbs(p) {
		return p
	}
	return path.Join("/workspace", p)
}

// File returns ws's container file fileID of container id. An ID whose file is gone
// (or is no longer a regular file) is forgotten and errdefs.ErrNotFound.
func (m *Manager) File(ctx context.Context, ws codebox.WorkspaceID, id, fileID string) (*ContainerFile, error) {
	if _, err := m.lookup(ctx, ws, id, false); err != nil {
		return nil, err
	}
	if !ids.Valid(FileIDPrefix, fileID) {
		return nil, fileNotFound(fileID)
	}
	f, err := m.store.GetContainerFile(ctx, ws, id, fileID)
	if errors.Is(err, errdefs.ErrNotFound) {
		return nil, fileNotFound(fileID)
	}
	if err != nil {
		return nil, err
	}
	root, hold, err := m.openDisk(ctx, ws, id)
	if err != nil {
		return nil, err
	}
	defer hold.release()
	dp, err := diskPath(f.Path)
	if err != nil {
		return nil, err
	}
	fi, err := root.Lstat(dp)
	if err != nil || !fi.Mode().IsRegular() {
		if err == nil || errors.Is(err, fs.ErrNotExist) {
			if err := m.store.DeleteContainerFiles(ctx, ws, id, fileID); err != nil {
				return nil, err
			}
			return nil, fileNotFound(fileID)
		}
		return nil, fileError(err, f.Path)
	}
	f.Size, f.ModTime = fi.Size(), fi.ModTime().UTC()
	return f, nil
}

// FileAt returns the container file at unsafePath, giving it an ID (the assistant's)
// if it has none.
func (m *Manager) FileAt(ctx context.Context, ws codebox.WorkspaceID, id, unsafePath string) (*ContainerFile, error) {
	dp, err := diskPath(unsafePath)
	if err != nil {
		return nil, err
	}
	root, hold, err := m.openDisk(ctx, ws, id)
	if err != nil {
		return nil, err
	}
	fi, err := root.Lstat(dp)
	hold.release()
	if err != nil {
		return nil, fileError(err, unsafePath)
	}
	if !fi.Mode().IsRegular() {
		return nil, errdefs.New(errdefs.ErrInvalid, "", "%s is not a regular file", unsafePath)
	}
	p := absPath(dp)
	find := func() (*ContainerFile, error) {
		recs, err := m.store.ContainerFiles(ctx, ws, id)
		if err != nil {
			return nil, err
		}
		for _, r := range recs {
			if r.Path == p {
				r.Size, r.ModTime = fi.Size(), fi.ModTime().UTC()
				return r, nil
			}
		}
		return nil, nil
	}
	if f, err := find(); f != nil || err != nil {
		return f, err
	}
	f := &ContainerFile{ID: ids.New(FileIDPrefix), Workspace: ws, ContainerID: id, Path: p,
		Source: FileSourceAssistant, CreatedAt: fi.ModTime().UTC()}
	if err := m.store.PutContainerFiles(ctx, []*ContainerFile{f}, false); err != nil {
		return nil, err
	}
	if f, err = find(); f == nil && err == nil {
		// A listing that found the file gone forgot it in between.
		err = errdefs.New(errdefs.ErrNotFound, errdefs.CodeFileNotFound, "file %s not found", unsafePath)
	}
	return f, err
}

// RemoveFile deletes ws's container file fileID from container id's disk and forgets
// its ID.
func (m *Manager) RemoveFile(ctx context.Context, ws codebox.WorkspaceID, id, fileID string) error {
	f, err := m.File(ctx, ws, id, fileID)
	if err != nil {
		return err
	}
	dp, err := diskPath(f.Path)
	if err != nil {
		return err
	}
	return m.withDisk(ctx, ws, id, func(inst *instance) error {
		if err := removeRegular(inst.mntDir(), dp); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fileError(err, f.Path)
		}
		return m.store.DeleteContainerFiles(ctx, ws, id, fileID)
	})
}

// removeRegular removes the regular file at disk path dp of the disk mounted at mnt.
func removeRegular(mnt, dp string) error {
	root, err := os.OpenRoot(mnt)
	if err != nil {
		return err
	}
	defer root.Close()
	fi, err := root.Lstat(dp)
	if err != nil {
		return err
	}
	if !fi.Mode().IsRegular() {
		return fs.ErrNotExist
	}
	return root.Remove(dp)
}
