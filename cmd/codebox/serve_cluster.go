package main

import (
	"context"
	"fmt"
	"net"
	"os"
	"time"

	"github.com/spf13/pflag"

	"github.com/codebox-dev/codebox/cluster"
)

// clusterConfig is the cluster section of the server's configuration: it applies when
// the database is shared (PostgreSQL), and is ignored on a single machine.
type clusterConfig struct {
	NodeName          string
	AdvertiseURL      string
	HeartbeatInterval time.Duration
	NodeTimeout       time.Duration
}

func bindClusterFlags(fs *pflag.FlagSet, c *clusterConfig) {
	fs.StringVar(&c.NodeName, "node-name", "", "this node's name in a cluster, unique and stable across restarts: its containers are recorded under it (default: the host name)")
	fs.StringVar(&c.AdvertiseURL, "advertise-url", "", "the URL the other nodes of a cluster reach this node's API at (default: http:// and --listen, with the host name for an unspecified address)")
	fs.DurationVar(&c.HeartbeatInterval, "heartbeat-interval", cluster.DefaultHeartbeatInterval, "how often a cluster node reports itself alive with its load")
	fs.DurationVar(&c.NodeTimeout, "node-timeout", cluster.DefaultNodeTimeout, "how old a node's last heartbeat may be before the others treat it as dead (at least twice --heartbeat-interval)")
}

// clusterStore returns the database as the cluster's registry when it is one several
// nodes share, and false on a single machine.
func (a *app) clusterStore() (cluster.Store, bool) {
	s, ok := any(a.db).(cluster.Store)
	return s, ok && a.db != nil
}

// nodeName is what the sandbox records its containers under: this node's name in a
// cluster, "" on a single machine (so that a renamed host keeps its containers).
func (a *app) nodeName() (string, error) {
	if _, ok := a.clusterStore(); !ok {
		return "", nil
	}
	if a.cfg.NodeName != "" {
		return a.cfg.NodeName, nil
	}
	host, err := os.Hostname()
	if err != nil || host == "" {
		return "", fmt.Errorf("--node-name: the host has no name (%v); name the node", err)
	}
	return host, nil
}

// advertiseURL is --advertise-url, or http:// and --listen with the host name in place
// of an unspecified address.
func advertiseURL(c *clusterConfig, listen string) (string, error) {
	if c.AdvertiseURL != "" {
		return c.AdvertiseURL, nil
	}
	host, port, err := net.SplitHostPort(listen)
	if err != nil {
		return "", fmt.Errorf("--advertise-url: derive it from --listen %q: %w", listen, err)
	}
	if ip := net.ParseIP(host); host == "" || (ip != nil && ip.IsUnspecified()) {
		if host, err = os.Hostname(); err != nil {
			return "", fmt.Errorf("--advertise-url: %w", err)
		}
	}
	return "http://" + net.JoinHostPort(host, port), nil
}

// setupCluster registers this node in the shared database, heartbeats, and routes
// requests for other nodes' containers there. On a single machine it does nothing.
func setupCluster(ctx context.Context, a *app) error {
	store, ok := a.clusterStore()
	if !ok {
		return nil
	}
	name, err := a.nodeName()
	if err != nil {
		return err
	}
	url, err := advertiseURL(&a.cfg.clusterConfig, a.cfg.Listen)
	if err != nil {
		return err
	}
	var load cluster.Load = noContainers{}
	adopt := false
	if a.sandbox != nil {
		load, adopt = a.sandbox, a.sandbox.FetchesDisks()
	}
	c, err := cluster.New(cluster.Config{
		Node: name, URL: url, HeartbeatInterval: a.cfg.HeartbeatInterval, NodeTimeout: a.cfg.NodeTimeout,
		Adopt: adopt, MaxBodyBytes: a.api.MaxJSONBodyBytes, Logger: a.logger, Observer: a.metrics,
	}, store, a.db, load)
	if err != nil {
		return fmt.Errorf("--node-timeout: %w", err)
	}
	if err := c.Start(ctx); err != nil {
		return err
	}
	a.onClose(c.Close)
	a.api.Router = c
	a.logger.Info("cluster node registered", "node", name, "url", url, "adopts_stopped_containers", adopt)
	return nil
}

// noContainers is the load of a node without a sandbox: it takes no container.
type noContainers struct{}

func (noContainers) Load() (int, int) { return 0, 0 }
