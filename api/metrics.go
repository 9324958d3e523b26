package api

import (
	"net/http"
	"strings"
	"time"

	"github.com/codebox-dev/codebox/provider"
)

// Observer is told about every request the server answers and every request it
// forwards to an upstream model provider, for metrics; *metrics.Metrics satisfies it.
type Observer interface {
	// RequestStarted counts a request in flight until its RequestDone.
	RequestStarted()
	// RequestDone gets the route pattern the request matched (never its path), its
	// method, the status answered (499 when the client went away first) and how long
	// it took, stream included.
	RequestDone(route, method string, status int, d time.Duration)
	// ObserveUpstream gets the provider (provider.Provider of the model) of a forwarded
	// request, how long it took with its answer copied, and an error of the kind
	// provider.UpstreamError gives when upstream failed or answered an error status.
	ObserveUpstream(provider string, d time.Duration, err error)
}

// MetricsConfig is the server's instrumentation.
type MetricsConfig struct {
	// Observer, if set, is told about every request.
	Observer Observer
	// Metrics, if set, is served at GET /metrics without a key: the figures are
	// server-wide, and a workspace's key must not be what unlocks them. Leave it nil to
	// serve them on another listener, or not at all.
	Metrics http.Handler
}

func (s *Server) registerMetricsRoute() {
	if s.Metrics == nil {
		return
	}
	s.handlePublic(http.MethodGet, "/metrics", func(w http.ResponseWriter, r *http.Request) error {
		s.Metrics.ServeHTTP(w, r)
		return nil
	})
}

// requestStarted and requestDone feed the Observer; ServeHTTP brackets every request
// with them.
func (s *Server) requestStarted() {
	if s.Observer != nil {
		s.Observer.RequestStarted()
	}
}

func (s *Server) requestDone(r *http.Request, rec *statusRecorder, start time.Time) {
	if s.Observer == nil {
		return
	}
	status := rec.statusOr200()
	if rec.status == 0 && r.Context().Err() != nil {
		status = 499 // nothing was written: the client went away first
	}
	route, method := routeLabels(r)
	s.Observer.RequestDone(route, method, status, time.Since(start))
}

// observeForward reports a forwarded request that began at began and got status (0
// with err when upstream could not be reached). Deferred, it times the answer's copy too.
func (s *Server) observeForward(model string, began time.Time, status int, err error) {
	if s.Observer == nil {
		return
	}
	if err == nil && status >= 400 {
		err = provider.UpstreamError(status, "", nil)
	}
	s.Observer.ObserveUpstream(provider.Provider(model), time.Since(began), err)
}

// routeLabels returns the pattern r matched without its method, and the method: both
// bounded, whatever the client sent. A request no route matched is "unmatched".
func routeLabels(r *http.Request) (route, method string) {
	method, route, ok := strings.Cut(r.Pattern, " ")
	if !ok {
		method, route = r.Method, r.Pattern
	}
	if route == "" || route == "/" {
		route = "unmatched"
	}
	switch method {
	case http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch,
		http.MethodDelete, http.MethodOptions:
	default:
		method = "other"
	}
	return route, method
}
