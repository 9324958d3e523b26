package sandboxtest

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// InitPID is the host PID the runtime reports for container id's init (for runsc, the
// sandbox process). The test fails when the runtime cannot say.
func (e *Env) InitPID(t testing.TB, id string) int {
	t.Helper()
	out, err := exec.Command(e.RuntimeBinary, "--root", e.RuntimeRoot, "state", id).Output()
	if err != nil {
		t.Fatalf("%s state %s: %v", e.RuntimeName, id, err)
	}
	var st struct {
		Pid int `json:"pid"`
	}
	if err := json.Unmarshal(out, &st); err != nil || st.Pid <= 0 {
		t.Fatalf("%s state %s = %s: %v", e.RuntimeName, id, out, err)
	}
	return st.Pid
}

// CgroupFile reads file of controller (as named in cgroup v1: "pids", "memory") from
// the cgroup that container id's init is in, on a cgroup v1 or v2 host alike: where
// the runtime really put it, not where the spec asked. The test fails when the file
// cannot be read.
func (e *Env) CgroupFile(t testing.TB, id, controller, file string) string {
	t.Helper()
	pid := e.InitPID(t, id)
	dir, err := cgroupDir(pid, controller)
	if err != nil {
		t.Fatalf("cgroup of %s (pid %d): %v", id, pid, err)
	}
	b, err := os.ReadFile(filepath.Join(dir, file))
	if err != nil {
		t.Fatalf("cgroup of %s: %v", id, err)
	}
	return strings.TrimSpace(string(b))
}

// cgroupDir is the host directory of pid's cgroup for controller: the v1 hierarchy
// that carries the controller when one is mounted, else the unified v2 one.
func cgroupDir(pid int, controller string) (string, error) {
	self, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/cgroup")
	if err != nil {
		return "", err
	}
	mounts, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		return "", err
	}
	var v1, v2 string // pid's path in each hierarchy
	haveV2 := false
	for line := range strings.Lines(string(self)) {
		// hierarchy-ID:controller-list:path
		f := strings.SplitN(strings.TrimSpace(line), ":", 3)
		if len(f) != 3 {
			continue
		}
		if f[0] == "0" && f[1] == "" {
			v2, haveV2 = f[2], true
		} else if slices.Contains(strings.Split(f[1], ","), controller) {
			v1 = f[2]
		}
	}
	var v1Mount, v2Mount string
	sc := bufio.NewScanner(bytes.NewReader(mounts))
	for sc.Scan() {
		// … mount-point … - fstype source super-options
		pre, post, ok := strings.Cut(sc.Text(), " - ")
		if !ok {
			continue
		}
		pf, qf := strings.Fields(pre), strings.Fields(post)
		if len(pf) < 5 || len(qf) < 3 {
			continue
		}
		switch qf[0] {
		case "cgroup":
			if slices.Contains(strings.Split(qf[2], ","), controller) {
				v1Mount = pf[4]
			}
		case "cgroup2":
			v2Mount = pf[4]
		}
	}
	switch {
	case v1 != "" && v1Mount != "":
		return filepath.Join(v1Mount, v1), nil
	case haveV2 && v2Mount != "":
		return filepath.Join(v2Mount, v2), nil
	}
	return "", fmt.Errorf("no %s hierarchy mounted for pid %d", controller, pid)
}
