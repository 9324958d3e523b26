package prefork

import (
	"encoding/binary"
	"errors"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"
	"unsafe"
)

// serverPython is the interpreter the fork server runs: a python3 that resolves to
// another file is started cold.
const serverPython = "/usr/bin/python3"

// requireWait bounds how long a "require" front end waits for the server to start.
const requireWait = 2 * time.Minute

// Shim is the python3 front end: args are python3's arguments. It returns only when
// the program could not be run at all; otherwise it execs the real python3 or ends
// as the forked program ended.
func Shim(args []string) int {
	env := stripPath(os.Environ())
	mode := os.Getenv(Env)
	real := lookPython(env)
	if real == "" {
		os.Stderr.WriteString("python3: command not found\n")
		return 127
	}
	if mode == "0" || !sameFile(real, serverPython) {
		return cold(real, args, env)
	}
	why := tryFork(args, env, mode == "require")
	if mode == "require" {
		os.Stderr.WriteString("python3: the pre-imported interpreter was not used: " + why + "\n")
		return 125
	}
	return cold(real, args, env)
}

// cold execs the real interpreter.
func cold(real string, args, env []string) int {
	err := syscall.Exec(real, append([]string{"python3"}, args...), env)
	os.Stderr.WriteString("python3: " + err.Error() + "\n")
	return 126
}

// stripPath removes BinDir from PATH: the program sees the PATH a python3 started
// without the front end would, and a python3 it starts is the real one.
func stripPath(env []string) []string {
	out := make([]string, 0, len(env))
	for _, kv := range env {
		if v, ok := strings.CutPrefix(kv, "PATH="); ok {
			var keep []string
			for _, d := range strings.Split(v, ":") {
				if d != BinDir {
					keep = append(keep, d)
				}
			}
			kv = "PATH=" + strings.Join(keep, ":")
		}
		out = append(out, kv)
	}
	return out
}

// lookPython finds python3 on env's PATH as execvp would.
func lookPython(env []string) string {
	path := "/usr/local/bin:/usr/bin:/bin"
	for _, kv := range env {
		if v, ok := strings.CutPrefix(kv, "PATH="); ok {
			path = v
		}
	}
	for _, d := range strings.Split(path, ":") {
		if d == "" {
			d = "."
		}
		p := d + "/python3"
		var st syscall.Stat_t
		if syscall.Stat(p, &st) == nil && st.Mode&syscall.S_IFMT == syscall.S_IFREG && syscall.Access(p, 1) == nil {
			return p
		}
	}
	return ""
}

func sameFile(a, b string) bool {
	var sa, sb syscall.Stat_t
	return syscall.Stat(a, &sa) == nil && syscall.Stat(b, &sb) == nil && sa.Dev == sb.Dev && sa.Ino == sb.Ino
}

// tryFork runs the program in a fork of the server and exits as it ended. It returns
// why it could not, before anything of the program ran.
func tryFork(args, env []string, wait bool) string {
	for fd := range 3 {
		if isTerminal(fd) {
			return "a standard stream is a terminal"
		}
	}
	sock, err := dial(wait)
	if err != nil {
		return err.Error()
	}
	cwd, err := syscall.Open(".", syscall.O_RDONLY|syscall.O_DIRECTORY|syscall.O_CLOEXEC, 0)
	if err != nil {
		return "the working directory cannot be opened: " + err.Error()
	}
	fds, err := inheritedFDs()
	if err != nil {
		return err.Error()
	}
	ignored := ignoredSignals()
	// Signals arriving from here on are relayed once the child exists.
	sigs := make(chan os.Signal, 32)
	signal.Notify(sigs, relayed...)
	if err := send(sock, args, env, cwd, fds, ignored); err != nil {
		return "sending the request: " + err.Error()
	}
	syscall.Close(cwd)
	r := &reader{fd: sock}
	kind, err := r.line()
	if err != nil {
		return "reading the answer: " + err.Error()
	}
	if reason, ok := strings.CutPrefix(kind, "cold "); ok {
		return reason
	}
	pid, err := strconv.Atoi(strings.TrimPrefix(kind, "pid "))
	if err != nil || pid <= 0 {
		return "bad answer " + strconv.Quote(kind)
	}
	// From here on the program runs: the front end ends as it ends.
	done := make(chan string, 1)
	go func() {
		s, err := r.line()
		if err != nil {
			s = "lost"
		}
		done <- s
	}()
	for {
		select {
		case s := <-sigs:
			syscall.Kill(pid, s.(syscall.Signal))
		case st := <-done:
			signal.Stop(sigs)
			exitAs(st)
		}
	}
}

// relayed are the signals passed on to the program. Those the program ignores, as
// it was started ignoring them, it ignores when they arrive.
var relayed = []os.Signal{syscall.SIGINT, syscall.SIGHUP, syscall.SIGTERM, syscall.SIGQUIT,
	syscall.SIGUSR1, syscall.SIGUSR2, syscall.SIGALRM, syscall.SIGWINCH, syscall.SIGCONT,
	syscall.SIGPWR, syscall.SIGVTALRM, syscall.SIGPROF}

// ignoredSignals are the signals whose disposition is SIG_IGN now, before anything
// here changed one: the Go runtime keeps an inherited SIG_IGN for the signals it does
// not need itself, and for SIGINT and SIGHUP. They are what the exec of a real
// python3 would pass on.
func ignoredSignals() []int {
	var sigs []int
	for s := 1; s <= 64; s++ {
		if s == int(syscall.SIGKILL) || s == int(syscall.SIGSTOP) {
			continue
		}
		// struct kernel_sigaction { handler, flags, restorer, mask }
		var old [4]uint64
		_, _, errno := syscall.RawSyscall6(syscall.SYS_RT_SIGACTION, uintptr(s), 0, uintptr(unsafe.Pointer(&old)), 8, 0, 0)
		if errno == 0 && old[0] == 1 { // SIG_IGN
			sigs = append(sigs, s)
		}
	}
	return sigs
}

// exitAs ends the front end as the program ended: "exit N" or "signal N". A program
// lost with the server (killed, out of memory) ends as killed.
func exitAs(status string) {
	if n, ok := strings.CutPrefix(status, "exit "); ok {
		code, _ := strconv.Atoi(n)
		os.Exit(code)
	}
	sig := int(syscall.SIGKILL)
	if n, ok := strings.CutPrefix(status, "signal "); ok {
		if s, err := strconv.Atoi(n); err == nil && s > 0 && s < 65 {
			sig = s
		}
	}
	dieBy(syscall.Signal(sig))
}

// dieBy kills the process with sig at its default disposition, bypassing the Go
// runtime's handler, so that the shell sees the same death the program had.
func dieBy(sig syscall.Signal) {
	// struct kernel_sigaction { handler, flags, restorer, mask } with SIG_DFL.
	var sa [4]uint64
	syscall.RawSyscall6(syscall.SYS_RT_SIGACTION, uintptr(sig), uintptr(unsafe.Pointer(&sa)), 0, 8, 0, 0)
	var none uint64
	syscall.RawSyscall6(syscall.SYS_RT_SIGPROCMASK, 2 /* SIG_SETMASK */, uintptr(unsafe.Pointer(&none)), 0, 8, 0, 0)
	syscall.Kill(os.Getpid(), sig)
	time.Sleep(time.Second)
	os.Exit(128 + int(sig)) // a signal whose default is to continue (SIGCHLD, SIGURG)
}

func isTerminal(fd int) bool {
	var t syscall.Termios
	_, _, errno := syscall.Syscall(syscall.SYS_IOCTL, uintptr(fd), syscall.TCGETS, uintptr(unsafe.Pointer(&t)))
	return errno == 0
}

// dial connects to the server. When it does not run, the agent is asked to start it;
// with wait, dial waits for it to come up.
func dial(wait bool) (int, error) {
	deadline := time.Now().Add(requireWait)
	for {
		fd, err := connect(ServerSocket)
		if err == nil {
			return fd, nil
		}
		// Asked again while waiting: a server that was exiting when first asked
		// is started once it is gone.
		if s, err := connect(StartSocket); err == nil {
			syscall.Close(s)
		}
		if !wait || time.Now().After(deadline) {
			return -1, errors.New("the fork server is not ready: " + err.Error())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func connect(path string) (int, error) {
	fd, err := syscall.Socket(syscall.AF_UNIX, syscall.SOCK_STREAM|syscall.SOCK_CLOEXEC, 0)
	if err != nil {
		return -1, err
	}
	if err := syscall.Connect(fd, &syscall.SockaddrUnix{Name: path}); err != nil {
		syscall.Close(fd)
		return -1, err
	}
	return fd, nil
}

// maxFDs is how many descriptors one request passes; SCM_RIGHTS takes at most 253,
// one of which is the working directory.
const maxFDs = 250

// inheritedFDs lists the descriptors an exec would pass on: the open ones without
// close-on-exec (the Go runtime marks all of its own).
func inheritedFDs() ([]int, error) {
	d, err := os.Open("/proc/self/fd")
	if err != nil {
		return nil, err
	}
	names, err := d.Readdirnames(-1)
	d.Close()
	if err != nil {
		return nil, err
	}
	var fds []int
	for _, n := range names {
		fd, err := strconv.Atoi(n)
		if err != nil {
			continue
		}
		flags, _, errno := syscall.Syscall(syscall.SYS_FCNTL, uintptr(fd), syscall.F_GETFD, 0)
		if errno != 0 || flags&syscall.FD_CLOEXEC != 0 {
			continue // the directory listing's own, since closed, or the runtime's
		}
		fds = append(fds, fd)
	}
	if len(fds) > maxFDs {
		return nil, errors.New("more than " + strconv.Itoa(maxFDs) + " open file descriptors")
	}
	return fds, nil
}

// send writes the request: its byte length, then fields as length-prefixed strings
// (see forkserver.py), with the working directory and fds attached.
func send(sock int, args, env []string, cwd int, fds, ignored []int) error {
	var b []byte
	str := func(s string) {
		b = binary.LittleEndian.AppendUint32(b, uint32(len(s)))
		b = append(b, s...)
	}
	list := func(l []string) {
		str(strconv.Itoa(len(l)))
		for _, s := range l {
			str(s)
		}
	}
	list(args)
	list(env)
	nums := make([]string, len(fds))
	for i, fd := range fds {
		nums[i] = strconv.Itoa(fd)
	}
	list(nums)
	mask := syscall.Umask(0)
	syscall.Umask(mask)
	str(strconv.Itoa(mask))
	var lims []string
	for res := range 16 {
		var rl syscall.Rlimit
		if syscall.Getrlimit(res, &rl) != nil {
			continue
		}
		lims = append(lims, strconv.Itoa(res)+" "+strconv.FormatUint(rl.Cur, 10)+" "+strconv.FormatUint(rl.Max, 10))
	}
	list(lims)
	sigs := make([]string, len(ignored))
	for i, s := range ignored {
		sigs[i] = strconv.Itoa(s)
	}
	list(sigs)
	msg := binary.LittleEndian.AppendUint32(nil, uint32(len(b)))
	msg = append(msg, b...)
	oob := syscall.UnixRights(append([]int{cwd}, fds...)...)
	n, err := syscall.SendmsgN(sock, msg, oob, nil, 0)
	if err != nil {
		return err
	}
	for n < len(msg) {
		m, err := syscall.Write(sock, msg[n:])
		if err != nil {
			return err
		}
		n += m
	}
	return nil
}

// reader reads newline-ended answers from the server.
type reader struct {
	fd  int
	buf []byte
}

func (r *reader) line() (string, error) {
	for {
		if i := strings.IndexByte(string(r.buf), '\n'); i >= 0 {
			s := string(r.buf[:i])
			r.buf = r.buf[i+1:]
			return s, nil
		}
		p := make([]byte, 256)
		n, err := syscall.Read(r.fd, p)
		if err == syscall.EINTR {
			continue
		}
		if err != nil {
			return "", err
		}
		if n == 0 {
			return "", errors.New("the fork server closed the connection")
		}
		r.buf = append(r.buf, p[:n]...)
	}
}
