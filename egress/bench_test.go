package egress

import (
	"io"
	"net/http"
	"testing"

	"github.com/codebox-dev/codebox/egress/egresstest"
)

// BenchmarkProxy measures one request through a container's proxy over a kept-alive
// connection: plain HTTP forwarded, HTTPS tunnelled untouched, and HTTPS opened by the
// proxy to put a secret in (go test -bench Proxy ./egress).
func BenchmarkProxy(b *testing.B) {
	pool, cert := egresstest.CA(b, "open.test", "secret.test")
	plain := egresstest.NewUpstream(b, nil)
	secure := egresstest.NewUpstream(b, cert)
	cfg := Config{RootCAs: pool, Resolve: map[string]string{
		"open.test:80": plain.Addr(), "open.test:443": secure.Addr(), "secret.test:443": secure.Addr()}}
	p := Policy{AllowedDomains: []string{"open.test", "secret.test"}, Secrets: []Secret{{Domain: "secret.test", Name: "K", Value: "v"}}}
	_, c, _ := session(b, cfg, p, pool.Clone())
	for _, u := range []string{"http://open.test/", "https://open.test/", "https://secret.test/"} {
		b.Run(u, func(b *testing.B) {
			for b.Loop() {
				resp, err := c.Get(u)
				if err != nil {
					b.Fatal(err)
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != http.StatusOK {
					b.Fatal(resp.Status)
				}
			}
		})
	}
}
