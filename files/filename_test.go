package files_test

import (
	"errors"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/codebox-dev/codebox/errdefs"
	"github.com/codebox-dev/codebox/files"
)

func TestCleanFilename(t *testing.T) {
	tests := []struct {
		raw, want string
		invalid   bool
	}{
		{"sales.csv", "sales.csv", false},
		{"dir/sub/sales.csv", "sales.csv", false},
		{"/abs/path.txt", "path.txt", false},
		{"dir/", "", false},
		{"", "", false},
		{"résumé 2026.pdf", "résumé 2026.pdf", false},
		{strings.Repeat("a", 255), strings.Repeat("a", 255), false},
		{strings.Repeat("é", 255), strings.Repeat("é", 255), false},
		{strings.Repeat("a", 256), "", true},
		{`C:\Users\me\a.csv`, "", true},
		{"a<b", "", true},
		{"a>b", "", true},
		{"a:b", "", true},
		{`a"b`, "", true},
		{"a|b", "", true},
		{"a?b", "", true},
		{"a*b", "", true},
		{"a\x00b", "", true},
		{"a\nb", "", true},
		{"a\x1fb", "", true},
		{"..", "", true},
		{".", "", true},
		{"\xff\xfe", "", true},
	}
	for _, tc := range tests {
		got, err := files.CleanFilename(tc.raw)
		if tc.invalid {
			if !errors.Is(err, errdefs.ErrInvalid) {
				t.Errorf("CleanFilename(%q) = %q, %v, want ErrInvalid", tc.raw, got, err)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("CleanFilename(%q) = %q, %v, want %q", tc.raw, got, err, tc.want)
		}
	}
}

func FuzzCleanFilename(f *testing.F) {
	for _, s := range []string{"a.csv", "x/y/z.txt", "", "..", "a\\b", "é.md", strings.Repeat("x", 300)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		got, err := files.CleanFilename(raw)
		if err != nil {
			if !errors.Is(err, errdefs.ErrInvalid) {
				t.Fatalf("CleanFilename(%q) error %v is not ErrInvalid", raw, err)
			}
			return
		}
		if strings.ContainsAny(got, "/\\<>:\"|?*") || !utf8.ValidString(got) || utf8.RuneCountInString(got) > files.MaxFilenameLen {
			t.Fatalf("CleanFilename(%q) = %q breaks the rules", raw, got)
		}
		for _, r := range got {
			if r < 0x20 {
				t.Fatalf("CleanFilename(%q) = %q has a control character", raw, got)
			}
		}
		if again, err := files.CleanFilename(got); err != nil || again != got {
			t.Fatalf("CleanFilename is not idempotent on %q: %q, %v", got, again, err)
		}
	})
}

func TestDetectMIME(t *testing.T) {
	tests := []struct {
		declared, name, head, want string
	}{
		{"text/csv", "x.bin", "", "text/csv"},
		{"text/plain; charset=utf-8", "x", "", "text/plain"},
		{"application/octet-stream", "a.csv", "", "text/csv"},
		{"", "A.JSON", "", "application/json"},
		{"", "r.xlsx", "PK", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"},
		{"", "n.md", "", "text/markdown"},
		{"", "s.py", "", "text/x-python"},
		{"", "noext", "%PDF-1.7", "application/pdf"},
		{"", "noext", "\x89PNG\r\n\x1a\n", "image/png"},
		{"", "noext", "plain words", "text/plain"},
		{"", "noext", "\x00\x01\x02", "application/octet-stream"},
		{"", "", "", "text/plain"},
		{"not a type", "a.csv", "", "text/csv"},
	}
	for _, tc := range tests {
		if got := files.DetectMIME(tc.declared, tc.name, []byte(tc.head)); got != tc.want {
			t.Errorf("DetectMIME(%q, %q, %q) = %q, want %q", tc.declared, tc.name, tc.head, got, tc.want)
		}
	}
	for typ, ext := range map[string]string{"text/csv": ".csv", "text/plain": ".txt", "image/png": ".png", "application/json": ".json", "image/jpeg": ".jpg"} {
		if got := files.ExtensionFor(typ); got != ext {
			t.Errorf("ExtensionFor(%q) = %q, want %q", typ, got, ext)
		}
	}
}
