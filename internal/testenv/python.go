package testenv

import (
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"testing"
)

// PythonVenv returns the python of the virtual environment scripts/pyvenv.sh makes for
// the requirements file at path (one of e2e/python/requirements*.txt):
// $CODEBOX_PYVENV_DIR (default /var/cache/codebox/pyvenv)/<sha256 of the file>/bin/python.
// Without it the test stops as Missing.
func PythonVenv(t testing.TB, requirements string) string {
	t.Helper()
	req, err := os.ReadFile(requirements)
	if err != nil {
		t.Fatal(err)
	}
	root := os.Getenv("CODEBOX_PYVENV_DIR")
	if root == "" {
		root = "/var/cache/codebox/pyvenv"
	}
	sum := sha256.Sum256(req)
	py := filepath.Join(root, hex.EncodeToString(sum[:]), "bin", "python")
	if _, err := os.Stat(py); err != nil {
		Missing(t, "the Python SDKs of %s are not installed (run scripts/pyvenv.sh): %v", filepath.Base(requirements), err)
	}
	return py
}
