package agent

import (
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"github.com/codebox-dev/codebox/sandbox/agent/prefork"
)

// PreforkEnv, set to "1" by the host, gives every python3 of user code the fork server
// of package prefork.
const PreforkEnv = "CODEBOX_AGENT_PREFORK"

// forkServer is the container's pre-imported Python fork server. It starts on the
// second demand: the python3 front end that finds no server connects to
// prefork.StartSocket and runs its own program cold; the second one to ask starts the
// server, and later ones fork. A container that runs python3 once (one command of a
// burst of new containers, say) never pays the server's imports, most of a core for a
// second, nor its memory: forty such containers starting forty servers took the two
// cores of a small host for tens of seconds. The first python3 runs cold either way,
// the server not being up yet; a front end that requires the server asks until it is.
type forkServer struct {
	procs *reaper
	mu    sync.Mutex
	pid   int // the running server, or 0
	// asked records the first demand, which starts nothing.
	asked bool
}

// setupForkServer writes the front end and the server's source to the container's
// /run, listens for start requests and puts the front end first on user code's PATH.
// It needs the agent to run as root, to own what it writes there.
func setupForkServer(procs *reaper) (*forkServer, error) {
	if !privileged {
		return nil, nil
	}
	for _, d := range []string{prefork.Dir, prefork.BinDir, prefork.SocketDir} {
		if err := os.Mkdir(d, 0o755); err != nil && !os.IsExist(err) {
			return nil, err
		}
	}
	// The server runs as the user and binds its socket there; the agent has no
	// CAP_CHOWN to give the directory away, and the user is the only other user.
	if err := os.Chmod(prefork.SocketDir, os.ModeSticky|0o777); err != nil {
		return nil, err
	}
	self, err := filepath.Abs(os.Args[0])
	if err != nil {
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(prefork.BinDir, "python3"), []byte(prefork.ShimScript(self)), 0o755); err != nil {
		return nil, err
	}
	if err := os.WriteFile(prefork.ServerScript, []byte(prefork.ServerSource), 0o644); err != nil {
		return nil, err
	}
	os.Remove(prefork.StartSocket)
	ln, err := net.Listen("unix", prefork.StartSocket)
	if err != nil {
		return nil, err
	}
	if err := os.Chmod(prefork.StartSocket, 0o666); err != nil {
		ln.Close()
		return nil, err
	}
	f := &forkServer{procs: procs}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Close()
			f.start()
		}
	}()
	return f, nil
}

// withBinDir is env with the front end's directory first on PATH.
func withBinDir(env []string) []string {
	out := make([]string, 0, len(env))
	for _, kv := range env {
		if v, ok := strings.CutPrefix(kv, "PATH="); ok {
			kv = "PATH=" + prefork.BinDir + ":" + v
		}
		out = append(out, kv)
	}
	return out
}

// start starts the server unless it runs or this is the first demand. The lock is
// held across the fork, so that endHolders, which asks pid after listing processes,
// never takes the new server, which briefly holds each command's descriptors it
// receives, for a process to end.
func (f *forkServer) start() {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.pid != 0 {
		return
	}
	if !f.asked {
		f.asked = true
		return
	}
	devnull, err := os.Open(os.DevNull)
	if err != nil {
		return
	}
	defer devnull.Close()
	// The server's environment is what a python3 of a command sees; the variables a
	// program may not change without a cold start are compared with it.
	pid, done, err := f.procs.start([]string{"/usr/bin/python3", prefork.ServerScript, prefork.ServerSocket},
		commandEnv, WorkDir, []uintptr{devnull.Fd(), devnull.Fd(), devnull.Fd()})
	if err != nil {
		return
	}
	f.pid = pid
	go func() {
		<-done
		f.mu.Lock()
		if f.pid == pid {
			f.pid = 0
		}
		f.mu.Unlock()
	}()
}

// running is the server's PID, or 0.
func (f *forkServer) running() int {
	if f == nil {
		return 0
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.pid
}
