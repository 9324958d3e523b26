package api

import (
	"bufio"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/codebox-dev/codebox"
	"github.com/codebox-dev/codebox/errdefs"
	"github.com/codebox-dev/codebox/files"
	"github.com/codebox-dev/codebox/ids"
)

// FilesConfig holds the dependencies of the files routes. The routes exist only when
// Files is set.
type FilesConfig struct {
	Files FileService
}

// FileService is what the files routes need of *files.Service.
type FileService interface {
	Stage(ctx context.Context, ws codebox.WorkspaceID, body io.Reader) (*files.Staged, error)
	Get(ctx context.Context, ws codebox.WorkspaceID, id string) (*files.File, error)
	Open(ctx context.Context, ws codebox.WorkspaceID, id string) (*files.File, io.ReadSeekCloser, error)
	Delete(ctx context.Context, ws codebox.WorkspaceID, id string) error
	List(ctx context.Context, ws codebox.WorkspaceID, q files.ListQuery) ([]*files.File, bool, error)
	MaxFileSize() int64
}

// Beta names that change the shapes of the files routes (spec §1.3, §2.4).
const (
	betaFilesLegacy  = "files-api-2025-04-14"
	betaManagedAgent = "managed-agents-2026-04-01"
)

const (
	minExpiresIn = 3600
	maxExpiresIn = 7_776_000
	// multipartOverhead is what a body may carry beyond the file itself: part headers,
	// boundaries and the small form fields.
	multipartOverhead = 1 << 20
	uploadBufferSize  = 64 << 10
	defaultListLimit  = 20
	maxListIDs        = 100
)

func (s *Server) registerFileRoutes() {
	if s.Files == nil {
		return
	}
	s.handle("POST", "/v1/files", s.uploadFile)
	s.handle("GET", "/v1/files", s.listFiles)
	s.handle("GET", "/v1/files/{file_id}", s.getFile)
	s.handle("DELETE", "/v1/files/{file_id}", s.deleteFile)
	s.handle("GET", "/v1/files/{file_id}/content", s.downloadFile)
}

// fileShape is which wire shape a request gets.
type fileShape int

const (
	shapeGA      fileShape = iota
	shapeLegacy            // files-api-2025-04-14: no expires_at, scope: null, before_id/after_id lists
	shapeManaged           // managed-agents-2026-04-01: GA plus scope: null
)

func shapeOf(r *http.Request) fileShape {
	switch {
	case hasBeta(r, betaFilesLegacy):
		return shapeLegacy
	case hasBeta(r, betaManagedAgent):
		return shapeManaged
	}
	return shapeGA
}

// fileScope is the Managed Agents scope of a file; codebox has none, so it is always null.
type fileScope struct {
	ID   string `json:"id"`
	Type string `json:"type"`
}

type wireFile struct {
	ID           string `json:"id"`
	Type         string `json:"type"`
	Filename     string `json:"filename"`
	MimeType     string `json:"mime_type"`
	SizeBytes    int64  `json:"size_bytes"`
	CreatedAt    string `json:"created_at"`
	Downloadable bool   `json:"downloadable"`
}

type gaFile struct {
	wireFile
	ExpiresAt *string `json:"expires_at"`
}

type managedFile struct {
	gaFile
	Scope *fileScope `json:"scope"`
}

type legacyFile struct {
	wireFile
	Scope *fileScope `json:"scope"`
}

// wireTime is how times are sent: RFC 3339 in UTC with microseconds.
func wireTime(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000000Z07:00") }

func toWireFile(f *files.File, shape fileShape) any {
	w := wireFile{ID: f.ID, Type: "file", Filename: f.Filename, MimeType: f.MimeType, SizeBytes: f.Size,
		CreatedAt: wireTime(f.CreatedAt), Downloadable: f.Downloadable}
	if shape == shapeLegacy {
		return legacyFile{wireFile: w}
	}
	ga := gaFile{wireFile: w}
	if !f.ExpiresAt.IsZero() {
		t := wireTime(f.ExpiresAt)
		ga.ExpiresAt = &t
	}
	if shape == shapeManaged {
		return managedFile{gaFile: ga}
	}
	return ga
}

func invalid(format string, args ...any) error {
	return errdefs.New(errdefs.ErrInvalid, "", format, args...)
}

// bodyError turns a failure to read the request body into a client error: too large, or
// a malformed multipart body.
func bodyError(err error) error {
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		return errdefs.New(errdefs.ErrTooLarge, "", "Request body exceeds the maximum size of %d bytes", mbe.Limit)
	}
	var pub *errdefs.Public
	if errors.Is(err, context.Canceled) || errors.As(err, &pub) {
		return err // a cancel, or already worded (a stalled body's 408)
	}
	return &errdefs.Public{Kind: errdefs.ErrInvalid, Message: "Malformed multipart/form-data body", Err: err}
}

// uploadFile streams the multipart "file" part straight into a staged blob, reads the other
// parts (expires_in_seconds may come before or after the file), then commits.
func (s *Server) uploadFile(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	mediaType, params, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || mediaType != "multipart/form-data" || params["boundary"] == "" {
		return invalid("Content-Type must be multipart/form-data with a boundary")
	}
	limit := s.Files.MaxFileSize() + multipartOverhead
	if r.ContentLength > limit {
		return errdefs.New(errdefs.ErrTooLarge, "", "Request body of %d bytes exceeds the maximum file size of %d bytes",
			r.ContentLength, s.Files.MaxFileSize())
	}
	// multipart reads through a 4 KiB buffer unless handed a larger bufio.Reader; a large
	// one turns a big upload into few large reads instead of a syscall per 4 KiB.
	br := bufio.NewReaderSize(http.MaxBytesReader(w, r.Body, limit), uploadBufferSize)
	mr := multipart.NewReader(br, params["boundary"])
	up, err := readUpload(mr, func(part io.Reader) (*files.Staged, error) {
		return s.Files.Stage(ctx, workspace(r), part)
	})
	if up.staged != nil {
		defer up.staged.Discard()
	}
	if err != nil {
		return err
	}
	f, err := up.staged.Commit(ctx, files.Meta{Filename: up.filename, MimeType: up.contentType, ExpiresIn: up.expiresIn})
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, toWireFile(f, shapeOf(r)))
	return nil
}

// upload is what readUpload found in a multipart body.
type upload struct {
	staged      *files.Staged
	filename    string // cleaned
	contentType string
	expiresIn   time.Duration
}

// readUpload reads every part of mr. The file part goes to stage as a stream; the caller
// must Discard up.staged when it is set, also on error.
func readUpload(mr *multipart.Reader, stage func(io.Reader) (*files.Staged, error)) (up upload, err error) {
	seenExpires := false
	for {
		part, err := mr.NextPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			return up, bodyError(err)
		}
		_, dp, err := mime.ParseMediaType(part.Header.Get("Content-Disposition"))
		if err != nil {
			return up, invalid("Malformed Content-Disposition of a multipart part")
		}
		switch dp["name"] {
		case "file":
			if up.staged != nil {
				return up, invalid("Only one `file` part is allowed")
			}
			if up.filename, err = files.CleanFilename(dp["filename"]); err != nil {
				return up, err
			}
			up.contentType = part.Header.Get("Content-Type")
			up.staged, err = stage(part)
			if err != nil {
				var be *files.BodyError
				if errors.As(err, &be) {
					return up, bodyError(be.Err)
				}
				return up, err
			}
		case "expires_in_seconds":
			if seenExpires {
				return up, invalid("expires_in_seconds given twice")
			}
			seenExpires = true
			if up.expiresIn, err = readExpiresIn(part); err != nil {
				return up, err
			}
		default:
			// Unknown fields are ignored, like unknown JSON fields.
			if _, err := io.Copy(io.Discard, part); err != nil {
				return up, bodyError(err)
			}
		}
		part.Close()
	}
	if up.staged == nil {
		return up, invalid("Missing required multipart part `file`")
	}
	return up, nil
}

func readExpiresIn(part io.Reader) (time.Duration, error) {
	b, err := io.ReadAll(io.LimitReader(part, 32))
	if err != nil {
		return 0, bodyError(err)
	}
	n, err := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64)
	if err != nil || n < minExpiresIn || n > maxExpiresIn {
		return 0, invalid("expires_in_seconds must be an integer from %d to %d", minExpiresIn, maxExpiresIn)
	}
	return time.Duration(n) * time.Second, nil
}

func (s *Server) getFile(w http.ResponseWriter, r *http.Request) error {
	f, err := s.Files.Get(r.Context(), workspace(r), r.PathValue("file_id"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, toWireFile(f, shapeOf(r)))
	return nil
}

type fileDeleted struct {
	ID   string `json:"id"`
	Type string `json:"type"`
}

func (s *Server) deleteFile(w http.ResponseWriter, r *http.Request) error {
	id := r.PathValue("file_id")
	if err := s.Files.Delete(r.Context(), workspace(r), id); err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, fileDeleted{ID: id, Type: "file_deleted"})
	return nil
}

// downloadFile streams the bytes with their stored type; ranges and conditional requests
// come from http.ServeContent.
func (s *Server) downloadFile(w http.ResponseWriter, r *http.Request) error {
	id := r.PathValue("file_id")
	f, rc, err := s.Files.Open(r.Context(), workspace(r), id)
	if err != nil {
		return err
	}
	defer rc.Close()
	if !f.Downloadable {
		return errdefs.New(errdefs.ErrInvalid, "file_not_downloadable",
			"File `%s` is not downloadable: only files created by code execution can be downloaded.", id)
	}
	h := w.Header()
	h.Set("Content-Type", f.MimeType)
	if cd := mime.FormatMediaType("attachment", map[string]string{"filename": f.Filename}); cd != "" {
		h.Set("Content-Disposition", cd)
	}
	http.ServeContent(w, r, "", f.CreatedAt, rc)
	return nil
}

// listQuery is a parsed GET /v1/files query.
type listQuery struct {
	files.ListQuery
	ids    bool // ids[] given: a single page
	before bool // paging toward newer files (before_id)
}

// parseListQuery validates the query of GET /v1/files for the request's shape. lookup
// resolves a before_id/after_id to its position.
func parseListQuery(q url.Values, shape fileShape, lookup func(id string) (*files.Cursor, error)) (listQuery, error) {
	var lq listQuery
	lq.Limit = defaultListLimit
	_, hasLimit := q["limit"]
	if hasLimit {
		n, err := strconv.Atoi(q.Get("limit"))
		if err != nil || n < 1 || n > files.MaxListLimit {
			return lq, invalid("limit must be an integer from 1 to %d", files.MaxListLimit)
		}
		lq.Limit = n
	}
	page, beforeID, afterID := q.Get("page"), q.Get("before_id"), q.Get("after_id")
	_, hasPage := q["page"]
	idList := append(append([]string(nil), q["ids[]"]...), q["ids"]...)
	if beforeID != "" || afterID != "" {
		if shape == shapeGA {
			return lq, invalid("before_id and after_id are not supported; use page with the next_page cursor")
		}
		if beforeID != "" && afterID != "" {
			return lq, invalid("before_id and after_id cannot be combined")
		}
		if hasPage || len(idList) > 0 {
			return lq, invalid("before_id and after_id cannot be combined with page or ids[]")
		}
	}
	if len(idList) > 0 {
		if hasPage || hasLimit {
			return lq, invalid("ids[] cannot be combined with page or limit")
		}
		seen := map[string]bool{}
		for _, id := range idList {
			if !seen[id] {
				seen[id] = true
				lq.IDs = append(lq.IDs, id)
			}
		}
		if len(lq.IDs) > maxListIDs {
			return lq, invalid("ids[] accepts at most %d ids", maxListIDs)
		}
		lq.ids = true
		return lq, nil
	}
	switch {
	case hasPage:
		c, before, err := decodePageCursor(page)
		if err != nil {
			return lq, invalid("Invalid page cursor")
		}
		if before {
			lq.Before, lq.before = c, true
		} else {
			lq.After = c
		}
	case beforeID != "" || afterID != "":
		id := afterID
		if beforeID != "" {
			id = beforeID
		}
		c, err := lookup(id)
		if err != nil {
			return lq, err
		}
		if beforeID != "" {
			lq.Before, lq.before = c, true
		} else {
			lq.After = c
		}
	}
	return lq, nil
}

// listFiles answers both pagination styles. GA: {data, next_page} plus has_more/first_id/
// last_id (the Managed Agents superset, harmless to GA clients). Legacy: {data, has_more,
// first_id, last_id} plus next_page, so that SDKs whose beta pager follows next_page can page
// legacy responses too.
func (s *Server) listFiles(w http.ResponseWriter, r *http.Request) error {
	ctx, ws, shape := r.Context(), workspace(r), shapeOf(r)
	lq, err := parseListQuery(r.URL.Query(), shape, func(id string) (*files.Cursor, error) {
		if !ids.Valid(files.IDPrefix, id) {
			return nil, invalid("Invalid file id %q in before_id/after_id", id)
		}
		f, err := s.Files.Get(ctx, ws, id)
		if errors.Is(err, errdefs.ErrNotFound) {
			return nil, invalid("File `%s` in before_id/after_id not found", id)
		}
		if err != nil {
			return nil, err
		}
		return &files.Cursor{CreatedAt: f.CreatedAt, ID: f.ID}, nil
	})
	if err != nil {
		return err
	}
	list, more, err := s.Files.List(ctx, ws, lq.ListQuery)
	if err != nil {
		return err
	}
	body := listBody{Data: make([]any, 0, len(list)), HasMore: more && !lq.ids}
	for _, f := range list {
		body.Data = append(body.Data, toWireFile(f, shape))
	}
	if n := len(list); n > 0 {
		body.FirstID, body.LastID = &list[0].ID, &list[n-1].ID
		// next_page always leads to older files: after the last one of this page, when
		// older ones exist. A page fetched toward newer files always has older ones.
		if !lq.ids && (more && !lq.before || lq.before) {
			p := encodePageCursor(files.Cursor{CreatedAt: list[n-1].CreatedAt, ID: list[n-1].ID}, false)
			body.NextPage = &p
		}
	}
	writeJSON(w, http.StatusOK, body)
	return nil
}

type listBody struct {
	Data     []any   `json:"data"`
	NextPage *string `json:"next_page"`
	HasMore  bool    `json:"has_more"`
	FirstID  *string `json:"first_id"`
	LastID   *string `json:"last_id"`
}

// Page cursors are "page_" + base64url("v1" | direction | unix nanos | id): opaque to
// clients, and positional, so that deleting the file a cursor names does not break paging.
const pagePrefix = "page_"

func encodePageCursor(c files.Cursor, before bool) string {
	dir := "a"
	if before {
		dir = "b"
	}
	raw := fmt.Sprintf("v1.%s.%d.%s", dir, c.CreatedAt.UnixNano(), c.ID)
	return pagePrefix + base64.RawURLEncoding.EncodeToString([]byte(raw))
}

var errBadCursor = errors.New("bad page cursor")

func decodePageCursor(s string) (*files.Cursor, bool, error) { return decodeCursor(s, files.IDPrefix) }

// decodeCursor decodes a page cursor whose position names an ID with idPrefix.
func decodeCursor(s, idPrefix string) (*files.Cursor, bool, error) {
	rest, ok := strings.CutPrefix(s, pagePrefix)
	if !ok || len(rest) > 256 {
		return nil, false, errBadCursor
	}
	// The decoder skips \r and \n even in strict mode, which would let many strings name
	// one cursor; a cursor must be exactly the encoding it decodes from.
	raw, err := base64.RawURLEncoding.Strict().DecodeString(rest)
	if err != nil || base64.RawURLEncoding.EncodeToString(raw) != rest {
		return nil, false, errBadCursor
	}
	parts := strings.SplitN(string(raw), ".", 4)
	if len(parts) != 4 || parts[0] != "v1" || (parts[1] != "a" && parts[1] != "b") || !ids.Valid(idPrefix, parts[3]) {
		return nil, false, errBadCursor
	}
	ns, err := strconv.ParseInt(parts[2], 10, 64)
	if err != nil || ns < 0 || strconv.FormatInt(ns, 10) != parts[2] {
		return nil, false, errBadCursor
	}
	return &files.Cursor{CreatedAt: time.Unix(0, ns).UTC(), ID: parts[3]}, parts[1] == "b", nil
}
