package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/anthropics/anthropic-sdk-go"
	"github.com/anthropics/anthropic-sdk-go/option"

	"github.com/codebox-dev/codebox/api"
	"github.com/codebox-dev/codebox/batches"
	"github.com/codebox-dev/codebox/sandbox/sandboxtest"
)

// startBatches serves the Message Batches API on cfg and runs its workers until the
// test ends.
func startBatches(t testing.TB, e *env, cfg *api.Config, bc batches.Config) {
	t.Helper()
	if bc.Logger == nil {
		bc.Logger = slog.New(slog.DiscardHandler)
	}
	svc := batches.New(bc, e.db, api.NewMessageExecutor(*cfg, e.runner))
	cfg.BatchesConfig.Batches = svc
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- svc.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("batches Run: %v", err)
		}
	})
}

// batchScript runs one command, then answers; a request with "plain" in it gets a text
// answer without tools.
func batchScript(cmd string) (string, envOptions) {
	return scriptOf(turn(bash(cmd)), turn(text("done"))),
		envOptions{prompts: []promptScript{{prompt: "plain", turns: scriptOf(turn(text("a plain answer")))}}}
}

func (e *env) batchParams(prompt string, codeExecution bool) anthropic.MessageBatchNewParamsRequestParams {
	p := anthropic.MessageBatchNewParamsRequestParams{
		Model:     anthropic.Model(e.model),
		MaxTokens: 1024,
		Messages:  []anthropic.MessageParam{anthropic.NewUserMessage(anthropic.NewTextBlock(prompt))},
	}
	if codeExecution {
		p.Tools = []anthropic.ToolUnionParam{codeExecTool("")}
	}
	return p
}

// waitEnded polls the batch until it has ended.
func waitEnded(t *testing.T, c *anthropic.Client, id string) *anthropic.MessageBatch {
	t.Helper()
	deadline := time.Now().Add(3 * time.Minute)
	for {
		b, err := c.Messages.Batches.Get(context.Background(), id, anthropic.MessageBatchGetParams{})
		if err != nil {
			t.Fatalf("get %s: %v", id, err)
		}
		if b.ProcessingStatus == anthropic.MessageBatchProcessingStatusEnded {
			return b
		}
		if time.Now().After(deadline) {
			t.Fatalf("batch %s did not end: %s", id, b.RawJSON())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// results reads a batch's results with the SDK, by custom_id.
func results(t *testing.T, c *anthropic.Client, id string) map[string]anthropic.MessageBatchIndividualResponse {
	t.Helper()
	stream := c.Messages.Batches.ResultsStreaming(context.Background(), id, anthropic.MessageBatchResultsParams{})
	defer stream.Close()
	out := map[string]anthropic.MessageBatchIndividualResponse{}
	for stream.Next() {
		r := stream.Current()
		if _, dup := out[r.CustomID]; dup {
			t.Errorf("custom_id %s answered twice", r.CustomID)
		}
		out[r.CustomID] = r
	}
	if err := stream.Err(); err != nil {
		t.Fatalf("results of %s: %v", id, err)
	}
	return out
}

// TestBatchLifecycle drives a batch through the official Go SDK: create, get while
// processing and once ended, results (a code execution answer, a plain one, and the
// error envelope the same request gets interactively), list paging, another
// workspace's view, delete, and the beta client.
func TestBatchLifecycle(t *testing.T) {
	turns, o := batchScript("echo ran-$((20+22))")
	o.batches = &batches.Config{Workers: 2}
	e := newEnv(t, formatAnthropic, turns, o)
	c := e.client(e.keyA)
	ctx := context.Background()

	bad := e.batchParams("no messages", false)
	bad.Messages = nil
	b, err := c.Messages.Batches.New(ctx, anthropic.MessageBatchNewParams{Requests: []anthropic.MessageBatchNewParamsRequest{
		{CustomID: "exec-1", Params: e.batchParams("run it", true)},
		{CustomID: "exec-2", Params: e.batchParams("run it again", true)},
		{CustomID: "plain", Params: e.batchParams("plain question", false)},
		{CustomID: "bad", Params: bad},
	}})
	if err != nil {
		t.Fatalf("create: %v", err)
	}
	if !strings.HasPrefix(b.ID, "msgbatch_") || b.Type != "message_batch" || b.ProcessingStatus != "in_progress" ||
		b.RequestCounts.Processing+b.RequestCounts.Succeeded+b.RequestCounts.Errored != 4 {
		t.Errorf("created batch = %s", b.RawJSON())
	}
	if got := b.ExpiresAt.Sub(b.CreatedAt); got != 24*time.Hour {
		t.Errorf("expires_at - created_at = %v, want 24h", got)
	}
	var raw map[string]any
	json.Unmarshal([]byte(b.RawJSON()), &raw)
	for _, k := range []string{"ended_at", "cancel_initiated_at", "archived_at", "results_url"} {
		if v, ok := raw[k]; !ok || v != nil {
			t.Errorf("%s = %v (present %v), want null while processing", k, v, ok)
		}
	}

	ended := waitEnded(t, c, b.ID)
	if rc := ended.RequestCounts; rc.Succeeded != 3 || rc.Errored != 1 || rc.Processing != 0 || rc.Canceled != 0 || rc.Expired != 0 {
		t.Errorf("request_counts = %+v, want 3 succeeded, 1 errored", rc)
	}
	if want := e.url + "/v1/messages/batches/" + b.ID + "/results"; ended.ResultsURL != want {
		t.Errorf("results_url = %q, want %q", ended.ResultsURL, want)
	}
	if ended.EndedAt.IsZero() || ended.EndedAt.Before(ended.CreatedAt) || !ended.CancelInitiatedAt.IsZero() {
		t.Errorf("ended batch = %s", ended.RawJSON())
	}

	res := results(t, c, b.ID)
	if len(res) != 4 {
		t.Fatalf("%d results, want 4", len(res))
	}
	for _, id := range []string{"exec-1", "exec-2"} {
		r := res[id].Result
		if r.Type != "succeeded" {
			t.Fatalf("%s: %s", id, res[id].RawJSON())
		}
		m := r.Message
		if blocksOf(&m) != "server_tool_use,bash_code_execution_tool_result,text" || m.Container.ID == "" {
			t.Errorf("%s: message = %s", id, m.RawJSON())
		}
		out := m.Content[1].AsBashCodeExecutionToolResult().Content.AsResponseBashCodeExecutionResultBlock()
		if out.Stdout != "ran-42\n" || out.ReturnCode != 0 {
			t.Errorf("%s: command result = %+v", id, out)
		}
		if n := codeExecRequests(t, &m); n != 1 {
			t.Errorf("%s: code_execution_requests = %d, want 1", id, n)
		}
	}
	if r := res["plain"].Result; r.Type != "succeeded" || r.Message.Content[0].Text != "a plain answer" {
		t.Errorf("plain: %s", res["plain"].RawJSON())
	}
	// The errored result carries the envelope the request gets interactively.
	_, ierr := c.Messages.New(ctx, anthropic.MessageNewParams{Model: bad.Model, MaxTokens: bad.MaxTokens})
	ae := apiError(t, ierr, http.StatusBadRequest, "invalid_request_error")
	r := res["bad"].Result
	if r.Type != "errored" || r.Error.Type != "error" || r.Error.Error.Type != "invalid_request_error" ||
		!strings.HasPrefix(r.Error.RequestID, "req_") {
		t.Fatalf("bad: %s", res["bad"].RawJSON())
	}
	var interactive struct {
		Error json.RawMessage `json:"error"`
	}
	json.Unmarshal([]byte(ae.RawJSON()), &interactive)
	if got, want := r.Error.Error.RawJSON(), string(interactive.Error); got != want {
		t.Errorf("errored result's error = %s, interactive = %s", got, want)
	}

	// The raw results: JSONL, one object per line, no empty line.
	resp := rawGet(t, e, e.keyA, "/v1/messages/batches/"+b.ID+"/results")
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); ct != "application/x-jsonl" {
		t.Errorf("Content-Type = %q", ct)
	}
	lines := strings.Split(strings.TrimSuffix(string(body), "\n"), "\n")
	if len(lines) != 4 || !strings.HasSuffix(string(body), "\n") {
		t.Errorf("results body has %d lines:\n%s", len(lines), body)
	}
	for _, l := range lines {
		if !json.Valid([]byte(l)) {
			t.Errorf("line is not one JSON object: %s", l)
		}
	}

	// A second batch, then paging newest first.
	b2, err := c.Messages.Batches.New(ctx, anthropic.MessageBatchNewParams{Requests: []anthropic.MessageBatchNewParamsRequest{
		{CustomID: "p", Params: e.batchParams("plain again", false)}}})
	if err != nil {
		t.Fatal(err)
	}
	page, err := c.Messages.Batches.List(ctx, anthropic.MessageBatchListParams{Limit: anthropic.Int(1)})
	if err != nil {
		t.Fatal(err)
	}
	if len(page.Data) != 1 || page.Data[0].ID != b2.ID || !page.HasMore || page.FirstID != b2.ID || page.LastID != b2.ID {
		t.Errorf("first page = %s", page.RawJSON())
	}
	page, err = c.Messages.Batches.List(ctx, anthropic.MessageBatchListParams{Limit: anthropic.Int(1), AfterID: anthropic.String(b2.ID)})
	if err != nil {
		t.Fatal(err)
	}
	if len(page.Data) != 1 || page.Data[0].ID != b.ID || page.HasMore {
		t.Errorf("page after %s = %s", b2.ID, page.RawJSON())
	}
	page, err = c.Messages.Batches.List(ctx, anthropic.MessageBatchListParams{BeforeID: anthropic.String(b.ID)})
	if err != nil {
		t.Fatal(err)
	}
	if len(page.Data) != 1 || page.Data[0].ID != b2.ID || page.HasMore {
		t.Errorf("page before %s = %s", b.ID, page.RawJSON())
	}
	var all []string
	iter := c.Messages.Batches.ListAutoPaging(ctx, anthropic.MessageBatchListParams{Limit: anthropic.Int(1)})
	for iter.Next() {
		all = append(all, iter.Current().ID)
	}
	if iter.Err() != nil || strings.Join(all, ",") != b2.ID+","+b.ID {
		t.Errorf("auto-paging = %v, %v", all, iter.Err())
	}
	if _, err := c.Messages.Batches.List(ctx, anthropic.MessageBatchListParams{Limit: anthropic.Int(1001)}); err == nil {
		t.Error("limit 1001 accepted")
	} else {
		apiError(t, err, http.StatusBadRequest, "invalid_request_error")
	}

	// Another workspace sees none of it.
	other := e.client(e.keyB)
	_, err = other.Messages.Batches.Get(ctx, b.ID, anthropic.MessageBatchGetParams{})
	apiError(t, err, http.StatusNotFound, "not_found_error")
	_, err = other.Messages.Batches.Cancel(ctx, b.ID, anthropic.MessageBatchCancelParams{})
	apiError(t, err, http.StatusNotFound, "not_found_error")
	_, err = other.Messages.Batches.Delete(ctx, b.ID, anthropic.MessageBatchDeleteParams{})
	apiError(t, err, http.StatusNotFound, "not_found_error")
	if resp := rawGet(t, e, e.keyB, "/v1/messages/batches/"+b.ID+"/results"); resp.StatusCode != http.StatusNotFound {
		t.Errorf("other workspace's results: %d", resp.StatusCode)
	}
	if p, err := other.Messages.Batches.List(ctx, anthropic.MessageBatchListParams{}); err != nil || len(p.Data) != 0 || p.HasMore {
		t.Errorf("other workspace's list = %v, %v", p, err)
	}

	// Delete an ended batch; it is gone.
	waitEnded(t, c, b2.ID)
	del, err := c.Messages.Batches.Delete(ctx, b.ID, anthropic.MessageBatchDeleteParams{})
	if err != nil || del.ID != b.ID || del.Type != "message_batch_deleted" {
		t.Fatalf("delete = %v, %v", del, err)
	}
	_, err = c.Messages.Batches.Get(ctx, b.ID, anthropic.MessageBatchGetParams{})
	apiError(t, err, http.StatusNotFound, "not_found_error")

	// The beta client speaks the same API (?beta=true).
	bb, err := c.Beta.Messages.Batches.New(ctx, anthropic.BetaMessageBatchNewParams{Requests: []anthropic.BetaMessageBatchNewParamsRequest{{
		CustomID: "beta-1",
		Params: anthropic.BetaMessageBatchNewParamsRequestParams{Model: anthropic.Model(e.model), MaxTokens: 256,
			Messages: []anthropic.BetaMessageParam{anthropic.NewBetaUserMessage(anthropic.NewBetaTextBlock("plain beta"))}},
	}}})
	if err != nil {
		t.Fatalf("beta create: %v", err)
	}
	for {
		got, err := c.Beta.Messages.Batches.Get(ctx, bb.ID, anthropic.BetaMessageBatchGetParams{})
		if err != nil {
			t.Fatal(err)
		}
		if got.ProcessingStatus == "ended" {
			if got.RequestCounts.Succeeded != 1 || got.ResultsURL == "" {
				t.Errorf("beta batch = %s", got.RawJSON())
			}
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	bs := c.Beta.Messages.Batches.ResultsStreaming(ctx, bb.ID, anthropic.BetaMessageBatchResultsParams{})
	n := 0
	for bs.Next() {
		if r := bs.Current(); r.CustomID != "beta-1" || r.Result.Type != "succeeded" || r.Result.Message.Content[0].Text != "a plain answer" {
			t.Errorf("beta result = %s", r.RawJSON())
		}
		n++
	}
	if bs.Err() != nil || n != 1 {
		t.Errorf("beta results: %d, %v", n, bs.Err())
	}
}

// resultTypes counts a batch's results by type.
func resultTypes(t *testing.T, c *anthropic.Client, id string) map[string]int {
	t.Helper()
	kinds := map[string]int{}
	for _, r := range results(t, c, id) {
		kinds[r.Result.Type]++
	}
	return kinds
}

func rawGet(t *testing.T, e *env, key, path string) *http.Response {
	t.Helper()
	req, _ := http.NewRequest("GET", e.url+path, nil)
	req.Header.Set("x-api-key", key)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	return resp
}

// waitRunning waits until one request of batch id runs.
func waitRunning(t *testing.T, e *env, id string) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for time.Now().Before(deadline) {
		var n int
		if err := e.db.SQL().QueryRow(`SELECT count(*) FROM message_batch_requests WHERE batch_id = ? AND state = 'running'`, id).Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n > 0 {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("no request of %s started", id)
}

func (e *env) newBatch(t *testing.T, c *anthropic.Client, n int) *anthropic.MessageBatch {
	t.Helper()
	var reqs []anthropic.MessageBatchNewParamsRequest
	for i := range n {
		reqs = append(reqs, anthropic.MessageBatchNewParamsRequest{CustomID: fmt.Sprintf("r-%d", i), Params: e.batchParams("slow", true)})
	}
	b, err := c.Messages.Batches.New(context.Background(), anthropic.MessageBatchNewParams{Requests: reqs})
	if err != nil {
		t.Fatalf("create: %v", err)
	}
	return b
}

// TestBatchCancel cancels a batch while one request runs: the others are canceled at
// once, the running one finishes and is answered, and the batch ends then.
func TestBatchCancel(t *testing.T) {
	turns, o := batchScript("sleep 2; echo slow")
	o.batches = &batches.Config{Workers: 1}
	e := newEnv(t, formatAnthropic, turns, o)
	c := e.client(e.keyA)
	ctx := context.Background()
	b := e.newBatch(t, c, 5)
	waitRunning(t, e, b.ID)
	got, err := c.Messages.Batches.Cancel(ctx, b.ID, anthropic.MessageBatchCancelParams{})
	if err != nil {
		t.Fatalf("cancel: %v", err)
	}
	if got.ProcessingStatus != "canceling" || got.CancelInitiatedAt.IsZero() || got.RequestCounts.Canceled != 4 ||
		got.RequestCounts.Processing != 1 {
		t.Errorf("canceling batch = %s", got.RawJSON())
	}
	// Not deletable until it has ended.
	_, err = c.Messages.Batches.Delete(ctx, b.ID, anthropic.MessageBatchDeleteParams{})
	apiError(t, err, http.StatusBadRequest, "invalid_request_error")
	ended := waitEnded(t, c, b.ID)
	if rc := ended.RequestCounts; rc.Succeeded != 1 || rc.Canceled != 4 || rc.Processing != 0 {
		t.Errorf("request_counts = %+v, want 1 succeeded, 4 canceled", rc)
	}
	kinds := resultTypes(t, c, b.ID)
	if kinds["succeeded"] != 1 || kinds["canceled"] != 4 {
		t.Errorf("results by type = %v", kinds)
	}
	// Canceling an ended batch changes nothing.
	again, err := c.Messages.Batches.Cancel(ctx, b.ID, anthropic.MessageBatchCancelParams{})
	if err != nil || again.ProcessingStatus != "ended" || !again.EndedAt.Equal(ended.EndedAt) {
		t.Errorf("cancel of an ended batch = %v, %v", again, err)
	}
}

// TestBatchExpiryAndRetention: requests not started by expires_at expire (the running
// one is still answered), and an ended batch is removed after the retention.
func TestBatchExpiryAndRetention(t *testing.T) {
	clock := sandboxtest.NewClock()
	turns, o := batchScript("sleep 2; echo slow")
	// The lease outlasts the clock's jumps: the running request is still held.
	o.batches = &batches.Config{Workers: 1, Now: clock.Now, Sweep: 20 * time.Millisecond, Retention: 48 * time.Hour,
		Lease: 100 * time.Hour}
	e := newEnv(t, formatAnthropic, turns, o)
	c := e.client(e.keyA)
	b := e.newBatch(t, c, 3)
	waitRunning(t, e, b.ID)
	clock.Advance(24*time.Hour + time.Second)
	ended := waitEnded(t, c, b.ID)
	if rc := ended.RequestCounts; rc.Succeeded != 1 || rc.Expired != 2 {
		t.Errorf("request_counts = %+v, want 1 succeeded, 2 expired", rc)
	}
	kinds := resultTypes(t, c, b.ID)
	if kinds["succeeded"] != 1 || kinds["expired"] != 2 {
		t.Errorf("results by type = %v", kinds)
	}
	clock.Advance(47 * time.Hour)
	time.Sleep(100 * time.Millisecond)
	if _, err := c.Messages.Batches.Get(context.Background(), b.ID, anthropic.MessageBatchGetParams{}); err != nil {
		t.Fatalf("batch removed before its retention ran out: %v", err)
	}
	clock.Advance(2 * time.Hour)
	deadline := time.Now().Add(time.Minute)
	for {
		_, err := c.Messages.Batches.Get(context.Background(), b.ID, anthropic.MessageBatchGetParams{})
		if err != nil {
			apiError(t, err, http.StatusNotFound, "not_found_error")
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("batch kept past its retention")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestBatchLimits: what a batch may hold, else 400 with a message naming the problem.
func TestBatchLimits(t *testing.T) {
	turns, o := batchScript("true")
	o.batches = &batches.Config{Workers: 1}
	e := newEnv(t, formatAnthropic, turns, o)
	params := `{"model":"` + e.model + `","max_tokens":10,"messages":[{"role":"user","content":"plain"}]}`
	req := func(id string) string { return `{"custom_id":` + id + `,"params":` + params + `}` }
	many := make([]string, batches.MaxRequests+1)
	for i := range many {
		many[i] = req(fmt.Sprintf(`"r%d"`, i))
	}
	for _, tc := range []struct{ name, body, want string }{
		{"Empty", `{"requests":[]}`, "at least one request"},
		{"Duplicate", `{"requests":[` + req(`"a"`) + `,` + req(`"b"`) + `,` + req(`"a"`) + `]}`, `requests.2.custom_id: "a" is already used by requests.0`},
		{"BadChars", `{"requests":[` + req(`"a/b"`) + `]}`, "requests.0.custom_id"},
		{"TooLong", `{"requests":[` + req(`"`+strings.Repeat("x", 65)+`"`) + `]}`, "1 to 64"},
		{"EmptyID", `{"requests":[` + req(`""`) + `]}`, "requests.0.custom_id"},
		{"NoParams", `{"requests":[{"custom_id":"a"}]}`, "requests.0.params"},
		{"Stream", `{"requests":[{"custom_id":"a","params":{"model":"m","max_tokens":1,"messages":[],"stream":true}}]}`, "requests.0.params.stream"},
		{"TooMany", `{"requests":[` + strings.Join(many, ",") + `]}`, "at most 100000 requests"},
		{"NotJSON", `{"requests":`, "Invalid JSON"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req, _ := http.NewRequest("POST", e.url+"/v1/messages/batches", strings.NewReader(tc.body))
			req.Header.Set("x-api-key", e.keyA)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			var env struct {
				Type  string `json:"type"`
				Error struct{ Type, Message string }
			}
			json.NewDecoder(resp.Body).Decode(&env)
			if resp.StatusCode != http.StatusBadRequest || env.Type != "error" || env.Error.Type != "invalid_request_error" ||
				!strings.Contains(env.Error.Message, tc.want) {
				t.Errorf("= %d %+v, want 400 invalid_request_error with %q", resp.StatusCode, env, tc.want)
			}
		})
	}
	t.Run("TooLarge", func(t *testing.T) {
		// Refused from its length, before the bytes are read.
		body := io.MultiReader(strings.NewReader(`{"requests":[`), zeros{})
		req, _ := http.NewRequest("POST", e.url+"/v1/messages/batches", io.LimitReader(body, batches.MaxBytes+1))
		req.ContentLength = batches.MaxBytes + 1
		req.Header.Set("x-api-key", e.keyA)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != http.StatusRequestEntityTooLarge || !strings.Contains(string(b), "256 MB") {
			t.Errorf("= %d %s, want 413 naming 256 MB", resp.StatusCode, b)
		}
	})
	// Nothing was created.
	p, err := e.client(e.keyA).Messages.Batches.List(context.Background(), anthropic.MessageBatchListParams{})
	if err != nil || len(p.Data) != 0 {
		t.Errorf("batches after refusals = %v, %v", p, err)
	}
	// The SDK's own retries are off; an unknown id is a plain 404.
	_, err = e.client(e.keyA).Messages.Batches.Get(context.Background(), "msgbatch_nope", anthropic.MessageBatchGetParams{}, option.WithMaxRetries(0))
	apiError(t, err, http.StatusNotFound, "not_found_error")
}

type zeros struct{}

func (zeros) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = ' '
	}
	return len(p), nil
}
