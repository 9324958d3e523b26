package anthropic

import (
	"context"

	"github.com/anthropics/anthropic-sdk-go"

	"github.com/codebox-dev/codebox/provider"
)

var _ provider.ModelLister = (*Model)(nil)

// ListModels lists upstream's models (GET /v1/models, every page). Errors: see
// provider.Model.
func (m *Model) ListModels(ctx context.Context) ([]provider.ModelInfo, error) {
	if m.cfg.APIKey == "" {
		return nil, errNoKey()
	}
	iter := m.client.Models.ListAutoPaging(ctx, anthropic.ModelListParams{Limit: anthropic.Int(1000)})
	var out []provider.ModelInfo
	for iter.Next() {
		mi := iter.Current()
		out = append(out, provider.ModelInfo{ID: mi.ID, DisplayName: mi.DisplayName, CreatedAt: mi.CreatedAt})
	}
	if err := iter.Err(); err != nil {
		return nil, mapError(ctx, err)
	}
	return out, nil
}
