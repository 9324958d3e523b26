package e2e

import (
	"context"
	"testing"

	"github.com/anthropics/anthropic-sdk-go"
)

// TestPythonErrors checks that the documented failures reach the anthropic SDK as its
// own exception classes (NotFoundError, BadRequestError and its FileNotDownloadableError,
// AuthenticationError, RateLimitError, OverloadedError, InternalServerError) with
// non-empty messages.
func TestPythonErrors(t *testing.T) {
	p := newPyEnv(t, sdkLatest, scriptOf(turn(bash("true")), turn(text("ok"))), envOptions{prompts: []promptScript{
		{prompt: "The upstream is rate limited.", turns: scriptOf(failure(429, "rate_limit_error", "slow down"))},
		{prompt: "The upstream is overloaded.", turns: scriptOf(failure(529, "overloaded_error", "busy"))},
		{prompt: "The upstream is broken.", turns: scriptOf(failure(500, "api_error", "internal failure"))},
	}})
	msg, err := p.client(p.keyA).Messages.New(context.Background(), p.params(anthropic.NewTextBlock("make a container")))
	if err != nil {
		t.Fatal(err)
	}
	p.expire(t, msg.Container.ID)
	p.vars = append(p.vars, "CODEBOX_EXPIRED_CONTAINER="+msg.Container.ID)
	out := p.runScript(t, "check_errors.py")
	t.Log(out)
	wantLines(t, out,
		"bad key: AuthenticationError 401",
		"unknown file metadata: NotFoundError 404",
		"uploaded file download: FileNotDownloadableError 400 invalid_request_error: ",
		"expired container: BadRequestError 400 invalid_request_error: ",
		"upstream rate limit: RateLimitError 429",
		"upstream overloaded: OverloadedError 529",
		"streamed upstream rate limit: RateLimitError 429",
	)
}
