package cluster

import (
	"context"
	"time"

	"github.com/codebox-dev/codebox"
	"github.com/codebox-dev/codebox/sandbox"
)

// Node is one codebox server of a cluster, as it last reported itself.
type Node struct {
	// Name is the node's unique name (Config.Node).
	Name string
	// URL is where the other nodes reach its API (Config.URL).
	URL string
	// Capacity is how many containers it may run at once; Running how many it ran at
	// its last heartbeat.
	Capacity int
	Running  int
	// StartedAt is when the node's current process started.
	StartedAt time.Time
	// Since is how long before the Store answered the node last heartbeated, by the
	// database's clock, so that the nodes' clocks need not agree.
	Since time.Duration
}

// Store keeps the node registry and moves containers between nodes; the PostgreSQL
// store implements it.
type Store interface {
	// Heartbeat records n (all but Since) as alive now, registering it the first time.
	Heartbeat(ctx context.Context, n Node) error
	// Nodes returns every registered node with the age of its last heartbeat.
	Nodes(ctx context.Context) ([]Node, error)
	// Leave marks the node named name as gone now, as a clean shutdown does, so that
	// no request is sent to it until it heartbeats again.
	Leave(ctx context.Context, name string) error
	// MoveContainer gives container id, stopped on node from, to node to, in one
	// compare-and-set: a container no longer on from, or not stopped, is
	// errdefs.ErrConflict; an unknown one errdefs.ErrNotFound.
	MoveContainer(ctx context.Context, id, from, to string) error
}

// Containers finds containers in the shared store; sandbox.Store satisfies it.
type Containers interface {
	// GetContainer returns container id of ws, or errdefs.ErrNotFound.
	GetContainer(ctx context.Context, ws codebox.WorkspaceID, id string) (*sandbox.Container, error)
}

// Load reports this node's load; *sandbox.Manager satisfies it.
type Load interface {
	// Load returns how many containers run here and how many may.
	Load() (running, capacity int)
}

// Observer is told about forwarded requests and adoptions (metrics). kind is
// "container" (to the node hosting it) or "placement" (a new container); code is the
// status the other node answered, or "error" when it could not be reached.
type Observer interface {
	ObserveForward(kind, code string, d time.Duration)
	ObserveAdopt()
}

// seen is a node with the local time of its last heartbeat.
type seen struct {
	Node
	at time.Time // time.Now() - Since when the Store answered
}
