package cluster

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strconv"
	"time"

	"github.com/codebox-dev/codebox/errdefs"
)

// dialTimeout bounds connecting to another node: on a cluster's network a live node
// answers in milliseconds, and a dead one must not hold the client.
const dialTimeout = 3 * time.Second

// newTransport returns the transport of forwarded requests. There is no response
// header timeout: a Messages request that does not stream answers only once its whole
// turn has run, minutes later. A node that dies meanwhile is found by the watch on its
// heartbeat (forward), and a host that vanishes from the network by TCP keepalives.
func newTransport() *http.Transport {
	d := &net.Dialer{Timeout: dialTimeout, KeepAliveConfig: net.KeepAliveConfig{
		Enable: true, Idle: 5 * time.Second, Interval: 5 * time.Second, Count: 3}}
	return &http.Transport{
		DialContext:         d.DialContext,
		MaxIdleConnsPerHost: 64,
		IdleConnTimeout:     90 * time.Second,
	}
}

// forwardState is one forwarded request's target and outcome.
type forwardState struct {
	target *url.URL
	err    error // of the round trip, before any answer was written
}

type stateKey struct{}

// errNotSent is a forward that failed to connect: the request never left this node.
var errNotSent = errors.New("not sent")

// errNodeDied cuts a forwarded request whose node stopped heartbeating.
var errNodeDied = errors.New("the node stopped heartbeating")

func (c *Cluster) newProxy() *httputil.ReverseProxy {
	return &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			st := pr.In.Context().Value(stateKey{}).(*forwardState)
			pr.SetURL(st.target)
			pr.SetXForwarded()
			pr.Out.Header.Set(ForwardedBy, c.cfg.Node)
		},
		Transport: c.cfg.Transport,
		// Server-sent events and streamed exec output go out as they come.
		FlushInterval: -1,
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			r.Context().Value(stateKey{}).(*forwardState).err = err
		},
	}
}

// forward proxies r to node n and copies its answer to w. kind and id (the
// container, "" for a placement) are for metrics and messages. It returns
// errdefs.ErrUnreachable when n failed before answering (wrapping errNotSent when it
// could not even be connected to), and nil once n's answer, whatever its status, is
// written.
func (c *Cluster) forward(w http.ResponseWriter, r *http.Request, n *Node, kind, id string) (retErr error) {
	target, err := url.Parse(n.URL)
	if err != nil || target.Host == "" {
		return fmt.Errorf("cluster: node %s advertises a bad URL %q: %w", n.Name, n.URL, err)
	}
	ctx, cancel := context.WithCancelCause(r.Context())
	defer cancel(nil)
	st := &forwardState{target: target}
	ctx = context.WithValue(ctx, stateKey{}, st)
	go c.watch(ctx, n.Name, cancel)
	rec := &codeRecorder{ResponseWriter: w}
	began := time.Now()
	defer func() {
		if c.cfg.Observer != nil {
			code := "error"
			if rec.code != 0 {
				code = strconv.Itoa(rec.code)
			}
			c.cfg.Observer.ObserveForward(kind, code, time.Since(began))
		}
	}()
	// The other node's answer brings its own; an answer of this node's gets them back.
	own := w.Header().Clone()
	w.Header().Del("request-id")
	w.Header().Del("X-Content-Type-Options")
	c.proxy.ServeHTTP(rec, r.WithContext(ctx))
	if st.err == nil || rec.code != 0 {
		return nil
	}
	for k, v := range own {
		w.Header()[k] = v
	}
	if r.Context().Err() != nil {
		return context.Cause(r.Context()) // the client went away
	}
	cause := st.err
	var op *net.OpError
	if errors.As(st.err, &op) && op.Op == "dial" {
		cause = fmt.Errorf("%w: %w", errNotSent, st.err)
	}
	what := "the request"
	if id != "" {
		what = "container " + id
	}
	why := "could not be reached"
	if errors.Is(context.Cause(ctx), errNodeDied) {
		why = "stopped answering"
	}
	return errdefs.WithRetryAfter(&errdefs.Public{Kind: errdefs.ErrUnreachable, Code: errdefs.CodeContainerUnavailable,
		Message: fmt.Sprintf("%s is unavailable: its node %s %s; try again", what, n.Name, why),
		Err:     fmt.Errorf("forward to %s: %w", n.Name, cause)}, retryUnreachable)
}

// watch cancels a forwarded request once its node is seen dead.
func (c *Cluster) watch(ctx context.Context, node string, cancel context.CancelCauseFunc) {
	t := time.NewTicker(c.cfg.HeartbeatInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if _, ok := c.cachedLive(node); !ok {
			cancel(errNodeDied)
			return
		}
	}
}

// codeRecorder notes the status a forwarded answer was written with.
type codeRecorder struct {
	http.ResponseWriter
	code int
}

func (r *codeRecorder) WriteHeader(code int) {
	if r.code == 0 {
		r.code = code
	}
	r.ResponseWriter.WriteHeader(code)
}

func (r *codeRecorder) Write(b []byte) (int, error) {
	if r.code == 0 {
		r.code = http.StatusOK
	}
	return r.ResponseWriter.Write(b)
}

// Unwrap lets the proxy flush each event through to the client.
func (r *codeRecorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }
