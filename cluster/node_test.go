package cluster_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/codebox-dev/codebox"
	"github.com/codebox-dev/codebox/agentloop"
	"github.com/codebox-dev/codebox/api"
	"github.com/codebox-dev/codebox/apikey"
	"github.com/codebox-dev/codebox/cluster"
	"github.com/codebox-dev/codebox/internal/testenv"
	"github.com/codebox-dev/codebox/metrics"
	"github.com/codebox-dev/codebox/provider"
	"github.com/codebox-dev/codebox/provider/script"
	"github.com/codebox-dev/codebox/sandbox"
	"github.com/codebox-dev/codebox/sandbox/sandboxtest"
	"github.com/codebox-dev/codebox/store/postgres"
	"github.com/codebox-dev/codebox/tools"
)

func TestMain(m *testing.M) {
	sandboxtest.AgentMain()
	testenv.Main(m)
}

// Timing of the test clusters: heartbeats often, so that a node is found dead soon.
const (
	heartbeat   = 100 * time.Millisecond
	nodeTimeout = time.Second
)

// shared is what the nodes of a test cluster share: one PostgreSQL database for
// keys, nodes and containers.
type shared struct {
	db         *postgres.DB
	containers sandbox.Store
	keys       *apikey.Service
	key        string // an API key of workspace ws
	// model is the script every node's Messages loop runs.
	model provider.Model
}

const ws codebox.WorkspaceID = "ws_cluster"

// containerStore is where the nodes' containers are recorded: the PostgreSQL database.
type containerStore interface {
	sandbox.Store
	MoveContainer(ctx context.Context, id, from, to string) error
}

func newShared(t testing.TB, turns string) *shared {
	t.Helper()
	db, err := postgres.Open(context.Background(), testenv.Postgres(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	containers, ok := any(db).(containerStore)
	if !ok {
		t.Fatal("store/postgres does not record containers")
	}
	s, err := script.Parse([]byte(turns))
	if err != nil {
		t.Fatal(err)
	}
	sh := &shared{db: db, containers: containers, keys: apikey.New(db), model: script.NewModel(s)}
	if sh.key, _, err = sh.keys.Create(context.Background(), ws); err != nil {
		t.Fatal(err)
	}
	return sh
}

// registry is the nodes' cluster.Store over the shared database; stop makes it stop
// reporting the node alive, as a node that was killed does.
type registry struct {
	cluster.Store
	dead atomic.Bool
}

func (r *registry) Heartbeat(ctx context.Context, n cluster.Node) error {
	if r.dead.Load() {
		return errors.New("node killed")
	}
	return r.Store.Heartbeat(ctx, n)
}

func (r *registry) Leave(ctx context.Context, name string) error {
	if r.dead.Load() {
		return nil
	}
	return r.Store.Leave(ctx, name)
}

// node is one codebox node of a test cluster: a sandbox on the real runtime, its
// cluster membership and the API on loopback.
type node struct {
	name    string
	url     string
	env     *sandboxtest.Env
	manager *sandbox.Manager
	cluster *cluster.Cluster
	reg     *registry
	metrics *metrics.Metrics
	server  *http.Server
}

// nodeOptions vary a node.
type nodeOptions struct {
	disks  sandbox.DiskArchive // where stopped containers' disks are archived, for adoption
	idBase uint32
}

func startNode(t testing.TB, sh *shared, name string, o nodeOptions) *node {
	t.Helper()
	env := sandboxtest.New(t, func(c *sandbox.Config) {
		c.Node, c.Disks = name, o.disks
		if o.idBase != 0 {
			c.IDBase = o.idBase
		}
	})
	// A second Manager on the env's runtime and directories, recording its containers
	// in the shared store.
	m, err := sandbox.New(env.Config, env.Runtime, sh.containers, env.Files)
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		all, _ := sh.containers.AllContainers(ctx)
		for _, c := range all {
			if c.Node == name {
				m.Delete(ctx, c.Workspace, c.ID)
			}
		}
		if err := m.Close(ctx); err != nil {
			t.Errorf("Close %s: %v", name, err)
		}
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	n := &node{name: name, url: "http://" + ln.Addr().String(), env: env, manager: m, metrics: metrics.New(nil)}
	n.reg = &registry{Store: sh.db}
	logger := slog.New(slog.DiscardHandler)
	if testing.Verbose() {
		logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug})).With("node", name)
	}
	n.cluster, err = cluster.New(cluster.Config{Node: name, URL: n.url, HeartbeatInterval: heartbeat, NodeTimeout: nodeTimeout,
		Adopt: o.disks != nil, Logger: logger, Observer: n.metrics}, n.reg, sh.containers, m)
	if err != nil {
		t.Fatal(err)
	}
	if err := n.cluster.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	runner := tools.NewRunner(m)
	loop := agentloop.New(agentloop.Config{Models: &provider.Router{Scripts: map[string]provider.Model{"scripted": sh.model}},
		Sandbox: m, Runner: runner, Logger: logger, PingInterval: 200 * time.Millisecond})
	srv := api.New(api.Config{Logger: logger, Auth: sh.keys, Router: n.cluster,
		ContainersConfig: api.ContainersConfig{Containers: m, Runner: runner},
		MessagesConfig:   api.MessagesConfig{Loop: loop}})
	n.server = &http.Server{Handler: srv}
	go n.server.Serve(ln)
	t.Cleanup(func() {
		n.server.Close()
		n.cluster.Close(context.Background())
	})
	return n
}

// kill makes n look like a node that died: it stops answering and heartbeating.
func (n *node) kill() {
	n.reg.dead.Store(true)
	n.server.Close()
}

// waitDead polls until every other node sees n as dead: its last heartbeat is older
// than the node timeout.
func waitDead(t testing.TB, sh *shared, name string) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for time.Now().Before(deadline) {
		nodes, err := sh.db.Nodes(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		for _, n := range nodes {
			if n.Name == name && n.Since > nodeTimeout+2*heartbeat {
				return
			}
		}
		time.Sleep(heartbeat)
	}
	t.Fatalf("node %s still heartbeats", name)
}

// call is one HTTP request to a node with the shared key.
func (sh *shared) call(t testing.TB, n *node, method, path string, body io.Reader, header ...string) (int, http.Header, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, n.url+path, body)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("x-api-key", sh.key)
	req.Header.Set("Content-Type", "application/json")
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	c := &http.Client{Timeout: 2 * time.Minute}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("%s %s on %s: %v", method, path, n.name, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, resp.Header, b
}

// mustCall is call that wants status want.
func (sh *shared) mustCall(t testing.TB, n *node, want int, method, path, body string, header ...string) []byte {
	t.Helper()
	status, _, b := sh.call(t, n, method, path, strings.NewReader(body), header...)
	if status != want {
		t.Fatalf("%s %s on %s = %d, want %d: %s", method, path, n.name, status, want, b)
	}
	return b
}

// createOn creates a container on n directly (its placement is n's own).
func (sh *shared) createOn(t testing.TB, n *node) string {
	t.Helper()
	c, err := n.manager.Create(context.Background(), ws, sandbox.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return c.ID
}

// hostOf is the node the shared store records container id on.
func (sh *shared) hostOf(t testing.TB, id string) string {
	t.Helper()
	c, err := sh.containers.GetContainer(context.Background(), ws, id)
	if err != nil {
		t.Fatal(err)
	}
	return c.Node
}

// execResult is the containers API's exec answer.
type execResult struct {
	Stdout   string `json:"stdout"`
	ExitCode int    `json:"return_code"`
}

func (sh *shared) exec(t testing.TB, n *node, id, command string) execResult {
	t.Helper()
	b, _ := json.Marshal(map[string]string{"command": command})
	var r execResult
	if err := json.Unmarshal(sh.mustCall(t, n, http.StatusOK, "POST", "/v1/containers/"+id+"/exec", string(b)), &r); err != nil {
		t.Fatal(err)
	}
	return r
}

// errorEnvelope decodes an error answer.
func errorEnvelope(t testing.TB, b []byte) (typ, message, code string) {
	t.Helper()
	var env struct {
		Type  string `json:"type"`
		Error struct {
			Type    string `json:"type"`
			Message string `json:"message"`
			Details struct {
				ErrorCode string `json:"error_code"`
			} `json:"details"`
		} `json:"error"`
	}
	if err := json.Unmarshal(b, &env); err != nil || env.Type != "error" {
		t.Fatalf("not an error envelope: %s", b)
	}
	return env.Error.Type, env.Error.Message, env.Error.Details.ErrorCode
}
