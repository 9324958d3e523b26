package agent

import (
	"bytes"
	_ "embed"
	"encoding/json"
	"errors"
	"os"
	"sync"
	"syscall"
	"time"
)

// replSource is the REPL's bootstrap, passed to python3 -c.
//
//go:embed repl.py
var replSource string

// cellMarker ends each cell's output on both streams; on stdout the cell's status
// follows it up to a newline.
var cellMarker = []byte("\x00CODEBOX-CELL-END\x00")

// repl is the container's one persistent Python process. Cells run one at a time.
type repl struct {
	procs *reaper
	// killedEarly reports whether a kill for a cell arrived before the cell started.
	killedEarly func(id string) bool

	// run holds turn: one cell at a time, and the process fields below belong to
	// whoever holds it.
	turn chan struct{}
	proc *replProc

	mu sync.Mutex
	// current is the ID of the cell running now, for kill requests.
	current string
	cancel  chan struct{}
}

type replProc struct {
	pid  int
	done <-chan syscall.WaitStatus
	ctl  *os.File
	// ends receives the status line of each cell (the stdout marker) and nil when the
	// stderr marker arrived; a closed channel means the process is gone.
	outEnds, errEnds chan string
	// sink is where the streams of the current cell go.
	mu      sync.Mutex
	out, er *capture
	c       *conn
}

func newREPL(p *reaper, killedEarly func(string) bool) *repl {
	return &repl{procs: p, killedEarly: killedEarly, turn: make(chan struct{}, 1)}
}

func (r *repl) interrupt(id string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.current != id || r.cancel == nil {
		return false
	}
	select {
	case <-r.cancel:
	default:
		close(r.cancel)
	}
	return true
}

func (r *repl) startProc() (*replProc, error) {
	devnull, err := os.Open(os.DevNull)
	if err != nil {
		return nil, err
	}
	defer devnull.Close()
	outR, outW, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	errR, errW, err := os.Pipe()
	if err != nil {
		outR.Close()
		outW.Close()
		return nil, err
	}
	ctlR, ctlW, err := os.Pipe()
	if err != nil {
		outR.Close()
		outW.Close()
		errR.Close()
		errW.Close()
		return nil, err
	}
	env := commandEnv
	if w := os.Getenv(WarmupEnv); w != "" {
		env = append(append([]string(nil), env...), WarmupEnv+"="+w)
	}
	pid, done, err := r.procs.start([]string{"/usr/bin/python3", "-c", replSource}, env, WorkDir,
		[]uintptr{devnull.Fd(), outW.Fd(), errW.Fd(), ctlR.Fd()})
	outW.Close()
	errW.Close()
	ctlR.Close()
	if err != nil {
		outR.Close()
		errR.Close()
		ctlW.Close()
		return nil, err
	}
	p := &replProc{pid: pid, done: done, ctl: ctlW, outEnds: make(chan string, 4), errEnds: make(chan string, 4)}
	go p.splitTo(outR, p.outEnds, func(b []byte) { p.emit(Stdout, b) })
	go p.splitTo(errR, p.errEnds, func(b []byte) { p.emit(Stderr, b) })
	// Wait for the bootstrap's own markers: a REPL that cannot start is an error now
	// rather than a hung first cell.
	t := time.NewTimer(30 * time.Second)
	defer t.Stop()
	for _, ch := range []chan string{p.outEnds, p.errEnds} {
		select {
		case _, ok := <-ch:
			if !ok {
				p.kill()
				return nil, errors.New("python3 exited while starting")
			}
		case <-t.C:
			p.kill()
			return nil, errors.New("python3 did not start in time")
		}
	}
	return p, nil
}

func (p *replProc) kill() {
	killGroup(p.pid)
	p.ctl.Close()
}

// splitTo reads one of the REPL's streams, passes the current cell's bytes to emit and
// reports each marker on ends.
func (p *replProc) splitTo(r *os.File, ends chan string, emit func([]byte)) {
	defer close(ends)
	defer r.Close()
	buf := make([]byte, ChunkSize)
	var pending []byte
	for {
		n, err := r.Read(buf)
		pending = append(pending, buf[:n]...)
		for {
			i := bytes.Index(pending, cellMarker)
			if i < 0 {
				break
			}
			j := bytes.IndexByte(pending[i:], '\n')
			if j < 0 {
				break
			}
			if i > 0 {
				emit(pending[:i])
			}
			ends <- string(pending[i+len(cellMarker) : i+j])
			pending = pending[i+j+1:]
		}
		// Hold back what could be the start of a marker; emit the rest.
		hold := len(pending)
		for i := 0; i < len(pending); i++ {
			if pending[i] != 0 {
				continue
			}
			tail := pending[i:]
			if bytes.HasPrefix(cellMarker, tail) ||
				bytes.HasPrefix(tail, cellMarker) && len(tail) < len(cellMarker)+64 {
				hold = i
				break
			}
		}
		if hold > 0 {
			emit(pending[:hold])
		}
		pending = append(pending[:0], pending[hold:]...)
		if err != nil {
			return
		}
	}
}

func (p *replProc) emit(stream string, b []byte) {
	if len(b) == 0 {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.c == nil {
		return // output between cells (a background thread) has nowhere to go
	}
	if stream == Stdout {
		p.out.write(p.c, b)
	} else {
		p.er.write(p.c, b)
	}
}

// pid is the interpreter's PID, or 0 if none runs. Callers hold r.turn.
func (r *repl) pid() int {
	if r.proc == nil {
		return 0
	}
	return r.proc.pid
}

// settle ends a cell (or the REPL's start): the interpreter is frozen until the next
// cell, and every other process ends (strays.go). Callers hold r.turn.
func (r *repl) settle() {
	if r.proc != nil {
		freeze(r.proc.pid)
	}
	endStrays(r.pid())
}

// prestart starts the REPL ahead of the first cell, so that a configured warm-up (say,
// importing pandas) is paid while the container waits rather than by its first call.
func (r *repl) prestart() {
	r.turn <- struct{}{}
	defer func() { <-r.turn }()
	defer r.settle()
	if r.proc == nil {
		if p, err := r.startProc(); err == nil {
			r.proc = p
		}
	}
}

// run executes one cell.
func (r *repl) run(c *conn, req *Request) {
	timeout := time.Duration(req.TimeoutMS) * time.Millisecond
	if timeout <= 0 {
		c.fail(KindInvalid, errString("python needs a timeout"))
		return
	}
	r.turn <- struct{}{}
	defer func() { <-r.turn }()
	defer r.settle()
	began := time.Now()
	if r.proc == nil {
		p, err := r.startProc()
		if err != nil {
			c.fail(KindInternal, err)
			return
		}
		r.proc = p
	}
	p := r.proc
	cancel := make(chan struct{})
	r.mu.Lock()
	r.current, r.cancel = req.ID, cancel
	r.mu.Unlock()
	if req.ID != "" && r.killedEarly(req.ID) {
		c.send(&Event{Type: EventEnd, ExitCode: 130, DurationMS: time.Since(began).Milliseconds()})
		return
	}
	defer func() {
		r.mu.Lock()
		r.current, r.cancel = "", nil
		r.mu.Unlock()
	}()

	out, er := &capture{stream: Stdout}, &capture{stream: Stderr}
	p.mu.Lock()
	p.c, p.out, p.er = c, out, er
	p.mu.Unlock()
	defer func() {
		p.mu.Lock()
		p.c = nil
		p.mu.Unlock()
	}()
	c.send(&Event{Type: EventStart, PID: p.pid})

	line, _ := json.Marshal(struct {
		Code string `json:"code"`
	}{req.Code})
	end := &Event{Type: EventEnd}
	syscall.Kill(p.pid, syscall.SIGCONT)
	if _, err := p.ctl.Write(append(line, '\n')); err != nil {
		r.lost(p, end)
		c.send(end)
		return
	}

	timer := time.NewTimer(timeout)
	defer timer.Stop()
	status, gotOut, gotErr := "", false, false
	var grace <-chan time.Time
	for !gotOut || !gotErr {
		select {
		case s, ok := <-p.outEnds:
			if !ok {
				r.lost(p, end)
				end.DurationMS = time.Since(began).Milliseconds()
				c.send(end)
				return
			}
			status, gotOut = s, true
		case _, ok := <-p.errEnds:
			if !ok {
				r.lost(p, end)
				end.DurationMS = time.Since(began).Milliseconds()
				c.send(end)
				return
			}
			gotErr = true
		case <-timer.C:
			end.TimedOut = true
			syscall.Kill(p.pid, syscall.SIGINT)
			grace = time.After(KillGrace)
		case <-cancel:
			cancel = nil
			syscall.Kill(p.pid, syscall.SIGINT)
			grace = time.After(KillGrace)
		case <-grace:
			// The cell ignores KeyboardInterrupt (or is stuck in C code): the REPL
			// and its state go, the container stays.
			r.lost(p, end)
			end.DurationMS = time.Since(began).Milliseconds()
			c.send(end)
			return
		}
	}
	switch status {
	case "ok":
	case "interrupted":
		end.ExitCode = 130
	default:
		end.ExitCode = 1
	}
	end.Truncated = out.truncated || er.truncated
	end.DurationMS = time.Since(began).Milliseconds()
	c.send(end)
}

// lost kills the REPL process and records in end that its state is gone; the next cell
// starts a fresh one. Callers hold r.turn.
func (r *repl) lost(p *replProc, end *Event) {
	p.kill()
	ws := <-p.done
	r.proc = nil
	end.Restarted = true
	if end.ExitCode == 0 {
		fillStatus(end, ws)
		if end.ExitCode == 0 {
			end.ExitCode = 1
		}
	}
}
