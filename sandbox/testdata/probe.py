# Prints what a program can see of how it was started, as JSON, for the prefork
# equivalence tests: run cold and from the fork server, the output must match.
import json
import os
import re
import resource
import signal
import sys


def fds():
    out = {}
    for n in sorted(os.listdir("/proc/self/fd"), key=int):
        fd = int(n)
        try:
            target = os.readlink("/proc/self/fd/" + n)
        except OSError:
            continue  # the listing's own, closed meanwhile
        if target.startswith(("pipe:", "socket:", "anon_inode:")):
            target = target.split(":")[0]
        out[fd] = [target, os.get_inheritable(fd)]
    return out


def stream(s):
    if s is None:
        return None
    return [s.name, s.mode, s.encoding, s.errors, s.line_buffering, s.write_through, s.fileno()]


g = globals()
env = dict(os.environ)
env.pop("CODEBOX_PYTHON_PREFORK", None)
env.pop("_", None)  # bash sets it to the command's path
print(json.dumps({
    "argv": sys.argv,
    "orig_argv": sys.orig_argv[1:],
    "env": env,
    "cwd": os.getcwd(),
    "path": sys.path,
    "executable": sys.executable,
    "flags": list(sys.flags),
    "main": [[k, re.sub(" at 0x[0-9a-f]+", "", repr(g[k])) if k not in ("__builtins__", "__loader__")
              else type(g[k]).__name__] for k in list(g)[:9]],
    "fds": fds(),
    "stdio": [stream(sys.stdin), stream(sys.stdout), stream(sys.stderr)],
    "signals": {int(s): str(signal.getsignal(s)) for s in signal.valid_signals()
                if s not in (signal.SIGKILL, signal.SIGSTOP)},
    "umask": os.umask(0o22),
    "rlimits": [resource.getrlimit(r) for r in (resource.RLIMIT_NOFILE, resource.RLIMIT_NPROC, resource.RLIMIT_CORE)],
    "uid": [os.getuid(), os.geteuid(), os.getgid(), os.getgroups()],
    "cgroup": open("/proc/self/cgroup").read(),
}, sort_keys=True))
