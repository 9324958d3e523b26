package agent

import (
	"bytes"
	"os"
	"slices"
	"strconv"
	"syscall"
	"time"
)

// The rule for background processes: every process a command or a cell starts ends
// when that command or cell ends, however it tried to leave (&, nohup, setsid, a
// double fork, a daemon). Commands and cells run one at a time (they share the REPL's
// turn), and when one ends the agent, which as init sees every process of the
// container, kills every process but itself, the REPL's interpreter and the fork server
// (package prefork, which runs no user code itself: its children do, and they go). The
// interpreter is stopped (SIGSTOP) whenever no cell runs, so neither its threads nor
// anything it would fork run between cells either. Nothing is left to read or write a
// later command's input or output.

// endStrays kills every process of the container but the agent and those keep names
// (0 for none), until none is left but zombies. keep is asked after each listing of
// processes, so that a process it keeps that started meanwhile is kept.
func endStrays(keep func() []int) {
	self := os.Getpid()
	for range 1000 {
		pids := strays(self, keep)
		if len(pids) == 0 {
			return
		}
		for _, pid := range pids {
			syscall.Kill(pid, syscall.SIGKILL)
		}
		time.Sleep(time.Millisecond) // let the killed exit before looking again
	}
}

// strays lists the live processes other than self and keep's.
func strays(self int, keep func() []int) []int {
	d, err := os.Open("/proc")
	if err != nil {
		return nil
	}
	names, _ := d.Readdirnames(-1)
	d.Close()
	var pids []int
	for _, name := range names {
		pid, err := strconv.Atoi(name)
		if err != nil || pid == self {
			continue
		}
		if st := procState(pid); st != 0 && st != 'Z' && st != 'X' {
			pids = append(pids, pid)
		}
	}
	kept := keep()
	return slices.DeleteFunc(pids, func(pid int) bool { return slices.Contains(kept, pid) })
}

// procState is the state letter of /proc/pid/stat (R, S, T, Z, …), or 0 if the
// process is gone.
func procState(pid int) byte {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0
	}
	// "pid (comm) S …": comm may hold anything, so look after its last ')'.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 || i+2 >= len(b) {
		return 0
	}
	return b[i+2]
}

// freeze stops pid and waits until it is stopped, so that it forks nothing more.
func freeze(pid int) {
	if syscall.Kill(pid, syscall.SIGSTOP) != nil {
		return
	}
	for range 1000 {
		if st := procState(pid); st == 'T' || st == 't' || st == 'Z' || st == 0 {
			return
		}
		time.Sleep(100 * time.Microsecond)
	}
}
