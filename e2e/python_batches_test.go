package e2e

import (
	"testing"

	"github.com/codebox-dev/codebox/batches"
)

// TestPythonBatches drives the Message Batches API with the official Python SDK: the
// results are fetched from results_url, as the SDK does.
func TestPythonBatches(t *testing.T) {
	turns, o := batchScript("echo ran-$((20+22))")
	o.batches = &batches.Config{Workers: 2}
	p := newPyEnv(t, sdkLatest, turns, o)
	out := p.runScript(t, "check_batches.py")
	t.Log(out)
	wantLines(t, out,
		"created 3 processing",
		"ended: succeeded=2 errored=1 canceled=0 expired=0",
		"result bad: errored invalid_request_error: messages: ",
		"result exec-1: succeeded ran-42 container=True",
		"result exec-2: succeeded ran-42 container=True",
		"cancel: True True",
		"after cancel: 3 of 3 answered or canceled",
		"first page: True True",
		"all: True",
		"other workspace: NotFoundError 404",
		"deleted: True message_batch_deleted",
		"deleted batch: NotFoundError",
		`duplicate custom_id: BadRequestError requests.1.custom_id: "x" is already used by requests.0`,
		"beta result beta-1: succeeded succeeded=1",
	)
}
