// Package api serves codebox's HTTP API, wire-compatible with Anthropic's: the Files API,
// the Messages API with the code execution tool, and a native containers API.
//
// Wire types (JSON) live here and nowhere else; handlers convert to and from the Go types
// of the inner packages at the edge. Handlers return errors instead of writing them, and
// writeError is the one place that maps error kinds (package errdefs) to an HTTP status and
// Anthropic's error envelope. Every response carries a request-id header.
package api
