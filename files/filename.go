package files

import (
	"strings"
	"unicode/utf8"

	"github.com/codebox-dev/codebox/errdefs"
)

// MaxFilenameLen is the longest filename, in characters.
const MaxFilenameLen = 255

// forbidden are the characters a filename may not contain, besides code points 0–31.
const forbidden = `<>:"|?*\`

// CleanFilename applies the Files API's filename rules to the name a client sent: only
// the last path component is kept ("a/b/c.csv" → "c.csv"); a name with a forbidden
// character (< > : " | ? * \ or a control character 0–31), with invalid UTF-8, longer
// than 255 characters, or that is "." or "..", is errdefs.ErrInvalid. An empty result is
// returned as "", which Commit turns into "unnamed" plus an extension.
func CleanFilename(raw string) (string, error) {
	name := raw
	if i := strings.LastIndexByte(name, '/'); i >= 0 {
		name = name[i+1:]
	}
	if name == "" {
		return "", nil
	}
	if !utf8.ValidString(name) {
		return "", errdefs.New(errdefs.ErrInvalid, "", "Invalid filename: not valid UTF-8")
	}
	if name == "." || name == ".." {
		return "", errdefs.New(errdefs.ErrInvalid, "", "Invalid filename: %q", name)
	}
	for _, r := range name {
		if r < 0x20 || strings.ContainsRune(forbidden, r) {
			return "", errdefs.New(errdefs.ErrInvalid, "",
				`Invalid filename: it may not contain < > : " | ? * \ / or control characters`)
		}
	}
	if n := utf8.RuneCountInString(name); n > MaxFilenameLen {
		return "", errdefs.New(errdefs.ErrInvalid, "", "Invalid filename: %d characters, at most %d allowed", n, MaxFilenameLen)
	}
	return name, nil
}
