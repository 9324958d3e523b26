package multinode

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/anthropics/anthropic-sdk-go"

	"github.com/codebox-dev/codebox/bench"
	"github.com/codebox-dev/codebox/errdefs"
)

// ackedUpload is an upload a node answered 200 to: it must never be lost.
type ackedUpload struct {
	id, sum, node string
}

// load is the traffic TestNodeKilledUnderLoad keeps up while a node dies: uploads
// through every node, and Messages on the survivors' containers through the survivors.
type load struct {
	mu       sync.Mutex
	uploads  []ackedUpload
	messages int // Messages requests answered 200
	failed   map[string]int
}

func (l *load) fail(kind string) {
	l.mu.Lock()
	l.failed[kind]++
	l.mu.Unlock()
}

func (l *load) counts() (int, int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.uploads), l.messages
}

// TestNodeKilledUnderLoad kills one of three nodes with SIGKILL while uploads,
// Messages and a batch are running, and checks what must survive: the dead node's
// containers answer 503 unavailable at once through the others, every acknowledged
// upload is intact, the batch is finished by the other nodes with every request
// answered, the usage of every answered request is counted, and the remaining nodes
// keep serving the whole seed workflow.
func TestNodeKilledUnderLoad(t *testing.T) {
	c := newCluster(t, 3)
	ctx := context.Background()

	// Six containers, created through node0; placement spreads them over the nodes.
	hosted := map[string][]string{}
	for i := range 6 {
		var ctr struct {
			ID string `json:"id"`
		}
		if code := c.call(t, c.nodes[0], "POST", "/v1/containers", map[string]string{"name": fmt.Sprint("c", i)}, &ctr); code != 200 {
			t.Fatalf("create container: %d", code)
		}
		host := c.hostOf(t, ctr.ID)
		hosted[host] = append(hosted[host], ctr.ID)
	}
	t.Logf("containers by node: %v", hosted)
	victim := c.nodes[0]
	for _, nd := range c.nodes {
		if len(hosted[nd.name]) > len(hosted[victim.name]) {
			victim = nd
		}
	}
	var survivors []*node
	var theirs []string // containers the survivors host
	for _, nd := range c.nodes {
		if nd != victim {
			survivors = append(survivors, nd)
			theirs = append(theirs, hosted[nd.name]...)
		}
	}
	if len(theirs) == 0 {
		t.Fatalf("placement put every container on %s: %v", victim.name, hosted)
	}

	// One of the victim's containers holds a file and is stopped, its disk saved to the
	// bucket: it must start again on another node with its file.
	saved := hosted[victim.name][0]
	running := hosted[victim.name][1:]
	if code := c.call(t, c.nodes[0], "POST", "/v1/containers/"+saved+"/exec", map[string]string{"command": "echo saved > saved.txt"}, nil); code != 200 {
		t.Fatalf("write in %s: %d", saved, code)
	}
	if code := c.call(t, c.nodes[0], "POST", "/v1/containers/"+saved+"/stop", nil, nil); code != 200 {
		t.Fatalf("stop %s: %d", saved, code)
	}
	waitFor(t, "archive of the stopped container's disk", func() bool {
		var gen int64
		c.db(t).QueryRow(ctx, `SELECT disk_generation FROM containers WHERE id = $1`, saved).Scan(&gen)
		return gen > 0
	})

	// A batch made through the victim: whatever its workers had claimed when it died is
	// finished by the others. Each request makes its container where it is claimed.
	const batchSize = 12
	reqs := make([]anthropic.MessageBatchNewParamsRequest, batchSize)
	for i := range reqs {
		p := ask("count", "")
		reqs[i] = anthropic.MessageBatchNewParamsRequest{CustomID: fmt.Sprintf("r%02d", i),
			Params: anthropic.MessageBatchNewParamsRequestParams{Model: p.Model, MaxTokens: p.MaxTokens, Messages: p.Messages, Tools: p.Tools}}
	}
	batch, err := victim.client().Messages.Batches.New(ctx, anthropic.MessageBatchNewParams{Requests: reqs})
	if err != nil {
		t.Fatalf("batch through %s: %v", victim.name, err)
	}

	l := &load{failed: map[string]int{}}
	loadCtx, stopLoad := context.WithCancel(ctx)
	var wg sync.WaitGroup
	for i := range 3 {
		wg.Go(func() { l.uploadLoop(loadCtx, t, c.nodes, i) })
	}
	for i := range 2 {
		wg.Go(func() { l.messageLoop(loadCtx, survivors[i%len(survivors)], theirs, i) })
	}
	waitFor(t, "uploads and messages before the kill", func() bool { u, m := l.counts(); return u >= 10 && m >= 2 })
	c.kill(victim)
	u0, m0 := l.counts()
	t.Logf("%s killed after %d uploads and %d messages", victim.name, u0, m0)
	// The survivors keep serving the load.
	waitFor(t, "uploads and messages after the kill", func() bool { u, m := l.counts(); return u >= u0+10 && m >= m0+2 })
	stopLoad()
	wg.Wait()
	t.Logf("load: %d uploads and %d messages answered; failures: %v", len(l.uploads), l.messages, l.failed)

	// The dead node's containers: a clear 503 unavailable, not a hang, whichever node
	// is asked and whether or not the registry has noticed yet.
	for _, id := range running {
		for _, nd := range survivors {
			var e struct {
				Error struct {
					Type    string `json:"type"`
					Message string `json:"message"`
					Details struct {
						ErrorCode string `json:"error_code"`
					} `json:"details"`
				} `json:"error"`
			}
			code := c.call(t, nd, "POST", "/v1/containers/"+id+"/exec", map[string]string{"command": "true"}, &e)
			if code != 503 || e.Error.Details.ErrorCode != errdefs.CodeContainerUnavailable || e.Error.Message == "" {
				t.Errorf("exec in %s (on dead %s) through %s: %d %+v, want 503 %s", id, victim.name, nd.name, code, e.Error, errdefs.CodeContainerUnavailable)
			}
		}
	}

	// The stopped container starts on a survivor with its file, once the registry has
	// declared the victim dead (until then it answers 503 too).
	var out struct {
		Stdout string `json:"stdout"`
	}
	waitFor(t, "the saved container on a survivor", func() bool {
		return c.call(t, survivors[0], "POST", "/v1/containers/"+saved+"/exec", map[string]string{"command": "cat saved.txt"}, &out) == 200
	})
	if out.Stdout != "saved\n" {
		t.Errorf("saved.txt in %s after its move: %q", saved, out.Stdout)
	}
	if host := c.hostOf(t, saved); host == victim.name {
		t.Errorf("%s still on the dead %s", saved, host)
	}

	// Every acknowledged upload, whichever node took it, is intact: copied from the
	// bucket into a survivor's container and hashed there (uploads are not downloadable).
	checkUploads(t, c, survivors, theirs[0], l.uploads)

	// The batch ends with every request answered, once.
	ended := waitBatch(t, survivors[0].client(), batch.ID)
	if rc := ended.RequestCounts; rc.Succeeded != batchSize {
		t.Errorf("batch request_counts = %s, want %d succeeded", ended.JSON.RequestCounts.Raw(), batchSize)
	}
	stream := survivors[1].client().Messages.Batches.ResultsStreaming(ctx, batch.ID, anthropic.MessageBatchResultsParams{})
	seen := map[string]bool{}
	for stream.Next() {
		r := stream.Current()
		if seen[r.CustomID] || r.Result.Type != "succeeded" {
			t.Errorf("result %s: %s", r.CustomID, r.RawJSON())
		}
		seen[r.CustomID] = true
	}
	if err := stream.Err(); err != nil {
		t.Fatalf("batch results: %v", err)
	}
	if len(seen) != batchSize {
		t.Errorf("%d batch results, want %d", len(seen), batchSize)
	}

	// Usage: every answered request is counted (a request cut by the kill may be too).
	var usage struct {
		Requests int64 `json:"requests"`
	}
	if code := c.call(t, survivors[0], "GET", "/v1/usage", nil, &usage); code != 200 || usage.Requests < int64(l.messages+batchSize) {
		t.Errorf("usage: %d %+v, want at least %d requests", code, usage, l.messages+batchSize)
	}

	// The victim comes back under its name and serves its running containers again
	// (which also lets the test delete them: a killed node's containers outlive it).
	c.run(t, victim)
	c.waitReady(t, victim)
	for _, id := range running {
		if code := c.call(t, survivors[0], "POST", "/v1/containers/"+id+"/exec", map[string]string{"command": "true"}, nil); code != 200 {
			t.Errorf("exec in %s through %s after %s came back: %d", id, survivors[0].name, victim.name, code)
		}
	}

	// The survivors serve the seed workflow end to end, containers made anew.
	for _, nd := range survivors {
		res, err := bench.RunLoad(ctx, bench.LoadConfig{BaseURL: nd.url, APIKey: apiKey, Levels: []int{1},
			Duration: time.Millisecond, RequestTimeout: hangTimeout})
		if err != nil || len(res) != 1 || res[0].Completed() != 1 {
			t.Errorf("seed workflow through %s after the kill: %v %+v", nd.name, err, res)
		}
	}
}

// uploadLoop uploads 64 KiB of random bytes after another, through each node in turn,
// and records the uploads answered 200.
func (l *load) uploadLoop(ctx context.Context, t *testing.T, nodes []*node, i int) {
	for n := i; ctx.Err() == nil; n++ {
		nd := nodes[n%len(nodes)]
		data := make([]byte, 64<<10)
		rand.Read(data)
		f, err := nd.client().Beta.Files.Upload(ctx, anthropic.BetaFileUploadParams{
			File: anthropic.File(bytes.NewReader(data), fmt.Sprintf("u%d-%d.bin", i, n), "application/octet-stream")})
		if err != nil {
			l.fail("upload")
			continue
		}
		sum := sha256.Sum256(data)
		l.mu.Lock()
		l.uploads = append(l.uploads, ackedUpload{id: f.ID, sum: hex.EncodeToString(sum[:]), node: nd.name})
		l.mu.Unlock()
	}
}

// messageLoop sends Messages through nd on the containers in turn.
func (l *load) messageLoop(ctx context.Context, nd *node, ctrs []string, i int) {
	cl := nd.client()
	for n := i; ctx.Err() == nil; n++ {
		m, err := cl.Messages.New(ctx, ask("count", ctrs[n%len(ctrs)]))
		if err != nil || m.StopReason != "end_turn" {
			l.fail("messages")
			continue
		}
		l.mu.Lock()
		l.messages++
		l.mu.Unlock()
	}
}

// waitFor polls cond until it holds, failing the test after hangTimeout.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(hangTimeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("no %s in %s", what, hangTimeout)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// checkUploads copies every upload into container ctr through the survivors in turn and
// compares the SHA-256 its bytes have there with the one they had when acknowledged.
func checkUploads(t *testing.T, c *cluster, survivors []*node, ctr string, uploads []ackedUpload) {
	t.Helper()
	for i, up := range uploads {
		nd := survivors[i%len(survivors)]
		if code := c.call(t, nd, "POST", "/v1/containers/"+ctr+"/files", map[string]string{"file_id": up.id, "path": "/workspace/up/" + up.id}, nil); code != 200 {
			t.Errorf("upload %s (through %s) into %s through %s: %d", up.id, up.node, ctr, nd.name, code)
		}
	}
	var out struct {
		Stdout string `json:"stdout"`
	}
	if code := c.call(t, survivors[0], "POST", "/v1/containers/"+ctr+"/exec", map[string]string{"command": "cd up && sha256sum *"}, &out); code != 200 {
		t.Fatalf("hash the uploads: %d", code)
	}
	sums := map[string]string{}
	for line := range strings.Lines(out.Stdout) {
		if sum, name, ok := strings.Cut(strings.TrimSpace(line), "  "); ok {
			sums[name] = sum
		}
	}
	for _, up := range uploads {
		if sums[up.id] != up.sum {
			t.Errorf("upload %s (through %s): SHA-256 %q in the container, %s when acknowledged", up.id, up.node, sums[up.id], up.sum)
		}
	}
}
