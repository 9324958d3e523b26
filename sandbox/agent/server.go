package agent

import (
	"bufio"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"runtime"
	"sync"
	"syscall"
	"time"
)

// reservedThreads is how many OS threads the agent starts with: more than it ever
// needs at once (its blocking system calls: process starts and waits, file I/O).
const reservedThreads = 16

// Main runs the agent as the container's init and returns only on a fatal error. It is
// what "codebox agent" calls.
func Main() int {
	// Nobody else in the container may read the agent's memory or its /proc files.
	if _, _, errno := syscall.RawSyscall(syscall.SYS_PRCTL, syscall.PR_SET_DUMPABLE, 0, 0); errno != 0 {
		fmt.Fprintln(os.Stderr, "agent: prctl:", errno)
		return 1
	}
	token := os.Getenv(TokenEnv)
	os.Unsetenv(TokenEnv)
	if token == "" {
		fmt.Fprintln(os.Stderr, "agent: no token")
		return 1
	}
	// An init survives what it does not handle, and the Go runtime would otherwise
	// exit on these. They are caught and dropped, not ignored: an ignored signal stays
	// ignored across exec, and every command would start deaf to Ctrl-C, hangups and
	// broken pipes.
	dropped := make(chan os.Signal, 16)
	signal.Notify(dropped, syscall.SIGTERM, syscall.SIGINT, syscall.SIGHUP, syscall.SIGQUIT,
		syscall.SIGUSR1, syscall.SIGUSR2, syscall.SIGPIPE, syscall.SIGTTIN, syscall.SIGTTOU)
	go func() {
		for range dropped {
		}
	}()

	if err := setupEgress(); err != nil {
		fmt.Fprintln(os.Stderr, "agent: egress:", err)
		return 1
	}
	procs := newReaper()
	var fork *forkServer
	if os.Getenv(PreforkEnv) == "1" {
		var err error
		if fork, err = setupForkServer(procs); err != nil {
			fmt.Fprintln(os.Stderr, "agent: fork server:", err)
			return 1
		}
	}
	s := newServer(token, procs, fork)
	go s.procs.reap()
	ln, err := listen(socketPath)
	if err != nil {
		fmt.Fprintln(os.Stderr, "agent:", err)
		return 1
	}
	if err := loadMounts(); err != nil {
		fmt.Fprintln(os.Stderr, "agent: mounts:", err)
		return 1
	}
	// The runtime gave the init a host file as stdio (the bundle's log). From here on
	// nothing in the container may reach it, not even through the agent's own
	// /proc/self/fd: the agent's stdio becomes /dev/null.
	if err := detachStdio(); err != nil {
		fmt.Fprintln(os.Stderr, "agent: stdio:", err)
		return 1
	}
	// In the background: the threads need not delay the container's first answer.
	go warmThreads(reservedThreads)
	if os.Getenv(WarmupEnv) != "" {
		go s.repl.prestart()
	}
	s.ln = ln
	err = s.serve()
	fmt.Fprintln(os.Stderr, "agent:", err)
	return 1
}

// detachStdio points fds 0, 1 and 2 at /dev/null.
func detachStdio() error {
	null, err := os.OpenFile(os.DevNull, os.O_RDWR, 0)
	if err != nil {
		return err
	}
	defer null.Close()
	for fd := range 3 {
		if err := syscall.Dup3(int(null.Fd()), fd, 0); err != nil {
			return err
		}
	}
	return nil
}

// warmThreads makes the Go runtime create n OS threads now and keep them idle. A fork
// loop can take every task of the container's PID limit, and a runtime that then needs
// a new thread (for a system call that blocks, such as the fork of the python3 fork
// server) cannot create it and ends the process: the container's init. Idle threads
// are kept and reused. Each goroutine holds its own thread until all have one; once
// unlocked, the threads go idle rather than away.
func warmThreads(n int) {
	var ready, done sync.WaitGroup
	release := make(chan struct{})
	for range n {
		ready.Add(1)
		done.Add(1)
		go func() {
			defer done.Done()
			runtime.LockOSThread()
			ready.Done()
			<-release
			runtime.UnlockOSThread()
		}()
	}
	ready.Wait()
	close(release)
	done.Wait()
}

type server struct {
	token string
	ln    *listener
	procs *reaper
	repl  *repl
	// env is the environment of user code.
	env []string

	mu sync.Mutex
	// running maps a command's host-chosen ID to its process group, for kill requests.
	running map[string]int
	// killed remembers kills of IDs not running yet: a kill can overtake the request
	// it cancels, which must then not start.
	killed map[string]time.Time
}

// killedEarly reports (and forgets) whether a kill for id arrived before it started.
func (s *server) killedEarly(id string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, ok := s.killed[id]
	delete(s.killed, id)
	return ok
}

func newServer(token string, p *reaper, fork *forkServer) *server {
	env := commandEnv
	if fork != nil {
		env = withBinDir(env)
	}
	s := &server{token: token, procs: p, env: env, running: make(map[string]int), killed: make(map[string]time.Time)}
	s.repl = newREPL(p, fork, env, s.killedEarly)
	return s
}

func (s *server) serve() error {
	for {
		c, err := s.ln.accept()
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				continue
			}
			return err
		}
		go s.handle(c)
	}
}

// conn writes events to one connection; it is safe for concurrent use.
type conn struct {
	mu  sync.Mutex
	enc *json.Encoder
	err error
}

func (c *conn) send(ev *Event) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.err == nil {
		c.err = c.enc.Encode(ev)
	}
	return c.err
}

func (c *conn) fail(kind string, err error) {
	c.send(&Event{Type: EventError, ErrorKind: kind, Error: err.Error()})
}

func (s *server) handle(nc net.Conn) {
	defer nc.Close()
	r := bufio.NewReaderSize(io.LimitReader(nc, MaxRequestBytes), 64<<10)
	line, err := r.ReadBytes('\n')
	if err != nil {
		return
	}
	c := &conn{enc: json.NewEncoder(nc)}
	var req Request
	if err := json.Unmarshal(line, &req); err != nil {
		c.fail(KindInvalid, fmt.Errorf("bad request: %w", err))
		return
	}
	if subtle.ConstantTimeCompare([]byte(req.Token), []byte(s.token)) != 1 {
		c.fail(KindInvalid, errors.New("bad token"))
		return
	}
	if req.Version != Version {
		c.fail(KindInvalid, fmt.Errorf("protocol version %d, agent speaks %d", req.Version, Version))
		return
	}
	switch req.Op {
	case OpPing:
		c.send(&Event{Type: EventHello, Version: Version})
	case OpExec:
		s.exec(c, &req)
	case OpPython:
		var replies <-chan Reply
		if len(req.Functions) > 0 {
			replies = readReplies(r)
		}
		s.repl.run(c, &req, replies)
	case OpKill:
		s.kill(c, &req)
	case OpSuspend:
		if err := s.ln.suspend(); err != nil {
			c.fail(KindInternal, err)
			return
		}
		c.send(&Event{Type: EventOK})
	case OpRead, OpWrite:
		// File requests act for the user: with the user's permissions, and what they
		// create is the user's.
		err := asUser(func() error {
			if req.Op == OpRead {
				readFile(c, &req)
			} else {
				writeFile(c, &req)
			}
			return nil
		})
		if err != nil {
			c.fail(KindInternal, err)
		}
	default:
		c.fail(KindInvalid, fmt.Errorf("unknown op %q", req.Op))
	}
}

func (s *server) kill(c *conn, req *Request) {
	if req.ID == "" {
		c.fail(KindInvalid, errString("kill needs an id"))
		return
	}
	// One critical section for the lookup and the tombstone, so that a command
	// registering itself meanwhile sees one or the other.
	s.mu.Lock()
	pgid, ok := s.running[req.ID]
	if !ok {
		ok = s.repl.interrupt(req.ID)
	}
	if !ok {
		now := time.Now()
		for id, at := range s.killed {
			if now.Sub(at) > time.Minute {
				delete(s.killed, id)
			}
		}
		if len(s.killed) < 1024 {
			s.killed[req.ID] = now
		}
	}
	s.mu.Unlock()
	if pgid > 0 {
		killTree(pgid)
	}
	c.send(&Event{Type: EventOK, Existed: ok})
}
