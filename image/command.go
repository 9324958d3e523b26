package image

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// cleanEnv is the environment of every command the build runs: nothing of the
// caller's (API keys included) leaks into the image or its maintainer scripts.
func cleanEnv(extra ...string) []string {
	env := []string{
		"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
		"LANG=C.UTF-8", "LC_ALL=C.UTF-8", "HOME=/root", "DEBIAN_FRONTEND=noninteractive",
	}
	for _, k := range []string{"http_proxy", "https_proxy", "no_proxy", "HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY"} {
		if v, ok := os.LookupEnv(k); ok {
			env = append(env, k+"="+v)
		}
	}
	return append(env, extra...)
}

// command prepares a command in its own process group, killed as a whole when ctx
// ends, with its output logged and passed line by line to the progress display.
func (b *builder) command(ctx context.Context, stdout io.Writer, name string, args ...string) (*exec.Cmd, *lineWriter) {
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Env = cleanEnv()
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = 5 * time.Second
	lw := &lineWriter{log: b.log, fn: b.p.Line}
	cmd.Stderr = lw
	if stdout != nil {
		cmd.Stdout = stdout
	} else {
		cmd.Stdout = lw
	}
	fmt.Fprintf(b.log, "+ %s %s\n", name, strings.Join(args, " "))
	return cmd, lw
}

func (b *builder) exec(ctx context.Context, stdout io.Writer, name string, args ...string) error {
	cmd, lw := b.command(ctx, stdout, name, args...)
	err := cmd.Run()
	lw.Flush()
	if err != nil {
		if ctx.Err() != nil {
			return context.Cause(ctx)
		}
		return fmt.Errorf("image: %s: %w (see %s)", name, err, b.failedLog)
	}
	return nil
}

// chrootScript runs inside a private mount and PID namespace (so every mount it makes
// disappears with it, even if the build is killed): it gives the root filesystem the
// host's /dev and fresh tmpfs for /tmp and /workspace, so that running things inside
// leaves nothing behind in the image.
const chrootScript = `set -e
root=$1; user=$2; shift 2
mount --rbind /dev "$root/dev"
mount -t tmpfs -o mode=1777 tmpfs "$root/tmp"
if [ -d "$root/workspace" ]; then mount -t tmpfs -o mode=0755,uid=1000,gid=1000 tmpfs "$root/workspace"; fi
exec chroot --userspec="$user" "$root" "$@"
`

// chrootCommand returns a command that runs args inside root as user ("0:0" for root,
// "1000:1000" for the sandbox user) with a clean environment plus env.
func chrootCommand(ctx context.Context, root, user string, env []string, args ...string) *exec.Cmd {
	full := append([]string{
		"--mount", "--propagation", "private", "--pid", "--fork", "--kill-child",
		"--mount-proc=" + filepath.Join(root, "proc"),
		"/bin/sh", "-c", chrootScript, "sh", root, user, "/usr/bin/env", "-i",
	}, cleanEnv(env...)...)
	full = append(full, args...)
	cmd := exec.CommandContext(ctx, "unshare", full...)
	cmd.Env = cleanEnv()
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = 5 * time.Second
	return cmd
}

func (b *builder) chroot(ctx context.Context, stdout io.Writer, user string, env []string, args ...string) error {
	cmd := chrootCommand(ctx, b.rootfs, user, env, args...)
	lw := &lineWriter{log: b.log, fn: b.p.Line}
	cmd.Stderr = lw
	cmd.Stdout = lw
	if stdout != nil {
		cmd.Stdout = stdout
	}
	fmt.Fprintf(b.log, "+ chroot %s %s\n", user, strings.Join(args, " "))
	err := cmd.Run()
	lw.Flush()
	if err != nil {
		if ctx.Err() != nil {
			return context.Cause(ctx)
		}
		return fmt.Errorf("image: in the image: %s: %w (see %s)", strings.Join(args, " "), err, b.failedLog)
	}
	return nil
}
