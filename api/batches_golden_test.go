package api

import (
	"bufio"
	"bytes"
	"encoding/json"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/codebox-dev/codebox/batches"
)

// TestBatchGolden fixes the MessageBatch shapes (in progress, canceling, ended with its
// absolute results_url) and the result lines of each type.
func TestBatchGolden(t *testing.T) {
	t0 := time.Date(2026, 12, 7, 3, 0, 0, 0, time.UTC)
	r := httptest.NewRequest("GET", "http://codebox.example:8080/v1/messages/batches/msgbatch_golden", nil)
	running := &batches.Batch{ID: "msgbatch_golden", Workspace: "default", Status: batches.StatusInProgress,
		Counts: batches.Counts{Processing: 3, Succeeded: 1}, CreatedAt: t0, ExpiresAt: t0.Add(batches.Lifetime)}
	canceling := *running
	canceling.Status, canceling.CancelInitiatedAt = batches.StatusCanceling, t0.Add(time.Minute)
	ended := canceling
	ended.Status, ended.EndedAt = batches.StatusEnded, t0.Add(2*time.Minute)
	ended.Counts = batches.Counts{Succeeded: 2, Errored: 1, Canceled: 1}
	var out bytes.Buffer
	for _, b := range []*batches.Batch{running, &canceling, &ended} {
		j, err := json.MarshalIndent(toWireBatch(r, b), "", "  ")
		if err != nil {
			t.Fatal(err)
		}
		out.Write(append(j, '\n'))
	}
	messagesGolden(t, "batch.json", out.Bytes())

	var lines bytes.Buffer
	w := bufio.NewWriter(&lines)
	for _, res := range []batches.Result{
		{CustomID: "ok", Type: batches.Succeeded, Body: []byte(`{"id":"msg_golden","type":"message"}`)},
		{CustomID: "bad", Type: batches.Errored, Body: []byte(`{"type":"error","error":{"type":"invalid_request_error","message":"max_tokens: Field required"},"request_id":"req_golden"}`)},
		{CustomID: "stopped", Type: batches.Canceled},
		{CustomID: "late", Type: batches.Expired},
	} {
		if err := writeResultLine(w, res); err != nil {
			t.Fatal(err)
		}
	}
	w.Flush()
	messagesGolden(t, "batch_results.jsonl", lines.Bytes())
}
