package api

// ContainersConfig holds the dependencies of the containers routes.
type ContainersConfig struct{}

func (s *Server) registerContainerRoutes() {}
