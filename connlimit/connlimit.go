// Package connlimit bounds the connections an HTTP server holds, so that clients that
// open connections and keep them (with or without an API key) cannot exhaust the
// process's file descriptors.
//
// At the limit a new connection makes room by closing the connection that has been
// waiting longest without a request in progress: first an idle keep-alive connection
// (one the client reopens at no cost), else one that has not finished sending its first
// request. When every connection is busy serving a request, the new one is handed to
// Reject (which answers it, e.g. 529 with retry-after) and closed.
package connlimit

import (
	"net"
	"net/http"
	"sync"
	"time"
)

// Listener is a net.Listener that holds at most Max connections. Set the server's
// ConnState to the Listener's ConnState so that it knows which connections are idle.
type Listener struct {
	net.Listener
	max    int
	reject func(net.Conn)

	mu    sync.Mutex
	conns map[*conn]struct{}
	// rejecting bounds the connections being refused at once; beyond, they are closed
	// without an answer.
	rejecting chan struct{}
}

// New wraps l to hold at most max connections. reject, when non-nil, answers a
// connection refused because every one is busy; it runs in its own goroutine and must
// bound its own time (deadlines). The listener closes the connection after it.
func New(l net.Listener, max int, reject func(net.Conn)) *Listener {
	return &Listener{Listener: l, max: max, reject: reject, conns: map[*conn]struct{}{}, rejecting: make(chan struct{}, 64)}
}

// conn is a connection the Listener counts.
type conn struct {
	net.Conn
	l     *Listener
	once  sync.Once
	state http.ConnState // guarded by l.mu
	since time.Time      // when state was entered; guarded by l.mu
}

func (c *conn) Close() error {
	err := c.Conn.Close()
	c.once.Do(func() {
		c.l.mu.Lock()
		delete(c.l.conns, c)
		c.l.mu.Unlock()
	})
	return err
}

// Accept returns the next connection, making room for it or refusing it when the
// Listener is full.
func (l *Listener) Accept() (net.Conn, error) {
	for {
		nc, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		l.mu.Lock()
		var victim *conn
		if len(l.conns) >= l.max {
			victim = l.evictable()
			if victim == nil {
				l.mu.Unlock()
				l.refuse(nc)
				continue
			}
			delete(l.conns, victim)
		}
		c := &conn{Conn: nc, l: l, state: http.StateNew, since: time.Now()}
		l.conns[c] = struct{}{}
		l.mu.Unlock()
		if victim != nil {
			victim.Conn.Close()
		}
		return c, nil
	}
}

// evictable returns the connection to close for a new one, or nil: the longest idle
// keep-alive connection, else the oldest one still sending its first request.
func (l *Listener) evictable() *conn {
	var idle, fresh *conn
	for c := range l.conns {
		switch c.state {
		case http.StateIdle:
			if idle == nil || c.since.Before(idle.since) {
				idle = c
			}
		case http.StateNew:
			if fresh == nil || c.since.Before(fresh.since) {
				fresh = c
			}
		}
	}
	if idle != nil {
		return idle
	}
	return fresh
}

func (l *Listener) refuse(nc net.Conn) {
	if l.reject == nil {
		nc.Close()
		return
	}
	select {
	case l.rejecting <- struct{}{}:
	default:
		nc.Close()
		return
	}
	go func() {
		defer func() { <-l.rejecting }()
		defer nc.Close()
		l.reject(nc)
	}()
}

// ConnState records each connection's state; set it as http.Server.ConnState.
func (l *Listener) ConnState(nc net.Conn, state http.ConnState) {
	c, ok := nc.(*conn)
	if !ok {
		return
	}
	l.mu.Lock()
	c.state, c.since = state, time.Now()
	l.mu.Unlock()
}

// Len reports the connections held.
func (l *Listener) Len() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.conns)
}
