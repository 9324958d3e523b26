// Package e2e holds end-to-end tests of the Messages API with the code execution tool:
// a real codebox server on a loopback port, driven by the official anthropic-sdk-go and,
// through the scripts in python/, by the official anthropic and openai Python SDKs
// running the seeds' code unchanged, with a scripted model served over HTTP in the
// Anthropic and the OpenAI wire formats, real SQLite and disk storage, and the real
// sandbox on the first runtime of CODEBOX_TEST_RUNTIMES. Without root, the runtime, the
// image or the Python SDKs' virtual environments (scripts/pyvenv.sh) the tests skip on a
// developer's machine and fail in CI (see internal/testenv).
package e2e
