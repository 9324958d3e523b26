package api

import (
	"fmt"
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
