package cluster_test

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"mime/multipart"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/anthropics/anthropic-sdk-go"
	"github.com/anthropics/anthropic-sdk-go/option"
	"github.com/anthropics/anthropic-sdk-go/packages/param"

	"github.com/codebox-dev/codebox/cluster"
	"github.com/codebox-dev/codebox/sandbox"
	"github.com/codebox-dev/codebox/sandbox/sandboxtest"
)

// catNotes is the model's script: read notes.txt, then answer.
const catNotes = `[{"content": [{"type": "tool_use", "name": "bash_code_execution", "input": {"command": "cat notes.txt"}}]},
	{"content": [{"type": "text", "text": "done"}]}]`

// TestForwarding: two nodes on one PostgreSQL. A new container goes to the least
// loaded node whichever node is asked; exec (plain and streamed), files and Messages
// requests (plain and streamed, through the official SDK) for it work through the other
// node; a request is forwarded at most once.
func TestForwarding(t *testing.T) {
	sh := newShared(t, catNotes)
	a := startNode(t, sh, "node-a", nodeOptions{})
	b := startNode(t, sh, "node-b", nodeOptions{idBase: sandbox.DefaultIDBase + 1<<28})

	// node-a runs one container, so node-b is the least loaded: a create sent to
	// node-a lands on node-b, and a second create through node-b stays there only if
	// node-b is still the least loaded (it is not: it is tied, and prefers itself).
	busy := sh.createOn(t, a)
	waitLoad(t, b, "node-a", 1)
	var created struct {
		ID string `json:"id"`
	}
	if err := json.Unmarshal(sh.mustCall(t, a, http.StatusOK, "POST", "/v1/containers", `{"name":"placed"}`), &created); err != nil {
		t.Fatal(err)
	}
	id := created.ID
	if host := sh.hostOf(t, id); host != "node-b" {
		t.Fatalf("container created through node-a lives on %s, want the least loaded node-b", host)
	}

	// exec through node-a reaches the container on node-b.
	if r := sh.exec(t, a, id, "echo kept > notes.txt && hostname && cat notes.txt"); r.ExitCode != 0 || !strings.HasSuffix(r.Stdout, "kept\n") {
		t.Fatalf("exec through node-a = %+v", r)
	}
	// node-a's own container is served by node-a through node-b too.
	if r := sh.exec(t, b, busy, "echo here"); r.Stdout != "here\n" {
		t.Fatalf("exec of node-a's container through node-b = %+v", r)
	}

	t.Run("files", func(t *testing.T) {
		// A multipart upload streams through node-a to the container on node-b.
		var buf strings.Builder
		mw := multipart.NewWriter(&buf)
		fw, _ := mw.CreateFormFile("file", "upload.txt")
		io.WriteString(fw, "uploaded through node-a\n")
		mw.WriteField("path", "upload.txt")
		mw.Close()
		sh.mustCall(t, a, http.StatusOK, "POST", "/v1/containers/"+id+"/files", buf.String(), "Content-Type", mw.FormDataContentType())
		if r := sh.exec(t, b, id, "cat upload.txt"); r.Stdout != "uploaded through node-a\n" {
			t.Errorf("uploaded file = %q", r.Stdout)
		}
		body := sh.mustCall(t, a, http.StatusOK, "GET", "/v1/containers/"+id+"/files/content?path=notes.txt", "")
		if string(body) != "kept\n" {
			t.Errorf("download through node-a = %q, want kept", body)
		}
		list := sh.mustCall(t, a, http.StatusOK, "GET", "/v1/containers/"+id+"/files", "")
		if !strings.Contains(string(list), "notes.txt") {
			t.Errorf("listing through node-a = %s, want notes.txt", list)
		}
	})

	t.Run("stream", func(t *testing.T) {
		// The command prints, then waits for a file the test creates only once the
		// first output came through node-a: without an immediate flush at every hop
		// it never would.
		gate := filepath.Join(b.env.Config.Dir, id, "mnt", "workspace", "go")
		cmd := `echo one; for i in $(seq 600); do [ -e go ] && break; sleep 0.1; done; echo two`
		b2, _ := json.Marshal(map[string]any{"command": cmd, "stream": true})
		req, _ := http.NewRequest("POST", a.url+"/v1/containers/"+id+"/exec", strings.NewReader(string(b2)))
		req.Header.Set("x-api-key", sh.key)
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/event-stream") {
			t.Fatalf("streamed exec = %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
		}
		sc := bufio.NewScanner(resp.Body)
		var seen []string
		for sc.Scan() {
			line := sc.Text()
			if !strings.HasPrefix(line, "data: ") {
				continue
			}
			seen = append(seen, line)
			if strings.Contains(line, `"text":"one\n"`) {
				if err := os.WriteFile(gate, nil, 0o644); err != nil {
					t.Fatal(err)
				}
			}
		}
		all := strings.Join(seen, "\n")
		if !strings.Contains(all, `"text":"two\n"`) || !strings.Contains(all, `"return_code":0`) {
			t.Fatalf("stream = %s", all)
		}
	})

	t.Run("messages", func(t *testing.T) {
		c := anthropic.NewClient(option.WithBaseURL(b.url), option.WithAPIKey(sh.key), option.WithMaxRetries(0))
		ctx := context.Background()
		params := anthropic.MessageNewParams{
			Model: "script/scripted", MaxTokens: 1024,
			Messages:  []anthropic.MessageParam{anthropic.NewUserMessage(anthropic.NewTextBlock("What do the notes say?"))},
			Tools:     []anthropic.ToolUnionParam{{OfCodeExecutionTool20250825: &anthropic.CodeExecutionTool20250825Param{}}},
			Container: anthropic.MessageCreateParamsContainerUnion{OfString: param.NewOpt(id)},
		}
		msg, err := c.Messages.New(ctx, params)
		if err != nil {
			t.Fatal(err)
		}
		if msg.Container.ID != id || !strings.Contains(string(msg.RawJSON()), `kept\n`) {
			t.Fatalf("message through node-b = %s", msg.RawJSON())
		}
		// {id, skills} names the container too, and a stream comes through whole.
		params.Container = anthropic.MessageCreateParamsContainerUnion{OfContainers: &anthropic.ContainerParams{ID: param.NewOpt(id)}}
		stream := c.Messages.NewStreaming(ctx, params)
		var acc anthropic.Message
		for stream.Next() {
			if err := acc.Accumulate(stream.Current()); err != nil {
				t.Fatal(err)
			}
		}
		if err := stream.Err(); err != nil {
			t.Fatal(err)
		}
		if acc.Container.ID != id || acc.StopReason != "end_turn" {
			t.Fatalf("streamed message through node-b: container %q stop %q", acc.Container.ID, acc.StopReason)
		}
		var out string
		for _, blk := range acc.Content {
			if blk.Type == "bash_code_execution_tool_result" {
				out = blk.AsBashCodeExecutionToolResult().Content.AsResponseBashCodeExecutionResultBlock().Stdout
			}
		}
		if out != "kept\n" {
			t.Errorf("streamed bash result = %q, want kept", out)
		}
	})

	t.Run("once", func(t *testing.T) {
		// A request that was already forwarded is served where it arrives: node-a does
		// not host the container, so it answers unreachable instead of forwarding again.
		status, _, body := sh.call(t, a, "POST", "/v1/containers/"+id+"/exec", strings.NewReader(`{"command":"true"}`), cluster.ForwardedBy, "node-x")
		typ, msg, code := errorEnvelope(t, body)
		if status != http.StatusServiceUnavailable || typ != "api_error" || code != "container_unavailable" || !strings.Contains(msg, "node-b") {
			t.Fatalf("forwarded request for another node's container = %d %s", status, body)
		}
	})

	if n := metricValue(t, a, "codebox_forwarded_requests_total", "kind", "placement", "code", "200"); n != 1 {
		t.Errorf("node-a forwarded placements = %v, want 1", n)
	}
	if n := metricValue(t, a, "codebox_forwarded_requests_total", "kind", "container", "code", "200"); n < 3 {
		t.Errorf("node-a forwarded container requests = %v, want at least 3", n)
	}
}

// waitLoad polls until n's view of node name reports running containers.
func waitLoad(t *testing.T, n *node, name string, running int) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for time.Now().Before(deadline) {
		for _, o := range n.cluster.Nodes() {
			if o.Name == name && o.Running >= running {
				return
			}
		}
		time.Sleep(heartbeat)
	}
	t.Fatalf("%s never saw %s run %d containers", n.name, name, running)
}

// TestDeadNode: a container whose node died answers 503 container_unavailable at
// once; a stopped one is adopted, with its files, by exactly one of two nodes asked
// for it at the same moment, and the other forwards to the winner.
func TestDeadNode(t *testing.T) {
	sh := newShared(t, catNotes)
	disks := sandboxtest.NewDisks(t)
	c := startNode(t, sh, "node-c", nodeOptions{disks: disks, idBase: sandbox.DefaultIDBase + 2<<28})
	a := startNode(t, sh, "node-a", nodeOptions{disks: disks})
	b := startNode(t, sh, "node-b", nodeOptions{disks: disks, idBase: sandbox.DefaultIDBase + 1<<28})

	running := sh.createOn(t, c)
	stopped := sh.createOn(t, c)
	sh.exec(t, c, stopped, "echo survived > notes.txt")
	sh.mustCall(t, c, http.StatusOK, "POST", "/v1/containers/"+stopped+"/stop", "")
	sandboxtest.WaitArchived(t, sh.containers, ws, stopped, 1)
	c.kill()
	waitDead(t, sh, "node-c")

	status, hdr, body := sh.call(t, a, "POST", "/v1/containers/"+running+"/exec", strings.NewReader(`{"command":"true"}`))
	typ, msg, code := errorEnvelope(t, body)
	if status != http.StatusServiceUnavailable || typ != "api_error" || code != "container_unavailable" ||
		!strings.Contains(msg, running) || !strings.Contains(msg, "node-c") || hdr.Get("retry-after") == "" {
		t.Fatalf("running container of a dead node = %d %s (retry-after %q)", status, body, hdr.Get("retry-after"))
	}

	var wg sync.WaitGroup
	results := make([]execResult, 2)
	for i, n := range []*node{a, b} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			b, _ := json.Marshal(map[string]string{"command": "cat notes.txt"})
			status, _, body := sh.call(t, n, "POST", "/v1/containers/"+stopped+"/exec", strings.NewReader(string(b)))
			if status != http.StatusOK {
				t.Errorf("exec through %s = %d %s", n.name, status, body)
				return
			}
			json.Unmarshal(body, &results[i])
		}()
	}
	wg.Wait()
	for i, r := range results {
		if r.Stdout != "survived\n" {
			t.Errorf("exec %d = %+v, want the file written on node-c", i, r)
		}
	}
	host := sh.hostOf(t, stopped)
	if host != "node-a" && host != "node-b" {
		t.Fatalf("stopped container now on %q, want node-a or node-b", host)
	}
	adopted := metricValue(t, a, "codebox_containers_adopted_total") + metricValue(t, b, "codebox_containers_adopted_total")
	if adopted != 1 || disks.Fetches.Load() != 1 {
		t.Errorf("adoptions = %v, disk fetches = %d; want exactly one of each", adopted, disks.Fetches.Load())
	}
}

// metricValue sums the samples of the metric name on n whose labels include the
// given name/value pairs.
func metricValue(t *testing.T, n *node, name string, labels ...string) float64 {
	t.Helper()
	families, err := n.metrics.Registry().Gather()
	if err != nil {
		t.Fatal(err)
	}
	var sum float64
	for _, f := range families {
		if f.GetName() != name {
			continue
		}
	next:
		for _, m := range f.GetMetric() {
			for i := 0; i+1 < len(labels); i += 2 {
				found := false
				for _, l := range m.GetLabel() {
					found = found || (l.GetName() == labels[i] && l.GetValue() == labels[i+1])
				}
				if !found {
					continue next
				}
			}
			sum += m.GetCounter().GetValue()
		}
	}
	return sum
}

// TestHungNode: a node that takes a forwarded request and then stops answering (and
// heartbeating) does not hold the client: the request is cut once the node is seen
// dead, and answers 503 container_unavailable.
func TestHungNode(t *testing.T) {
	sh := newShared(t, catNotes)
	a := startNode(t, sh, "node-a", nodeOptions{})
	// node-h accepts connections and never answers.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	accepted := make(chan net.Conn, 1)
	go func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			accepted <- conn
		}
	}()
	ctx := context.Background()
	h := cluster.Node{Name: "node-h", URL: "http://" + ln.Addr().String(), Capacity: 1, StartedAt: time.Now()}
	now := time.Now()
	id := "container_hungnode0000000001"
	if err := sh.containers.CreateContainer(ctx, &sandbox.Container{ID: id, Workspace: ws, Node: "node-h", Status: sandbox.StatusRunning,
		CreatedAt: now, LastActiveAt: now, IdleExpiresAt: now.Add(time.Hour), ExpiresAt: now.Add(24 * time.Hour)}); err != nil {
		t.Fatal(err)
	}
	stop := make(chan struct{})
	beating := make(chan struct{})
	go func() {
		defer close(beating)
		for {
			sh.db.Heartbeat(ctx, h)
			select {
			case <-stop:
				return
			case <-time.After(heartbeat):
			}
		}
	}()
	waitLoad(t, a, "node-h", 0)
	done := make(chan struct{})
	var (
		status int
		body   []byte
	)
	var callErr error
	go func() {
		defer close(done)
		req, _ := http.NewRequest("POST", a.url+"/v1/containers/"+id+"/exec", strings.NewReader(`{"command":"true"}`))
		req.Header.Set("x-api-key", sh.key)
		// Far longer than the node timeout: only a safety net.
		resp, err := (&http.Client{Timeout: 2 * time.Minute}).Do(req)
		if err != nil {
			callErr = err
			return
		}
		defer resp.Body.Close()
		status = resp.StatusCode
		body, callErr = io.ReadAll(resp.Body)
	}()
	conn := <-accepted // the request reached node-h, which says nothing
	defer conn.Close()
	close(stop)
	<-beating
	<-done
	if callErr != nil {
		t.Fatal(callErr)
	}
	typ, msg, code := errorEnvelope(t, body)
	if status != http.StatusServiceUnavailable || typ != "api_error" || code != "container_unavailable" || !strings.Contains(msg, "node-h") {
		t.Fatalf("request to a node that hung = %d %s", status, body)
	}
}

// TestUnreachableNode: a node that still heartbeats but cannot be connected to (it was
// killed a moment ago) makes a request for its container answer 503
// container_unavailable in the envelope, with this node's request-id; a create placed
// on it runs here instead.
func TestUnreachableNode(t *testing.T) {
	sh := newShared(t, catNotes)
	a := startNode(t, sh, "node-a", nodeOptions{})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	url := "http://" + ln.Addr().String()
	ln.Close() // nothing listens there now
	ctx := context.Background()
	now := time.Now()
	id := "container_unreachable000000001"
	if err := sh.containers.CreateContainer(ctx, &sandbox.Container{ID: id, Workspace: ws, Node: "node-x", Status: sandbox.StatusRunning,
		CreatedAt: now, LastActiveAt: now, IdleExpiresAt: now.Add(time.Hour), ExpiresAt: now.Add(24 * time.Hour)}); err != nil {
		t.Fatal(err)
	}
	// node-x is empty and a busy node-a prefers it for new containers.
	sh.createOn(t, a)
	if err := sh.db.Heartbeat(ctx, cluster.Node{Name: "node-x", URL: url, Capacity: 100, StartedAt: now}); err != nil {
		t.Fatal(err)
	}
	status, hdr, body := sh.call(t, a, "POST", "/v1/containers/"+id+"/exec", strings.NewReader(`{"command":"true"}`))
	typ, msg, code := errorEnvelope(t, body)
	if status != http.StatusServiceUnavailable || typ != "api_error" || code != "container_unavailable" || !strings.Contains(msg, "node-x") ||
		hdr.Get("request-id") == "" || hdr.Get("retry-after") == "" {
		t.Fatalf("request for the container of a node that cannot be reached = %d %v %s", status, hdr, body)
	}
	if err := sh.db.Heartbeat(ctx, cluster.Node{Name: "node-x", URL: url, Capacity: 100, StartedAt: now}); err != nil {
		t.Fatal(err)
	}
	waitLoad(t, a, "node-x", 0)
	var created struct {
		ID string `json:"id"`
	}
	if err := json.Unmarshal(sh.mustCall(t, a, http.StatusOK, "POST", "/v1/containers", `{}`), &created); err != nil {
		t.Fatal(err)
	}
	if host := sh.hostOf(t, created.ID); host != "node-a" {
		t.Errorf("create placed on an unreachable node ran on %s, want node-a", host)
	}
}
