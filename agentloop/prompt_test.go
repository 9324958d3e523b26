package agentloop_test

import (
	"context"
	"strings"
	"sync"
	"testing"

	"github.com/codebox-dev/codebox"
	"github.com/codebox-dev/codebox/agentloop"
	"github.com/codebox-dev/codebox/provider"
	"github.com/codebox-dev/codebox/sandbox"
	"github.com/codebox-dev/codebox/tools/toolstest"
)

// imageSandbox is a sandbox whose containers run whatever image they ask for.
type imageSandbox struct{ *toolstest.Sandbox }

func (s imageSandbox) Create(ctx context.Context, ws codebox.WorkspaceID, opts sandbox.CreateOptions) (*sandbox.Container, error) {
	image := opts.Image
	opts.Image = ""
	c, err := s.Sandbox.Create(ctx, ws, opts)
	if err == nil {
		c.Image = image
	}
	return c, err
}

// systemRecorder keeps the system prompt of each model request.
type systemRecorder struct {
	provider.Model
	mu     sync.Mutex
	system []string
}

func (r *systemRecorder) Turn(ctx context.Context, req *provider.Request, events func(provider.Event)) (*provider.Response, error) {
	var b strings.Builder
	for _, s := range req.System {
		b.WriteString(s.Text)
	}
	r.mu.Lock()
	r.system = append(r.system, b.String())
	r.mu.Unlock()
	return r.Model.Turn(ctx, req, events)
}

// TestSystemPromptDescribesImage: the system prompt names the libraries and commands
// of the image the request's container runs, not the default image's.
func TestSystemPromptDescribesImage(t *testing.T) {
	f := newFixture(t, `[{"content":[{"type":"text","text":"Done."}]},{"content":[{"type":"text","text":"Done."}]}]`, agentloop.Config{})
	rec := &systemRecorder{Model: f.model}
	loop := agentloop.New(agentloop.Config{
		Models:  &provider.Router{Scripts: map[string]provider.Model{"default": rec}},
		Sandbox: imageSandbox{f.sb}, Files: &memFiles{}, Usage: f.usage,
		Libraries: []string{"pandas", "numpy"}, Commands: []string{"rg"},
		ImageContents: func(image string) ([]string, []string) {
			if image == "geo" {
				return []string{"pandas", "shapely"}, []string{"rg", "gdalinfo"}
			}
			return nil, nil
		},
	})
	ctx := context.Background()
	geo := request(userText("map it"))
	geo.ContainerImage = "geo"
	if _, err := loop.Run(ctx, ws, geo, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := loop.Run(ctx, ws, request(userText("sum it")), nil); err != nil {
		t.Fatal(err)
	}
	if len(rec.system) != 2 {
		t.Fatalf("%d model requests, want 2", len(rec.system))
	}
	for i, want := range []struct{ has, hasNot []string }{
		{[]string{"pandas, shapely preinstalled", "rg, gdalinfo"}, []string{"numpy"}},
		{[]string{"pandas, numpy preinstalled", "tools: rg."}, []string{"shapely", "gdalinfo"}},
	} {
		for _, s := range want.has {
			if !strings.Contains(rec.system[i], s) {
				t.Errorf("system prompt %d = %q\nwant it to say %q", i, rec.system[i], s)
			}
		}
		for _, s := range want.hasNot {
			if strings.Contains(rec.system[i], s) {
				t.Errorf("system prompt %d = %q\nwant no %q", i, rec.system[i], s)
			}
		}
	}
}
