package api

import (
	"strings"
	"testing"

	"github.com/codebox-dev/codebox/sandbox"
	"github.com/codebox-dev/codebox/sandbox/sandboxtest"
)

// TestContainerImages: POST /v1/containers takes an image name (a codebox extension);
// the container runs it and says so, an unknown name is a 400 naming it, an image
// still being built a 409.
func TestContainerImages(t *testing.T) {
	marked := sandboxtest.DerivedRootFS(t, sandboxtest.RootFS(t), map[string]string{"etc/codebox-image": "marked\n"})
	srv, _ := realServer(t, "runc", func(c *sandbox.Config) {
		c.Images = sandboxtest.Images{"marked": marked, "building": ""}
	})

	c := decode[containerJSON](t, mustDo(t, srv, call{method: "POST", path: "/v1/containers", body: jsonBody(`{"image":"marked"}`)}, 200))
	if c.Image != "marked" {
		t.Errorf("created image = %q, want marked", c.Image)
	}
	if got := decode[containerJSON](t, mustDo(t, srv, call{method: "GET", path: "/v1/containers/" + c.ID}, 200)); got.Image != "marked" {
		t.Errorf("retrieved image = %q, want marked", got.Image)
	}
	res := decode[execResultJSON](t, mustDo(t, srv, call{method: "POST", path: "/v1/containers/" + c.ID + "/exec",
		body: jsonBody(`{"command":"cat /etc/codebox-image"}`)}, 200))
	if res.Stdout != "marked\n" {
		t.Errorf("exec in the marked image = %+v", res)
	}
	if d := decode[containerJSON](t, mustDo(t, srv, call{method: "POST", path: "/v1/containers", body: jsonBody(`{}`)}, 200)); d.Image != sandbox.DefaultImage {
		t.Errorf("default container's image = %q, want %q", d.Image, sandbox.DefaultImage)
	}

	for body, want := range map[string]struct {
		status int
		typ    string
	}{
		`{"image":"no-such-image"}`: {400, "invalid_request_error"},
		`{"image":"building"}`:      {409, "conflict_error"},
	} {
		status, _, got := do(t, srv, call{method: "POST", path: "/v1/containers", body: jsonBody(body)})
		name := strings.Split(body, `"`)[3]
		if status != want.status || !strings.Contains(string(got), want.typ) || !strings.Contains(string(got), name) {
			t.Errorf("POST %s = %d %s, want %d %s naming %s", body, status, got, want.status, want.typ, name)
		}
	}
}
