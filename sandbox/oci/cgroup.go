package oci

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

// DefaultCgroupParent is the cgroup under which every container's cgroup is made.
const DefaultCgroupParent = "/codebox"

// cgroupRoot is where the cgroup filesystems are mounted.
const cgroupRoot = "/sys/fs/cgroup"

// unifiedCgroups reports whether the host runs cgroup v2 alone.
func unifiedCgroups() bool {
	_, err := os.Stat(filepath.Join(cgroupRoot, "cgroup.controllers"))
	return err == nil
}

// ParentLimits are the limits of the parent cgroup, shared by all containers: what
// they may use together. Zero leaves a limit unset.
type ParentLimits struct {
	Memory int64 // bytes, swap included
	PIDs   int64 // tasks
}

// limitParent creates the parent cgroup and sets its limits: the containers' memory
// and tasks together then stay within them whatever each container's own limit says,
// and a sandbox that outgrows them is OOM-killed or refused a fork inside the parent,
// never the host.
func limitParent(parent string, l ParentLimits) error {
	if l.Memory <= 0 && l.PIDs <= 0 {
		return nil
	}
	if unifiedCgroups() {
		return limitParentV2(parent, l)
	}
	return limitParentV1(parent, l)
}

func limitParentV1(parent string, l ParentLimits) error {
	if l.Memory > 0 {
		dir := filepath.Join(cgroupRoot, "memory", parent)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return fmt.Errorf("memory cgroup: %w", err)
		}
		mem := strconv.FormatInt(l.Memory, 10)
		// memory.limit_in_bytes may never exceed memory.memsw.limit_in_bytes (which
		// exists only with swap accounting): lowering goes limit first, raising memsw
		// first.
		memsw := filepath.Join(dir, "memory.memsw.limit_in_bytes")
		if err := writeCgroup(dir, "memory.limit_in_bytes", mem); err != nil {
			if _, serr := os.Stat(memsw); serr != nil {
				return err
			}
			if err := writeCgroup(dir, "memory.memsw.limit_in_bytes", mem); err != nil {
				return err
			}
			if err := writeCgroup(dir, "memory.limit_in_bytes", mem); err != nil {
				return err
			}
		} else if _, serr := os.Stat(memsw); serr == nil {
			if err := writeCgroup(dir, "memory.memsw.limit_in_bytes", mem); err != nil {
				return err
			}
		}
	}
	if l.PIDs > 0 {
		dir := filepath.Join(cgroupRoot, "pids", parent)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return fmt.Errorf("pids cgroup: %w", err)
		}
		if err := writeCgroup(dir, "pids.max", strconv.FormatInt(l.PIDs, 10)); err != nil {
			return err
		}
	}
	return nil
}

func limitParentV2(parent string, l ParentLimits) error {
	dir := filepath.Join(cgroupRoot, parent)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("cgroup: %w", err)
	}
	// Each level down to the parent hands the controllers on to its children.
	rel := strings.Trim(path.Clean(parent), "/")
	levels := strings.Split(rel, "/")
	for i := 0; i <= len(levels); i++ {
		d := filepath.Join(append([]string{cgroupRoot}, levels[:i]...)...)
		if err := writeCgroup(d, "cgroup.subtree_control", "+memory +pids +cpu"); err != nil {
			return err
		}
	}
	if l.Memory > 0 {
		if err := writeCgroup(dir, "memory.max", strconv.FormatInt(l.Memory, 10)); err != nil {
			return err
		}
		if err := writeCgroup(dir, "memory.swap.max", "0"); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
	}
	if l.PIDs > 0 {
		if err := writeCgroup(dir, "pids.max", strconv.FormatInt(l.PIDs, 10)); err != nil {
			return err
		}
	}
	return nil
}

func writeCgroup(dir, file, value string) error {
	if err := os.WriteFile(filepath.Join(dir, file), []byte(value), 0); err != nil {
		return fmt.Errorf("cgroup %s/%s = %s: %w", dir, file, value, err)
	}
	return nil
}

// memoryWorkingSet is what the cgroup's tasks use of memory, as the kubelet counts it
// for eviction: usage less the inactive file cache the kernel can drop at no cost.
func memoryWorkingSet(cg string) (int64, error) {
	usageFile, statFile, inactiveKey := filepath.Join(cgroupRoot, "memory", cg, "memory.usage_in_bytes"),
		filepath.Join(cgroupRoot, "memory", cg, "memory.stat"), "total_inactive_file"
	if unifiedCgroups() {
		usageFile, statFile, inactiveKey = filepath.Join(cgroupRoot, cg, "memory.current"),
			filepath.Join(cgroupRoot, cg, "memory.stat"), "inactive_file"
	}
	b, err := os.ReadFile(usageFile)
	if err != nil {
		return 0, err
	}
	usage, err := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64)
	if err != nil {
		return 0, err
	}
	stat, err := os.ReadFile(statFile)
	if err != nil {
		return 0, err
	}
	sc := bufio.NewScanner(bytes.NewReader(stat))
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), inactiveKey+" "); ok {
			if n, err := strconv.ParseInt(v, 10, 64); err == nil && n < usage {
				usage -= n
			}
			break
		}
	}
	return usage, nil
}

// removeParent removes the parent cgroup once it is empty. With owned (the parent
// is this runtime's alone: it set its limits) it first removes the cgroups left in it
// by containers whose tasks are all gone (a runtime does not always remove a killed
// container's); a shared parent's empty cgroups may be another runtime's containers
// being created. A cgroup that still holds a task (a container left running for the
// next server) cannot be removed, and it and the parent stay.
func removeParent(parent string, owned bool) {
	dirs := []string{filepath.Join(cgroupRoot, parent)}
	if !unifiedCgroups() {
		entries, _ := os.ReadDir(cgroupRoot)
		dirs = dirs[:0]
		for _, e := range entries {
			dirs = append(dirs, filepath.Join(cgroupRoot, e.Name(), parent))
		}
	}
	for _, d := range dirs {
		if owned {
			children, _ := os.ReadDir(d)
			for _, c := range children {
				if c.IsDir() {
					syscall.Rmdir(filepath.Join(d, c.Name()))
				}
			}
		}
		syscall.Rmdir(d)
	}
}
