package sandbox

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"sort"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/codebox-dev/codebox"
	"github.com/codebox-dev/codebox/errdefs"
)

// The host reads and writes a container's files on its mounted disk, which works
// whether or not the container runs. Every path from a request or from the container
// is untrusted: it is resolved only through an os.Root at the disk's mount point, so no
// symlink or ".." can leave the disk, and only regular files are opened, without
// blocking (a FIFO must not hang the server).

// diskPath maps a container path (absolute, or relative to the working directory)
// onto the disk: /workspace/x is workspace/x, /tmp/x is tmp/x. Other paths are not on
// the container's disk.
func diskPath(unsafePath string) (string, error) {
	p := unsafePath
	if strings.IndexByte(p, 0) >= 0 {
		return "", errdefs.New(errdefs.ErrInvalid, "", "invalid path")
	}
	if !path.IsAbs(p) {
		p = "/workspace/" + p
	}
	p = path.Clean(p)
	for _, top := range []string{"/workspace", "/tmp"} {
		if p == top {
			return top[1:], nil
		}
		if rest, ok := strings.CutPrefix(p, top+"/"); ok {
			return top[1:] + "/" + rest, nil
		}
	}
	return "", errdefs.New(errdefs.ErrInvalid, "", "path %q is outside /workspace and /tmp", unsafePath)
}

// displayPath turns a disk path back into what FileInfo.Path shows: relative to the
// working directory under it, absolute elsewhere.
func displayPath(dp string) string {
	if rest, ok := strings.CutPrefix(dp, "workspace/"); ok {
		return rest
	}
	if dp == "workspace" {
		return "."
	}
	return "/" + dp
}

// diskHold is one host-side reader of a container's mounted disk (a download, a
// listing). It keeps the disk mounted until released; destroying the container cuts it
// (closes its files) first, so that no mounted tree is ever removed.
type diskHold struct {
	inst    *instance
	once    sync.Once
	mu      sync.Mutex
	closers []io.Closer
}

// add ties c to the hold: it is closed when the hold is released or cut. A hold
// already cut closes c at once and reports the disk gone.
func (h *diskHold) add(c io.Closer) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closers == nil {
		c.Close()
		return notFound(h.inst.id)
	}
	h.closers = append(h.closers, c)
	return nil
}

// release closes the hold's files and lets the disk go. It is safe to call more than
// once and from several goroutines.
func (h *diskHold) release() {
	h.once.Do(func() {
		h.mu.Lock()
		closers := h.closers
		h.closers = nil
		h.mu.Unlock()
		for _, c := range closers {
			c.Close()
		}
		h.inst.mu.Lock()
		delete(h.inst.holds, h)
		h.inst.mu.Unlock()
	})
}

// cutHolds releases every hold on inst's disk: their next read fails. The caller has
// set gone, so no new hold is taken.
func (inst *instance) cutHolds() {
	inst.mu.Lock()
	holds := make([]*diskHold, 0, len(inst.holds))
	for h := range inst.holds {
		holds = append(holds, h)
	}
	inst.mu.Unlock()
	for _, h := range holds {
		h.release()
	}
}

// hold registers a new hold on the disk unless the container is gone. The caller
// holds inst.mu.
func (inst *instance) holdLocked() *diskHold {
	if inst.gone {
		return nil
	}
	h := &diskHold{inst: inst, closers: []io.Closer{}}
	if inst.holds == nil {
		inst.holds = make(map[*diskHold]struct{})
	}
	inst.holds[h] = struct{}{}
	return h
}

// openDisk holds the container's disk mounted for a host-side read and returns its
// root; the hold must be released when the caller is finished with it.
// A mounted disk is read without waiting for a command that holds the container.
func (m *Manager) openDisk(ctx context.Context, ws codebox.WorkspaceID, id string) (*os.Root, *diskHold, error) {
	inst, err := m.lookup(ctx, ws, id, false)
	if err != nil {
		return nil, nil, err
	}
	var h *diskHold
	inst.mu.Lock()
	gone := inst.gone
	if inst.diskReady {
		h = inst.holdLocked()
	}
	inst.mu.Unlock()
	if gone {
		return nil, nil, notFound(id)
	}
	if h == nil {
		if err := inst.acquire(ctx); err != nil {
			return nil, nil, err
		}
		err := m.mountLocked(ctx, inst)
		if err == nil {
			inst.mu.Lock()
			if h = inst.holdLocked(); h == nil {
				err = notFound(id)
			}
			inst.mu.Unlock()
		}
		inst.release()
		if err != nil {
			return nil, nil, err
		}
	}
	root, err := os.OpenRoot(inst.mntDir())
	if err != nil {
		h.release()
		return nil, nil, err
	}
	if err := h.add(root); err != nil {
		return nil, nil, err
	}
	return root, h, nil
}

// maxListEntries bounds one ListFiles answer.
const maxListEntries = 10000

// ListFiles lists the regular files and directories under unsafeDir (default the
// working directory), recursively. Symlinks and special files are left out.
func (m *Manager) ListFiles(ctx context.Context, ws codebox.WorkspaceID, id, unsafeDir string) ([]FileInfo, error) {
	out, _, err := m.listFiles(ctx, ws, id, unsafeDir)
	return out, err
}

// listFiles is ListFiles, also telling whether the listing was cut short.
func (m *Manager) listFiles(ctx context.Context, ws codebox.WorkspaceID, id, unsafeDir string) ([]FileInfo, bool, error) {
	if unsafeDir == "" {
		unsafeDir = "/workspace"
	}
	dp, err := diskPath(unsafeDir)
	if err != nil {
		return nil, false, err
	}
	root, hold, err := m.openDisk(ctx, ws, id)
	if err != nil {
		return nil, false, err
	}
	defer hold.release()
	fi, err := root.Lstat(dp)
	if err != nil {
		return nil, false, fileError(err, unsafeDir)
	}
	if !fi.IsDir() {
		return nil, false, errdefs.New(errdefs.ErrInvalid, "", "%s is not a directory", unsafeDir)
	}
	var out []FileInfo
	res, err := m.walkDisk(ctx, root, dp, nil, func(e *scanEntry) error {
		fi := FileInfo{Path: displayPath(e.path), ModTime: time.Unix(e.st.Mtim.Unix()).UTC(), IsDir: e.dir}
		if !e.dir {
			fi.Size = e.st.Size
		}
		out = append(out, fi)
		if len(out) >= maxListEntries {
			return errScanBound
		}
		return nil
	})
	if err != nil {
		return nil, false, err
	}
	return out, res.truncated, nil
}

func fileError(err error, unsafePath string) error {
	if errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ENOTDIR) {
		return errdefs.New(errdefs.ErrNotFound, errdefs.CodeFileNotFound, "file %s not found", unsafePath)
	}
	var pe *fs.PathError
	if errors.As(err, &pe) {
		// os.Root's "path escapes from parent" and friends: the path is not usable.
		return errdefs.New(errdefs.ErrInvalid, "", "cannot open %s: %v", unsafePath, pe.Err)
	}
	return err
}

// openRegular opens a regular file on the disk for reading.
func openRegular(root *os.Root, dp, unsafePath string) (*os.File, fs.FileInfo, error) {
	f, err := root.OpenFile(dp, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return nil, nil, fileError(err, unsafePath)
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, nil, err
	}
	if !fi.Mode().IsRegular() {
		f.Close()
		return nil, nil, errdefs.New(errdefs.ErrInvalid, "", "%s is not a regular file", unsafePath)
	}
	return f, fi, nil
}

// OpenFile opens a regular file of the container for reading. The disk stays mounted
// until the reader is closed.
func (m *Manager) OpenFile(ctx context.Context, ws codebox.WorkspaceID, id, unsafePath string) (io.ReadCloser, FileInfo, error) {
	dp, err := diskPath(unsafePath)
	if err != nil {
		return nil, FileInfo{}, err
	}
	root, hold, err := m.openDisk(ctx, ws, id)
	if err != nil {
		return nil, FileInfo{}, err
	}
	f, fi, err := openRegular(root, dp, unsafePath)
	if err != nil {
		hold.release()
		return nil, FileInfo{}, err
	}
	if err := hold.add(f); err != nil {
		return nil, FileInfo{}, err
	}
	info := FileInfo{Path: displayPath(dp), Size: fi.Size(), ModTime: fi.ModTime().UTC()}
	// The size is fixed at open: a file the container keeps growing is cut there.
	return &diskReader{r: io.LimitReader(f, fi.Size()), hold: hold}, info, nil
}

// diskReader reads a container's file; deleting the container cuts it, and its next
// Read fails.
type diskReader struct {
	r    io.Reader
	hold *diskHold
}

func (d *diskReader) Read(p []byte) (int, error) { return d.r.Read(p) }

func (d *diskReader) Close() error {
	d.hold.release()
	return nil
}

// Upload writes r to unsafePath on the container's disk (under /workspace or /tmp),
// creating parent directories, owned by the container's user.
func (m *Manager) Upload(ctx context.Context, ws codebox.WorkspaceID, id, unsafePath string, r io.Reader) error {
	return m.withDisk(ctx, ws, id, func(inst *instance) error {
		if err := m.uploadLocked(inst, unsafePath, r); err != nil {
			return err
		}
		dp, err := diskPath(unsafePath)
		if err != nil {
			return err
		}
		return m.recordUpload(ctx, ws, id, dp)
	})
}

// withDisk runs fn holding ws's container id with its disk mounted; the container is
// used (its idle and expiry clocks restart).
func (m *Manager) withDisk(ctx context.Context, ws codebox.WorkspaceID, id string, fn func(inst *instance) error) error {
	inst, err := m.use(ctx, ws, id)
	if err != nil {
		return err
	}
	defer inst.release()
	if err := m.mountLocked(ctx, inst); err != nil {
		return err
	}
	defer m.touch(ctx, inst)
	return fn(inst)
}

func (m *Manager) uploadLocked(inst *instance, unsafePath string, r io.Reader) error {
	dp, err := diskPath(unsafePath)
	if err != nil {
		return err
	}
	if dp == "workspace" || dp == "tmp" {
		return errdefs.New(errdefs.ErrInvalid, "", "%s is a directory", unsafePath)
	}
	root, err := os.OpenRoot(inst.mntDir())
	if err != nil {
		return err
	}
	defer root.Close()
	// Parents are created one by one so each can be given to the container's user.
	parts := strings.Split(path.Dir(dp), "/")
	for i := 2; i <= len(parts); i++ {
		dir := strings.Join(parts[:i], "/")
		if err := root.Mkdir(dir, 0o755); err == nil {
			if err := root.Lchown(dir, inst.hostUser(), inst.hostUser()); err != nil {
				return err
			}
		} else if !errors.Is(err, fs.ErrExist) {
			return fileError(err, unsafePath)
		}
	}
	f, err := root.OpenFile(dp, os.O_WRONLY|os.O_CREATE|syscall.O_NONBLOCK, 0o644)
	if err != nil {
		return fileError(err, unsafePath)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return err
	}
	if !fi.Mode().IsRegular() {
		return errdefs.New(errdefs.ErrInvalid, "", "%s is not a regular file", unsafePath)
	}
	if err := f.Chown(inst.hostUser(), inst.hostUser()); err != nil {
		return err
	}
	if err := f.Truncate(0); err != nil {
		return err
	}
	if _, err := io.Copy(f, r); err != nil {
		if errors.Is(err, syscall.ENOSPC) {
			return errdefs.New(errdefs.ErrTooLarge, "", "the container's disk is full")
		}
		return err
	}
	return f.Close()
}

// stamp identifies one version of a file for change detection.
type stamp struct {
	size  int64
	mtime int64
	ino   uint64
	ctime int64
}

// collectOutputs stores the files that changed between before and the disk's current
// state, within the per-run caps.
func (m *Manager) collectOutputs(ctx context.Context, ws codebox.WorkspaceID, inst *instance, before *workspaceScan, res *ExecResult) {
	if m.files == nil || before == nil {
		return
	}
	after, err := m.scanWorkspace(ctx, inst.mntDir())
	if err != nil {
		m.logger.Warn("scan workspace", "container", inst.id, "err", err)
		return
	}
	// Names that cannot be stored were counted against the walk's bound and left
	// out; the run that made them is told once, and nothing is logged per name.
	if n := after.badNames - before.badNames; n > 0 {
		res.FilesError = &OutputError{Code: "invalid_file_name", Message: fmt.Sprintf(
			"%d generated files were not kept: their names have control characters or are not valid UTF-8", n)}
	}
	var changed []string
	for p, s := range after.files {
		if old, ok := before.files[p]; !ok || old != s {
			changed = append(changed, p)
		}
	}
	if len(changed) == 0 {
		return
	}
	sort.Strings(changed)
	root, err := os.OpenRoot(inst.mntDir())
	if err != nil {
		m.logger.Warn("open workspace", "container", inst.id, "err", err)
		return
	}
	defer root.Close()
	var total int64
	fail := func(code, format string, args ...any) {
		if res.FilesError == nil {
			res.FilesError = &OutputError{Code: code, Message: fmt.Sprintf(format, args...)}
		}
	}
	for _, p := range changed {
		if len(res.Files) >= m.cfg.MaxOutputFiles {
			fail(errdefs.CodeOutputFileTooLarge, "only the first %d generated files were kept", m.cfg.MaxOutputFiles)
			break
		}
		f, fi, err := openRegular(root, p, p)
		if err != nil {
			continue // gone or replaced since the scan
		}
		size := fi.Size()
		if size > m.cfg.MaxOutputFileSize {
			f.Close()
			fail(errdefs.CodeOutputFileTooLarge, "%s is %d bytes; generated files over %d bytes are not kept", displayPath(p), size, m.cfg.MaxOutputFileSize)
			continue
		}
		if total+size > m.cfg.MaxOutputBytes {
			f.Close()
			fail(errdefs.CodeOutputFileTooLarge, "generated files over %d bytes in total are not kept", m.cfg.MaxOutputBytes)
			continue
		}
		total += size
		id, mime, err := m.files.StoreOutput(ctx, ws, path.Base(p), io.LimitReader(f, size))
		f.Close()
		if err != nil {
			switch {
			case errors.Is(err, errdefs.ErrTooLarge):
				fail(errdefs.CodeOutputFileTooLarge, "%s is too large to store", displayPath(p))
			case errors.Is(err, errdefs.ErrQuota):
				fail(errdefs.CodeStorageQuotaExceeded, "the workspace's storage quota is exhausted")
			case errors.Is(err, errdefs.ErrInsufficientStorage):
				fail(errdefs.Code(err), "%s was not kept: the server is out of storage space", displayPath(p))
			default:
				m.logger.Error("store generated file", "container", inst.id, "path", p, "err", err)
				fail(errdefs.CodeOutputStoreFailed, "%s could not be stored", displayPath(p))
			}
			continue
		}
		res.Files = append(res.Files, OutputFile{FileID: id, Path: displayPath(p), Size: size, MimeType: mime})
	}
}
