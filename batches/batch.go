package batches

import (
	"context"
	"time"

	"github.com/codebox-dev/codebox"
)

// Status is a batch's processing_status.
type Status string

const (
	StatusInProgress Status = "in_progress"
	StatusCanceling  Status = "canceling"
	StatusEnded      Status = "ended"
)

// ResultType is how a request ended.
type ResultType string

const (
	Succeeded ResultType = "succeeded"
	Errored   ResultType = "errored"
	Canceled  ResultType = "canceled"
	Expired   ResultType = "expired"
)

// Limits of one batch (Anthropic's): requests, bytes of the create body, and the
// custom_id's length.
const (
	MaxRequests    = 100_000
	MaxBytes       = 256 << 20
	MaxCustomIDLen = 64
)

// Lifetime is how long a batch may take: requests not answered by then expire.
const Lifetime = 24 * time.Hour

// DefaultRetention is how long an ended batch and its results are kept.
const DefaultRetention = 29 * 24 * time.Hour

// Counts are a batch's requests by state; Processing counts those not yet answered.
type Counts struct {
	Processing, Succeeded, Errored, Canceled, Expired int64
}

// Batch is one Message Batch. Zero times are unset (null on the wire).
type Batch struct {
	ID                string
	Workspace         codebox.WorkspaceID
	Status            Status
	Counts            Counts
	CreatedAt         time.Time
	ExpiresAt         time.Time
	EndedAt           time.Time
	CancelInitiatedAt time.Time
	ArchivedAt        time.Time
}

// NewRequest is one request of a batch being created: its custom_id and its Messages
// parameters as the client sent them (JSON).
type NewRequest struct {
	CustomID string
	Params   []byte
}

// Result is one request's answer. Body is the Message (Succeeded) or the error envelope
// (Errored), JSON; empty for Canceled and Expired.
type Result struct {
	CustomID string
	Type     ResultType
	Body     []byte
}

// Claim is a request a worker has taken to run. Token is the claim's attempt number,
// which the finish must present.
type Claim struct {
	RequestID int64
	BatchID   string
	Workspace codebox.WorkspaceID
	CustomID  string
	Params    []byte
	Token     int64
}

// ListQuery pages through a workspace's batches, newest first: at most Limit after the
// batch AfterID (older ones) or before BeforeID (newer ones).
type ListQuery struct {
	Limit    int
	BeforeID string
	AfterID  string
}

// Store keeps batches, their requests and results durably. Claims are leases: a claim
// whose LeaseUntil passed may be taken again, by any server.
type Store interface {
	// CreateBatch stores b with its requests, all pending, in one transaction.
	CreateBatch(ctx context.Context, b *Batch, reqs []NewRequest) error
	// GetBatch returns ws's batch id; errdefs.ErrNotFound if there is none in ws.
	GetBatch(ctx context.Context, ws codebox.WorkspaceID, id string) (*Batch, error)
	// ListBatches returns a page of ws's batches, newest first, and whether more
	// follow in the paging direction; errdefs.ErrNotFound for an unknown cursor.
	ListBatches(ctx context.Context, ws codebox.WorkspaceID, q ListQuery) ([]*Batch, bool, error)
	// CancelBatch marks ws's batch id canceling at now and its pending requests
	// canceled, ending the batch when none runs. A batch that is not in progress is
	// returned unchanged. errdefs.ErrNotFound.
	CancelBatch(ctx context.Context, ws codebox.WorkspaceID, id string, now time.Time) (*Batch, error)
	// DeleteBatch removes ws's ended batch id with its results: errdefs.ErrNotFound,
	// errdefs.ErrInvalid for a batch that has not ended.
	DeleteBatch(ctx context.Context, ws codebox.WorkspaceID, id string) error
	// Results calls fn for each answered request of ws's batch id, in pages, until fn
	// fails. errdefs.ErrNotFound.
	Results(ctx context.Context, ws codebox.WorkspaceID, id string, fn func(Result) error) error

	// ClaimRequest takes the oldest runnable request (pending and due, or running with
	// a lapsed lease) of a batch that is in progress and not expired, and of a
	// workspace not in skip, for owner until now+lease. errdefs.ErrNotFound when there
	// is none.
	ClaimRequest(ctx context.Context, owner string, now time.Time, lease time.Duration, skip []codebox.WorkspaceID) (*Claim, error)
	// RenewClaim extends c's lease to until; errdefs.ErrConflict if c is no longer held.
	RenewClaim(ctx context.Context, c *Claim, owner string, until time.Time) error
	// FinishRequest records c's result (Succeeded or Errored) and updates its batch's
	// counts, ending the batch when it was the last; errdefs.ErrConflict if c is no
	// longer held (another claim answered or will answer it).
	FinishRequest(ctx context.Context, c *Claim, owner string, typ ResultType, body []byte, now time.Time) error
	// ReleaseClaim puts c back in the queue, due at notBefore.
	ReleaseClaim(ctx context.Context, c *Claim, owner string, notBefore time.Time) error
	// ReleaseOwner puts every request owner holds back in the queue: the claims of a
	// previous run of this server, at its start.
	ReleaseOwner(ctx context.Context, owner string) (int, error)
	// ExpireBatches marks the pending requests of batches past their expires_at as
	// expired, ending those batches where nothing runs, and returns how many requests
	// it expired.
	ExpireBatches(ctx context.Context, now time.Time) (int, error)
	// PurgeBatches removes batches that ended before cutoff, with their results, and
	// returns how many.
	PurgeBatches(ctx context.Context, cutoff time.Time) (int, error)
}

// Outcome is what running one request came to: an answer (Succeeded with the Message,
// or Errored with the error envelope), or, with Retry set, no answer yet: the server
// could not take the request now (overloaded, rate limited) and it runs again after
// Retry.
type Outcome struct {
	Type  ResultType
	Body  []byte
	Retry time.Duration
}

// Executor runs one request's Messages parameters in workspace ws, as POST /v1/messages
// would (without streaming). A ctx that ends makes the Outcome meaningless: the worker
// puts the request back.
type Executor interface {
	Execute(ctx context.Context, ws codebox.WorkspaceID, params []byte) Outcome
}
