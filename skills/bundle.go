package skills

import (
	"archive/zip"
	"fmt"
	"io"
	"os"
	"path"
	"sort"
	"strings"

	"github.com/codebox-dev/codebox/errdefs"
)

// SkillFile is the file every skill has at its root: frontmatter, then instructions.
const SkillFile = "SKILL.md"

// maxSkillFileLen bounds the SKILL.md kept in memory to read its frontmatter.
const maxSkillFileLen = 1 << 20

// Bundle collects the files of one upload into a zip archive in a temporary file, as
// they stream in, checking their paths and their total size. Close removes it.
type Bundle struct {
	max     int64
	size    int64
	files   int
	tmp     *os.File
	zw      *zip.Writer
	paths   map[string]bool
	skillMD map[string][]byte // SKILL.md files at the root or one folder down, by path
	// archive, once finished, is the archive's size.
	archive int64
}

// NewBundle starts an upload of at most s's size limit, uncompressed.
func (s *Service) NewBundle() (*Bundle, error) {
	tmp, err := os.CreateTemp("", "codebox-skill-*.zip")
	if err != nil {
		return nil, fmt.Errorf("skill upload: %w", err)
	}
	return &Bundle{max: s.cfg.MaxSize, tmp: tmp, zw: zip.NewWriter(tmp), paths: map[string]bool{}, skillMD: map[string][]byte{}}, nil
}

// Close removes the bundle's temporary file.
func (b *Bundle) Close() error {
	if b.tmp == nil {
		return nil
	}
	name := b.tmp.Name()
	b.tmp.Close()
	b.tmp = nil
	return os.Remove(name)
}

// CleanPath checks a file's path as the client named it: relative, without "..", and
// cleaned ("a//b" is "a/b"). Backslashes are separators, as Windows clients send them.
func CleanPath(name string) (string, error) {
	p := strings.ReplaceAll(name, `\`, "/")
	if p == "" || strings.IndexByte(p, 0) >= 0 {
		return "", invalid("file path %q is not valid", name)
	}
	if strings.HasPrefix(p, "/") {
		return "", invalid("file path %q must be relative to the skill's directory", name)
	}
	p = path.Clean(p)
	for _, seg := range strings.Split(p, "/") {
		if seg == ".." || seg == "." {
			return "", invalid("file path %q must not contain . or .. segments", name)
		}
	}
	return p, nil
}

// ErrBody wraps a failure to read the client's body, so that the API can tell a cut
// request from a failure to store it.
type ErrBody struct{ Err error }

func (e *ErrBody) Error() string { return "reading upload: " + e.Err.Error() }
func (e *ErrBody) Unwrap() error { return e.Err }

// Add streams one file into the bundle.
func (b *Bundle) Add(name string, r io.Reader) error {
	p, err := CleanPath(name)
	if err != nil {
		return err
	}
	if b.paths[p] {
		return invalid("file %q is uploaded twice", p)
	}
	b.paths[p] = true
	b.files++
	w, err := b.zw.CreateHeader(&zip.FileHeader{Name: p, Method: zip.Deflate})
	if err != nil {
		return err
	}
	keep := path.Base(p) == SkillFile && strings.Count(p, "/") <= 1
	var md strings.Builder
	buf := make([]byte, 32<<10)
	for {
		n, rerr := r.Read(buf)
		if n > 0 {
			b.size += int64(n)
			if b.size > b.max {
				return b.tooLarge()
			}
			if keep {
				if md.Len()+n > maxSkillFileLen {
					return invalid("%s is larger than %d bytes", p, maxSkillFileLen)
				}
				md.Write(buf[:n])
			}
			if _, err := w.Write(buf[:n]); err != nil {
				return fmt.Errorf("skill upload: %w", err)
			}
		}
		if rerr == io.EOF {
			break
		}
		if rerr != nil {
			return &ErrBody{Err: rerr}
		}
	}
	if keep {
		b.skillMD[p] = []byte(md.String())
	}
	return nil
}

func (b *Bundle) tooLarge() error {
	return errdefs.New(errdefs.ErrTooLarge, "", "The skill's files exceed the maximum total size of %d bytes (uncompressed)", b.max)
}

// finish closes the archive and works out the layout: the files are either all in one
// top-level folder with a SKILL.md in it, or at the root with a SKILL.md there. It
// returns that folder ("" for the root) and the validated frontmatter.
func (b *Bundle) finish() (dir string, fm Frontmatter, err error) {
	if b.files == 0 {
		return "", fm, invalid("No files uploaded: send the skill's files as multipart parts named files[], with a %s at the root of one folder", SkillFile)
	}
	if err := b.zw.Close(); err != nil {
		return "", fm, fmt.Errorf("skill upload: %w", err)
	}
	tops := map[string]bool{}
	for p := range b.paths {
		top, _, nested := strings.Cut(p, "/")
		if !nested {
			top = ""
		}
		tops[top] = true
	}
	switch {
	case len(tops) == 1 && !tops[""]:
		for t := range tops {
			dir = t
		}
	case b.skillMD[SkillFile] != nil:
		dir = ""
	case len(tops) > 1:
		names := make([]string, 0, len(tops))
		for t := range tops {
			if t == "" {
				t = "(root)"
			}
			names = append(names, t)
		}
		sort.Strings(names)
		return "", fm, invalid("All files must be in the same top-level directory; found %s", strings.Join(names, ", "))
	}
	md := b.skillMD[path.Join(dir, SkillFile)]
	if md == nil {
		return "", fm, invalid("%s file must be at the root of the skill's directory", SkillFile)
	}
	fm, err = ParseFrontmatter(md)
	if err != nil {
		return "", fm, err
	}
	fi, err := b.tmp.Stat()
	if err != nil {
		return "", fm, err
	}
	b.archive = fi.Size()
	if _, err := b.tmp.Seek(0, io.SeekStart); err != nil {
		return "", fm, err
	}
	return dir, fm, nil
}
