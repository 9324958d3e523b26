package main

import (
	"encoding/json"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/codebox-dev/codebox/image"
	"github.com/codebox-dev/codebox/internal/testenv"
	"github.com/codebox-dev/codebox/sandbox/sandboxtest"
)

// customCheck is run in a container of the custom image: it uses the recipe's Debian
// package, its pinned wheel and its file.
const customCheck = `figlet -v | head -1; python3 -c 'import cowsay, importlib.metadata as m; print("cowsay", m.version("cowsay"))'; cat /opt/extra/marker.txt`

// checkCustomOutput reports what customCheck's output lacks.
func checkCustomOutput(t *testing.T, what, out string) {
	t.Helper()
	for _, want := range []string{"FIGlet", "cowsay 6.1", "copied in by the recipe"} {
		if !strings.Contains(out, want) {
			t.Errorf("%s: output %q lacks %q", what, out, want)
		}
	}
}

// TestCustomImageEndToEnd: an operator builds a custom image with the CLI (made from
// the built default image), lists it, makes it a workspace's default, and containers
// made through the containers API and through a Messages request naming it in
// container.image run it, with its extra Debian package, pinned wheel and file. It
// builds an image from deb.debian.org and the Python package index, so it runs only
// with CODEBOX_TEST_BUILD=1 (which `make test`, and so CI, sets), as root.
func TestCustomImageEndToEnd(t *testing.T) {
	if os.Getenv("CODEBOX_TEST_BUILD") != "1" {
		testenv.Missing(t, "set CODEBOX_TEST_BUILD=1 to build a custom image (root, network, a minute or two)")
	}
	testenv.NeedRoot(t)
	testenv.NeedCommand(t, "python3")
	sandboxtest.Require(t, "runc")
	sandboxtest.RootFS(t) // the default image the custom one is made from
	imageDir := testenv.ImageDir()
	bin := codeboxBinary(t)
	data := t.TempDir()
	cli := func(args ...string) string {
		t.Helper()
		cmd := exec.Command(bin, append(args, "--data-dir", data, "--image-dir", imageDir)...)
		cmd.Env = os.Environ()
		out, err := cmd.Output()
		if err != nil {
			var stderr []byte
			if ee, ok := err.(*exec.ExitError); ok {
				stderr = ee.Stderr
			}
			t.Fatalf("codebox %v: %v\n%s", args, err, stderr)
		}
		return strings.TrimSpace(string(out))
	}

	src := t.TempDir()
	const name = "e2e-custom"
	for file, content := range map[string]string{
		"extra.lock": "cowsay==6.1 --hash=sha256:274b1e6fc1b966d53976333eb90ac94cb07a450a700b455af9fbdf882244b30a\n",
		"marker.txt": "copied in by the recipe\n",
		"recipe.json": `{"name": "` + name + `", "packages": ["figlet"], "lock": "extra.lock",
			"modules": [{"name": "cowsay", "import": "cowsay", "wheel": "cowsay"}],
			"tools": ["figlet"],
			"files": [{"src": "marker.txt", "dest": "/opt/extra/marker.txt"}]}`,
	} {
		if err := os.WriteFile(filepath.Join(src, file), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	recipe := filepath.Join(src, "recipe.json")
	r, err := image.LoadRecipeFile(recipe)
	if err != nil {
		t.Fatal(err)
	}
	// The image is built by this test, not found from an earlier run, and it does not
	// stay in the shared image directory.
	remove := func() {
		os.RemoveAll(filepath.Join(imageDir, r.Hash()))
		os.Remove(filepath.Join(imageDir, ".named", name+".json"))
	}
	remove()
	t.Cleanup(remove)

	rootfs := cli("image", "build", "--recipe", recipe)
	img, err := image.Resolve(imageDir, name)
	if err != nil {
		t.Fatal(err)
	}
	def, err := image.Lookup(imageDir)
	if err != nil {
		t.Fatal(err)
	}
	if img.RootFS != rootfs || img.Manifest.Base != def.Hash {
		t.Errorf("built %s from %q, want %s made from the default image %s", rootfs, img.Manifest.Base, img.RootFS, def.Hash)
	}
	list := cli("image", "list")
	if !strings.Contains(list, name) || !strings.Contains(list, img.Hash) {
		t.Errorf("image list lacks %s (%s):\n%s", name, img.Hash, list)
	}

	script := filepath.Join(src, "custom.json")
	turns := map[string]any{"turns": []any{
		map[string]any{"content": []any{map[string]any{"type": "tool_use", "name": "bash_code_execution",
			"input": map[string]any{"command": customCheck}}}},
		map[string]any{"content": []any{map[string]any{"type": "text", "text": "Done."}}},
	}}
	b, _ := json.Marshal(turns)
	if err := os.WriteFile(script, b, 0o644); err != nil {
		t.Fatal(err)
	}
	srv := startSandboxChild(t, data, imageDir, "--pool-size", "0", "--script", script)

	// The workspace's default: a container made through the containers API runs it.
	cli("image", "default", "--workspace", "default", name)
	if got := cli("image", "default", "--workspace", "default"); got != name {
		t.Errorf("image default = %q, want %s", got, name)
	}
	var ctr struct {
		ID    string `json:"id"`
		Image string `json:"image"`
	}
	if st := srv.call(t, "POST", "/v1/containers", map[string]any{"name": "custom"}, &ctr); st != http.StatusOK || ctr.Image != name {
		t.Fatalf("POST /v1/containers = %d %+v, want a container of %s", st, ctr, name)
	}
	var res struct {
		Stdout     string `json:"stdout"`
		Stderr     string `json:"stderr"`
		ReturnCode int    `json:"return_code"`
	}
	if st := srv.call(t, "POST", "/v1/containers/"+ctr.ID+"/exec", map[string]any{"command": customCheck}, &res); st != http.StatusOK || res.ReturnCode != 0 {
		t.Errorf("exec = %d %+v", st, res)
	}
	checkCustomOutput(t, "containers API", res.Stdout)

	// Back to the built-in image by default; a Messages request names the custom one.
	cli("image", "default", "--workspace", "default", image.DefaultName)
	var msg struct {
		Container struct {
			ID string `json:"id"`
		} `json:"container"`
		Content []struct {
			Type    string `json:"type"`
			Content struct {
				Stdout     string `json:"stdout"`
				ReturnCode int    `json:"return_code"`
			} `json:"content"`
		} `json:"content"`
	}
	body := map[string]any{
		"model": "script/custom", "max_tokens": 1024,
		"messages":  []any{map[string]any{"role": "user", "content": "Which tools does the image have?"}},
		"tools":     []any{map[string]any{"type": "code_execution_20250825", "name": "code_execution"}},
		"container": map[string]any{"image": name},
	}
	if st := srv.call(t, "POST", "/v1/messages", body, &msg); st != http.StatusOK {
		t.Fatalf("POST /v1/messages = %d", st)
	}
	var out string
	for _, c := range msg.Content {
		if c.Type == "bash_code_execution_tool_result" {
			out += c.Content.Stdout
		}
	}
	checkCustomOutput(t, "Messages container.image", out)
	var got struct {
		Image string `json:"image"`
	}
	if st := srv.call(t, "GET", "/v1/containers/"+msg.Container.ID, nil, &got); st != http.StatusOK || got.Image != name {
		t.Errorf("the Messages request's container %s = %d %+v, want image %s", msg.Container.ID, st, got, name)
	}
	var plain struct {
		Image string `json:"image"`
	}
	if srv.call(t, "POST", "/v1/containers", map[string]any{}, &plain); plain.Image == name {
		t.Errorf("after image default %s, a new container still runs %s", image.DefaultName, name)
	}
}
