// Package apikey manages workspaces and their API keys: it creates keys, lists and
// revokes them, and resolves a presented key to its workspace.
//
// A key is "sk-cbx-" plus 48 random base62 characters (about 285 bits). Only its SHA-256
// is stored: a key of that entropy needs no slow hash, and lookup by hash stays one
// indexed query. Each key has a public id (key_…) used to list and revoke it.
package apikey

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/codebox-dev/codebox"
	"github.com/codebox-dev/codebox/errdefs"
	"github.com/codebox-dev/codebox/ids"
)

// Prefix starts every key codebox makes. Keys given through CODEBOX_API_KEY may have any form.
const Prefix = "sk-cbx-"

// IDPrefix starts every key id.
const IDPrefix = "key_"

// Key is a stored API key, without its secret.
type Key struct {
	ID        string
	Workspace codebox.WorkspaceID
	// Hint is the start of the secret, enough to recognise a key in a listing.
	Hint      string
	CreatedAt time.Time
	RevokedAt time.Time // zero = active
}

// Store keeps workspaces and keys. *sqlite.DB implements it.
type Store interface {
	// EnsureWorkspace creates ws unless it exists and reports whether it did.
	EnsureWorkspace(ctx context.Context, ws codebox.WorkspaceID) (bool, error)
	// InsertKey records k with the hash of its secret; errdefs.ErrConflict if the hash exists.
	InsertKey(ctx context.Context, k *Key, hash string) error
	// KeyByHash returns the key with that hash, revoked or not, or errdefs.ErrNotFound.
	KeyByHash(ctx context.Context, hash string) (*Key, error)
	// ListKeys returns every key, oldest first.
	ListKeys(ctx context.Context) ([]*Key, error)
	// SetKeyRevoked sets or clears the revocation time of id; errdefs.ErrNotFound.
	SetKeyRevoked(ctx context.Context, id string, at time.Time) error
	// CountKeys returns the number of keys (revoked too) of ws.
	CountKeys(ctx context.Context, ws codebox.WorkspaceID) (int, error)
}

// Service manages keys over a Store.
type Service struct {
	store Store
	now   func() time.Time
}

// New returns a Service over store.
func New(store Store) *Service {
	return &Service{store: store, now: func() time.Time { return time.Now().UTC() }}
}

// Hash is how a secret is stored.
func Hash(secret string) string {
	sum := sha256.Sum256([]byte(secret))
	return hex.EncodeToString(sum[:])
}

// NewSecret returns a fresh random key.
func NewSecret() string { return Prefix + ids.New("") + ids.New("") }

func hint(secret string) string {
	n := min(len(secret), len(Prefix)+4)
	return secret[:n] + "…"
}

// ValidWorkspace reports whether name can name a workspace: 1 to 64 characters of
// [a-z0-9_-] starting with a letter or digit.
func ValidWorkspace(name string) bool {
	if name == "" || len(name) > 64 {
		return false
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		ok := c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || i > 0 && (c == '_' || c == '-')
		if !ok {
			return false
		}
	}
	return true
}

// Create makes a new key for ws, creating the workspace if needed, and returns the secret,
// which is shown only this once. Errors: errdefs.ErrInvalid for a bad workspace name.
func (s *Service) Create(ctx context.Context, ws codebox.WorkspaceID) (string, *Key, error) {
	secret := NewSecret()
	k, err := s.register(ctx, ws, secret)
	return secret, k, err
}

// Register makes secret a valid key of ws: it is added if unknown, and re-activated if
// it was revoked. Errors: errdefs.ErrInvalid for a bad workspace name or a short secret,
// errdefs.ErrConflict when the secret already belongs to another workspace.
func (s *Service) Register(ctx context.Context, ws codebox.WorkspaceID, secret string) (*Key, error) {
	if len(secret) < 16 {
		return nil, errdefs.New(errdefs.ErrInvalid, "", "an API key must have at least 16 characters")
	}
	k, err := s.store.KeyByHash(ctx, Hash(secret))
	switch {
	case errors.Is(err, errdefs.ErrNotFound):
		return s.register(ctx, ws, secret)
	case err != nil:
		return nil, err
	case k.Workspace != ws:
		return nil, fmt.Errorf("key %s belongs to workspace %s: %w", k.ID, k.Workspace, errdefs.ErrConflict)
	case !k.RevokedAt.IsZero():
		if err := s.store.SetKeyRevoked(ctx, k.ID, time.Time{}); err != nil {
			return nil, err
		}
		k.RevokedAt = time.Time{}
	}
	return k, nil
}

func (s *Service) register(ctx context.Context, ws codebox.WorkspaceID, secret string) (*Key, error) {
	if !ValidWorkspace(string(ws)) {
		return nil, errdefs.New(errdefs.ErrInvalid, "", "invalid workspace name %q: use 1 to 64 of a-z 0-9 _ -", ws)
	}
	if _, err := s.store.EnsureWorkspace(ctx, ws); err != nil {
		return nil, err
	}
	k := &Key{ID: ids.New(IDPrefix), Workspace: ws, Hint: hint(secret), CreatedAt: s.now()}
	if err := s.store.InsertKey(ctx, k, Hash(secret)); err != nil {
		return nil, err
	}
	return k, nil
}

// List returns every key, oldest first.
func (s *Service) List(ctx context.Context) ([]*Key, error) { return s.store.ListKeys(ctx) }

// Revoke revokes the key with that id at once. Errors: errdefs.ErrNotFound.
func (s *Service) Revoke(ctx context.Context, id string) error {
	if !ids.Valid(IDPrefix, id) {
		return fmt.Errorf("key %q: %w", id, errdefs.ErrNotFound)
	}
	return s.store.SetKeyRevoked(ctx, id, s.now())
}

// Authenticate returns the workspace of an active key, or errdefs.ErrUnauthenticated.
func (s *Service) Authenticate(ctx context.Context, secret string) (codebox.WorkspaceID, error) {
	h := Hash(secret)
	k, err := s.store.KeyByHash(ctx, h)
	if errors.Is(err, errdefs.ErrNotFound) || err == nil && !k.RevokedAt.IsZero() {
		return "", errdefs.New(errdefs.ErrUnauthenticated, "", "invalid x-api-key")
	}
	if err != nil {
		return "", err
	}
	return k.Workspace, nil
}

// Bootstrap prepares the default workspace at server start. With envKey set, that key is
// registered for it (on every start). Otherwise, if the workspace has no key yet, one is
// created and its secret returned, for the caller to show once; later starts return "".
func (s *Service) Bootstrap(ctx context.Context, envKey string) (string, error) {
	ws := codebox.DefaultWorkspace
	if envKey = strings.TrimSpace(envKey); envKey != "" {
		_, err := s.Register(ctx, ws, envKey)
		return "", err
	}
	if _, err := s.store.EnsureWorkspace(ctx, ws); err != nil {
		return "", err
	}
	n, err := s.store.CountKeys(ctx, ws)
	if err != nil || n > 0 {
		return "", err
	}
	secret, _, err := s.Create(ctx, ws)
	return secret, err
}
