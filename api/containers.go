package api

// The containers API: OpenAI's /v1/containers and container files API, which the
// OpenAI SDKs drive unchanged, with codebox's extensions (exec, python, edit, files by
// path), and Anthropic's error envelope. Every route is scoped to the caller's
// workspace: another workspace's container answers 404 exactly like an unknown id.
//
//	POST   /v1/containers                       create {name?, file_ids?, expires_after?, memory_limit?, network_policy?, image?}
//	GET    /v1/containers                       list (limit 1–100, after=<id>, order, name)
//	GET    /v1/containers/{id}                  retrieve
//	DELETE /v1/containers/{id}                  destroy with its files
//	POST   /v1/containers/{id}/exec             run bash {command, timeout_ms?, stream?}
//	POST   /v1/containers/{id}/python           run a cell in the persistent REPL {code, timeout_ms?, stream?}
//	POST   /v1/containers/{id}/edit             text editor {command: view|create|str_replace, path, …}
//	POST   /v1/containers/{id}/files            upload: multipart (file, path?) or file_id (multipart or JSON)
//	GET    /v1/containers/{id}/files            list (limit, after=<cfile id>, order; ?path=<dir>, recursive)
//	GET    /v1/containers/{id}/files/{file_id}  retrieve
//	GET    /v1/containers/{id}/files/{file_id}/content   download
//	DELETE /v1/containers/{id}/files/{file_id}  remove from the container
//	GET    /v1/containers/{id}/files/content    download (?path=<file>)
//
// A run answers one JSON result, or, with "stream": true or Accept: text/event-stream,
// server-sent events: "output" events ({type, stream, text}) as the command writes, then
// one "result" event (the JSON result) or one "error" event (the error envelope).
//
// Paths in requests are absolute or relative to the working directory /workspace; paths
// in responses are absolute. A path with a ".." element is rejected before it reaches the
// sandbox, which confines everything else (symlinks included) to the container.

import (
	"context"
	"io"
	"math"
	"net/http"
	"net/url"
	"path"
	"strconv"
	"strings"
	"time"

	"github.com/codebox-dev/codebox"
	"github.com/codebox-dev/codebox/errdefs"
	"github.com/codebox-dev/codebox/ids"
	"github.com/codebox-dev/codebox/sandbox"
	"github.com/codebox-dev/codebox/tools"
)

// ContainerManager is what the containers routes need from the sandbox layer;
// *sandbox.Manager satisfies it. Errors follow tools.Sandbox: errdefs.ErrNotFound for an
// unknown container or file, errdefs.ErrInvalid (code container_expired past the hard
// expiry), errdefs.ErrTooLarge, errdefs.ErrUnavailable.
type ContainerManager interface {
	Create(ctx context.Context, ws codebox.WorkspaceID, opts sandbox.CreateOptions) (*sandbox.Container, error)
	Get(ctx context.Context, ws codebox.WorkspaceID, id string) (*sandbox.Container, error)
	List(ctx context.Context, ws codebox.WorkspaceID, opts sandbox.ListOptions) ([]*sandbox.Container, bool, error)
	Delete(ctx context.Context, ws codebox.WorkspaceID, id string) error
	Stop(ctx context.Context, ws codebox.WorkspaceID, id string) (*sandbox.Container, error)
	Exec(ctx context.Context, ws codebox.WorkspaceID, id string, req sandbox.ExecRequest) (*sandbox.ExecResult, error)
	RunPython(ctx context.Context, ws codebox.WorkspaceID, id string, req sandbox.PythonRequest) (*sandbox.ExecResult, error)
	ViewFile(ctx context.Context, ws codebox.WorkspaceID, id, unsafePath string, viewRange []int) (*sandbox.ViewResult, error)
	CreateFile(ctx context.Context, ws codebox.WorkspaceID, id, unsafePath, text string) (bool, error)
	StrReplace(ctx context.Context, ws codebox.WorkspaceID, id, unsafePath, oldStr, newStr string) (*sandbox.ReplaceResult, error)
	Upload(ctx context.Context, ws codebox.WorkspaceID, id, unsafePath string, r io.Reader) error
	OpenFile(ctx context.Context, ws codebox.WorkspaceID, id, unsafePath string) (io.ReadCloser, sandbox.FileInfo, error)
	// Container files with ids (OpenAI's container files API).
	Files(ctx context.Context, ws codebox.WorkspaceID, id, unsafeDir string) ([]*sandbox.ContainerFile, error)
	File(ctx context.Context, ws codebox.WorkspaceID, id, fileID string) (*sandbox.ContainerFile, error)
	FileAt(ctx context.Context, ws codebox.WorkspaceID, id, unsafePath string) (*sandbox.ContainerFile, error)
	RemoveFile(ctx context.Context, ws codebox.WorkspaceID, id, fileID string) error
}

// StreamingContainers is implemented by a ContainerManager that can deliver output
// while a command runs (*sandbox.Manager does). With it, exec and python answer as
// server-sent events when the request asks for a stream.
type StreamingContainers interface {
	ExecStream(ctx context.Context, ws codebox.WorkspaceID, id string, req sandbox.ExecRequest, out sandbox.OutputFunc) (*sandbox.ExecResult, error)
	RunPythonStream(ctx context.Context, ws codebox.WorkspaceID, id string, req sandbox.PythonRequest, out sandbox.OutputFunc) (*sandbox.ExecResult, error)
}

// ContainersConfig holds the dependencies of the containers routes. With Containers nil
// the routes are not registered (the server runs without a sandbox).
type ContainersConfig struct {
	Containers ContainerManager
	// StoredFiles, when set, lets POST /v1/containers/{id}/files copy a Files API file in.
	StoredFiles sandbox.InputFiles
	// Runner checks exec and python requests and seats them in its limiter, as it does
	// the Messages API's bash and Python calls (nil: checks with no limiter and the
	// sandbox's default timeout).
	Runner *tools.Runner
	// MaxUploadBytes caps a multipart upload into a container (default 500 MiB, the
	// Files API's limit).
	MaxUploadBytes int64
}

func (s *Server) registerContainerRoutes() {
	if s.Containers == nil {
		return
	}
	if s.MaxUploadBytes == 0 {
		s.MaxUploadBytes = 500 << 20
	}
	if s.Runner == nil {
		s.Runner = &tools.Runner{}
	}
	s.handle("POST", "/v1/containers", s.createContainer)
	s.handle("GET", "/v1/containers", s.listContainers)
	s.handle("GET", "/v1/containers/{id}", s.getContainer)
	s.handle("DELETE", "/v1/containers/{id}", s.deleteContainer)
	s.handle("POST", "/v1/containers/{id}/stop", s.stopContainer)
	s.handle("POST", "/v1/containers/{id}/exec", s.execContainer)
	s.handle("POST", "/v1/containers/{id}/python", s.pythonContainer)
	s.handle("POST", "/v1/containers/{id}/edit", s.editContainer)
	s.handle("POST", "/v1/containers/{id}/files", s.uploadContainerFile)
	s.handle("GET", "/v1/containers/{id}/files", s.listContainerFiles)
	// GET /v1/containers/{id}/files/content?path= (the download by path) is routed by
	// getContainerFile: a pattern of its own would conflict with DELETE's {file_id}.
	s.handle("GET", "/v1/containers/{id}/files/{file_id}", s.getContainerFile)
	s.handle("DELETE", "/v1/containers/{id}/files/{file_id}", s.deleteContainerFile)
	s.handle("GET", "/v1/containers/{id}/files/{file_id}/content", s.containerFileContent)
}

// Wire types.

type containerJSON struct {
	ID           string `json:"id"`
	Object       string `json:"object"` // "container"
	Name         string `json:"name"`
	Status       string `json:"status"` // running, stopped, expired
	CreatedAt    int64  `json:"created_at"`
	LastActiveAt int64  `json:"last_active_at"`
	// ExpiresAt is the hard expiry: the container and its files are destroyed then.
	ExpiresAt int64 `json:"expires_at"`
	// IdleExpiresAt is when it stops for idleness; the next use restarts it, files intact.
	IdleExpiresAt int64             `json:"idle_expires_at"`
	ExpiresAfter  *expiresAfterJSON `json:"expires_after,omitempty"`
	// MemoryLimit is the limit the container asked for ("1g", "4g", "16g", "64g");
	// absent for one running under the server's own limit.
	MemoryLimit string `json:"memory_limit,omitempty"`
	// Image is the image the container runs (a codebox extension).
	Image         string             `json:"image"`
	NetworkPolicy *networkPolicyJSON `json:"network_policy"`
}

// expiresAfterJSON is OpenAI's idle policy: the container expires Minutes after its
// last activity. A container created without one reports the server's idle period,
// after which it is stopped and restarted on its next use, never lost.
type expiresAfterJSON struct {
	Anchor  string `json:"anchor"`
	Minutes int64  `json:"minutes"`
}

// memoryLimits are the memory limits OpenAI's containers offer.
var memoryLimits = []struct {
	name  string
	bytes int64
}{{"1g", 1 << 30}, {"4g", 4 << 30}, {"16g", 16 << 30}, {"64g", 64 << 30}}

type containerListJSON struct {
	Object  string          `json:"object"` // "list"
	Data    []containerJSON `json:"data"`
	FirstID *string         `json:"first_id"`
	LastID  *string         `json:"last_id"`
	HasMore bool            `json:"has_more"`
}

type containerDeletedJSON struct {
	ID      string `json:"id"`
	Object  string `json:"object"` // "container.deleted"
	Deleted bool   `json:"deleted"`
}

type execResultJSON struct {
	Object     string           `json:"object"` // "container.exec_result"
	Stdout     string           `json:"stdout"`
	Stderr     string           `json:"stderr"`
	ReturnCode int              `json:"return_code"`
	TimedOut   bool             `json:"timed_out"`
	OOMKilled  bool             `json:"oom_killed"`
	Truncated  bool             `json:"truncated"`
	DurationMS int64            `json:"duration_ms"`
	Files      []outputFileJSON `json:"files"`
	FilesError *outputErrorJSON `json:"files_error,omitempty"`
}

type outputFileJSON struct {
	FileID   string `json:"file_id"`
	Path     string `json:"path"`
	Bytes    int64  `json:"bytes"`
	MimeType string `json:"mime_type"`
}

type outputErrorJSON struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

type containerFileJSON struct {
	ID          string `json:"id"`     // "cfile_…"
	Object      string `json:"object"` // "container.file"
	ContainerID string `json:"container_id"`
	Path        string `json:"path"`
	Bytes       int64  `json:"bytes"`
	CreatedAt   int64  `json:"created_at"`
	// Source is "user" for an uploaded file, "assistant" for one the code wrote.
	Source string `json:"source"`
	// ModifiedAt is the file's modification time (a codebox extension).
	ModifiedAt int64 `json:"modified_at"`
}

type containerFileListJSON struct {
	Object  string              `json:"object"` // "list"
	Data    []containerFileJSON `json:"data"`
	FirstID *string             `json:"first_id"`
	LastID  *string             `json:"last_id"`
	HasMore bool                `json:"has_more"`
}

func toContainerJSON(c *sandbox.Container) containerJSON {
	out := containerJSON{
		ID: c.ID, Object: "container", Name: c.Name, Status: string(c.Status),
		CreatedAt: unixOrZero(c.CreatedAt), LastActiveAt: unixOrZero(c.LastActiveAt),
		ExpiresAt: unixOrZero(c.ExpiresAt), IdleExpiresAt: unixOrZero(c.IdleExpiresAt),
		Image: c.Image, NetworkPolicy: toNetworkPolicyJSON(c.NetworkPolicy),
	}
	if out.Image == "" {
		out.Image = sandbox.DefaultImage
	}
	switch {
	case c.ExpiresAfter > 0:
		out.ExpiresAfter = &expiresAfterJSON{Anchor: "last_active_at", Minutes: int64(c.ExpiresAfter / time.Minute)}
	case !c.IdleExpiresAt.IsZero() && !c.LastActiveAt.IsZero() && c.IdleExpiresAt.After(c.LastActiveAt):
		out.ExpiresAfter = &expiresAfterJSON{Anchor: "last_active_at",
			Minutes: int64(c.IdleExpiresAt.Sub(c.LastActiveAt).Round(time.Minute) / time.Minute)}
	}
	for _, l := range memoryLimits {
		if c.MemoryLimit == l.bytes {
			out.MemoryLimit = l.name
		}
	}
	return out
}

func unixOrZero(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.Unix()
}

func toExecResultJSON(res *sandbox.ExecResult) execResultJSON {
	out := execResultJSON{
		Object: "container.exec_result", Stdout: res.Stdout, Stderr: res.Stderr,
		ReturnCode: res.ExitCode, TimedOut: res.TimedOut, OOMKilled: res.OOMKilled,
		Truncated: res.Truncated, DurationMS: res.Duration.Milliseconds(),
		Files: make([]outputFileJSON, 0, len(res.Files)),
	}
	for _, f := range res.Files {
		out.Files = append(out.Files, outputFileJSON{FileID: f.FileID, Path: sandbox.AbsPath(f.Path),
			Bytes: f.Size, MimeType: f.MimeType})
	}
	if res.FilesError != nil {
		out.FilesError = &outputErrorJSON{Code: res.FilesError.Code, Message: res.FilesError.Message}
	}
	return out
}

func toContainerFileJSON(f *sandbox.ContainerFile) containerFileJSON {
	return containerFileJSON{ID: f.ID, Object: "container.file", ContainerID: f.ContainerID, Path: f.Path,
		Bytes: f.Size, CreatedAt: unixOrZero(f.CreatedAt), Source: f.Source, ModifiedAt: unixOrZero(f.ModTime)}
}

// Input checks.

// containerID returns the {id} path value, or ErrInvalid when it is not a container id.
func containerID(r *http.Request) (string, error) {
	id := r.PathValue("id")
	if !ids.Valid(sandbox.IDPrefix, id) {
		return "", errdefs.New(errdefs.ErrInvalid, "", "Invalid container id: %q", truncate(id, 80))
	}
	return id, nil
}

// checkPath validates a path from a request: non-empty (unless allowEmpty), no NUL, no
// ".." element. It returns the path cleaned; the sandbox resolves it inside the container.
func checkPath(field, p string, allowEmpty bool) (string, error) {
	if p == "" {
		if allowEmpty {
			return "", nil
		}
		return "", errdefs.New(errdefs.ErrInvalid, "", "%s: is required", field)
	}
	if len(p) > 4096 || strings.ContainsRune(p, 0) {
		return "", errdefs.New(errdefs.ErrInvalid, "", "%s: invalid path", field)
	}
	for _, elem := range strings.Split(p, "/") {
		if elem == ".." {
			return "", errdefs.New(errdefs.ErrInvalid, "", "%s: path must not contain '..'", field)
		}
	}
	return path.Clean(p), nil
}

// timeoutOf converts timeout_ms; nil or 0 means the server's default.
func timeoutOf(ms *int64) (time.Duration, error) {
	if ms == nil {
		return 0, nil
	}
	if *ms < 0 || *ms > int64(24*time.Hour/time.Millisecond) {
		return 0, errdefs.New(errdefs.ErrInvalid, "", "timeout_ms: must be between 0 and 86400000")
	}
	return time.Duration(*ms) * time.Millisecond, nil
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n] + "…"
	}
	return s
}

// Handlers.

type createContainerRequest struct {
	Name         string            `json:"name"`
	FileIDs      []string          `json:"file_ids"`
	ExpiresAfter *expiresAfterJSON `json:"expires_after"`
	MemoryLimit  string            `json:"memory_limit"`
	// Image names the image to run (a codebox extension); empty means the
	// workspace's default.
	Image         string             `json:"image"`
	NetworkPolicy *networkPolicyJSON `json:"network_policy"`
}

func (s *Server) createContainer(w http.ResponseWriter, r *http.Request) error {
	var req createContainerRequest
	if err := s.decodeJSON(w, r, &req); err != nil {
		return err
	}
	if len(req.Name) > 256 {
		return errdefs.New(errdefs.ErrInvalid, "", "name: at most 256 characters")
	}
	if len(req.FileIDs) > 100 {
		return errdefs.New(errdefs.ErrInvalid, "", "file_ids: at most 100 files")
	}
	for i, id := range req.FileIDs {
		if !ids.Valid("file_", id) {
			return errdefs.New(errdefs.ErrInvalid, "", "file_ids.%d: invalid file id %q", i, truncate(id, 80))
		}
	}
	opts := sandbox.CreateOptions{Name: req.Name, FileIDs: req.FileIDs, Image: req.Image}
	if e := req.ExpiresAfter; e != nil {
		if e.Anchor != "last_active_at" {
			return errdefs.New(errdefs.ErrInvalid, "", "expires_after.anchor: must be \"last_active_at\", not %q", truncate(e.Anchor, 40))
		}
		if e.Minutes < 1 {
			return errdefs.New(errdefs.ErrInvalid, "", "expires_after.minutes: must be at least 1")
		}
		// The server caps the period at its hard expiry; this only keeps the
		// multiplication in range.
		opts.ExpiresAfter = time.Duration(min(e.Minutes, int64(math.MaxInt64/time.Minute))) * time.Minute
	}
	if req.MemoryLimit != "" {
		for _, l := range memoryLimits {
			if req.MemoryLimit == l.name {
				opts.MemoryLimit = l.bytes
			}
		}
		if opts.MemoryLimit == 0 {
			return errdefs.New(errdefs.ErrInvalid, "", "memory_limit: must be one of \"1g\", \"4g\", \"16g\" or \"64g\", not %q", truncate(req.MemoryLimit, 40))
		}
	}
	policy, err := req.NetworkPolicy.toPolicy()
	if err != nil {
		return err
	}
	opts.NetworkPolicy = policy
	c, err := s.Containers.Create(r.Context(), workspace(r), opts)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, toContainerJSON(c))
	return nil
}

// page is OpenAI's cursor paging of a list: after=<id>, limit=1..100 (default 20),
// order=desc|asc (default desc, by created_at).
type page struct {
	after     string
	limit     int
	ascending bool
}

func pageOf(q url.Values) (page, error) {
	p := page{after: q.Get("after"), limit: 20}
	switch q.Get("order") {
	case "", "desc":
	case "asc":
		p.ascending = true
	default:
		return p, errdefs.New(errdefs.ErrInvalid, "", "order: must be \"asc\" or \"desc\"")
	}
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 100 {
			return p, errdefs.New(errdefs.ErrInvalid, "", "limit: must be an integer from 1 to 100")
		}
		p.limit = n
	}
	return p, nil
}

func (s *Server) listContainers(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	pg, err := pageOf(q)
	if err != nil {
		return err
	}
	opts := sandbox.ListOptions{Limit: pg.limit, After: pg.after, Ascending: pg.ascending, Name: q.Get("name")}
	if opts.After != "" && !ids.Valid(sandbox.IDPrefix, opts.After) {
		return errdefs.New(errdefs.ErrInvalid, "", "after: invalid container id")
	}
	cs, hasMore, err := s.Containers.List(r.Context(), workspace(r), opts)
	if err != nil {
		return err
	}
	out := containerListJSON{Object: "list", Data: make([]containerJSON, 0, len(cs)), HasMore: hasMore}
	for _, c := range cs {
		out.Data = append(out.Data, toContainerJSON(c))
	}
	if len(cs) > 0 {
		out.FirstID, out.LastID = &cs[0].ID, &cs[len(cs)-1].ID
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

func (s *Server) getContainer(w http.ResponseWriter, r *http.Request) error {
	id, err := containerID(r)
	if err != nil {
		return err
	}
	c, err := s.Containers.Get(r.Context(), workspace(r), id)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, toContainerJSON(c))
	return nil
}

func (s *Server) deleteContainer(w http.ResponseWriter, r *http.Request) error {
	id, err := containerID(r)
	if err != nil {
		return err
	}
	if err := s.Containers.Delete(r.Context(), workspace(r), id); err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, containerDeletedJSON{ID: id, Object: "container.deleted", Deleted: true})
	return nil
}

// stopContainer stops a container now instead of at its idle time (a codebox
// extension): its memory is freed, its files kept, and its next use starts it again.
func (s *Server) stopContainer(w http.ResponseWriter, r *http.Request) error {
	id, err := containerID(r)
	if err != nil {
		return err
	}
	c, err := s.Containers.Stop(r.Context(), workspace(r), id)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, toContainerJSON(c))
	return nil
}

type execRequest struct {
	Command   string `json:"command"`
	TimeoutMS *int64 `json:"timeout_ms"`
	Stream    bool   `json:"stream"`
}

func (s *Server) execContainer(w http.ResponseWriter, r *http.Request) error {
	id, err := containerID(r)
	if err != nil {
		return err
	}
	var req execRequest
	if err := s.decodeJSON(w, r, &req); err != nil {
		return err
	}
	timeout, err := timeoutOf(req.TimeoutMS)
	if err != nil {
		return err
	}
	ereq, err := s.Runner.ExecRequest(req.Command, timeout)
	if err != nil {
		return err
	}
	ws := workspace(r)
	return s.runCode(w, r, req.Stream, func(ctx context.Context) (*sandbox.ExecResult, error) {
		return s.Containers.Exec(ctx, ws, id, ereq)
	}, func(ctx context.Context, sc StreamingContainers, out sandbox.OutputFunc) (*sandbox.ExecResult, error) {
		return sc.ExecStream(ctx, ws, id, ereq, out)
	})
}

type pythonRequest struct {
	Code      string `json:"code"`
	TimeoutMS *int64 `json:"timeout_ms"`
	Stream    bool   `json:"stream"`
}

func (s *Server) pythonContainer(w http.ResponseWriter, r *http.Request) error {
	id, err := containerID(r)
	if err != nil {
		return err
	}
	var req pythonRequest
	if err := s.decodeJSON(w, r, &req); err != nil {
		return err
	}
	timeout, err := timeoutOf(req.TimeoutMS)
	if err != nil {
		return err
	}
	preq, err := s.Runner.PythonRequest(req.Code, timeout)
	if err != nil {
		return err
	}
	ws := workspace(r)
	return s.runCode(w, r, req.Stream, func(ctx context.Context) (*sandbox.ExecResult, error) {
		return s.Containers.RunPython(ctx, ws, id, preq)
	}, func(ctx context.Context, sc StreamingContainers, out sandbox.OutputFunc) (*sandbox.ExecResult, error) {
		return sc.RunPythonStream(ctx, ws, id, preq, out)
	})
}

// runCode runs a checked exec or python request under an execution seat of the
// Runner's limiter: through stream when the request asks for a stream and the manager
// can deliver one, through run otherwise.
func (s *Server) runCode(w http.ResponseWriter, r *http.Request, wantStream bool,
	run func(ctx context.Context) (*sandbox.ExecResult, error),
	stream func(ctx context.Context, sc StreamingContainers, out sandbox.OutputFunc) (*sandbox.ExecResult, error)) error {
	ctx, release, err := s.Runner.Admit(r.Context(), workspace(r))
	if err != nil {
		return err
	}
	defer release()
	if sc, ok := s.Containers.(StreamingContainers); ok && wantsStream(r, wantStream) {
		return s.streamRun(w, r, func(out sandbox.OutputFunc) (*sandbox.ExecResult, error) {
			return stream(ctx, sc, out)
		})
	}
	res, err := run(ctx)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, toExecResultJSON(res))
	return nil
}

// The editor results reuse the content shapes of Anthropic's
// text_editor_code_execution_tool_result blocks.
type viewResultJSON struct {
	Type       string `json:"type"`
	FileType   string `json:"file_type"`
	Content    string `json:"content"`
	NumLines   int    `json:"num_lines"`
	StartLine  int    `json:"start_line"`
	TotalLines int    `json:"total_lines"`
}

type createResultJSON struct {
	Type         string `json:"type"`
	IsFileUpdate bool   `json:"is_file_update"`
}

type replaceResultJSON struct {
	Type     string   `json:"type"`
	OldStart int      `json:"old_start"`
	OldLines int      `json:"old_lines"`
	NewStart int      `json:"new_start"`
	NewLines int      `json:"new_lines"`
	Lines    []string `json:"lines"`
}

func (s *Server) editContainer(w http.ResponseWriter, r *http.Request) error {
	id, err := containerID(r)
	if err != nil {
		return err
	}
	var req tools.EditInput
	if err := s.decodeJSON(w, r, &req); err != nil {
		return err
	}
	if req.Path, err = checkPath("path", req.Path, false); err != nil {
		return err
	}
	res, err := tools.Edit(r.Context(), s.Containers, workspace(r), id, req)
	if err != nil {
		return err
	}
	switch v, d := res.View, res.Replace; res.Command {
	case tools.EditView:
		writeJSON(w, http.StatusOK, viewResultJSON{Type: "text_editor_code_execution_view_result",
			FileType: v.FileType, Content: v.Content, NumLines: v.NumLines, StartLine: v.StartLine, TotalLines: v.TotalLines})
	case tools.EditCreate:
		writeJSON(w, http.StatusOK, createResultJSON{Type: "text_editor_code_execution_create_result", IsFileUpdate: res.IsFileUpdate})
	case tools.EditStrReplace:
		lines := d.Lines
		if lines == nil {
			lines = []string{}
		}
		writeJSON(w, http.StatusOK, replaceResultJSON{Type: "text_editor_code_execution_str_replace_result",
			OldStart: d.OldStart, OldLines: d.OldLines, NewStart: d.NewStart, NewLines: d.NewLines, Lines: lines})
	}
	return nil
}
