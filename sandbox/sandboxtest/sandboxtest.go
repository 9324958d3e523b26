// Package sandboxtest helps tests run real sandbox containers: it re-executes the test
// binary as the in-container agent, finds the root filesystem, stops the test through
// testenv (a skip locally, a failure in CI) when root, the runtime or the image is
// missing, and provides in-memory Store and FileStore
// implementations.
//
// A test package that starts containers calls AgentMain first thing in TestMain:
//
//	func TestMain(m *testing.M) {
//		sandboxtest.AgentMain()
//		os.Exit(m.Run())
//	}
package sandboxtest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/codebox-dev/codebox"
	"github.com/codebox-dev/codebox/errdefs"
	"github.com/codebox-dev/codebox/ids"
	"github.com/codebox-dev/codebox/image"
	"github.com/codebox-dev/codebox/internal/testenv"
	"github.com/codebox-dev/codebox/sandbox"
	"github.com/codebox-dev/codebox/sandbox/agent"
	"github.com/codebox-dev/codebox/sandbox/oci"
)

// AgentMain runs the agent and exits when the test binary was started as a
// container's init (argv[1] == "agent"), the way "codebox agent" is. Otherwise it
// returns at once.
func AgentMain() {
	if len(os.Args) > 1 && os.Args[1] == "agent" {
		os.Exit(agent.Main())
	}
}

// RootFS returns the root filesystem containers run on: the image built in
// CODEBOX_TEST_IMAGE_DIR (default /var/cache/codebox/images), or the directory
// CODEBOX_TEST_ROOTFS names. When neither exists the test stops (testenv.Missing).
func RootFS(t testing.TB) string {
	t.Helper()
	if p := os.Getenv("CODEBOX_TEST_ROOTFS"); p != "" {
		if _, err := os.Stat(filepath.Join(p, "usr/bin/python3")); err == nil {
			return p
		}
	}
	dir := testenv.ImageDir()
	img, err := image.Lookup(dir)
	if err != nil {
		testenv.Missing(t, "no container image in %s (%v); build it with `codebox image build --image-dir %s` or set CODEBOX_TEST_ROOTFS", dir, err, dir)
	}
	return img.RootFS
}

// Runtimes returns the runtime binaries to test with: CODEBOX_TEST_RUNTIMES
// (comma-separated), default runc.
func Runtimes() []string {
	if v := os.Getenv("CODEBOX_TEST_RUNTIMES"); v != "" {
		return strings.Split(v, ",")
	}
	return []string{"runc"}
}

// ForEachRuntime runs f as one subtest per runtime of Runtimes, named for it, so that
// a suite runs on runc and on gVisor alike:
//
//	func TestExec(t *testing.T) { sandboxtest.ForEachRuntime(t, testExec) }
//
//	func testExec(t *testing.T, runtime string) {
//		e := sandboxtest.NewWithRuntime(t, runtime, nil)
//		...
func ForEachRuntime(t *testing.T, f func(t *testing.T, runtime string)) {
	t.Helper()
	for _, rt := range Runtimes() {
		t.Run(filepath.Base(rt), func(t *testing.T) { f(t, rt) })
	}
}

// Require stops the test (testenv.Missing) unless it runs as root with runtime and
// mkfs.ext4 installed.
func Require(t testing.TB, runtime string) {
	t.Helper()
	testenv.NeedRoot(t)
	testenv.NeedCommand(t, runtime, "mkfs.ext4")
}

// Env is a Manager on a real runtime for one test, with its own directories.
type Env struct {
	// RuntimeName is the runtime binary's name: "runc" or "runsc".
	RuntimeName string
	// RuntimeBinary and RuntimeRoot are the runtime as the Manager runs it: its
	// binary and its state root (for `runc --root RuntimeRoot state ID`).
	RuntimeBinary, RuntimeRoot string
	Manager                    *sandbox.Manager
	Config                     sandbox.Config
	Runtime                    *oci.Runtime
	Store                      *MemStore
	Files                      *MemFiles
	Clock                      *Clock
}

// New starts a Manager for the test on the first runtime of Runtimes, with small limits
// (512 MiB, 256 PIDs, 256 MiB of disk, no pool); configure may change the config.
// Everything is destroyed at cleanup. A test of the sandbox's behaviour runs on every
// runtime instead: ForEachRuntime and NewWithRuntime.
func New(t testing.TB, configure func(*sandbox.Config)) *Env {
	t.Helper()
	rt := "runc"
	if r := Runtimes(); len(r) > 0 {
		rt = r[0]
	}
	return NewWithRuntime(t, rt, configure)
}

// NewWithRuntime is New with a chosen runtime binary.
func NewWithRuntime(t testing.TB, runtime string, configure func(*sandbox.Config)) *Env {
	t.Helper()
	return NewWithRuntimeConfig(t, oci.Config{Binary: runtime}, configure)
}

// NewWithRuntimeConfig is New with a chosen runtime configuration; its Root is the
// test's own.
func NewWithRuntimeConfig(t testing.TB, rc oci.Config, configure func(*sandbox.Config)) *Env {
	t.Helper()
	runtime := rc.Binary
	Require(t, runtime)
	rootfs := RootFS(t)
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	rc.Root = filepath.Join(dir, "runtime")
	r, err := oci.New(rc)
	if err != nil {
		t.Fatal(err)
	}
	// Runs after the Managers' cleanups, before the directory's removal.
	t.Cleanup(func() {
		if err := r.Close(); err != nil {
			t.Errorf("runtime Close: %v", err)
		}
	})
	clock := NewClock()
	cfg := sandbox.Config{
		Dir:         filepath.Join(dir, "containers"),
		RootFS:      rootfs,
		Agent:       self,
		Limits:      sandbox.Limits{Memory: 512 << 20, CPUs: 1, PIDs: 256, Disk: 256 << 20},
		ExecTimeout: time.Minute,
		StopOnClose: true,
		Now:         clock.Now,
	}
	if configure != nil {
		configure(&cfg)
	}
	e := &Env{RuntimeName: filepath.Base(runtime), RuntimeBinary: runtime, RuntimeRoot: rc.Root, Config: cfg, Runtime: r, Store: NewMemStore(), Files: NewMemFiles(), Clock: clock}
	e.Manager = e.Start(t)
	return e
}

// Start makes and starts another Manager on the same directories and store, as a
// restarted server would. It is closed at cleanup.
func (e *Env) Start(t testing.TB) *sandbox.Manager {
	t.Helper()
	m, err := sandbox.New(e.Config, e.Runtime, e.Store, e.Files)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := m.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		all, _ := e.Store.AllContainers(ctx)
		for _, c := range all {
			m.Delete(ctx, c.Workspace, c.ID)
		}
		if err := m.Close(ctx); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return m
}

// Clock is a settable clock for expiry and idle tests.
type Clock struct {
	mu     sync.Mutex
	offset time.Duration
}

// NewClock returns a clock at the real time.
func NewClock() *Clock { return &Clock{} }

// Now is the real time plus everything Advance added.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return time.Now().Add(c.offset)
}

// Advance moves the clock forward.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.offset += d
	c.mu.Unlock()
}

// MemStore is an in-memory sandbox.Store.
type MemStore struct {
	mu sync.Mutex
	// rows by ID.
	rows map[string]sandbox.Container
	// images are the workspaces' default images.
	images map[codebox.WorkspaceID]string
	// files are the container files' records by ID.
	files map[string]sandbox.ContainerFile
}

var _ sandbox.Store = (*MemStore)(nil)

// NewMemStore returns an empty store.
func NewMemStore() *MemStore { return &MemStore{rows: make(map[string]sandbox.Container)} }

// WorkspaceImage implements sandbox.Store.
func (s *MemStore) WorkspaceImage(ctx context.Context, ws codebox.WorkspaceID) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.images[ws], nil
}

// SetWorkspaceImage sets ws's default image.
func (s *MemStore) SetWorkspaceImage(ws codebox.WorkspaceID, image string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.images == nil {
		s.images = map[codebox.WorkspaceID]string{}
	}
	s.images[ws] = image
}

// CreateContainer implements sandbox.Store.
func (s *MemStore) CreateContainer(ctx context.Context, c *sandbox.Container) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.rows[c.ID]; ok {
		return errdefs.ErrConflict
	}
	s.rows[c.ID] = *c
	return nil
}

// GetContainer implements sandbox.Store.
func (s *MemStore) GetContainer(ctx context.Context, ws codebox.WorkspaceID, id string) (*sandbox.Container, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok := s.rows[id]
	if !ok || c.Workspace != ws {
		return nil, errdefs.ErrNotFound
	}
	return &c, nil
}

// ListContainers implements sandbox.Store.
func (s *MemStore) ListContainers(ctx context.Context, ws codebox.WorkspaceID, opts sandbox.ListOptions) ([]*sandbox.Container, bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var all []*sandbox.Container
	for _, c := range s.rows {
		if c.Workspace == ws && (opts.Name == "" || c.Name == opts.Name) {
			all = append(all, &c)
		}
	}
	sort.Slice(all, func(i, j int) bool {
		if !all[i].CreatedAt.Equal(all[j].CreatedAt) {
			return all[i].CreatedAt.After(all[j].CreatedAt) != opts.Ascending
		}
		return (all[i].ID > all[j].ID) != opts.Ascending
	})
	if opts.After != "" {
		if c, ok := s.rows[opts.After]; !ok || c.Workspace != ws {
			return nil, false, errdefs.ErrNotFound
		}
		for i, c := range all {
			if c.ID == opts.After {
				all = all[i+1:]
				break
			}
		}
	}
	limit := opts.Limit
	if limit <= 0 {
		limit = 20
	}
	if len(all) > limit {
		return all[:limit], true, nil
	}
	return all, false, nil
}

// UpdateContainer implements sandbox.Store.
func (s *MemStore) UpdateContainer(ctx context.Context, c *sandbox.Container) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	old, ok := s.rows[c.ID]
	if !ok || old.Workspace != c.Workspace {
		return errdefs.ErrNotFound
	}
	old.Status, old.LastActiveAt, old.IdleExpiresAt, old.ExpiresAt, old.Provisional = c.Status, c.LastActiveAt, c.IdleExpiresAt, c.ExpiresAt, c.Provisional
	old.DiskGeneration, old.DiskChecksum = c.DiskGeneration, c.DiskChecksum
	s.rows[c.ID] = old
	return nil
}

// MoveContainer gives the stopped container id of node from to node to, as a
// cluster's store does when a node adopts a container of a dead one: a container on
// another node, or running, is errdefs.ErrConflict.
func (s *MemStore) MoveContainer(ctx context.Context, id, from, to string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok := s.rows[id]
	switch {
	case !ok:
		return errdefs.ErrNotFound
	case c.Node != from || c.Status != sandbox.StatusStopped:
		return errdefs.ErrConflict
	}
	c.Node = to
	s.rows[id] = c
	return nil
}

// DeleteContainer implements sandbox.Store.
func (s *MemStore) DeleteContainer(ctx context.Context, ws codebox.WorkspaceID, id string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if c, ok := s.rows[id]; !ok || c.Workspace != ws {
		return errdefs.ErrNotFound
	}
	delete(s.rows, id)
	for fid, f := range s.files {
		if f.ContainerID == id {
			delete(s.files, fid)
		}
	}
	return nil
}

// PutContainerFiles implements sandbox.Store.
func (s *MemStore) PutContainerFiles(ctx context.Context, files []*sandbox.ContainerFile, replace bool) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.files == nil {
		s.files = map[string]sandbox.ContainerFile{}
	}
	for _, f := range files {
		id := f.ID
		for fid, old := range s.files {
			if old.ContainerID == f.ContainerID && old.Path == f.Path {
				if !replace {
					id = ""
				} else {
					id = fid
				}
			}
		}
		if id != "" {
			rec := *f
			rec.ID = id
			s.files[id] = rec
		}
	}
	return nil
}

// ContainerFiles implements sandbox.Store.
func (s *MemStore) ContainerFiles(ctx context.Context, ws codebox.WorkspaceID, id string) ([]*sandbox.ContainerFile, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []*sandbox.ContainerFile
	for _, f := range s.files {
		if f.Workspace == ws && f.ContainerID == id {
			out = append(out, &f)
		}
	}
	return out, nil
}

// GetContainerFile implements sandbox.Store.
func (s *MemStore) GetContainerFile(ctx context.Context, ws codebox.WorkspaceID, id, fileID string) (*sandbox.ContainerFile, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	f, ok := s.files[fileID]
	if !ok || f.Workspace != ws || f.ContainerID != id {
		return nil, errdefs.ErrNotFound
	}
	return &f, nil
}

// DeleteContainerFiles implements sandbox.Store.
func (s *MemStore) DeleteContainerFiles(ctx context.Context, ws codebox.WorkspaceID, id string, fileIDs ...string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, fid := range fileIDs {
		if f, ok := s.files[fid]; ok && f.Workspace == ws && f.ContainerID == id {
			delete(s.files, fid)
		}
	}
	return nil
}

// AllContainers implements sandbox.Store.
func (s *MemStore) AllContainers(ctx context.Context) ([]*sandbox.Container, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []*sandbox.Container
	for _, c := range s.rows {
		if c.Status != sandbox.StatusExpired {
			out = append(out, &c)
		}
	}
	return out, nil
}

// MemFiles is an in-memory sandbox.FileStore.
type MemFiles struct {
	mu sync.Mutex
	// files by ID.
	files map[string]*MemFile
	// MaxSize, when set, makes larger files ErrTooLarge.
	MaxSize int64
}

// MemFile is one stored file.
type MemFile struct {
	ID, Filename, MimeType string
	Workspace              codebox.WorkspaceID
	Data                   []byte
}

var _ sandbox.FileStore = (*MemFiles)(nil)

// NewMemFiles returns an empty file store.
func NewMemFiles() *MemFiles { return &MemFiles{files: make(map[string]*MemFile)} }

// Add stores data as a file of ws and returns its ID.
func (f *MemFiles) Add(ws codebox.WorkspaceID, filename string, data []byte) string {
	f.mu.Lock()
	defer f.mu.Unlock()
	id := ids.New("file_")
	f.files[id] = &MemFile{ID: id, Filename: filename, Workspace: ws, Data: data, MimeType: http.DetectContentType(data)}
	return id
}

// Get returns a stored file.
func (f *MemFiles) Get(id string) (*MemFile, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	mf, ok := f.files[id]
	return mf, ok
}

// StoreOutput implements sandbox.FileStore; files over MaxSize are errdefs.ErrTooLarge.
func (f *MemFiles) StoreOutput(ctx context.Context, ws codebox.WorkspaceID, filename string, r io.Reader) (string, string, error) {
	data, err := io.ReadAll(r)
	if err != nil {
		return "", "", err
	}
	if f.MaxSize > 0 && int64(len(data)) > f.MaxSize {
		return "", "", fmt.Errorf("%w: %d bytes", errdefs.ErrTooLarge, len(data))
	}
	id := f.Add(ws, filename, data)
	mf, _ := f.Get(id)
	return id, mf.MimeType, nil
}

// OpenInput implements sandbox.FileStore.
func (f *MemFiles) OpenInput(ctx context.Context, ws codebox.WorkspaceID, id string) (string, io.ReadCloser, error) {
	mf, ok := f.Get(id)
	if !ok || mf.Workspace != ws {
		return "", nil, errors.Join(errdefs.ErrNotFound, fmt.Errorf("file %s", id))
	}
	return mf.Filename, io.NopCloser(bytes.NewReader(mf.Data)), nil
}
