package multinode

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/anthropics/anthropic-sdk-go"
	"github.com/anthropics/anthropic-sdk-go/option"
	"github.com/jackc/pgx/v5"

	"github.com/codebox-dev/codebox/ids"
	"github.com/codebox-dev/codebox/internal/testenv"
	"github.com/codebox-dev/codebox/sandbox/sandboxtest"
)

func TestMain(m *testing.M) { testenv.Main(m) }

// apiKey is registered for workspace default by every node (--api-key).
const apiKey = "sk-cbx-cluster-test-key-0123456789abcdef"

// Timings of the nodes' registry, short so that a dead node is noticed within the test.
const (
	heartbeat   = "500ms"
	nodeTimeout = "3s"
)

// A client that waits longer than this for an answer counts the server as hung: far
// above any answer's time, it only tells an answer from none.
const hangTimeout = 5 * time.Minute

var build struct {
	once sync.Once
	path string
	err  error
}

// codeboxBinary builds cmd/codebox once per test binary.
func codeboxBinary(tb testing.TB) string {
	tb.Helper()
	build.once.Do(func() {
		dir, err := os.MkdirTemp("", "codebox-cluster-bin-")
		if err != nil {
			build.err = err
			return
		}
		build.path = filepath.Join(dir, "codebox")
		out, err := exec.Command("go", "build", "-o", build.path, "../../cmd/codebox").CombinedOutput()
		if err != nil {
			build.err = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if build.err != nil {
		tb.Fatal(build.err)
	}
	return build.path
}

// cluster is a set of codebox nodes sharing one PostgreSQL database and one bucket.
type cluster struct {
	tb       testing.TB
	database string   // postgres:// URL
	blobs    string   // s3:// URL
	env      []string // the bucket's credentials
	scripts  string   // directory of the scripted models
	id       string   // names the nodes' cgroup parents, unique per cluster
	nodes    []*node
}

// node is one `codebox serve` process.
type node struct {
	name string
	url  string
	dir  string
	args []string
	cmd  *exec.Cmd
	done chan error
}

// newCluster starts n nodes on a fresh database and bucket and waits for each to be
// ready.
func newCluster(tb testing.TB, n int) *cluster {
	tb.Helper()
	if testing.Short() {
		tb.Skip("builds codebox and runs PostgreSQL, SeaweedFS and three servers")
	}
	sandboxtest.Require(tb, "runc")
	sandboxtest.RootFS(tb)
	s3 := testenv.S3(tb)
	c := &cluster{
		tb:       tb,
		database: testenv.Postgres(tb),
		blobs:    s3.URL("codebox"),
		env:      s3.Env(),
		scripts:  writeScripts(tb),
		id:       strings.ToLower(ids.New("")[:10]),
	}
	for i := range n {
		c.start(tb, i)
	}
	for _, nd := range c.nodes {
		c.waitReady(tb, nd)
	}
	return c
}

// start starts node i, on a port of its own that it also advertises.
func (c *cluster) start(tb testing.TB, i int) *node {
	tb.Helper()
	port := freePort(tb)
	nd := &node{name: fmt.Sprintf("node%d", i), url: fmt.Sprintf("http://127.0.0.1:%d", port), dir: tb.TempDir()}
	nd.args = []string{"serve", "--listen", fmt.Sprintf("127.0.0.1:%d", port), "--data-dir", nd.dir,
		"--database", c.database, "--blobs", c.blobs,
		"--node-name", nd.name, "--advertise-url", nd.url,
		"--heartbeat-interval", heartbeat, "--node-timeout", nodeTimeout,
		"--api-key", apiKey, "--log-level", "warn", "--script", c.scripts,
		"--sandbox-runtime", "runc", "--image-dir", testenv.ImageDir(),
		"--sandbox-memory", "256MiB", "--sandbox-disk", "256MiB", "--pool-size", "0", "--disk-archive", "on",
		// Nodes sharing a host need their own cgroup parent and uid range.
		"--sandbox-cgroup-parent", fmt.Sprintf("/codebox-test-%s-%d", c.id, i),
		"--sandbox-uid-base", fmt.Sprint(1<<30 + i<<27),
	}
	if i < len(c.nodes) {
		c.nodes[i] = nd
	} else {
		c.nodes = append(c.nodes, nd)
	}
	c.run(tb, nd)
	return nd
}

// run starts nd's process and waits for its listening line.
func (c *cluster) run(tb testing.TB, nd *node) {
	tb.Helper()
	cmd := exec.Command(codeboxBinary(tb), nd.args...)
	cmd.Env = append(os.Environ(), c.env...)
	stderr := &prefixWriter{prefix: nd.name + ": ", w: os.Stderr}
	cmd.Stderr = stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		tb.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		tb.Fatal(err)
	}
	nd.cmd, nd.done = cmd, make(chan error, 1)
	listening := make(chan struct{})
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if strings.HasPrefix(sc.Text(), "codebox: listening on ") {
				close(listening)
			}
		}
		io.Copy(io.Discard, stdout)
	}()
	go func() { nd.done <- cmd.Wait() }()
	select {
	case <-listening:
	case err := <-nd.done:
		nd.done <- err
		tb.Fatalf("%s exited before listening: %v", nd.name, err)
	case <-time.After(hangTimeout):
		cmd.Process.Kill()
		tb.Fatalf("%s did not start listening", nd.name)
	}
	tb.Cleanup(func() { c.stop(tb, nd) })
}

// stop ends nd with SIGTERM, as Kubernetes does, after deleting the containers it
// hosts so that none outlives the test; a node already killed is left as it is.
func (c *cluster) stop(tb testing.TB, nd *node) {
	select {
	case err := <-nd.done:
		nd.done <- err
		return
	default:
	}
	for _, id := range c.containersOn(tb, nd.name) {
		c.call(tb, nd, "DELETE", "/v1/containers/"+id, nil, nil)
	}
	nd.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-nd.done:
		nd.done <- err
		if err != nil {
			tb.Errorf("%s: exit after SIGTERM: %v", nd.name, err)
		}
	case <-time.After(hangTimeout):
		nd.cmd.Process.Kill()
		tb.Errorf("%s did not exit after SIGTERM", nd.name)
	}
}

// kill ends nd with SIGKILL: a node that dies without a word.
func (c *cluster) kill(nd *node) {
	nd.cmd.Process.Signal(syscall.SIGKILL)
	err := <-nd.done
	nd.done <- err
}

// waitReady waits for nd's /readyz to answer 200.
func (c *cluster) waitReady(tb testing.TB, nd *node) {
	tb.Helper()
	deadline := time.Now().Add(hangTimeout)
	for {
		resp, err := http.Get(nd.url + "/readyz")
		if err == nil {
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
			if time.Now().After(deadline) {
				tb.Fatalf("%s never ready: %d %s", nd.name, resp.StatusCode, body)
			}
		} else if time.Now().After(deadline) {
			tb.Fatalf("%s never ready: %v", nd.name, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// client is an SDK client of nd. It does not retry, so that every answer is seen.
func (nd *node) client() *anthropic.Client {
	c := anthropic.NewClient(option.WithBaseURL(nd.url), option.WithAPIKey(apiKey), option.WithMaxRetries(0),
		option.WithRequestTimeout(hangTimeout))
	return &c
}

// call makes one request to nd with the API key, encodes in as JSON, decodes a JSON
// answer into out, and returns the status.
func (c *cluster) call(tb testing.TB, nd *node, method, path string, in, out any) int {
	tb.Helper()
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			tb.Fatal(err)
		}
		body = strings.NewReader(string(b))
	}
	ctx, cancel := context.WithTimeout(context.Background(), hangTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, nd.url+path, body)
	if err != nil {
		tb.Fatal(err)
	}
	req.Header.Set("x-api-key", apiKey)
	req.Header.Set("anthropic-version", "2023-06-01")
	req.Header.Set("content-type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		if errors.Is(err, context.DeadlineExceeded) {
			tb.Errorf("%s %s on %s: no answer in %s", method, path, nd.name, hangTimeout)
		}
		return 0
	}
	defer resp.Body.Close()
	if out != nil {
		json.NewDecoder(resp.Body).Decode(out)
	}
	return resp.StatusCode
}

// db connects to the cluster's database, to see what the nodes recorded.
func (c *cluster) db(tb testing.TB) *pgx.Conn {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	conn, err := pgx.Connect(ctx, c.database)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { conn.Close(context.Background()) })
	return conn
}

// hostOf is the name of the node that hosts container id, as the database says.
func (c *cluster) hostOf(tb testing.TB, id string) string {
	tb.Helper()
	var name string
	if err := c.db(tb).QueryRow(context.Background(), `SELECT node FROM containers WHERE id = $1`, id).Scan(&name); err != nil {
		tb.Fatalf("host of %s: %v", id, err)
	}
	return name
}

// containersOn lists the containers the database places on node name.
func (c *cluster) containersOn(tb testing.TB, name string) []string {
	tb.Helper()
	rows, err := c.db(tb).Query(context.Background(), `SELECT id FROM containers WHERE node = $1`, name)
	if err != nil {
		tb.Logf("containers on %s: %v", name, err)
		return nil
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		tb.Logf("containers on %s: %v", name, err)
	}
	return ids
}

// node returns the node called name.
func (c *cluster) node(tb testing.TB, name string) *node {
	tb.Helper()
	for _, nd := range c.nodes {
		if nd.name == name {
			return nd
		}
	}
	tb.Fatalf("no node %q", name)
	return nil
}

// other returns a node other than those named.
func (c *cluster) other(tb testing.TB, not ...string) *node {
	tb.Helper()
	for _, nd := range c.nodes {
		if !contains(not, nd.name) {
			return nd
		}
	}
	tb.Fatalf("no node other than %v", not)
	return nil
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func freePort(tb testing.TB) int {
	tb.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// prefixWriter prefixes each write (a log line of a node) with the node's name.
type prefixWriter struct {
	mu     sync.Mutex
	prefix string
	w      io.Writer
}

func (p *prefixWriter) Write(b []byte) (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if _, err := io.WriteString(p.w, p.prefix+string(b)); err != nil {
		return 0, err
	}
	return len(b), nil
}
