package postgres_test

import (
	"context"
	"testing"
	"time"

	"github.com/codebox-dev/codebox/cluster"
)

// TestNodes: a heartbeat registers a node and refreshes it; the age comes from the
// database's clock; Leave makes the node look long dead at once.
func TestNodes(t *testing.T) {
	db := MustOpen(t)
	ctx := context.Background()
	started := time.Date(2026, 12, 7, 6, 0, 0, 0, time.UTC)
	a := cluster.Node{Name: "node-a", URL: "http://127.0.0.1:1", Capacity: 10, Running: 2, StartedAt: started}
	b := cluster.Node{Name: "node-b", URL: "http://127.0.0.1:2", Capacity: 20, Running: 0, StartedAt: started}
	for _, n := range []cluster.Node{a, b} {
		if err := db.Heartbeat(ctx, n); err != nil {
			t.Fatal(err)
		}
	}
	a.Running, a.URL = 3, "http://127.0.0.1:3"
	if err := db.Heartbeat(ctx, a); err != nil {
		t.Fatal(err)
	}
	nodes, err := db.Nodes(ctx)
	if err != nil || len(nodes) != 2 {
		t.Fatalf("Nodes = %+v, %v; want 2", nodes, err)
	}
	got := nodes[0]
	if got.Name != "node-a" || got.Running != 3 || got.Capacity != 10 || got.URL != a.URL || !got.StartedAt.Equal(started) {
		t.Errorf("node-a = %+v, want the last heartbeat's %+v", got, a)
	}
	if got.Since < 0 || got.Since > time.Minute {
		t.Errorf("node-a heartbeat age = %s, want just now", got.Since)
	}
	if err := db.Leave(ctx, "node-b"); err != nil {
		t.Fatal(err)
	}
	nodes, err = db.Nodes(ctx)
	if err != nil || len(nodes) != 2 || nodes[1].Since < 24*time.Hour {
		t.Fatalf("after Leave: %+v, %v; want node-b long dead", nodes, err)
	}
}
