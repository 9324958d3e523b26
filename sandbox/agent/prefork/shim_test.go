package prefork

import (
	"os"
	"path/filepath"
	"slices"
	"testing"
)

func TestStripPath(t *testing.T) {
	got := stripPath([]string{"A=1", "PATH=" + BinDir + ":/usr/bin:" + BinDir + ":/bin", "B=" + BinDir})
	want := []string{"A=1", "PATH=/usr/bin:/bin", "B=" + BinDir}
	if !slices.Equal(got, want) {
		t.Errorf("stripPath = %q, want %q", got, want)
	}
}

func TestLookPython(t *testing.T) {
	empty, bin := t.TempDir(), t.TempDir()
	if err := os.WriteFile(filepath.Join(empty, "python3"), nil, 0o644); err != nil {
		t.Fatal(err) // not executable: skipped, as execvp would
	}
	if err := os.WriteFile(filepath.Join(bin, "python3"), nil, 0o755); err != nil {
		t.Fatal(err)
	}
	if got := lookPython([]string{"PATH=" + empty}); got != "" {
		t.Errorf("lookPython with no executable python3 on PATH = %q", got)
	}
	if got, want := lookPython([]string{"PATH=" + empty + ":" + bin}), filepath.Join(bin, "python3"); got != want {
		t.Errorf("lookPython = %q, want %q", got, want)
	}
}

func TestShimScript(t *testing.T) {
	if got := ShimScript("/run/codebox-agent"); got != "#!/run/codebox-agent python3-shim\n" {
		t.Errorf("ShimScript = %q", got)
	}
}
