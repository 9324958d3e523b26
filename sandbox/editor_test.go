package sandbox

import (
	"errors"
	"strings"
	"testing"

	"github.com/codebox-dev/codebox/errdefs"
)

func TestViewText(t *testing.T) {
	text := "a\nb\nc\n"
	for _, tc := range []struct {
		name    string
		rng     []int
		want    string
		start   int
		n       int
		wantErr bool
	}{
		{"whole", nil, "     1\ta\n     2\tb\n     3\tc\n", 1, 3, false},
		{"range", []int{2, 3}, "     2\tb\n     3\tc\n", 2, 2, false},
		{"to end", []int{3, -1}, "     3\tc\n", 3, 1, false},
		{"past end", []int{2, 4}, "", 0, 0, true},
		{"zero", []int{0, 1}, "", 0, 0, true},
		{"backwards", []int{3, 2}, "", 0, 0, true},
		{"one number", []int{1}, "", 0, 0, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v, err := viewText(text, tc.rng)
			if tc.wantErr {
				if !errors.Is(err, errdefs.ErrInvalid) {
					t.Errorf("err = %v, want invalid", err)
				}
				return
			}
			if err != nil || v.Content != tc.want || v.StartLine != tc.start || v.NumLines != tc.n || v.TotalLines != 3 {
				t.Errorf("viewText = %+v, %v; want %q from %d (%d lines)", v, err, tc.want, tc.start, tc.n)
			}
		})
	}
	if v, err := viewText("", nil); err != nil || v.Content != "" || v.TotalLines != 0 {
		t.Errorf("empty file = %+v, %v", v, err)
	}
	if v, _ := viewText("no newline", nil); v.Content != "     1\tno newline\n" {
		t.Errorf("no final newline = %q", v.Content)
	}
}

func TestReplaceOnce(t *testing.T) {
	for _, tc := range []struct {
		name, text, old, new, want string
		hunk                       ReplaceResult
		code                       string
	}{
		{name: "one line", text: "a\nfoo = 1\nb\n", old: "1", new: "2", want: "a\nfoo = 2\nb\n",
			hunk: ReplaceResult{OldStart: 2, OldLines: 1, NewStart: 2, NewLines: 1, Lines: []string{"-foo = 1", "+foo = 2"}}},
		{name: "grow", text: "x\ny\n", old: "y", new: "y1\ny2", want: "x\ny1\ny2\n",
			hunk: ReplaceResult{OldStart: 2, OldLines: 1, NewStart: 2, NewLines: 2, Lines: []string{"-y", "+y1", "+y2"}}},
		{name: "delete lines", text: "a\nb\nc\n", old: "b\n", new: "", want: "a\nc\n",
			hunk: ReplaceResult{OldStart: 2, OldLines: 1, NewStart: 2, NewLines: 0, Lines: []string{"-b"}}},
		{name: "first line no newline", text: "abc", old: "b", new: "B", want: "aBc",
			hunk: ReplaceResult{OldStart: 1, OldLines: 1, NewStart: 1, NewLines: 1, Lines: []string{"-abc", "+aBc"}}},
		{name: "not found", text: "abc", old: "z", code: "string_not_found"},
		{name: "not unique", text: "aa", old: "a", code: "string_not_unique"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, h, err := replaceOnce(tc.text, tc.old, tc.new)
			if tc.code != "" {
				if errdefs.Code(err) != tc.code || !errors.Is(err, errdefs.ErrInvalid) {
					t.Errorf("err = %v, want code %s", err, tc.code)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("replaceOnce = %q, %v; want %q", got, err, tc.want)
			}
			if h.OldStart != tc.hunk.OldStart || h.OldLines != tc.hunk.OldLines || h.NewStart != tc.hunk.NewStart ||
				h.NewLines != tc.hunk.NewLines || strings.Join(h.Lines, "|") != strings.Join(tc.hunk.Lines, "|") {
				t.Errorf("hunk = %+v, want %+v", h, tc.hunk)
			}
		})
	}
}

func TestDiskPath(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"a.txt", "workspace/a.txt"},
		{"", "workspace"},
		{"/workspace", "workspace"},
		{"/workspace/d/../e", "workspace/e"},
		{"/tmp/x", "tmp/x"},
		{"sub/../../tmp/x", "tmp/x"},
	} {
		got, err := diskPath(tc.in)
		if err != nil || got != tc.want {
			t.Errorf("diskPath(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
		}
	}
	for _, bad := range []string{"/etc/passwd", "../../etc/passwd", "/workspace/../../..", "/tmpx/a", "/", "a\x00b", "/proc/self/mem"} {
		if got, err := diskPath(bad); err == nil {
			t.Errorf("diskPath(%q) = %q, want error", bad, got)
		}
	}
}

// FuzzDiskPath checks that whatever the input, a disk path stays under workspace/ or
// tmp/ with no ".." element.
func FuzzDiskPath(f *testing.F) {
	for _, s := range []string{"a", "../x", "/tmp/../etc", "/workspace/./a//b", "..", "/"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		p, err := diskPath(s)
		if err != nil {
			return
		}
		if p != "workspace" && p != "tmp" && !strings.HasPrefix(p, "workspace/") && !strings.HasPrefix(p, "tmp/") {
			t.Fatalf("diskPath(%q) = %q, outside the disk's two trees", s, p)
		}
		for _, el := range strings.Split(p, "/") {
			if el == ".." || el == "." || el == "" {
				t.Fatalf("diskPath(%q) = %q has element %q", s, p, el)
			}
		}
	})
}

func FuzzContainerPath(f *testing.F) {
	for _, s := range []string{"a", "../x", "/tmp/../etc", "//x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		p, err := containerPath(s)
		if err != nil {
			return
		}
		if !strings.HasPrefix(p, "/") || strings.Contains(p, "/../") || strings.HasSuffix(p, "/..") {
			t.Fatalf("containerPath(%q) = %q, want a clean absolute path", s, p)
		}
	})
}
