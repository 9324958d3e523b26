package agent

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"syscall"
	"time"
)

// Client talks to one container's agent from the host. It holds no connection: each
// call dials the socket, so a client made after a server restart reaches an agent that
// kept running.
type Client struct {
	// Socket is the host path of the agent's socket.
	Socket string
	// Token is the secret the agent was started with.
	Token string
}

// Error is a failure the agent reported.
type Error struct {
	Kind    string // KindNotFound, KindIsDir, …
	Message string
	Size    int64 // for KindTooLarge: the file's size when known
}

func (e *Error) Error() string { return "agent: " + e.Message }

// DialError means the agent could not be reached at all: the container is not running
// or its agent died. No request was sent.
type DialError struct{ Err error }

func (e *DialError) Error() string { return "dial agent: " + e.Err.Error() }
func (e *DialError) Unwrap() error { return e.Err }

// Output receives a command's output as it arrives.
type Output func(stream string, p []byte)

// Result is how a command or a cell ended, with its captured output.
type Result struct {
	Stdout, Stderr []byte
	End            Event
}

// dial connects to the socket. Unix socket paths are limited to 108 bytes, so a long
// path is reached through an O_PATH descriptor of its directory.
func dial(ctx context.Context, path string) (net.Conn, error) {
	var d net.Dialer
	if len(path) < 100 {
		return d.DialContext(ctx, "unix", path)
	}
	dir, err := os.OpenFile(filepath.Dir(path), oPath|syscall.O_DIRECTORY, 0)
	if err != nil {
		return nil, err
	}
	defer dir.Close()
	return d.DialContext(ctx, "unix", "/proc/self/fd/"+strconv.Itoa(int(dir.Fd()))+"/"+filepath.Base(path))
}

// roundTrip sends req and calls fn for each event until fn returns done or the agent
// closes the connection.
func (c *Client) roundTrip(ctx context.Context, req *Request, fn func(*Event) (done bool, err error)) error {
	return c.roundTripWith(ctx, req, nil, fn)
}

// roundTripWith is roundTrip that also runs write, if set, to send further lines after
// the request; write must return when stop is closed.
func (c *Client) roundTripWith(ctx context.Context, req *Request, write func(w io.Writer, stop <-chan struct{}), fn func(*Event) (done bool, err error)) error {
	req.Version, req.Token = Version, c.Token
	nc, err := dial(ctx, c.Socket)
	if err != nil {
		return &DialError{Err: err}
	}
	defer nc.Close()
	stop := context.AfterFunc(ctx, func() { nc.SetDeadline(time.Unix(1, 0)) })
	defer stop()
	line, err := json.Marshal(req)
	if err != nil {
		return err
	}
	if _, err := nc.Write(append(line, '\n')); err != nil {
		return ctxErr(ctx, fmt.Errorf("send to agent: %w", err))
	}
	if write != nil {
		stop := make(chan struct{})
		wrote := make(chan struct{})
		go func() {
			defer close(wrote)
			write(nc, stop)
		}()
		defer func() {
			close(stop)
			<-wrote
		}()
	}
	r := bufio.NewReaderSize(nc, 64<<10)
	for {
		b, err := readLine(r, MaxRequestBytes)
		if err != nil {
			if errors.Is(err, io.EOF) {
				err = io.ErrUnexpectedEOF
			}
			return ctxErr(ctx, fmt.Errorf("agent: %w", err))
		}
		var ev Event
		if err := json.Unmarshal(b, &ev); err != nil {
			return fmt.Errorf("agent sent a bad event: %w", err)
		}
		if ev.Type == EventError {
			return &Error{Kind: ev.ErrorKind, Message: ev.Error, Size: ev.Size}
		}
		done, err := fn(&ev)
		if err != nil || done {
			return err
		}
	}
}

func ctxErr(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return context.Cause(ctx)
	}
	return err
}

// readLine reads one line of at most max bytes: the agent is untrusted, and a line
// without end must not grow the host's memory without bound.
func readLine(r *bufio.Reader, max int) ([]byte, error) {
	var line []byte
	for {
		frag, err := r.ReadSlice('\n')
		line = append(line, frag...)
		if len(line) > max {
			return nil, errors.New("event too long")
		}
		if err == nil {
			return line, nil
		}
		if err != bufio.ErrBufferFull {
			return nil, err
		}
	}
}

// Ping checks that the agent answers and speaks this protocol version.
func (c *Client) Ping(ctx context.Context) error {
	return c.roundTrip(ctx, &Request{Op: OpPing}, func(ev *Event) (bool, error) {
		if ev.Type != EventHello || ev.Version != Version {
			return true, fmt.Errorf("agent: unexpected %q v%d", ev.Type, ev.Version)
		}
		return true, nil
	})
}

// Exec runs command with bash under timeout. If ctx ends first, the command's process
// group is killed through a separate kill request, and ctx's error is returned.
func (c *Client) Exec(ctx context.Context, id, command string, timeout time.Duration, out Output) (*Result, error) {
	return c.run(ctx, &Request{Op: OpExec, ID: id, Command: command, TimeoutMS: timeout.Milliseconds()}, nil, out)
}

// Python runs one cell in the container's persistent REPL.
func (c *Client) Python(ctx context.Context, id, code string, timeout time.Duration, out Output) (*Result, error) {
	return c.run(ctx, &Request{Op: OpPython, ID: id, Code: code, TimeoutMS: timeout.Milliseconds()}, nil, out)
}

// Cell runs one cell whose code may call client tools (see CellOptions).
func (c *Client) Cell(ctx context.Context, id, code string, timeout time.Duration, opts *CellOptions, out Output) (*Result, error) {
	req := &Request{Op: OpPython, ID: id, Code: code, TimeoutMS: timeout.Milliseconds(), Functions: opts.Functions, Fresh: opts.Fresh}
	return c.run(ctx, req, opts, out)
}

func (c *Client) run(ctx context.Context, req *Request, opts *CellOptions, out Output) (*Result, error) {
	if req.TimeoutMS <= 0 {
		req.TimeoutMS = 1
	}
	res := &Result{}
	ended := false
	var write func(io.Writer, <-chan struct{})
	var w *watchdog
	if opts != nil && len(opts.Functions) > 0 {
		var cancel context.CancelCauseFunc
		ctx, cancel = context.WithCancelCause(ctx)
		defer cancel(nil)
		w = newWatchdog(opts.Bound, func() { cancel(errCellUnanswered) })
		defer w.stop()
		write = func(wr io.Writer, stop <-chan struct{}) { writeReplies(wr, stop, opts.Replies, w) }
	}
	err := c.roundTripWith(ctx, req, write, func(ev *Event) (bool, error) {
		switch ev.Type {
		case EventCalls:
			if w != nil && len(ev.Calls) > 0 {
				w.pause(len(ev.Calls))
				opts.Calls(ev.Calls)
			}
		case EventData:
			// The agent caps output; the host caps again rather than trust it.
			switch ev.Stream {
			case Stdout:
				n := len(res.Stdout)
				res.Stdout = appendCapped(res.Stdout, ev.Data, &res.End.Truncated)
				if out != nil && len(res.Stdout) > n {
					out(Stdout, res.Stdout[n:])
				}
			case Stderr:
				n := len(res.Stderr)
				res.Stderr = appendCapped(res.Stderr, ev.Data, &res.End.Truncated)
				if out != nil && len(res.Stderr) > n {
					out(Stderr, res.Stderr[n:])
				}
			}
		case EventEnd:
			truncated := res.End.Truncated
			res.End = *ev
			res.End.Truncated = res.End.Truncated || truncated
			ended = true
			return true, nil
		}
		return false, nil
	})
	if err != nil && ctx.Err() != nil && req.ID != "" {
		// The command's lifetime is its own: stop it explicitly.
		kctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		c.Kill(kctx, req.ID)
		cancel()
	}
	if err == nil && !ended {
		err = io.ErrUnexpectedEOF
	}
	if err != nil {
		return nil, err
	}
	return res, nil
}

func appendCapped(b, p []byte, truncated *bool) []byte {
	if room := MaxOutput - len(b); len(p) > room {
		p = p[:max(room, 0)]
		*truncated = true
	}
	return append(b, p...)
}

// Kill stops the command or cell with the given ID.
func (c *Client) Kill(ctx context.Context, id string) error {
	return c.roundTrip(ctx, &Request{Op: OpKill, ID: id}, func(*Event) (bool, error) { return true, nil })
}

// Suspend makes the agent close its socket until it gets ResumeSignal, so that the
// sandbox can be checkpointed. The client cannot reach the agent until then.
func (c *Client) Suspend(ctx context.Context) error {
	return c.roundTrip(ctx, &Request{Op: OpSuspend}, func(*Event) (bool, error) { return true, nil })
}

// ReadFile returns the contents of a file of at most max bytes. A directory gives
// isDir and no data; failures are *Error.
func (c *Client) ReadFile(ctx context.Context, path string, max int64) (data []byte, isDir bool, err error) {
	err = c.roundTrip(ctx, &Request{Op: OpRead, Path: path, MaxBytes: max}, func(ev *Event) (bool, error) {
		if ev.Type != EventFile {
			return true, fmt.Errorf("agent: unexpected %q", ev.Type)
		}
		data, isDir = ev.Data, ev.IsDir
		return true, nil
	})
	return data, isDir, err
}

// WriteFile replaces or creates a file, creating its parent directories, and reports
// whether it existed.
func (c *Client) WriteFile(ctx context.Context, path string, data []byte) (existed bool, err error) {
	err = c.roundTrip(ctx, &Request{Op: OpWrite, Path: path, Data: data}, func(ev *Event) (bool, error) {
		if ev.Type != EventOK {
			return true, fmt.Errorf("agent: unexpected %q", ev.Type)
		}
		existed = ev.Existed
		return true, nil
	})
	return existed, err
}

// oPath is O_PATH, which package syscall does not name.
const oPath = 0x200000
