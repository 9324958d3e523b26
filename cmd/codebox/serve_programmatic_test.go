package main

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/anthropics/anthropic-sdk-go"

	"github.com/codebox-dev/codebox/internal/testenv"
	"github.com/codebox-dev/codebox/sandbox/sandboxtest"
)

// TestProgrammaticCallAcrossRestart stops the server while code awaits a client tool:
// the continuation sent to the restarted server gets a clear error at once, and the
// container serves the next request.
func TestProgrammaticCallAcrossRestart(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the server binary")
	}
	dir := t.TempDir()
	script := filepath.Join(dir, "ptc.json")
	turns := `[{"content":[{"type":"tool_use","name":"code_execution","input":{"code":"x = await lookup({'k': 1})\nprint(x)"}}]},` +
		`{"content":[{"type":"text","text":"done"}]}]`
	if err := os.WriteFile(script, []byte(turns), 0o644); err != nil {
		t.Fatal(err)
	}
	runtime := sandboxtest.Runtimes()[0]
	sandboxtest.Require(t, runtime)
	sandboxtest.RootFS(t)
	data := t.TempDir()
	args := []string{"--sandbox=true", "--sandbox-runtime", runtime, "--image-dir", testenv.ImageDir(),
		"--pool-size", "0", "--sandbox-memory", "1GiB", "--script", script}
	srv := startChild(t, data, args...)
	ctx := context.Background()
	p := anthropic.MessageNewParams{
		Model: "script/ptc", MaxTokens: 1024,
		Messages: []anthropic.MessageParam{anthropic.NewUserMessage(anthropic.NewTextBlock("look it up"))},
		Tools: []anthropic.ToolUnionParam{{OfCodeExecutionTool20260120: &anthropic.CodeExecutionTool20260120Param{}},
			{OfTool: &anthropic.ToolParam{Name: "lookup", InputSchema: anthropic.ToolInputSchemaParam{Properties: map[string]any{}},
				AllowedCallers: []string{"code_execution_20260120"}}}},
	}
	m, err := srv.client().Messages.New(ctx, p)
	if err != nil {
		t.Fatal(err)
	}
	if m.StopReason != "tool_use" || len(m.Content) != 2 || m.Content[1].Type != "tool_use" {
		t.Fatalf("first response = %s, want a paused programmatic call", m.RawJSON())
	}
	srv.stop(t)

	srv = startChild(t, data, args...)
	c := srv.client()
	t.Cleanup(func() {
		c.Delete(ctx, "v1/containers/"+m.Container.ID, nil, nil)
		srv.stop(t)
	})
	p.Messages = append(p.Messages, m.ToParam(),
		anthropic.NewUserMessage(anthropic.NewToolResultBlock(m.Content[1].ID, "42", false)))
	p.Container = anthropic.MessageCreateParamsContainerUnion{OfString: anthropic.String(m.Container.ID)}
	cctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	_, err = c.Messages.New(cctx, p)
	var ae *anthropic.Error
	if !errors.As(err, &ae) || ae.StatusCode != 400 || !strings.Contains(ae.RawJSON(), "no longer waiting for tool results") {
		t.Fatalf("continuation after a restart = %v, want 400 saying the call is no longer waiting", err)
	}

	// The container itself is fine: a new conversation in it runs code.
	p.Messages = p.Messages[:1]
	p.Tools = p.Tools[:1]
	m, err = c.Messages.New(cctx, p)
	if err != nil {
		t.Fatal(err)
	}
	if m.StopReason != "end_turn" {
		t.Errorf("request after the restart = %s", m.RawJSON())
	}
}
