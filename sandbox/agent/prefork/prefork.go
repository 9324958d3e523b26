// Package prefork starts `python3` commands from a fork of an interpreter that has
// already imported numpy, pandas, matplotlib and scipy, instead of a cold start.
//
// The agent puts a directory early on PATH whose `python3` is a script with the
// agent binary as its interpreter: `#!/run/codebox-agent python3-shim`. That front
// end (Shim) hands its arguments, environment, working directory, umask, limits and
// every inheritable file descriptor (over SCM_RIGHTS) to the fork server, a Python
// process the agent starts on second demand. The server forks, the child becomes the
// program, and the front end relays signals to it and ends the way it ended: the same
// exit code, or death by the same signal. Whatever the child could tell apart from a
// cold start (interpreter options, an environment that changes how the interpreter or
// the pre-imported libraries start, a terminal, a module of the program's directory
// that shadows a pre-imported one, packages installed since the server started) makes
// the front end exec the real python3 instead.
//
// The package imports only os, syscall and a few other packages of the standard
// library that depend on nothing heavier, so that the Go runtime initialises it right
// after os: its init runs the front end and exits before the rest of the binary's
// packages initialise, which would cost tens of milliseconds per python3.
package prefork

import (
	_ "embed"
	"os"
)

// Paths inside the container. The agent creates Dir on its /run tmpfs.
const (
	Dir = "/run/codebox-python"
	// BinDir goes first on the PATH of user code; it holds the python3 front end.
	BinDir = Dir + "/bin"
	// ServerScript is the fork server's source, written by the agent.
	ServerScript = Dir + "/forkserver.py"
	// SocketDir belongs to the user code's user; the server listens in it.
	SocketDir = Dir + "/sock"
	// ServerSocket is where the fork server listens once its imports are done.
	ServerSocket = SocketDir + "/server.sock"
	// StartSocket is the agent's: a connection asks it to start the fork server.
	StartSocket = Dir + "/start.sock"
	// ShimArg is the front end's first argument, from its script's #! line.
	ShimArg = "python3-shim"
)

// Env is the variable that turns the fork server off for one command ("0"). Set to
// "require", the front end waits for the server instead of falling back, and fails
// with the reason when it cannot use it: tests and benchmarks use it to know which
// path ran.
const Env = "CODEBOX_PYTHON_PREFORK"

// ServerSource is the fork server.
//
//go:embed forkserver.py
var ServerSource string

// ShimScript is the content of BinDir/python3 for an agent binary mounted at agentPath.
func ShimScript(agentPath string) string { return "#!" + agentPath + " " + ShimArg + "\n" }

func init() {
	// The kernel runs the #! line as: agent ShimArg script args...
	if len(os.Args) >= 3 && os.Args[1] == ShimArg {
		os.Exit(Shim(os.Args[3:]))
	}
}
