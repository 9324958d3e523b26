// Package agent is the in-container side of the sandbox: the init process that runs
// inside every container, and the small versioned protocol the host uses to drive it.
//
// The agent is the codebox binary itself ("codebox agent"), bind-mounted read-only into
// the container and started by the runtime as PID 1: root of the container's own user
// namespace with only CAP_KILL, CAP_SETUID and CAP_SETGID there. User code runs as
// UserID with no capabilities, so it cannot signal or trace the agent, and the files the
// agent writes for the user are the user's. It reaps orphans, runs each bash command in
// its own process group under a wall-clock limit, captures output up to a cap, ends
// what still holds a finished command's output, keeps one persistent Python REPL, and
// reads and writes files. Because it runs inside the container, every path it resolves is already
// confined to the container's own mount namespace; it still refuses procfs, sysfs and
// anything that is not a regular file.
//
// The protocol is JSON lines over a unix socket in a host directory bind-mounted into the
// container, so the host can reconnect to a running container after a server restart.
// Each connection carries one request and its events. The package imports only the
// standard library and golang.org/x/sys/unix, which a test enforces: the agent's
// attack surface is what is here.
package agent
