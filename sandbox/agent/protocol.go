package agent

import (
	"encoding/json"
	"time"
)

// Version is the protocol version. The agent refuses requests of any other version, so a
// host and an agent from different builds fail loudly rather than misread each other.
const Version = 1

// Paths inside the container.
const (
	// SocketDir is where the host's per-container run directory is mounted.
	SocketDir = "/run/codebox"
	// SocketName is the agent's listening socket inside SocketDir.
	SocketName = "agent.sock"
	// WorkDir is the working directory and HOME of every command.
	WorkDir = "/workspace"
	// UserID is the user and group ID of user code. When the agent runs as root (of
	// the container's own user namespace), commands, cells and the files it writes
	// for them are this user's; otherwise everything runs as the agent's own user.
	UserID = 1000
	// TokenEnv carries the per-start secret the host must present; the agent removes it
	// from its environment before serving.
	TokenEnv = "CODEBOX_AGENT_TOKEN"
	// WarmupEnv, when set, is Python code the REPL runs when it starts; the agent
	// then starts the REPL at boot instead of at the first cell.
	WarmupEnv = "CODEBOX_PYTHON_WARMUP"
)

// Limits the agent applies. They are constants so the host and the agent agree on them
// without negotiation.
const (
	// MaxOutput is how many bytes of stdout, and separately of stderr, one command or
	// cell returns. The rest is read and discarded so the writer never blocks.
	MaxOutput = 1 << 20
	// ChunkSize is the largest data event.
	ChunkSize = 32 << 10
	// MaxFileBytes is the largest file a read or write request carries.
	MaxFileBytes = 32 << 20
	// MaxCommandBytes is the longest bash command. It is passed to bash -c as one
	// argument, and the kernel refuses a longer one (MAX_ARG_STRLEN, 32 pages with the
	// terminating NUL) with E2BIG.
	MaxCommandBytes = 32*4096 - 1
	// MaxRequestBytes bounds one request line.
	MaxRequestBytes = MaxFileBytes*4/3 + 1<<20
	// MaxCallBytes bounds one batch of tool calls a cell's code makes.
	MaxCallBytes = 4 << 20
	// KillGrace is how long an interrupted REPL cell may take to stop before the REPL
	// is killed and restarted.
	KillGrace = 2 * time.Second
	// holdGrace is how long the processes of a finished command or cell have to let go
	// of its pipes before those still holding them are killed (strays.go).
	holdGrace = 200 * time.Millisecond
	// drainGrace is how long the agent keeps reading a finished command's pipes after
	// killing their holders.
	drainGrace = 100 * time.Millisecond
)

// Operations.
const (
	OpPing   = "ping"
	OpExec   = "exec"
	OpPython = "python"
	OpKill   = "kill"
	OpRead   = "read"
	OpWrite  = "write"
	// OpSuspend: stop listening until ResumeSignal, for a checkpoint (suspend.go).
	OpSuspend = "suspend"
)

// Event types.
const (
	EventHello = "hello" // answer to ping
	EventStart = "start" // a command started: PID
	EventData  = "data"  // Stream, Data
	EventEnd   = "end"   // a command or cell ended
	EventFile  = "file"  // answer to read: Data, Size, IsDir
	EventOK    = "ok"    // answer to write: Existed
	EventError = "error" // the request failed: Error, ErrorKind
	// EventCalls: a cell's code awaits client tools (Calls). The host answers each
	// call with a Reply line on the same connection; until every call it was sent is
	// answered, the cell's clock stands still.
	EventCalls = "calls"
)

// Reply statuses.
const (
	ReplyOK      = "ok"      // Content is the tool's result text
	ReplyError   = "error"   // the tool failed: the call raises ToolError(Content)
	ReplyTimeout = "timeout" // nobody answered in time: the call raises TimeoutError(Content)
)

// Error kinds in EventError, mapped by the host onto its own error kinds.
const (
	KindNotFound = "not_found"
	KindIsDir    = "is_dir"
	KindTooLarge = "too_large"
	KindInvalid  = "invalid"
	KindInternal = "internal"
)

// Streams in EventData.
const (
	Stdout = "stdout"
	Stderr = "stderr"
)

// Request is the one message a connection sends.
type Request struct {
	Version int    `json:"v"`
	Token   string `json:"token"`
	Op      string `json:"op"`
	// ID names a command so a later kill request can address it.
	ID      string `json:"id,omitempty"`
	Command string `json:"command,omitempty"` // exec: passed to bash -c
	Code    string `json:"code,omitempty"`    // python: one cell
	// Functions maps Python names to the client tools the cell's code may call as
	// async functions (python); Fresh runs the cell in an interpreter of its own that
	// ends with it.
	Functions map[string]string `json:"functions,omitempty"`
	Fresh     bool              `json:"fresh,omitempty"`
	TimeoutMS int64             `json:"timeout_ms,omitempty"`
	// Path is absolute or relative to WorkDir (read, write).
	Path     string `json:"path,omitempty"`
	Data     []byte `json:"data,omitempty"`      // write
	MaxBytes int64  `json:"max_bytes,omitempty"` // read: larger files fail with KindTooLarge
}

// Event is one message the agent sends back.
type Event struct {
	Type    string `json:"type"`
	Version int    `json:"v,omitempty"`
	PID     int    `json:"pid,omitempty"`
	Stream  string `json:"stream,omitempty"`
	Data    []byte `json:"data,omitempty"`

	ExitCode   int   `json:"exit_code"`
	Signal     int   `json:"signal,omitempty"` // the signal that ended the process, if any
	TimedOut   bool  `json:"timed_out,omitempty"`
	Truncated  bool  `json:"truncated,omitempty"`
	Restarted  bool  `json:"restarted,omitempty"` // python: the REPL was killed and its state lost
	DurationMS int64 `json:"duration_ms,omitempty"`

	Size    int64 `json:"size,omitempty"`
	IsDir   bool  `json:"is_dir,omitempty"`
	Existed bool  `json:"existed,omitempty"`

	Error     string `json:"error,omitempty"`
	ErrorKind string `json:"error_kind,omitempty"`

	Calls []Call `json:"calls,omitempty"`
}

// Call is one client tool call a cell's code awaits. ID is unique within the cell.
type Call struct {
	ID    string          `json:"id"`
	Name  string          `json:"name"`
	Input json.RawMessage `json:"input"`
}

// Reply answers a Call.
type Reply struct {
	ID      string `json:"id"`
	Status  string `json:"status"`
	Content string `json:"content"`
}
