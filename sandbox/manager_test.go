package sandbox_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/codebox-dev/codebox"
	"github.com/codebox-dev/codebox/errdefs"
	"github.com/codebox-dev/codebox/ids"
	"github.com/codebox-dev/codebox/sandbox"
	"github.com/codebox-dev/codebox/sandbox/agent"
	"github.com/codebox-dev/codebox/sandbox/sandboxtest"
)

func TestMain(m *testing.M) {
	sandboxtest.AgentMain()
	os.Exit(m.Run())
}

const ws codebox.WorkspaceID = "ws_test"

func create(t *testing.T, e *sandboxtest.Env, opts sandbox.CreateOptions) *sandbox.Container {
	t.Helper()
	c, err := e.Manager.Create(context.Background(), ws, opts)
	if err != nil {
		t.Fatalf("Create: %v", err)
	}
	return c
}

func run(t *testing.T, e *sandboxtest.Env, id, cmd string) *sandbox.ExecResult {
	t.Helper()
	return runTimeout(t, e, id, cmd, 0)
}

func runTimeout(t *testing.T, e *sandboxtest.Env, id, cmd string, timeout time.Duration) *sandbox.ExecResult {
	t.Helper()
	res, err := e.Manager.Exec(context.Background(), ws, id, sandbox.ExecRequest{Command: cmd, Timeout: timeout})
	if err != nil {
		t.Fatalf("Exec(%q): %v", cmd, err)
	}
	return res
}

func python(t *testing.T, e *sandboxtest.Env, id, code string, timeout time.Duration) *sandbox.ExecResult {
	t.Helper()
	res, err := e.Manager.RunPython(context.Background(), ws, id, sandbox.PythonRequest{Code: code, Timeout: timeout})
	if err != nil {
		t.Fatalf("RunPython(%q): %v", code, err)
	}
	return res
}

func TestExecBasics(t *testing.T) { sandboxtest.ForEachRuntime(t, testExecBasics) }

func testExecBasics(t *testing.T, runtime string) {
	e := sandboxtest.NewWithRuntime(t, runtime, nil)
	c := create(t, e, sandbox.CreateOptions{})
	res := run(t, e, c.ID, "echo hi; echo err >&2; pwd; id -u; exit 3")
	if res.Stdout != "hi\n/workspace\n1000\n" || res.Stderr != "err\n" || res.ExitCode != 3 {
		t.Errorf("Exec = %+v, want stdout hi /workspace 1000, stderr err, exit 3", res)
	}
	if res.TimedOut || res.OOMKilled || res.Truncated {
		t.Errorf("Exec flags = %+v, want none", res)
	}
}

// TestSeedAnalysis is the seeds' example: pandas and matplotlib analyse an uploaded
// CSV and the chart comes back as a generated file.
func TestSeedAnalysis(t *testing.T) { sandboxtest.ForEachRuntime(t, testSeedAnalysis) }

func testSeedAnalysis(t *testing.T, runtime string) {
	e := sandboxtest.NewWithRuntime(t, runtime, nil)
	csv := "region,sales\nnorth,10\nsouth,25\nnorth,5\neast,7\n"
	fid := e.Files.Add(ws, "sales.csv", []byte(csv))
	c := create(t, e, sandbox.CreateOptions{FileIDs: []string{fid}})
	res := python(t, e, c.ID, `
import pandas as pd
import matplotlib
matplotlib.use("Agg")
import matplotlib.pyplot as plt
df = pd.read_csv("sales.csv")
totals = df.groupby("region")["sales"].sum().sort_values()
totals.plot(kind="bar")
plt.savefig("chart.png")
print(totals.to_dict())
`, time.Minute)
	if res.ExitCode != 0 || !strings.Contains(res.Stdout, "'north': 15") {
		t.Fatalf("analysis = %+v", res)
	}
	if len(res.Files) != 1 || res.Files[0].Path != "chart.png" || res.Files[0].MimeType != "image/png" {
		t.Fatalf("Files = %+v, want chart.png as image/png", res.Files)
	}
	f, ok := e.Files.Get(res.Files[0].FileID)
	if !ok || !strings.HasPrefix(string(f.Data), "\x89PNG") || f.Workspace != ws {
		t.Errorf("stored chart missing or not a PNG of %s", ws)
	}
	// A second run that changes nothing generates nothing.
	if res := run(t, e, c.ID, "ls"); len(res.Files) != 0 {
		t.Errorf("unchanged workspace produced files %+v", res.Files)
	}
}

// TestBadCommandIsInvalid: a command the kernel cannot pass to bash (a NUL, more than
// MAX_ARG_STRLEN) is the caller's error, not an unavailable sandbox; the longest
// command that fits still runs.
func TestBadCommandIsInvalid(t *testing.T) { sandboxtest.ForEachRuntime(t, testBadCommandIsInvalid) }

func testBadCommandIsInvalid(t *testing.T, runtime string) {
	e := sandboxtest.NewWithRuntime(t, runtime, nil)
	c := create(t, e, sandbox.CreateOptions{})
	for name, cmd := range map[string]string{
		"NUL":      "echo a\x00b",
		"too long": "true " + strings.Repeat("x", agent.MaxCommandBytes),
	} {
		_, err := e.Manager.Exec(context.Background(), ws, c.ID, sandbox.ExecRequest{Command: cmd})
		if !errors.Is(err, errdefs.ErrInvalid) || errors.Is(err, errdefs.ErrUnavailable) {
			t.Errorf("%s: Exec = %v, want errdefs.ErrInvalid", name, err)
		}
	}
	longest := "echo ok #" + strings.Repeat("x", agent.MaxCommandBytes-9)
	if res := run(t, e, c.ID, longest); res.Stdout != "ok\n" {
		t.Errorf("a command of exactly %d bytes = %+v", len(longest), res)
	}
}

func TestOutputCaps(t *testing.T) { sandboxtest.ForEachRuntime(t, testOutputCaps) }

func testOutputCaps(t *testing.T, runtime string) {
	e := sandboxtest.NewWithRuntime(t, runtime, func(c *sandbox.Config) { c.MaxOutputFiles = 2; c.MaxOutputFileSize = 1000 })
	c := create(t, e, sandbox.CreateOptions{})
	res := run(t, e, c.ID, "echo a > a.txt; echo b > b.txt; echo c > c.txt; mkdir -p .cache d; echo x > .cache/x; head -c 5000 /dev/zero > d/big.bin")
	if len(res.Files) != 2 || res.FilesError == nil || res.FilesError.Code != "output_file_too_large" {
		t.Errorf("Files = %+v, FilesError = %+v; want 2 files and output_file_too_large", res.Files, res.FilesError)
	}
	for _, f := range res.Files {
		if strings.HasPrefix(f.Path, ".cache") {
			t.Errorf("hidden directory file %s collected", f.Path)
		}
	}
}

func TestTimeout(t *testing.T) { sandboxtest.ForEachRuntime(t, testTimeout) }

func testTimeout(t *testing.T, runtime string) {
	e := sandboxtest.NewWithRuntime(t, runtime, nil)
	c := create(t, e, sandbox.CreateOptions{})
	res := runTimeout(t, e, c.ID, "echo start; sleep 1000 & sleep 1000", 500*time.Millisecond)
	if !res.TimedOut || res.Stdout != "start\n" {
		t.Errorf("sleep = %+v, want TimedOut with output start", res)
	}
	// The whole group went: nothing is left sleeping.
	if res := run(t, e, c.ID, "pgrep -c sleep || true"); strings.TrimSpace(res.Stdout) != "0" {
		t.Errorf("sleepers left: %q", res.Stdout)
	}
}

func TestCancel(t *testing.T) { sandboxtest.ForEachRuntime(t, testCancel) }

func testCancel(t *testing.T, runtime string) {
	e := sandboxtest.NewWithRuntime(t, runtime, nil)
	c := create(t, e, sandbox.CreateOptions{})
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	_, err := e.Manager.Exec(ctx, ws, c.ID, sandbox.ExecRequest{Command: "sleep 1000"})
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Exec after cancel = %v, want deadline exceeded", err)
	}
	if res := run(t, e, c.ID, "pgrep -c sleep || true"); strings.TrimSpace(res.Stdout) != "0" {
		t.Errorf("cancelled command still runs: %q", res.Stdout)
	}
	python(t, e, c.ID, "kept = 1", time.Minute)
	ctx, cancel = context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	_, err = e.Manager.RunPython(ctx, ws, c.ID, sandbox.PythonRequest{Code: "import time; time.sleep(100)"})
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("RunPython after cancel = %v, want deadline exceeded", err)
	}
	if res := python(t, e, c.ID, "kept", time.Minute); res.Stdout != "1\n" {
		t.Errorf("REPL after a cancelled cell = %+v, want its state", res)
	}
}

func TestStdoutCap(t *testing.T) { sandboxtest.ForEachRuntime(t, testStdoutCap) }

func testStdoutCap(t *testing.T, runtime string) {
	e := sandboxtest.NewWithRuntime(t, runtime, nil)
	c := create(t, e, sandbox.CreateOptions{})
	res := run(t, e, c.ID, "head -c 100000000 /dev/zero | tr '\\0' x; echo done >&2")
	if !res.Truncated || len(res.Stdout) != 1<<20 || res.Stderr != "done\n" || res.ExitCode != 0 {
		t.Errorf("100 MB stdout: truncated %v, %d bytes, stderr %q, exit %d; want truncated at %d", res.Truncated, len(res.Stdout), res.Stderr, res.ExitCode, 1<<20)
	}
}

func TestMemoryLimit(t *testing.T) { sandboxtest.ForEachRuntime(t, testMemoryLimit) }

func testMemoryLimit(t *testing.T, runtime string) {
	e := sandboxtest.NewWithRuntime(t, runtime, nil) // 512 MiB
	c := create(t, e, sandbox.CreateOptions{})
	res := run(t, e, c.ID, `python3 -c 'b = bytearray(1 << 30); print("allocated")'`)
	if !res.OOMKilled || res.ExitCode != 137 || strings.Contains(res.Stdout, "allocated") {
		t.Errorf("1 GiB in 512 MiB = %+v, want OOMKilled exit 137", res)
	}
	if res := run(t, e, c.ID, `python3 -c 'b = bytearray(100 << 20); print("ok")'`); res.Stdout != "ok\n" || res.OOMKilled {
		t.Errorf("after OOM: %+v, want the container to work", res)
	}
	// In the REPL too: the cell dies, the container and the next cell live.
	res = python(t, e, c.ID, "x = bytearray(1 << 30)", time.Minute)
	if !res.OOMKilled {
		t.Errorf("REPL allocation = %+v, want OOMKilled", res)
	}
	if res := python(t, e, c.ID, "1+1", time.Minute); res.Stdout != "2\n" {
		t.Errorf("REPL after OOM = %+v", res)
	}
}

// TestMemoryLimitDefault is the documented case at the server's default limit: a 6 GiB
// allocation in a 5 GiB container is killed and reported, and the container lives on.
func TestMemoryLimitDefault(t *testing.T) { sandboxtest.ForEachRuntime(t, testMemoryLimitDefault) }

func testMemoryLimitDefault(t *testing.T, runtime string) {
	if testing.Short() {
		t.Skip("touches 5 GiB of memory")
	}
	// Zeroing 5 GiB takes long on a busy host: allow it (the server's cap would
	// otherwise cut the request's timeout to ExecTimeout).
	const timeout = 5 * time.Minute
	e := sandboxtest.NewWithRuntime(t, runtime, func(c *sandbox.Config) {
		c.Limits.Memory = sandbox.DefaultMemory
		c.MaxExecTimeout = timeout
	})
	c := create(t, e, sandbox.CreateOptions{})
	res := runTimeout(t, e, c.ID, `python3 -c 'b = bytearray(6 << 30); print("allocated")'`, timeout)
	if !res.OOMKilled || res.ExitCode != 137 || strings.Contains(res.Stdout, "allocated") {
		t.Errorf("6 GiB in %d GiB = %+v, want OOMKilled exit 137", sandbox.DefaultMemory>>30, res)
	}
	if res := run(t, e, c.ID, "echo alive"); res.Stdout != "alive\n" {
		t.Errorf("after OOM: %+v, want the container to work", res)
	}
}

func TestForkBomb(t *testing.T) { sandboxtest.ForEachRuntime(t, testForkBomb) }

func testForkBomb(t *testing.T, runtime string) {
	const limit = 64
	e := sandboxtest.NewWithRuntime(t, runtime, func(c *sandbox.Config) { c.Limits.PIDs = limit })
	c := create(t, e, sandbox.CreateOptions{})
	res := runTimeout(t, e, c.ID, `bomb() { bomb | bomb & }; bomb; sleep 5`, 3*time.Second)
	t.Logf("fork bomb: exit %d timedout %v stderr %.200q", res.ExitCode, res.TimedOut, res.Stderr)
	if !strings.Contains(res.Stderr, "fork: retry: Resource temporarily unavailable") {
		t.Errorf("the fork bomb never met the process limit: %+v", res)
	}
	// Where the runtime really put the container's cgroup, on a v1 or v2 host.
	max := e.CgroupFile(t, c.ID, "pids", "pids.max")
	if e.RuntimeName == "runsc" {
		// gVisor holds the limit inside its kernel (RLIMIT_NPROC); the host limit
		// only bounds the sentry and its stubs, above the container's own.
		if n, err := strconv.Atoi(max); err != nil || n <= limit {
			t.Errorf("host pids.max = %q, want a finite limit above %d", max, limit)
		}
		if res := run(t, e, c.ID, "ulimit -u"); strings.TrimSpace(res.Stdout) != strconv.Itoa(limit) {
			t.Errorf("ulimit -u in gVisor = %+v, want %d", res, limit)
		}
	} else if max != strconv.Itoa(limit) {
		t.Errorf("pids.max = %q, want %d", max, limit)
	}
	if res := run(t, e, c.ID, "echo alive"); res.Stdout != "alive\n" {
		t.Errorf("after fork bomb: %+v", res)
	}
}

func TestDiskFull(t *testing.T) { sandboxtest.ForEachRuntime(t, testDiskFull) }

func testDiskFull(t *testing.T, runtime string) {
	e := sandboxtest.NewWithRuntime(t, runtime, func(c *sandbox.Config) { c.Limits.Disk = 64 << 20 })
	c := create(t, e, sandbox.CreateOptions{})
	res := run(t, e, c.ID, "dd if=/dev/zero of=/workspace/fill bs=1M count=200 2>&1; df -m /workspace | tail -1")
	if !strings.Contains(res.Stdout, "No space left on device") {
		t.Errorf("filling the disk: %q, want ENOSPC", res.Stdout)
	}
	if res := run(t, e, c.ID, "rm /workspace/fill && echo ok > /workspace/after && cat /workspace/after"); res.Stdout != "ok\n" {
		t.Errorf("after freeing: %+v", res)
	}
}

func TestNoNetwork(t *testing.T) { sandboxtest.ForEachRuntime(t, testNoNetwork) }

func testNoNetwork(t *testing.T, runtime string) {
	e := sandboxtest.NewWithRuntime(t, runtime, nil)
	c := create(t, e, sandbox.CreateOptions{})
	// A listener on the host's loopback: in a network namespace of its own the
	// container's 127.0.0.1 is another, so this must be out of its reach.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	var reached atomic.Int32
	go func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			reached.Add(1)
			conn.Close()
		}
	}()
	port := ln.Addr().(*net.TCPAddr).Port
	res := python(t, e, c.ID, fmt.Sprintf(`
import socket
def attempt(name, f):
    try:
        f()
        print(name, "OK")
    except OSError as e:
        print(name, "blocked", e.errno)
def host():
    socket.create_connection(("127.0.0.1", %d), timeout=3)
def dns():
    socket.getaddrinfo("example.com", 80)
def raw():
    socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)
def packet():
    socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
for n, f in [("host", host), ("dns", dns), ("raw", raw), ("packet", packet)]:
    attempt(n, f)
print("interfaces", ",".join(sorted(name for _, name in socket.if_nameindex())))
srv = socket.socket(); srv.bind(("127.0.0.1", 0)); srv.listen()
cli = socket.create_connection(srv.getsockname()); print("loopback OK")
`, port), time.Minute)
	for _, n := range []string{"host", "dns", "raw", "packet"} {
		if !strings.Contains(res.Stdout, n+" blocked") {
			t.Errorf("%s was not blocked:\n%s%s", n, res.Stdout, res.Stderr)
		}
	}
	// Loopback alone: no interface leads out, to the host or anywhere else.
	if !strings.Contains(res.Stdout, "interfaces lo\n") {
		t.Errorf("network interfaces, want lo alone:\n%s%s", res.Stdout, res.Stderr)
	}
	if n := reached.Load(); n != 0 {
		t.Errorf("the host's loopback listener was reached %d times", n)
	}
	if !strings.Contains(res.Stdout, "loopback OK") {
		t.Errorf("loopback does not work:\n%s%s", res.Stdout, res.Stderr)
	}
}

func TestNoEscape(t *testing.T) { sandboxtest.ForEachRuntime(t, testNoEscape) }

func testNoEscape(t *testing.T, runtime string) {
	e := sandboxtest.NewWithRuntime(t, runtime, nil)
	secret := filepath.Join(t.TempDir(), "host-secret")
	if err := os.WriteFile(secret, []byte("host secret"), 0o644); err != nil {
		t.Fatal(err)
	}
	c := create(t, e, sandbox.CreateOptions{})
	initPID := e.InitPID(t, c.ID)
	gvisor := e.RuntimeName == "runsc"
	for _, tc := range []struct {
		name, cmd string
		// gvisor, when set, replaces cmd under gVisor, for an attempt that gVisor
		// lets succeed inside its own kernel where it reaches nothing: a user
		// namespace is the sentry's, and being root in it writes nothing and
		// reads none of the agent.
		gvisor string
	}{
		{name: "host file", cmd: "cat " + secret},
		{name: "host data dir", cmd: "ls " + e.Config.Dir},
		{name: "write root", cmd: "touch /x"},
		{name: "write etc", cmd: "touch /etc/x"},
		{name: "write usr", cmd: "touch /usr/x"},
		{name: "mount", cmd: "mount -t tmpfs none /workspace"},
		{name: "unshare", cmd: "unshare -U -r true",
			// As root of the new namespace (else the attempts below prove nothing,
			// and the check says so by failing).
			gvisor: "unshare -U -r sh -c '[ $(id -u) != 0 ] || touch /etc/x || mount -t tmpfs none /workspace || cat /proc/1/environ'"},
		{name: "ptrace the agent", cmd: `python3 -c 'import ctypes,sys; l=ctypes.CDLL(None,use_errno=True); sys.exit(0 if l.ptrace(16,1,0,0)==0 else 1)'`},
		{name: "agent memory", cmd: "head -c 16 /proc/1/mem"},
		{name: "agent environ", cmd: "cat /proc/1/environ"},
		{name: "agent fds", cmd: "ls /proc/1/fd"},
		// finit_module of /dev/null fails even when permitted (not a module): only
		// EPERM (or ENOSYS, a kernel without modules) says it was refused.
		{name: "load module", cmd: `python3 -c 'import ctypes,errno,sys; l=ctypes.CDLL(None,use_errno=True); r=l.syscall(313,0,b"",0); sys.exit(1 if r==-1 and ctypes.get_errno() in (errno.EPERM,errno.ENOSYS) else 0)' </dev/null`},
		{name: "kill init", cmd: "kill -9 1"},
		{name: "chroot", cmd: "chroot / true"},
		{name: "replace the agent's socket", cmd: "rm -f /run/codebox/agent.sock && test ! -e /run/codebox/agent.sock"},
		{name: "drive the agent without its token", cmd: `python3 -c '
import socket, sys
s = socket.socket(socket.AF_UNIX); s.connect("/run/codebox/agent.sock")
s.sendall(b"{\"v\":1,\"op\":\"exec\",\"command\":\"id\",\"timeout_ms\":1000}\n")
sys.exit(0 if b"start" in s.recv(4096) else 1)'`},
	} {
		if gvisor && tc.gvisor != "" {
			tc.cmd = tc.gvisor
		}
		res := run(t, e, c.ID, tc.cmd)
		if res.ExitCode == 0 {
			t.Errorf("%s: %q succeeded: %q", tc.name, tc.cmd, res.Stdout)
		}
	}
	// The OCI seccomp profile filters user code under runc; gVisor does not apply it
	// inside its kernel (the sentry filters its own host syscalls), and says so.
	seccompMode := "Seccomp:\t2"
	if gvisor {
		seccompMode = "Seccomp:\t0"
	}
	// The bounding set holds at most the agent's kill, setuid and setgid (0xe0), which
	// no_new_privs keeps user code from ever gaining.
	if res := run(t, e, c.ID, "grep -E '^(CapPrm|CapEff|CapBnd|NoNewPrivs|Seccomp):' /proc/self/status"); !strings.Contains(res.Stdout, "CapEff:\t0000000000000000") ||
		!strings.Contains(res.Stdout, "CapPrm:\t0000000000000000") || !strings.Contains(res.Stdout, "CapBnd:\t00000000000000e0") ||
		!strings.Contains(res.Stdout, "NoNewPrivs:\t1") || !strings.Contains(res.Stdout, seccompMode) {
		t.Errorf("process status:\n%s", res.Stdout)
	}
	// No attempt ended the container's init: a dead one would be restarted, unnoticed,
	// by the next command.
	if pid := e.InitPID(t, c.ID); pid != initPID {
		t.Errorf("the container's init is pid %d, was %d: an attempt killed it", pid, initPID)
	}
	if res := run(t, e, c.ID, "echo alive"); res.Stdout != "alive\n" {
		t.Errorf("after the attempts: %+v", res)
	}
}

// TestNoBlockDevice: no block device is reachable from a container. None is in it,
// none can be made, and one the host puts on the container's disk cannot be opened
// (nodev mounts, the devices cgroup, gVisor's gofer). The device tried is another
// container's disk, which the host itself can read.
func TestNoBlockDevice(t *testing.T) { sandboxtest.ForEachRuntime(t, testNoBlockDevice) }

func testNoBlockDevice(t *testing.T, runtime string) {
	e := sandboxtest.NewWithRuntime(t, runtime, nil)
	c := create(t, e, sandbox.CreateOptions{})
	other := create(t, e, sandbox.CreateOptions{})
	var st unix.Stat_t
	if err := unix.Stat(filepath.Join(e.Config.Dir, other.ID, "mnt"), &st); err != nil {
		t.Fatal(err)
	}
	// The host reads the other disk through a node of its own: the attempts below
	// are real.
	hostNode := mknodBlock(t, filepath.Join(t.TempDir(), "disk"), st.Dev)
	f, err := os.Open(hostNode)
	if err != nil {
		t.Fatal(err)
	}
	_, err = f.Read(make([]byte, 512))
	f.Close()
	if err != nil {
		t.Fatalf("the host cannot read %s's disk: %v", other.ID, err)
	}
	defer os.Remove(mknodBlock(t, filepath.Join(e.Config.Dir, c.ID, "mnt", "workspace", "disk"), st.Dev))
	if res := run(t, e, c.ID, "ls -a /workspace | grep -x disk"); res.ExitCode != 0 {
		t.Fatalf("the node is not in the container: %+v", res)
	}
	// Each command succeeds only if the container reaches a block device.
	for _, cmd := range []string{
		"find / /dev /tmp /workspace /run /dev/shm -xdev -type b 2>/dev/null | grep -vx /workspace/disk | grep .",
		fmt.Sprintf("mknod /tmp/disk b %d %d", unix.Major(st.Dev), unix.Minor(st.Dev)),
		"head -c 512 /workspace/disk | wc -c | grep -x 512",
	} {
		if res := run(t, e, c.ID, cmd); res.ExitCode == 0 {
			t.Errorf("%q succeeded: %q", cmd, res.Stdout)
		}
	}
}

// mknodBlock makes a block device node at path that anyone may open, and returns path.
func mknodBlock(t *testing.T, path string, dev uint64) string {
	t.Helper()
	if err := unix.Mknod(path, unix.S_IFBLK|0o666, int(dev)); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, 0o666); err != nil { // past the umask
		t.Fatal(err)
	}
	return path
}

// TestPathTricks: symlinks and ".." through the editor stay inside the container, and
// through the host-side file API stay inside its disk.
func TestPathTricks(t *testing.T) { sandboxtest.ForEachRuntime(t, testPathTricks) }

func testPathTricks(t *testing.T, runtime string) {
	e := sandboxtest.NewWithRuntime(t, runtime, nil)
	c := create(t, e, sandbox.CreateOptions{})
	ctx := context.Background()
	secret := filepath.Join(t.TempDir(), "host-secret")
	os.WriteFile(secret, []byte("host secret"), 0o644)
	run(t, e, c.ID, "ln -s / rootlink; ln -s /etc/hostname abslink; ln -s ../../../../../../.. uplink; ln -s "+secret+" hostlink; mkfifo fifo; echo hello > real.txt; ln -s real.txt rel")

	// Editor: inside the container only.
	if _, err := e.Manager.ViewFile(ctx, ws, c.ID, secret, nil); !errors.Is(err, errdefs.ErrNotFound) {
		t.Errorf("view host path = %v, want not found", err)
	}
	if _, err := e.Manager.ViewFile(ctx, ws, c.ID, "hostlink", nil); !errors.Is(err, errdefs.ErrNotFound) && !errors.Is(err, errdefs.ErrInvalid) {
		t.Errorf("view symlink to host path = %v, want not found or invalid", err)
	}
	// A symlink out of the workspace's mount is refused, even to the container's own
	// files: the editor never crosses a mount (see TestEditorReachesNoHostFile).
	if v, err := e.Manager.ViewFile(ctx, ws, c.ID, "uplink/etc/hostname", nil); !errors.Is(err, errdefs.ErrInvalid) {
		t.Errorf("view uplink/etc/hostname = %+v, %v; want invalid", v, err)
	}
	for _, p := range []string{"/proc/self/environ", "/proc/1/environ", "/proc/self/mem", "fifo", "/dev/null"} {
		if _, err := e.Manager.ViewFile(ctx, ws, c.ID, p, nil); err == nil {
			t.Errorf("view %s succeeded", p)
		}
	}
	if _, err := e.Manager.CreateFile(ctx, ws, c.ID, "/etc/evil", "x"); err == nil {
		t.Error("create /etc/evil succeeded")
	}

	// Host side: only the disk, regular files, no symlinks out.
	for _, p := range []string{"rootlink/etc/passwd", "abslink", "uplink/etc/passwd", "hostlink", "fifo", "../../../etc/passwd", "/etc/passwd", secret, "/workspace/../../etc/passwd", "."} {
		if r, _, err := e.Manager.OpenFile(ctx, ws, c.ID, p); err == nil {
			b, _ := io.ReadAll(r)
			r.Close()
			t.Errorf("OpenFile(%q) succeeded: %.40q", p, b)
		}
	}
	r, fi, err := e.Manager.OpenFile(ctx, ws, c.ID, "rel")
	if err != nil {
		t.Fatalf("OpenFile(rel): %v", err)
	}
	b, _ := io.ReadAll(r)
	r.Close()
	if string(b) != "hello\n" || fi.Size != 6 {
		t.Errorf("OpenFile(rel) = %q %+v", b, fi)
	}
	if _, err := e.Manager.ListFiles(ctx, ws, c.ID, "rootlink"); err == nil {
		t.Error("ListFiles through a symlink to / succeeded")
	}
	list, err := e.Manager.ListFiles(ctx, ws, c.ID, "")
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range list {
		if f.Path != "real.txt" {
			t.Errorf("ListFiles returned %q; want only real.txt (no symlinks, FIFOs)", f.Path)
		}
	}
	if err := e.Manager.Upload(ctx, ws, c.ID, "rootlink/etc/x", strings.NewReader("x")); err == nil {
		t.Error("Upload through a symlink to / succeeded")
	}
	if err := e.Manager.Upload(ctx, ws, c.ID, "/etc/x", strings.NewReader("x")); err == nil {
		t.Error("Upload to /etc succeeded")
	}
}

func TestContainersAreIsolated(t *testing.T) {
	sandboxtest.ForEachRuntime(t, testContainersAreIsolated)
}

func testContainersAreIsolated(t *testing.T, runtime string) {
	e := sandboxtest.NewWithRuntime(t, runtime, nil)
	a := create(t, e, sandbox.CreateOptions{})
	b := create(t, e, sandbox.CreateOptions{})
	run(t, e, a.ID, "echo mine > a-only.txt; echo tmp > /tmp/a-tmp")
	stop := busy(t, e, a.ID) // a sleeps from here on
	defer stop()
	res := run(t, e, b.ID, "ls /workspace; ls /tmp; ps -e -o comm=")
	if strings.Contains(res.Stdout, "a-only") || strings.Contains(res.Stdout, "a-tmp") || strings.Contains(res.Stdout, "sleep") {
		t.Errorf("container b sees a's files or processes:\n%s", res.Stdout)
	}
}

func TestREPL(t *testing.T) { sandboxtest.ForEachRuntime(t, testREPL) }

func testREPL(t *testing.T, runtime string) {
	e := sandboxtest.NewWithRuntime(t, runtime, nil)
	c := create(t, e, sandbox.CreateOptions{})
	python(t, e, c.ID, "import math\nx = 41", time.Minute)
	if res := python(t, e, c.ID, "x + 1", time.Minute); res.Stdout != "42\n" || res.ExitCode != 0 {
		t.Errorf("x + 1 = %+v", res)
	}
	if res := python(t, e, c.ID, "print('a'); 1/0", time.Minute); res.Stdout != "a\n" || !strings.Contains(res.Stderr, "ZeroDivisionError") || res.ExitCode == 0 {
		t.Errorf("1/0 = %+v", res)
	}
	// Interrupted: state survives.
	res := python(t, e, c.ID, "import time\nprint('before', flush=True)\ntime.sleep(100)", 500*time.Millisecond)
	if !res.TimedOut || !strings.Contains(res.Stderr, "KeyboardInterrupt") || res.Stdout != "before\n" {
		t.Errorf("sleeping cell = %+v, want TimedOut with KeyboardInterrupt", res)
	}
	if res := python(t, e, c.ID, "math.sqrt(x + 8)", time.Minute); res.Stdout != "7.0\n" {
		t.Errorf("after interrupt: %+v, want state kept", res)
	}
	// A cell that swallows the interrupt costs the REPL, never the container.
	res = python(t, e, c.ID, "import time\nwhile True:\n    try:\n        time.sleep(10)\n    except KeyboardInterrupt:\n        pass", 300*time.Millisecond)
	if !res.TimedOut || !strings.Contains(res.Stderr, "restarted") {
		t.Errorf("stubborn cell = %+v, want TimedOut and a restart notice", res)
	}
	if res := python(t, e, c.ID, "'x' in globals()", time.Minute); res.Stdout != "False\n" {
		t.Errorf("after restart: %+v, want fresh state", res)
	}
	// Bash and the REPL share the workspace.
	python(t, e, c.ID, "open('from_py.txt', 'w').write('py')", time.Minute)
	if res := run(t, e, c.ID, "cat from_py.txt"); res.Stdout != "py" {
		t.Errorf("bash reading the REPL's file = %+v", res)
	}
}

func TestEditor(t *testing.T) { sandboxtest.ForEachRuntime(t, testEditor) }

func testEditor(t *testing.T, runtime string) {
	e := sandboxtest.NewWithRuntime(t, runtime, nil)
	c := create(t, e, sandbox.CreateOptions{})
	ctx := context.Background()
	m := e.Manager
	updated, err := m.CreateFile(ctx, ws, c.ID, "src/app.py", "def f():\n    return 1\n\nprint(f())\n")
	if err != nil || updated {
		t.Fatalf("CreateFile = %v, %v", updated, err)
	}
	if updated, err := m.CreateFile(ctx, ws, c.ID, "/workspace/src/app.py", "def f():\n    return 1\n\nprint(f())\n"); err != nil || !updated {
		t.Errorf("CreateFile again = %v, %v; want updated", updated, err)
	}
	v, err := m.ViewFile(ctx, ws, c.ID, "src/app.py", []int{2, -1})
	if err != nil {
		t.Fatal(err)
	}
	if want := "     2\t    return 1\n     3\t\n     4\tprint(f())\n"; v.Content != want || v.TotalLines != 4 || v.StartLine != 2 || v.NumLines != 3 {
		t.Errorf("view = %+v, want %q", v, want)
	}
	if _, err := m.ViewFile(ctx, ws, c.ID, "src/app.py", []int{3, 9}); !errors.Is(err, errdefs.ErrInvalid) {
		t.Errorf("bad range = %v, want invalid", err)
	}
	if _, err := m.ViewFile(ctx, ws, c.ID, "src", nil); !errors.Is(err, errdefs.ErrInvalid) {
		t.Errorf("view dir = %v, want invalid", err)
	}
	if _, err := m.ViewFile(ctx, ws, c.ID, "nope.txt", nil); !errors.Is(err, errdefs.ErrNotFound) {
		t.Errorf("view missing = %v, want not found", err)
	}
	h, err := m.StrReplace(ctx, ws, c.ID, "src/app.py", "return 1", "return 2")
	if err != nil {
		t.Fatal(err)
	}
	if h.OldStart != 2 || h.OldLines != 1 || len(h.Lines) != 2 || h.Lines[0] != "-    return 1" || h.Lines[1] != "+    return 2" {
		t.Errorf("hunk = %+v", h)
	}
	if res := run(t, e, c.ID, "python3 src/app.py"); res.Stdout != "2\n" {
		t.Errorf("edited program = %+v", res)
	}
	if _, err := m.StrReplace(ctx, ws, c.ID, "src/app.py", "absent", "x"); errdefs.Code(err) != "string_not_found" {
		t.Errorf("absent = %v, want string_not_found", err)
	}
	m.CreateFile(ctx, ws, c.ID, "dup.txt", "a\na\n")
	if _, err := m.StrReplace(ctx, ws, c.ID, "dup.txt", "a", "b"); errdefs.Code(err) != "string_not_unique" {
		t.Errorf("dup = %v, want string_not_unique", err)
	}
	run(t, e, c.ID, "printf '\\x89PNG\\r\\n\\x1a\\n' > img.png")
	if v, err := m.ViewFile(ctx, ws, c.ID, "img.png", nil); err != nil || v.FileType != "image" || v.Content != "iVBORw0KGgo=" {
		t.Errorf("view image = %+v, %v", v, err)
	}
}

func TestStopRestartKeepsFiles(t *testing.T) {
	sandboxtest.ForEachRuntime(t, testStopRestartKeepsFiles)
}

func testStopRestartKeepsFiles(t *testing.T, runtime string) {
	e := sandboxtest.NewWithRuntime(t, runtime, func(c *sandbox.Config) { c.Idle = time.Minute })
	c := create(t, e, sandbox.CreateOptions{})
	ctx := context.Background()
	run(t, e, c.ID, "echo kept > w.txt; echo kept-tmp > /tmp/t.txt")
	e.Clock.Advance(2 * time.Minute)
	e.Manager.SweepOnce(ctx)
	got, err := e.Manager.Get(ctx, ws, c.ID)
	if err != nil || got.Status != sandbox.StatusStopped {
		t.Fatalf("after idle: %+v, %v; want stopped", got, err)
	}
	// Host-side reads work while it is stopped.
	list, err := e.Manager.ListFiles(ctx, ws, c.ID, "")
	if err != nil || len(list) != 1 || list[0].Path != "w.txt" {
		t.Errorf("ListFiles of a stopped container = %+v, %v", list, err)
	}
	res := run(t, e, c.ID, "cat w.txt /tmp/t.txt")
	if res.Stdout != "kept\nkept-tmp\n" {
		t.Errorf("after restart: %+v", res)
	}
	if got, err := e.Manager.Stop(ctx, ws, c.ID); err != nil || got.Status != sandbox.StatusStopped {
		t.Errorf("Stop = %+v, %v", got, err)
	}
	if res := run(t, e, c.ID, "cat w.txt"); res.Stdout != "kept\n" {
		t.Errorf("after Stop: %+v", res)
	}
	got, _ = e.Manager.Get(ctx, ws, c.ID)
	if got.Status != sandbox.StatusRunning || !got.IdleExpiresAt.After(e.Clock.Now()) {
		t.Errorf("after use: %+v, want running with a fresh idle expiry", got)
	}
}

func TestServerRestart(t *testing.T) { sandboxtest.ForEachRuntime(t, testServerRestart) }

func testServerRestart(t *testing.T, runtime string) {
	e := sandboxtest.NewWithRuntime(t, runtime, func(c *sandbox.Config) { c.StopOnClose = false })
	ctx := context.Background()
	a := create(t, e, sandbox.CreateOptions{})
	b := create(t, e, sandbox.CreateOptions{})
	run(t, e, a.ID, "echo a > a.txt")
	python(t, e, a.ID, "state = 'kept'", time.Minute)
	run(t, e, b.ID, "echo b > b.txt")
	if err := e.Manager.Close(ctx); err != nil {
		t.Fatal(err)
	}
	// b dies while no server runs.
	if err := e.Runtime.Delete(ctx, b.ID); err != nil {
		t.Fatal(err)
	}
	e.Manager = e.Start(t)
	if res := python(t, e, a.ID, "state", time.Minute); res.Stdout != "'kept'\n" {
		t.Errorf("adopted container's REPL = %+v, want state kept", res)
	}
	if got, _ := e.Manager.Get(ctx, ws, b.ID); got.Status != sandbox.StatusStopped {
		t.Errorf("dead container status = %s, want stopped", got.Status)
	}
	if res := run(t, e, b.ID, "cat b.txt"); res.Stdout != "b\n" {
		t.Errorf("restarted container = %+v, want its file", res)
	}
}

func TestWorkspaceScoping(t *testing.T) { sandboxtest.ForEachRuntime(t, testWorkspaceScoping) }

func testWorkspaceScoping(t *testing.T, runtime string) {
	e := sandboxtest.NewWithRuntime(t, runtime, nil)
	c := create(t, e, sandbox.CreateOptions{})
	ctx := context.Background()
	m := e.Manager
	other := codebox.WorkspaceID("ws_other")
	checks := map[string]error{}
	_, checks["Get"] = m.Get(ctx, other, c.ID)
	_, checks["Touch"] = m.Touch(ctx, other, c.ID)
	_, checks["Exec"] = m.Exec(ctx, other, c.ID, sandbox.ExecRequest{Command: "true"})
	_, checks["RunPython"] = m.RunPython(ctx, other, c.ID, sandbox.PythonRequest{Code: "1"})
	_, checks["ViewFile"] = m.ViewFile(ctx, other, c.ID, "x", nil)
	_, checks["CreateFile"] = m.CreateFile(ctx, other, c.ID, "x", "x")
	_, checks["StrReplace"] = m.StrReplace(ctx, other, c.ID, "x", "a", "b")
	checks["Upload"] = m.Upload(ctx, other, c.ID, "x", strings.NewReader("x"))
	_, checks["ListFiles"] = m.ListFiles(ctx, other, c.ID, "")
	_, _, checks["OpenFile"] = m.OpenFile(ctx, other, c.ID, "x")
	checks["Delete"] = m.Delete(ctx, other, c.ID)
	_, checks["unknown"] = m.Get(ctx, ws, "container_doesnotexist")
	_, checks["bad id"] = m.Get(ctx, ws, "../etc")
	for name, err := range checks {
		if !errors.Is(err, errdefs.ErrNotFound) {
			t.Errorf("%s from another workspace = %v, want not found", name, err)
		}
	}
	list, _, err := m.List(ctx, other, sandbox.ListOptions{})
	if err != nil || len(list) != 0 {
		t.Errorf("List(other) = %v, %v; want empty", list, err)
	}
	list, _, err = m.List(ctx, ws, sandbox.ListOptions{})
	if err != nil || len(list) != 1 || list[0].ID != c.ID {
		t.Errorf("List(ws) = %v, %v", list, err)
	}
}

func TestExpiry(t *testing.T) { sandboxtest.ForEachRuntime(t, testExpiry) }

func testExpiry(t *testing.T, runtime string) {
	e := sandboxtest.NewWithRuntime(t, runtime, func(c *sandbox.Config) { c.Expiry = time.Hour })
	c := create(t, e, sandbox.CreateOptions{})
	ctx := context.Background()
	e.Clock.Advance(2 * time.Hour)
	if _, err := e.Manager.Exec(ctx, ws, c.ID, sandbox.ExecRequest{Command: "true"}); errdefs.Code(err) != "container_expired" || !errors.Is(err, errdefs.ErrInvalid) {
		t.Errorf("Exec on expired = %v, want container_expired", err)
	}
	e.Manager.SweepOnce(ctx)
	if _, err := os.Stat(filepath.Join(e.Config.Dir, c.ID)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("expired container's directory still exists: %v", err)
	}
	if _, err := e.Manager.Get(ctx, ws, c.ID); errdefs.Code(err) != "container_expired" {
		t.Errorf("Get after sweep = %v, want container_expired", err)
	}
	if err := e.Manager.Delete(ctx, ws, c.ID); err != nil {
		t.Errorf("Delete expired = %v", err)
	}
}

func TestPoolAndDelete(t *testing.T) { sandboxtest.ForEachRuntime(t, testPoolAndDelete) }

func testPoolAndDelete(t *testing.T, runtime string) {
	e := sandboxtest.NewWithRuntime(t, runtime, func(c *sandbox.Config) { c.PoolSize = 1 })
	ctx := context.Background()
	pooled := waitPool(t, e, "")
	c := create(t, e, sandbox.CreateOptions{Name: "pooled"})
	if c.ID != pooled {
		t.Errorf("Create started %s, want the pooled %s", c.ID, pooled)
	}
	if c.Name != "pooled" || c.Status != sandbox.StatusRunning || c.Workspace != ws {
		t.Errorf("pooled container = %+v", c)
	}
	if res := run(t, e, c.ID, "echo pooled"); res.Stdout != "pooled\n" {
		t.Errorf("pooled exec = %+v", res)
	}
	if err := e.Manager.Delete(ctx, ws, c.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := e.Manager.Get(ctx, ws, c.ID); !errors.Is(err, errdefs.ErrNotFound) {
		t.Errorf("Get after Delete = %v, want not found", err)
	}
	if _, err := os.Stat(filepath.Join(e.Config.Dir, c.ID)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("deleted container's directory still exists")
	}
	waitPool(t, e, c.ID) // and the pool fills again
}

// waitPool waits for the pool to be full and returns the ID of the one container it
// holds, which must not be used.
func waitPool(t *testing.T, e *sandboxtest.Env, used string) string {
	t.Helper()
	if _, size := e.Manager.PoolReady(); size != 1 {
		t.Fatalf("pool size %d, want 1", size)
	}
	for deadline := time.Now().Add(2 * time.Minute); ; time.Sleep(10 * time.Millisecond) {
		if ready, _ := e.Manager.PoolReady(); ready == 1 {
			break
		}
		if time.Now().After(deadline) {
			ready, size := e.Manager.PoolReady()
			t.Fatalf("the pool holds %d of %d containers after 2 minutes", ready, size)
		}
	}
	entries, err := os.ReadDir(e.Config.Dir)
	if err != nil {
		t.Fatal(err)
	}
	var found []string
	for _, d := range entries {
		if ids.Valid(sandbox.IDPrefix, d.Name()) {
			found = append(found, d.Name())
		}
	}
	if len(found) != 1 || found[0] == used {
		t.Fatalf("containers on disk with a full pool of 1: %v, want one other than %q", found, used)
	}
	return found[0]
}

func TestWarmupAndStreaming(t *testing.T) { sandboxtest.ForEachRuntime(t, testWarmupAndStreaming) }

func testWarmupAndStreaming(t *testing.T, runtime string) {
	e := sandboxtest.NewWithRuntime(t, runtime, func(c *sandbox.Config) { c.PythonWarmup = "import json as warmed" })
	c := create(t, e, sandbox.CreateOptions{})
	if res := python(t, e, c.ID, "warmed.dumps([1])", time.Minute); res.Stdout != "'[1]'\n" {
		t.Errorf("warmed REPL = %+v", res)
	}
	var streamed strings.Builder
	res, err := e.Manager.Exec(context.Background(), ws, c.ID, sandbox.ExecRequest{
		Command: "for i in 1 2 3; do echo $i; done",
		Output: func(stream string, p []byte) {
			if stream == "stdout" {
				streamed.Write(p)
			}
		},
	})
	if err != nil || streamed.String() != res.Stdout || res.Stdout != "1\n2\n3\n" {
		t.Errorf("streamed %q, result %+v, %v", streamed.String(), res, err)
	}
}

func TestDeleteWhileBusy(t *testing.T) { sandboxtest.ForEachRuntime(t, testDeleteWhileBusy) }

func testDeleteWhileBusy(t *testing.T, runtime string) {
	e := sandboxtest.NewWithRuntime(t, runtime, nil)
	c := create(t, e, sandbox.CreateOptions{})
	errc := make(chan error, 1)
	started := make(chan struct{})
	go func() {
		_, err := e.Manager.Exec(context.Background(), ws, c.ID, sandbox.ExecRequest{Command: "echo started; sleep 1000", Timeout: time.Hour,
			Output: func(string, []byte) {
				select {
				case <-started:
				default:
					close(started)
				}
			}})
		errc <- err
	}()
	select {
	case <-started:
	case err := <-errc:
		t.Fatalf("the command ended before it started: %v", err)
	}
	if err := e.Manager.Delete(context.Background(), ws, c.ID); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	select {
	case <-errc:
	case <-time.After(30 * time.Second):
		t.Fatal("the command outlived its container's deletion")
	}
	if _, err := e.Manager.Get(context.Background(), ws, c.ID); !errors.Is(err, errdefs.ErrNotFound) {
		t.Errorf("Get after Delete = %v, want not found", err)
	}
}
