package agentloop_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"testing"

	"github.com/codebox-dev/codebox"
	"github.com/codebox-dev/codebox/agentloop"
	"github.com/codebox-dev/codebox/errdefs"
	"github.com/codebox-dev/codebox/files"
	"github.com/codebox-dev/codebox/provider"
	"github.com/codebox-dev/codebox/provider/script"
	"github.com/codebox-dev/codebox/sandbox/sandboxtest"
)

// TestMain lets the test binary double as the in-container agent for the tests that
// run real containers.
func TestMain(m *testing.M) {
	sandboxtest.AgentMain()
	os.Exit(m.Run())
}

// failingFiles serves one file whose content cannot be read past its first bytes.
type failingFiles struct{}

var errBrokenBlob = errors.New("blob read failed")

type brokenBody struct{ r *bytes.Reader }

func (b brokenBody) Read(p []byte) (int, error) {
	if b.r.Len() == 0 {
		return 0, errBrokenBlob
	}
	return b.r.Read(p)
}

func (brokenBody) Close() error { return nil }

func (failingFiles) Get(ctx context.Context, w codebox.WorkspaceID, id string) (*files.File, error) {
	return &files.File{ID: id, Workspace: w, Filename: "data.csv"}, nil
}

func (failingFiles) OpenInput(ctx context.Context, w codebox.WorkspaceID, id string) (string, io.ReadCloser, error) {
	return "data.csv", brokenBody{bytes.NewReader([]byte("a,b\n"))}, nil
}

// A container made for a request is deleted when the request fails before anything
// ran in it: its upload or its first model turn failed.
func TestLoopUndoesItsContainerOnFailure(t *testing.T) {
	env := sandboxtest.New(t, nil)
	for _, tc := range []struct {
		name  string
		turns string
		files agentloop.Files
		msg   agentloop.Message
		want  error
	}{
		{name: "first turn fails", turns: `[{"error":{"status":429,"type":"rate_limit_error","message":"slow down"}}]`,
			msg: userText("go"), want: errdefs.ErrRateLimited},
		{name: "upload fails", turns: `[{"content":[{"type":"text","text":"never asked"}]}]`, files: failingFiles{},
			msg:  agentloop.Message{Role: "user", Content: []agentloop.Block{{Block: provider.Block{Type: agentloop.TypeContainerUpload}, FileID: "file_data"}}},
			want: errBrokenBlob},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, err := script.Parse([]byte(tc.turns))
			if err != nil {
				t.Fatal(err)
			}
			loop := agentloop.New(agentloop.Config{
				Models:  &provider.Router{Scripts: map[string]provider.Model{"default": script.NewModel(s)}},
				Sandbox: env.Manager, Files: tc.files,
			})
			for _, stream := range []bool{false, true} {
				var events func(agentloop.Event)
				if stream {
					events = func(agentloop.Event) {}
				}
				_, err := loop.Run(context.Background(), ws, request(tc.msg), events)
				if !errors.Is(err, tc.want) {
					t.Fatalf("stream=%v: err = %v, want %v", stream, err, tc.want)
				}
				all, err := env.Store.AllContainers(context.Background())
				if err != nil {
					t.Fatal(err)
				}
				if len(all) != 0 {
					t.Fatalf("stream=%v: %d containers left after the failed request, want 0", stream, len(all))
				}
				entries, _ := os.ReadDir(env.Config.Dir)
				for _, e := range entries {
					if e.IsDir() {
						t.Errorf("stream=%v: container directory %s left", stream, e.Name())
					}
				}
			}
		})
	}
}
