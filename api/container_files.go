package api

import (
	"bufio"
	"cmp"
	"errors"
	"io"
	"mime"
	"net/http"
	"path"
	"slices"
	"strconv"
	"strings"

	"github.com/codebox-dev/codebox/errdefs"
	"github.com/codebox-dev/codebox/ids"
	"github.com/codebox-dev/codebox/sandbox"
)

type copyFileRequest struct {
	FileID string `json:"file_id"`
	Path   string `json:"path"`
}

// uploadContainerFile writes a file into the container: a multipart upload (part "file",
// optional field "path"), or a Files API file copied in, named by a "file_id" field of
// a multipart body (as openai-go sends it) or of a JSON body {file_id, path?}. Without a
// path the file lands in the working directory under its own name (a stored file whose
// name is unusable under its id, as everywhere a stored file is copied in).
func (s *Server) uploadContainerFile(w http.ResponseWriter, r *http.Request) error {
	id, err := containerID(r)
	if err != nil {
		return err
	}
	ctx, ws := r.Context(), workspace(r)
	var (
		dest string
		copy copyFileRequest
	)
	mediaType, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	switch mediaType {
	case "multipart/form-data":
		r.Body = http.MaxBytesReader(w, r.Body, s.MaxUploadBytes)
		// Parts may come in any order, so let the stdlib spool large parts to disk.
		if err := r.ParseMultipartForm(32 << 20); err != nil {
			var tooLarge *http.MaxBytesError
			if errors.As(err, &tooLarge) {
				return errdefs.New(errdefs.ErrTooLarge, "", "Upload exceeds the maximum size of %d bytes", tooLarge.Limit)
			}
			return errdefs.New(errdefs.ErrInvalid, "", "Invalid multipart body: %v", err)
		}
		defer r.MultipartForm.RemoveAll()
		f, hdr, err := r.FormFile("file")
		if err != nil {
			if copy = (copyFileRequest{FileID: r.FormValue("file_id"), Path: r.FormValue("path")}); copy.FileID == "" {
				return errdefs.New(errdefs.ErrInvalid, "", "file: a multipart part named \"file\" or a \"file_id\" field is required")
			}
			break
		}
		defer f.Close()
		if dest = r.FormValue("path"); dest == "" {
			if dest = sandbox.UploadName(hdr.Filename); dest == "" {
				return errdefs.New(errdefs.ErrInvalid, "", "path: is required when the file has no usable name")
			}
		}
		if dest, err = checkPath("path", dest, false); err != nil {
			return err
		}
		if err := s.Containers.Upload(ctx, ws, id, dest, f); err != nil {
			return err
		}
	case "application/json":
		if err := s.decodeJSON(w, r, &copy); err != nil {
			return err
		}
		if copy.FileID == "" {
			return errdefs.New(errdefs.ErrInvalid, "", "file_id: is required")
		}
	default:
		return errdefs.New(errdefs.ErrInvalid, "", "Content-Type must be multipart/form-data or application/json")
	}
	if copy.FileID != "" {
		if dest, err = s.copyStoredFile(r, id, copy); err != nil {
			return err
		}
	}
	f, err := s.Containers.FileAt(ctx, ws, id, dest)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, toContainerFileJSON(f))
	return nil
}

// copyStoredFile copies the Files API file req names into container id and returns
// the path it landed at.
func (s *Server) copyStoredFile(r *http.Request, id string, req copyFileRequest) (string, error) {
	if s.StoredFiles == nil {
		return "", errdefs.New(errdefs.ErrInvalid, "", "Copying a stored file in is not available on this server")
	}
	if !ids.Valid("file_", req.FileID) {
		return "", errdefs.New(errdefs.ErrInvalid, "", "file_id: invalid file id")
	}
	var dest string
	if req.Path != "" {
		var err error
		if dest, err = checkPath("path", req.Path, false); err != nil {
			return "", err
		}
	}
	dest, _, err := sandbox.CopyFile(r.Context(), s.StoredFiles, s.Containers, workspace(r), id, req.FileID, dest)
	return dest, err
}

// listContainerFiles lists the container's regular files under /workspace (or the
// directory ?path= names, a codebox extension), recursively, by created_at, paged by
// OpenAI's after, limit and order.
func (s *Server) listContainerFiles(w http.ResponseWriter, r *http.Request) error {
	id, err := containerID(r)
	if err != nil {
		return err
	}
	q := r.URL.Query()
	dir, err := checkPath("path", q.Get("path"), true)
	if err != nil {
		return err
	}
	page, err := pageOf(q)
	if err != nil {
		return err
	}
	if page.after != "" && !ids.Valid(sandbox.FileIDPrefix, page.after) {
		return errdefs.New(errdefs.ErrInvalid, "", "after: invalid container file id")
	}
	files, err := s.Containers.Files(r.Context(), workspace(r), id, dir)
	if err != nil {
		return err
	}
	slices.SortFunc(files, func(a, b *sandbox.ContainerFile) int {
		c := cmp.Or(a.CreatedAt.Compare(b.CreatedAt), strings.Compare(a.ID, b.ID))
		if !page.ascending {
			c = -c
		}
		return c
	})
	if page.after != "" {
		i := slices.IndexFunc(files, func(f *sandbox.ContainerFile) bool { return f.ID == page.after })
		if i < 0 {
			return errdefs.New(errdefs.ErrNotFound, "", "after: container file %s not found", page.after)
		}
		files = files[i+1:]
	}
	out := containerFileListJSON{Object: "list", Data: make([]containerFileJSON, 0, min(len(files), page.limit)),
		HasMore: len(files) > page.limit}
	for _, f := range files[:min(len(files), page.limit)] {
		out.Data = append(out.Data, toContainerFileJSON(f))
	}
	if n := len(out.Data); n > 0 {
		out.FirstID, out.LastID = &out.Data[0].ID, &out.Data[n-1].ID
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// containerFileRef returns the {id} and {file_id} path values; a file_id that cannot
// be a container file id is ErrNotFound.
func containerFileRef(r *http.Request) (id, fileID string, err error) {
	if id, err = containerID(r); err != nil {
		return "", "", err
	}
	fileID = r.PathValue("file_id")
	if !ids.Valid(sandbox.FileIDPrefix, fileID) {
		return "", "", errdefs.New(errdefs.ErrNotFound, "", "container file %q not found", truncate(fileID, 80))
	}
	return id, fileID, nil
}

// containerFile looks up the container file the path names.
func (s *Server) containerFile(r *http.Request) (*sandbox.ContainerFile, error) {
	id, fid, err := containerFileRef(r)
	if err != nil {
		return nil, err
	}
	return s.Containers.File(r.Context(), workspace(r), id, fid)
}

func (s *Server) getContainerFile(w http.ResponseWriter, r *http.Request) error {
	if r.PathValue("file_id") == "content" {
		return s.downloadContainerFile(w, r)
	}
	f, err := s.containerFile(r)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, toContainerFileJSON(f))
	return nil
}

func (s *Server) deleteContainerFile(w http.ResponseWriter, r *http.Request) error {
	id, fid, err := containerFileRef(r)
	if err != nil {
		return err
	}
	if err := s.Containers.RemoveFile(r.Context(), workspace(r), id, fid); err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, containerDeletedJSON{ID: fid, Object: "container.file.deleted", Deleted: true})
	return nil
}

// containerFileContent downloads a container file by id.
func (s *Server) containerFileContent(w http.ResponseWriter, r *http.Request) error {
	f, err := s.containerFile(r)
	if err != nil {
		return err
	}
	return s.sendContainerFile(w, r, f.ContainerID, f.Path)
}

// downloadContainerFile downloads a container file by path (?path=, a codebox
// extension).
func (s *Server) downloadContainerFile(w http.ResponseWriter, r *http.Request) error {
	id, err := containerID(r)
	if err != nil {
		return err
	}
	p, err := checkPath("path", r.URL.Query().Get("path"), false)
	if err != nil {
		return err
	}
	return s.sendContainerFile(w, r, id, p)
}

// sendContainerFile answers with the bytes of the container's file p.
func (s *Server) sendContainerFile(w http.ResponseWriter, r *http.Request, id, p string) error {
	rc, fi, err := s.Containers.OpenFile(r.Context(), workspace(r), id, p)
	if err != nil {
		return err
	}
	defer rc.Close()
	if fi.IsDir {
		return errdefs.New(errdefs.ErrInvalid, "", "path: %s is a directory", truncate(p, 200))
	}
	br := bufio.NewReaderSize(rc, 512)
	ctype := mime.TypeByExtension(path.Ext(p))
	if ctype == "" {
		head, _ := br.Peek(512)
		ctype = http.DetectContentType(head)
	}
	h := w.Header()
	h.Set("Content-Type", ctype)
	h.Set("Content-Length", strconv.FormatInt(fi.Size, 10))
	h.Set("Content-Disposition", mime.FormatMediaType("attachment", map[string]string{"filename": path.Base(p)}))
	w.WriteHeader(http.StatusOK)
	if _, err := io.Copy(w, br); err != nil {
		// Headers are out; all we can do is cut the response short.
		s.Logger.Warn("container file download cut short", "request_id", requestID(r.Context()), "err", err)
		panic(http.ErrAbortHandler)
	}
	return nil
}
