package skills

import (
	"errors"
	"strings"
	"testing"

	"github.com/codebox-dev/codebox/errdefs"
)

func TestParseFrontmatter(t *testing.T) {
	good := []struct {
		md         string
		name, desc string
	}{
		{"---\nname: report-writer\ndescription: Writes quarterly reports.\n---\n# Body\n", "report-writer", "Writes quarterly reports."},
		{"\ufeff---\r\nname: \"csv2\"\r\ndescription: 'It''s for CSV'\r\n---\r\n", "csv2", "It's for CSV"},
		{"---\nname: x # a comment\ndescription: >\n  Folded\n  text.\nmetadata:\n  version: 2\n---\n", "x", "Folded text."},
		{"---\nname: y\ndescription: |\n  Line one.\n  Line two.\n---\n", "y", "Line one.\nLine two."},
		{"---\nname: z\ndescription: starts here\n  and goes on\n---\n", "z", "starts here and goes on"},
	}
	for _, g := range good {
		fm, err := ParseFrontmatter([]byte(g.md))
		if err != nil {
			t.Errorf("%q: %v", g.md, err)
			continue
		}
		if fm.Name != g.name || fm.Description != g.desc {
			t.Errorf("%q: got %q / %q, want %q / %q", g.md, fm.Name, fm.Description, g.name, g.desc)
		}
	}
	bad := map[string]string{
		"# no frontmatter\n":                                                  "must start with YAML frontmatter",
		"---\nname: a\ndescription: b\n":                                      "not closed",
		"---\ndescription: b\n---\n":                                          "name is required",
		"---\nname: a\n---\n":                                                 "description is required",
		"---\nname: My Skill\ndescription: b\n---\n":                          "lowercase letters, digits and hyphens",
		"---\nname: " + strings.Repeat("a", 65) + "\ndescription: b\n---\n":   "at most 64",
		"---\nname: claude-helper\ndescription: b\n---\n":                     `reserved word "claude"`,
		"---\nname: my-anthropic\ndescription: b\n---\n":                      `reserved word "anthropic"`,
		"---\nname: <b>x</b>\ndescription: b\n---\n":                          "XML tags",
		"---\nname: a\ndescription: use <tool> here\n---\n":                   "XML tags",
		"---\nname: a\ndescription: " + strings.Repeat("d", 1025) + "\n---\n": "at most 1024",
		"---\nname: a\ndescription: \xff\n---\n":                              "UTF-8",
	}
	for md, want := range bad {
		_, err := ParseFrontmatter([]byte(md))
		if !errors.Is(err, errdefs.ErrInvalid) || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: %v, want ErrInvalid containing %q", md, err, want)
		}
	}
	// 1024 characters (not bytes) is the limit.
	if _, err := ParseFrontmatter([]byte("---\nname: a\ndescription: " + strings.Repeat("é", 1024) + "\n---\n")); err != nil {
		t.Errorf("1024 two-byte characters: %v", err)
	}
}
