package sandbox

import (
	"context"
	"io"
	"path"
	"strings"

	"github.com/codebox-dev/codebox"
)

// InputFiles opens the stored files of a workspace for copying into a container;
// FileStore has it, and the Files API's service satisfies it.
type InputFiles interface {
	// OpenInput opens a stored file of ws (errdefs.ErrNotFound if it is not ws's) and
	// returns its filename.
	OpenInput(ctx context.Context, ws codebox.WorkspaceID, fileID string) (filename string, r io.ReadCloser, err error)
}

// Uploader writes into a container's files; *Manager satisfies it.
type Uploader interface {
	Upload(ctx context.Context, ws codebox.WorkspaceID, id, unsafePath string, r io.Reader) error
}

// CopyFile copies ws's stored file fileID into container id: to unsafePath, or, when
// that is "", into the working directory under ContainerFileName. It returns the path
// written and how many bytes were copied. Creating a container with files, the
// containers API and the Messages API's container_upload all copy through here, so a
// file gets the same name whichever way it goes in.
func CopyFile(ctx context.Context, files InputFiles, up Uploader, ws codebox.WorkspaceID, id, fileID, unsafePath string) (string, int64, error) {
	filename, r, err := files.OpenInput(ctx, ws, fileID)
	if err != nil {
		return "", 0, err
	}
	defer r.Close()
	if unsafePath == "" {
		unsafePath = ContainerFileName(filename, fileID)
	}
	cr := &countingReader{r: r}
	if err := up.Upload(ctx, ws, id, unsafePath, cr); err != nil {
		return "", cr.n, err
	}
	return unsafePath, cr.n, nil
}

// ContainerFileName is the name stored file id, uploaded as filename, gets in a
// container's working directory: UploadName, or the id when nothing usable is left.
func ContainerFileName(filename, id string) string {
	if name := UploadName(filename); name != "" {
		return name
	}
	return id
}

// UploadName is the name a file uploaded as filename gets in a container's working
// directory: its last path component, with "/" and "\" both separators, or "" when
// nothing usable is left.
func UploadName(filename string) string {
	name := path.Base(strings.ReplaceAll(filename, "\\", "/"))
	if name == "." || name == ".." || name == "/" {
		return ""
	}
	return name
}

type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}
