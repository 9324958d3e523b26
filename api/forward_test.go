package api

import (
	"bufio"
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/codebox-dev/codebox"
	"github.com/codebox-dev/codebox/agentloop"
	"github.com/codebox-dev/codebox/provider"
	anthropicdrv "github.com/codebox-dev/codebox/provider/anthropic"
	"github.com/codebox-dev/codebox/store/sqlite"
)

// recordedUsage is the real store, telling the test when a record lands.
type recordedUsage struct {
	*sqlite.DB
	recorded chan struct{}
}

func (u *recordedUsage) RecordUsage(ctx context.Context, ws codebox.WorkspaceID, rec agentloop.UsageRecord) error {
	err := u.DB.RecordUsage(ctx, ws, rec)
	u.recorded <- struct{}{}
	return err
}

// A forwarded stream cut off mid-answer (the client left or stopped reading) is still
// metered with the usage seen until then.
func TestForwardedStreamMeteredOnDisconnect(t *testing.T) {
	ctx := context.Background()
	db, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "codebox.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	usage := &recordedUsage{DB: db, recorded: make(chan struct{}, 1)}

	upstream := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		fmt.Fprint(w, "event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"id\":\"msg_cut\",\"type\":\"message\",\"role\":\"assistant\",\"model\":\"claude-x\",\"content\":[],\"usage\":{\"input_tokens\":25,\"output_tokens\":1}}}\n\n")
		fmt.Fprint(w, "event: content_block_start\ndata: {\"type\":\"content_block_start\",\"index\":0,\"content_block\":{\"type\":\"text\",\"text\":\"\"}}\n\n")
		fmt.Fprint(w, "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\"Hel\"}}\n\n")
		w.(http.Flusher).Flush()
		// The answer goes on until the client leaves.
		deadline := time.Now().Add(time.Minute)
		for r.Context().Err() == nil && time.Now().Before(deadline) {
			fmt.Fprint(w, "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\"lo lo lo lo lo lo lo lo\"}}\n\n")
			w.(http.Flusher).Flush()
		}
	}))
	defer upstream.Close()
	loop := agentloop.New(agentloop.Config{
		Models: &provider.Router{Anthropic: anthropicdrv.New(anthropicdrv.Config{BaseURL: upstream.URL, APIKey: "k"})},
		Usage:  usage,
	})
	srv := httptest.NewUnstartedServer(New(Config{Auth: keyAuth{"key1": "ws1"}, MessagesConfig: MessagesConfig{Loop: loop, Usage: db}}))
	// A client that stops reading is cut off when the answer's write deadline passes.
	srv.Config.WriteTimeout = time.Second
	srv.Start()
	defer srv.Close()

	req, err := http.NewRequest("POST", srv.URL+"/v1/messages", strings.NewReader(
		`{"model":"claude-x","max_tokens":100,"stream":true,"messages":[{"role":"user","content":"hi"}]}`))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("x-api-key", "key1")
	req.Header.Set("Content-Type", "application/json")
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != 200 {
		t.Fatalf("status %d", resp.StatusCode)
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() && !strings.Contains(sc.Text(), "text_delta") {
	}
	// The client stops reading; the server's writes fail once its buffers are full and
	// the deadline has passed.
	select {
	case <-usage.recorded:
	case <-time.After(time.Minute):
		t.Fatal("no usage recorded for the forwarded request whose client stopped reading")
	}
	now := time.Now()
	sum, err := db.UsageSummary(ctx, "ws1", now.Add(-time.Hour), now.Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if sum.Requests != 1 || sum.InputTokens != 25 || sum.OutputTokens != 1 {
		t.Errorf("usage = %+v, want 1 request of 25 input and 1 output tokens", sum)
	}
}

// A message_delta's usage replaces only the counts it reports; those of message_start
// it leaves out are kept.
func TestUsageSnifferKeepsCountsADeltaLeavesOut(t *testing.T) {
	stream := "event: message_start\n" +
		`data: {"type":"message_start","message":{"id":"msg_1","usage":{"input_tokens":10,"output_tokens":1,"cache_read_input_tokens":3}}}` + "\n\n" +
		"event: message_delta\n" +
		`data: {"type":"message_delta","delta":{"stop_reason":"end_turn"},"usage":{"output_tokens":20}}` + "\n\n"
	u := usageSniffer{sse: true}
	// Fed in small pieces, as a network read would split it.
	for b := []byte(stream); len(b) > 0; {
		n := min(7, len(b))
		u.Write(b[:n])
		b = b[n:]
	}
	got, id, ok := u.result()
	want := provider.Usage{InputTokens: 10, OutputTokens: 20, CacheReadInputTokens: 3}
	if !ok || id != "msg_1" || got.Usage != want {
		t.Errorf("result = %+v %q %v, want %+v msg_1 true", got.Usage, id, ok, want)
	}
	var json usageSniffer
	json.Write([]byte(`{"id":"msg_2","usage":{"input_tokens":4,"output_tokens":5,"cache_creation_input_tokens":6}}`))
	got, id, ok = json.result()
	if want := (provider.Usage{InputTokens: 4, OutputTokens: 5, CacheCreationInputTokens: 6}); !ok || id != "msg_2" || got.Usage != want {
		t.Errorf("JSON result = %+v %q %v, want %+v msg_2 true", got.Usage, id, ok, want)
	}
}
