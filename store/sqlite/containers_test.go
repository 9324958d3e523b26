package sqlite_test

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"testing"
	"time"

	"github.com/codebox-dev/codebox/egress"
	"github.com/codebox-dev/codebox/errdefs"
	"github.com/codebox-dev/codebox/sandbox"
)

func TestContainers(t *testing.T) {
	db := MustOpen(t)
	ctx := context.Background()
	base := time.Date(2026, 11, 20, 12, 0, 0, 123456789, time.UTC)
	for i := range 5 {
		c := &sandbox.Container{
			ID: fmt.Sprintf("container_%d", i), Workspace: "ws1", Name: fmt.Sprintf("n%d", i), Status: sandbox.StatusRunning,
			CreatedAt: base.Add(time.Duration(i) * time.Second), LastActiveAt: base, IdleExpiresAt: base.Add(5 * time.Minute),
			ExpiresAt: base.Add(30 * 24 * time.Hour),
		}
		if err := db.CreateContainer(ctx, c); err != nil {
			t.Fatal(err)
		}
	}
	if err := db.CreateContainer(ctx, &sandbox.Container{ID: "container_0", Workspace: "ws2"}); !errors.Is(err, errdefs.ErrConflict) {
		t.Errorf("duplicate = %v, want conflict", err)
	}
	c, err := db.GetContainer(ctx, "ws1", "container_3")
	if err != nil {
		t.Fatal(err)
	}
	if c.Name != "n3" || !c.CreatedAt.Equal(base.Add(3*time.Second)) || !c.ExpiresAt.Equal(base.Add(30*24*time.Hour)) {
		t.Errorf("GetContainer = %+v", c)
	}
	if _, err := db.GetContainer(ctx, "ws2", "container_3"); !errors.Is(err, errdefs.ErrNotFound) {
		t.Errorf("other workspace = %v, want not found", err)
	}
	// A network policy, secrets included, comes back as it went in: the proxy needs
	// it at every start.
	policy := egress.Policy{AllowedDomains: []string{"api.example.com", "*.example.org"},
		Secrets: []egress.Secret{{Domain: "api.example.com", Name: "API_KEY", Value: "sk-1"}}}
	if err := db.CreateContainer(ctx, &sandbox.Container{ID: "container_net", Workspace: "ws2", NetworkPolicy: policy, Status: sandbox.StatusExpired,
		CreatedAt: base, LastActiveAt: base, IdleExpiresAt: base, ExpiresAt: base}); err != nil {
		t.Fatal(err)
	}
	if got, err := db.GetContainer(ctx, "ws2", "container_net"); err != nil || !reflect.DeepEqual(got.NetworkPolicy, policy) {
		t.Errorf("network policy = %+v, %v; want %+v", got.NetworkPolicy, err, policy)
	}
	if c.NetworkPolicy.Enabled() {
		t.Errorf("a container without a policy read back with %+v", c.NetworkPolicy)
	}

	page, more, err := db.ListContainers(ctx, "ws1", sandbox.ListOptions{Limit: 2})
	if err != nil || !more || len(page) != 2 || page[0].ID != "container_4" || page[1].ID != "container_3" {
		t.Fatalf("page 1 = %v more %v err %v", containerIDs(page), more, err)
	}
	page, more, err = db.ListContainers(ctx, "ws1", sandbox.ListOptions{Limit: 2, After: "container_3"})
	if err != nil || !more || len(page) != 2 || page[0].ID != "container_2" {
		t.Fatalf("page 2 = %v more %v err %v", containerIDs(page), more, err)
	}
	page, more, err = db.ListContainers(ctx, "ws1", sandbox.ListOptions{Limit: 2, After: "container_1"})
	if err != nil || more || len(page) != 1 || page[0].ID != "container_0" {
		t.Fatalf("page 3 = %v more %v err %v", containerIDs(page), more, err)
	}
	if _, _, err := db.ListContainers(ctx, "ws2", sandbox.ListOptions{After: "container_1"}); !errors.Is(err, errdefs.ErrNotFound) {
		t.Errorf("cursor of another workspace = %v, want not found", err)
	}

	c.Status, c.LastActiveAt, c.IdleExpiresAt = sandbox.StatusStopped, base.Add(time.Hour), base.Add(time.Hour+5*time.Minute)
	if err := db.UpdateContainer(ctx, c); err != nil {
		t.Fatal(err)
	}
	got, _ := db.GetContainer(ctx, "ws1", "container_3")
	if got.Status != sandbox.StatusStopped || !got.LastActiveAt.Equal(c.LastActiveAt) {
		t.Errorf("after update = %+v", got)
	}
	c.Status = sandbox.StatusExpired
	db.UpdateContainer(ctx, c)
	all, err := db.AllContainers(ctx)
	if err != nil || len(all) != 4 {
		t.Errorf("AllContainers = %v, %v; want the 4 unexpired", containerIDs(all), err)
	}
	if err := db.DeleteContainer(ctx, "ws2", "container_1"); !errors.Is(err, errdefs.ErrNotFound) {
		t.Errorf("delete from other workspace = %v, want not found", err)
	}
	if err := db.DeleteContainer(ctx, "ws1", "container_1"); err != nil {
		t.Fatal(err)
	}
	if _, err := db.GetContainer(ctx, "ws1", "container_1"); !errors.Is(err, errdefs.ErrNotFound) {
		t.Errorf("after delete = %v, want not found", err)
	}
}

func containerIDs(cs []*sandbox.Container) []string {
	var out []string
	for _, c := range cs {
		out = append(out, c.ID)
	}
	return out
}

func TestContainerProvisional(t *testing.T) {
	db := MustOpen(t)
	ctx := context.Background()
	now := time.Now().UTC()
	c := &sandbox.Container{ID: "container_p", Workspace: "ws1", Status: sandbox.StatusRunning, CreatedAt: now,
		LastActiveAt: now, IdleExpiresAt: now, ExpiresAt: now.Add(time.Hour), Provisional: true}
	if err := db.CreateContainer(ctx, c); err != nil {
		t.Fatal(err)
	}
	all, err := db.AllContainers(ctx)
	if err != nil || len(all) != 1 || !all[0].Provisional {
		t.Fatalf("AllContainers = %+v, %v; want the provisional container", all, err)
	}
	c.Provisional = false
	if err := db.UpdateContainer(ctx, c); err != nil {
		t.Fatal(err)
	}
	if got, err := db.GetContainer(ctx, "ws1", c.ID); err != nil || got.Provisional {
		t.Errorf("after confirming: %+v, %v", got, err)
	}
}

// TestContainerLimitsAndOrder covers what OpenAI's containers API adds: a container's own
// memory limit and expiry after inactivity kept across a reload, a moving expires_at,
// oldest-first pages and the name filter.
func TestContainerLimitsAndOrder(t *testing.T) {
	db := MustOpen(t)
	ctx := context.Background()
	base := time.Date(2026, 11, 20, 12, 0, 0, 0, time.UTC)
	for i := range 4 {
		c := &sandbox.Container{
			ID: fmt.Sprintf("container_%d", i), Workspace: "ws1", Name: []string{"a", "b"}[i%2], Status: sandbox.StatusRunning,
			CreatedAt: base.Add(time.Duration(i) * time.Second), LastActiveAt: base, IdleExpiresAt: base, ExpiresAt: base.Add(time.Hour),
			MemoryLimit: 1 << 30, ExpiresAfter: 20 * time.Minute,
		}
		if err := db.CreateContainer(ctx, c); err != nil {
			t.Fatal(err)
		}
	}
	c, err := db.GetContainer(ctx, "ws1", "container_2")
	if err != nil || c.MemoryLimit != 1<<30 || c.ExpiresAfter != 20*time.Minute {
		t.Fatalf("GetContainer = %+v, %v; want 1 GiB and 20 minutes", c, err)
	}
	c.ExpiresAt = base.Add(2 * time.Hour)
	if err := db.UpdateContainer(ctx, c); err != nil {
		t.Fatal(err)
	}
	if got, _ := db.GetContainer(ctx, "ws1", c.ID); !got.ExpiresAt.Equal(c.ExpiresAt) {
		t.Errorf("expires_at after update = %v, want %v", got.ExpiresAt, c.ExpiresAt)
	}
	page, more, err := db.ListContainers(ctx, "ws1", sandbox.ListOptions{Limit: 2, Ascending: true})
	if err != nil || !more || fmt.Sprint(containerIDs(page)) != "[container_0 container_1]" {
		t.Fatalf("ascending page 1 = %v more %v err %v", containerIDs(page), more, err)
	}
	page, more, err = db.ListContainers(ctx, "ws1", sandbox.ListOptions{Limit: 2, Ascending: true, After: "container_1"})
	if err != nil || more || fmt.Sprint(containerIDs(page)) != "[container_2 container_3]" {
		t.Fatalf("ascending page 2 = %v more %v err %v", containerIDs(page), more, err)
	}
	page, _, err = db.ListContainers(ctx, "ws1", sandbox.ListOptions{Name: "b"})
	if err != nil || fmt.Sprint(containerIDs(page)) != "[container_3 container_1]" {
		t.Fatalf("named b = %v err %v", containerIDs(page), err)
	}
}

// TestContainerFiles: file records keep their ids by path, an upload's record replaces
// the source of one the code made, and deleting the container forgets its files.
func TestContainerFiles(t *testing.T) {
	db := MustOpen(t)
	ctx := context.Background()
	now := time.Date(2026, 11, 20, 12, 0, 0, 0, time.UTC)
	if err := db.CreateContainer(ctx, &sandbox.Container{ID: "container_f", Workspace: "ws1", Status: sandbox.StatusRunning,
		CreatedAt: now, LastActiveAt: now, IdleExpiresAt: now, ExpiresAt: now.Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	rec := func(id, p, source string) *sandbox.ContainerFile {
		return &sandbox.ContainerFile{ID: id, Workspace: "ws1", ContainerID: "container_f", Path: p, Source: source, CreatedAt: now}
	}
	if err := db.PutContainerFiles(ctx, []*sandbox.ContainerFile{rec("cfile_a", "/workspace/a", "assistant"), rec("cfile_b", "/workspace/b", "user")}, false); err != nil {
		t.Fatal(err)
	}
	// Without replace a recorded path keeps its record; with it, its id and a new source.
	if err := db.PutContainerFiles(ctx, []*sandbox.ContainerFile{rec("cfile_a2", "/workspace/a", "assistant")}, false); err != nil {
		t.Fatal(err)
	}
	later := rec("cfile_a3", "/workspace/a", "user")
	later.CreatedAt = now.Add(time.Minute)
	if err := db.PutContainerFiles(ctx, []*sandbox.ContainerFile{later}, true); err != nil {
		t.Fatal(err)
	}
	a, err := db.GetContainerFile(ctx, "ws1", "container_f", "cfile_a")
	if err != nil || a.Path != "/workspace/a" || a.Source != "user" || !a.CreatedAt.Equal(later.CreatedAt) {
		t.Fatalf("cfile_a = %+v, %v; want it kept, now the user's", a, err)
	}
	for _, id := range []string{"cfile_a2", "cfile_a3"} {
		if _, err := db.GetContainerFile(ctx, "ws1", "container_f", id); !errors.Is(err, errdefs.ErrNotFound) {
			t.Errorf("%s = %v, want not found", id, err)
		}
	}
	if _, err := db.GetContainerFile(ctx, "ws2", "container_f", "cfile_a"); !errors.Is(err, errdefs.ErrNotFound) {
		t.Errorf("another workspace's file = %v, want not found", err)
	}
	if err := db.DeleteContainerFiles(ctx, "ws1", "container_f", "cfile_b"); err != nil {
		t.Fatal(err)
	}
	if all, err := db.ContainerFiles(ctx, "ws1", "container_f"); err != nil || len(all) != 1 || all[0].ID != "cfile_a" {
		t.Fatalf("ContainerFiles = %+v, %v; want cfile_a only", all, err)
	}
	if err := db.DeleteContainer(ctx, "ws1", "container_f"); err != nil {
		t.Fatal(err)
	}
	if all, err := db.ContainerFiles(ctx, "ws1", "container_f"); err != nil || len(all) != 0 {
		t.Errorf("after deleting the container: %+v, %v; want none", all, err)
	}
}
