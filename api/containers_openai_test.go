package api

import (
	"context"
	"errors"
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
