// Package files stores the files of the Files API: their metadata, their bytes, the
// per-file size limit and the per-workspace storage quota, expiry and purging.
//
// Metadata lives behind Store (store/sqlite) and bytes behind Blobs (blobs/disk). An upload
// is streamed to a temporary blob, checksummed (CRC-32C) while it streams, made durable (fsync, rename,
// fsync of the directory) and only then recorded by a row; a failure at any step leaves
// nothing behind, and Recover removes what a crash between those steps could leave.
package files

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"time"

	"github.com/codebox-dev/codebox"
	"github.com/codebox-dev/codebox/diskspace"
	"github.com/codebox-dev/codebox/errdefs"
	"github.com/codebox-dev/codebox/ids"
)

// IDPrefix starts every file id.
const IDPrefix = "file_"

// File is the metadata of one stored file.
type File struct {
	ID        string
	Workspace codebox.WorkspaceID
	Filename  string
	MimeType  string
	Size      int64
	// Checksum is the algorithm and hex digest of the bytes, "crc32c:" plus 8 hex digits
	// (FormatCRC32C); files stored by versions that hashed with SHA-256 carry "sha256:"
	// plus 64.
	Checksum     string
	Downloadable bool
	CreatedAt    time.Time
	ExpiresAt    time.Time // zero = never
}

// Expired reports whether f is past its expiry at now.
func (f *File) Expired(now time.Time) bool {
	return !f.ExpiresAt.IsZero() && !now.Before(f.ExpiresAt)
}

// NewFile describes a file to create with Service.Create.
type NewFile struct {
	// Filename is the name as given by the client; Create cleans it with CleanFilename.
	Filename string
	// MimeType is the declared type; "" or application/octet-stream means "detect it".
	MimeType     string
	Downloadable bool
	ExpiresIn    time.Duration // 0 = never
	Body         io.Reader
}

// Cursor is a position in a listing: the (CreatedAt, ID) of a file. Listings are ordered
// newest first by that pair.
type Cursor struct {
	CreatedAt time.Time
	ID        string
}

// ListQuery selects a page of a workspace's files, newest first.
type ListQuery struct {
	Limit int
	// After returns files older than the cursor (the next page); Before returns the files
	// just newer than it (the previous page). At most one is set.
	After, Before *Cursor
	// IDs, when set, restricts the listing to these ids (After and Before are ignored).
	IDs []string
}

// PageSize is how many files the page q selects holds at most: Limit, or all of IDs.
func (q ListQuery) PageSize() int {
	if len(q.IDs) > 0 {
		return len(q.IDs)
	}
	return q.Limit
}

// Page turns the rows a Store fetched for q, up to PageSize()+1 in the query's direction
// (newest first, or oldest first for Before, to find the files just newer than the
// cursor), into the page, newest first like every other, and whether more files lie
// beyond it.
func (q ListQuery) Page(rows []*File) ([]*File, bool) {
	more := len(rows) > q.PageSize()
	if more {
		rows = rows[:q.PageSize()]
	}
	if q.Before != nil && len(q.IDs) == 0 {
		slices.Reverse(rows)
	}
	return rows, more
}

// Store keeps file metadata. *sqlite.DB implements it.
type Store interface {
	// InsertFile records f, failing with errdefs.ErrQuota (and inserting nothing) when the
	// workspace's stored bytes plus f.Size would exceed quota. The check and the insert are
	// one transaction, so concurrent uploads cannot overrun the quota together.
	InsertFile(ctx context.Context, f *File, quota int64) error
	// GetFile returns errdefs.ErrNotFound unless id exists in ws.
	GetFile(ctx context.Context, ws codebox.WorkspaceID, id string) (*File, error)
	// ListFiles returns up to q.Limit files and whether more exist beyond them.
	ListFiles(ctx context.Context, ws codebox.WorkspaceID, q ListQuery) ([]*File, bool, error)
	// DeleteFile returns errdefs.ErrNotFound unless id exists in ws.
	DeleteFile(ctx context.Context, ws codebox.WorkspaceID, id string) error
	// StorageUsed returns the bytes of all files of ws.
	StorageUsed(ctx context.Context, ws codebox.WorkspaceID) (int64, error)
	// ExpiredFiles returns up to limit files of any workspace that expired before t.
	ExpiredFiles(ctx context.Context, before time.Time, limit int) ([]*File, error)
	// FileExists reports whether a row for id exists in any workspace.
	FileExists(ctx context.Context, id string) (bool, error)
}

// Blobs keeps file bytes by key. blobs/disk implements it.
type Blobs interface {
	// Put streams r into a new blob named key and returns its size and its CRC-32C as
	// FormatCRC32C renders it. It returns only once the blob is durable under its final
	// name; on error nothing is left behind.
	Put(ctx context.Context, key string, r io.Reader) (size int64, checksum string, err error)
	// Open returns errdefs.ErrNotFound for a missing key.
	Open(ctx context.Context, key string) (io.ReadSeekCloser, error)
	// Remove deletes key; a missing key is not an error.
	Remove(ctx context.Context, key string) error
	// Keys lists every stored key.
	Keys(ctx context.Context) ([]string, error)
}

// Config holds the limits of a Service.
type Config struct {
	MaxFileSize  int64         // per file; default 500 MB
	StorageQuota int64         // per workspace; default 1 TB
	ExpiredGrace time.Duration // how long expired files stay listed; default 30 days
	// Space, when set, is asked before and while an upload streams whether the host's
	// disk has room for more, so that a full disk refuses the upload (507
	// insufficient_storage) instead of failing in the middle or taking space promised
	// to the containers' disks.
	Space  Space
	Logger *slog.Logger
}

// Space tells whether n more bytes fit on the disk; *diskspace.Ledger implements it.
type Space interface {
	Check(n int64) error
}

// spaceStep is how much of an upload is written between two looks at the free space.
const spaceStep = 4 << 20

// Defaults of Config.
const (
	DefaultMaxFileSize  = 500_000_000
	DefaultStorageQuota = 1_000_000_000_000
	DefaultExpiredGrace = 30 * 24 * time.Hour
)

// Service is the Files domain: create, read, list and delete files.
type Service struct {
	cfg   Config
	store Store
	blobs Blobs
	// now returns the current time; tests replace it.
	now func() time.Time
}

// New returns a Service over store and blobs, filling the zero fields of cfg with defaults.
func New(cfg Config, store Store, blobs Blobs) *Service {
	if cfg.MaxFileSize <= 0 {
		cfg.MaxFileSize = DefaultMaxFileSize
	}
	if cfg.StorageQuota <= 0 {
		cfg.StorageQuota = DefaultStorageQuota
	}
	if cfg.ExpiredGrace <= 0 {
		cfg.ExpiredGrace = DefaultExpiredGrace
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	return &Service{cfg: cfg, store: store, blobs: blobs, now: func() time.Time { return time.Now().UTC() }}
}

// SetClock replaces the service's clock, for tests of expiry.
func (s *Service) SetClock(now func() time.Time) { s.now = now }

// MaxFileSize is the per-file limit in bytes.
func (s *Service) MaxFileSize() int64 { return s.cfg.MaxFileSize }

// Create stores a file in one step. It returns errdefs.ErrInvalid for a bad filename,
// errdefs.ErrTooLarge past the per-file limit, errdefs.ErrQuota (code
// storage_quota_exceeded) past the workspace quota.
func (s *Service) Create(ctx context.Context, ws codebox.WorkspaceID, nf NewFile) (*File, error) {
	name, err := CleanFilename(nf.Filename)
	if err != nil {
		return nil, err
	}
	st, err := s.Stage(ctx, ws, nf.Body)
	if err != nil {
		return nil, err
	}
	defer st.Discard()
	return st.Commit(ctx, Meta{Filename: name, MimeType: nf.MimeType, Downloadable: nf.Downloadable, ExpiresIn: nf.ExpiresIn})
}

// Meta is the metadata given to Staged.Commit.
type Meta struct {
	Filename     string // already cleaned; "" becomes "unnamed" plus an extension
	MimeType     string // "" or application/octet-stream → detected
	Downloadable bool
	ExpiresIn    time.Duration
}

// Staged is a file whose bytes are durable but which has no row yet: it is invisible until
// Commit, and Discard removes it. The API stages the multipart file part, then reads the
// parts after it (expires_in_seconds) before committing.
type Staged struct {
	s         *Service
	ws        codebox.WorkspaceID
	id        string
	size      int64
	sum       string
	head      []byte
	committed bool
	discarded bool
}

// BodyError wraps an error of reading the client's body (as opposed to writing the blob),
// so that callers can tell a malformed or cut request from a server failure.
type BodyError struct{ Err error }

func (e *BodyError) Error() string { return "reading body: " + e.Err.Error() }
func (e *BodyError) Unwrap() error { return e.Err }

// Stage streams body into a new blob, checksumming it on the way. Errors: errdefs.ErrTooLarge,
// errdefs.ErrQuota, *BodyError when reading body fails, anything else when storing fails.
func (s *Service) Stage(ctx context.Context, ws codebox.WorkspaceID, body io.Reader) (_ *Staged, err error) {
	used, err := s.store.StorageUsed(ctx, ws)
	if err != nil {
		return nil, fmt.Errorf("storage used: %w", err)
	}
	if used >= s.cfg.StorageQuota {
		return nil, s.quotaError()
	}
	if s.cfg.Space != nil {
		if err := s.cfg.Space.Check(spaceStep); err != nil {
			return nil, err
		}
	}
	lim := &limitReader{r: body, n: min(s.cfg.MaxFileSize, s.cfg.StorageQuota-used)}
	sr := &spaceReader{r: lim, space: s.cfg.Space}
	hr := &headReader{r: sr}
	id := ids.New(IDPrefix)
	size, sum, err := s.blobs.Put(ctx, id, hr)
	if err != nil {
		switch {
		case sr.err != nil:
			return nil, sr.err
		case lim.over && lim.n < s.cfg.MaxFileSize:
			return nil, s.quotaError()
		case lim.over:
			return nil, s.tooLarge()
		case lim.err != nil:
			return nil, &BodyError{Err: lim.err}
		}
		return nil, fmt.Errorf("store blob: %w", diskspace.Wrap(err))
	}
	return &Staged{s: s, ws: ws, id: id, size: size, sum: sum, head: hr.head}, nil
}

func (s *Service) quotaError() error {
	return errdefs.New(errdefs.ErrQuota, errdefs.CodeStorageQuotaExceeded,
		"Storage quota of %d bytes exceeded for this workspace", s.cfg.StorageQuota)
}

func (s *Service) tooLarge() error {
	return errdefs.New(errdefs.ErrTooLarge, "", "File exceeds the maximum size of %d bytes", s.cfg.MaxFileSize)
}

// Size is the number of bytes staged.
func (st *Staged) Size() int64 { return st.size }

// Commit records the staged file. Its metadata becomes visible atomically; on error the
// bytes are removed. Errors: errdefs.ErrQuota when concurrent uploads used up the quota.
func (st *Staged) Commit(ctx context.Context, m Meta) (*File, error) {
	if st.committed || st.discarded {
		return nil, errors.New("files: staged file already committed or discarded")
	}
	if err := ctx.Err(); err != nil {
		st.Discard()
		return nil, err
	}
	s := st.s
	mt := DetectMIME(m.MimeType, m.Filename, st.head)
	name := m.Filename
	if name == "" {
		name = "unnamed" + ExtensionFor(mt)
	}
	f := &File{ID: st.id, Workspace: st.ws, Filename: name, MimeType: mt, Size: st.size, Checksum: st.sum,
		Downloadable: m.Downloadable, CreatedAt: s.now()}
	if m.ExpiresIn > 0 {
		f.ExpiresAt = f.CreatedAt.Add(m.ExpiresIn)
	}
	// Without cancellation: a cancel racing the commit must not leave us unsure whether
	// the row exists before we decide to remove the bytes.
	if err := s.store.InsertFile(context.WithoutCancel(ctx), f, s.cfg.StorageQuota); err != nil {
		st.Discard()
		if errors.Is(err, errdefs.ErrQuota) {
			return nil, s.quotaError()
		}
		return nil, fmt.Errorf("insert file: %w", diskspace.Wrap(err))
	}
	st.committed = true
	return f, nil
}

// Discard removes the staged bytes unless they were committed. It is safe to call more
// than once and after Commit.
func (st *Staged) Discard() {
	if st.committed || st.discarded {
		return
	}
	st.discarded = true
	if err := st.s.blobs.Remove(context.Background(), st.id); err != nil {
		st.s.cfg.Logger.Error("remove staged blob", "file_id", st.id, "err", err)
	}
}

func notFound(id string) error {
	return errdefs.New(errdefs.ErrNotFound, "", "File %s not found.", quoteID(id))
}

// quoteID renders an id for a message; ids that are not valid are not echoed back.
func quoteID(id string) string {
	if !ids.Valid(IDPrefix, id) {
		return "with the given id"
	}
	return "`" + id + "`"
}

// Get returns the metadata of id in ws, or errdefs.ErrNotFound (also for another
// workspace's id and for a malformed id).
func (s *Service) Get(ctx context.Context, ws codebox.WorkspaceID, id string) (*File, error) {
	if !ids.Valid(IDPrefix, id) {
		return nil, notFound(id)
	}
	f, err := s.store.GetFile(ctx, ws, id)
	if errors.Is(err, errdefs.ErrNotFound) {
		return nil, notFound(id)
	}
	return f, err
}

// Open returns the metadata and bytes of id. It does not check Downloadable. An expired
// file gives errdefs.ErrNotFound with code file_expired.
func (s *Service) Open(ctx context.Context, ws codebox.WorkspaceID, id string) (*File, io.ReadSeekCloser, error) {
	f, err := s.Get(ctx, ws, id)
	if err != nil {
		return nil, nil, err
	}
	if f.Expired(s.now()) {
		return nil, nil, errdefs.New(errdefs.ErrNotFound, errdefs.CodeFileExpired, "File `%s` has expired.", id)
	}
	rc, err := s.blobs.Open(ctx, id)
	if err != nil {
		return nil, nil, fmt.Errorf("open blob %s: %w", id, err)
	}
	return f, rc, nil
}

// Delete removes id from ws: first the row, so that the file vanishes at once, then the
// bytes. Errors: errdefs.ErrNotFound.
func (s *Service) Delete(ctx context.Context, ws codebox.WorkspaceID, id string) error {
	if !ids.Valid(IDPrefix, id) {
		return notFound(id)
	}
	if err := s.store.DeleteFile(ctx, ws, id); err != nil {
		if errors.Is(err, errdefs.ErrNotFound) {
			return notFound(id)
		}
		return err
	}
	if err := s.blobs.Remove(context.WithoutCancel(ctx), id); err != nil {
		// The row is gone; Recover removes the orphaned bytes at the next start.
		s.cfg.Logger.Error("remove blob", "file_id", id, "err", err)
	}
	return nil
}

// MaxListLimit is the largest page a listing returns.
const MaxListLimit = 1000

// List returns a page of ws's files, newest first, and whether more exist beyond it.
func (s *Service) List(ctx context.Context, ws codebox.WorkspaceID, q ListQuery) ([]*File, bool, error) {
	if q.Limit < 1 || q.Limit > MaxListLimit {
		return nil, false, errdefs.New(errdefs.ErrInvalid, "", "limit must be between 1 and %d", MaxListLimit)
	}
	if len(q.IDs) > 0 {
		valid := q.IDs[:0:0]
		for _, id := range q.IDs {
			if ids.Valid(IDPrefix, id) {
				valid = append(valid, id)
			}
		}
		if len(valid) == 0 {
			return nil, false, nil
		}
		q.IDs = valid
	}
	return s.store.ListFiles(ctx, ws, q)
}

// Recover removes blobs that have no row: bytes that a crash left between their rename
// and their row's commit, or after a row's delete. Call it at start, before serving.
func (s *Service) Recover(ctx context.Context) (removed int, err error) {
	return RemoveOrphans(ctx, s.blobs, s.store.FileExists)
}

// SharedBlobs is a Blobs that several processes share (blobs/s3 under a cluster of
// nodes). It can list only the blobs stored before a time, so that RemoveOrphans leaves
// alone the bytes that another process has stored and is about to record.
type SharedBlobs interface {
	KeysBefore(ctx context.Context, t time.Time) ([]string, error)
}

// OrphanAge is how old a blob of a SharedBlobs must be for RemoveOrphans to take it for a
// leftover: far longer than any upload takes from its stored bytes to its row, and than
// the clocks of the nodes and the store differ.
const OrphanAge = time.Hour

// RemoveOrphans removes every blob of b whose key has no row, as exists tells: what a
// crash between storing bytes and recording them leaves behind. Of a SharedBlobs, only
// blobs older than OrphanAge are considered.
func RemoveOrphans(ctx context.Context, b Blobs, exists func(context.Context, string) (bool, error)) (removed int, err error) {
	var keys []string
	if sb, ok := b.(SharedBlobs); ok {
		keys, err = sb.KeysBefore(ctx, time.Now().Add(-OrphanAge))
	} else {
		keys, err = b.Keys(ctx)
	}
	if err != nil {
		return 0, err
	}
	for _, k := range keys {
		ok, err := exists(ctx, k)
		if err != nil {
			return removed, err
		}
		if ok {
			continue
		}
		if err := b.Remove(ctx, k); err != nil {
			return removed, err
		}
		removed++
	}
	return removed, nil
}

// PurgeExpired deletes files that expired more than the grace period ago, and returns how
// many it deleted.
func (s *Service) PurgeExpired(ctx context.Context) (int, error) {
	n := 0
	for {
		batch, err := s.store.ExpiredFiles(ctx, s.now().Add(-s.cfg.ExpiredGrace), 500)
		if err != nil {
			return n, err
		}
		for _, f := range batch {
			if err := s.store.DeleteFile(ctx, f.Workspace, f.ID); err != nil && !errors.Is(err, errdefs.ErrNotFound) {
				return n, err
			}
			if err := s.blobs.Remove(ctx, f.ID); err != nil {
				s.cfg.Logger.Error("remove expired blob", "file_id", f.ID, "err", err)
			}
			n++
		}
		if len(batch) < 500 {
			return n, nil
		}
	}
}

// RunSweeper purges expired files every interval until ctx ends.
func (s *Service) RunSweeper(ctx context.Context, interval time.Duration) error {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		if n, err := s.PurgeExpired(ctx); err != nil && ctx.Err() == nil {
			s.cfg.Logger.Error("purge expired files", "err", err)
		} else if n > 0 {
			s.cfg.Logger.Info("purged expired files", "count", n)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// limitReader reads at most n bytes of r and fails after that; it remembers whether it
// went over and any error of r itself.
type limitReader struct {
	r    io.Reader
	n    int64
	read int64
	over bool
	err  error
}

var errOverLimit = errors.New("over the size limit")

func (l *limitReader) Read(p []byte) (int, error) {
	if l.read > l.n {
		l.over = true
		return 0, errOverLimit
	}
	// Read one byte past the limit so that a body of exactly n bytes passes.
	if rem := l.n - l.read + 1; int64(len(p)) > rem {
		p = p[:rem]
	}
	n, err := l.r.Read(p)
	l.read += int64(n)
	if l.read > l.n {
		l.over = true
		return 0, errOverLimit
	}
	if err != nil && err != io.EOF {
		l.err = err
	}
	return n, err
}

// sniffLen is how many leading bytes content sniffing looks at.
const sniffLen = 512

// headReader keeps the first sniffLen bytes read through it, for content sniffing.
type headReader struct {
	r    io.Reader
	head []byte
}

func (hr *headReader) Read(p []byte) (int, error) {
	n, err := hr.r.Read(p)
	if n > 0 && len(hr.head) < sniffLen {
		hr.head = append(hr.head, p[:min(n, sniffLen-len(hr.head))]...)
	}
	return n, err
}

// FormatCRC32C renders a CRC-32C (Castagnoli) of a file's bytes as File.Checksum holds it.
func FormatCRC32C(sum uint32) string { return fmt.Sprintf("crc32c:%08x", sum) }

// spaceReader asks space for room every spaceStep bytes of the upload.
type spaceReader struct {
	r     io.Reader
	space Space
	next  int64
	read  int64
	err   error
}

func (s *spaceReader) Read(p []byte) (int, error) {
	if s.space != nil && s.read >= s.next {
		if s.err = s.space.Check(spaceStep); s.err != nil {
			return 0, s.err
		}
		s.next = s.read + spaceStep
	}
	n, err := s.r.Read(p)
	s.read += int64(n)
	return n, err
}
