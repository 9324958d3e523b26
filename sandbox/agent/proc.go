package agent

import (
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"time"
)

// reaper is the init's child bookkeeping. As PID 1 the agent inherits every orphan in
// the container, so one goroutine reaps all children and hands the statuses of the ones
// the agent started to whoever waits for them.
type reaper struct {
	mu sync.Mutex
	// waiting maps a started child's PID to the channel its status goes to.
	waiting map[int]chan syscall.WaitStatus
}

func newReaper() *reaper {
	return &reaper{waiting: make(map[int]chan syscall.WaitStatus)}
}

// start forks argv with the given files as fds 0, 1, 2, … in a new process group and
// returns its PID and a channel that receives its exit status.
func (r *reaper) start(argv []string, env []string, dir string, files []uintptr) (int, <-chan syscall.WaitStatus, error) {
	// Registering under the lock the reaper takes to dispatch means a child that exits
	// at once is never mistaken for an orphan.
	r.mu.Lock()
	defer r.mu.Unlock()
	sys := &syscall.SysProcAttr{Setpgid: true}
	if privileged {
		// The user's process has none of the agent's capabilities (setuid from root
		// clears them) and, not being the agent's user, cannot signal it.
		sys.Credential = &syscall.Credential{Uid: UserID, Gid: UserID, Groups: []uint32{}}
	}
	pid, err := syscall.ForkExec(argv[0], argv, &syscall.ProcAttr{
		Dir:   dir,
		Env:   env,
		Files: files,
		Sys:   sys,
	})
	if err != nil {
		return 0, nil, err
	}
	ch := make(chan syscall.WaitStatus, 1)
	r.waiting[pid] = ch
	return pid, ch, nil
}

func (r *reaper) reap() {
	sigs := make(chan os.Signal, 16)
	signal.Notify(sigs, syscall.SIGCHLD)
	tick := time.NewTicker(time.Second) // a lost SIGCHLD must not leave zombies forever
	defer tick.Stop()
	for {
		select {
		case <-sigs:
		case <-tick.C:
		}
		for {
			var ws syscall.WaitStatus
			pid, err := syscall.Wait4(-1, &ws, syscall.WNOHANG, nil)
			if err == syscall.EINTR {
				continue
			}
			if err != nil || pid <= 0 {
				break
			}
			r.mu.Lock()
			ch, ok := r.waiting[pid]
			delete(r.waiting, pid)
			r.mu.Unlock()
			if ok {
				ch <- ws
			}
		}
	}
}

// privileged is whether the agent runs as root (of its user namespace) and so runs
// user code as UserID.
var privileged = os.Getuid() == 0

// asUser runs fn on a thread whose effective user and group are UserID, so that what
// fn creates belongs to the user and it reaches only what the user may. Credentials
// are per thread in the kernel (Go's Setuid changes every thread; the raw calls here
// change this one), and setting the effective user to another than root clears the
// thread's effective capabilities until it is set back.
func asUser(fn func() error) error { return runAs(false, fn) }

// asUserFully is asUser with the thread's real user and group the user's too (the
// saved ones stay root's, to come back): gVisor lets a process into another's
// /proc/PID/fd by their real IDs, where Linux compares the filesystem IDs.
func asUserFully(fn func() error) error { return runAs(true, fn) }

func runAs(real bool, fn func() error) error {
	if !privileged {
		return fn()
	}
	runtime.LockOSThread()
	if err := setIDs(UserID, real); err != nil {
		setIDs(0, real)
		runtime.UnlockOSThread()
		return err
	}
	err := fn()
	if setIDs(0, real) == nil {
		runtime.UnlockOSThread()
	} // else the thread keeps the user's identity and exits with this goroutine
	return err
}

// setIDs sets the calling thread's effective (and with real, real) group and user: the
// group first when leaving root (it needs CAP_SETGID), the user first when coming back.
func setIDs(id int, real bool) error {
	calls := []uintptr{syscall.SYS_SETRESGID, syscall.SYS_SETRESUID}
	if id == 0 {
		calls[0], calls[1] = calls[1], calls[0]
	}
	r := ^uintptr(0)
	if real {
		r = uintptr(id)
	}
	for _, nr := range calls {
		if _, _, errno := syscall.RawSyscall(nr, r, uintptr(id), ^uintptr(0)); errno != 0 {
			return fmt.Errorf("set IDs to %d: %w", id, errno)
		}
	}
	return nil
}

// killGroup kills every process in the group, repeating while it still has members so
// that processes forked during the kill are caught too.
func killGroup(pgid int) {
	for range 100 {
		if err := syscall.Kill(-pgid, syscall.SIGKILL); err != nil {
			return
		}
		time.Sleep(time.Millisecond)
	}
}

// commandEnv is the whole environment of user code: the agent's own is never passed on.
var commandEnv = []string{
	"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
	"HOME=" + WorkDir,
	"LANG=C.UTF-8",
	"LC_ALL=C.UTF-8",
	"TMPDIR=/tmp",
	"MPLBACKEND=Agg",
	// Caches and configs go to /tmp, which persists with the container but is not
	// scanned for generated files. MPLCONFIGDIR is left to the image, which seeds it
	// with a prebuilt font cache.
	"XDG_CACHE_HOME=/tmp/.cache",
	"XDG_CONFIG_HOME=/tmp/.config",
	"PYTHONDONTWRITEBYTECODE=1",
	"TERM=dumb",
}

// capture copies a pipe to data events until EOF, forwarding at most MaxOutput bytes and
// discarding the rest so the writer never blocks.
type capture struct {
	stream    string
	sent      int
	truncated bool
}

func (cp *capture) copy(c *conn, r io.Reader) {
	buf := make([]byte, ChunkSize)
	for {
		n, err := r.Read(buf)
		if n > 0 {
			cp.write(c, buf[:n])
		}
		if err != nil {
			return
		}
	}
}

func (cp *capture) write(c *conn, p []byte) {
	room := MaxOutput - cp.sent
	if len(p) > room {
		p = p[:room]
		cp.truncated = true
	}
	if len(p) == 0 {
		return
	}
	cp.sent += len(p)
	// A host that went away stops receiving but the command still runs to its end.
	c.send(&Event{Type: EventData, Stream: cp.stream, Data: append([]byte(nil), p...)})
}

// exec runs one bash command and streams its events.
func (s *server) exec(c *conn, req *Request) {
	timeout := time.Duration(req.TimeoutMS) * time.Millisecond
	if timeout <= 0 {
		c.fail(KindInvalid, errString("exec needs a timeout"))
		return
	}
	if err := CheckCommand(req.Command); err != nil {
		c.fail(KindInvalid, err)
		return
	}
	// One command or cell at a time; what holds a command's pipes ends with it
	// (strays.go).
	s.repl.turn <- struct{}{}
	defer func() { <-s.repl.turn }()
	stdinR, err := os.Open(os.DevNull)
	if err != nil {
		c.fail(KindInternal, err)
		return
	}
	defer stdinR.Close()
	outR, outW, err := os.Pipe()
	if err != nil {
		c.fail(KindInternal, err)
		return
	}
	defer outR.Close()
	errR, errW, err := os.Pipe()
	if err != nil {
		outW.Close()
		c.fail(KindInternal, err)
		return
	}
	defer errR.Close()
	links, err := pipeLinks(outR, errR)
	if err != nil {
		outW.Close()
		errW.Close()
		c.fail(KindInternal, err)
		return
	}

	began := time.Now()
	pid, done, err := s.procs.start([]string{"/bin/bash", "-c", req.Command}, s.env, WorkDir,
		[]uintptr{stdinR.Fd(), outW.Fd(), errW.Fd()})
	outW.Close()
	errW.Close()
	if err != nil {
		c.fail(KindInternal, err)
		return
	}
	if req.ID != "" {
		s.mu.Lock()
		s.running[req.ID] = pid
		s.mu.Unlock()
		defer func() {
			s.mu.Lock()
			delete(s.running, req.ID)
			s.mu.Unlock()
		}()
		if s.killedEarly(req.ID) {
			killTree(pid)
		}
	}
	c.send(&Event{Type: EventStart, PID: pid})

	out := &capture{stream: Stdout}
	errc := &capture{stream: Stderr}
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); out.copy(c, outR) }()
	go func() { defer wg.Done(); errc.copy(c, errR) }()

	timer := time.NewTimer(timeout)
	defer timer.Stop()
	var ws syscall.WaitStatus
	timedOut := false
	select {
	case ws = <-done:
	case <-timer.C:
		timedOut = true
		killTree(pid)
		ws = <-done
	}
	// What still holds the command's output a moment after its end goes with it; the
	// rest may stay.
	endHolders(links, s.repl.keep, holdGrace)
	drained := make(chan struct{})
	go func() { wg.Wait(); close(drained) }()
	select {
	case <-drained:
	case <-time.After(drainGrace):
		// A descriptor passed on (over a socket) escapes the listing; stop reading.
		outR.Close()
		errR.Close()
		<-drained
	}
	end := &Event{Type: EventEnd, TimedOut: timedOut, Truncated: out.truncated || errc.truncated,
		DurationMS: time.Since(began).Milliseconds()}
	fillStatus(end, ws)
	c.send(end)
}

func fillStatus(ev *Event, ws syscall.WaitStatus) {
	switch {
	case ws.Exited():
		ev.ExitCode = ws.ExitStatus()
	case ws.Signaled():
		ev.Signal = int(ws.Signal())
		ev.ExitCode = 128 + ev.Signal
	}
}

// CheckCommand says why bash cannot run command, or returns nil. A command is one
// argv string, so it can neither hold a NUL nor exceed MaxCommandBytes.
func CheckCommand(command string) error {
	if strings.IndexByte(command, 0) >= 0 {
		return errString("the command contains a NUL byte, which a shell command cannot hold")
	}
	if len(command) > MaxCommandBytes {
		return errString(fmt.Sprintf("the command is %d bytes, longer than the %d a command may be; write long scripts to a file and run the file", len(command), MaxCommandBytes))
	}
	return nil
}

type errString string

func (e errString) Error() string { return string(e) }
