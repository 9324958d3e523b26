package agentloop_test

import (
	"context"
	"strings"
	"sync"
	"testing"

	"github.com/codebox-dev/codebox"
	"github.com/codebox-dev/codebox/agentloop"
	"github.com/codebox-dev/codebox/egress"
	"github.com/codebox-dev/codebox/provider"
	"github.com/codebox-dev/codebox/provider/script"
	"github.com/codebox-dev/codebox/sandbox"
	"github.com/codebox-dev/codebox/sandbox/sandboxtest"
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
	geo := request(userText("map it"))
	geo.ContainerImage = "geo"
	runThenPlain(t, loop, rec, geo)
	for i, want := range []struct{ has, hasNot []string }{
		{[]string{"pandas, shapely preinstalled", "rg, gdalinfo"}, []string{"numpy"}},
		{[]string{"pandas, numpy preinstalled", "tools: rg."}, []string{"shapely", "gdalinfo"}},
	} {
		checkSays(t, i, rec.system[i], want.has, want.hasNot)
	}
}

// TestSystemPromptNamesAllowedDomains: a request running in a container with an
// allow-list tells the model the domains it may reach and the names (never the values)
// of its secrets; one in a container without a policy still says there is no network.
func TestSystemPromptNamesAllowedDomains(t *testing.T) {
	sandboxtest.ForEachRuntime(t, testSystemPromptNamesAllowedDomains)
}

func testSystemPromptNamesAllowedDomains(t *testing.T, runtime string) {
	x, err := egress.New(egress.Config{})
	if err != nil {
		t.Fatal(err)
	}
	env := sandboxtest.NewWithRuntime(t, runtime, func(c *sandbox.Config) { c.Egress = x })
	s, err := script.Parse([]byte(`[{"content":[{"type":"text","text":"Done."}]}]`))
	if err != nil {
		t.Fatal(err)
	}
	rec := &systemRecorder{Model: script.NewModel(s)}
	loop := agentloop.New(agentloop.Config{
		Models:  &provider.Router{Scripts: map[string]provider.Model{"default": rec}},
		Sandbox: env.Manager,
	})
	ctx := context.Background()
	const value = "sk-never-in-the-prompt"
	net, err := env.Manager.Create(ctx, ws, sandbox.CreateOptions{NetworkPolicy: egress.Policy{
		AllowedDomains: []string{"api.example.test", "*.cdn.example.test"},
		Secrets:        []egress.Secret{{Domain: "api.example.test", Name: "API_KEY", Value: value}},
	}})
	if err != nil {
		t.Fatal(err)
	}
	req := request(userText("fetch it"))
	req.Container = net.ID
	runThenPlain(t, loop, rec, req)
	for i, want := range []struct{ has, hasNot []string }{
		{[]string{"HTTP and HTTPS to api.example.test, *.cdn.example.test only", "API_KEY (api.example.test)"}, []string{"No network", value}},
		{[]string{"No network access"}, []string{"api.example.test"}},
	} {
		checkSays(t, i, rec.system[i], want.has, want.hasNot)
	}
}

// checkSays fails t unless system prompt i says each of has and none of hasNot.
func checkSays(t *testing.T, i int, system string, has, hasNot []string) {
	t.Helper()
	for _, s := range has {
		if !strings.Contains(system, s) {
			t.Errorf("system prompt %d = %q\nwant it to say %q", i, system, s)
		}
	}
	for _, s := range hasNot {
		if strings.Contains(system, s) {
			t.Errorf("system prompt %d = %q\nwant no %q", i, system, s)
		}
	}
}

// runThenPlain runs first, then a request in a new container of the default image,
// and checks that rec saw both.
func runThenPlain(t *testing.T, loop *agentloop.Loop, rec *systemRecorder, first *agentloop.Request) {
	t.Helper()
	ctx := context.Background()
	for _, req := range []*agentloop.Request{first, request(userText("sum it"))} {
		if _, err := loop.Run(ctx, ws, req, nil); err != nil {
			t.Fatal(err)
		}
	}
	if len(rec.system) != 2 {
		t.Fatalf("%d model requests, want 2", len(rec.system))
	}
}
