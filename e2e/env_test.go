package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/anthropics/anthropic-sdk-go"
	"github.com/anthropics/anthropic-sdk-go/option"

	"github.com/codebox-dev/codebox"
	"github.com/codebox-dev/codebox/agentloop"
	"github.com/codebox-dev/codebox/api"
	"github.com/codebox-dev/codebox/apikey"
	"github.com/codebox-dev/codebox/batches"
	"github.com/codebox-dev/codebox/blobs/disk"
	"github.com/codebox-dev/codebox/egress"
	"github.com/codebox-dev/codebox/files"
	"github.com/codebox-dev/codebox/provider"
	anthropicdrv "github.com/codebox-dev/codebox/provider/anthropic"
	openaidrv "github.com/codebox-dev/codebox/provider/openai"
	"github.com/codebox-dev/codebox/provider/script"
	"github.com/codebox-dev/codebox/sandbox"
	"github.com/codebox-dev/codebox/sandbox/oci"
	"github.com/codebox-dev/codebox/sandbox/sandboxtest"
	"github.com/codebox-dev/codebox/skills"
	"github.com/codebox-dev/codebox/store/sqlite"
	"github.com/codebox-dev/codebox/tools"
)

func TestMain(m *testing.M) {
	sandboxtest.AgentMain()
	os.Exit(m.Run())
}

// Upstream wire formats the scripted model is served in.
const (
	formatAnthropic = "anthropic"
	formatOpenAI    = "openai"
	// formatScript runs the script in process as model script/scripted: no upstream.
	formatScript = "script"
	// formatVendors serves the script as Anthropic (claude-*) and as the fake of every
	// OpenAI-compatible provider (<name>/scripted-model) at once.
	formatVendors = "vendors"
)

// formats are the upstream formats every loop test runs against.
var formats = []string{formatAnthropic, formatOpenAI}

// modelFor is the model name a request uses to reach the scripted upstream of format.
func modelFor(format string) string {
	switch format {
	case formatOpenAI:
		return "openai/scripted-model"
	case formatScript:
		return "script/scripted"
	}
	return "claude-sonnet-4-5"
}

// env is a codebox server on 127.0.0.1:0 whose model is one script served over HTTP.
type env struct {
	url        string
	db         *sqlite.DB
	files      *files.Service
	skills     *skills.Service
	sb         agentloop.Sandbox
	clock      *sandboxtest.Clock // the sandbox's clock
	upstream   *script.Server
	vendors    map[string]*script.Server // formatVendors: each provider's fake
	runner     *tools.Runner
	keyA, keyB string // workspaces "default" and "other"
	model      string
}

type envOptions struct {
	maxIterations int
	toolTimeout   time.Duration
	// toolCallWindow is how long a programmatic call waits for its result.
	toolCallWindow time.Duration
	maxOutputFile  int64
	// containers serves the native containers API too.
	containers bool
	// egress serves containers' network allow-lists (nil: none is accepted).
	egress *egress.Proxy
	// prompts are more scripts, each serving the model requests whose body contains its
	// key (Anthropic format only): a conversation that spans requests, each starting
	// with a new user prompt, gets one script per prompt.
	prompts []promptScript
	// batches serves the Message Batches API, its workers set up as this says.
	batches *batches.Config
	// runtime is the runtime binary; "" is the first of sandboxtest.Runtimes.
	runtime string
}

// promptScript serves turns to the model requests whose body contains prompt.
type promptScript struct{ prompt, turns string }

func newEnv(t testing.TB, format, turns string, o envOptions) *env {
	t.Helper()
	ctx := context.Background()
	dir := t.TempDir()
	logger := slog.New(slog.DiscardHandler)
	db, err := sqlite.Open(ctx, filepath.Join(dir, "codebox.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	blobs, err := disk.Open(filepath.Join(dir, "blobs"))
	if err != nil {
		t.Fatal(err)
	}
	svc := files.New(files.Config{Logger: logger}, db, blobs)
	skillBlobs, err := disk.Open(filepath.Join(dir, "skills"))
	if err != nil {
		t.Fatal(err)
	}
	sk := skills.New(skills.Config{Logger: logger}, db, skillBlobs, skills.Builtin)
	keys := apikey.New(db)
	e := &env{db: db, files: svc, skills: sk}
	if e.keyA, _, err = keys.Create(ctx, codebox.DefaultWorkspace); err != nil {
		t.Fatal(err)
	}
	if e.keyB, _, err = keys.Create(ctx, "other"); err != nil {
		t.Fatal(err)
	}

	runtime := o.runtime
	if runtime == "" {
		runtime = sandboxtest.Runtimes()[0]
	}
	sandboxtest.Require(t, runtime)
	rootfs := sandboxtest.RootFS(t)
	e.clock = sandboxtest.NewClock()
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	rt, err := oci.New(oci.Config{Binary: runtime, Root: filepath.Join(dir, "runtime")})
	if err != nil {
		t.Fatal(err)
	}
	// Runs after the Manager's cleanup: the runtime's mounts go last.
	t.Cleanup(func() {
		if err := rt.Close(); err != nil {
			t.Errorf("runtime Close: %v", err)
		}
	})
	// Container records (file ids included) in the same SQLite database as the server's.
	store := db
	m, err := sandbox.New(sandbox.Config{
		Dir: filepath.Join(dir, "containers"), RootFS: rootfs, Agent: self,
		Limits:      sandbox.Limits{Memory: 1 << 30, CPUs: 1, PIDs: 256, Disk: 256 << 20},
		ExecTimeout: time.Minute, StopOnClose: true, Now: e.clock.Now,
		MaxOutputFileSize: o.maxOutputFile, Logger: logger, Egress: o.egress,
	}, rt, store, svc)
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		all, _ := store.AllContainers(ctx)
		for _, c := range all {
			m.Delete(ctx, c.Workspace, c.ID)
		}
		m.Close(ctx)
	})
	e.sb = m

	s, err := script.Parse([]byte(turns))
	if err != nil {
		t.Fatal(err)
	}
	router := &provider.Router{}
	switch format {
	case formatAnthropic:
		e.upstream = script.NewAnthropicServer(s)
		up := httptest.NewServer(byPrompt(t, e.upstream, o.prompts))
		t.Cleanup(up.Close)
		router.Anthropic = anthropicdrv.New(anthropicdrv.Config{BaseURL: up.URL, APIKey: "upstream-key"})
	case formatOpenAI:
		e.upstream = script.NewOpenAIServer(s)
		up := httptest.NewServer(e.upstream)
		t.Cleanup(up.Close)
		m, err := openaidrv.New(openaidrv.Config{BaseURL: up.URL + "/v1", APIKey: "upstream-key"})
		if err != nil {
			t.Fatal(err)
		}
		router.Named = map[string]provider.Model{"openai": m}
	case formatScript:
		router.Scripts = map[string]provider.Model{"scripted": script.NewModel(s)}
	case formatVendors:
		e.upstream = script.NewAnthropicServer(s)
		up := httptest.NewServer(e.upstream)
		t.Cleanup(up.Close)
		router.Anthropic = anthropicdrv.New(anthropicdrv.Config{BaseURL: up.URL, APIKey: "upstream-key"})
		router.Named, e.vendors = vendorFakes(t, s)
	}
	e.model = modelFor(format)
	e.runner = tools.NewRunner(e.sb)
	e.runner.Timeout = o.toolTimeout
	loop := agentloop.New(agentloop.Config{Models: router, Sandbox: e.sb, Runner: e.runner, Files: svc, Skills: sk, Usage: db,
		MaxIterations: o.maxIterations, PingInterval: 200 * time.Millisecond, Logger: logger, ToolCallWindow: o.toolCallWindow})
	cfg := api.Config{Logger: logger, Auth: keys, FilesConfig: api.FilesConfig{Files: svc}, SkillsConfig: api.SkillsConfig{Skills: sk},
		MessagesConfig: api.MessagesConfig{Loop: loop, Usage: db}}
	if o.containers {
		cfg.ContainersConfig = api.ContainersConfig{Containers: m, StoredFiles: svc}
	}
	if o.batches != nil {
		startBatches(t, e, &cfg, *o.batches)
	}
	srv := api.New(cfg)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	hs := &http.Server{Handler: srv}
	go hs.Serve(ln)
	t.Cleanup(func() { hs.Close() })
	e.url = "http://" + ln.Addr().String()
	return e
}

// byPrompt serves each request with the first of prompts whose prompt its body
// contains, and the others with def.
func byPrompt(t testing.TB, def http.Handler, prompts []promptScript) http.Handler {
	if len(prompts) == 0 {
		return def
	}
	type route struct {
		prompt []byte
		srv    http.Handler
	}
	var routes []route
	for _, p := range prompts {
		s, err := script.Parse([]byte(p.turns))
		if err != nil {
			t.Fatal(err)
		}
		routes = append(routes, route{[]byte(p.prompt), script.NewAnthropicServer(s)})
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		for _, rt := range routes {
			if bytes.Contains(body, rt.prompt) {
				rt.srv.ServeHTTP(w, r)
				return
			}
		}
		def.ServeHTTP(w, r)
	})
}

func (e *env) client(key string) *anthropic.Client {
	c := anthropic.NewClient(option.WithBaseURL(e.url), option.WithAPIKey(key), option.WithMaxRetries(0))
	return &c
}

// expire makes a container pass its hard expiry.
func (e *env) expire(t testing.TB, id string) {
	e.clock.Advance(31 * 24 * time.Hour)
}

func codeExecTool(version string) anthropic.ToolUnionParam {
	switch version {
	case tools.CodeExecution20250522:
		return anthropic.ToolUnionParam{OfCodeExecutionTool20250522: &anthropic.CodeExecutionTool20250522Param{}}
	case tools.CodeExecution20260120:
		return anthropic.ToolUnionParam{OfCodeExecutionTool20260120: &anthropic.CodeExecutionTool20260120Param{}}
	}
	return anthropic.ToolUnionParam{OfCodeExecutionTool20250825: &anthropic.CodeExecutionTool20250825Param{}}
}

func (e *env) params(blocks ...anthropic.ContentBlockParamUnion) anthropic.MessageNewParams {
	return anthropic.MessageNewParams{
		Model:     anthropic.Model(e.model),
		MaxTokens: 4096,
		Messages:  []anthropic.MessageParam{anthropic.NewUserMessage(blocks...)},
		Tools:     []anthropic.ToolUnionParam{codeExecTool(tools.CodeExecution20250825)},
	}
}

// apiError asserts err is an *anthropic.Error with status and error.type.
func apiError(t testing.TB, err error, status int, typ string) *anthropic.Error {
	t.Helper()
	var ae *anthropic.Error
	if !errors.As(err, &ae) {
		t.Fatalf("err = %v, want *anthropic.Error %d %s", err, status, typ)
	}
	if ae.StatusCode != status || string(ae.Type()) != typ {
		t.Fatalf("error = %d %s (%s), want %d %s", ae.StatusCode, ae.Type(), ae.RawJSON(), status, typ)
	}
	return ae
}

// blocksOf lists the content block types of a message.
func blocksOf(m *anthropic.Message) string {
	var s []string
	for _, b := range m.Content {
		s = append(s, b.Type)
	}
	return strings.Join(s, ",")
}

// codeExecRequests reads usage.server_tool_use.code_execution_requests, which no SDK
// type declares.
func codeExecRequests(t testing.TB, m *anthropic.Message) int64 {
	t.Helper()
	var raw struct {
		Usage struct {
			ServerToolUse struct {
				N *int64 `json:"code_execution_requests"`
			} `json:"server_tool_use"`
		} `json:"usage"`
	}
	if err := json.Unmarshal([]byte(m.RawJSON()), &raw); err != nil || raw.Usage.ServerToolUse.N == nil {
		t.Fatalf("usage.server_tool_use.code_execution_requests missing: %v %s", err, m.RawJSON())
	}
	return *raw.Usage.ServerToolUse.N
}

var idRe = regexp.MustCompile(`(msg|srvtoolu|container|file)_[0-9A-Za-z]{16,}`)

// normalized is m's JSON with ids and times replaced, for comparing two runs.
func normalized(t testing.TB, m *anthropic.Message) string {
	t.Helper()
	var v any
	if err := json.Unmarshal([]byte(m.RawJSON()), &v); err != nil {
		t.Fatal(err)
	}
	b, _ := json.MarshalIndent(v, "", " ")
	s := idRe.ReplaceAllString(string(b), "${1}_X")
	return regexp.MustCompile(`"expires_at": "[^"]*"`).ReplaceAllString(s, `"expires_at": "T"`)
}
