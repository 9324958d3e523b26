package batches

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/codebox-dev/codebox"
	"github.com/codebox-dev/codebox/errdefs"
	"github.com/codebox-dev/codebox/ids"
)

// Config sizes the service. Zero fields take the defaults noted.
type Config struct {
	// Workers is how many requests run at once on this server (default 1). The
	// server's wiring derives it from a share of the execution seats, so that batches
	// never take what interactive requests need.
	Workers int
	// WorkersPerWorkspace caps the requests of one workspace running at once (default
	// Workers), so one workspace's batch leaves room for its own interactive requests.
	WorkersPerWorkspace int
	// Retention is how long an ended batch and its results are kept (default 29 days).
	Retention time.Duration
	// Owner names this server's claims in the store; it must stay the same across
	// restarts, so that a restart takes back its own claims at once (default "local").
	Owner string
	// Lease is how long a claim lasts without renewal (default 1 minute); a server that
	// died loses its claims to others after it.
	Lease time.Duration
	// Poll is how often idle workers look for due requests (default 1 second); a new
	// batch wakes them at once.
	Poll time.Duration
	// Sweep is how often expiry and retention run (default 1 minute).
	Sweep  time.Duration
	Logger *slog.Logger
	// Now returns the current time (default time.Now).
	Now func() time.Time
}

// Service is the Message Batches API over a Store, and the pool that runs the queue.
type Service struct {
	cfg   Config
	store Store
	exec  Executor
	wake  chan struct{}

	mu sync.Mutex
	// running counts the requests each workspace has running on this server.
	running map[codebox.WorkspaceID]int
}

// New returns a Service; Run starts its workers.
func New(cfg Config, store Store, exec Executor) *Service {
	if cfg.Workers < 1 {
		cfg.Workers = 1
	}
	if cfg.WorkersPerWorkspace < 1 || cfg.WorkersPerWorkspace > cfg.Workers {
		cfg.WorkersPerWorkspace = cfg.Workers
	}
	if cfg.Retention <= 0 {
		cfg.Retention = DefaultRetention
	}
	if cfg.Owner == "" {
		cfg.Owner = "local"
	}
	if cfg.Lease <= 0 {
		cfg.Lease = time.Minute
	}
	if cfg.Poll <= 0 {
		cfg.Poll = time.Second
	}
	if cfg.Sweep <= 0 {
		cfg.Sweep = time.Minute
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Service{cfg: cfg, store: store, exec: exec, wake: make(chan struct{}, 1),
		running: map[codebox.WorkspaceID]int{}}
}

// Create validates reqs and stores them as a new batch of ws, which the workers start
// on at once. Errors: errdefs.ErrInvalid (no requests, too many, a bad or repeated
// custom_id), and the store's.
func (s *Service) Create(ctx context.Context, ws codebox.WorkspaceID, reqs []NewRequest) (*Batch, error) {
	if err := validate(reqs); err != nil {
		return nil, err
	}
	now := s.cfg.Now().UTC()
	b := &Batch{ID: ids.New("msgbatch_"), Workspace: ws, Status: StatusInProgress,
		Counts: Counts{Processing: int64(len(reqs))}, CreatedAt: now, ExpiresAt: now.Add(Lifetime)}
	if err := s.store.CreateBatch(ctx, b, reqs); err != nil {
		return nil, err
	}
	s.kick()
	return b, nil
}

// validate checks a batch's requests as Anthropic does.
func validate(reqs []NewRequest) error {
	if len(reqs) == 0 {
		return errdefs.New(errdefs.ErrInvalid, "", "requests: a batch needs at least one request")
	}
	if len(reqs) > MaxRequests {
		return errdefs.New(errdefs.ErrInvalid, "", "requests: a batch holds at most %d requests, this one has %d", MaxRequests, len(reqs))
	}
	seen := make(map[string]int, len(reqs))
	for i, r := range reqs {
		if !validCustomID(r.CustomID) {
			return errdefs.New(errdefs.ErrInvalid, "", "requests.%d.custom_id: %q must be 1 to %d letters, digits, hyphens or underscores",
				i, r.CustomID, MaxCustomIDLen)
		}
		if j, dup := seen[r.CustomID]; dup {
			return errdefs.New(errdefs.ErrInvalid, "", "requests.%d.custom_id: %q is already used by requests.%d; each custom_id must be unique within the batch",
				i, r.CustomID, j)
		}
		seen[r.CustomID] = i
	}
	return nil
}

// validCustomID reports whether id matches ^[a-zA-Z0-9_-]{1,64}$: an id with no prefix.
func validCustomID(id string) bool { return ids.Valid("", id) }

// Get returns ws's batch id: errdefs.ErrNotFound.
func (s *Service) Get(ctx context.Context, ws codebox.WorkspaceID, id string) (*Batch, error) {
	if !ids.Valid("msgbatch_", id) {
		return nil, notFound(id)
	}
	b, err := s.store.GetBatch(ctx, ws, id)
	if errors.Is(err, errdefs.ErrNotFound) {
		return nil, notFound(id)
	}
	return b, err
}

func notFound(id string) error {
	return errdefs.New(errdefs.ErrNotFound, "", "Message batch %s not found", id)
}

// DefaultListLimit and MaxListLimit bound a page of List.
const (
	DefaultListLimit = 20
	MaxListLimit     = 1000
)

// List returns a page of ws's batches, newest first, and whether more follow.
// errdefs.ErrInvalid for a bad limit or cursor.
func (s *Service) List(ctx context.Context, ws codebox.WorkspaceID, q ListQuery) ([]*Batch, bool, error) {
	if q.Limit == 0 {
		q.Limit = DefaultListLimit
	}
	if q.Limit < 1 || q.Limit > MaxListLimit {
		return nil, false, errdefs.New(errdefs.ErrInvalid, "", "limit must be an integer from 1 to %d", MaxListLimit)
	}
	if q.BeforeID != "" && q.AfterID != "" {
		return nil, false, errdefs.New(errdefs.ErrInvalid, "", "before_id and after_id cannot be combined")
	}
	for _, c := range []string{q.BeforeID, q.AfterID} {
		if c != "" && !ids.Valid("msgbatch_", c) {
			return nil, false, errdefs.New(errdefs.ErrInvalid, "", "%q is not a message batch id", c)
		}
	}
	list, more, err := s.store.ListBatches(ctx, ws, q)
	if errors.Is(err, errdefs.ErrNotFound) {
		return nil, false, errdefs.New(errdefs.ErrInvalid, "", "the batch in before_id/after_id was not found")
	}
	return list, more, err
}

// Cancel stops ws's batch id: its pending requests are canceled at once, the running
// ones finish. errdefs.ErrNotFound.
func (s *Service) Cancel(ctx context.Context, ws codebox.WorkspaceID, id string) (*Batch, error) {
	if !ids.Valid("msgbatch_", id) {
		return nil, notFound(id)
	}
	b, err := s.store.CancelBatch(ctx, ws, id, s.cfg.Now().UTC())
	if errors.Is(err, errdefs.ErrNotFound) {
		return nil, notFound(id)
	}
	return b, err
}

// Delete removes ws's ended batch id and its results: errdefs.ErrNotFound,
// errdefs.ErrInvalid while it has not ended.
func (s *Service) Delete(ctx context.Context, ws codebox.WorkspaceID, id string) error {
	if !ids.Valid("msgbatch_", id) {
		return notFound(id)
	}
	err := s.store.DeleteBatch(ctx, ws, id)
	var pub *errdefs.Public
	if errors.Is(err, errdefs.ErrNotFound) && !errors.As(err, &pub) {
		return notFound(id)
	}
	return err
}

// Results calls fn for each result of ws's ended batch id. errdefs.ErrNotFound,
// errdefs.ErrInvalid while the batch has not ended (results are complete only then).
func (s *Service) Results(ctx context.Context, ws codebox.WorkspaceID, id string, fn func(Result) error) error {
	b, err := s.Get(ctx, ws, id)
	if err != nil {
		return err
	}
	if b.Status != StatusEnded {
		return errdefs.New(errdefs.ErrInvalid, "", "Message batch %s is still processing; its results are available once its processing_status is ended", id)
	}
	if err := s.store.Results(ctx, ws, id, fn); err != nil {
		return fmt.Errorf("results of %s: %w", id, err)
	}
	return nil
}

// kick wakes an idle worker.
func (s *Service) kick() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}
