package main

import (
	"crypto/sha256"
	"encoding/hex"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"testing"

	"github.com/codebox-dev/codebox/internal/testenv"
	"github.com/codebox-dev/codebox/sandbox/sandboxtest"
)

// TestConsoleInBrowser drives the web console (package web) in headless Chromium, through
// playwright-core (web/e2e/console.cjs), against `codebox serve` with the sandbox and the
// seed's scripted analysis (provider/script/testdata/sales.json): a wrong key refused in
// words, the key entered, the seed CSV dropped and uploaded, the question asked, the
// streamed answer with its highlighted commands, their output and the chart inline, the
// chart downloaded, the conversation and its files back after a reload, and the Files,
// Containers and Usage panels; on a laptop's screen and a phone's. Screenshots are written
// to web/e2e/artifacts/ and the time from send to the first streamed token, measured in
// the page, is logged.
func TestConsoleInBrowser(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the server binary and a browser")
	}
	testenv.NeedCommand(t, "node", "chromium")
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	modules := nodeModules(t, filepath.Join(root, "web/e2e/package-lock.json"))
	chromium, _ := exec.LookPath("chromium")
	runtime := sandboxtest.Runtimes()[0]
	sandboxtest.Require(t, runtime)
	sandboxtest.RootFS(t)
	srv := startChild(t, t.TempDir(), "--sandbox=true", "--sandbox-runtime", runtime, "--image-dir", testenv.ImageDir(),
		"--pool-size", "1", "--sandbox-memory", "1GiB", "--max-tool-iterations", "1", "--script", filepath.Join(root, "provider/script/testdata/sales.json"))
	t.Cleanup(func() { srv.deleteContainersAndStop(t) })

	artifacts := filepath.Join(root, "web/e2e/artifacts")
	if err := os.RemoveAll(artifacts); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("node", filepath.Join(root, "web/e2e/console.cjs"))
	cmd.Env = append(os.Environ(), "NODE_PATH="+modules, "CODEBOX_URL="+srv.url, "CODEBOX_KEY="+testAPIKey,
		"CHROMIUM="+chromium, "CSV="+filepath.Join(root, "web/e2e/sales.csv"), "MODEL=script/sales", "ARTIFACTS="+artifacts)
	out, err := cmd.CombinedOutput()
	t.Logf("%s", out)
	if err != nil {
		t.Fatalf("console.cjs: %v", err)
	}
	if n := len(regexp.MustCompile(`(?m)^screenshot `).FindAll(out, -1)); n != 16 {
		t.Errorf("%d screenshots, want 16", n)
	}
}

// nodeModules is the node_modules scripts/nodedeps.sh installed from lock:
// $CODEBOX_NODE_DIR (default /var/cache/codebox/node)/<sha256 of lock>/node_modules.
func nodeModules(t *testing.T, lock string) string {
	t.Helper()
	data, err := os.ReadFile(lock)
	if err != nil {
		t.Fatal(err)
	}
	dir := os.Getenv("CODEBOX_NODE_DIR")
	if dir == "" {
		dir = "/var/cache/codebox/node"
	}
	sum := sha256.Sum256(data)
	modules := filepath.Join(dir, hex.EncodeToString(sum[:]), "node_modules")
	if _, err := os.Stat(filepath.Join(modules, "playwright-core", "package.json")); err != nil {
		testenv.Missing(t, "playwright-core is not installed (run scripts/nodedeps.sh): %v", err)
	}
	return modules
}
