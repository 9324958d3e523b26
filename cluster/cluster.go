package cluster

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httputil"
	"sync"
	"time"
)

// Defaults of Config.
const (
	DefaultHeartbeatInterval = 5 * time.Second
	DefaultNodeTimeout       = 20 * time.Second
)

// Config configures a node's membership in its cluster.
type Config struct {
	// Node is this node's name, unique in the cluster and stable across restarts: its
	// containers are recorded under it.
	Node string
	// URL is where the other nodes reach this node's API ("http://10.0.0.5:8080").
	URL string
	// HeartbeatInterval is how often the node reports itself; NodeTimeout how old a
	// node's last report may be before it is dead (at least twice the interval).
	HeartbeatInterval time.Duration
	NodeTimeout       time.Duration
	// Adopt lets this node take over the stopped containers of dead nodes: set it when
	// their disks are saved where every node can fetch them (sandbox.Config.Disks).
	Adopt bool
	// MaxBodyBytes caps what is read of a Messages request to find its container
	// (default 32 MiB, the Messages API's limit).
	MaxBodyBytes int64
	// Transport carries forwarded requests; nil is one with short dial timeouts.
	Transport http.RoundTripper
	Logger    *slog.Logger
	Observer  Observer
}

// Cluster is this node's view of the cluster: its registration and heartbeat, the
// live nodes, and the routing of requests between them.
type Cluster struct {
	cfg        Config
	store      Store
	containers Containers
	load       Load
	logger     *slog.Logger
	started    time.Time
	proxy      *httputil.ReverseProxy

	mu sync.Mutex
	// nodes is the registry as last read, by name; refreshed is when.
	nodes     map[string]seen
	refreshed time.Time

	cancel context.CancelFunc
	wg     sync.WaitGroup
}

// New returns this node's Cluster; Start registers it.
func New(cfg Config, store Store, containers Containers, load Load) (*Cluster, error) {
	if cfg.Node == "" || cfg.URL == "" {
		return nil, errors.New("cluster: a node needs a name and a URL")
	}
	if cfg.HeartbeatInterval <= 0 {
		cfg.HeartbeatInterval = DefaultHeartbeatInterval
	}
	if cfg.NodeTimeout <= 0 {
		cfg.NodeTimeout = DefaultNodeTimeout
	}
	if cfg.NodeTimeout < 2*cfg.HeartbeatInterval {
		return nil, fmt.Errorf("cluster: the node timeout (%s) must be at least twice the heartbeat interval (%s)", cfg.NodeTimeout, cfg.HeartbeatInterval)
	}
	if cfg.MaxBodyBytes <= 0 {
		cfg.MaxBodyBytes = 32 << 20
	}
	if cfg.Transport == nil {
		cfg.Transport = newTransport()
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	c := &Cluster{cfg: cfg, store: store, containers: containers, load: load,
		logger: cfg.Logger.With("component", "cluster"), started: time.Now(), nodes: map[string]seen{}}
	c.proxy = c.newProxy()
	return c, nil
}

// Start registers the node with a first heartbeat, then heartbeats until Close.
func (c *Cluster) Start(ctx context.Context) error {
	if err := c.heartbeat(ctx); err != nil {
		return fmt.Errorf("cluster: register node %s: %w", c.cfg.Node, err)
	}
	lctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	c.cancel = cancel
	c.wg.Add(1)
	go func() {
		defer c.wg.Done()
		t := time.NewTicker(c.cfg.HeartbeatInterval)
		defer t.Stop()
		for {
			select {
			case <-lctx.Done():
				return
			case <-t.C:
			}
			if err := c.heartbeat(lctx); err != nil && lctx.Err() == nil {
				c.logger.Warn("heartbeat", "err", err)
			}
		}
	}()
	return nil
}

// Close stops the heartbeat and tells the other nodes this one is gone, so that they
// stop forwarding to it now rather than after NodeTimeout.
func (c *Cluster) Close(ctx context.Context) error {
	if c.cancel == nil {
		return nil
	}
	c.cancel()
	c.wg.Wait()
	return c.store.Leave(ctx, c.cfg.Node)
}

// heartbeat reports this node and reads the registry back.
func (c *Cluster) heartbeat(ctx context.Context) error {
	if err := c.store.Heartbeat(ctx, c.self()); err != nil {
		return err
	}
	return c.refresh(ctx)
}

// self is this node as it reports itself now.
func (c *Cluster) self() Node {
	running, capacity := c.load.Load()
	return Node{Name: c.cfg.Node, URL: c.cfg.URL, Capacity: capacity, Running: running, StartedAt: c.started}
}

// refresh reads the registry.
func (c *Cluster) refresh(ctx context.Context) error {
	list, err := c.store.Nodes(ctx)
	if err != nil {
		return err
	}
	now := time.Now()
	nodes := make(map[string]seen, len(list))
	for _, n := range list {
		nodes[n.Name] = seen{Node: n, at: now.Add(-n.Since)}
	}
	c.mu.Lock()
	c.nodes, c.refreshed = nodes, now
	c.mu.Unlock()
	return nil
}

// liveNode returns the node named name if it is alive, reading the registry again
// when the last reading says otherwise (a node that has just started).
func (c *Cluster) liveNode(ctx context.Context, name string) (Node, bool, error) {
	if n, ok := c.cachedLive(name); ok {
		return n, true, nil
	}
	if err := c.refresh(ctx); err != nil {
		return Node{}, false, err
	}
	n, ok := c.cachedLive(name)
	return n, ok, nil
}

func (c *Cluster) cachedLive(name string) (Node, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	s, ok := c.nodes[name]
	return s.Node, ok && c.aliveLocked(s)
}

// aliveLocked reports whether s heartbeated within NodeTimeout. The caller holds mu.
func (c *Cluster) aliveLocked(s seen) bool {
	return time.Since(s.at) < c.cfg.NodeTimeout
}

// Nodes returns the registry as this node last read it, each node's Since brought up
// to now: what placement and forwarding decide on.
func (c *Cluster) Nodes() []Node {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make([]Node, 0, len(c.nodes))
	for _, s := range c.nodes {
		n := s.Node
		n.Since = time.Since(s.at)
		out = append(out, n)
	}
	return out
}

// others returns the live nodes other than this one.
func (c *Cluster) others() []Node {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []Node
	for _, s := range c.nodes {
		if s.Name != c.cfg.Node && c.aliveLocked(s) {
			out = append(out, s.Node)
		}
	}
	return out
}

// placed counts a container sent to node name until the next heartbeat reports it,
// so that a burst of creates spreads instead of all going to the node that looked
// least loaded.
func (c *Cluster) placed(name string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if s, ok := c.nodes[name]; ok {
		s.Running++
		c.nodes[name] = s
	}
}

// suspect marks node name dead until its next heartbeat is read: it could not be
// reached.
func (c *Cluster) suspect(name string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if s, ok := c.nodes[name]; ok {
		s.at = time.Time{}
		c.nodes[name] = s
	}
}
