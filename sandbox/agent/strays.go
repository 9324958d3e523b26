package agent

import (
	"bytes"
	"fmt"
	"os"
	"slices"
	"strconv"
	"syscall"
	"time"
)

// The rule for background processes is docker exec's and ssh's: a process may keep
// running after the command or cell that started it once it has let go of that
// command's stdio. When a command or a cell ends, the agent, which as init sees every
// process of the container, kills every process that still holds one of its pipes (a
// descriptor of /proc/PID/fd naming one of them): it would block the command's end or
// write into output that is complete. A process whose descriptors all point elsewhere
// (files, /dev/null, sockets of its own) keeps running until the container stops.
//
// Nothing left running reaches a later command's input or output: each command gets
// fresh pipes, held only by its own processes once the earlier holders are killed, and
// the agent creates them as root with mode 0600, so another process of the user cannot
// reopen them through /proc/PID/fd/N. Commands and cells run one at a time (they share
// the REPL's turn). The REPL's interpreter is stopped (SIGSTOP) whenever no cell runs,
// so neither its threads nor anything it would fork run between cells, and the fork
// server (package prefork) runs no user code itself: both are spared. A command's
// wall-clock limit and its cancellation kill its whole process tree (killTree).

// pipeLinks are the /proc/PID/fd link targets ("pipe:[inode]") of files.
func pipeLinks(files ...*os.File) ([]string, error) {
	var links []string
	for _, f := range files {
		var st syscall.Stat_t
		if err := syscall.Fstat(int(f.Fd()), &st); err != nil {
			return nil, err
		}
		links = append(links, fmt.Sprintf("pipe:[%d]", st.Ino))
	}
	return links, nil
}

// endHolders kills every process but the agent and keep's that still holds, grace
// after the call, a descriptor whose link is one of links, until none is left: a holder
// may fork while it is killed, and its child inherits the descriptor. The grace is for
// a background job forked at the very end, which has yet to redirect its output
// (`server >log 2>&1 &`). keep is asked after each listing of processes, so that a
// process it keeps that started meanwhile is kept.
func endHolders(links []string, keep func() []int, grace time.Duration) {
	deadline := time.Now().Add(grace)
	for kills := 0; kills < 1000; {
		pids := holders(links, keep)
		if len(pids) == 0 {
			return
		}
		if time.Now().Before(deadline) {
			time.Sleep(5 * time.Millisecond)
			continue
		}
		for _, pid := range pids {
			syscall.Kill(pid, syscall.SIGKILL)
		}
		kills++
		time.Sleep(time.Millisecond) // let the killed exit before looking again
	}
}

// holders lists the live processes but the agent and keep's that hold a descriptor
// whose link is one of links.
func holders(links []string, keep func() []int) []int {
	var pids []int
	// /proc/PID/fd of the user's processes is open to the user (and to no one else
	// without CAP_SYS_PTRACE, which the agent does not have).
	asUserFully(func() error {
		pids = slices.DeleteFunc(live(os.Getpid(), keep), func(pid int) bool { return !holds(pid, links) })
		return nil
	})
	return pids
}

// holds reports whether one of pid's descriptors links to one of links.
func holds(pid int, links []string) bool {
	dir := "/proc/" + strconv.Itoa(pid) + "/fd/"
	d, err := os.Open(dir)
	if err != nil {
		return false
	}
	names, _ := d.Readdirnames(-1)
	d.Close()
	for _, name := range names {
		if target, err := os.Readlink(dir + name); err == nil && slices.Contains(links, target) {
			return true
		}
	}
	return false
}

// killTree kills the process group pgid and every descendant of its processes, those
// that left the group (setsid, setpgid) included. It stops them first, listing again
// until nothing new is found, so that none forks a child beyond reach meanwhile (a
// child whose parent dies is adopted by the agent, and its descent is lost).
func killTree(pgid int) {
	self := os.Getpid()
	tree := map[int]bool{}
	for range 1000 {
		found := false
		for _, pid := range live(self, func() []int { return nil }) {
			st := procStat(pid)
			if tree[pid] || st == nil || st.pgrp != pgid && !tree[st.ppid] {
				continue
			}
			tree[pid] = true
			found = true
			syscall.Kill(pid, syscall.SIGSTOP)
		}
		if !found {
			break
		}
	}
	for pid := range tree {
		syscall.Kill(pid, syscall.SIGKILL)
	}
	killGroup(pgid)
}

// live lists the live processes other than self and keep's.
func live(self int, keep func() []int) []int {
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

// stat is what the agent reads of /proc/pid/stat.
type stat struct {
	state      byte
	ppid, pgrp int
}

// procStat reads /proc/pid/stat, or returns nil if the process is gone.
func procStat(pid int) *stat {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return nil
	}
	// "pid (comm) S ppid pgrp …": comm may hold anything, so look after its last ')'.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 || i+2 >= len(b) {
		return nil
	}
	f := bytes.Fields(b[i+2:])
	if len(f) < 3 {
		return nil
	}
	ppid, _ := strconv.Atoi(string(f[1]))
	pgrp, _ := strconv.Atoi(string(f[2]))
	return &stat{state: f[0][0], ppid: ppid, pgrp: pgrp}
}

// procState is the state letter of /proc/pid/stat (R, S, T, Z, …), or 0 if the
// process is gone.
func procState(pid int) byte {
	if st := procStat(pid); st != nil {
		return st.state
	}
	return 0
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
