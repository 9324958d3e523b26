package api

import (
	"net/http"
	"time"

	"github.com/codebox-dev/codebox/errdefs"
)

// UsageReport is the body of GET /v1/usage: the workspace's metered usage between start
// (inclusive) and end (exclusive).
type UsageReport struct {
	Type                     string  `json:"type"`
	Workspace                string  `json:"workspace_id"`
	Start                    string  `json:"start"`
	End                      string  `json:"end"`
	Requests                 int64   `json:"requests"`
	InputTokens              int64   `json:"input_tokens"`
	OutputTokens             int64   `json:"output_tokens"`
	CacheCreationInputTokens int64   `json:"cache_creation_input_tokens"`
	CacheReadInputTokens     int64   `json:"cache_read_input_tokens"`
	CodeExecutionRequests    int64   `json:"code_execution_requests"`
	ContainerSeconds         float64 `json:"container_seconds"`
	ContainerBilledSeconds   float64 `json:"container_billed_seconds"`
	ContainerHoursBilled     float64 `json:"container_hours_billed"`
}

// getUsage answers GET /v1/usage?start=&end= (RFC 3339; default: the last 30 days).
func (s *Server) getUsage(w http.ResponseWriter, r *http.Request) error {
	if s.Usage == nil {
		return errdefs.New(errdefs.ErrUnavailable, "", "usage metering is not configured on this server")
	}
	end := s.now().UTC()
	start := end.Add(-30 * 24 * time.Hour)
	q := r.URL.Query()
	for name, dst := range map[string]*time.Time{"start": &start, "end": &end} {
		if v := q.Get(name); v != "" {
			t, err := time.Parse(time.RFC3339, v)
			if err != nil {
				return errdefs.New(errdefs.ErrInvalid, "", "%s: must be an RFC 3339 time such as 2026-01-02T15:04:05Z", name)
			}
			*dst = t.UTC()
		}
	}
	if !end.After(start) {
		return errdefs.New(errdefs.ErrInvalid, "", "end must be after start")
	}
	ws := workspace(r)
	sum, err := s.Usage.UsageSummary(r.Context(), ws, start, end)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, UsageReport{
		Type: "usage_report", Workspace: string(ws),
		Start: start.Format(time.RFC3339), End: end.Format(time.RFC3339),
		Requests: sum.Requests, InputTokens: sum.InputTokens, OutputTokens: sum.OutputTokens,
		CacheCreationInputTokens: sum.CacheCreationInputTokens, CacheReadInputTokens: sum.CacheReadInputTokens,
		CodeExecutionRequests: sum.CodeExecutionRequests,
		ContainerSeconds:      sum.ContainerSeconds, ContainerBilledSeconds: sum.ContainerBilledSeconds,
		ContainerHoursBilled: sum.ContainerBilledSeconds / 3600,
	})
	return nil
}
