package api

import (
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"time"

	"github.com/codebox-dev/codebox/errdefs"
)

// progressBody bounds the wait for each read of a request body, like nginx's
// client_body_timeout: a body that stalls for the timeout fails with 408, while a large
// upload that keeps moving, however slowly in all, is never cut. The deadline is the
// connection's, set through the ResponseController before each read and cleared at the
// body's end, so that a long response after the body (a stream) is never cut by it.
type progressBody struct {
	io.ReadCloser
	rc      *http.ResponseController
	timeout time.Duration
	done    bool
}

func (b *progressBody) Read(p []byte) (int, error) {
	if b.done {
		return b.ReadCloser.Read(p)
	}
	if err := b.rc.SetReadDeadline(time.Now().Add(b.timeout)); err != nil {
		// The connection cannot take deadlines (HTTP/2 without support, tests); read
		// without one.
		b.done = true
	}
	n, err := b.ReadCloser.Read(p)
	switch {
	case err == io.EOF:
		b.done = true
		b.rc.SetReadDeadline(time.Time{})
	case isTimeout(err):
		err = &errdefs.Public{Kind: errdefs.ErrInvalid, Status: http.StatusRequestTimeout,
			Message: fmt.Sprintf("The request body stalled: no data arrived for %s", b.timeout), Err: err}
	}
	return n, err
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// withBodyTimeout installs progressBody on r when the server has a body read timeout.
func (s *Server) withBodyTimeout(w http.ResponseWriter, r *http.Request) {
	if s.BodyReadTimeout <= 0 || r.Body == nil || r.Body == http.NoBody {
		return
	}
	r.Body = &progressBody{ReadCloser: r.Body, rc: http.NewResponseController(w), timeout: s.BodyReadTimeout}
}
