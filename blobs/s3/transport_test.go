package s3_test

import (
	"net/http"
	"sync/atomic"
)

// countingTransport counts the GET requests that pass through it.
type countingTransport struct{ n atomic.Int64 }

func (c *countingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.Method == http.MethodGet {
		c.n.Add(1)
	}
	return http.DefaultTransport.RoundTrip(r)
}

func (c *countingTransport) client() *http.Client { return &http.Client{Transport: c} }
func (c *countingTransport) reset()               { c.n.Store(0) }
func (c *countingTransport) gets() int64          { return c.n.Load() }
