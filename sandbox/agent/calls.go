package agent

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"time"
)

// A cell's code may call client tools (Request.Functions): the interpreter writes each
// batch of calls as a JSON line to its fd 4, the agent passes the batch to the host as
// an EventCalls, the host answers each call with a Reply line on the request's
// connection, and the agent writes the answer to the interpreter's fd 5. While any call
// is unanswered the cell waits for the client, and its clock stands still.

// readCalls passes each batch of calls the interpreter writes to p.calls, and closes it
// when the interpreter is gone or writes something that is not a batch.
func (p *replProc) readCalls(f *os.File) {
	defer close(p.calls)
	defer f.Close()
	r := bufio.NewReaderSize(f, 64<<10)
	for {
		line, err := readLine(r, MaxCallBytes)
		if err != nil {
			return
		}
		var b struct {
			Calls []Call `json:"calls"`
		}
		if json.Unmarshal(line, &b) != nil {
			return
		}
		p.calls <- b.Calls
	}
}

// writeReplies writes queued answers to the interpreter until it is killed.
func (p *replProc) writeReplies(f *os.File) {
	defer f.Close()
	for {
		select {
		case <-p.wake:
		case <-p.dead:
			return
		}
		p.qmu.Lock()
		q := p.queue
		p.queue = nil
		p.qmu.Unlock()
		for _, line := range q {
			if _, err := f.Write(line); err != nil {
				return
			}
		}
	}
}

// answer queues a reply for the interpreter; it never blocks, so an interpreter that
// does not read its answers stalls only itself.
func (p *replProc) answer(rep Reply) {
	line, _ := json.Marshal(rep)
	p.qmu.Lock()
	p.queue = append(p.queue, append(line, '\n'))
	p.qmu.Unlock()
	select {
	case p.wake <- struct{}{}:
	default:
	}
}

// readReplies passes each Reply line the host sends after its request to the returned
// channel, which is closed when the host closes its side or sends something else.
func readReplies(r *bufio.Reader) <-chan Reply {
	ch := make(chan Reply, 16)
	go func() {
		defer close(ch)
		for {
			line, err := readLine(r, MaxRequestBytes)
			if err != nil {
				return
			}
			var rep Reply
			if json.Unmarshal(line, &rep) != nil {
				return
			}
			ch <- rep
		}
	}()
	return ch
}

// cellCalls is the state of one cell's tool calls and of its clock.
type cellCalls struct {
	functions map[string]bool // tool names the cell may call
	pending   map[string]bool // calls sent to the host and not answered
	// left is the cell's remaining time while calls are pending; since is when its
	// clock last started.
	left  time.Duration
	since time.Time
}

func newCellCalls(functions map[string]string, timeout time.Duration) *cellCalls {
	cc := &cellCalls{functions: map[string]bool{}, pending: map[string]bool{}, left: timeout, since: time.Now()}
	for _, tool := range functions {
		cc.functions[tool] = true
	}
	return cc
}

// batch takes a batch from the interpreter: calls of tools the cell may not call are
// answered at once; the others are returned for the host, and the clock stops.
func (cc *cellCalls) batch(p *replProc, calls []Call, timer *time.Timer) []Call {
	var out []Call
	for _, c := range calls {
		switch {
		case c.ID == "" || cc.pending[c.ID]:
			p.answer(Reply{ID: c.ID, Status: ReplyError, Content: "bad call id"})
		case !cc.functions[c.Name]:
			p.answer(Reply{ID: c.ID, Status: ReplyError, Content: fmt.Sprintf("tool %q cannot be called from code here", c.Name)})
		default:
			out = append(out, c)
		}
	}
	if len(out) == 0 {
		return nil
	}
	if len(cc.pending) == 0 {
		cc.left -= time.Since(cc.since)
		timer.Stop()
	}
	for _, c := range out {
		cc.pending[c.ID] = true
	}
	return out
}

// reply passes the host's answer on; the last answer restarts the clock.
func (cc *cellCalls) reply(p *replProc, rep Reply, timer *time.Timer) {
	if !cc.pending[rep.ID] {
		return
	}
	delete(cc.pending, rep.ID)
	p.answer(rep)
	if len(cc.pending) == 0 {
		cc.since = time.Now()
		timer.Reset(max(cc.left, time.Millisecond))
	}
}
