package e2e

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/anthropics/anthropic-sdk-go"
	"github.com/anthropics/anthropic-sdk-go/packages/param"

	"github.com/codebox-dev/codebox/tools"
)

// outcome is how one request of a burst ended: a 200 whose calls all ran, a 200 with a
// failed call (what must not happen for lack of capacity), or an API error.
type outcome struct {
	ok         bool
	toolError  string
	status     int
	typ        string
	retryAfter string
}

// burst sends n concurrent requests that each run `sleep secs` in container id (one
// container, so that the burst measures the execution limits and not container starts)
// and returns how each ended.
func burst(t *testing.T, e *env, id string, n int) []outcome {
	t.Helper()
	out := make([]outcome, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			p := e.params(anthropic.NewTextBlock("sleep, please"))
			p.Container = anthropic.MessageCreateParamsContainerUnion{OfString: param.NewOpt(id)}
			msg, err := e.client(e.keyA).Messages.New(context.Background(), p)
			var ae *anthropic.Error
			switch {
			case errors.As(err, &ae):
				out[i] = outcome{status: ae.StatusCode, typ: string(ae.Type()), retryAfter: ae.Response.Header.Get("retry-after")}
			case err != nil:
				out[i] = outcome{toolError: err.Error()}
			default:
				out[i] = outcome{ok: true, status: 200}
				for _, b := range msg.Content {
					if b.Type == "bash_code_execution_tool_result" && strings.Contains(b.RawJSON(), `"error_code"`) {
						out[i] = outcome{status: 200, toolError: b.RawJSON()}
					}
				}
			}
		})
	}
	wg.Wait()
	return out
}

// sleepyEnv is an env whose model runs `sleep secs` once, then answers, and the id of a
// container made by one such request.
func sleepyEnv(t *testing.T, secs int) (*env, string) {
	t.Helper()
	e := newEnv(t, formatAnthropic, scriptOf(turn(bash(fmt.Sprintf("sleep %d; echo slept", secs))), turn(text("done"))), envOptions{})
	first, err := e.client(e.keyA).Messages.New(context.Background(), e.params(anthropic.NewTextBlock("sleep")))
	if err != nil {
		t.Fatal(err)
	}
	return e, first.Container.ID
}

// TestLoadBeyondWorkspaceLimitWaits sends more concurrent code execution requests to one
// workspace than it may run at once: those over the limit wait for a seat instead of
// failing their calls with too_many_requests inside a 200.
func TestLoadBeyondWorkspaceLimitWaits(t *testing.T) {
	e, id := sleepyEnv(t, 2)
	e.runner.Limiter = &tools.Limiter{PerWorkspace: 16, Global: 64, Queue: 64, Wait: 5 * time.Minute}
	for i, o := range burst(t, e, id, 20) {
		if !o.ok {
			t.Errorf("request %d: %+v, want a 200 whose call ran", i, o)
		}
	}
}

// TestLoadRefusedBeforeFirstTurn fills a workspace's only seat: requests that cannot get
// it in time are refused with 429 and retry-after before the model is asked anything.
func TestLoadRefusedBeforeFirstTurn(t *testing.T) {
	e, id := sleepyEnv(t, 6)
	e.runner.Limiter = &tools.Limiter{PerWorkspace: 1, Global: 64, Queue: 64, Wait: time.Second}
	before := len(e.upstream.Requests())
	ok, refused := 0, 0
	for i, o := range burst(t, e, id, 3) {
		switch {
		case o.ok:
			ok++
		case o.status == 429 && o.typ == "rate_limit_error" && o.retryAfter != "":
			refused++
		default:
			t.Errorf("request %d: %+v, want a 200 whose call ran or a 429 with retry-after", i, o)
		}
	}
	if ok != 1 || refused != 2 {
		t.Errorf("%d served, %d refused; want 1 and 2", ok, refused)
	}
	// The served request made two model turns; the refused ones none.
	if got := len(e.upstream.Requests()) - before; got != 2*ok {
		t.Errorf("%d model turns for %d served requests", got, ok)
	}
}

// TestLoadBeyondServerQueue saturates the global limit and its queue: the requests
// beyond are refused at once with a retryable 529 and retry-after, instead of waiting
// without bound.
func TestLoadBeyondServerQueue(t *testing.T) {
	e, id := sleepyEnv(t, 10)
	e.runner.Limiter = &tools.Limiter{PerWorkspace: 64, Global: 2, Queue: 2, Wait: 5 * time.Minute}
	ok, overloaded := 0, 0
	for i, o := range burst(t, e, id, 8) {
		switch {
		case o.ok:
			ok++
		case o.status == 529 && o.typ == "overloaded_error" && o.retryAfter != "":
			overloaded++
		default:
			t.Errorf("request %d: %+v, want a 200 whose call ran or a 529 with retry-after", i, o)
		}
	}
	if ok < 4 || overloaded < 1 {
		t.Errorf("%d served, %d refused as overloaded; want 4 served (2 running, 2 queued) and the rest refused", ok, overloaded)
	}
}
