package cluster

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/codebox-dev/codebox"
	"github.com/codebox-dev/codebox/errdefs"
	"github.com/codebox-dev/codebox/sandbox"
)

// ForwardedBy is the header a forwarded request carries, naming the node that sent
// it; its receiver serves the request itself, so a request is forwarded at most once.
const ForwardedBy = "Codebox-Forwarded-By"

// retryUnreachable is the retry-after of a container whose node is gone: a restarted
// node is back within seconds.
const retryUnreachable = 5 * time.Second

// Route serves r on the node it belongs to, r being an authenticated request of
// workspace ws that the api package has matched to its route (r.Pattern): it forwards
// r there and reports true, or reports false for this node to serve it. The error,
// with true, is for the caller to answer: errdefs.ErrUnreachable when the node that
// hosts the request's container is dead or cannot be reached.
func (c *Cluster) Route(w http.ResponseWriter, r *http.Request, ws codebox.WorkspaceID) (bool, error) {
	if r.Header.Get(ForwardedBy) != "" {
		return false, nil
	}
	var (
		id    string
		place bool
		body  []byte
		err   error
	)
	switch {
	case strings.Contains(r.Pattern, " /v1/containers/{id}"):
		id = r.PathValue("id")
	case r.Pattern == "POST /v1/containers":
		place = true
	case r.Pattern == "POST /v1/messages":
		if body, err = c.peekBody(r); err != nil {
			return false, nil // the handler reads and refuses it
		}
		id, place = messageContainer(body)
	default:
		return false, nil
	}
	if id != "" {
		n, err := c.hostOf(r.Context(), ws, id)
		if err != nil || n == nil {
			return err != nil, err
		}
		return true, c.forward(w, r, n, "container", id)
	}
	if !place {
		return false, nil
	}
	n := pick(c.self(), c.others())
	if n.Name == c.cfg.Node {
		return false, nil
	}
	if body == nil {
		// A create is small; kept, it can still run here if the other node is down.
		if body, err = c.peekBody(r); err != nil {
			return false, nil
		}
	}
	c.placed(n.Name)
	if err := c.forward(w, r, &n, "placement", ""); err != nil {
		if !errors.Is(err, errNotSent) {
			return true, err
		}
		// Nothing reached the other node: the request runs here instead.
		c.suspect(n.Name)
		c.logger.Warn("placement: node unreachable, serving here", "node", n.Name, "err", err)
		rewind(r, body)
		return false, nil
	}
	return true, nil
}

// hostOf returns the live node other than this one that hosts ws's container id, or
// nil when this node serves it: it is here, unknown (the handler answers 404),
// expired (container_expired), or a stopped container of a dead node this node has
// just adopted.
func (c *Cluster) hostOf(ctx context.Context, ws codebox.WorkspaceID, id string) (*Node, error) {
	for range 3 {
		ctr, err := c.containers.GetContainer(ctx, ws, id)
		if errors.Is(err, errdefs.ErrNotFound) {
			return nil, nil
		}
		if err != nil {
			return nil, err
		}
		if ctr.Node == "" || ctr.Node == c.cfg.Node {
			return nil, nil
		}
		n, ok, err := c.liveNode(ctx, ctr.Node)
		if err != nil {
			return nil, err
		}
		if ok {
			return &n, nil
		}
		if ctr.Status == sandbox.StatusExpired || !time.Now().Before(ctr.ExpiresAt) {
			return nil, nil
		}
		if !c.cfg.Adopt || ctr.Status != sandbox.StatusStopped {
			return nil, unreachable(ctr)
		}
		switch err := c.store.MoveContainer(ctx, id, ctr.Node, c.cfg.Node); {
		case err == nil:
			c.logger.Info("adopted container of a dead node", "container", id, "from", ctr.Node)
			if c.cfg.Observer != nil {
				c.cfg.Observer.ObserveAdopt()
			}
			return nil, nil
		case !errors.Is(err, errdefs.ErrConflict) && !errors.Is(err, errdefs.ErrNotFound):
			return nil, err
		}
		// Another node adopted it first, or its node came back and started it: look
		// again.
	}
	return nil, errdefs.WithRetryAfter(errdefs.New(errdefs.ErrUnreachable, errdefs.CodeContainerUnavailable,
		"container %s is moving between nodes; try again", id), time.Second)
}

// unreachable is the error for a container whose node is dead.
func unreachable(ctr *sandbox.Container) error {
	state := "running"
	if ctr.Status == sandbox.StatusStopped {
		state = "stopped, and its files were not saved where another node can fetch them"
	}
	return errdefs.WithRetryAfter(errdefs.New(errdefs.ErrUnreachable, errdefs.CodeContainerUnavailable,
		"container %s is unavailable: its node %s is unreachable (the container was %s); try again when the node is back",
		ctr.ID, ctr.Node, state), retryUnreachable)
}

// messageContainer reads a Messages request's container: the id it names, or whether
// it makes a new one (a code execution tool and no container id). A body that does not
// decode is the handler's to refuse, here.
func messageContainer(body []byte) (id string, place bool) {
	var req struct {
		Container json.RawMessage `json:"container"`
		Tools     []struct {
			Type string `json:"type"`
		} `json:"tools"`
	}
	if json.Unmarshal(body, &req) != nil {
		return "", false
	}
	if json.Unmarshal(req.Container, &id) != nil {
		var obj struct {
			ID string `json:"id"`
		}
		json.Unmarshal(req.Container, &obj)
		id = obj.ID
	}
	if id != "" {
		return id, false
	}
	for _, t := range req.Tools {
		if strings.HasPrefix(t.Type, "code_execution_") {
			return "", true
		}
	}
	return "", false
}

// peekBody reads r's body into memory and gives r a body that reads it again. A body
// over MaxBodyBytes, or one that fails, is left to the handler, whole.
func (c *Cluster) peekBody(r *http.Request) ([]byte, error) {
	if r.Body == nil || r.Body == http.NoBody {
		return nil, nil
	}
	buf, err := io.ReadAll(io.LimitReader(r.Body, c.cfg.MaxBodyBytes+1))
	if err != nil || int64(len(buf)) > c.cfg.MaxBodyBytes {
		r.Body = struct {
			io.Reader
			io.Closer
		}{io.MultiReader(bytes.NewReader(buf), r.Body), r.Body}
		if err == nil {
			err = errdefs.ErrTooLarge
		}
		return nil, err
	}
	r.Body.Close()
	rewind(r, buf)
	return buf, nil
}

// rewind gives r a body that reads body from the start.
func rewind(r *http.Request, body []byte) {
	if body == nil {
		return
	}
	r.Body = io.NopCloser(bytes.NewReader(body))
	r.ContentLength = int64(len(body))
	r.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(body)), nil }
}
