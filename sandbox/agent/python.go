package agent

import (
	"bytes"
	_ "embed"
	"encoding/json"
	"errors"
	"os"
	"slices"
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
	// fork is the fork server (nil when off); env is user code's environment.
	fork *forkServer
	env  []string
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
	// links name the agent's ends of the interpreter's pipes in /proc/PID/fd: a
	// process other than the interpreter holding one is ended after each cell.
	links []string
	// ends receives the status line of each cell (the stdout marker) and nil when the
	// stderr marker arrived; a closed channel means the process is gone.
	outEnds, errEnds chan string
	// calls receives each batch of tool calls the code makes (closed when the
	// process is gone); replies queues answers for the process.
	calls chan []Call
	// queue holds answers for the interpreter, written by writeReplies when woken;
	// dead is closed when the process is killed.
	qmu      sync.Mutex
	queue    [][]byte
	wake     chan struct{}
	dead     chan struct{}
	killOnce sync.Once
	// sink is where the streams of the current cell go.
	mu      sync.Mutex
	out, er *capture
	c       *conn
}

func newREPL(p *reaper, fork *forkServer, env []string, killedEarly func(string) bool) *repl {
	return &repl{procs: p, fork: fork, env: env, killedEarly: killedEarly, turn: make(chan struct{}, 1)}
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
	// The interpreter's ends of its pipes: stdout, stderr, cells (fd 3), tool calls
	// out (fd 4) and their replies in (fd 5).
	var ours, theirs []*os.File
	closeAll := func(fs []*os.File) {
		for _, f := range fs {
			f.Close()
		}
	}
	for _, toChild := range []bool{false, false, true, false, true} {
		rd, wr, err := os.Pipe()
		if err != nil {
			closeAll(ours)
			closeAll(theirs)
			return nil, err
		}
		if toChild {
			ours, theirs = append(ours, wr), append(theirs, rd)
		} else {
			ours, theirs = append(ours, rd), append(theirs, wr)
		}
	}
	outR, errR, ctlW, callsR, repliesW := ours[0], ours[1], ours[2], ours[3], ours[4]
	links, err := pipeLinks(ours...)
	if err != nil {
		closeAll(ours)
		closeAll(theirs)
		return nil, err
	}
	env := r.env
	if w := os.Getenv(WarmupEnv); w != "" {
		env = append(append([]string(nil), env...), WarmupEnv+"="+w)
	}
	fds := []uintptr{devnull.Fd()}
	for _, f := range theirs {
		fds = append(fds, f.Fd())
	}
	pid, done, err := r.procs.start([]string{"/usr/bin/python3", "-c", replSource}, env, WorkDir, fds)
	closeAll(theirs)
	if err != nil {
		closeAll(ours)
		return nil, err
	}
	p := &replProc{pid: pid, done: done, ctl: ctlW, links: links, outEnds: make(chan string, 4), errEnds: make(chan string, 4),
		calls: make(chan []Call, 16), wake: make(chan struct{}, 1), dead: make(chan struct{})}
	go p.splitTo(outR, p.outEnds, func(b []byte) { p.emit(Stdout, b) })
	go p.splitTo(errR, p.errEnds, func(b []byte) { p.emit(Stderr, b) })
	go p.readCalls(callsR)
	go p.writeReplies(repliesW)
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

// killed reports whether kill has run.
func (p *replProc) killed() bool {
	select {
	case <-p.dead:
		return true
	default:
		return false
	}
}

func (p *replProc) kill() {
	p.killOnce.Do(func() {
		killGroup(p.pid)
		p.ctl.Close()
		close(p.dead)
	})
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

// keep lists the processes never ended for holding a command's or a cell's pipes: the
// interpreter and the fork server. Callers hold r.turn.
func (r *repl) keep() []int { return []int{r.pid(), r.fork.running()} }

// settle ends a cell (or the REPL's start): the interpreter is frozen until the next
// cell, and every other process holding its pipes or those of used (the cell's
// interpreter, which may be gone) ends (strays.go). Callers hold r.turn.
func (r *repl) settle(used *replProc) {
	var links []string
	if r.proc != nil {
		freeze(r.proc.pid)
		links = r.proc.links
	}
	if used != nil && used != r.proc {
		links = append(slices.Clip(links), used.links...)
	}
	endHolders(links, r.keep, holdGrace)
}

// prestart starts the REPL ahead of the first cell, so that a configured warm-up (say,
// importing pandas) is paid while the container waits rather than by its first call.
func (r *repl) prestart() {
	r.turn <- struct{}{}
	defer func() { <-r.turn }()
	defer r.settle(nil)
	if r.proc == nil {
		if p, err := r.startProc(); err == nil {
			r.proc = p
		}
	}
}

// run executes one cell. replies carries the host's answers to the cell's tool calls
// (nil when the cell may call none); its closing means the host is gone, and the cell
// is interrupted like a cancelled one.
func (r *repl) run(c *conn, req *Request, replies <-chan Reply) {
	timeout := time.Duration(req.TimeoutMS) * time.Millisecond
	if timeout <= 0 {
		c.fail(KindInvalid, errString("python needs a timeout"))
		return
	}
	r.turn <- struct{}{}
	defer func() { <-r.turn }()
	var p *replProc
	defer func() { r.settle(p) }()
	began := time.Now()
	if req.Fresh {
		fp, err := r.startProc()
		if err != nil {
			c.fail(KindInternal, err)
			return
		}
		p = fp
		defer func() {
			if !fp.killed() {
				fp.kill()
				<-fp.done
			}
		}()
	} else {
		if r.proc == nil {
			rp, err := r.startProc()
			if err != nil {
				c.fail(KindInternal, err)
				return
			}
			r.proc = rp
		}
		p = r.proc
	}
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
		Code      string            `json:"code"`
		Functions map[string]string `json:"functions,omitempty"`
	}{req.Code, req.Functions})
	end := &Event{Type: EventEnd}
	// ended reports how the cell ended; a fresh interpreter's loss is no restart.
	ended := func() {
		if req.Fresh {
			end.Restarted = false
		}
		end.DurationMS = time.Since(began).Milliseconds()
		c.send(end)
	}
	syscall.Kill(p.pid, syscall.SIGCONT)
	if _, err := p.ctl.Write(append(line, '\n')); err != nil {
		r.lost(p, end)
		ended()
		return
	}

	timer := time.NewTimer(timeout)
	defer timer.Stop()
	calls := newCellCalls(req.Functions, timeout)
	batches := p.calls
	status, gotOut, gotErr := "", false, false
	var grace <-chan time.Time
	interrupt := func() {
		syscall.Kill(p.pid, syscall.SIGINT)
		if grace == nil {
			grace = time.After(KillGrace)
		}
	}
	for !gotOut || !gotErr {
		select {
		case s, ok := <-p.outEnds:
			if !ok {
				r.lost(p, end)
				ended()
				return
			}
			status, gotOut = s, true
		case _, ok := <-p.errEnds:
			if !ok {
				r.lost(p, end)
				ended()
				return
			}
			gotErr = true
		case b, ok := <-batches:
			if !ok {
				batches = nil
				continue
			}
			if sent := calls.batch(p, b, timer); len(sent) > 0 {
				c.send(&Event{Type: EventCalls, Calls: sent})
			}
		case rep, ok := <-replies:
			if !ok {
				// The host is gone: nobody will answer, nobody reads the output.
				replies = nil
				interrupt()
				continue
			}
			calls.reply(p, rep, timer)
		case <-timer.C:
			end.TimedOut = true
			interrupt()
		case <-cancel:
			cancel = nil
			interrupt()
		case <-grace:
			// The cell ignores KeyboardInterrupt (or is stuck in C code): the REPL
			// and its state go, the container stays.
			r.lost(p, end)
			ended()
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
	ended()
}

// lost kills the REPL process and records in end that its state is gone; the next cell
// starts a fresh one. Callers hold r.turn.
func (r *repl) lost(p *replProc, end *Event) {
	p.kill()
	ws := <-p.done
	if r.proc == p {
		r.proc = nil
	}
	end.Restarted = true
	if end.ExitCode == 0 {
		fillStatus(end, ws)
		if end.ExitCode == 0 {
			end.ExitCode = 1
		}
	}
}
