// Package apikeytest is the conformance suite of apikey.Store: every driver runs it in
// its tests, so that a new one (PostgreSQL) is held to what the SQLite driver does.
package apikeytest

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/codebox-dev/codebox"
	"github.com/codebox-dev/codebox/apikey"
	"github.com/codebox-dev/codebox/errdefs"
)

// RunStore runs the suite against stores made by newStore, one fresh, empty store per
// subtest. Times go in with microsecond precision, the finest every driver keeps.
func RunStore(t *testing.T, newStore func(t *testing.T) apikey.Store) {
	ctx := context.Background()
	base := time.Date(2026, 11, 20, 12, 0, 0, 123456000, time.UTC)

	t.Run("EnsureWorkspace", func(t *testing.T) {
		s := newStore(t)
		for i, want := range []bool{true, false} {
			if created, err := s.EnsureWorkspace(ctx, "ws1"); err != nil || created != want {
				t.Fatalf("EnsureWorkspace #%d = %v, %v; want %v", i+1, created, err, want)
			}
		}
		if created, err := s.EnsureWorkspace(ctx, "ws2"); err != nil || !created {
			t.Fatalf("EnsureWorkspace of another = %v, %v; want true", created, err)
		}
	})

	t.Run("Keys", func(t *testing.T) {
		s := newStore(t)
		for _, ws := range []string{"ws1", "ws2"} {
			if _, err := s.EnsureWorkspace(ctx, codebox.WorkspaceID(ws)); err != nil {
				t.Fatal(err)
			}
		}
		keys := []*apikey.Key{
			{ID: "key_b", Workspace: "ws1", Hint: "sk-cbx-b", CreatedAt: base.Add(time.Second)},
			{ID: "key_a", Workspace: "ws1", Hint: "sk-cbx-a", CreatedAt: base},
			{ID: "key_c", Workspace: "ws2", Hint: "sk-cbx-c", CreatedAt: base.Add(time.Second)},
		}
		for _, k := range keys {
			if err := s.InsertKey(ctx, k, "hash-"+k.ID); err != nil {
				t.Fatalf("InsertKey(%s): %v", k.ID, err)
			}
		}
		dup := *keys[0]
		dup.ID = "key_d"
		if err := s.InsertKey(ctx, &dup, "hash-key_b"); !errors.Is(err, errdefs.ErrConflict) {
			t.Fatalf("InsertKey with a hash that exists = %v, want ErrConflict", err)
		}
		got, err := s.KeyByHash(ctx, "hash-key_b")
		if err != nil || *got != *keys[0] {
			t.Fatalf("KeyByHash = %+v, %v; want %+v", got, err, keys[0])
		}
		if _, err := s.KeyByHash(ctx, "hash-none"); !errors.Is(err, errdefs.ErrNotFound) {
			t.Fatalf("KeyByHash of an unknown hash = %v, want ErrNotFound", err)
		}
		// Oldest first, ties by id.
		list, err := s.ListKeys(ctx)
		if err != nil {
			t.Fatal(err)
		}
		var ids []string
		for _, k := range list {
			ids = append(ids, k.ID)
		}
		if len(ids) != 3 || ids[0] != "key_a" || ids[1] != "key_b" || ids[2] != "key_c" {
			t.Fatalf("ListKeys = %v, want [key_a key_b key_c]", ids)
		}
		if n, err := s.CountKeys(ctx, "ws1"); err != nil || n != 2 {
			t.Fatalf("CountKeys(ws1) = %d, %v; want 2", n, err)
		}
		if n, err := s.CountKeys(ctx, "ws3"); err != nil || n != 0 {
			t.Fatalf("CountKeys(ws3) = %d, %v; want 0", n, err)
		}

		revoked := base.Add(time.Hour)
		if err := s.SetKeyRevoked(ctx, "key_a", revoked); err != nil {
			t.Fatal(err)
		}
		if got, err := s.KeyByHash(ctx, "hash-key_a"); err != nil || !got.RevokedAt.Equal(revoked) {
			t.Fatalf("revoked key = %+v, %v; want RevokedAt %v", got, err, revoked)
		}
		if n, _ := s.CountKeys(ctx, "ws1"); n != 2 {
			t.Fatalf("CountKeys after a revocation = %d, want 2 (revoked keys count)", n)
		}
		if err := s.SetKeyRevoked(ctx, "key_a", time.Time{}); err != nil {
			t.Fatal(err)
		}
		if got, err := s.KeyByHash(ctx, "hash-key_a"); err != nil || !got.RevokedAt.IsZero() {
			t.Fatalf("restored key = %+v, %v; want no RevokedAt", got, err)
		}
		if err := s.SetKeyRevoked(ctx, "key_none", revoked); !errors.Is(err, errdefs.ErrNotFound) {
			t.Fatalf("SetKeyRevoked of an unknown key = %v, want ErrNotFound", err)
		}
	})
}
