package api

import (
	"bufio"
	"errors"
	"io"
	"mime"
	"net/http"
	"path"
	"strconv"

	"github.com/codebox-dev/codebox/errdefs"
	"github.com/codebox-dev/codebox/ids"
	"github.com/codebox-dev/codebox/sandbox"
)

type copyFileRequest struct {
	FileID string `json:"file_id"`
	Path   string `json:"path"`
}

// uploadContainerFile writes a file into the container: a multipart upload (part "file",
// optional field "path") or a JSON {file_id, path?} copying a Files API file in. Without
// a path the file lands in the working directory under its own name (a stored file whose
// name is unusable under its id, as everywhere a stored file is copied in).
func (s *Server) uploadContainerFile(w http.ResponseWriter, r *http.Request) error {
	id, err := containerID(r)
	if err != nil {
		return err
	}
	ctx, ws := r.Context(), workspace(r)
	var (
		dest string
		n    int64
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
			return errdefs.New(errdefs.ErrInvalid, "", "file: a multipart part named \"file\" is required")
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
		n = hdr.Size
	case "application/json":
		if s.StoredFiles == nil {
			return errdefs.New(errdefs.ErrInvalid, "", "Copying a stored file in is not available on this server")
		}
		var req copyFileRequest
		if err := s.decodeJSON(w, r, &req); err != nil {
			return err
		}
		if !ids.Valid("file_", req.FileID) {
			return errdefs.New(errdefs.ErrInvalid, "", "file_id: invalid file id")
		}
		if req.Path != "" {
			if dest, err = checkPath("path", req.Path, false); err != nil {
				return err
			}
		}
		if dest, n, err = sandbox.CopyFile(ctx, s.StoredFiles, s.Containers, ws, id, req.FileID, dest); err != nil {
			return err
		}
	default:
		return errdefs.New(errdefs.ErrInvalid, "", "Content-Type must be multipart/form-data or application/json")
	}
	writeJSON(w, http.StatusOK, containerFileJSON{Object: "container.file", Path: absContainerPath(dest),
		Type: "file", Bytes: n, ModifiedAt: s.now().Unix(), Source: "user"})
	return nil
}

func (s *Server) listContainerFiles(w http.ResponseWriter, r *http.Request) error {
	id, err := containerID(r)
	if err != nil {
		return err
	}
	dir, err := checkPath("path", r.URL.Query().Get("path"), true)
	if err != nil {
		return err
	}
	infos, err := s.Containers.ListFiles(r.Context(), workspace(r), id, dir)
	if err != nil {
		return err
	}
	out := containerFileListJSON{Object: "list", Data: make([]containerFileJSON, 0, len(infos))}
	for _, fi := range infos {
		out.Data = append(out.Data, toContainerFileJSON(fi))
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

func (s *Server) downloadContainerFile(w http.ResponseWriter, r *http.Request) error {
	id, err := containerID(r)
	if err != nil {
		return err
	}
	p, err := checkPath("path", r.URL.Query().Get("path"), false)
	if err != nil {
		return err
	}
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
