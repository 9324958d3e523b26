package api

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strconv"
	"time"

	"github.com/codebox-dev/codebox"
	"github.com/codebox-dev/codebox/batches"
	"github.com/codebox-dev/codebox/errdefs"
)

// Batches is the Message Batches service; *batches.Service satisfies it.
type Batches interface {
	Create(ctx context.Context, ws codebox.WorkspaceID, reqs []batches.NewRequest) (*batches.Batch, error)
	Get(ctx context.Context, ws codebox.WorkspaceID, id string) (*batches.Batch, error)
	List(ctx context.Context, ws codebox.WorkspaceID, q batches.ListQuery) ([]*batches.Batch, bool, error)
	Cancel(ctx context.Context, ws codebox.WorkspaceID, id string) (*batches.Batch, error)
	Delete(ctx context.Context, ws codebox.WorkspaceID, id string) error
	Results(ctx context.Context, ws codebox.WorkspaceID, id string, fn func(batches.Result) error) error
}

// BatchesConfig holds the dependencies of the Message Batches routes.
type BatchesConfig struct {
	Batches Batches
}

func (s *Server) registerBatchRoutes() {
	s.handle("POST", "/v1/messages/batches", s.createBatch)
	s.handle("GET", "/v1/messages/batches", s.listBatches)
	s.handle("GET", "/v1/messages/batches/{id}", s.getBatch)
	s.handle("DELETE", "/v1/messages/batches/{id}", s.deleteBatch)
	s.handle("POST", "/v1/messages/batches/{id}/cancel", s.cancelBatch)
	s.handle("GET", "/v1/messages/batches/{id}/results", s.batchResults)
}

// wireBatch is a MessageBatch (spec §6). Unset times are null.
type wireBatch struct {
	ID                string          `json:"id"`
	Type              string          `json:"type"`
	ProcessingStatus  string          `json:"processing_status"`
	RequestCounts     wireBatchCounts `json:"request_counts"`
	CreatedAt         string          `json:"created_at"`
	ExpiresAt         string          `json:"expires_at"`
	EndedAt           *string         `json:"ended_at"`
	CancelInitiatedAt *string         `json:"cancel_initiated_at"`
	ArchivedAt        *string         `json:"archived_at"`
	ResultsURL        *string         `json:"results_url"`
}

type wireBatchCounts struct {
	Processing int64 `json:"processing"`
	Succeeded  int64 `json:"succeeded"`
	Errored    int64 `json:"errored"`
	Canceled   int64 `json:"canceled"`
	Expired    int64 `json:"expired"`
}

func optionalTime(t time.Time) *string {
	if t.IsZero() {
		return nil
	}
	s := wireTime(t)
	return &s
}

// toWireBatch converts b; its results_url is absolute, on the address the client used.
func toWireBatch(r *http.Request, b *batches.Batch) wireBatch {
	c := b.Counts
	w := wireBatch{ID: b.ID, Type: "message_batch", ProcessingStatus: string(b.Status),
		RequestCounts: wireBatchCounts{c.Processing, c.Succeeded, c.Errored, c.Canceled, c.Expired},
		CreatedAt:     wireTime(b.CreatedAt), ExpiresAt: wireTime(b.ExpiresAt),
		EndedAt: optionalTime(b.EndedAt), CancelInitiatedAt: optionalTime(b.CancelInitiatedAt), ArchivedAt: optionalTime(b.ArchivedAt)}
	if b.Status == batches.StatusEnded {
		u := baseURL(r) + "/v1/messages/batches/" + b.ID + "/results"
		w.ResultsURL = &u
	}
	return w
}

// baseURL is the scheme and host the client reached this server on.
func baseURL(r *http.Request) string {
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	if p := r.Header.Get("X-Forwarded-Proto"); p == "https" || p == "http" {
		scheme = p
	}
	return scheme + "://" + r.Host
}

func (s *Server) batchesOrUnavailable() (Batches, error) {
	if s.Batches == nil {
		return nil, errdefs.New(errdefs.ErrUnavailable, "", "the Message Batches API is not configured on this server")
	}
	return s.Batches, nil
}

func (s *Server) createBatch(w http.ResponseWriter, r *http.Request) error {
	svc, err := s.batchesOrUnavailable()
	if err != nil {
		return err
	}
	if r.ContentLength > batches.MaxBytes {
		return errBatchTooLarge()
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, batches.MaxBytes))
	if err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			return errBatchTooLarge()
		}
		return err
	}
	var in struct {
		Requests []struct {
			CustomID string          `json:"custom_id"`
			Params   json.RawMessage `json:"params"`
		} `json:"requests"`
	}
	if err := json.Unmarshal(body, &in); err != nil {
		return errdefs.New(errdefs.ErrInvalid, "", "Invalid JSON body: %v", err)
	}
	body = nil
	reqs := make([]batches.NewRequest, len(in.Requests))
	for i, q := range in.Requests {
		var p struct {
			Stream bool `json:"stream"`
		}
		if len(q.Params) == 0 || q.Params[0] != '{' || json.Unmarshal(q.Params, &p) != nil {
			return errdefs.New(errdefs.ErrInvalid, "", "requests.%d.params: an object of Messages parameters is required", i)
		}
		if p.Stream {
			return errdefs.New(errdefs.ErrInvalid, "", "requests.%d.params.stream: streaming is not available in a batch", i)
		}
		reqs[i] = batches.NewRequest{CustomID: q.CustomID, Params: q.Params}
	}
	b, err := svc.Create(r.Context(), workspace(r), reqs)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, toWireBatch(r, b))
	return nil
}

func errBatchTooLarge() error {
	return errdefs.New(errdefs.ErrTooLarge, "", "A batch is at most %d bytes (256 MB); split the requests over several batches", batches.MaxBytes)
}

func (s *Server) getBatch(w http.ResponseWriter, r *http.Request) error {
	svc, err := s.batchesOrUnavailable()
	if err != nil {
		return err
	}
	b, err := svc.Get(r.Context(), workspace(r), r.PathValue("id"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, toWireBatch(r, b))
	return nil
}

func (s *Server) listBatches(w http.ResponseWriter, r *http.Request) error {
	svc, err := s.batchesOrUnavailable()
	if err != nil {
		return err
	}
	q := r.URL.Query()
	lq := batches.ListQuery{BeforeID: q.Get("before_id"), AfterID: q.Get("after_id")}
	if v, ok := q["limit"]; ok {
		n, err := strconv.Atoi(v[0])
		if err != nil || n < 1 {
			return errdefs.New(errdefs.ErrInvalid, "", "limit must be an integer from 1 to %d", batches.MaxListLimit)
		}
		lq.Limit = n
	}
	list, more, err := svc.List(r.Context(), workspace(r), lq)
	if err != nil {
		return err
	}
	page := struct {
		Data    []wireBatch `json:"data"`
		HasMore bool        `json:"has_more"`
		FirstID *string     `json:"first_id"`
		LastID  *string     `json:"last_id"`
	}{Data: make([]wireBatch, 0, len(list)), HasMore: more}
	for _, b := range list {
		page.Data = append(page.Data, toWireBatch(r, b))
	}
	if n := len(list); n > 0 {
		page.FirstID, page.LastID = &list[0].ID, &list[n-1].ID
	}
	writeJSON(w, http.StatusOK, page)
	return nil
}

func (s *Server) cancelBatch(w http.ResponseWriter, r *http.Request) error {
	svc, err := s.batchesOrUnavailable()
	if err != nil {
		return err
	}
	b, err := svc.Cancel(r.Context(), workspace(r), r.PathValue("id"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, toWireBatch(r, b))
	return nil
}

func (s *Server) deleteBatch(w http.ResponseWriter, r *http.Request) error {
	svc, err := s.batchesOrUnavailable()
	if err != nil {
		return err
	}
	id := r.PathValue("id")
	if err := svc.Delete(r.Context(), workspace(r), id); err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, struct {
		ID   string `json:"id"`
		Type string `json:"type"`
	}{id, "message_batch_deleted"})
	return nil
}

// batchResults streams an ended batch's results as JSONL, one result per line, each
// line written as it is read from the store.
func (s *Server) batchResults(w http.ResponseWriter, r *http.Request) error {
	svc, err := s.batchesOrUnavailable()
	if err != nil {
		return err
	}
	ws, id := workspace(r), r.PathValue("id")
	// The batch is checked first, so a missing or unfinished one is a plain error.
	if _, err := svc.Get(r.Context(), ws, id); err != nil {
		return err
	}
	bw := bufio.NewWriterSize(w, 64<<10)
	started := false
	err = svc.Results(r.Context(), ws, id, func(res batches.Result) error {
		if !started {
			w.Header().Set("Content-Type", "application/x-jsonl")
			w.WriteHeader(http.StatusOK)
			started = true
		}
		return writeResultLine(bw, res)
	})
	if err != nil {
		if !started {
			return err
		}
		s.Logger.Warn("batch results cut", "request_id", requestID(r.Context()), "batch", id, "err", err)
		return nil
	}
	if !started {
		// A batch all of whose requests were removed has no lines.
		w.Header().Set("Content-Type", "application/x-jsonl")
		w.WriteHeader(http.StatusOK)
	}
	return bw.Flush()
}

// writeResultLine writes {"custom_id":…,"result":{…}} and a newline. The stored
// Message or error envelope is compact JSON and goes in as it is.
func writeResultLine(w *bufio.Writer, res batches.Result) error {
	id, _ := json.Marshal(res.CustomID)
	w.WriteString(`{"custom_id":`)
	w.Write(id)
	w.WriteString(`,"result":{"type":"`)
	w.WriteString(string(res.Type))
	w.WriteString(`"`)
	switch res.Type {
	case batches.Succeeded:
		w.WriteString(`,"message":`)
		w.Write(res.Body)
	case batches.Errored:
		w.WriteString(`,"error":`)
		w.Write(res.Body)
	}
	_, err := w.WriteString("}}\n")
	return err
}
