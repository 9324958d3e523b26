package api

import (
	"context"
	"errors"
	"io"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"

	"github.com/codebox-dev/codebox/sandbox"
	"github.com/codebox-dev/codebox/sandbox/sandboxtest"
)

// openaiClient is the official openai-go client pointed at srv with key.
func openaiClient(srv *httptest.Server, key string) openai.Client {
	return openai.NewClient(option.WithBaseURL(srv.URL+"/v1/"), option.WithAPIKey(key), option.WithMaxRetries(0))
}

// openaiError returns err's *openai.Error, failing the test unless it has status.
func openaiError(t *testing.T, what string, err error, status int) *openai.Error {
	t.Helper()
	var apiErr *openai.Error
	if !errors.As(err, &apiErr) {
		t.Fatalf("%s: %v, want an *openai.Error", what, err)
	}
	if apiErr.StatusCode != status || apiErr.Message == "" {
		t.Fatalf("%s: status %d message %q, want %d with a message", what, apiErr.StatusCode, apiErr.Message, status)
	}
	return apiErr
}

// TestOpenAIContainers drives the containers API with the official openai-go SDK, only
// its base URL changed: create with OpenAI's expires_after and memory_limit (the
// container's cgroup really gets the limit, and it really expires), get, list with
// cursor pages both ways and a name filter, delete, and the errors.
func TestOpenAIContainers(t *testing.T) { sandboxtest.ForEachRuntime(t, testOpenAIContainers) }

func testOpenAIContainers(t *testing.T, runtime string) {
	srv, env := realServer(t, runtime, func(c *sandbox.Config) {
		c.Limits.Memory = 4 << 30
		c.Idle = time.Second // the sweeper looks every 200ms
	})
	ctx := context.Background()
	client := openaiClient(srv, "key1")

	small, err := client.Containers.New(ctx, openai.ContainerNewParams{Name: "small", MemoryLimit: openai.ContainerNewParamsMemoryLimit1g,
		ExpiresAfter: openai.ContainerNewParamsExpiresAfter{Anchor: "last_active_at", Minutes: 20}})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(small.ID, "container_") || small.Object != "container" || small.Name != "small" || small.Status != "running" ||
		small.CreatedAt == 0 || small.LastActiveAt < small.CreatedAt || small.MemoryLimit != "1g" ||
		small.ExpiresAfter.Anchor != "last_active_at" || small.ExpiresAfter.Minutes != 20 {
		t.Fatalf("New = %s", small.RawJSON())
	}
	if got := env.CgroupFile(t, small.ID, "memory", "memory.limit_in_bytes"); got != strconv.Itoa(1<<30) {
		t.Errorf("memory.limit_in_bytes of a 1g container = %s, want %d", got, 1<<30)
	}
	big, err := client.Containers.New(ctx, openai.ContainerNewParams{Name: "big", MemoryLimit: openai.ContainerNewParamsMemoryLimit4g})
	if err != nil {
		t.Fatal(err)
	}
	if got := env.CgroupFile(t, big.ID, "memory", "memory.limit_in_bytes"); got != strconv.Itoa(4<<30) || big.MemoryLimit != "4g" {
		t.Errorf("4g container: memory_limit %q, memory.limit_in_bytes %s; want 4g, %d", big.MemoryLimit, got, 4<<30)
	}
	third, err := client.Containers.New(ctx, openai.ContainerNewParams{Name: "big"})
	if err != nil {
		t.Fatal(err)
	}

	got, err := client.Containers.Get(ctx, small.ID)
	if err != nil || got.ID != small.ID || got.MemoryLimit != "1g" || got.ExpiresAfter.Minutes != 20 {
		t.Fatalf("Get = %v, %v", got, err)
	}

	var desc, asc []string
	for it := client.Containers.ListAutoPaging(ctx, openai.ContainerListParams{Limit: openai.Int(1)}); it.Next(); {
		desc = append(desc, it.Current().ID)
	}
	for it := client.Containers.ListAutoPaging(ctx, openai.ContainerListParams{Limit: openai.Int(2), Order: openai.ContainerListParamsOrderAsc}); it.Next(); {
		asc = append(asc, it.Current().ID)
	}
	want := []string{third.ID, big.ID, small.ID}
	if strings.Join(desc, " ") != strings.Join(want, " ") || strings.Join(asc, " ") != strings.Join([]string{small.ID, big.ID, third.ID}, " ") {
		t.Errorf("pages newest first %v and oldest first %v, want %v and its reverse", desc, asc, want)
	}
	page, err := client.Containers.List(ctx, openai.ContainerListParams{Name: openai.String("big"), Limit: openai.Int(1)})
	if err != nil || len(page.Data) != 1 || page.Data[0].ID != third.ID || !page.HasMore {
		t.Errorf("List(name=big, limit=1) = %+v, %v", page, err)
	}

	// The 1g container expires 20 minutes after its last use.
	env.Clock.Advance(21 * time.Minute)
	_, err = client.Containers.Get(ctx, small.ID)
	if e := openaiError(t, "Get after expiry", err, 400); !strings.Contains(e.Message, "expired") {
		t.Errorf("Get after expiry: %q, want it expired", e.Message)
	}
	if _, err := client.Containers.Get(ctx, third.ID); err != nil {
		t.Errorf("a container without expires_after: %v, want it alive", err)
	}

	if err := client.Containers.Delete(ctx, big.ID); err != nil {
		t.Fatal(err)
	}
	_, err = client.Containers.Get(ctx, big.ID)
	openaiError(t, "Get after Delete", err, 404)
	_, err = client.Containers.Get(ctx, third.ID, option.WithAPIKey("key2"))
	openaiError(t, "another workspace's container", err, 404)

	_, err = client.Containers.New(ctx, openai.ContainerNewParams{Name: "huge", MemoryLimit: openai.ContainerNewParamsMemoryLimit16g})
	if e := openaiError(t, "16g on a 4 GiB server", err, 400); !strings.Contains(e.Message, "maximum of 4.0 GiB") {
		t.Errorf("16g on a 4 GiB server: %q, want the maximum named", e.Message)
	}
	_, err = client.Containers.New(ctx, openai.ContainerNewParams{Name: "x", ExpiresAfter: openai.ContainerNewParamsExpiresAfter{Anchor: "last_active_at", Minutes: -5}})
	if e := openaiError(t, "negative minutes", err, 400); !strings.Contains(e.Message, "expires_after.minutes") {
		t.Errorf("negative minutes: %q", e.Message)
	}
}

// TestOpenAIContainerFiles drives the container files API with openai-go: uploads
// (multipart, and a Files API file by file_id), files the code wrote listed as the
// assistant's with ids that stay, get, content, cursor pages, delete (the file leaves
// the container), and the 404s of unknown and foreign ids.
func TestOpenAIContainerFiles(t *testing.T) { sandboxtest.ForEachRuntime(t, testOpenAIContainerFiles) }

func testOpenAIContainerFiles(t *testing.T, runtime string) {
	srv, env := realServer(t, runtime, nil)
	ctx := context.Background()
	client := openaiClient(srv, "key1")
	c, err := client.Containers.New(ctx, openai.ContainerNewParams{Name: "files"})
	if err != nil {
		t.Fatal(err)
	}

	notes, err := client.Containers.Files.New(ctx, c.ID, openai.ContainerFileNewParams{
		File: openai.File(strings.NewReader("remember the milk\n"), "notes.txt", "text/plain")})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(notes.ID, "cfile_") || notes.Object != "container.file" || notes.ContainerID != c.ID ||
		notes.Path != "/workspace/notes.txt" || notes.Bytes != 18 || notes.Source != "user" || notes.CreatedAt == 0 {
		t.Fatalf("Files.New(file) = %s", notes.RawJSON())
	}
	fid := env.Files.Add("ws1", "data.csv", []byte("x,y\n1,2\n"))
	data, err := client.Containers.Files.New(ctx, c.ID, openai.ContainerFileNewParams{FileID: openai.String(fid)})
	if err != nil {
		t.Fatal(err)
	}
	if data.Path != "/workspace/data.csv" || data.Bytes != 8 || data.Source != "user" {
		t.Fatalf("Files.New(file_id) = %s", data.RawJSON())
	}

	// A file the code writes appears as the assistant's, with the same id every time.
	mustDo(t, srv, call{method: "POST", path: "/v1/containers/" + c.ID + "/exec",
		body: jsonBody(`{"command":"mkdir -p out && printf 'made by code' > out/gen.txt"}`)}, 200)
	listAll := func(order openai.ContainerFileListParamsOrder) map[string]openai.ContainerFileListResponse {
		t.Helper()
		out := map[string]openai.ContainerFileListResponse{}
		var seq []string
		it := client.Containers.Files.ListAutoPaging(ctx, c.ID, openai.ContainerFileListParams{Limit: openai.Int(1), Order: order})
		for it.Next() {
			out[it.Current().Path] = it.Current()
			seq = append(seq, it.Current().ID)
		}
		if err := it.Err(); err != nil {
			t.Fatal(err)
		}
		if len(seq) != len(out) {
			t.Errorf("paging by one returned %v: an id twice", seq)
		}
		return out
	}
	first := listAll(openai.ContainerFileListParamsOrderAsc)
	gen, ok := first["/workspace/out/gen.txt"]
	if len(first) != 3 || !ok || gen.Source != "assistant" || gen.Bytes != 12 || !strings.HasPrefix(gen.ID, "cfile_") ||
		first["/workspace/notes.txt"].ID != notes.ID || first["/workspace/data.csv"].ID != data.ID {
		t.Fatalf("listed %+v, want notes.txt, data.csv and the generated out/gen.txt", first)
	}
	if again := listAll(openai.ContainerFileListParamsOrderDesc); again["/workspace/out/gen.txt"].ID != gen.ID {
		t.Errorf("the generated file's id changed between listings: %s then %s", gen.ID, again["/workspace/out/gen.txt"].ID)
	}

	got, err := client.Containers.Files.Get(ctx, c.ID, gen.ID)
	if err != nil || got.ID != gen.ID || got.Path != gen.Path || got.Source != "assistant" || got.Bytes != 12 {
		t.Fatalf("Files.Get = %v, %v", got, err)
	}
	resp, err := client.Containers.Files.Content.Get(ctx, c.ID, notes.ID)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(body) != "remember the milk\n" {
		t.Errorf("Content.Get = %q", body)
	}
	// The path-addressed download (a codebox extension) reads the same file.
	if b := mustDo(t, srv, call{method: "GET", path: "/v1/containers/" + c.ID + "/files/content?path=notes.txt"}, 200); string(b) != string(body) {
		t.Errorf("download by path = %q, by id %q", b, body)
	}

	// Deleting a container file removes it from the container.
	if err := client.Containers.Files.Delete(ctx, c.ID, notes.ID); err != nil {
		t.Fatal(err)
	}
	res := decode[execResultJSON](t, mustDo(t, srv, call{method: "POST", path: "/v1/containers/" + c.ID + "/exec",
		body: jsonBody(`{"command":"test -e notes.txt && echo present || echo absent; rm out/gen.txt"}`)}, 200))
	if res.Stdout != "absent\n" {
		t.Errorf("after Files.Delete the file is %s", res.Stdout)
	}
	_, err = client.Containers.Files.Get(ctx, c.ID, notes.ID)
	openaiError(t, "Get of a deleted file", err, 404)
	// A file the code removed is gone by id too.
	_, err = client.Containers.Files.Get(ctx, c.ID, gen.ID)
	openaiError(t, "Get of a file the code removed", err, 404)
	if left := listAll(openai.ContainerFileListParamsOrderAsc); len(left) != 1 || left["/workspace/data.csv"].ID != data.ID {
		t.Errorf("after the deletes: %+v, want data.csv only", left)
	}

	_, err = client.Containers.Files.Get(ctx, c.ID, "cfile_unknown")
	if e := openaiError(t, "unknown file id", err, 404); !strings.Contains(e.Message, "cfile_unknown") {
		t.Errorf("unknown file id: %q, want it named", e.Message)
	}
	other := openaiClient(srv, "key2")
	_, err = other.Containers.Files.Get(ctx, c.ID, data.ID)
	openaiError(t, "another workspace's container file", err, 404)
	_, err = other.Containers.Files.List(ctx, c.ID, openai.ContainerFileListParams{})
	openaiError(t, "another workspace's container files", err, 404)
	err = other.Containers.Files.Delete(ctx, c.ID, data.ID)
	openaiError(t, "another workspace's delete", err, 404)
	_, err = client.Containers.Files.New(ctx, c.ID, openai.ContainerFileNewParams{FileID: openai.String("file_unknown")})
	openaiError(t, "an unknown Files API file", err, 404)
}
