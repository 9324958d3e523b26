// Package tools gives the code execution tool's sub-tools (bash_code_execution,
// text_editor_code_execution, and the legacy Python code_execution) their semantics: it
// turns a call into sandbox operations and the sandbox's answer into a result, including
// the documented error codes. Tool failures are results, not Go errors; an error means
// the infrastructure broke.
package tools
