package agent

import (
	"errors"
	"io/fs"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"sync"
	"syscall"
)

// A sandbox cannot be checkpointed while the agent listens on its host socket (gVisor
// refuses to save "an endpoint with bound host socket"). On OpSuspend the agent closes
// its listener, and the host checkpoints; after a restore the host sends ResumeSignal
// and the agent listens again on a fresh socket. The REPL and every other process keep
// running throughout: only the channel to the host goes and comes back.

// ResumeSignal tells a suspended agent to listen again.
const ResumeSignal = syscall.SIGUSR2

// listener is the agent's host socket, closable for a checkpoint.
type listener struct {
	path   string
	resume chan os.Signal

	mu        sync.Mutex
	ln        net.Listener
	suspended bool
}

func listen(path string) (*listener, error) {
	l := &listener{path: path, resume: make(chan os.Signal, 1)}
	// User code can send the signal too: it only matters while suspended.
	signal.Notify(l.resume, ResumeSignal)
	if err := l.open(); err != nil {
		return nil, err
	}
	return l, nil
}

func (l *listener) open() error {
	os.Remove(l.path)
	ln, err := net.Listen("unix", l.path)
	if err != nil {
		return err
	}
	l.mu.Lock()
	l.ln, l.suspended = ln, false
	l.mu.Unlock()
	return nil
}

// suspend closes the listener; accept then waits for ResumeSignal.
func (l *listener) suspend() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.suspended {
		return nil
	}
	// A signal sent before now is not a resume.
	select {
	case <-l.resume:
	default:
	}
	l.suspended = true
	err := l.ln.Close()
	// The sandbox's saved file system must not name the socket: the host may remove
	// it meanwhile, and a restore fails on files that went missing.
	if rerr := os.Remove(l.path); err == nil && !errors.Is(rerr, fs.ErrNotExist) {
		err = rerr
	}
	return err
}

// accept is net.Listener's Accept across suspensions.
func (l *listener) accept() (net.Conn, error) {
	for {
		l.mu.Lock()
		ln := l.ln
		l.mu.Unlock()
		c, err := ln.Accept()
		if err == nil {
			return c, nil
		}
		l.mu.Lock()
		suspended := l.suspended
		l.mu.Unlock()
		if !suspended {
			return nil, err
		}
		<-l.resume
		if err := l.open(); err != nil {
			return nil, err
		}
	}
}

// socketPath is where the agent listens.
var socketPath = filepath.Join(SocketDir, SocketName)
