package api

import "net/http"

// ConsoleConfig serves the web console (package web) beside the API.
type ConsoleConfig struct {
	// Console serves GET / and GET /console/...; nil serves neither (404 as any unknown path).
	Console http.Handler
}

// registerConsoleRoutes mounts the console without authentication: the page asks for the
// key and sends it with each API call it makes.
func (s *Server) registerConsoleRoutes() {
	if s.Console == nil {
		return
	}
	s.mux.Handle("GET /{$}", s.Console)
	s.mux.Handle("GET /console/", s.Console)
}
