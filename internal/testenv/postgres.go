package testenv

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// pgDirPrefix names the temporary directories of test servers, so that one left by a
// test binary that was killed can be found and removed by the next.
const pgDirPrefix = "codebox-testpg-"

var pg struct {
	once sync.Once
	srv  *pgServer
	err  error
	next atomic.Int64
}

type pgServer struct {
	dir  string // owns the data directory; removed at stop
	port int
	cmd  *exec.Cmd
	done chan struct{} // closed when the server process has exited
}

// Postgres returns the URL of a fresh, empty database on a PostgreSQL server that runs
// for the whole test binary: started on first use (initdb in a temporary directory, as
// the unprivileged postgres user when the test runs as root, since PostgreSQL refuses
// root; listening on a free loopback port, trust authentication) and stopped when the
// binary exits. The database is dropped at the test's cleanup. Without PostgreSQL's
// programs (Debian's postgresql package, see scripts/deps.sh) the test stops as Missing.
//
// The server gets SIGINT (a fast shutdown) when the test binary dies, however it dies.
// A package whose tests use Postgres should also call Main (or StopPostgres) from its
// TestMain, which removes the server's directory at exit; without it the directory is
// removed by the next test binary that starts a server.
func Postgres(t testing.TB) string {
	t.Helper()
	pg.once.Do(func() { pg.srv, pg.err = startPostgres() })
	if pg.err != nil {
		var missing *missingError
		if errors.As(pg.err, &missing) {
			Missing(t, "%v", pg.err)
		}
		t.Fatalf("start PostgreSQL: %v", pg.err)
	}
	name := fmt.Sprintf("test_%d_%d", os.Getpid(), pg.next.Add(1))
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := pg.srv.exec(ctx, `CREATE DATABASE `+name); err != nil {
		t.Fatalf("create database %s: %v", name, err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		// FORCE ends the connections a test left open (a server under test that was
		// not closed), which would otherwise block the drop.
		if err := pg.srv.exec(ctx, `DROP DATABASE IF EXISTS `+name+` WITH (FORCE)`); err != nil {
			t.Errorf("drop database %s: %v", name, err)
		}
	})
	return pg.srv.url(name)
}

// Main runs the tests of m, then StopPostgres, and exits with the tests' status. Call
// it from TestMain:
//
//	func TestMain(m *testing.M) { testenv.Main(m) }
func Main(m *testing.M) {
	code := m.Run()
	StopPostgres()
	os.Exit(code)
}

// StopPostgres stops the server Postgres started, if any, and removes its directory;
// for a TestMain that does more than Main, after m.Run.
func StopPostgres() {
	if pg.srv != nil {
		pg.srv.stop()
	}
}

type missingError struct{ msg string }

func (e *missingError) Error() string { return e.msg }

// postgresBin finds the directory of initdb and postgres: the newest version under
// Debian's /usr/lib/postgresql, else PATH.
func postgresBin() (string, error) {
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	sort.Slice(dirs, func(i, j int) bool { return pgVersion(dirs[i]) > pgVersion(dirs[j]) })
	for _, d := range dirs {
		if _, err := os.Stat(filepath.Join(d, "postgres")); err == nil {
			return d, nil
		}
	}
	if p, err := exec.LookPath("initdb"); err == nil {
		return filepath.Dir(p), nil
	}
	return "", &missingError{"needs PostgreSQL's initdb and postgres (Debian's postgresql package; scripts/deps.sh installs it)"}
}

func pgVersion(binDir string) int {
	n, _ := strconv.Atoi(filepath.Base(filepath.Dir(binDir)))
	return n
}

func startPostgres() (*pgServer, error) {
	bin, err := postgresBin()
	if err != nil {
		return nil, err
	}
	cred, err := pgCredential()
	if err != nil {
		return nil, err
	}
	base := pgTempDir(cred)
	removeStalePostgresDirs(base)
	dir, err := os.MkdirTemp(base, pgDirPrefix)
	if err != nil {
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(dir, "owner.pid"), []byte(strconv.Itoa(os.Getpid())), 0o644); err != nil {
		return nil, err
	}
	data := filepath.Join(dir, "data")
	if err := os.Mkdir(data, 0o700); err != nil {
		return nil, err
	}
	if cred != nil {
		for _, p := range []string{dir, data} {
			if err := os.Chown(p, int(cred.Uid), int(cred.Gid)); err != nil {
				return nil, err
			}
		}
	}
	initdb := exec.Command(filepath.Join(bin, "initdb"), "-D", data, "-U", "postgres", "--auth=trust",
		"--encoding=UTF8", "--locale=C", "--no-sync")
	initdb.Dir = dir
	initdb.SysProcAttr = &syscall.SysProcAttr{Credential: cred, Pdeathsig: syscall.SIGKILL}
	// Pdeathsig follows the thread that starts the process (see runPostgres).
	runtime.LockOSThread()
	out, err := initdb.CombinedOutput()
	runtime.UnlockOSThread()
	if err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("initdb: %w\n%s", err, out)
	}
	// The port is free when picked and taken by the server a moment later; another
	// process may take it in between, so a failed start tries another.
	var lastErr error
	for range 3 {
		srv, err := runPostgres(bin, dir, cred)
		if err == nil {
			return srv, nil
		}
		lastErr = err
	}
	os.RemoveAll(dir)
	return nil, lastErr
}

// pgTempDir is where the server's directory goes: the temporary directory, unless the
// server runs as another user who could not reach into it (a TMPDIR under /root), then
// /tmp.
func pgTempDir(cred *syscall.Credential) string {
	dir := os.TempDir()
	if cred == nil {
		return dir
	}
	for d := dir; ; d = filepath.Dir(d) {
		if fi, err := os.Stat(d); err != nil || fi.Mode().Perm()&0o001 == 0 {
			return "/tmp"
		}
		if d == filepath.Dir(d) {
			return dir
		}
	}
}

// pgCredential is whom the server runs as: the postgres user when the test runs as
// root, the test's own user otherwise (nil).
func pgCredential() (*syscall.Credential, error) {
	if os.Geteuid() != 0 {
		return nil, nil
	}
	u, err := user.Lookup("postgres")
	if err != nil {
		return nil, &missingError{fmt.Sprintf("PostgreSQL refuses to run as root and there is no postgres user to run it as: %v", err)}
	}
	uid, _ := strconv.ParseUint(u.Uid, 10, 32)
	gid, _ := strconv.ParseUint(u.Gid, 10, 32)
	return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}, nil
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func runPostgres(bin, dir string, cred *syscall.Credential) (*pgServer, error) {
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	srv := &pgServer{dir: dir, port: port, done: make(chan struct{})}
	log, err := os.Create(filepath.Join(dir, "postgres.log"))
	if err != nil {
		return nil, err
	}
	defer log.Close()
	srv.cmd = exec.Command(filepath.Join(bin, "postgres"), "-D", filepath.Join(dir, "data"),
		"-h", "127.0.0.1", "-p", strconv.Itoa(port),
		"-c", "unix_socket_directories=",
		"-c", "max_connections=300",
		// Durability is not what tests check; these make each commit cheap.
		"-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off")
	srv.cmd.Stdout, srv.cmd.Stderr = log, log
	// SIGINT (fast shutdown) when the test binary dies, however it dies. The signal
	// follows the thread that started the process, so that thread stays locked to a
	// goroutine that lives as long as the server.
	srv.cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred, Pdeathsig: syscall.SIGINT}
	started := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		if err := srv.cmd.Start(); err != nil {
			started <- err
			return
		}
		started <- nil
		srv.cmd.Wait()
		close(srv.done)
	}()
	if err := <-started; err != nil {
		return nil, fmt.Errorf("start postgres: %w", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	for {
		err := srv.exec(ctx, `SELECT 1`)
		if err == nil {
			return srv, nil
		}
		select {
		case <-srv.done:
			out, _ := os.ReadFile(filepath.Join(dir, "postgres.log"))
			return nil, fmt.Errorf("postgres exited: %s", out)
		case <-ctx.Done():
			srv.stop()
			return nil, fmt.Errorf("postgres did not answer: %w", err)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

func (s *pgServer) url(db string) string {
	return fmt.Sprintf("postgres://postgres@127.0.0.1:%d/%s?sslmode=disable", s.port, db)
}

// exec runs one statement in the server's maintenance database.
func (s *pgServer) exec(ctx context.Context, sql string) error {
	conn, err := pgx.Connect(ctx, s.url("postgres"))
	if err != nil {
		return err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	_, err = conn.Exec(ctx, sql)
	return err
}

// stop shuts the server down (fast: open connections are ended) and removes its directory.
func (s *pgServer) stop() {
	s.cmd.Process.Signal(syscall.SIGINT)
	select {
	case <-s.done:
	case <-time.After(30 * time.Second):
		s.cmd.Process.Kill()
		<-s.done
	}
	os.RemoveAll(s.dir)
}

// removeStalePostgresDirs removes the directories of servers whose test binary is gone
// (it was killed before Main could remove them; the server itself stopped with it).
func removeStalePostgresDirs(base string) {
	dirs, _ := filepath.Glob(filepath.Join(base, pgDirPrefix+"*"))
	for _, d := range dirs {
		b, err := os.ReadFile(filepath.Join(d, "owner.pid"))
		if err != nil {
			continue
		}
		pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
		if err != nil {
			continue
		}
		if alive(pid) || alive(postmasterPID(d)) {
			continue
		}
		os.RemoveAll(d)
	}
}

// postmasterPID is the server process of the directory d, or 0 when it has none.
func postmasterPID(d string) int {
	b, err := os.ReadFile(filepath.Join(d, "data", "postmaster.pid"))
	if err != nil {
		return 0
	}
	line, _, _ := strings.Cut(string(b), "\n")
	pid, _ := strconv.Atoi(strings.TrimSpace(line))
	return pid
}

func alive(pid int) bool {
	return pid > 0 && !errors.Is(syscall.Kill(pid, 0), syscall.ESRCH)
}
