package files

import (
	"context"
	"io"

	"github.com/codebox-dev/codebox"
)

// With StoreOutput and OpenInput a *Service is the sandbox's FileStore: the files a
// container generates become Files API files, and Files API files are copied into
// containers.

// StoreOutput stores a file a container generated, downloadable, and returns its id
// and media type.
func (s *Service) StoreOutput(ctx context.Context, ws codebox.WorkspaceID, filename string, r io.Reader) (id, mimeType string, err error) {
	f, err := s.Create(ctx, ws, NewFile{Filename: filename, Downloadable: true, Body: r})
	if err != nil {
		return "", "", err
	}
	return f.ID, f.MimeType, nil
}

// OpenInput opens ws's file id for copying into a container and returns its name.
func (s *Service) OpenInput(ctx context.Context, ws codebox.WorkspaceID, id string) (filename string, r io.ReadCloser, err error) {
	f, rc, err := s.Open(ctx, ws, id)
	if err != nil {
		return "", nil, err
	}
	return f.Filename, rc, nil
}
