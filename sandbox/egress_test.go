package sandbox_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/codebox-dev/codebox/egress"
	"github.com/codebox-dev/codebox/egress/egresstest"
	"github.com/codebox-dev/codebox/errdefs"
	"github.com/codebox-dev/codebox/sandbox"
	"github.com/codebox-dev/codebox/sandbox/sandboxtest"
)

// fetch is Python that GETs a URL with the standard library (which, like curl, pip,
// requests and httpx, takes the proxy from the environment) and prints the status
// and body, or the error.
const fetch = `import sys, urllib.request
req = urllib.request.Request(sys.argv[1], headers=dict(h.split(": ", 1) for h in sys.argv[2:]))
try:
    with urllib.request.urlopen(req, timeout=30) as r:
        print(r.status, r.read().decode())
except urllib.error.HTTPError as e:
    print(e.code, e.read().decode().strip())
except Exception as e:
    print("ERR", type(e).__name__, e)
`

func fetchCmd(url string, headers ...string) string {
	cmd := "python3 -c '" + fetch + "' " + url
	for _, h := range headers {
		cmd += ` "` + h + `"`
	}
	return cmd
}

// TestEgressAllowlist: an allow-listed container reaches its domains over HTTP and
// HTTPS through the host's proxy and nothing else; a domain secret reaches the upstream
// while the container only ever holds its placeholder; a container without a policy
// still has no network at all.
func TestEgressAllowlist(t *testing.T) {
	pool, cert := egresstest.CA(t, "secret.test", "tls.test")
	open := egresstest.NewUpstream(t, nil)
	secure := egresstest.NewUpstream(t, cert)
	other := egresstest.NewUpstream(t, nil)
	x, err := egress.New(egress.Config{RootCAs: pool, Resolve: map[string]string{
		"open.test:80": open.Addr(), "secret.test:443": secure.Addr(), "other.test:80": other.Addr(),
	}})
	if err != nil {
		t.Fatal(err)
	}
	const value = "sk-test-7f3a9c1e5b"
	eachRuntime(t, func(c *sandbox.Config) { c.Egress = x }, func(t *testing.T, e *sandboxtest.Env) {
		c := create(t, e, sandbox.CreateOptions{NetworkPolicy: egress.Policy{
			AllowedDomains: []string{"open.test", "secret.test"},
			Secrets:        []egress.Secret{{Domain: "secret.test", Name: "API_KEY", Value: value}},
		}})
		if got := run(t, e, c.ID, fetchCmd("http://open.test/hello")).Stdout; got != "200 hello from open.test\n" {
			t.Fatalf("allowed http: %q", got)
		}
		// HTTPS to the secret's domain: opened by the proxy with the container's CA,
		// which the container trusts through SSL_CERT_FILE; the value goes in there.
		res := run(t, e, c.ID, fetchCmd("https://secret.test/v1/x", "Authorization: Bearer $API_KEY"))
		if res.Stdout != "200 hello from secret.test\n" {
			t.Fatalf("secret domain: %q %q", res.Stdout, res.Stderr)
		}
		if got := (<-secure.Got).Header.Get("Authorization"); got != "Bearer "+value {
			t.Fatalf("upstream got Authorization %q", got)
		}
		for _, tc := range []struct{ url, want string }{
			{"http://other.test/", "403 "},
			{"https://other.test/", "ERR "},
			{"http://169.254.169.254/latest/meta-data/", "403 "},
			// The container's own loopback, where nothing listens on the host server's port.
			{"http://127.0.0.1:" + strings.Split(open.Addr(), ":")[1] + "/", "ERR "},
			{"http://1.1.1.1/", "403 "}, // a raw IP address, through the proxy
		} {
			if got := run(t, e, c.ID, fetchCmd(tc.url)).Stdout; !strings.HasPrefix(got, tc.want) {
				t.Errorf("%s: %q, want %q…", tc.url, got, tc.want)
			}
		}
		select {
		case r := <-other.Got:
			t.Errorf("a refused request reached other.test: %s", r.URL)
		default:
		}
		// The container's own loopback stays its own: a server it runs is reached
		// directly, not through the proxy (which refuses IP addresses).
		local := run(t, e, c.ID, `python3 -c '
import http.server, threading, urllib.request
srv = http.server.HTTPServer(("127.0.0.1", 0), http.server.SimpleHTTPRequestHandler)
threading.Thread(target=srv.serve_forever, daemon=True).start()
for host in ("127.0.0.1", "localhost", "[::1]"):
    try:
        print(host, urllib.request.urlopen(f"http://{host}:{srv.server_port}/", timeout=30).status)
    except Exception as e:
        print(host, e)
'`)
		if !strings.Contains(local.Stdout, "127.0.0.1 200\n") || !strings.Contains(local.Stdout, "localhost 200\n") {
			t.Errorf("a server on the container's loopback:\n%s%s", local.Stdout, local.Stderr)
		}
		// Without the proxy there is no route: the container's network namespace has
		// loopback only, so the host's servers and the metadata address are out of reach.
		direct := run(t, e, c.ID, `python3 -c '
import socket, sys
for a in sys.argv[1:]:
    h, p = a.rsplit(":", 1)
    try:
        socket.create_connection((h, int(p)), timeout=5); print("CONNECTED", a)
    except OSError as e:
        print("no-route", a, e)
' `+open.Addr()+` 169.254.169.254:80 1.1.1.1:443`)
		if strings.Contains(direct.Stdout, "CONNECTED") || strings.Count(direct.Stdout, "no-route") != 3 {
			t.Errorf("direct connections:\n%s%s", direct.Stdout, direct.Stderr)
		}
		// The value is nowhere in the container: not in the environment of its
		// processes, not in its files.
		leak := run(t, e, c.ID, `echo "API_KEY=$API_KEY"; cat /proc/[0-9]*/environ 2>/dev/null | tr '\0' '\n' | grep -c `+value+`;
			grep -rl `+value+` /run /tmp /workspace /etc 2>/dev/null; true`)
		if strings.Contains(leak.Stdout, value) || !strings.Contains(leak.Stdout, "API_KEY="+egress.Placeholder("API_KEY")) {
			t.Errorf("inside the container:\n%s", leak.Stdout)
		}

		// A container without a policy has no network, and no proxy to talk to.
		plain := create(t, e, sandbox.CreateOptions{})
		if got := run(t, e, plain.ID, fetchCmd("http://open.test/")).Stdout; !strings.HasPrefix(got, "ERR ") {
			t.Errorf("disabled container: %q", got)
		}
		if got := run(t, e, plain.ID, "HTTP_PROXY=http://"+egress.ListenAddr+" "+fetchCmd("http://open.test/")).Stdout; !strings.HasPrefix(got, "ERR ") {
			t.Errorf("disabled container through the proxy address: %q", got)
		}

		// A restart (idle stop, next use) brings the proxy back with the container.
		if _, err := e.Manager.Stop(context.Background(), ws, c.ID); err != nil {
			t.Fatal(err)
		}
		if got := run(t, e, c.ID, fetchCmd("http://open.test/again")).Stdout; got != "200 hello from open.test\n" {
			t.Fatalf("after a restart: %q", got)
		}
	})
}

// TestEgressRefusedPolicies: a server without egress, or beyond its limits, refuses
// an allow-list with a clear message instead of starting a container.
func TestEgressRefusedPolicies(t *testing.T) {
	x, err := egress.New(egress.Config{MaxDomains: 1, Deny: []string{"internal.example"}})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		proxy *egress.Proxy
		p     egress.Policy
		want  string
	}{
		{nil, egress.Policy{AllowedDomains: []string{"a.test"}}, "does not allow network access"},
		{x, egress.Policy{AllowedDomains: []string{"a.test", "b.test"}}, "at most 1 domains"},
		{x, egress.Policy{AllowedDomains: []string{"db.internal.example"}}, "denied"},
	} {
		e := sandboxtest.New(t, func(c *sandbox.Config) { c.Egress = tc.proxy })
		_, err := e.Manager.Create(context.Background(), ws, sandbox.CreateOptions{NetworkPolicy: tc.p})
		if !errors.Is(err, errdefs.ErrInvalid) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: %v, want %q", tc.p, err, tc.want)
		}
		if cs, _, _ := e.Manager.List(context.Background(), ws, sandbox.ListOptions{}); len(cs) != 0 {
			t.Errorf("%v: %d containers created", tc.p, len(cs))
		}
	}
}

// TestEgressServerRestart: an allow-listed container left running by a server that
// stopped is not adopted without its proxy: the next server stops it, and its next use
// starts it again with a proxy that serves its policy, secrets included.
func TestEgressServerRestart(t *testing.T) {
	pool, cert := egresstest.CA(t, "secret.test")
	secure := egresstest.NewUpstream(t, cert)
	x, err := egress.New(egress.Config{RootCAs: pool, Resolve: map[string]string{"secret.test:443": secure.Addr()}})
	if err != nil {
		t.Fatal(err)
	}
	configure := func(c *sandbox.Config) { c.Egress, c.StopOnClose = x, false }
	eachRuntime(t, configure, func(t *testing.T, e *sandboxtest.Env) {
		ctx := context.Background()
		c := create(t, e, sandbox.CreateOptions{NetworkPolicy: egress.Policy{AllowedDomains: []string{"secret.test"},
			Secrets: []egress.Secret{{Domain: "secret.test", Name: "K", Value: "v1"}}}})
		get := fetchCmd("https://secret.test/", "X-Key: $K")
		if got := run(t, e, c.ID, get).Stdout; got != "200 hello from secret.test\n" {
			t.Fatalf("before the restart: %q", got)
		}
		<-secure.Got
		if err := e.Manager.Close(ctx); err != nil {
			t.Fatal(err)
		}
		e.Manager = e.Start(t)
		if got, _ := e.Manager.Get(ctx, ws, c.ID); got.Status != sandbox.StatusStopped {
			t.Errorf("status after the restart = %s, want stopped", got.Status)
		}
		if got := run(t, e, c.ID, get).Stdout; got != "200 hello from secret.test\n" {
			t.Fatalf("after the restart: %q", got)
		}
		if got := (<-secure.Got).Header.Get("X-Key"); got != "v1" {
			t.Errorf("after the restart the upstream got %q", got)
		}
	})
}

// TestEgressTurnedOff: a container created with an allow-list on a server whose
// operator then turned egress off does not start without its policy: its next use is
// refused with a clear message, and a container without a policy still runs.
func TestEgressTurnedOff(t *testing.T) {
	x, err := egress.New(egress.Config{})
	if err != nil {
		t.Fatal(err)
	}
	e := sandboxtest.New(t, func(c *sandbox.Config) { c.Egress = x })
	ctx := context.Background()
	c := create(t, e, sandbox.CreateOptions{NetworkPolicy: egress.Policy{AllowedDomains: []string{"a.test"}}})
	if err := e.Manager.Close(ctx); err != nil {
		t.Fatal(err)
	}
	e.Config.Egress = nil
	e.Manager = e.Start(t)
	_, err = e.Manager.Exec(ctx, ws, c.ID, sandbox.ExecRequest{Command: "true"})
	if !errors.Is(err, errdefs.ErrInvalid) || !strings.Contains(err.Error(), "no longer allows") {
		t.Errorf("exec in a container whose network access was turned off: %v", err)
	}
	plain := create(t, e, sandbox.CreateOptions{})
	if res := run(t, e, plain.ID, "echo ok"); res.Stdout != "ok\n" {
		t.Errorf("a container without a policy: %+v", res)
	}
}
