package skills

import (
	"embed"
	"io/fs"
)

//go:embed builtin
var builtin embed.FS

// Builtin holds the built-in skills, one top-level directory each, named for the skill
// ("xlsx/SKILL.md", "xlsx/scripts/recalc.py", ...).
var Builtin fs.FS = mustSub(builtin, "builtin")

func mustSub(f fs.FS, dir string) fs.FS {
	sub, err := fs.Sub(f, dir)
	if err != nil {
		panic(err)
	}
	return sub
}
