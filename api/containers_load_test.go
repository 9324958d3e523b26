package api

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/codebox-dev/codebox/sandbox"
	"github.com/codebox-dev/codebox/sandbox/sandboxtest"
)

// TestConcurrentCreatesRealRuntime creates 40 containers at once through the API, with
// no pool to hide the starts: every one must succeed. Concurrent creates used to race
// for the same loop device and fail with "device or resource busy".
func TestConcurrentCreatesRealRuntime(t *testing.T) {
	if testing.Short() {
		t.Skip("starts 40 containers")
	}
	srv, _ := realServer(t, sandboxtest.Runtimes()[0], func(c *sandbox.Config) {
		c.Capacity.MaxRunning, c.Capacity.MaxRunningPerWorkspace = 40, 40
	})
	const n = 40
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			status, _, body := do(t, srv, call{method: "POST", path: "/v1/containers", body: jsonBody(fmt.Sprintf(`{"name":"c%d"}`, i))})
			if status != 200 {
				errs <- fmt.Errorf("create %d: %d %s", i, status, body)
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

// TestContainerLimitRealRuntime: with every running container busy, a create is
// 429 rate_limit_error with a retry-after, never a start past the server's cap.
func TestContainerLimitRealRuntime(t *testing.T) {
	srv, env := realServer(t, sandboxtest.Runtimes()[0], func(c *sandbox.Config) {
		c.Capacity.MaxRunning, c.Capacity.MaxRunningPerWorkspace = 1, 1
	})
	c := decode[containerJSON](t, mustDo(t, srv, call{method: "POST", path: "/v1/containers", body: jsonBody(`{}`)}, 200))
	ctx, cancel := context.WithCancel(context.Background())
	started, done := make(chan struct{}), make(chan struct{})
	var once sync.Once
	go func() {
		defer close(done)
		env.Manager.Exec(ctx, "ws1", c.ID, sandbox.ExecRequest{Command: "echo started; sleep 600",
			Output: func(string, []byte) { once.Do(func() { close(started) }) }})
	}()
	defer func() { cancel(); <-done }()
	select {
	case <-started:
	case <-done:
		t.Fatal("the busy command ended before it started")
	}
	status, hdr, body := do(t, srv, call{method: "POST", path: "/v1/containers", body: jsonBody(`{}`)})
	if status != 429 || hdr.Get("retry-after") == "" || !strings.Contains(string(body), `"type":"rate_limit_error"`) ||
		!strings.Contains(string(body), `"error_code":"container_limit"`) {
		t.Errorf("create with the only slot busy: %d, retry-after %q: %s", status, hdr.Get("retry-after"), body)
	}
}
