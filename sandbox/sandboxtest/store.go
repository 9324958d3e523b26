package sandboxtest

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"sort"
	"testing"
	"time"

	"github.com/codebox-dev/codebox/egress"
	"github.com/codebox-dev/codebox/errdefs"
	"github.com/codebox-dev/codebox/sandbox"
)

// RunStore is the conformance suite of sandbox.Store: every driver runs it against
// stores made by newStore, one fresh store per subtest, so that a new one (PostgreSQL)
// is held to what the SQLite driver does. Times go in with microsecond precision, the
// finest every driver keeps.
func RunStore(t *testing.T, newStore func(t *testing.T) sandbox.Store) {
	t.Run("Containers", func(t *testing.T) { testContainers(t, newStore(t)) })
	t.Run("Provisional", func(t *testing.T) { testProvisional(t, newStore(t)) })
	t.Run("LimitsAndOrder", func(t *testing.T) { testLimitsAndOrder(t, newStore(t)) })
	t.Run("Files", func(t *testing.T) { testFiles(t, newStore(t)) })
	t.Run("WorkspaceImageUnset", func(t *testing.T) {
		if img, err := newStore(t).WorkspaceImage(context.Background(), "ws1"); err != nil || img != "" {
			t.Errorf("WorkspaceImage of a workspace without one = %q, %v; want \"\"", img, err)
		}
	})
}

func running(id string, at time.Time) *sandbox.Container {
	return &sandbox.Container{ID: id, Workspace: "ws1", Status: sandbox.StatusRunning, CreatedAt: at,
		LastActiveAt: at, IdleExpiresAt: at, ExpiresAt: at.Add(time.Hour)}
}

func testContainers(t *testing.T, s sandbox.Store) {
	ctx := context.Background()
	base := time.Date(2026, 11, 20, 12, 0, 0, 123456000, time.UTC)
	for i := range 5 {
		c := &sandbox.Container{
			ID: fmt.Sprintf("container_%d", i), Workspace: "ws1", Name: fmt.Sprintf("n%d", i), Status: sandbox.StatusRunning,
			CreatedAt: base.Add(time.Duration(i) * time.Second), LastActiveAt: base, IdleExpiresAt: base.Add(5 * time.Minute),
			ExpiresAt: base.Add(30 * 24 * time.Hour),
		}
		if err := s.CreateContainer(ctx, c); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.CreateContainer(ctx, &sandbox.Container{ID: "container_0", Workspace: "ws2", Status: sandbox.StatusRunning,
		CreatedAt: base, LastActiveAt: base, IdleExpiresAt: base, ExpiresAt: base}); !errors.Is(err, errdefs.ErrConflict) {
		t.Errorf("duplicate = %v, want conflict", err)
	}
	c, err := s.GetContainer(ctx, "ws1", "container_3")
	if err != nil {
		t.Fatal(err)
	}
	want := &sandbox.Container{ID: "container_3", Workspace: "ws1", Name: "n3", Status: sandbox.StatusRunning,
		CreatedAt: base.Add(3 * time.Second), LastActiveAt: base, IdleExpiresAt: base.Add(5 * time.Minute),
		ExpiresAt: base.Add(30 * 24 * time.Hour)}
	if !sameContainer(c, want) {
		t.Errorf("GetContainer = %+v, want %+v", c, want)
	}
	if _, err := s.GetContainer(ctx, "ws2", "container_3"); !errors.Is(err, errdefs.ErrNotFound) {
		t.Errorf("other workspace = %v, want not found", err)
	}
	if _, err := s.GetContainer(ctx, "ws1", "container_none"); !errors.Is(err, errdefs.ErrNotFound) {
		t.Errorf("unknown container = %v, want not found", err)
	}
	// A network policy, secrets included, comes back as it went in: the proxy needs
	// it at every start.
	policy := egress.Policy{AllowedDomains: []string{"api.example.com", "*.example.org"},
		Secrets: []egress.Secret{{Domain: "api.example.com", Name: "API_KEY", Value: "sk-1"}}}
	if err := s.CreateContainer(ctx, &sandbox.Container{ID: "container_net", Workspace: "ws2", NetworkPolicy: policy, Status: sandbox.StatusExpired,
		CreatedAt: base, LastActiveAt: base, IdleExpiresAt: base, ExpiresAt: base}); err != nil {
		t.Fatal(err)
	}
	if got, err := s.GetContainer(ctx, "ws2", "container_net"); err != nil || !reflect.DeepEqual(got.NetworkPolicy, policy) {
		t.Errorf("network policy = %+v, %v; want %+v", got.NetworkPolicy, err, policy)
	}
	if c.NetworkPolicy.Enabled() {
		t.Errorf("a container without a policy read back with %+v", c.NetworkPolicy)
	}
	// The hosting node comes back as it went in (an UpdateContainer does not move
	// it); a container of a single machine has none.
	onNode := &sandbox.Container{ID: "container_node", Workspace: "ws2", Node: "node-a", Status: sandbox.StatusExpired,
		CreatedAt: base, LastActiveAt: base, IdleExpiresAt: base, ExpiresAt: base}
	if err := s.CreateContainer(ctx, onNode); err != nil {
		t.Fatal(err)
	}
	onNode.Node = "node-b"
	if err := s.UpdateContainer(ctx, onNode); err != nil {
		t.Fatal(err)
	}
	if got, err := s.GetContainer(ctx, "ws2", "container_node"); err != nil || got.Node != "node-a" {
		t.Errorf("node = %+v, %v; want node-a", got, err)
	}
	if c.Node != "" {
		t.Errorf("a container created without a node read back on %q", c.Node)
	}

	page, more, err := s.ListContainers(ctx, "ws1", sandbox.ListOptions{Limit: 2})
	if err != nil || !more || fmt.Sprint(containerIDs(page)) != "[container_4 container_3]" {
		t.Fatalf("page 1 = %v more %v err %v", containerIDs(page), more, err)
	}
	page, more, err = s.ListContainers(ctx, "ws1", sandbox.ListOptions{Limit: 2, After: "container_3"})
	if err != nil || !more || fmt.Sprint(containerIDs(page)) != "[container_2 container_1]" {
		t.Fatalf("page 2 = %v more %v err %v", containerIDs(page), more, err)
	}
	page, more, err = s.ListContainers(ctx, "ws1", sandbox.ListOptions{Limit: 2, After: "container_1"})
	if err != nil || more || fmt.Sprint(containerIDs(page)) != "[container_0]" {
		t.Fatalf("page 3 = %v more %v err %v", containerIDs(page), more, err)
	}
	if page, more, err = s.ListContainers(ctx, "ws1", sandbox.ListOptions{}); err != nil || more || len(page) != 5 {
		t.Fatalf("default page = %v more %v err %v", containerIDs(page), more, err)
	}
	if _, _, err := s.ListContainers(ctx, "ws2", sandbox.ListOptions{After: "container_1"}); !errors.Is(err, errdefs.ErrNotFound) {
		t.Errorf("cursor of another workspace = %v, want not found", err)
	}

	c.Status, c.LastActiveAt, c.IdleExpiresAt = sandbox.StatusStopped, base.Add(time.Hour), base.Add(time.Hour+5*time.Minute)
	c.DiskGeneration, c.DiskChecksum = 3, "crc32c:0a1b2c3d"
	if err := s.UpdateContainer(ctx, c); err != nil {
		t.Fatal(err)
	}
	got, err := s.GetContainer(ctx, "ws1", "container_3")
	if err != nil || !sameContainer(got, c) {
		t.Errorf("after update = %+v, %v; want %+v", got, err, c)
	}
	if err := s.UpdateContainer(ctx, &sandbox.Container{ID: "container_3", Workspace: "ws2", Status: sandbox.StatusExpired,
		CreatedAt: base, LastActiveAt: base, IdleExpiresAt: base, ExpiresAt: base}); !errors.Is(err, errdefs.ErrNotFound) {
		t.Errorf("update from another workspace = %v, want not found", err)
	}
	c.Status = sandbox.StatusExpired
	if err := s.UpdateContainer(ctx, c); err != nil {
		t.Fatal(err)
	}
	all, err := s.AllContainers(ctx)
	ids := containerIDs(all)
	sort.Strings(ids)
	if err != nil || fmt.Sprint(ids) != "[container_0 container_1 container_2 container_4]" {
		t.Errorf("AllContainers = %v, %v; want the 4 unexpired", ids, err)
	}
	if err := s.DeleteContainer(ctx, "ws2", "container_1"); !errors.Is(err, errdefs.ErrNotFound) {
		t.Errorf("delete from other workspace = %v, want not found", err)
	}
	if err := s.DeleteContainer(ctx, "ws1", "container_1"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.GetContainer(ctx, "ws1", "container_1"); !errors.Is(err, errdefs.ErrNotFound) {
		t.Errorf("after delete = %v, want not found", err)
	}
	if err := s.DeleteContainer(ctx, "ws1", "container_1"); !errors.Is(err, errdefs.ErrNotFound) {
		t.Errorf("second delete = %v, want not found", err)
	}
}

// sameContainer compares what a store keeps of a container, times by instant.
func sameContainer(a, b *sandbox.Container) bool {
	ta := []time.Time{a.CreatedAt, a.LastActiveAt, a.IdleExpiresAt, a.ExpiresAt}
	tb := []time.Time{b.CreatedAt, b.LastActiveAt, b.IdleExpiresAt, b.ExpiresAt}
	for i := range ta {
		if !ta[i].Equal(tb[i]) {
			return false
		}
	}
	a2, b2 := *a, *b
	a2.CreatedAt, a2.LastActiveAt, a2.IdleExpiresAt, a2.ExpiresAt = time.Time{}, time.Time{}, time.Time{}, time.Time{}
	b2.CreatedAt, b2.LastActiveAt, b2.IdleExpiresAt, b2.ExpiresAt = time.Time{}, time.Time{}, time.Time{}, time.Time{}
	return reflect.DeepEqual(a2, b2)
}

// containerIDs are the IDs of cs, in their order.
func containerIDs(cs []*sandbox.Container) []string {
	var out []string
	for _, c := range cs {
		out = append(out, c.ID)
	}
	return out
}

func testProvisional(t *testing.T, s sandbox.Store) {
	ctx := context.Background()
	c := running("container_p", time.Date(2026, 11, 20, 12, 0, 0, 0, time.UTC))
	c.Provisional = true
	if err := s.CreateContainer(ctx, c); err != nil {
		t.Fatal(err)
	}
	all, err := s.AllContainers(ctx)
	if err != nil || len(all) != 1 || !all[0].Provisional {
		t.Fatalf("AllContainers = %+v, %v; want the provisional container", all, err)
	}
	c.Provisional = false
	if err := s.UpdateContainer(ctx, c); err != nil {
		t.Fatal(err)
	}
	if got, err := s.GetContainer(ctx, "ws1", c.ID); err != nil || got.Provisional {
		t.Errorf("after confirming: %+v, %v", got, err)
	}
}

// testLimitsAndOrder covers what OpenAI's containers API adds: a container's own memory
// limit and expiry after inactivity kept, a moving expires_at, oldest-first pages and
// the name filter.
func testLimitsAndOrder(t *testing.T, s sandbox.Store) {
	ctx := context.Background()
	base := time.Date(2026, 11, 20, 12, 0, 0, 0, time.UTC)
	for i := range 4 {
		c := &sandbox.Container{
			ID: fmt.Sprintf("container_%d", i), Workspace: "ws1", Name: []string{"a", "b"}[i%2], Status: sandbox.StatusRunning,
			CreatedAt: base.Add(time.Duration(i) * time.Second), LastActiveAt: base, IdleExpiresAt: base, ExpiresAt: base.Add(time.Hour),
			MemoryLimit: 1 << 30, ExpiresAfter: 20 * time.Minute, Image: "custom",
		}
		if err := s.CreateContainer(ctx, c); err != nil {
			t.Fatal(err)
		}
	}
	c, err := s.GetContainer(ctx, "ws1", "container_2")
	if err != nil || c.MemoryLimit != 1<<30 || c.ExpiresAfter != 20*time.Minute || c.Image != "custom" {
		t.Fatalf("GetContainer = %+v, %v; want 1 GiB, 20 minutes and image custom", c, err)
	}
	c.ExpiresAt = base.Add(2 * time.Hour)
	if err := s.UpdateContainer(ctx, c); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.GetContainer(ctx, "ws1", c.ID); got == nil || !got.ExpiresAt.Equal(c.ExpiresAt) {
		t.Errorf("after update = %+v, want expires_at %v", got, c.ExpiresAt)
	}
	page, more, err := s.ListContainers(ctx, "ws1", sandbox.ListOptions{Limit: 2, Ascending: true})
	if err != nil || !more || fmt.Sprint(containerIDs(page)) != "[container_0 container_1]" {
		t.Fatalf("ascending page 1 = %v more %v err %v", containerIDs(page), more, err)
	}
	page, more, err = s.ListContainers(ctx, "ws1", sandbox.ListOptions{Limit: 2, Ascending: true, After: "container_1"})
	if err != nil || more || fmt.Sprint(containerIDs(page)) != "[container_2 container_3]" {
		t.Fatalf("ascending page 2 = %v more %v err %v", containerIDs(page), more, err)
	}
	page, _, err = s.ListContainers(ctx, "ws1", sandbox.ListOptions{Name: "b"})
	if err != nil || fmt.Sprint(containerIDs(page)) != "[container_3 container_1]" {
		t.Fatalf("named b = %v err %v", containerIDs(page), err)
	}
	// Containers created in one instant page by ID, so that no page repeats or skips one.
	for _, id := range []string{"container_t1", "container_t2", "container_t3"} {
		c := running(id, base.Add(time.Minute))
		c.Name = "tie"
		if err := s.CreateContainer(ctx, c); err != nil {
			t.Fatal(err)
		}
	}
	var seen []string
	after := ""
	for range 3 {
		page, _, err := s.ListContainers(ctx, "ws1", sandbox.ListOptions{Limit: 1, Name: "tie", After: after})
		if err != nil || len(page) != 1 {
			t.Fatalf("tie page after %q = %v, %v", after, containerIDs(page), err)
		}
		after = page[0].ID
		seen = append(seen, after)
	}
	if fmt.Sprint(seen) != "[container_t3 container_t2 container_t1]" {
		t.Errorf("pages of one instant = %v", seen)
	}
}

// testFiles: file records keep their IDs by path, an upload's record replaces the
// source of one the code made, and deleting the container forgets its files.
func testFiles(t *testing.T, s sandbox.Store) {
	ctx := context.Background()
	now := time.Date(2026, 11, 20, 12, 0, 0, 0, time.UTC)
	if err := s.CreateContainer(ctx, running("container_f", now)); err != nil {
		t.Fatal(err)
	}
	rec := func(id, p, source string) *sandbox.ContainerFile {
		return &sandbox.ContainerFile{ID: id, Workspace: "ws1", ContainerID: "container_f", Path: p, Source: source, CreatedAt: now}
	}
	if err := s.PutContainerFiles(ctx, []*sandbox.ContainerFile{rec("cfile_a", "/workspace/a", "assistant"), rec("cfile_b", "/workspace/b", "user")}, false); err != nil {
		t.Fatal(err)
	}
	// Without replace a recorded path keeps its record; with it, its ID and a new source.
	if err := s.PutContainerFiles(ctx, []*sandbox.ContainerFile{rec("cfile_a2", "/workspace/a", "assistant")}, false); err != nil {
		t.Fatal(err)
	}
	later := rec("cfile_a3", "/workspace/a", "user")
	later.CreatedAt = now.Add(time.Minute)
	if err := s.PutContainerFiles(ctx, []*sandbox.ContainerFile{later}, true); err != nil {
		t.Fatal(err)
	}
	a, err := s.GetContainerFile(ctx, "ws1", "container_f", "cfile_a")
	if err != nil || a.Path != "/workspace/a" || a.Source != "user" || !a.CreatedAt.Equal(later.CreatedAt) ||
		a.Workspace != "ws1" || a.ContainerID != "container_f" {
		t.Fatalf("cfile_a = %+v, %v; want it kept, now the user's", a, err)
	}
	for _, id := range []string{"cfile_a2", "cfile_a3"} {
		if _, err := s.GetContainerFile(ctx, "ws1", "container_f", id); !errors.Is(err, errdefs.ErrNotFound) {
			t.Errorf("%s = %v, want not found", id, err)
		}
	}
	if _, err := s.GetContainerFile(ctx, "ws2", "container_f", "cfile_a"); !errors.Is(err, errdefs.ErrNotFound) {
		t.Errorf("another workspace's file = %v, want not found", err)
	}
	all, err := s.ContainerFiles(ctx, "ws1", "container_f")
	sort.Slice(all, func(i, j int) bool { return all[i].ID < all[j].ID })
	if err != nil || len(all) != 2 || all[0].ID != "cfile_a" || all[1].ID != "cfile_b" || all[1].Source != "user" {
		t.Fatalf("ContainerFiles = %+v, %v; want cfile_a and cfile_b", all, err)
	}
	if other, err := s.ContainerFiles(ctx, "ws2", "container_f"); err != nil || len(other) != 0 {
		t.Errorf("ContainerFiles from another workspace = %+v, %v; want none", other, err)
	}
	// Deleting from another workspace leaves the record alone; nothing to delete is no error.
	if err := s.DeleteContainerFiles(ctx, "ws2", "container_f", "cfile_b"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.GetContainerFile(ctx, "ws1", "container_f", "cfile_b"); err != nil {
		t.Fatalf("cfile_b after a delete from another workspace: %v", err)
	}
	if err := s.DeleteContainerFiles(ctx, "ws1", "container_f"); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteContainerFiles(ctx, "ws1", "container_f", "cfile_b", "cfile_none"); err != nil {
		t.Fatal(err)
	}
	if all, err := s.ContainerFiles(ctx, "ws1", "container_f"); err != nil || len(all) != 1 || all[0].ID != "cfile_a" {
		t.Fatalf("ContainerFiles = %+v, %v; want cfile_a only", all, err)
	}
	if err := s.DeleteContainer(ctx, "ws1", "container_f"); err != nil {
		t.Fatal(err)
	}
	if all, err := s.ContainerFiles(ctx, "ws1", "container_f"); err != nil || len(all) != 0 {
		t.Errorf("after deleting the container: %+v, %v; want none", all, err)
	}
}
