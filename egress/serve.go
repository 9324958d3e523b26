package egress

import (
	"bufio"
	"context"
	"crypto/tls"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Time limits of one proxied connection.
const (
	handshakeTimeout = 15 * time.Second
	// idleTimeout is how long a client connection may sit between requests.
	idleTimeout = 2 * time.Minute
)

// hopHeaders are a proxy's own, never forwarded (RFC 9110 §7.6.1).
var hopHeaders = []string{"Connection", "Proxy-Connection", "Keep-Alive", "Proxy-Authenticate",
	"Proxy-Authorization", "Te", "Trailer", "Transfer-Encoding", "Upgrade"}

// serveConn answers one connection from the container: CONNECT tunnels, or
// absolute-form HTTP requests until the client is done.
func (s *Session) serveConn(c net.Conn) {
	br := bufio.NewReader(c)
	req, err := readRequest(c, br)
	if err != nil {
		return
	}
	if req.Method == http.MethodConnect {
		s.connect(c, br, req)
		return
	}
	s.serveHTTP(c, br, req, "")
}

// readRequest reads the connection's next request, which the client has idleTimeout
// to send.
func readRequest(c net.Conn, br *bufio.Reader) (*http.Request, error) {
	c.SetReadDeadline(time.Now().Add(idleTimeout))
	req, err := http.ReadRequest(br)
	c.SetReadDeadline(time.Time{})
	return req, err
}

// hostPort returns the normalized host and the port of a request target.
func hostPort(hostport, defPort string) (string, string) {
	host, port, err := net.SplitHostPort(hostport)
	if err != nil {
		host, port = hostport, defPort
	}
	host = strings.TrimSuffix(strings.ToLower(strings.Trim(host, "[]")), ".")
	return host, port
}

func (s *Session) connect(c net.Conn, br *bufio.Reader, req *http.Request) {
	host, port := hostPort(req.Host, "443")
	if err := s.allowed(host, port); err != nil {
		s.refuse(c, req, err)
		return
	}
	if s.ca != nil && len(s.policy.secretsFor(host)) > 0 {
		// Opened here so that the secrets go in; the upstream is verified by the proxy.
		io.WriteString(c, "HTTP/1.1 200 Connection established\r\n\r\n")
		cert, err := s.ca.leaf(host)
		if err != nil {
			s.x.log.Warn("egress leaf certificate", "host", host, "err", err)
			return
		}
		tc := tls.Server(&prefixConn{Conn: c, r: br}, &tls.Config{
			Certificates: []tls.Certificate{*cert}, MinVersion: tls.VersionTLS12, NextProtos: []string{"http/1.1"},
		})
		tc.SetDeadline(time.Now().Add(handshakeTimeout))
		if err := tc.Handshake(); err != nil {
			return
		}
		tc.SetDeadline(time.Time{})
		s.serveHTTP(tc, bufio.NewReader(tc), nil, net.JoinHostPort(host, port))
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), dialTimeout+5*time.Second)
	up, err := s.dial(ctx, host, port)
	cancel()
	if err != nil {
		s.refuse(c, req, err)
		return
	}
	defer up.Close()
	if _, err := io.WriteString(c, "HTTP/1.1 200 Connection established\r\n\r\n"); err != nil {
		return
	}
	s.track(up, true)
	defer s.track(up, false)
	splice(&prefixConn{Conn: c, r: br}, up)
}

// serveHTTP forwards req (nil: the connection's first request) and the requests after
// it on the same connection: absolute-form http:// requests to the proxy, or, inside a
// tunnel the proxy opened, requests whose target is the tunnel's host:port.
func (s *Session) serveHTTP(c net.Conn, br *bufio.Reader, req *http.Request, tunnel string) {
	for {
		if req == nil {
			var err error
			if req, err = readRequest(c, br); err != nil {
				return
			}
		}
		scheme := "http"
		if tunnel != "" {
			req.URL.Scheme, req.URL.Host, scheme = "https", tunnel, "https"
		}
		keep, err := s.forward(c, req, scheme)
		if err != nil || !keep {
			return
		}
		req = nil
	}
}

// forward sends one request upstream and its answer back; keep says whether the
// connection may carry another.
func (s *Session) forward(c net.Conn, req *http.Request, scheme string) (keep bool, err error) {
	defer req.Body.Close()
	if req.URL.Scheme != scheme || req.URL.Host == "" {
		s.refuse(c, req, &refusal{status: 400, msg: "the proxy takes absolute http:// requests and CONNECT"})
		return false, nil
	}
	def := "80"
	if scheme == "https" {
		def = "443"
	}
	host, port := hostPort(req.URL.Host, def)
	if err := s.allowed(host, port); err != nil {
		s.refuse(c, req, err)
		return false, nil
	}
	out := req.Clone(context.Background())
	out.RequestURI = ""
	out.Host = req.Host
	for _, h := range hopHeaders {
		out.Header.Del(h)
	}
	s.inject(out, host)
	resp, err := s.tr.RoundTrip(out)
	if err != nil {
		var r *refusal
		if !errors.As(err, &r) {
			r = &refusal{status: 502, msg: fmt.Sprintf("%s: %v", host, err)}
		}
		s.refuse(c, req, r)
		return false, nil
	}
	defer resp.Body.Close()
	for _, h := range hopHeaders {
		if h != "Transfer-Encoding" {
			resp.Header.Del(h)
		}
	}
	if err := resp.Write(c); err != nil {
		return false, err
	}
	return !req.Close && !resp.Close, nil
}

// inject puts the secrets of host where the request carries their placeholders: header
// values (Basic credentials decoded first), the query and the path.
func (s *Session) inject(r *http.Request, host string) {
	secrets := s.policy.secretsFor(host)
	if len(secrets) == 0 {
		return
	}
	replace := func(v string) string {
		for _, sec := range secrets {
			v = strings.ReplaceAll(v, Placeholder(sec.Name), sec.Value)
		}
		return v
	}
	for k, vs := range r.Header {
		for i, v := range vs {
			if k == "Authorization" && len(v) > 6 && strings.EqualFold(v[:6], "basic ") {
				if dec, err := base64.StdEncoding.DecodeString(strings.TrimSpace(v[6:])); err == nil {
					if n := replace(string(dec)); n != string(dec) {
						vs[i] = "Basic " + base64.StdEncoding.EncodeToString([]byte(n))
						continue
					}
				}
			}
			vs[i] = replace(v)
		}
	}
	r.URL.RawQuery = replace(r.URL.RawQuery)
	if r.URL.RawPath != "" {
		r.URL.RawPath = replace(r.URL.RawPath)
	}
	r.URL.Path = replace(r.URL.Path)
}

// refuse answers the client with the proxy's reason.
func (s *Session) refuse(c net.Conn, req *http.Request, err error) {
	status, msg := http.StatusBadGateway, err.Error()
	var r *refusal
	if errors.As(err, &r) {
		status = r.status
	}
	s.x.log.Info("egress refused", "method", req.Method, "target", req.Host, "status", status, "reason", msg)
	body := "codebox egress proxy: " + msg + "\n"
	fmt.Fprintf(c, "HTTP/1.1 %d %s\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: %s\r\nConnection: close\r\n\r\n%s",
		status, http.StatusText(status), strconv.Itoa(len(body)), body)
}

// prefixConn is a connection whose first bytes were already buffered by r.
type prefixConn struct {
	net.Conn
	r *bufio.Reader
}

func (p *prefixConn) Read(b []byte) (int, error) { return p.r.Read(b) }

// splice copies both ways until both sides are done.
func splice(a, b net.Conn) {
	var wg sync.WaitGroup
	cp := func(dst, src net.Conn) {
		defer wg.Done()
		io.Copy(dst, src)
		if cw, ok := dst.(interface{ CloseWrite() error }); ok {
			cw.CloseWrite()
		} else {
			dst.Close()
		}
	}
	wg.Add(2)
	go cp(a, b)
	go cp(b, a)
	wg.Wait()
}

// transport is the session's client towards upstream servers: every dial goes
// through the session's checks.
type transport struct{ *http.Transport }

func newTransport(s *Session) *transport {
	return &transport{&http.Transport{
		Proxy: nil,
		DialContext: func(ctx context.Context, _, addr string) (net.Conn, error) {
			host, port := hostPort(addr, "80")
			return s.dial(ctx, host, port)
		},
		DialTLSContext: func(ctx context.Context, _, addr string) (net.Conn, error) {
			host, port := hostPort(addr, "443")
			c, err := s.dial(ctx, host, port)
			if err != nil {
				return nil, err
			}
			tc := tls.Client(c, s.tlsConfig(host))
			if err := tc.HandshakeContext(ctx); err != nil {
				c.Close()
				return nil, err
			}
			return tc, nil
		},
		MaxIdleConnsPerHost:   4,
		IdleConnTimeout:       30 * time.Second,
		TLSHandshakeTimeout:   handshakeTimeout,
		ResponseHeaderTimeout: 5 * time.Minute,
		DisableCompression:    true,
	}}
}
