package egress

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/codebox-dev/codebox/egress/egresstest"
	"github.com/codebox-dev/codebox/errdefs"
)

// session opens a proxy for p with the given resolve map and returns a client that
// goes through it, as a container's process would through its agent's relay.
func session(t testing.TB, cfg Config, p Policy, roots *x509.CertPool) (*Session, *http.Client, string) {
	t.Helper()
	x, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	// Names ending in .rebind.test resolve, as a hostile DNS server could make them,
	// to the metadata address and to the host's loopback.
	real := x.lookup
	x.lookup = func(ctx context.Context, host string) ([]netip.Addr, error) {
		if strings.HasSuffix(host, ".rebind.test") {
			return []netip.Addr{netip.MustParseAddr("169.254.169.254"), netip.MustParseAddr("127.0.0.1"),
				netip.MustParseAddr("::ffff:10.0.0.1")}, nil
		}
		return real(ctx, host)
	}
	p, err = x.Check("", p)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	s, err := x.Open(OpenOptions{Policy: p, Socket: filepath.Join(dir, "egress.sock"), UID: os.Getuid(), GID: os.Getgid(),
		CAKey: filepath.Join(dir, "ca.key"), Bundle: filepath.Join(dir, "bundle.pem"), BundleInContainer: "/run/codebox/ca.pem"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	if roots == nil {
		roots = x509.NewCertPool()
	}
	if b, err := os.ReadFile(filepath.Join(dir, "bundle.pem")); err == nil {
		roots.AppendCertsFromPEM(b)
	}
	tr := &http.Transport{
		Proxy: http.ProxyURL(&url.URL{Scheme: "http", Host: "proxy"}),
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", filepath.Join(dir, "egress.sock"))
		},
		TLSClientConfig: &tls.Config{RootCAs: roots},
	}
	t.Cleanup(tr.CloseIdleConnections)
	return s, &http.Client{Transport: tr, Timeout: time.Minute}, dir
}

func get(t *testing.T, c *http.Client, u string, hdr ...string) (int, string, error) {
	t.Helper()
	req, _ := http.NewRequest("GET", u, nil)
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := c.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), nil
}

func TestProxyAllowsListedDomainsOnly(t *testing.T) {
	plain := egresstest.NewUpstream(t, nil)
	pool, cert := egresstest.CA(t, "tls.test")
	secure := egresstest.NewUpstream(t, cert)
	other := egresstest.NewUpstream(t, nil)
	cfg := Config{Resolve: map[string]string{
		"plain.test:80": plain.Addr(), "tls.test:443": secure.Addr(),
		"other.test:80": other.Addr(),
	}}
	_, c, _ := session(t, cfg, Policy{AllowedDomains: []string{"Plain.Test.", "tls.test", "localhost", "*.rebind.test"}}, pool)

	if code, body, err := get(t, c, "http://plain.test/x"); err != nil || code != 200 || body != "hello from plain.test" {
		t.Fatalf("allowed http: %d %q %v", code, body, err)
	}
	// HTTPS to a domain without secrets is a tunnel: the client verifies the server.
	if code, body, err := get(t, c, "https://tls.test/y"); err != nil || code != 200 || body != "hello from tls.test" {
		t.Fatalf("allowed https: %d %q %v", code, body, err)
	}
	for _, tc := range []struct {
		url  string
		want int
	}{
		{"http://other.test/", 403},             // mapped but not listed
		{"https://other.test/", 403},            // CONNECT to a non-listed name
		{"http://127.0.0.1/", 403},              // raw IP
		{"https://127.0.0.1/", 403},             // raw IP through CONNECT
		{"http://169.254.169.254/latest/", 403}, // metadata address
		{"http://[::1]/", 403},
		{"http://plain.test:8080/", 403}, // listed name, other port
		{"http://localhost/", 502},       // listed, but resolves to the host's loopback
		{"https://localhost/", 502},
		{"http://metadata.rebind.test/", 502}, // listed, resolves to inside addresses only
		{"https://metadata.rebind.test/", 502},
	} {
		code, body, err := get(t, c, tc.url)
		if tc.want == 502 && err == nil && !strings.Contains(body, "non-public address") {
			t.Errorf("%s: %q, want a refusal of the address", tc.url, body)
		}
		if err != nil {
			// A refused CONNECT is an error from the client, carrying the status.
			if !strings.Contains(err.Error(), http.StatusText(tc.want)) {
				t.Errorf("%s: %v, want status %d", tc.url, err, tc.want)
			}
			continue
		}
		if code != tc.want {
			t.Errorf("%s: status %d, want %d", tc.url, code, tc.want)
		}
	}
	select {
	case r := <-other.Got:
		t.Fatalf("a refused request reached the other server: %s", r.URL)
	default:
	}
}

func TestProxyInjectsSecretsOnlyIntoTheirDomain(t *testing.T) {
	pool, cert := egresstest.CA(t, "secret.test", "plain.test")
	api := egresstest.NewUpstream(t, cert)
	plainTLS := egresstest.NewUpstream(t, cert)
	httpAPI := egresstest.NewUpstream(t, nil)
	cfg := Config{RootCAs: pool, Resolve: map[string]string{
		"secret.test:443": api.Addr(), "plain.test:443": plainTLS.Addr(),
		"secret.test:80": httpAPI.Addr(),
	}}
	const value = "sk-live-0123456789"
	p := Policy{AllowedDomains: []string{"secret.test", "plain.test"},
		Secrets: []Secret{{Domain: "secret.test", Name: "API_KEY", Value: value}}}
	s, c, dir := session(t, cfg, p, nil) // the client trusts only the container's bundle
	ph := Placeholder("API_KEY")
	env := strings.Join(s.Env(), "\n")
	if strings.Contains(env, value) || !strings.Contains(env, "API_KEY="+ph) || !strings.Contains(env, "SSL_CERT_FILE=/run/codebox/ca.pem") {
		t.Fatalf("env: %s", env)
	}
	if b, _ := os.ReadFile(filepath.Join(dir, "bundle.pem")); strings.Contains(string(b), "PRIVATE KEY") {
		t.Fatal("the bundle the container sees holds the CA's key")
	}

	code, body, err := get(t, c, "https://secret.test/v1?key="+ph, "Authorization", "Bearer "+ph)
	if err != nil || code != 200 || body != "hello from secret.test" {
		t.Fatalf("secret domain: %d %q %v", code, body, err)
	}
	r := <-api.Got
	if r.Header.Get("Authorization") != "Bearer "+value || r.URL.Query().Get("key") != value {
		t.Fatalf("upstream got Authorization %q, query %q", r.Header.Get("Authorization"), r.URL.RawQuery)
	}
	// Basic credentials are decoded, filled in and encoded again.
	req, _ := http.NewRequest("GET", "https://secret.test/basic", nil)
	req.SetBasicAuth("user", ph)
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if u, pw, _ := (<-api.Got).BasicAuth(); u != "user" || pw != value {
		t.Fatalf("basic auth upstream: %q %q", u, pw)
	}
	// Plain HTTP to the secret's domain gets it too.
	if code, _, err := get(t, c, "http://secret.test/", "X-Key", ph); err != nil || code != 200 {
		t.Fatalf("http secret domain: %d %v", code, err)
	}
	if got := (<-httpAPI.Got).Header.Get("X-Key"); got != value {
		t.Fatalf("http upstream got %q", got)
	}
	// Another domain gets the placeholder, never the value (it is tunnelled, not opened).
	if code, _, err := get(t, c, "https://plain.test/", "Authorization", "Bearer "+ph); err == nil {
		t.Fatalf("the tunnel to plain.test was verified with the container's CA only, yet answered %d", code)
	}
}

func TestProxyTunnelsOtherDomainsUntouched(t *testing.T) {
	pool, cert := egresstest.CA(t, "secret.test", "plain.test")
	api := egresstest.NewUpstream(t, cert)
	plainTLS := egresstest.NewUpstream(t, cert)
	cfg := Config{RootCAs: pool, Resolve: map[string]string{
		"secret.test:443": api.Addr(), "plain.test:443": plainTLS.Addr()}}
	p := Policy{AllowedDomains: []string{"secret.test", "plain.test"},
		Secrets: []Secret{{Domain: "secret.test", Name: "API_KEY", Value: "v"}}}
	_, c, _ := session(t, cfg, p, pool.Clone())
	ph := Placeholder("API_KEY")
	if code, _, err := get(t, c, "https://plain.test/", "Authorization", "Bearer "+ph); err != nil || code != 200 {
		t.Fatalf("plain.test: %d %v", code, err)
	}
	if got := (<-plainTLS.Got).Header.Get("Authorization"); got != "Bearer "+ph {
		t.Fatalf("plain.test got %q, want the placeholder", got)
	}
}

func TestCheck(t *testing.T) {
	x, err := New(Config{MaxDomains: 2, Deny: []string{"evil.example"}})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		p    Policy
		want string
	}{
		{Policy{AllowedDomains: []string{"a.test", "b.test", "c.test"}}, "at most 2 domains"},
		{Policy{AllowedDomains: []string{"x.evil.example"}}, "denied"},
		{Policy{AllowedDomains: []string{"*.evil.example"}}, "denied"},
		{Policy{AllowedDomains: []string{"https://a.test"}}, "not a domain name"},
		{Policy{AllowedDomains: []string{"10.0.0.1"}}, "not a domain name"},
		{Policy{AllowedDomains: []string{"a.test:443"}}, "not a domain name"},
		{Policy{AllowedDomains: []string{"a.test"}, Secrets: []Secret{{Domain: "b.test", Name: "K", Value: "v"}}}, "not in allowed_domains"},
		{Policy{AllowedDomains: []string{"a.test"}, Secrets: []Secret{{Domain: "a.test", Name: "1K", Value: "v"}}}, "environment variable name"},
		{Policy{AllowedDomains: []string{"a.test"}, Secrets: []Secret{{Domain: "a.test", Name: "K", Value: ""}}}, "value"},
		{Policy{AllowedDomains: []string{"a.test"}, Secrets: []Secret{{Domain: "a.test", Name: "K", Value: "a\r\nb"}}}, "control characters"},
	} {
		_, err := x.Check("", tc.p)
		if !errors.Is(err, errdefs.ErrInvalid) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%+v: %v, want %q", tc.p, err, tc.want)
		}
	}
	if p, err := x.Check("", Policy{AllowedDomains: []string{"A.test.", "a.test", "*.b.test"}}); err != nil || len(p.AllowedDomains) != 2 {
		t.Errorf("normalize: %+v %v", p, err)
	}
	off, _ := New(Config{Disabled: true})
	if _, err := off.Check("", Policy{AllowedDomains: []string{"a.test"}}); !errors.Is(err, errdefs.ErrInvalid) {
		t.Errorf("disabled: %v", err)
	}
	if p, err := off.Check("", Policy{}); err != nil || p.Enabled() {
		t.Errorf("disabled policy on a server without egress: %v", err)
	}
}

func TestPublicAddr(t *testing.T) {
	own := map[netip.Addr]bool{netip.MustParseAddr("203.0.114.7"): true}
	for _, a := range []string{"127.0.0.1", "169.254.169.254", "10.1.2.3", "172.16.0.1", "192.168.1.1", "100.64.0.1",
		"0.0.0.0", "::1", "fe80::1", "fd00::1", "::ffff:127.0.0.1", "::ffff:169.254.169.254", "224.0.0.1", "64:ff9b::a00:1",
		"203.0.114.7", "255.255.255.255"} {
		if publicAddr(netip.MustParseAddr(a), own) {
			t.Errorf("%s counted as public", a)
		}
	}
	for _, a := range []string{"1.1.1.1", "151.101.0.223", "2606:4700::1111"} {
		if !publicAddr(netip.MustParseAddr(a), own) {
			t.Errorf("%s counted as not public", a)
		}
	}
}

// TestProxyForwardsBodiesAndKeepsConnections: request bodies go upstream intact,
// responses of unknown length come back whole, and one client connection carries
// several requests, through an opened tunnel and as plain HTTP.
func TestProxyForwardsBodiesAndKeepsConnections(t *testing.T) {
	pool, cert := egresstest.CA(t, "secret.test")
	echo := func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		w.(http.Flusher).Flush() // no Content-Length: chunked
		io.WriteString(w, r.Method+" "+string(b)+" "+r.Header.Get("X-Key"))
	}
	tlsUp := httptest.NewUnstartedServer(http.HandlerFunc(echo))
	tlsUp.TLS = &tls.Config{Certificates: []tls.Certificate{*cert}}
	tlsUp.StartTLS()
	t.Cleanup(tlsUp.Close)
	plainUp := httptest.NewServer(http.HandlerFunc(echo))
	t.Cleanup(plainUp.Close)
	addr := func(s *httptest.Server) string {
		return strings.TrimPrefix(strings.TrimPrefix(s.URL, "https://"), "http://")
	}
	cfg := Config{RootCAs: pool, Resolve: map[string]string{"secret.test:443": addr(tlsUp), "secret.test:80": addr(plainUp)}}
	p := Policy{AllowedDomains: []string{"secret.test"}, Secrets: []Secret{{Domain: "secret.test", Name: "K", Value: "v"}}}
	_, c, _ := session(t, cfg, p, nil)
	tr := c.Transport.(*http.Transport)
	dial := tr.DialContext
	var dials atomic.Int32
	tr.DialContext = func(ctx context.Context, network, a string) (net.Conn, error) {
		dials.Add(1)
		return dial(ctx, network, a)
	}
	for _, u := range []string{"https://secret.test/", "http://secret.test/"} {
		before := dials.Load()
		for i := range 3 {
			body := strings.Repeat("x", 100000) + strconv.Itoa(i)
			req, _ := http.NewRequest("POST", u, strings.NewReader(body))
			req.Header.Set("X-Key", Placeholder("K"))
			resp, err := c.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if want := "POST " + body + " v"; string(b) != want {
				t.Fatalf("%s #%d: %d bytes back, want %d", u, i, len(b), len(want))
			}
		}
		if n := dials.Load() - before; n != 1 {
			t.Errorf("%s: %d connections to the proxy for 3 requests, want 1", u, n)
		}
	}
}
