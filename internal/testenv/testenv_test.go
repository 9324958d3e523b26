package testenv

import (
	"fmt"
	"testing"
)

func TestStrict(t *testing.T) {
	for _, c := range []struct {
		ci, strict string
		want       bool
	}{
		{"", "", false},
		{"true", "", true},
		{"1", "", true},
		{"false", "", false},
		{"", "1", true},
		{"", "yes", true}, // not a boolean: strict
		{"true", "0", false},
		{"false", "true", true},
	} {
		t.Setenv("CI", c.ci)
		t.Setenv(StrictEnv, c.strict)
		if got := Strict(); got != c.want {
			t.Errorf("CI=%q %s=%q: Strict() = %v, want %v", c.ci, StrictEnv, c.strict, got, c.want)
		}
	}
}

// recorder is a testing.TB that records how a test was stopped.
type recorder struct {
	testing.TB
	skipped, failed string
}

func (r *recorder) Helper() {}
func (r *recorder) Skipf(format string, args ...any) {
	r.skipped = fmt.Sprintf(format, args...)
}
func (r *recorder) Fatalf(format string, args ...any) {
	r.failed = fmt.Sprintf(format, args...)
}

func TestMissing(t *testing.T) {
	t.Setenv("CI", "")
	t.Setenv(StrictEnv, "0")
	r := &recorder{TB: t}
	Missing(r, "needs %s", "runc")
	if r.skipped != "needs runc" || r.failed != "" {
		t.Errorf("not strict: skipped %q failed %q, want a skip", r.skipped, r.failed)
	}

	t.Setenv(StrictEnv, "1")
	r = &recorder{TB: t}
	NeedCommand(r, "codebox-no-such-program")
	if r.failed == "" || r.skipped != "" {
		t.Errorf("strict: skipped %q failed %q, want a failure", r.skipped, r.failed)
	}
}
