package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/spf13/pflag"

	"github.com/codebox-dev/codebox/agentloop"
	"github.com/codebox-dev/codebox/image"
	"github.com/codebox-dev/codebox/provider"
	"github.com/codebox-dev/codebox/provider/anthropic"
	"github.com/codebox-dev/codebox/provider/script"
	"github.com/codebox-dev/codebox/tools"
)

// loopConfig is the Messages loop section of the server's configuration.
type loopConfig struct {
	AnthropicBaseURL  string
	AnthropicAPIKey   string
	Providers         providersConfig
	Script            string
	MaxToolIterations int
	ToolTimeout       time.Duration
	ToolCallWindow    time.Duration
	// Executions are the limiter's settings, copied into a tools.Limiter at setup.
	Executions struct {
		Global, PerWorkspace, Queue int
		Wait                        time.Duration
	}
}

func bindLoopFlags(fs *pflag.FlagSet, c *loopConfig) {
	fs.StringVar(&c.AnthropicBaseURL, "anthropic-base-url", anthropic.DefaultBaseURL, "Anthropic API base URL (without /v1) for claude-* models")
	fs.StringVar(&c.AnthropicAPIKey, "anthropic-api-key", "", "API key for the Anthropic API")
	alsoEnv(fs, "anthropic-api-key", "ANTHROPIC_API_KEY")
	bindProviderFlags(fs, &c.Providers)
	fs.StringVar(&c.Script, "script", "", "script file (or directory of them) of canned turns served as script/<name> models, for offline demos")
	fs.IntVar(&c.MaxToolIterations, "max-tool-iterations", 10, "code execution rounds per request before the answer is paused with stop_reason pause_turn")
	fs.DurationVar(&c.ToolTimeout, "tool-timeout", 0, "wall-clock limit of one bash command or Python run (0: the sandbox's exec timeout)")
	fs.DurationVar(&c.ToolCallWindow, "tool-call-window", agentloop.DefaultToolCallWindow, "how long a client tool called from code waits for its tool_result before the code sees TimeoutError")
	d := tools.DefaultLimiter()
	fs.IntVar(&c.Executions.Global, "max-executions", d.Global, "code execution requests running at once in all: 4 per core unless set")
	fs.IntVar(&c.Executions.PerWorkspace, "max-executions-per-workspace", d.PerWorkspace, "code execution requests running at once in one workspace, 2 per core unless set; beyond, 429 with retry-after")
	fs.IntVar(&c.Executions.Queue, "execution-queue", d.Queue, "code execution requests that may wait for a seat when all are taken; beyond, 529 with retry-after")
	fs.DurationVar(&c.Executions.Wait, "execution-wait", d.Wait, "longest a code execution request waits for a seat before it is refused")
}

// setupLoop builds the model router and the Messages loop, and serves /v1/messages and
// /v1/usage.
func setupLoop(ctx context.Context, a *app) error {
	cfg := &a.cfg.loopConfig
	if cfg.MaxToolIterations < 1 {
		return fmt.Errorf("--max-tool-iterations must be at least 1")
	}
	if ex := &cfg.Executions; ex.Global < 1 || ex.PerWorkspace < 1 || ex.Queue < 0 || ex.Wait < 0 {
		return fmt.Errorf("--max-executions and --max-executions-per-workspace must be at least 1, --execution-queue and --execution-wait at least 0")
	}
	router := &provider.Router{
		Anthropic: anthropic.New(anthropic.Config{BaseURL: cfg.AnthropicBaseURL, APIKey: cfg.AnthropicAPIKey}),
	}
	named, err := namedProviders(&cfg.Providers)
	if err != nil {
		return err
	}
	router.Named = named
	a.api.ModelsConfig.Catalog = &provider.Catalog{Router: router, Titles: providerTitles()}
	if cfg.Script != "" {
		scripts, err := loadScripts(cfg.Script)
		if err != nil {
			return err
		}
		router.Scripts = scripts
	}
	lc := agentloop.Config{
		Models:         router,
		Files:          a.files,
		Skills:         a.skills,
		MaxIterations:  cfg.MaxToolIterations,
		ToolCallWindow: cfg.ToolCallWindow,
		Logger:         a.logger.With("component", "loop"),
		Observer:       a.metrics,
	}
	if a.db != nil {
		lc.Usage = a.db
	}
	if a.sandbox != nil {
		lc.Sandbox = a.sandbox
		runner := tools.NewRunner(a.sandbox)
		runner.Timeout = cfg.ToolTimeout
		runner.Logger = a.logger.With("component", "tools")
		runner.Limiter = &tools.Limiter{Global: cfg.Executions.Global, PerWorkspace: cfg.Executions.PerWorkspace,
			Queue: cfg.Executions.Queue, Wait: cfg.Executions.Wait}
		lc.Runner = runner
		// The containers API runs code with the same checks, timeout and limiter.
		a.api.ContainersConfig.Runner = runner
		lc.Libraries, lc.Commands = imageContents(a)
		lc.ImageContents = customImageContents(a)
		lc.LimitsText = fmt.Sprintf("%s of memory, %s of disk, %g CPU", a.cfg.sandboxConfig.Memory.String(),
			a.cfg.sandboxConfig.Disk.String(), a.cfg.sandboxConfig.CPUs)
	}
	loop := agentloop.New(lc)
	a.api.MessagesConfig.Loop = loop
	if a.db != nil {
		a.api.MessagesConfig.Usage = a.db
	}
	a.logger.Info("messages loop ready", "models", router.String(), "max_tool_iterations", cfg.MaxToolIterations,
		"code_execution", a.sandbox != nil,
		"max_executions", cfg.Executions.Global, "max_executions_per_workspace", cfg.Executions.PerWorkspace)
	return nil
}

// loadScripts reads one script file, or every script in a directory.
func loadScripts(path string) (map[string]provider.Model, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("--script: %w", err)
	}
	out := map[string]provider.Model{}
	if fi.IsDir() {
		all, err := script.LoadDir(path)
		if err != nil {
			return nil, fmt.Errorf("--script: %w", err)
		}
		for name, s := range all {
			out[name] = script.NewModel(s)
		}
		return out, nil
	}
	s, err := script.Load(path)
	if err != nil {
		return nil, fmt.Errorf("--script: %w", err)
	}
	out[s.Name] = script.NewModel(s)
	return out, nil
}

// imageContents lists the default image's working Python libraries and commands from
// its manifest, for the model's system prompt; nil when there is no manifest.
func imageContents(a *app) (libs, cmds []string) {
	return manifestContents(image.Lookup(imageDir(a)))
}

// customImageContents lists a custom image's, for the system prompt of its containers.
func customImageContents(a *app) func(name string) (libs, cmds []string) {
	dir := imageDir(a)
	return func(name string) (libs, cmds []string) { return manifestContents(image.Resolve(dir, name)) }
}

func imageDir(a *app) string {
	if dir := a.cfg.sandboxConfig.ImageDir; dir != "" {
		return dir
	}
	return filepath.Join(a.cfg.DataDir, "images")
}

func manifestContents(img *image.Image, err error) (libs, cmds []string) {
	if err != nil || img.Manifest == nil {
		return nil, nil
	}
	for _, m := range img.Manifest.Modules {
		if m.Error == "" {
			libs = append(libs, m.Name)
		}
	}
	for _, t := range img.Manifest.Tools {
		if t.Error == "" && t.Path != "" {
			cmds = append(cmds, t.Name)
		}
	}
	return libs, cmds
}
