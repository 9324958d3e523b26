package skills

import (
	"bufio"
	"bytes"
	"regexp"
	"strings"
	"unicode/utf8"

	"github.com/codebox-dev/codebox/errdefs"
)

// Limits of a skill's frontmatter (Anthropic's, so that skills move between the two).
const (
	MaxNameLen        = 64
	MaxDescriptionLen = 1024
)

var (
	nameRE = regexp.MustCompile(`^[a-z0-9-]+$`)
	xmlTag = regexp.MustCompile(`<[A-Za-z/!?][^<>]*>`)
)

// reservedWords may not appear in a skill's name: they would pass a custom skill off as
// one of the vendor's.
var reservedWords = []string{"anthropic", "claude"}

// Frontmatter is the metadata at the top of a SKILL.md.
type Frontmatter struct {
	Name        string
	Description string
}

// ParseFrontmatter reads the YAML frontmatter of a SKILL.md (between two "---" lines at
// its start) and validates name and description. Only the scalar forms skills use are
// understood: plain, quoted, and the block scalars "|" and ">".
func ParseFrontmatter(md []byte) (Frontmatter, error) {
	var fm Frontmatter
	md = bytes.TrimPrefix(md, []byte("\ufeff"))
	if !utf8.Valid(md) {
		return fm, invalid("SKILL.md must be UTF-8 text")
	}
	sc := bufio.NewScanner(bytes.NewReader(md))
	sc.Buffer(make([]byte, 0, 64<<10), len(md)+1)
	var lines []string
	closed := false
	for i := 0; sc.Scan(); i++ {
		line := strings.TrimRight(sc.Text(), " \t\r")
		if i == 0 {
			if line != "---" {
				return fm, invalid("SKILL.md must start with YAML frontmatter between --- lines, with name and description")
			}
			continue
		}
		if line == "---" {
			closed = true
			break
		}
		lines = append(lines, line)
	}
	if !closed {
		return fm, invalid("SKILL.md frontmatter is not closed by a --- line")
	}
	fields := parseScalars(lines)
	fm.Name, fm.Description = fields["name"], fields["description"]
	return fm, fm.validate()
}

func (fm Frontmatter) validate() error {
	switch n := fm.Name; {
	case n == "":
		return invalid("SKILL.md frontmatter: name is required")
	case len(n) > MaxNameLen:
		return invalid("SKILL.md frontmatter: name must be at most %d characters", MaxNameLen)
	case xmlTag.MatchString(n):
		return invalid("SKILL.md frontmatter: name must not contain XML tags")
	case !nameRE.MatchString(n):
		return invalid("SKILL.md frontmatter: name %q may contain only lowercase letters, digits and hyphens", n)
	}
	for _, w := range reservedWords {
		if strings.Contains(fm.Name, w) {
			return invalid("SKILL.md frontmatter: name must not contain the reserved word %q", w)
		}
	}
	switch d := fm.Description; {
	case strings.TrimSpace(d) == "":
		return invalid("SKILL.md frontmatter: description is required")
	case utf8.RuneCountInString(d) > MaxDescriptionLen:
		return invalid("SKILL.md frontmatter: description must be at most %d characters", MaxDescriptionLen)
	case xmlTag.MatchString(d):
		return invalid("SKILL.md frontmatter: description must not contain XML tags")
	}
	return nil
}

// parseScalars returns the top-level "key: value" pairs of lines. Nested maps and lists
// (metadata, allowed-tools) are skipped.
func parseScalars(lines []string) map[string]string {
	out := map[string]string{}
	for i := 0; i < len(lines); i++ {
		line := lines[i]
		if line == "" || line[0] == ' ' || line[0] == '\t' || line[0] == '#' {
			continue
		}
		key, val, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		key, val = strings.TrimSpace(key), strings.TrimSpace(val)
		// Indented lines that follow belong to this key: a block scalar's text, or the
		// continuation of a plain one.
		var more []string
		for i+1 < len(lines) && (lines[i+1] == "" || lines[i+1][0] == ' ' || lines[i+1][0] == '\t') {
			i++
			more = append(more, strings.TrimSpace(lines[i]))
		}
		for len(more) > 0 && more[len(more)-1] == "" {
			more = more[:len(more)-1]
		}
		switch {
		case strings.HasPrefix(val, "|"):
			val = strings.Join(more, "\n")
		case strings.HasPrefix(val, ">"):
			val = strings.Join(more, " ")
		default:
			if len(more) > 0 {
				val = strings.TrimSpace(val + " " + strings.Join(more, " "))
			}
			val = unquote(val)
		}
		out[key] = val
	}
	return out
}

func unquote(s string) string {
	if len(s) >= 2 {
		switch {
		case s[0] == '"' && s[len(s)-1] == '"':
			r := strings.NewReplacer(`\"`, `"`, `\\`, `\`, `\n`, "\n")
			return r.Replace(s[1 : len(s)-1])
		case s[0] == '\'' && s[len(s)-1] == '\'':
			return strings.ReplaceAll(s[1:len(s)-1], "''", "'")
		}
	}
	// A plain scalar ends at a comment.
	if i := strings.Index(s, " #"); i >= 0 {
		s = strings.TrimSpace(s[:i])
	}
	return s
}

func invalid(format string, args ...any) error {
	return errdefs.New(errdefs.ErrInvalid, "", format, args...)
}
