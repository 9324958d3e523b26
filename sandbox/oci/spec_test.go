package oci

import (
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/codebox-dev/codebox/sandbox"
)

var update = flag.Bool("update", false, "rewrite testdata golden files")

func TestWithMemoryLimit(t *testing.T) {
	var s specs.Spec
	if err := WithMemoryLimit(512 << 20)(&s); err != nil {
		t.Fatal(err)
	}
	m := s.Linux.Resources.Memory
	if *m.Limit != 512<<20 || *m.Swap != 512<<20 {
		t.Errorf("memory = %d swap %d, want both %d", *m.Limit, *m.Swap, 512<<20)
	}
	if err := WithMemoryLimit(0)(&s); err == nil {
		t.Error("WithMemoryLimit(0) = nil error, want error")
	}
}

func TestWithPidsLimit(t *testing.T) {
	var s specs.Spec
	if err := WithPidsLimit(64)(&s); err != nil {
		t.Fatal(err)
	}
	if got := *s.Linux.Resources.Pids.Limit; got != 64 {
		t.Errorf("pids = %d, want 64", got)
	}
	if err := WithPidsLimit(-1)(&s); err == nil {
		t.Error("WithPidsLimit(-1) = nil error, want error")
	}
}

func TestWithCPU(t *testing.T) {
	var s specs.Spec
	if err := WithCPU(1.5)(&s); err != nil {
		t.Fatal(err)
	}
	c := s.Linux.Resources.CPU
	if *c.Quota != 150000 || *c.Period != 100000 {
		t.Errorf("cpu quota/period = %d/%d, want 150000/100000", *c.Quota, *c.Period)
	}
}

func TestWithReadonlyRoot(t *testing.T) {
	var s specs.Spec
	WithReadonlyRoot("/images/x/rootfs")(&s)
	if s.Root.Path != "/images/x/rootfs" || !s.Root.Readonly {
		t.Errorf("root = %+v, want read-only /images/x/rootfs", s.Root)
	}
}

func TestWithWorkspaceMount(t *testing.T) {
	var s specs.Spec
	WithWorkspaceMount("/d/ws", "/d/tmp")(&s)
	if len(s.Mounts) != 2 {
		t.Fatalf("mounts = %d, want 2", len(s.Mounts))
	}
	for i, want := range []struct{ dst, src string }{{"/workspace", "/d/ws"}, {"/tmp", "/d/tmp"}} {
		m := s.Mounts[i]
		if m.Destination != want.dst || m.Source != want.src {
			t.Errorf("mount %d = %s→%s, want %s→%s", i, m.Source, m.Destination, want.src, want.dst)
		}
		if !contains(m.Options, "nosuid") || !contains(m.Options, "nodev") {
			t.Errorf("mount %d options = %v, want nosuid and nodev", i, m.Options)
		}
	}
}

func TestWithAgent(t *testing.T) {
	var s specs.Spec
	WithAgent("/usr/bin/codebox", []string{"agent"}, []string{"A=1"})(&s)
	if s.Process.Args[0] != AgentPath || s.Process.Args[1] != "agent" {
		t.Errorf("args = %v", s.Process.Args)
	}
	if m := s.Mounts[0]; m.Source != "/usr/bin/codebox" || m.Destination != AgentPath || !contains(m.Options, "ro") {
		t.Errorf("agent mount = %+v, want read-only bind of the binary", m)
	}
}

func TestWithLoopbackOnly(t *testing.T) {
	var s specs.Spec
	WithLoopbackOnly()(&s)
	WithLoopbackOnly()(&s) // idempotent
	if n := len(s.Linux.Namespaces); n != 1 || s.Linux.Namespaces[0].Type != specs.NetworkNamespace || s.Linux.Namespaces[0].Path != "" {
		t.Errorf("namespaces = %+v, want one new network namespace", s.Linux.Namespaces)
	}
	shared := specs.Spec{Linux: &specs.Linux{Namespaces: []specs.LinuxNamespace{{Type: specs.NetworkNamespace, Path: "/proc/1/ns/net"}}}}
	if err := WithLoopbackOnly()(&shared); err == nil {
		t.Error("WithLoopbackOnly on a shared network namespace = nil error, want error")
	}
}

func TestWithSeccomp(t *testing.T) {
	var s specs.Spec
	WithSeccomp(DefaultSeccomp())(&s)
	sc := s.Linux.Seccomp
	if sc.DefaultAction != specs.ActAllow {
		t.Errorf("default action = %s", sc.DefaultAction)
	}
	denied := map[string]bool{}
	for _, r := range sc.Syscalls {
		if r.Args == nil {
			for _, n := range r.Names {
				denied[n] = true
			}
		}
	}
	for _, n := range []string{"ptrace", "mount", "unshare", "setns", "init_module", "finit_module", "bpf", "keyctl", "io_uring_setup", "clone3", "userfaultfd", "perf_event_open"} {
		if !denied[n] {
			t.Errorf("%s is not denied", n)
		}
	}
	for _, n := range []string{"clone", "read", "mmap", "futex", "socket"} {
		if denied[n] {
			t.Errorf("%s is denied unconditionally", n)
		}
	}
}

func TestWithCgroupsPathAndNPROC(t *testing.T) {
	var s specs.Spec
	Compose(WithCgroupsPath(CgroupsPath("container_x")), WithRlimitNPROC(64))(&s)
	if s.Linux.CgroupsPath != "/codebox/container_x" {
		t.Errorf("cgroupsPath = %q", s.Linux.CgroupsPath)
	}
	if r := s.Process.Rlimits[0]; r.Type != "RLIMIT_NPROC" || r.Hard != 64 {
		t.Errorf("rlimit = %+v", r)
	}
}

func TestDefaultSpecIsUnprivileged(t *testing.T) {
	s := DefaultSpec()
	if s.Process.User.UID != UID || s.Process.User.GID != GID || !s.Process.NoNewPrivileges {
		t.Errorf("process user %+v nnp %v", s.Process.User, s.Process.NoNewPrivileges)
	}
	c := s.Process.Capabilities
	if len(c.Bounding)+len(c.Effective)+len(c.Permitted)+len(c.Inheritable)+len(c.Ambient) != 0 {
		t.Errorf("capabilities = %+v, want none", c)
	}
	if !s.Root.Readonly {
		t.Error("root is writable")
	}
}

func TestWithUserNamespace(t *testing.T) {
	s := DefaultSpec()
	if err := WithUserNamespace(1<<30, 1<<16)(s); err != nil {
		t.Fatal(err)
	}
	m := s.Linux.UIDMappings
	if len(m) != 1 || m[0].ContainerID != 0 || m[0].HostID != 1<<30 || m[0].Size != 1<<16 || len(s.Linux.GIDMappings) != 1 {
		t.Errorf("mappings = %+v %+v", m, s.Linux.GIDMappings)
	}
	p := s.Process
	if p.User.UID != 0 || !p.NoNewPrivileges || len(p.Capabilities.Inheritable)+len(p.Capabilities.Ambient) != 0 {
		t.Errorf("process = %+v", p)
	}
	for _, c := range p.Capabilities.Bounding {
		if c != "CAP_KILL" && c != "CAP_SETUID" && c != "CAP_SETGID" {
			t.Errorf("the agent keeps %s", c)
		}
	}
	if err := WithUserNamespace(1<<30, 1<<16)(s); err == nil {
		t.Error("a second user namespace = nil error")
	}
	if err := WithUserNamespace(0, 1<<16)(DefaultSpec()); err == nil {
		t.Error("mapping host root = nil error")
	}
}

// TestGoldenConfig pins the whole config.json of a default container. Run with
// -update after an intended change.
func TestGoldenConfig(t *testing.T) {
	cs := &sandbox.ContainerSpec{
		ID: "container_golden", BundleDir: "/data/containers/container_golden/bundle",
		RootFS: "/data/images/abc/rootfs", Agent: "/usr/local/bin/codebox", AgentArgs: []string{"agent"},
		RunDir: "/data/containers/container_golden/run", WorkspaceDir: "/data/containers/container_golden/mnt/workspace",
		TmpDir: "/data/containers/container_golden/mnt/tmp", Env: []string{"CODEBOX_AGENT_TOKEN=t"},
		Limits: sandbox.Limits{Memory: sandbox.DefaultMemory, CPUs: sandbox.DefaultCPUs, PIDs: sandbox.DefaultPIDs, Disk: sandbox.DefaultDisk},
		HostID: sandbox.DefaultIDBase,
	}
	for _, tc := range []struct {
		name   string
		gvisor bool
	}{{"config.json", false}, {"config-runsc.json", true}} {
		s, err := Spec(cs, tc.gvisor)
		if err != nil {
			t.Fatal(err)
		}
		got, err := json.MarshalIndent(s, "", "\t")
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, '\n')
		path := filepath.Join("testdata", tc.name)
		if *update {
			os.MkdirAll("testdata", 0o755)
			if err := os.WriteFile(path, got, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		want, err := os.ReadFile(path)
		if err != nil {
			t.Fatalf("%v (run with -update to create it)", err)
		}
		if string(got) != string(want) {
			t.Errorf("%s differs from the golden file; run with -update if intended:\n%s", tc.name, got)
		}
	}
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}
