package sandbox_test

import (
	"testing"

	"github.com/codebox-dev/codebox/sandbox"
)

func TestUploadName(t *testing.T) {
	for in, want := range map[string]string{
		"sales.csv": "sales.csv", "a/b/c.csv": "c.csv", `C:\data\x.txt`: "x.txt", "dir/": "dir",
		"": "", ".": "", "..": "", "/": "", "a/..": "", `\`: "",
	} {
		if got := sandbox.UploadName(in); got != want {
			t.Errorf("UploadName(%q) = %q, want %q", in, got, want)
		}
	}
}
