package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"mime/multipart"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// hostOf returns the host:port of a child's URL.
func hostOf(c *child) string { return strings.TrimPrefix(c.url, "http://") }

// holdConnections opens n connections to addr that each make one request (with key, or
// none) and then stay open, idle, as a keep-alive client would leave them. It returns
// the connections it managed to open.
func holdConnections(t *testing.T, addr, key string, n int) []net.Conn {
	t.Helper()
	var mu sync.Mutex
	var conns []net.Conn
	var wg sync.WaitGroup
	sem := make(chan struct{}, 64)
	for range n {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			c, err := net.DialTimeout("tcp", addr, 5*time.Second)
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
			c.SetDeadline(time.Now().Add(5 * time.Second))
			req := "GET /v1/files HTTP/1.1\r\nHost: x\r\n"
			if key != "" {
				req += "x-api-key: " + key + "\r\n"
			}
			fmt.Fprint(c, req+"\r\n")
			if resp, err := http.ReadResponse(bufio.NewReader(c), nil); err == nil {
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
			}
			c.SetDeadline(time.Time{})
		})
	}
	wg.Wait()
	t.Cleanup(func() {
		for _, c := range conns {
			c.Close()
		}
	})
	return conns
}

// TestIdleConnectionsDoNotStarveClients fills a server whose process may open 1024
// files with 1,200 kept-alive connections, half of them without a key: a client with a
// key must still be served (the idle ones make room), where the server used to run out
// of file descriptors and leave it waiting in the accept queue.
func TestIdleConnectionsDoNotStarveClients(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the server binary")
	}
	srv := startChild(t, t.TempDir(), "--max-connections", "200")
	lim := unix.Rlimit{Cur: 1024, Max: 1024}
	if err := unix.Prlimit(srv.cmd.Process.Pid, unix.RLIMIT_NOFILE, &lim, nil); err != nil {
		t.Fatal(err)
	}
	addr := hostOf(srv)
	holdConnections(t, addr, "", 600)
	holdConnections(t, addr, testAPIKey, 600)

	client := &http.Client{Timeout: 30 * time.Second}
	req, _ := http.NewRequest("GET", srv.url+"/v1/files", nil)
	req.Header.Set("x-api-key", testAPIKey)
	resp, err := client.Do(req)
	if err != nil {
		t.Fatalf("client with a key, after 1,200 idle connections: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status %d", resp.StatusCode)
	}
}

// TestConnectionsFullAnswers529 holds every connection of a server busy (each sending
// its headers slowly) so that none can be closed to make room: the next connection is
// answered 529 overloaded_error with retry-after, not left hanging.
func TestConnectionsFullAnswers529(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the server binary")
	}
	srv := startChild(t, t.TempDir(), "--max-connections", "20")
	addr := hostOf(srv)
	var busy []net.Conn
	t.Cleanup(func() {
		for _, c := range busy {
			c.Close()
		}
	})
	for range 20 {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		busy = append(busy, c)
		// A request whose body never ends keeps its connection active.
		fmt.Fprintf(c, "POST /v1/files HTTP/1.1\r\nHost: x\r\nx-api-key: %s\r\nContent-Type: multipart/form-data; boundary=b\r\nContent-Length: 100000\r\n\r\n--b\r\n", testAPIKey)
	}
	// Let the server take up all twenty before the refused one comes.
	time.Sleep(500 * time.Millisecond)
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(30 * time.Second))
	fmt.Fprint(c, "GET /v1/files HTTP/1.1\r\nHost: x\r\n\r\n")
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatalf("connection beyond the limit: %v", err)
	}
	var body struct {
		Error struct{ Type, Message string }
	}
	json.NewDecoder(resp.Body).Decode(&body)
	if resp.StatusCode != 529 || body.Error.Type != "overloaded_error" || body.Error.Message == "" || resp.Header.Get("retry-after") == "" {
		t.Fatalf("beyond the limit: %d %+v retry-after %q", resp.StatusCode, body, resp.Header.Get("retry-after"))
	}
}

// TestSlowBodyTimesOut sends a request with a valid key whose body stops arriving: the
// server answers 408 once the body read timeout passes, instead of holding the
// connection for as long as the client likes.
func TestSlowBodyTimesOut(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the server binary")
	}
	srv := startChild(t, t.TempDir(), "--body-read-timeout", "1s")
	c, err := net.Dial("tcp", hostOf(srv))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	fmt.Fprintf(c, "POST /v1/files HTTP/1.1\r\nHost: x\r\nx-api-key: %s\r\nContent-Type: multipart/form-data; boundary=b\r\nContent-Length: 100000\r\n\r\n--b\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.txt\"\r\n\r\nsome", testAPIKey)
	c.SetReadDeadline(time.Now().Add(30 * time.Second))
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatalf("stalled body: no answer: %v", err)
	}
	if resp.StatusCode != http.StatusRequestTimeout {
		b, _ := io.ReadAll(resp.Body)
		t.Fatalf("stalled body: %d %s, want 408", resp.StatusCode, b)
	}
}

// TestSlowUploadAndSlowAnswerKeepWorking checks the body read timeout cuts nothing that
// makes progress: an upload that takes several times the timeout in all but keeps
// sending, and a request whose answer takes longer than the timeout after its body.
func TestSlowUploadAndSlowAnswerKeepWorking(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the server binary")
	}
	upstream := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		time.Sleep(3 * time.Second)
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"id":"msg_1","type":"message","role":"assistant","model":"claude-sonnet-4-5","content":[{"type":"text","text":"late"}],"stop_reason":"end_turn","stop_sequence":null,"usage":{"input_tokens":1,"output_tokens":1}}`)
	}))
	defer upstream.Close()
	srv := startChild(t, t.TempDir(), "--body-read-timeout", "1s", "--anthropic-base-url", upstream.URL, "--anthropic-api-key", "k")

	pr, pw := io.Pipe()
	mw := multipart.NewWriter(pw)
	go func() {
		part, _ := mw.CreateFormFile("file", "slow.txt")
		for range 10 {
			part.Write([]byte(strings.Repeat("x", 1000)))
			time.Sleep(400 * time.Millisecond)
		}
		mw.Close()
		pw.Close()
	}()
	req, _ := http.NewRequest("POST", srv.url+"/v1/files", pr)
	req.Header.Set("x-api-key", testAPIKey)
	req.Header.Set("Content-Type", mw.FormDataContentType())
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(b), `"size_bytes":10000`) {
		t.Fatalf("slow upload: %d %s", resp.StatusCode, b)
	}

	body := `{"model":"claude-sonnet-4-5","max_tokens":10,"messages":[{"role":"user","content":"hi"}]}`
	req, _ = http.NewRequestWithContext(context.Background(), "POST", srv.url+"/v1/messages", strings.NewReader(body))
	req.Header.Set("x-api-key", testAPIKey)
	req.Header.Set("Content-Type", "application/json")
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(b), "late") {
		t.Fatalf("slow answer: %d %s", resp.StatusCode, b)
	}
}
