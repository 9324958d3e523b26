package main

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"os/exec"
	"slices"
	"strings"
	"testing"

	"github.com/anthropics/anthropic-sdk-go"
	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/codebox-dev/codebox/internal/testenv"
	codeboxmcp "github.com/codebox-dev/codebox/mcp"
	"github.com/codebox-dev/codebox/sandbox/sandboxtest"
)

// TestMCP runs `codebox serve` with the sandbox and drives the MCP tools with the
// official MCP Go SDK client over both transports: streamable HTTP at /mcp (the tools
// in the server's process) and stdio through `codebox mcp` (the tools over the
// containers API).
func TestMCP(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the server binary")
	}
	sandboxtest.ForEachRuntime(t, func(t *testing.T, runtime string) {
		sandboxtest.Require(t, runtime)
		sandboxtest.RootFS(t)
		data := t.TempDir()
		srv := startChild(t, data, "--sandbox=true", "--sandbox-runtime", runtime, "--image-dir", testenv.ImageDir(),
			"--pool-size", "0", "--sandbox-memory", "1GiB")
		ctx := context.Background()
		t.Cleanup(func() { srv.deleteContainersAndStop(t) })

		t.Run("unauthenticated", func(t *testing.T) {
			resp, err := http.Post(srv.url+"/mcp", "application/json", strings.NewReader(`{"jsonrpc":"2.0","id":1,"method":"initialize","params":{}}`))
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			var env struct {
				Type  string
				Error struct{ Type, Message string }
			}
			if err := json.NewDecoder(resp.Body).Decode(&env); err != nil {
				t.Fatal(err)
			}
			if resp.StatusCode != http.StatusUnauthorized || env.Type != "error" || env.Error.Type != "authentication_error" || env.Error.Message == "" {
				t.Errorf("POST /mcp without a key = %d %+v, want 401 authentication_error", resp.StatusCode, env)
			}
			cl := mcp.NewClient(&mcp.Implementation{Name: "test", Version: "1"}, nil)
			if s, err := cl.Connect(ctx, &mcp.StreamableClientTransport{Endpoint: srv.url + "/mcp", MaxRetries: -1}, nil); err == nil {
				s.Close()
				t.Error("an MCP client without a key connected")
			}
		})
		t.Run("session bound to its workspace", func(t *testing.T) {
			out, err := exec.Command(codeboxBinary(t), "keys", "create", "--workspace", "other", "--data-dir", data).Output()
			if err != nil {
				t.Fatalf("keys create: %v", err)
			}
			cl := mcp.NewClient(&mcp.Implementation{Name: "test", Version: "1"}, nil)
			s, err := cl.Connect(ctx, &mcp.StreamableClientTransport{Endpoint: srv.url + "/mcp",
				HTTPClient: &http.Client{Transport: bearer{testAPIKey}}, MaxRetries: -1}, nil)
			if err != nil {
				t.Fatalf("connect: %v", err)
			}
			defer s.Close()
			req, _ := http.NewRequest("POST", srv.url+"/mcp", strings.NewReader(
				`{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"name":"run_bash","arguments":{"command":"echo hi"}}}`))
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("Accept", "application/json, text/event-stream")
			req.Header.Set("Mcp-Session-Id", s.ID())
			req.Header.Set("x-api-key", strings.TrimSpace(string(out)))
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusForbidden {
				t.Errorf("another workspace's key on the session = %d, want 403", resp.StatusCode)
			}
		})
		t.Run("http", func(t *testing.T) {
			hc := &http.Client{Transport: bearer{testAPIKey}}
			exerciseMCP(t, srv, &mcp.StreamableClientTransport{Endpoint: srv.url + "/mcp", HTTPClient: hc, MaxRetries: -1})
		})
		t.Run("stdio", func(t *testing.T) {
			cmd := exec.Command(codeboxBinary(t), "mcp", "--base-url", srv.url)
			cmd.Env = append(cmd.Environ(), "CODEBOX_API_KEY="+testAPIKey)
			exerciseMCP(t, srv, &mcp.CommandTransport{Command: cmd})
		})
	})
}

// bearer sends the key as Authorization: Bearer, the header MCP clients send.
type bearer struct{ key string }

func (b bearer) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set("Authorization", "Bearer "+b.key)
	return http.DefaultTransport.RoundTrip(r)
}

func exerciseMCP(t *testing.T, srv *child, transport mcp.Transport) {
	ctx := context.Background()
	cl := mcp.NewClient(&mcp.Implementation{Name: "test", Version: "1"}, nil)
	s, err := cl.Connect(ctx, transport, nil)
	if err != nil {
		t.Fatalf("connect: %v", err)
	}
	defer s.Close()

	tools, err := s.ListTools(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, tl := range tools.Tools {
		names = append(names, tl.Name)
	}
	slices.Sort(names)
	if want := []string{"container", "list_files", "read_file", "run_bash", "run_python", "text_editor", "upload_file"}; !slices.Equal(names, want) {
		t.Errorf("tools = %v, want %v", names, want)
	}

	call := func(name string, args map[string]any, wantError bool) *mcp.CallToolResult {
		t.Helper()
		res, err := s.CallTool(ctx, &mcp.CallToolParams{Name: name, Arguments: args})
		if err != nil {
			t.Fatalf("%s %v: %v", name, args, err)
		}
		if res.IsError != wantError {
			t.Fatalf("%s %v: isError = %v, want %v; content %s", name, args, res.IsError, wantError, textOf(res))
		}
		return res
	}
	var run codeboxmcp.RunOutput
	structured(t, call("run_bash", map[string]any{"command": "echo hello from $(pwd)"}, false), &run)
	if run.Stdout != "hello from /workspace\n" || run.ExitCode != 0 || run.ContainerID == "" {
		t.Errorf("run_bash = %+v", run)
	}
	first := run.ContainerID

	// The REPL keeps its state between calls.
	call("run_python", map[string]any{"code": "x = 41"}, false)
	if got := textOf(call("run_python", map[string]any{"code": "print(x + 1)"}, false)); got != "42\n" {
		t.Errorf("run_python print(x + 1) = %q, want 42", got)
	}

	// A failing command is a result with isError.
	if got := textOf(call("run_bash", map[string]any{"command": "echo oops >&2; exit 3"}, true)); !strings.Contains(got, "oops") || !strings.Contains(got, "exit code 3") {
		t.Errorf("failing command = %q", got)
	}
	call("run_python", map[string]any{"code": "1/0"}, true)

	// The text editor.
	call("text_editor", map[string]any{"command": "create", "path": "notes/a.txt", "file_text": "one\ntwo\n"}, false)
	if got := textOf(call("text_editor", map[string]any{"command": "view", "path": "/workspace/notes/a.txt"}, false)); !strings.Contains(got, "two") {
		t.Errorf("view = %q", got)
	}
	call("text_editor", map[string]any{"command": "str_replace", "path": "notes/a.txt", "old_str": "two", "new_str": "three"}, false)
	if got := textOf(call("text_editor", map[string]any{"command": "view", "path": "notes/a.txt"}, false)); !strings.Contains(got, "three") || strings.Contains(got, "two") {
		t.Errorf("view after str_replace = %q", got)
	}
	call("text_editor", map[string]any{"command": "str_replace", "path": "notes/a.txt", "old_str": "absent", "new_str": "x"}, true)
	call("text_editor", map[string]any{"command": "view", "path": "missing.txt"}, true)

	// Upload (text and base64) and read back.
	call("upload_file", map[string]any{"path": "up.txt", "content": "uploaded text"}, false)
	call("upload_file", map[string]any{"path": "/workspace/data.bin", "content": base64.StdEncoding.EncodeToString([]byte{0, 1, 2, 255}), "base64": true}, false)
	if got := textOf(call("read_file", map[string]any{"path": "up.txt"}, false)); got != "uploaded text" {
		t.Errorf("read_file up.txt = %q", got)
	}
	if got := textOf(call("run_bash", map[string]any{"command": "od -An -tu1 data.bin"}, false)); strings.Join(strings.Fields(got), " ") != "0 1 2 255" {
		t.Errorf("data.bin = %q", got)
	}
	call("read_file", map[string]any{"path": "../etc/passwd"}, true)

	// A PNG the code makes: stored through the Files API, and read out as an image.
	run = codeboxmcp.RunOutput{}
	structured(t, call("run_python", map[string]any{"code": "import matplotlib\nmatplotlib.use('Agg')\nimport matplotlib.pyplot as plt\n" +
		"plt.plot([1, 3, 2])\nplt.savefig('chart.png')\nprint('saved')"}, false), &run)
	i := slices.IndexFunc(run.Files, func(f codeboxmcp.GeneratedFile) bool { return f.Path == "/workspace/chart.png" })
	if i < 0 {
		t.Fatalf("generated files = %+v, want chart.png", run.Files)
	}
	resp, err := srv.client().Beta.Files.Download(ctx, run.Files[i].FileID, anthropic.BetaFileDownloadParams{})
	if err != nil {
		t.Fatalf("download %s: %v", run.Files[i].FileID, err)
	}
	png, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.HasPrefix(string(png), "\x89PNG") {
		t.Errorf("downloaded %s is not a PNG: %q", run.Files[i].FileID, png[:min(len(png), 16)])
	}
	img := call("read_file", map[string]any{"path": "chart.png"}, false)
	if ic, ok := img.Content[0].(*mcp.ImageContent); !ok || ic.MIMEType != "image/png" || string(ic.Data) != string(png) {
		t.Errorf("read_file chart.png = %T, want the PNG as image content", img.Content[0])
	}

	var list codeboxmcp.ListOutput
	structured(t, call("list_files", map[string]any{}, false), &list)
	var paths []string
	for _, f := range list.Files {
		paths = append(paths, f.Path)
	}
	for _, want := range []string{"/workspace/up.txt", "/workspace/data.bin", "/workspace/chart.png", "/workspace/notes/a.txt"} {
		if !slices.Contains(paths, want) {
			t.Errorf("list_files = %v, want %s in it", paths, want)
		}
	}

	// Container control: new, reuse by id, delete.
	var ct codeboxmcp.ContainerOutput
	structured(t, call("container", map[string]any{"action": "current"}, false), &ct)
	if ct.ContainerID != first {
		t.Errorf("current = %s, want the session's %s", ct.ContainerID, first)
	}
	structured(t, call("container", map[string]any{"action": "new"}, false), &ct)
	second := ct.ContainerID
	if second == first || second == "" {
		t.Fatalf("new = %q, want a container other than %s", second, first)
	}
	call("read_file", map[string]any{"path": "up.txt"}, true) // not in the new container
	structured(t, call("container", map[string]any{"action": "use", "id": first}, false), &ct)
	if got := textOf(call("read_file", map[string]any{"path": "up.txt"}, false)); got != "uploaded text" {
		t.Errorf("up.txt back in %s = %q", first, got)
	}
	call("container", map[string]any{"action": "delete", "id": second}, false)
	call("container", map[string]any{"action": "use", "id": second}, true)
	call("container", map[string]any{"action": "use", "id": "cntr_unknown"}, true)
	call("container", map[string]any{"action": "delete"}, false)
	run = codeboxmcp.RunOutput{}
	structured(t, call("run_bash", map[string]any{"command": "ls"}, false), &run)
	if run.ContainerID == first || run.ContainerID == second || strings.Contains(run.Stdout, "up.txt") {
		t.Errorf("after delete, run_bash ran in %s with %q, want a fresh container", run.ContainerID, run.Stdout)
	}
}

func textOf(res *mcp.CallToolResult) string {
	var b strings.Builder
	for _, c := range res.Content {
		if tc, ok := c.(*mcp.TextContent); ok {
			b.WriteString(tc.Text)
		}
	}
	return b.String()
}

func structured(t *testing.T, res *mcp.CallToolResult, out any) {
	t.Helper()
	b, err := json.Marshal(res.StructuredContent)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, out); err != nil {
		t.Fatalf("structured content %s: %v", b, err)
	}
}
