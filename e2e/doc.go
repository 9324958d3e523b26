// Package e2e holds end-to-end tests of the Messages API with the code execution tool:
// a real codebox server on a loopback port, driven by the official anthropic-sdk-go,
// with a scripted model served over HTTP in the Anthropic and the OpenAI wire formats,
// real SQLite and disk storage, and the real sandbox when root, runc and the image are
// present (a host-directory test sandbox otherwise, for the tests that do not depend on
// the container's contents).
package e2e
