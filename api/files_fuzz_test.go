package api

import (
	"bytes"
	"io"
	"mime/multipart"
	"strings"
	"testing"
	"time"

	"github.com/codebox-dev/codebox/files"
)

func FuzzPageCursor(f *testing.F) {
	f.Add(encodePageCursor(files.Cursor{CreatedAt: time.Unix(1, 5), ID: "file_abc"}, false))
	f.Add(encodePageCursor(files.Cursor{CreatedAt: time.Unix(1_700_000_000, 123), ID: "file_0123456789ABCDEFabcdef01"}, true))
	f.Add("page_")
	f.Add("page_djEuYS4xLmZpbGVfYQ")
	f.Add("garbage")
	f.Fuzz(func(t *testing.T, s string) {
		c, before, err := decodePageCursor(s)
		if err != nil {
			return
		}
		// A cursor that decodes is canonical: encoding it again gives the same string.
		if again := encodePageCursor(*c, before); again != s {
			t.Fatalf("decode(%q) re-encodes as %q", s, again)
		}
	})
}

func TestPageCursorRoundTrip(t *testing.T) {
	for _, before := range []bool{false, true} {
		c := files.Cursor{CreatedAt: time.Unix(1_763_000_000, 987654321).UTC(), ID: "file_0123456789ABCDEFabcdef01"}
		got, gotBefore, err := decodePageCursor(encodePageCursor(c, before))
		if err != nil || got.ID != c.ID || !got.CreatedAt.Equal(c.CreatedAt) || gotBefore != before {
			t.Fatalf("round trip of %+v, %v = %+v, %v, %v", c, before, got, gotBefore, err)
		}
	}
}

// FuzzReadUpload feeds arbitrary multipart bodies to the upload parser: it must never
// panic, must stage at most one file part, and may succeed only with one.
func FuzzReadUpload(f *testing.F) {
	seed := func(build func(mw *multipart.Writer)) {
		var b bytes.Buffer
		mw := multipart.NewWriter(&b)
		mw.SetBoundary("BOUNDARY")
		build(mw)
		mw.Close()
		f.Add(b.Bytes())
	}
	seed(func(mw *multipart.Writer) {
		w, _ := mw.CreateFormFile("file", "a.csv")
		w.Write([]byte("a,b\n1,2\n"))
	})
	seed(func(mw *multipart.Writer) {
		mw.WriteField("expires_in_seconds", "3600")
		w, _ := mw.CreateFormFile("file", "dir/../x.txt")
		w.Write([]byte("hello"))
	})
	seed(func(mw *multipart.Writer) {
		w, _ := mw.CreateFormFile("file", `a"b\c`)
		w.Write([]byte("x"))
		mw.WriteField("other", "ignored")
	})
	f.Add([]byte("--BOUNDARY\r\nContent-Disposition: form-data; name=\"file\"\r\n\r\nabc\r\n--BOUNDARY--\r\n"))
	f.Add([]byte("--BOUNDARY\r\n\r\n--BOUNDARY--"))
	f.Fuzz(func(t *testing.T, body []byte) {
		mr := multipart.NewReader(bytes.NewReader(body), "BOUNDARY")
		calls := 0
		up, err := readUpload(mr, func(r io.Reader) (*files.Staged, error) {
			calls++
			if _, err := io.Copy(io.Discard, r); err != nil {
				return nil, &files.BodyError{Err: err}
			}
			return &files.Staged{}, nil
		})
		if calls > 1 {
			t.Fatalf("staged %d file parts", calls)
		}
		if err == nil {
			if up.staged == nil || calls != 1 {
				t.Fatalf("success without a staged file (calls %d)", calls)
			}
			if strings.ContainsAny(up.filename, "/\\<>:\"|?*") || len([]rune(up.filename)) > files.MaxFilenameLen {
				t.Fatalf("accepted filename %q", up.filename)
			}
			if up.expiresIn != 0 && (up.expiresIn < minExpiresIn*time.Second || up.expiresIn > maxExpiresIn*time.Second) {
				t.Fatalf("accepted expires_in %v", up.expiresIn)
			}
		}
	})
}
