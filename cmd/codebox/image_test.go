package main

import (
	"strings"
	"testing"

	"github.com/codebox-dev/codebox/image"
)

// image info names each library's version and where it comes from.
func TestPrintImageInfoSources(t *testing.T) {
	r := image.DefaultRecipe()
	m := &image.Manifest{Hash: r.Hash(), Recipe: r, Python: "3.11.2", Base: "0aea334f6d135888", Modules: []image.ModuleStatus{
		{Module: image.Module{Name: "pandas", Import: "pandas", Package: "python3-pandas"}, Version: "1.5.3"},
		{Module: image.Module{Name: "pyarrow", Import: "pyarrow", Wheel: "pyarrow"}, Version: "25.0.0"},
	}}
	var out strings.Builder
	if err := printImageInfo(&out, &image.Image{RootFS: "/images/x/rootfs", Hash: m.Hash, Manifest: m}); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"Image:", "default", "SOURCE", "1.5.3", "debian python3-pandas", "25.0.0", "wheel pyarrow", "Made from:", "0aea334f6d135888"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("image info lacks %q:\n%s", want, out.String())
		}
	}
}
