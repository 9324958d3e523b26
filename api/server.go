package api

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"time"

	"github.com/codebox-dev/codebox"
)

// Authenticator resolves an API key to the workspace it belongs to.
type Authenticator interface {
	// Authenticate returns errdefs.ErrUnauthenticated for an unknown or revoked key.
	Authenticate(ctx context.Context, key string) (codebox.WorkspaceID, error)
}

// Router sends a request to the node of a cluster that should serve it;
// *cluster.Cluster satisfies it.
type Router interface {
	// Route forwards r, an authenticated request of ws matched to its route, to
	// another node and reports true, or reports false for this server to serve it.
	// An error comes with true and is answered in the envelope.
	Route(w http.ResponseWriter, r *http.Request, ws codebox.WorkspaceID) (bool, error)
}

// Config holds the server's dependencies. The embedded configs belong to the route
// groups in files.go, containers.go and messages.go.
type Config struct {
	Logger *slog.Logger
	Auth   Authenticator
	// MaxJSONBodyBytes caps JSON request bodies (Messages allows 32 MB).
	MaxJSONBodyBytes int64
	// BodyReadTimeout bounds each wait for request body data (0: none); see progressBody.
	BodyReadTimeout time.Duration
	// Router, when set, sends requests for containers of other nodes there (a
	// cluster); nil serves everything here.
	Router Router

	FilesConfig
	SkillsConfig
	ContainersConfig
	MessagesConfig
	BatchesConfig
	ModelsConfig
	HealthConfig
	MetricsConfig
	ConsoleConfig
}

// Server is the HTTP handler for the whole API.
type Server struct {
	Config
	mux     *http.ServeMux
	methods map[string][]string // path pattern → methods registered, for 405 answers
	now     func() time.Time
	health  health
}

// New builds the server and its routes.
func New(cfg Config) *Server {
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.MaxJSONBodyBytes == 0 {
		cfg.MaxJSONBodyBytes = 32 << 20
	}
	s := &Server{Config: cfg, mux: http.NewServeMux(), methods: map[string][]string{}, now: time.Now}
	s.registerFileRoutes()
	s.registerSkillRoutes()
	s.registerContainerRoutes()
	s.registerMCPRoute()
	s.registerMessageRoutes()
	s.registerBatchRoutes()
	s.registerModelRoutes()
	s.registerHealthRoutes()
	s.registerMetricsRoute()
	s.registerConsoleRoutes()
	s.finishRoutes()
	return s
}

// handlerFunc is a handler that returns its error instead of writing it.
type handlerFunc func(w http.ResponseWriter, r *http.Request) error

// handle registers an authenticated route. pattern is a net/http pattern path such as
// "/v1/files/{id}".
func (s *Server) handle(method, pattern string, h handlerFunc) {
	s.methods[pattern] = append(s.methods[pattern], method)
	s.mux.Handle(method+" "+pattern, s.authenticated(h))
}

// finishRoutes answers every other method on a known path with 405, and every unknown
// path with 404, both in the error envelope.
func (s *Server) finishRoutes() {
	for pattern := range s.methods {
		s.mux.Handle(pattern, s.wrap(func(w http.ResponseWriter, r *http.Request) error {
			return errMethodNotAllowed(r)
		}))
	}
	s.mux.Handle("/", s.wrap(func(w http.ResponseWriter, r *http.Request) error {
		return errRouteNotFound(r)
	}))
}

// ServeHTTP assigns the request ID, then routes.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	reqID := newRequestID()
	w.Header().Set("request-id", reqID)
	w.Header().Set("X-Content-Type-Options", "nosniff")
	ctx := withRequestID(r.Context(), reqID)
	s.withBodyTimeout(w, r)
	start := time.Now()
	rec := &statusRecorder{ResponseWriter: w}
	r = r.WithContext(ctx)
	s.requestStarted()
	defer s.requestDone(r, rec, start)
	s.mux.ServeHTTP(rec, r)
	s.Logger.LogAttrs(ctx, slog.LevelDebug, "request",
		slog.String("request_id", reqID), slog.String("method", r.Method),
		slog.String("path", r.URL.Path), slog.Int("status", rec.statusOr200()),
		slog.Duration("duration", time.Since(start)))
}

// wrap turns a handlerFunc into an http.Handler that writes its error and recovers panics.
func (s *Server) wrap(h handlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			if v := recover(); v != nil {
				if v == http.ErrAbortHandler {
					panic(v)
				}
				s.Logger.Error("handler panic", "request_id", requestID(r.Context()), "panic", v)
				s.writeError(w, r, errInternal)
			}
		}()
		if err := h(w, r); err != nil {
			s.writeError(w, r, err)
		}
	})
}

// authenticated checks x-api-key or Authorization: Bearer, then runs h with the key's
// workspace in the request context.
func (s *Server) authenticated(h handlerFunc) http.Handler {
	return s.wrap(func(w http.ResponseWriter, r *http.Request) error {
		ws, err := s.authenticate(r)
		if err != nil {
			return err
		}
		if s.Router != nil {
			if done, err := s.Router.Route(w, r, ws); done || err != nil {
				return err
			}
		}
		return h(w, r.WithContext(withWorkspace(r.Context(), ws)))
	})
}

type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (r *statusRecorder) WriteHeader(code int) {
	if r.status == 0 {
		r.status = code
	}
	r.ResponseWriter.WriteHeader(code)
}

func (r *statusRecorder) Write(b []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	return r.ResponseWriter.Write(b)
}

// Flush lets SSE handlers flush through the recorder.
func (r *statusRecorder) Flush() {
	if f, ok := r.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// ReadFrom keeps the underlying writer's sendfile path for downloads, which a plain
// Write loop through the recorder would lose.
func (r *statusRecorder) ReadFrom(src io.Reader) (int64, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	if rf, ok := r.ResponseWriter.(io.ReaderFrom); ok {
		return rf.ReadFrom(src)
	}
	return io.Copy(struct{ io.Writer }{r.ResponseWriter}, src)
}

// Unwrap lets http.ResponseController reach the underlying writer.
func (r *statusRecorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }

func (r *statusRecorder) statusOr200() int {
	if r.status == 0 {
		return http.StatusOK
	}
	return r.status
}
