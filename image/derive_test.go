package image

import (
	"slices"
	"testing"
)

// TestDerivable: a custom recipe that only adds packages, wheels, modules, tools and
// files to its base is built from the base's image; one that changes anything else is
// not.
func TestDerivable(t *testing.T) {
	base := DefaultRecipe()
	extra := Wheel{Name: "cowsay", Version: "6.1", SHA256: "274b1e6fc1b966d53976333eb90ac94cb07a450a700b455af9fbdf882244b30a"}
	r := DefaultRecipe()
	r.Name = "custom"
	r.Packages = append(r.Packages, "figlet")
	r.Wheels = append(r.Wheels, extra)
	r.Modules = append(r.Modules, Module{Name: "cowsay", Import: "cowsay", Wheel: "cowsay"})
	r.Tools = append(r.Tools, "figlet")
	r.Files = []File{{Dest: "/opt/x", Mode: 0o644, SHA256: extra.SHA256}}
	pkgs, wheels, ok := derivable(r, base)
	if !ok || !slices.Equal(pkgs, []string{"figlet"}) || !slices.Equal(wheels, []Wheel{extra}) {
		t.Errorf("derivable(custom) = %v, %v, %v; want [figlet], [%s], true", pkgs, wheels, ok, extra)
	}
	if pkgs, wheels, ok := derivable(base, base); !ok || len(pkgs) != 0 || len(wheels) != 0 {
		t.Errorf("derivable(base, base) = %v, %v, %v; want nothing to add", pkgs, wheels, ok)
	}

	for name, change := range map[string]func(*Recipe){
		"suite":          func(r *Recipe) { r.Suite = "trixie" },
		"purge":          func(r *Recipe) { r.Purge = append(r.Purge, "perl") },
		"hostname":       func(r *Recipe) { r.Hostname = "other" },
		"fewer packages": func(r *Recipe) { r.Packages = r.Packages[1:] },
		"other wheel":    func(r *Recipe) { r.Wheels[1].Version += ".1" },
	} {
		c := DefaultRecipe()
		c.Wheels = slices.Clone(c.Wheels)
		change(c)
		if _, _, ok := derivable(c, base); ok {
			t.Errorf("derivable(%s changed) = true, want false", name)
		}
	}
}
