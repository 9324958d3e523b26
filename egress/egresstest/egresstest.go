// Package egresstest provides upstream servers on loopback for tests of the egress
// proxy: plain HTTP, or HTTPS with a certificate for test domain names from a CA of
// the test's own, recording every request they answer.
package egresstest

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"io"
	"math/big"
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"
	"time"
)

// Upstream is a test server that answers "hello from <Host>" and records what it
// was sent.
type Upstream struct {
	*httptest.Server
	// Got receives a copy of every request, headers and URL included.
	Got chan *http.Request
}

// Addr is the server's ip:port, what a proxy's resolve map points a test name at.
func (u *Upstream) Addr() string {
	pu, _ := url.Parse(u.URL)
	return pu.Host
}

// NewUpstream starts a server on loopback, with TLS when cert is not nil.
func NewUpstream(t testing.TB, cert *tls.Certificate) *Upstream {
	u := &Upstream{Got: make(chan *http.Request, 64)}
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case u.Got <- r.Clone(context.Background()):
		default:
		}
		io.WriteString(w, "hello from "+r.Host)
	})
	if cert == nil {
		u.Server = httptest.NewServer(h)
	} else {
		u.Server = httptest.NewUnstartedServer(h)
		u.TLS = &tls.Config{Certificates: []tls.Certificate{*cert}}
		u.StartTLS()
	}
	t.Cleanup(u.Close)
	return u
}

// CA makes a CA and a server certificate for names signed by it; the pool holds the
// CA, for whoever verifies the server.
func CA(t testing.TB, names ...string) (*x509.CertPool, *tls.Certificate) {
	t.Helper()
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	caTmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "egresstest CA"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour), IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, err := x509.ParseCertificate(caDER)
	if err != nil {
		t.Fatal(err)
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: names[0]}, DNSNames: names,
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour),
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}, KeyUsage: x509.KeyUsageDigitalSignature}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(ca)
	return pool, &tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
}
