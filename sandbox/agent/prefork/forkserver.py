# codebox fork server: imports the heavy libraries once, then forks one child per
# python3 command; the child becomes the program exactly as a cold python3 would run it.
# The protocol with the python3 front end is in shim.go.
import sys

# What a cold interpreter has loaded before the program runs: anything this file or
# the pre-imports load beyond it, a program's own file of that name would replace in
# a cold start.
_initial_modules = set(sys.modules)

import os  # noqa: E402
import builtins  # noqa: E402
import ctypes  # noqa: E402
import fcntl  # noqa: E402
import io  # noqa: E402
import random  # noqa: E402
import resource  # noqa: E402
import selectors  # noqa: E402
import signal  # noqa: E402
import socket  # noqa: E402
import stat  # noqa: E402
import struct  # noqa: E402
import types  # noqa: E402
import warnings  # noqa: E402
from importlib.machinery import BuiltinImporter, SourceFileLoader  # noqa: E402

SOCKET = sys.argv[1]

# The agent that started the server ignores signals a shell's python3 does not
# inherit ignored; the interpreter then left SIGINT alone. Set them as a cold start
# from a shell has them.
for _s in signal.valid_signals():
    if _s not in (signal.SIGKILL, signal.SIGSTOP, signal.SIGPIPE, signal.SIGXFSZ) \
            and signal.getsignal(_s) == signal.SIG_IGN:
        signal.signal(_s, signal.default_int_handler if _s == signal.SIGINT else signal.SIG_DFL)

# What a cold interpreter has before the program runs, to give each child back.
_warning_filters = list(warnings.filters)
_handlers = {s: signal.getsignal(s) for s in signal.valid_signals()
             if s not in (signal.SIGKILL, signal.SIGSTOP)}
_server_main = sys.modules["__main__"]
_server_stdio = (sys.stdin, sys.stdout, sys.stderr)  # collected, they would close fds 0-2
_hooks = (sys.excepthook, sys.displayhook, sys.breakpointhook, sys.unraisablehook)

# The environment the server was started with, and what site (the image's
# sitecustomize) changed in it: a cold start makes the same changes.
with open("/proc/self/environ", "rb") as _f:
    _start_env = dict(kv.partition(b"=")[::2] for kv in _f.read().split(b"\0") if kv)
_site_env = {k: v for k, v in os.environb.items() if _start_env.get(k) != v}
_site_unset = [k for k in _start_env if k not in os.environb]


def _import_all():
    import importlib
    for name in ("numpy", "pandas", "matplotlib", "matplotlib.pyplot",
                 "scipy", "scipy.linalg", "scipy.optimize", "scipy.stats",
                 "scipy.interpolate", "scipy.integrate", "scipy.signal", "scipy.sparse",
                 "scipy.special"):
        try:
            importlib.import_module(name)
        except Exception:
            pass


_import_all()
import site  # noqa: E402

# Modules a program's own files could shadow in a cold start: the ones the
# interpreter had not loaded before the program's directory went on sys.path.
_preloaded = {m.split(".")[0] for m in set(sys.modules) - _initial_modules} - set(sys.builtin_module_names)

# Variables read when the interpreter or a pre-imported library starts: a program
# started with other values than the server's is started cold.
_ENV_PREFIXES = (b"PYTHON", b"LC_", b"MPL", b"OPENBLAS", b"OMP_", b"MKL_", b"GOTO", b"NUMEXPR",
                 b"NPY_", b"NUMPY", b"SCIPY", b"PANDAS", b"MALLOC_", b"LD_", b"GLIBC_", b"GCONV_",
                 b"FONTCONFIG", b"XDG_")
_ENV_NAMES = {b"LANG", b"LANGUAGE", b"HOME", b"TZ", b"TMPDIR", b"TEMP", b"TMP", b"TEMPDIR"}


def _start_vars(env):
    return {k: v for k, v in env.items()
            if k in _ENV_NAMES or k.startswith(_ENV_PREFIXES)}


def _site_stamp():
    # Packages installed after the server started (pip install --user) are seen by
    # a cold start only.
    try:
        st = os.stat(site.getusersitepackages())
        return (st.st_ino, st.st_mtime_ns)
    except OSError:
        return None


_start_vars_server = _start_vars(_start_env)
_site = _site_stamp()


class Cold(Exception):
    pass


def _shadowed(d):
    # A module of d named like a pre-imported one would win over it in a cold start.
    try:
        names = os.listdir(d or ".")
    except OSError:
        return None
    for n in names:
        base = n.split(".")[0]
        if base in _preloaded:
            p = os.path.join(d or ".", n)
            if not os.path.isdir(p) or os.path.exists(os.path.join(p, "__init__.py")):
                return n
    return None


def _plan(args, env):
    """How to run args: (mode, value, argv, path0) or Cold(reason)."""
    env = dict(kv.partition(b"=")[::2] for kv in env)
    got = _start_vars(env)
    if got != _start_vars_server:
        name = min(k for k in got.keys() | _start_vars_server.keys()
                   if got.get(k) != _start_vars_server.get(k))
        raise Cold("%s differs from the server's, and it changes how the interpreter "
                   "or a pre-imported library starts" % os.fsdecode(name))
    if _site_stamp() != _site:
        raise Cold("packages were installed since the server started")
    a = [os.fsdecode(x) for x in args]
    if not a:
        return ("stdin", None, [""], "", a)
    first = a[0]
    if first == "-c" and len(a) >= 2:
        return ("c", a[1], ["-c"] + a[2:], "", a)
    if first == "-m" and len(a) >= 2:
        return ("m", a[1], ["-m"] + a[2:], os.getcwd(), a)
    if first == "-":
        return ("stdin", None, a, "", a)
    if first.startswith("-"):
        raise Cold("option " + first)
    try:
        st = os.stat(first)
    except OSError as e:
        raise Cold("script: " + str(e))
    if not stat.S_ISREG(st.st_mode) or first.endswith((".pyc", ".pyz", ".zip")):
        raise Cold("the script is not a source file")
    return ("script", first, a, os.path.dirname(os.path.realpath(first)), a)


def _check(plan):
    name = _shadowed(plan[3])
    if name is not None:
        raise Cold("%s in the program's directory would replace a pre-imported module" % name)
    return plan


def _recv(conn):
    fds = []
    hdr = b""
    while len(hdr) < 4:
        msg, anc, _, _ = conn.recvmsg(4 - len(hdr), socket.CMSG_SPACE(253 * 4))
        if not msg:
            raise EOFError
        hdr += msg
        for level, typ, data in anc:
            if level == socket.SOL_SOCKET and typ == socket.SCM_RIGHTS:
                n = len(data) - len(data) % 4
                fds += list(struct.unpack("%di" % (n // 4), data[:n]))
    (size,) = struct.unpack("<I", hdr)
    body = b""
    while len(body) < size:
        chunk = conn.recv(size - len(body))
        if not chunk:
            raise EOFError
        body += chunk
    pos = 0

    def s():
        nonlocal pos
        (n,) = struct.unpack_from("<I", body, pos)
        pos += 4
        v = body[pos:pos + n]
        pos += n
        return v

    def lst():
        return [s() for _ in range(int(s()))]

    req = {"args": lst(), "env": lst(), "fds": [int(x) for x in lst()], "umask": int(s()),
           "rlimits": [tuple(int(f) for f in x.split()) for x in lst()],
           "ignored": [int(x) for x in lst()]}
    return req, fds


def _make_stdio(fd, write):
    # As the interpreter makes them (Python/pylifecycle.c, create_stdio).
    try:
        os.fstat(fd)
    except OSError:
        return None
    buf = io.open(fd, "wb" if write else "rb", -1, closefd=False)
    raw = buf.raw
    raw.name = ("<stdin>", "<stdout>", "<stderr>")[fd]
    enc = sys.stdout.encoding if sys.stdout is not None else None
    errors = "backslashreplace" if fd == 2 else (sys.stdout.errors if sys.stdout is not None else "strict")
    if fd == 0 and sys.stdin is not None:
        enc, errors = sys.stdin.encoding, sys.stdin.errors
    line = write and (raw.isatty() or fd == 2)
    text = io.TextIOWrapper(buf, enc, errors, "\n", line, False)
    text.mode = "w" if write else "r"
    return text


def _leave_server(keep, server_sockets):
    """In a spare child, before any request: drops the server's state, keeping only
    the descriptors in keep (the standard ones and the spare's own socket)."""
    signal.set_wakeup_fd(-1)
    for s, h in _handlers.items():
        try:
            signal.signal(s, h)
        except (OSError, ValueError, TypeError):
            pass
    try:
        ctypes.CDLL(None).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG: die with the server
    except Exception:
        pass
    # Socket objects would close their numbers when collected, which by then may be
    # the program's: detach them, and close the raw descriptors below.
    for obj in server_sockets:
        try:
            obj.detach()
        except (OSError, ValueError):
            pass
    _close_all_but(keep)
    # The pages a program's start touches are copied from the server now rather
    # than while the program waits for them.
    random.seed()
    if "numpy" in sys.modules:
        sys.modules["numpy"].random.seed()


def _close_all_but(keep):
    for fd in [int(n) for n in os.listdir("/proc/self/fd")]:
        if fd not in keep:
            try:
                os.close(fd)
            except OSError:
                pass


def _become(req, fds):
    """In the child: take on the front end's process state."""
    # Ignored signals stay ignored across exec: the program ignores what its
    # python3 was started ignoring.
    for s in req["ignored"]:
        if s in _handlers and s not in (signal.SIGPIPE, signal.SIGXFSZ):
            signal.signal(s, signal.SIG_IGN)
    cwd, passed = fds[0], fds[1:]
    targets = req["fds"]
    high = max(targets + [2]) + 1
    moved = [_dup_above(f, high) for f in passed]
    os.fchdir(cwd)
    os.close(cwd)
    for t, m in zip(targets, moved):
        os.dup2(m, t, inheritable=True)
    _close_all_but(set(targets))
    os.umask(req["umask"])
    for res, cur, mx in req["rlimits"]:
        cur = resource.RLIM_INFINITY if cur >= 1 << 63 else cur
        mx = resource.RLIM_INFINITY if mx >= 1 << 63 else mx
        try:
            if resource.getrlimit(res) != (cur, mx):
                resource.setrlimit(res, (cur, mx))
        except (ValueError, OSError):
            pass
    os.environ.clear()
    for kv in req["env"]:
        k, _, v = kv.partition(b"=")
        if k:
            os.environb[k] = v
    for k in _site_unset:
        os.environb.pop(k, None)
    os.environb.update(_site_env)
    stdin = _make_stdio(0, False)
    stdout = _make_stdio(1, True)
    stderr = _make_stdio(2, True)
    sys.stdin = sys.__stdin__ = stdin
    sys.stdout = sys.__stdout__ = stdout
    sys.stderr = sys.__stderr__ = stderr
    warnings.filters[:] = _warning_filters
    warnings._filters_mutated()
    sys.excepthook, sys.displayhook, sys.breakpointhook, sys.unraisablehook = _hooks
    random.seed()
    if "numpy" in sys.modules:
        sys.modules["numpy"].random.seed()


def _dup_above(fd, low):
    n = fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, low)
    os.close(fd)
    return n


def _reply(conn, line):
    try:
        conn.sendall(line.encode() + b"\n")
    except OSError:
        pass


# How long the server waits with nothing to do before it forks the next spare
# (seconds): while programs run, and after the last thing it did, so that the fork
# (50-80 ms of CPU under gVisor) does not hold up the end of the command that just
# ran, its front end's exit and the shell going on.
_SPARE_DELAY_RUNNING = 0.1
_SPARE_DELAY_IDLE = 0.03


def _hand_over(sock, req, plan, fds):
    """Sends a request to a spare child: its descriptors, then the request."""
    import pickle
    body = pickle.dumps((req, plan))
    socket.send_fds(sock, [struct.pack("<I", len(body))], fds)
    sock.sendall(body)


def _take_over(sock):
    """In a spare child: waits for the request _hand_over sends. A server gone
    first ends the spare."""
    import pickle
    hdr, fds = b"", []
    while len(hdr) < 4:
        msg, got, _, _ = socket.recv_fds(sock, 4 - len(hdr), 253)
        fds += got
        if not msg:
            os._exit(0)
        hdr += msg
    (size,) = struct.unpack("<I", hdr)
    body = bytearray()
    while len(body) < size:
        chunk = sock.recv(size - len(body))
        if not chunk:
            os._exit(0)
        body += chunk
    sock.close()
    req, plan = pickle.loads(body)
    return req, plan, fds


def serve():
    """Accepts requests until a child returns from here with its plan.

    A spare child, forked before the request it serves, waits for it: the fork and
    the child's first steps, tens of milliseconds under gVisor, are not paid while
    the program's python3 waits. Each spare serves one program; the server forks the
    next when it is idle, and forks on demand when a request finds none."""
    try:
        os.unlink(SOCKET)
    except FileNotFoundError:
        pass
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(SOCKET)
    listener.listen(64)
    sel = selectors.DefaultSelector()
    wake_r, wake_w = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
    signal.set_wakeup_fd(wake_w)
    signal.signal(signal.SIGCHLD, lambda *a: None)
    sel.register(listener, selectors.EVENT_READ, "accept")
    sel.register(wake_r, selectors.EVENT_READ, "child")
    children = {}  # pid -> conn
    spare = None  # (pid, socket) of the child waiting for the next request
    import gc
    gc.collect()
    gc.freeze()  # the children's collections leave the shared pages alone

    def fork_spare():
        """Returns the new spare in the server, and its socket in the spare."""
        mine, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        pid = os.fork()
        if pid == 0:
            os.setpgid(0, 0)
            sel.close()
            _leave_server({0, 1, 2, theirs.fileno()},
                          [listener, mine] + list(children.values()) + ([spare[1]] if spare else []))
            return None, theirs
        try:
            os.setpgid(pid, pid)  # whichever of the two runs first
        except OSError:
            pass
        theirs.close()
        return (pid, mine), None

    def become_spare(sock):
        try:
            req, plan, fds = _take_over(sock)
            _become(req, fds)
        except BaseException as e:
            os.write(2, ("python3: cannot take over the process state: %r\n" % (e,)).encode())
            os._exit(125)
        return plan

    while True:
        # The next spare is forked once the server has had nothing to do for a
        # moment.
        timeout = None if spare is not None else (_SPARE_DELAY_RUNNING if children else _SPARE_DELAY_IDLE)
        events = sel.select(timeout)
        if not events and spare is None:
            spare, sock = fork_spare()
            if sock is not None:
                return become_spare(sock)
            continue
        for key, _ in events:
            what = key.data
            if what == "accept":
                conn, _ = listener.accept()
                fds = []
                try:
                    req, fds = _recv(conn)
                    # Paths in the arguments are the program's: relative to its
                    # working directory.
                    os.fchdir(fds[0])
                    plan = _check(_plan(req["args"], req["env"]))
                except Cold as e:
                    _reply(conn, "cold " + str(e))
                    conn.close()
                    for f in fds:
                        os.close(f)
                    if str(e).startswith("packages"):
                        # Stale: the next python3 asks the agent for a new server.
                        listener.close()
                        os.unlink(SOCKET)
                        os._exit(0)
                    continue
                except Exception as e:
                    _reply(conn, "cold bad request: %r" % (e,))
                    conn.close()
                    for f in fds:
                        os.close(f)
                    continue
                pid = None
                for _attempt in range(2):
                    if spare is None:
                        spare, sock = fork_spare()
                        if sock is not None:
                            return become_spare(sock)
                    try:
                        _hand_over(spare[1], req, plan, fds)
                        pid = spare[0]
                    except OSError:
                        # The spare is gone (killed, say): its exit is reaped below.
                        pass
                    spare[1].close()
                    spare = None
                    if pid is not None:
                        break
                for f in fds:
                    os.close(f)
                if pid is None:
                    _reply(conn, "cold no child to run the program")
                    conn.close()
                    continue
                _reply(conn, "pid %d" % pid)
                children[pid] = conn
                sel.register(conn, selectors.EVENT_READ, ("conn", pid))
            elif what == "child":
                try:
                    while os.read(wake_r, 512):
                        pass
                except BlockingIOError:
                    pass
                while True:
                    try:
                        pid, status = os.waitpid(-1, os.WNOHANG)
                    except ChildProcessError:
                        break
                    if pid == 0:
                        break
                    if spare is not None and pid == spare[0]:
                        spare[1].close()
                        spare = None
                        continue
                    conn = children.pop(pid, None)
                    if conn is None:
                        continue
                    if os.WIFSIGNALED(status):
                        _reply(conn, "signal %d" % os.WTERMSIG(status))
                    else:
                        _reply(conn, "exit %d" % os.waitstatus_to_exitcode(status))
                    try:
                        sel.unregister(conn)
                    except (KeyError, ValueError):
                        pass
                    conn.close()
            else:
                # The front end went away (killed): its program goes too.
                pid = what[1]
                conn = children.get(pid)
                try:
                    if conn.recv(1):
                        continue
                except OSError:
                    pass
                try:
                    os.killpg(pid, signal.SIGKILL)
                except OSError:
                    pass
                sel.unregister(conn)


def _trim(tb):
    while tb is not None and tb.tb_frame.f_code.co_filename == __file__:
        tb = tb.tb_next
    return tb


def _finish(code, sigint):
    """Ends the child as the interpreter's exit would, without tearing down the
    pre-imported modules: that would touch, and so copy, every page the child shares
    with the server."""
    if "threading" in sys.modules:
        try:
            sys.modules["threading"]._shutdown()
        except BaseException:
            pass
    import atexit
    atexit._run_exitfuncs()
    for f in (sys.stdout, sys.stderr):
        try:
            if f is not None:
                f.flush()
        except Exception:
            if f is sys.stdout and code == 0:
                code = 120
    try:
        ctypes.CDLL(None).fflush(None)
    except Exception:
        pass
    if sigint:
        signal.signal(signal.SIGINT, signal.SIG_DFL)
        os.kill(os.getpid(), signal.SIGINT)
    os._exit(code & 0xFF)


def _exit_code(e):
    c = e.code
    if c is None:
        return 0
    if isinstance(c, int):
        return c if -(1 << 31) <= c < 1 << 31 else -1
    try:
        print(c, file=sys.stderr)
    except Exception:
        pass
    return 1


def run(plan):
    mode, value, argv, path0, args = plan
    sys.argv = argv
    sys.orig_argv = ["python3"] + args
    sys.path[0] = path0
    main = types.ModuleType("__main__")
    sys.modules["__main__"] = main
    code, sigint = 0, False
    try:
        # The attributes of __main__, in the order the interpreter sets them.
        main.__loader__ = BuiltinImporter
        main.__annotations__ = {}
        main.__builtins__ = builtins
        if mode == "m":
            import runpy
            runpy._run_module_as_main(value, True)
        else:
            if mode == "script":
                # Made absolute as the interpreter does: joined, not normalized.
                filename = value if os.path.isabs(value) else os.path.join(os.getcwd(), value)
                with open(value, "rb") as f:
                    source = f.read()
                main.__loader__ = SourceFileLoader("__main__", filename)
            elif mode == "c":
                source, filename = value, "<string>"
            else:
                source, filename = sys.stdin.buffer.read(), "<stdin>"
            if mode != "c":
                main.__file__ = filename
                main.__cached__ = None
            compiled = compile(source, filename, "exec")
            del source
            exec(compiled, main.__dict__)
    except SystemExit as e:
        code = _exit_code(e)
    except BaseException as e:
        # The traceback printed is the program's own, without the server's frames.
        tb = _trim(e.__traceback__)
        e.__traceback__ = tb
        sys.last_type, sys.last_value, sys.last_traceback = type(e), e, tb
        try:
            sys.excepthook(type(e), e, tb)
        except BaseException:
            pass
        code, sigint = 1, isinstance(e, KeyboardInterrupt)
    _finish(code, sigint)


run(serve())
