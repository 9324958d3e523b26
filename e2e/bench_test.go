package e2e

import (
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"testing"
	"time"

	"github.com/anthropics/anthropic-sdk-go"
	"github.com/anthropics/anthropic-sdk-go/option"

	"github.com/codebox-dev/codebox"
	"github.com/codebox-dev/codebox/agentloop"
	"github.com/codebox-dev/codebox/api"
	"github.com/codebox-dev/codebox/errdefs"
	"github.com/codebox-dev/codebox/ids"
	"github.com/codebox-dev/codebox/provider"
	anthropicdrv "github.com/codebox-dev/codebox/provider/anthropic"
	"github.com/codebox-dev/codebox/provider/script"
	"github.com/codebox-dev/codebox/sandbox"
	"github.com/codebox-dev/codebox/store/sqlite"
)

// instantSandbox answers every call at once, so a benchmark measures the loop and not
// the commands.
type instantSandbox struct{}

func (instantSandbox) Create(ctx context.Context, ws codebox.WorkspaceID, o sandbox.CreateOptions) (*sandbox.Container, error) {
	now := time.Now()
	return &sandbox.Container{ID: ids.New(sandbox.IDPrefix), Workspace: ws, IdleExpiresAt: now.Add(5 * time.Minute), ExpiresAt: now.Add(time.Hour)}, nil
}
func (instantSandbox) Get(ctx context.Context, ws codebox.WorkspaceID, id string) (*sandbox.Container, error) {
	return nil, errdefs.ErrNotFound
}
func (instantSandbox) Exec(context.Context, codebox.WorkspaceID, string, sandbox.ExecRequest) (*sandbox.ExecResult, error) {
	return &sandbox.ExecResult{Stdout: "ok\n"}, nil
}
func (instantSandbox) RunPython(context.Context, codebox.WorkspaceID, string, sandbox.PythonRequest) (*sandbox.ExecResult, error) {
	return &sandbox.ExecResult{Stdout: "ok\n"}, nil
}
func (instantSandbox) ViewFile(context.Context, codebox.WorkspaceID, string, string, []int) (*sandbox.ViewResult, error) {
	return &sandbox.ViewResult{FileType: "text"}, nil
}
func (instantSandbox) CreateFile(context.Context, codebox.WorkspaceID, string, string, string) (bool, error) {
	return false, nil
}
func (instantSandbox) StrReplace(context.Context, codebox.WorkspaceID, string, string, string, string) (*sandbox.ReplaceResult, error) {
	return &sandbox.ReplaceResult{}, nil
}
func (instantSandbox) Upload(context.Context, codebox.WorkspaceID, string, string, io.Reader) error {
	return nil
}
func (instantSandbox) Delete(context.Context, codebox.WorkspaceID, string) error {
	return nil
}

type anyKey struct{}

func (anyKey) Authenticate(context.Context, string) (codebox.WorkspaceID, error) {
	return codebox.DefaultWorkspace, nil
}

// BenchmarkLoopOverhead measures what codebox adds to each model turn: the same
// scripted Anthropic upstream is called directly by the SDK (one turn per request), and
// through codebox with the code execution tool, where one request makes turnsPerRequest
// model turns with a command (answered at once) between them. The overhead per turn is
// codebox's time per turn minus the direct time per turn; it includes the HTTP hop, the
// request and response translation, the container lookup, result rendering and the
// usage row written to SQLite.
func BenchmarkLoopOverhead(b *testing.B) {
	const turnsPerRequest = 5
	var turns []obj
	for i := 0; i < turnsPerRequest-1; i++ {
		turns = append(turns, turn(text("step"), bash("echo ok")))
	}
	turns = append(turns, turn(text("done")))
	s, err := script.Parse([]byte(scriptOf(turns...)))
	if err != nil {
		b.Fatal(err)
	}
	up := httptest.NewServer(script.NewAnthropicServer(s))
	defer up.Close()

	ctx := context.Background()
	logger := slog.New(slog.DiscardHandler)
	db, err := sqlite.Open(ctx, filepath.Join(b.TempDir(), "codebox.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	loop := agentloop.New(agentloop.Config{
		Models:  &provider.Router{Anthropic: anthropicdrv.New(anthropicdrv.Config{BaseURL: up.URL, APIKey: "k"})},
		Sandbox: instantSandbox{}, Usage: db, Logger: logger, MaxIterations: turnsPerRequest,
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	hs := &http.Server{Handler: api.New(api.Config{Logger: logger, Auth: anyKey{}, MessagesConfig: api.MessagesConfig{Loop: loop}})}
	go hs.Serve(ln)
	defer hs.Close()

	direct := anthropic.NewClient(option.WithBaseURL(up.URL), option.WithAPIKey("k"), option.WithMaxRetries(0))
	via := anthropic.NewClient(option.WithBaseURL("http://"+ln.Addr().String()), option.WithAPIKey("k"), option.WithMaxRetries(0))
	plain := anthropic.MessageNewParams{Model: "claude-sonnet-4-5", MaxTokens: 100,
		Messages: []anthropic.MessageParam{anthropic.NewUserMessage(anthropic.NewTextBlock("go"))}}
	withTool := plain
	withTool.Tools = []anthropic.ToolUnionParam{codeExecTool("code_execution_20250825")}

	// Warm both paths (connections, first-use allocations).
	for i := 0; i < 5; i++ {
		direct.Messages.New(ctx, plain)
		via.Messages.New(ctx, withTool)
	}
	var directTime, viaTime time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		t0 := time.Now()
		for j := 0; j < turnsPerRequest; j++ {
			if _, err := direct.Messages.New(ctx, plain); err != nil {
				b.Fatal(err)
			}
		}
		t1 := time.Now()
		m, err := via.Messages.New(ctx, withTool)
		if err != nil {
			b.Fatal(err)
		}
		t2 := time.Now()
		if m.StopReason != "end_turn" || len(m.Content) != 3*(turnsPerRequest-1)+1 {
			b.Fatalf("unexpected answer: %s %d blocks", m.StopReason, len(m.Content))
		}
		directTime += t1.Sub(t0)
		viaTime += t2.Sub(t1)
	}
	perTurn := func(d time.Duration) float64 {
		return float64(d.Microseconds()) / 1000 / float64(b.N*turnsPerRequest)
	}
	b.ReportMetric(perTurn(directTime), "direct-ms/turn")
	b.ReportMetric(perTurn(viaTime), "codebox-ms/turn")
	b.ReportMetric(perTurn(viaTime-directTime), "overhead-ms/turn")
}
