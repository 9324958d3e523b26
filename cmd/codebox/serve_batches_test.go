package main

import (
	"path/filepath"
	"testing"
)

// TestBatchOwner: servers sharing one database, several on one host, name their batch
// claims apart (at its start a server releases its own previous claims, never another
// running server's), and a restarted server keeps its name.
func TestBatchOwner(t *testing.T) {
	dir := t.TempDir()
	a, b := filepath.Join(dir, "node-a"), filepath.Join(dir, "node-b")
	if batchOwner(a) == batchOwner(b) {
		t.Errorf("two servers on one host share the batch owner %q", batchOwner(a))
	}
	first, restarted := batchOwner(a), batchOwner(a)
	if first != restarted {
		t.Errorf("the batch owner changes across restarts: %q, %q", first, restarted)
	}
}
