// Package testenv decides what a test does when a real part it needs (root, a runtime,
// the container image, a command) is missing: on a developer's machine it skips with
// the reason, in CI it fails, so that a green CI run means every test really ran.
//
// CI is recognised by CI=true (set by CI services) or CODEBOX_TEST_STRICT=1 (set by
// .ci/run); CODEBOX_TEST_STRICT=0 turns strictness off even under CI.
//
// Skip with testenv, not t.Skip, whenever the reason is a missing part:
//
//	testenv.NeedRoot(t)
//	testenv.NeedCommand(t, "runc", "mkfs.ext4")
//	if err != nil {
//		testenv.Missing(t, "no image in %s: %v", dir, err)
//	}
//
// A plain t.Skip stays right for a test that is switched off on purpose (testing.Short).
package testenv

import (
	"os"
	"os/exec"
	"strconv"
	"testing"
)

// StrictEnv is the variable that makes a missing part fail the test.
const StrictEnv = "CODEBOX_TEST_STRICT"

// Strict reports whether a missing part fails the test instead of skipping it.
func Strict() bool {
	if v, ok := os.LookupEnv(StrictEnv); ok && v != "" {
		b, err := strconv.ParseBool(v)
		return err != nil || b // a value that is not a boolean errs on the strict side
	}
	b, _ := strconv.ParseBool(os.Getenv("CI"))
	return b
}

// Missing stops the test because a part it needs is missing: t.Skipf normally,
// t.Fatalf when Strict.
func Missing(t testing.TB, format string, args ...any) {
	t.Helper()
	if Strict() {
		t.Fatalf("missing in CI ("+StrictEnv+"): "+format, args...)
	} else {
		t.Skipf(format, args...)
	}
}

// NeedRoot stops the test (see Missing) unless it runs as root.
func NeedRoot(t testing.TB) {
	t.Helper()
	if os.Geteuid() != 0 {
		Missing(t, "needs root (containers, mounts, cgroups, chroot)")
	}
}

// NeedCommand stops the test (see Missing) unless every named program is in PATH.
func NeedCommand(t testing.TB, names ...string) {
	t.Helper()
	for _, name := range names {
		if _, err := exec.LookPath(name); err != nil {
			Missing(t, "needs %s: %v", name, err)
		}
	}
}

// ImageDir is where tests find the built container image: CODEBOX_TEST_IMAGE_DIR,
// default /var/cache/codebox/images (where `make image` builds it).
func ImageDir() string {
	if dir := os.Getenv("CODEBOX_TEST_IMAGE_DIR"); dir != "" {
		return dir
	}
	return "/var/cache/codebox/images"
}
