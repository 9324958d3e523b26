// Package codebox holds the few domain types every part of codebox shares.
//
// codebox is a self-hosted server that speaks Anthropic's Files API and the Messages
// API with the code execution tool. The parts live in subpackages named for what they
// provide (files, sandbox, agentloop, provider, api); this package holds only what they
// must agree on and imports nothing of the project.
package codebox

// WorkspaceID names the tenant that owns files, containers and usage. Every key belongs
// to exactly one workspace, and nothing in one workspace is visible from another. It is
// passed explicitly (never through a context) so that a missing tenant fails to compile.
type WorkspaceID string

// DefaultWorkspace is the workspace created on first start.
const DefaultWorkspace WorkspaceID = "default"
