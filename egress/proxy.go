package egress

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/codebox-dev/codebox/errdefs"
)

// ListenAddr is where, inside an allow-listed container, the agent accepts proxy
// connections and relays them to the container's Session.
const ListenAddr = "127.0.0.1:3128"

// noProxy are the names clients in the container reach without the proxy: the
// container's own loopback.
const noProxy = "localhost,127.0.0.1,::1"

// Defaults of Config.
const (
	DefaultMaxDomains = 100
	// maxConns bounds one container's connections through its proxy at once.
	maxConns    = 256
	dialTimeout = 10 * time.Second
)

// Config is the operator's say over allow-lists.
type Config struct {
	// Disabled refuses every allow-list: containers have no network at all.
	Disabled bool
	// MaxDomains caps the entries of one allow-list (default DefaultMaxDomains).
	MaxDomains int
	// Deny lists domains no allow-list may reach; an entry also denies its subdomains.
	Deny []string
	// Workspaces are limits of single workspaces, tighter than the server's, by
	// workspace ID.
	Workspaces map[string]WorkspaceLimit
	// Resolve maps "host:port" to a fixed "ip:port" that is dialled instead of
	// resolving host, without the address checks: the operator's way to point a name
	// at an internal service (and the tests' way to reach servers on loopback). Empty
	// in production unless configured.
	Resolve map[string]string
	// RootCAs verify upstream servers where the proxy opens TLS; nil means the host's
	// roots.
	RootCAs *x509.CertPool
	Logger  *slog.Logger
}

// Proxy opens the per-container proxies.
type Proxy struct {
	cfg Config
	own map[netip.Addr]bool
	log *slog.Logger
	// lookup resolves a name (the host's resolver; tests replace it).
	lookup func(ctx context.Context, host string) ([]netip.Addr, error)
}

// New checks cfg and returns a Proxy.
func New(cfg Config) (*Proxy, error) {
	if cfg.MaxDomains <= 0 {
		cfg.MaxDomains = DefaultMaxDomains
	}
	deny := make([]string, 0, len(cfg.Deny))
	for _, d := range cfg.Deny {
		n := normalizeDomain(strings.TrimPrefix(strings.TrimSpace(d), "*."))
		if n == "" {
			return nil, fmt.Errorf("egress: deny list: %q is not a domain name", d)
		}
		deny = append(deny, n)
	}
	cfg.Deny = deny
	for from, to := range cfg.Resolve {
		if _, _, err := net.SplitHostPort(from); err != nil {
			return nil, fmt.Errorf("egress: resolve %q: want host:port=ip:port", from)
		}
		if _, err := netip.ParseAddrPort(to); err != nil {
			return nil, fmt.Errorf("egress: resolve %q to %q: want host:port=ip:port", from, to)
		}
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	return &Proxy{cfg: cfg, own: hostAddrs(), log: cfg.Logger.With("component", "egress"),
		lookup: func(ctx context.Context, host string) ([]netip.Addr, error) {
			return net.DefaultResolver.LookupNetIP(ctx, "ip", host)
		}}, nil
}

// WorkspaceLimit is the operator's say over one workspace's allow-lists.
type WorkspaceLimit struct {
	// Forbidden refuses every allow-list of the workspace.
	Forbidden bool
	// MaxDomains, when above 0, caps the entries of one allow-list of the workspace
	// below the server's cap.
	MaxDomains int
}

// Check normalizes p, a policy asked for in workspace ws, and holds it to the
// operator's limits. Errors are errdefs.ErrInvalid with a message for the client, or
// errdefs.ErrPermission when the workspace may have no allow-list.
func (x *Proxy) Check(ws string, p Policy) (Policy, error) {
	p, err := p.Normalize()
	if err != nil || !p.Enabled() {
		return p, err
	}
	if x == nil || x.cfg.Disabled {
		return Policy{}, errdefs.New(errdefs.ErrInvalid, "", "network_policy: this server does not allow network access from containers; use {\"type\": \"disabled\"}")
	}
	wl := x.cfg.Workspaces[ws]
	if wl.Forbidden {
		return Policy{}, errdefs.New(errdefs.ErrPermission, "", "network_policy: this workspace may not give containers network access (allow-lists are turned off for it by the server's --egress-workspace); use {\"type\": \"disabled\"}")
	}
	if wl.MaxDomains > 0 && wl.MaxDomains < x.cfg.MaxDomains && len(p.AllowedDomains) > wl.MaxDomains {
		return Policy{}, errdefs.New(errdefs.ErrInvalid, "", "network_policy.allowed_domains: at most %d domains in this workspace (the server's --egress-workspace limit)", wl.MaxDomains)
	}
	if len(p.AllowedDomains) > x.cfg.MaxDomains {
		return Policy{}, errdefs.New(errdefs.ErrInvalid, "", "network_policy.allowed_domains: at most %d domains on this server", x.cfg.MaxDomains)
	}
	for _, d := range p.AllowedDomains {
		if x.denied(strings.TrimPrefix(d, "*.")) {
			return Policy{}, errdefs.New(errdefs.ErrInvalid, "", "network_policy.allowed_domains: %q is denied by this server's configuration", d)
		}
	}
	return p, nil
}

func (x *Proxy) denied(host string) bool {
	return slices.ContainsFunc(x.cfg.Deny, func(d string) bool { return host == d || strings.HasSuffix(host, "."+d) })
}

// OpenOptions say where one container's proxy lives.
type OpenOptions struct {
	Policy Policy
	// Socket is the host path of the unix socket to listen on, owned by UID:GID so
	// that the container's agent may connect.
	Socket   string
	UID, GID int
	// CAKey is a host file, out of the container's reach, keeping its CA.
	CAKey string
	// Bundle is the host path of the trust bundle to write (the roots of the image
	// at RootFS, or else the host's, plus the container's CA when the policy has
	// secrets), and BundleInContainer where the container sees it.
	Bundle, BundleInContainer string
	RootFS                    string
}

// Session is one container's proxy, serving until Close.
type Session struct {
	x      *Proxy
	policy Policy
	ca     *authority
	ln     net.Listener
	env    []string
	conns  chan struct{}
	tr     *transport

	mu     sync.Mutex
	open   map[net.Conn]struct{}
	closed bool
	wg     sync.WaitGroup
}

// Open starts serving p for one container. The policy must have come through Check.
// A server whose operator has since turned egress off refuses with
// errdefs.ErrInvalid: the container cannot start as it was created.
func (x *Proxy) Open(o OpenOptions) (*Session, error) {
	if !o.Policy.Enabled() {
		return nil, errors.New("egress: no allow-list to serve")
	}
	if x == nil || x.cfg.Disabled {
		return nil, errdefs.New(errdefs.ErrInvalid, "", "this container was created with network access (an allowlist network_policy), which this server no longer allows; create a container without one")
	}
	s := &Session{x: x, policy: o.Policy, conns: make(chan struct{}, maxConns), open: map[net.Conn]struct{}{}}
	// The container's loopback is its own (no host behind it), so clients reach it
	// directly: through the proxy, which refuses IP addresses, a server the code runs
	// there would be out of reach.
	proxyURL := "http://" + ListenAddr
	s.env = []string{"HTTP_PROXY=" + proxyURL, "HTTPS_PROXY=" + proxyURL, "http_proxy=" + proxyURL,
		"https_proxy=" + proxyURL, "NO_PROXY=" + noProxy, "no_proxy=" + noProxy}
	if len(o.Policy.Secrets) > 0 {
		ca, err := loadAuthority(o.CAKey)
		if err != nil {
			return nil, fmt.Errorf("egress: CA: %w", err)
		}
		s.ca = ca
		for _, sec := range o.Policy.Secrets {
			s.env = append(s.env, sec.Name+"="+Placeholder(sec.Name))
		}
	}
	if err := writeBundle(o.Bundle, o.RootFS, s.ca); err != nil {
		return nil, fmt.Errorf("egress: trust bundle: %w", err)
	}
	for _, v := range []string{"SSL_CERT_FILE", "REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE", "PIP_CERT", "NODE_EXTRA_CA_CERTS"} {
		s.env = append(s.env, v+"="+o.BundleInContainer)
	}
	s.tr = newTransport(s)
	ln, err := listenUnix(o.Socket)
	if err != nil {
		return nil, fmt.Errorf("egress: %w", err)
	}
	if err := os.Chown(o.Socket, o.UID, o.GID); err != nil {
		ln.Close()
		return nil, fmt.Errorf("egress: %w", err)
	}
	s.ln = ln
	s.wg.Add(1)
	go func() { defer s.wg.Done(); s.accept() }()
	return s, nil
}

// Env is what the container's processes need in their environment: the proxy
// variables, and with secrets the trust bundle and each secret's placeholder.
func (s *Session) Env() []string { return slices.Clone(s.env) }

// Close stops serving and cuts the connections in flight.
func (s *Session) Close() error {
	s.mu.Lock()
	s.closed = true
	for c := range s.open {
		c.Close()
	}
	s.mu.Unlock()
	err := s.ln.Close()
	s.wg.Wait()
	s.tr.CloseIdleConnections()
	return err
}

func (s *Session) accept() {
	for {
		c, err := s.ln.Accept()
		if err != nil {
			return
		}
		select {
		case s.conns <- struct{}{}:
		default:
			c.Close() // over the cap: refused outright
			continue
		}
		if !s.track(c, true) {
			c.Close()
			<-s.conns
			return
		}
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			defer func() { <-s.conns }()
			defer s.track(c, false)
			defer c.Close()
			s.serveConn(c)
		}()
	}
}

// track registers (or forgets) a connection so Close can cut it.
func (s *Session) track(c net.Conn, add bool) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !add {
		delete(s.open, c)
		return true
	}
	if s.closed {
		return false
	}
	s.open[c] = struct{}{}
	return true
}

// dial connects to host:port for the container: host must be allowed and the port 80
// or 443; an operator mapping is dialled as given; otherwise host is resolved here and
// only a public address is dialled.
func (s *Session) dial(ctx context.Context, host, port string) (net.Conn, error) {
	if err := s.allowed(host, port); err != nil {
		return nil, err
	}
	d := net.Dialer{Timeout: dialTimeout}
	if to, ok := s.x.cfg.Resolve[net.JoinHostPort(host, port)]; ok {
		return d.DialContext(ctx, "tcp", to)
	}
	addrs, err := s.x.lookup(ctx, host)
	if err != nil {
		return nil, &refusal{status: 502, msg: fmt.Sprintf("cannot resolve %s", host)}
	}
	var errs []error
	for _, a := range addrs {
		if !publicAddr(a, s.x.own) {
			s.x.log.Warn("refused a non-public address", "host", host, "addr", a)
			errs = append(errs, fmt.Errorf("%s resolves to a non-public address", host))
			continue
		}
		c, err := d.DialContext(ctx, "tcp", netip.AddrPortFrom(a.Unmap(), portNum(port)).String())
		if err == nil {
			return c, nil
		}
		errs = append(errs, err)
	}
	if len(errs) == 0 {
		return nil, &refusal{status: 502, msg: fmt.Sprintf("cannot resolve %s", host)}
	}
	return nil, &refusal{status: 502, msg: errors.Join(errs...).Error()}
}

// allowed checks host (normalized) and port against the policy.
func (s *Session) allowed(host, port string) error {
	if _, err := netip.ParseAddr(host); err != nil || host == "" {
		if !s.policy.allows(host) || s.x.denied(host) {
			return &refusal{status: 403, msg: fmt.Sprintf("%s is not in this container's allowed domains", host)}
		}
	} else {
		return &refusal{status: 403, msg: "IP addresses are not reachable; use an allowed domain name"}
	}
	if port != "80" && port != "443" {
		return &refusal{status: 403, msg: fmt.Sprintf("port %s is not allowed; only 80 (HTTP) and 443 (HTTPS) are", port)}
	}
	return nil
}

func portNum(p string) uint16 {
	if p == "80" {
		return 80
	}
	return 443
}

// refusal is why the proxy would not connect, with the HTTP status it answers.
type refusal struct {
	status int
	msg    string
}

func (r *refusal) Error() string { return r.msg }

// systemBundle is where Debian keeps its roots, in the image and on the host.
const systemBundle = "etc/ssl/certs/ca-certificates.crt"

// writeBundle writes the roots the container trusts to path: the image's own, or the
// host's when the image has none (so that tunnelled HTTPS can be verified inside), plus
// ca's certificate when there is a CA.
func writeBundle(path, rootfs string, ca *authority) error {
	roots, err := os.ReadFile(filepath.Join(rootfs, systemBundle))
	if errors.Is(err, os.ErrNotExist) {
		roots, err = os.ReadFile("/" + systemBundle)
	}
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	b := append(roots, '\n')
	if ca != nil {
		b = append(b, ca.certPEM()...)
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, b, 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// tlsConfig is what the proxy uses towards upstream servers.
func (s *Session) tlsConfig(host string) *tls.Config {
	return &tls.Config{ServerName: host, RootCAs: s.x.cfg.RootCAs, MinVersion: tls.VersionTLS12}
}

// listenUnix listens on a unix socket at path, however long: a socket address holds
// at most 108 bytes, so the socket is bound through the directory's descriptor.
func listenUnix(path string) (net.Listener, error) {
	os.Remove(path)
	dir, err := os.Open(filepath.Dir(path))
	if err != nil {
		return nil, err
	}
	defer dir.Close()
	ln, err := net.Listen("unix", "/proc/self/fd/"+strconv.Itoa(int(dir.Fd()))+"/"+filepath.Base(path))
	if err != nil {
		return nil, err
	}
	// The name it was bound by means nothing once dir is closed.
	ln.(*net.UnixListener).SetUnlinkOnClose(false)
	return ln, nil
}
