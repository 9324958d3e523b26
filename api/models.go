package api

import (
	"context"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/codebox-dev/codebox/errdefs"
	"github.com/codebox-dev/codebox/provider"
)

// ModelCatalog lists the models the server can reach (provider.Catalog).
type ModelCatalog interface {
	Models(ctx context.Context) []provider.ModelInfo
}

// ModelsConfig serves GET /v1/models and GET /v1/models/{model_id}.
type ModelsConfig struct {
	Catalog ModelCatalog // nil lists nothing
}

// maxModelsLimit is the largest page Anthropic's models list serves.
const maxModelsLimit = 1000

func (s *Server) registerModelRoutes() {
	s.handle("GET", "/v1/models", s.listModels)
	s.handle("GET", "/v1/models/{model_id...}", s.getModel)
}

// modelObject is a model in Anthropic's shape.
type modelObject struct {
	Type        string `json:"type"`
	ID          string `json:"id"`
	DisplayName string `json:"display_name"`
	CreatedAt   string `json:"created_at"`
}

func toModelObject(m provider.ModelInfo) modelObject {
	return modelObject{Type: "model", ID: m.ID, DisplayName: m.DisplayName, CreatedAt: m.CreatedAt.UTC().Format(time.RFC3339)}
}

func (s *Server) catalog(ctx context.Context) []provider.ModelInfo {
	if s.Catalog == nil {
		return nil
	}
	return s.Catalog.Models(ctx)
}

// listModels pages through the catalog as Anthropic's list does: limit (1–1000,
// default 20), after_id or before_id, and first_id, last_id and has_more.
func (s *Server) listModels(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	limit := defaultListLimit
	if v, ok := q["limit"]; ok {
		n, err := strconv.Atoi(v[0])
		if err != nil || n < 1 || n > maxModelsLimit {
			return invalid("limit must be an integer from 1 to %d", maxModelsLimit)
		}
		limit = n
	}
	after, before := q.Get("after_id"), q.Get("before_id")
	if after != "" && before != "" {
		return invalid("before_id and after_id cannot be combined")
	}
	all := s.catalog(r.Context())
	index := func(id string) (int, error) {
		for i, m := range all {
			if m.ID == id {
				return i, nil
			}
		}
		return 0, invalid("no model %q in this list", id)
	}
	var lo, hi int
	switch {
	case after != "":
		i, err := index(after)
		if err != nil {
			return err
		}
		lo = i + 1
		hi = min(len(all), lo+limit)
	case before != "":
		i, err := index(before)
		if err != nil {
			return err
		}
		hi = i
		lo = max(0, hi-limit)
	default:
		hi = min(len(all), limit)
	}
	page := all[lo:hi]
	data := make([]modelObject, 0, len(page))
	for _, m := range page {
		data = append(data, toModelObject(m))
	}
	var first, last *string
	if len(data) > 0 {
		first, last = &data[0].ID, &data[len(data)-1].ID
	}
	more := hi < len(all)
	if before != "" {
		more = lo > 0
	}
	writeJSON(w, http.StatusOK, map[string]any{"data": data, "first_id": first, "last_id": last, "has_more": more})
	return nil
}

// getModel answers one model of the catalog. A provider whose models cannot be listed
// stands for every name under it, so any such name is answered.
func (s *Server) getModel(w http.ResponseWriter, r *http.Request) error {
	id := r.PathValue("model_id")
	all := s.catalog(r.Context())
	for _, m := range all {
		if m.ID == id {
			writeJSON(w, http.StatusOK, toModelObject(m))
			return nil
		}
	}
	if name, model, ok := strings.Cut(id, "/"); ok && model != "" {
		for _, m := range all {
			if m.ID == name+"/*" {
				title, _, _ := strings.Cut(m.DisplayName, " (")
				writeJSON(w, http.StatusOK, toModelObject(provider.ModelInfo{ID: id, DisplayName: title + " " + model}))
				return nil
			}
		}
	}
	return errdefs.New(errdefs.ErrNotFound, "", "model: %s", id)
}
