package skills_test

import (
	"bytes"
	"io/fs"
	"path"
	"strings"
	"testing"

	"github.com/codebox-dev/codebox/skills"
)

// builtinNames are the skills codebox ships as type "anthropic".
var builtinNames = []string{"docx", "pdf", "pptx", "xlsx"}

// TestBuiltinFrontmatter checks every built-in SKILL.md against the upload rules
// (ParseFrontmatter), its name against its directory's, and that its frontmatter values
// are plain one-line YAML scalars that any YAML parser reads the same way.
func TestBuiltinFrontmatter(t *testing.T) {
	dirs, err := fs.ReadDir(skills.Builtin, ".")
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, d := range dirs {
		names = append(names, d.Name())
		data, err := fs.ReadFile(skills.Builtin, d.Name()+"/"+skills.SkillFile)
		if err != nil {
			t.Errorf("%s: %v", d.Name(), err)
			continue
		}
		fm, err := skills.ParseFrontmatter(data)
		if err != nil {
			t.Errorf("%s/SKILL.md: %v", d.Name(), err)
			continue
		}
		if fm.Name != d.Name() {
			t.Errorf("%s/SKILL.md: name %q, want the directory's name", d.Name(), fm.Name)
		}
		block, _, _ := strings.Cut(strings.TrimPrefix(string(data), "---\n"), "\n---\n")
		for line := range strings.SplitSeq(block, "\n") {
			_, value, ok := strings.Cut(line, ": ")
			if !ok || strings.Contains(value, ": ") || strings.Contains(value, " #") || strings.ContainsAny(value[:1], `"'[]{}>|*&!%@`+"`") {
				t.Errorf("%s/SKILL.md: %q is not a plain one-line YAML key: value", d.Name(), line)
			}
		}
	}
	if strings.Join(names, ",") != strings.Join(builtinNames, ",") {
		t.Errorf("built-in skills %v, want %v", names, builtinNames)
	}
}

// TestBuiltinSharedScripts keeps the copies of a module several skills use identical:
// each skill folder stands alone (a request may load one without the others), so a
// shared script lives in each, under the same name.
func TestBuiltinSharedScripts(t *testing.T) {
	first := map[string]string{} // script name → the skill whose copy is compared against
	err := fs.WalkDir(skills.Builtin, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || path.Base(path.Dir(p)) != "scripts" {
			return err
		}
		skill, name := strings.Split(p, "/")[0], path.Base(p)
		ref, ok := first[name]
		if !ok {
			first[name] = skill
			return nil
		}
		a, err := fs.ReadFile(skills.Builtin, path.Join(ref, "scripts", name))
		if err != nil {
			return err
		}
		b, err := fs.ReadFile(skills.Builtin, p)
		if err != nil {
			return err
		}
		if !bytes.Equal(a, b) {
			t.Errorf("%s differs from %s/scripts/%s: copies of a shared script must be identical", p, ref, name)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if first["mdblocks.py"] == "" {
		t.Error("no skill has scripts/mdblocks.py")
	}
}
