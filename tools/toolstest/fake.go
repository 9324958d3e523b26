// Package toolstest provides a tools.Sandbox for tests of the code execution loop that
// must run without root, runc or the container image: each "container" is a directory
// on the host and commands run there with the host's bash. It isolates nothing and is
// for tests only.
package toolstest

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/codebox-dev/codebox"
	"github.com/codebox-dev/codebox/errdefs"
	"github.com/codebox-dev/codebox/files"
	"github.com/codebox-dev/codebox/ids"
	"github.com/codebox-dev/codebox/sandbox"
)

// FileCreator stores generated files; *files.Service satisfies it.
type FileCreator interface {
	Create(ctx context.Context, ws codebox.WorkspaceID, nf files.NewFile) (*files.File, error)
}

// Sandbox is a host-directory stand-in for *sandbox.Manager.
type Sandbox struct {
	Root  string
	Files FileCreator // nil: generated files are not stored
	// Timeout is the default command limit.
	Timeout time.Duration
	// MaxOutputFile is the largest generated file stored; larger ones set FilesError.
	MaxOutputFile int64

	mu         sync.Mutex // guards containers
	containers map[string]*container
}

type container struct {
	c   sandbox.Container
	dir string
}

// New returns a Sandbox keeping its containers under root.
func New(root string, fc FileCreator) *Sandbox {
	return &Sandbox{Root: root, Files: fc, Timeout: 30 * time.Second, MaxOutputFile: 10 << 20, containers: map[string]*container{}}
}

// Create makes a new container directory.
func (s *Sandbox) Create(ctx context.Context, ws codebox.WorkspaceID, opts sandbox.CreateOptions) (*sandbox.Container, error) {
	// Like a Manager without custom images.
	if opts.Image != "" && opts.Image != sandbox.DefaultImage {
		return nil, errdefs.New(errdefs.ErrInvalid, "", "unknown image %q: this server has no custom images", opts.Image)
	}
	id := ids.New(sandbox.IDPrefix)
	dir := filepath.Join(s.Root, id)
	if err := os.MkdirAll(filepath.Join(dir, "workspace"), 0o755); err != nil {
		return nil, err
	}
	os.MkdirAll(filepath.Join(dir, "tmp"), 0o755)
	now := time.Now().UTC()
	c := &container{dir: dir, c: sandbox.Container{ID: id, Workspace: ws, Name: opts.Name, Status: sandbox.StatusRunning,
		CreatedAt: now, LastActiveAt: now, IdleExpiresAt: now.Add(5 * time.Minute), ExpiresAt: now.Add(30 * 24 * time.Hour)}}
	s.mu.Lock()
	s.containers[id] = c
	s.mu.Unlock()
	cp := c.c
	return &cp, nil
}

func (s *Sandbox) get(ws codebox.WorkspaceID, id string) (*container, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok := s.containers[id]
	if !ok || c.c.Workspace != ws {
		return nil, errdefs.New(errdefs.ErrNotFound, "", "container %s not found", id)
	}
	return c, nil
}

func (s *Sandbox) usable(ws codebox.WorkspaceID, id string) (*container, error) {
	c, err := s.get(ws, id)
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if c.c.Status == sandbox.StatusExpired {
		return nil, errdefs.New(errdefs.ErrInvalid, errdefs.CodeContainerExpired, "container %s has expired", id)
	}
	c.c.LastActiveAt = time.Now().UTC()
	c.c.IdleExpiresAt = c.c.LastActiveAt.Add(5 * time.Minute)
	return c, nil
}

// Get returns the container.
func (s *Sandbox) Get(ctx context.Context, ws codebox.WorkspaceID, id string) (*sandbox.Container, error) {
	c, err := s.get(ws, id)
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	cp := c.c
	return &cp, nil
}

// Expire marks a container expired, as its hard limit would.
func (s *Sandbox) Expire(id string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if c, ok := s.containers[id]; ok {
		c.c.Status = sandbox.StatusExpired
		c.c.ExpiresAt = time.Now().UTC().Add(-time.Second)
	}
}

// Delete removes the container and its directory.
func (s *Sandbox) Delete(ctx context.Context, ws codebox.WorkspaceID, id string) error {
	c, err := s.get(ws, id)
	if err != nil {
		return err
	}
	s.mu.Lock()
	delete(s.containers, id)
	s.mu.Unlock()
	return os.RemoveAll(c.dir)
}

// Dir returns the host directory of a container's /workspace.
func (s *Sandbox) Dir(id string) string { return filepath.Join(s.Root, id, "workspace") }

// hostPath maps a container path to the host: /workspace/x and relative x to the
// workspace directory, /tmp/x to the container's tmp.
func (c *container) hostPath(unsafePath string) (string, error) {
	p := filepath.Clean("/" + strings.TrimPrefix(unsafePath, "/"))
	if !strings.HasPrefix(unsafePath, "/") {
		p = filepath.Clean("/workspace/" + unsafePath)
	}
	switch {
	case p == "/workspace" || strings.HasPrefix(p, "/workspace/"):
		return filepath.Join(c.dir, p), nil
	case p == "/tmp" || strings.HasPrefix(p, "/tmp/"):
		return filepath.Join(c.dir, p), nil
	}
	return "", errdefs.New(errdefs.ErrInvalid, "", "path %s is outside /workspace and /tmp", unsafePath)
}

type snapshot map[string]time.Time

func snap(dir string) snapshot {
	m := snapshot{}
	filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() {
			if fi, err := d.Info(); err == nil {
				m[p] = fi.ModTime()
			}
		}
		return nil
	})
	return m
}

// Exec runs command with bash in the container's workspace directory.
func (s *Sandbox) Exec(ctx context.Context, ws codebox.WorkspaceID, id string, req sandbox.ExecRequest) (*sandbox.ExecResult, error) {
	c, err := s.usable(ws, id)
	if err != nil {
		return nil, err
	}
	return s.run(ctx, ws, c, req.Timeout, "bash", "-c", req.Command)
}

// RunPython runs code with python3 (a fresh interpreter: the fake has no REPL).
func (s *Sandbox) RunPython(ctx context.Context, ws codebox.WorkspaceID, id string, req sandbox.PythonRequest) (*sandbox.ExecResult, error) {
	c, err := s.usable(ws, id)
	if err != nil {
		return nil, err
	}
	return s.run(ctx, ws, c, req.Timeout, "python3", "-c", req.Code)
}

func (s *Sandbox) run(ctx context.Context, ws codebox.WorkspaceID, c *container, timeout time.Duration, argv ...string) (*sandbox.ExecResult, error) {
	if timeout <= 0 {
		timeout = s.Timeout
	}
	wsDir := filepath.Join(c.dir, "workspace")
	before := snap(wsDir)
	start := time.Now()
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Dir = wsDir
	cmd.Env = append(os.Environ(), "HOME="+wsDir, "TMPDIR="+filepath.Join(c.dir, "tmp"))
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	res := &sandbox.ExecResult{}
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	select {
	case err := <-done:
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			res.ExitCode = ee.ExitCode()
		} else if err != nil {
			return nil, err
		}
	case <-timer.C:
		syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		<-done
		res.TimedOut, res.ExitCode = true, 137
	case <-ctx.Done():
		syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		<-done
		return nil, ctx.Err()
	}
	res.Stdout, res.Stderr, res.Duration = stdout.String(), stderr.String(), time.Since(start)
	after := snap(wsDir)
	for p, mt := range after {
		if old, ok := before[p]; ok && old.Equal(mt) {
			continue
		}
		rel, _ := filepath.Rel(wsDir, p)
		fi, err := os.Stat(p)
		if err != nil {
			continue
		}
		if fi.Size() > s.MaxOutputFile {
			res.FilesError = &sandbox.OutputError{Code: errdefs.CodeOutputFileTooLarge, Message: fmt.Sprintf("%s is larger than %d bytes", rel, s.MaxOutputFile)}
			continue
		}
		if s.Files == nil {
			res.Files = append(res.Files, sandbox.OutputFile{Path: rel, Size: fi.Size()})
			continue
		}
		f, err := os.Open(p)
		if err != nil {
			continue
		}
		nf, err := s.Files.Create(ctx, ws, files.NewFile{Filename: filepath.Base(rel), Downloadable: true, Body: f})
		f.Close()
		if err != nil {
			return nil, err
		}
		res.Files = append(res.Files, sandbox.OutputFile{FileID: nf.ID, Path: rel, Size: nf.Size, MimeType: nf.MimeType})
	}
	return res, nil
}

// ViewFile reads a text file with line numbers.
func (s *Sandbox) ViewFile(ctx context.Context, ws codebox.WorkspaceID, id, unsafePath string, viewRange []int) (*sandbox.ViewResult, error) {
	c, err := s.usable(ws, id)
	if err != nil {
		return nil, err
	}
	p, err := c.hostPath(unsafePath)
	if err != nil {
		return nil, err
	}
	data, err := os.ReadFile(p)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, errdefs.New(errdefs.ErrNotFound, "", "file %s does not exist", unsafePath)
	} else if err != nil {
		return nil, errdefs.New(errdefs.ErrInvalid, "", "cannot read %s: %v", unsafePath, err)
	}
	var lines []string
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		lines = append(lines, sc.Text())
	}
	start, end := 1, len(lines)
	if viewRange != nil {
		start = viewRange[0]
		if viewRange[1] != -1 && viewRange[1] < end {
			end = viewRange[1]
		}
	}
	var b strings.Builder
	for i := start; i <= end && i <= len(lines); i++ {
		fmt.Fprintf(&b, "%6d\t%s\n", i, lines[i-1])
	}
	n := end - start + 1
	if n < 0 {
		n = 0
	}
	return &sandbox.ViewResult{FileType: "text", Content: b.String(), NumLines: n, StartLine: start, TotalLines: len(lines)}, nil
}

// CreateFile writes a file.
func (s *Sandbox) CreateFile(ctx context.Context, ws codebox.WorkspaceID, id, unsafePath, text string) (bool, error) {
	c, err := s.usable(ws, id)
	if err != nil {
		return false, err
	}
	p, err := c.hostPath(unsafePath)
	if err != nil {
		return false, err
	}
	_, statErr := os.Stat(p)
	os.MkdirAll(filepath.Dir(p), 0o755)
	return statErr == nil, os.WriteFile(p, []byte(text), 0o644)
}

// StrReplace replaces the only occurrence of oldStr.
func (s *Sandbox) StrReplace(ctx context.Context, ws codebox.WorkspaceID, id, unsafePath, oldStr, newStr string) (*sandbox.ReplaceResult, error) {
	c, err := s.usable(ws, id)
	if err != nil {
		return nil, err
	}
	p, err := c.hostPath(unsafePath)
	if err != nil {
		return nil, err
	}
	data, err := os.ReadFile(p)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, errdefs.New(errdefs.ErrNotFound, "", "file %s does not exist", unsafePath)
	} else if err != nil {
		return nil, err
	}
	text := string(data)
	switch n := strings.Count(text, oldStr); n {
	case 0:
		return nil, errdefs.New(errdefs.ErrInvalid, errdefs.CodeStringNotFound, "old_str was not found in %s", unsafePath)
	case 1:
	default:
		return nil, errdefs.New(errdefs.ErrInvalid, errdefs.CodeStringNotUnique, "old_str occurs %d times in %s", n, unsafePath)
	}
	i := strings.Index(text, oldStr)
	line := strings.Count(text[:i], "\n") + 1
	if err := os.WriteFile(p, []byte(strings.Replace(text, oldStr, newStr, 1)), 0o644); err != nil {
		return nil, err
	}
	oldLines, newLines := strings.Split(oldStr, "\n"), strings.Split(newStr, "\n")
	r := &sandbox.ReplaceResult{OldStart: line, OldLines: len(oldLines), NewStart: line, NewLines: len(newLines)}
	for _, l := range oldLines {
		r.Lines = append(r.Lines, "-"+l)
	}
	for _, l := range newLines {
		r.Lines = append(r.Lines, "+"+l)
	}
	return r, nil
}

// Upload writes r into the container.
func (s *Sandbox) Upload(ctx context.Context, ws codebox.WorkspaceID, id, unsafePath string, r io.Reader) error {
	c, err := s.usable(ws, id)
	if err != nil {
		return err
	}
	p, err := c.hostPath(unsafePath)
	if err != nil {
		return err
	}
	os.MkdirAll(filepath.Dir(p), 0o755)
	f, err := os.Create(p)
	if err != nil {
		return err
	}
	if _, err := io.Copy(f, r); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
