package api

// MessagesConfig holds the dependencies of the messages routes.
type MessagesConfig struct{}

func (s *Server) registerMessageRoutes() {}
