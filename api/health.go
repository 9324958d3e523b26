package api

import (
	"context"
	"net/http"
	"sync"
	"time"
)

// Check is one dependency the server needs to answer requests, asked by GET /readyz.
type Check struct {
	Name string
	// Func returns nil when the dependency answers. Its error is logged, never sent:
	// the probes need no key.
	Func func(ctx context.Context) error
}

// HealthConfig is the probes' section of the configuration.
type HealthConfig struct {
	// Checks are asked, concurrently, by GET /readyz (database, blobs, runtime).
	Checks []Check
	// CheckTimeout bounds each check (default 2 s).
	CheckTimeout time.Duration
}

// readyCache is how long a /readyz answer is reused, so that unauthenticated probes
// cannot make the server run its checks (a runtime binary among them) without bound.
const readyCache = time.Second

// health is the probes' state.
type health struct {
	mu      sync.Mutex
	at      time.Time
	status  int
	checks  map[string]string
	drained bool
}

func (s *Server) registerHealthRoutes() {
	s.handlePublic("GET", "/livez", s.livez)
	s.handlePublic("GET", "/readyz", s.readyz)
}

// handlePublic registers a route that needs no key.
func (s *Server) handlePublic(method, pattern string, h handlerFunc) {
	s.methods[pattern] = append(s.methods[pattern], method)
	s.mux.Handle(method+" "+pattern, s.wrap(h))
}

// Drain makes /readyz answer 503 from now on, so that load balancers stop sending new
// requests while the ones already sent are still served.
func (s *Server) Drain() {
	s.health.mu.Lock()
	defer s.health.mu.Unlock()
	s.health.drained = true
	s.health.at = time.Time{}
}

// livez answers 200 while the process serves HTTP at all.
func (s *Server) livez(w http.ResponseWriter, r *http.Request) error {
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	return nil
}

// readyz answers 200 when every check passes and the server is not draining, else 503,
// with each check's outcome ("ok" or "failed").
func (s *Server) readyz(w http.ResponseWriter, r *http.Request) error {
	h := &s.health
	h.mu.Lock()
	defer h.mu.Unlock()
	if time.Since(h.at) >= readyCache {
		h.status, h.checks = s.runChecks(r.Context())
		if h.drained {
			h.status = http.StatusServiceUnavailable
			h.checks["draining"] = "shutting down"
		}
		h.at = time.Now()
	}
	status := "ready"
	if h.status != http.StatusOK {
		status = "unready"
	}
	writeJSON(w, h.status, map[string]any{"status": status, "checks": h.checks})
	return nil
}

func (s *Server) runChecks(ctx context.Context) (int, map[string]string) {
	timeout := s.CheckTimeout
	if timeout <= 0 {
		timeout = 2 * time.Second
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), timeout)
	defer cancel()
	errs := make([]error, len(s.Checks))
	var wg sync.WaitGroup
	for i, c := range s.Checks {
		wg.Go(func() { errs[i] = c.Func(ctx) })
	}
	wg.Wait()
	status, out := http.StatusOK, map[string]string{}
	for i, c := range s.Checks {
		out[c.Name] = "ok"
		if errs[i] != nil {
			status, out[c.Name] = http.StatusServiceUnavailable, "failed"
			s.Logger.Warn("readiness check failed", "check", c.Name, "err", errs[i])
		}
	}
	return status, out
}
