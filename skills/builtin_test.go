package skills_test

import (
	"fmt"
	"io/fs"
	"regexp"
	"strings"
	"testing"

	"github.com/codebox-dev/codebox/skills"
)

// builtinNames are the skills codebox ships as type "anthropic".
var builtinNames = []string{"docx", "pdf", "pptx", "xlsx"}

var (
	validName = regexp.MustCompile(`^[a-z0-9-]{1,64}$`)
	xmlTag    = regexp.MustCompile(`<[^>]*>`)
)

// TestBuiltinFrontmatter checks every built-in SKILL.md against the upload rules for
// frontmatter: a name of at most 64 characters of [a-z0-9-] without the reserved words,
// a description of 1 to 1024 characters, no XML tags in either.
func TestBuiltinFrontmatter(t *testing.T) {
	dirs, err := fs.ReadDir(skills.Builtin, ".")
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, d := range dirs {
		names = append(names, d.Name())
		if !d.IsDir() {
			t.Errorf("%s: built-in skills are directories", d.Name())
			continue
		}
		data, err := fs.ReadFile(skills.Builtin, d.Name()+"/SKILL.md")
		if err != nil {
			t.Errorf("%s: %v", d.Name(), err)
			continue
		}
		meta, err := frontmatter(string(data))
		if err != nil {
			t.Errorf("%s/SKILL.md: %v", d.Name(), err)
			continue
		}
		name, desc := meta["name"], meta["description"]
		if name != d.Name() {
			t.Errorf("%s/SKILL.md: name %q, want the directory's name", d.Name(), name)
		}
		if !validName.MatchString(name) || strings.Contains(name, "anthropic") || strings.Contains(name, "claude") {
			t.Errorf("%s/SKILL.md: name %q breaks the naming rules", d.Name(), name)
		}
		if n := len([]rune(desc)); n < 1 || n > 1024 {
			t.Errorf("%s/SKILL.md: description of %d characters, want 1 to 1024", d.Name(), n)
		}
		if xmlTag.MatchString(name) || xmlTag.MatchString(desc) {
			t.Errorf("%s/SKILL.md: XML tags in the frontmatter", d.Name())
		}
	}
	if strings.Join(names, ",") != strings.Join(builtinNames, ",") {
		t.Errorf("built-in skills %v, want %v", names, builtinNames)
	}
}

// frontmatter returns the "key: value" lines between the leading "---" lines. The
// values must be plain YAML scalars on one line, which is all SKILL.md files need.
func frontmatter(doc string) (map[string]string, error) {
	rest, ok := strings.CutPrefix(doc, "---\n")
	if !ok {
		return nil, fmt.Errorf("no frontmatter: the file must start with a --- line")
	}
	block, _, ok := strings.Cut(rest, "\n---\n")
	if !ok {
		return nil, fmt.Errorf("the frontmatter has no closing --- line")
	}
	meta := map[string]string{}
	for line := range strings.SplitSeq(block, "\n") {
		key, value, ok := strings.Cut(line, ": ")
		if !ok || strings.Contains(value, ": ") || strings.Contains(value, " #") || strings.ContainsAny(value[:1], `"'[]{}>|*&!%@`+"`") {
			return nil, fmt.Errorf("line %q is not a plain one-line YAML key: value", line)
		}
		meta[key] = value
	}
	return meta, nil
}
