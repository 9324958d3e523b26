package api

// FilesConfig holds the dependencies of the files routes.
type FilesConfig struct{}

func (s *Server) registerFileRoutes() {}
