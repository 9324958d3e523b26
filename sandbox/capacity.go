package sandbox

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"
)

// Host is what the machine offers: the figures the default caps are derived from.
type Host struct {
	Memory int64 // bytes of RAM (MemTotal)
	PIDMax int64 // kernel.pid_max
	CPUs   int
}

// ReadHost reads the host's memory, pid_max and CPU count.
func ReadHost() (Host, error) {
	h := Host{CPUs: runtime.NumCPU()}
	mem, err := os.ReadFile("/proc/meminfo")
	if err != nil {
		return h, err
	}
	sc := bufio.NewScanner(bytes.NewReader(mem))
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "MemTotal:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			if err != nil {
				return h, fmt.Errorf("meminfo: %w", err)
			}
			h.Memory = kb << 10
		}
	}
	if h.Memory == 0 {
		return h, fmt.Errorf("meminfo: no MemTotal")
	}
	pm, err := os.ReadFile("/proc/sys/kernel/pid_max")
	if err != nil {
		return h, err
	}
	if h.PIDMax, err = strconv.ParseInt(strings.TrimSpace(string(pm)), 10, 64); err != nil {
		return h, fmt.Errorf("pid_max: %w", err)
	}
	return h, nil
}

// Capacity is what the containers of a server may take of the host together, in
// Kubernetes' terms: Memory is the allocatable memory (the host's less what is
// reserved for the system and the server), the hard limit of the containers' parent
// cgroup, so that a full sandbox is OOM-killed inside it and never takes the host
// down; MemoryRequest is what one running container is counted for when admitting it
// (its limit, Limits.Memory, may be overcommitted the way Kubernetes' limits are);
// PIDs is the parent cgroup's task limit. MaxRunning and MaxRunningPerWorkspace cap
// the running containers of the server and of one workspace.
type Capacity struct {
	Memory                 int64
	MemoryRequest          int64
	PIDs                   int64
	MaxRunning             int
	MaxRunningPerWorkspace int
}

// DefaultMemoryRequest is what a running container is counted for: an interpreter
// with pandas and matplotlib loaded and some data.
const DefaultMemoryRequest = 256 << 20

// reserve is what the default Capacity leaves the host: a tenth of the memory, at
// least 1 GiB (the kubelet's system-reserved plus its eviction threshold, together),
// and a quarter of pid_max, at least 4096 tasks.
func (h Host) reserve() (mem, pids int64) {
	return max(h.Memory/10, 1<<30), max(h.PIDMax/4, 4096)
}

// DefaultCapacity derives the caps c leaves zero from h: Memory and PIDs are what the
// host has less its reserve, MaxRunning is how many MemoryRequests fit in Memory (as
// the Kubernetes scheduler admits pods by their requests), and a workspace may run
// half of them, so that one tenant cannot take the whole server.
func (h Host) DefaultCapacity(c Capacity) Capacity {
	rmem, rpids := h.reserve()
	if c.Memory <= 0 {
		c.Memory = max(h.Memory-rmem, h.Memory/2)
	}
	if c.PIDs <= 0 {
		c.PIDs = max(h.PIDMax-rpids, h.PIDMax/2)
	}
	if c.MemoryRequest <= 0 {
		c.MemoryRequest = DefaultMemoryRequest
	}
	if c.MaxRunning <= 0 {
		c.MaxRunning = int(max(c.Memory/c.MemoryRequest, 1))
	}
	if c.MaxRunningPerWorkspace <= 0 {
		c.MaxRunningPerWorkspace = max(c.MaxRunning/2, 1)
	}
	return c
}
