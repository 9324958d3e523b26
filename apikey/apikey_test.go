package apikey_test

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"github.com/codebox-dev/codebox"
	"github.com/codebox-dev/codebox/apikey"
	"github.com/codebox-dev/codebox/errdefs"
	"github.com/codebox-dev/codebox/store/sqlite"
)

func open(t *testing.T) (*apikey.Service, *sqlite.DB, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "codebox.db")
	db, err := sqlite.Open(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return apikey.New(db), db, path
}

func TestCreateAuthenticateRevoke(t *testing.T) {
	svc, db, _ := open(t)
	ctx := context.Background()
	secret, k, err := svc.Create(ctx, "analytics")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(secret, apikey.Prefix) || len(secret) != len(apikey.Prefix)+48 || !strings.HasPrefix(k.ID, apikey.IDPrefix) {
		t.Fatalf("Create = %q, %+v", secret, k)
	}
	ws, err := svc.Authenticate(ctx, secret)
	if err != nil || ws != "analytics" {
		t.Fatalf("Authenticate = %q, %v", ws, err)
	}
	// Only the hash is stored.
	var n int
	db.SQL().QueryRow(`SELECT COUNT(*) FROM api_keys WHERE hash = ? OR prefix = ?`, secret, secret).Scan(&n)
	if n != 0 {
		t.Fatal("the secret is stored in plain text")
	}
	if _, err := svc.Authenticate(ctx, secret+"x"); !errors.Is(err, errdefs.ErrUnauthenticated) {
		t.Fatalf("wrong key: %v", err)
	}
	if err := svc.Revoke(ctx, k.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.Authenticate(ctx, secret); !errors.Is(err, errdefs.ErrUnauthenticated) {
		t.Fatalf("revoked key: %v", err)
	}
	if err := svc.Revoke(ctx, "key_nope"); !errors.Is(err, errdefs.ErrNotFound) {
		t.Fatalf("Revoke unknown = %v", err)
	}
	keys, err := svc.List(ctx)
	if err != nil || len(keys) != 1 || keys[0].RevokedAt.IsZero() || strings.Contains(keys[0].Hint, secret[len(apikey.Prefix)+4:]) {
		t.Fatalf("List = %+v, %v", keys, err)
	}
	for _, bad := range []codebox.WorkspaceID{"", "Upper", "-x", "a b", codebox.WorkspaceID(strings.Repeat("a", 65))} {
		if _, _, err := svc.Create(ctx, bad); !errors.Is(err, errdefs.ErrInvalid) {
			t.Errorf("Create(%q) = %v", bad, err)
		}
	}
}

func TestBootstrap(t *testing.T) {
	svc, _, path := open(t)
	ctx := context.Background()
	first, err := svc.Bootstrap(ctx, "")
	if err != nil || first == "" {
		t.Fatalf("first start = %q, %v", first, err)
	}
	again, err := svc.Bootstrap(ctx, "")
	if err != nil || again != "" {
		t.Fatalf("second start = %q, %v, want no new key", again, err)
	}
	if ws, err := svc.Authenticate(ctx, first); err != nil || ws != codebox.DefaultWorkspace {
		t.Fatalf("bootstrap key: %q, %v", ws, err)
	}

	// A key from the environment is registered at every start, even after a revoke.
	const env = "my-own-key-0123456789"
	for i := 0; i < 2; i++ {
		db, err := sqlite.Open(ctx, path)
		if err != nil {
			t.Fatal(err)
		}
		s := apikey.New(db)
		if got, err := s.Bootstrap(ctx, env); err != nil || got != "" {
			t.Fatalf("Bootstrap with env key = %q, %v", got, err)
		}
		if ws, err := s.Authenticate(ctx, env); err != nil || ws != codebox.DefaultWorkspace {
			t.Fatalf("env key: %q, %v", ws, err)
		}
		keys, _ := s.List(ctx)
		for _, k := range keys {
			s.Revoke(ctx, k.ID)
		}
		db.Close()
	}
	if _, err := svc.Register(ctx, "other", env); !errors.Is(err, errdefs.ErrConflict) {
		t.Fatalf("registering another workspace's key = %v", err)
	}
	if _, err := svc.Register(ctx, codebox.DefaultWorkspace, "short"); !errors.Is(err, errdefs.ErrInvalid) {
		t.Fatalf("short key = %v", err)
	}
}
