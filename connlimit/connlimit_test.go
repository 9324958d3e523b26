package connlimit_test

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/codebox-dev/codebox/connlimit"
)

// serve runs an HTTP server on loopback behind a Listener of max connections whose
// handler, for /block, reports on entered and waits on block. Each time the server
// marks a connection idle it sends on idle, if idle is not nil: a client reads its
// response before the server has done so.
func serve(t *testing.T, max int, entered, block, idle chan struct{}) (*connlimit.Listener, string) {
	t.Helper()
	inner, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ln := connlimit.New(inner, max, func(c net.Conn) {
		io.WriteString(c, "HTTP/1.1 529 full\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
	})
	state := func(c net.Conn, s http.ConnState) {
		ln.ConnState(c, s)
		if s == http.StateIdle && idle != nil {
			idle <- struct{}{}
		}
	}
	srv := &http.Server{ConnState: state, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/block" {
			entered <- struct{}{}
			<-block
		}
	})}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return ln, inner.Addr().String()
}

// get sends one request on c and returns its status, leaving c open.
func get(t *testing.T, c net.Conn, path string) int {
	t.Helper()
	c.SetDeadline(time.Now().Add(30 * time.Second))
	fmt.Fprintf(c, "GET %s HTTP/1.1\r\nHost: x\r\n\r\n", path)
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

func dial(t *testing.T, addr string) net.Conn {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// TestIdleMakesRoom: at the limit, the connection idle the longest is closed for the
// new one.
func TestIdleMakesRoom(t *testing.T) {
	idle := make(chan struct{}, 8)
	ln, addr := serve(t, 2, nil, nil, idle)
	first, second := dial(t, addr), dial(t, addr)
	get(t, first, "/")
	<-idle
	get(t, second, "/")
	<-idle
	third := dial(t, addr)
	if got := get(t, third, "/"); got != 200 {
		t.Fatalf("third connection: %d", got)
	}
	first.SetReadDeadline(time.Now().Add(30 * time.Second))
	if _, err := first.Read(make([]byte, 1)); err == nil {
		t.Error("the longest idle connection was not closed")
	}
	if got := get(t, second, "/"); got != 200 {
		t.Errorf("second connection: %d", got)
	}
	if n := ln.Len(); n != 2 {
		t.Errorf("%d connections held, want 2", n)
	}
}

// TestBusyRefuses: when every connection is serving a request, the new one is refused
// through reject, and served again once one frees up.
func TestBusyRefuses(t *testing.T) {
	entered, block := make(chan struct{}), make(chan struct{})
	_, addr := serve(t, 2, entered, block, nil)
	for range 2 {
		c := dial(t, addr)
		fmt.Fprint(c, "GET /block HTTP/1.1\r\nHost: x\r\n\r\n")
	}
	// Both must be serving before the third comes, or one would count as still
	// sending its request and make room.
	<-entered
	<-entered
	if got := get(t, dial(t, addr), "/"); got != 529 {
		t.Fatalf("beyond the limit: %d, want 529", got)
	}
	close(block)
}
