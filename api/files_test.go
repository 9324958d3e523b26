package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"log/slog"
	"mime/multipart"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/anthropics/anthropic-sdk-go"
	"github.com/anthropics/anthropic-sdk-go/option"

	"github.com/codebox-dev/codebox"
	"github.com/codebox-dev/codebox/api"
	"github.com/codebox-dev/codebox/apikey"
	"github.com/codebox-dev/codebox/blobs/disk"
	"github.com/codebox-dev/codebox/files"
	"github.com/codebox-dev/codebox/store/sqlite"
)

const legacyBeta = "files-api-2025-04-14"

// filesEnv is a real server (SQLite file, disk blobs, real keys) on a loopback port.
type filesEnv struct {
	url        string
	svc        *files.Service
	db         *sqlite.DB
	keys       *apikey.Service
	blobDir    string
	keyA, keyB string // workspaces "default" and "other"
}

// newFilesEnv starts the server; configure, if given, may change its api.Config.
func newFilesEnv(t *testing.T, cfg files.Config, configure ...func(*api.Config)) *filesEnv {
	t.Helper()
	return newFilesEnvIn(t, t.TempDir(), cfg, configure...)
}

// newFilesEnvIn is newFilesEnv with its database and blobs in dir.
func newFilesEnvIn(t *testing.T, dir string, cfg files.Config, configure ...func(*api.Config)) *filesEnv {
	t.Helper()
	ctx := context.Background()
	db, err := sqlite.Open(ctx, filepath.Join(dir, "codebox.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	blobs, err := disk.Open(filepath.Join(dir, "blobs"))
	if err != nil {
		t.Fatal(err)
	}
	cfg.Logger = slog.New(slog.DiscardHandler)
	svc := files.New(cfg, db, blobs)
	keys := apikey.New(db)
	e := &filesEnv{svc: svc, db: db, keys: keys, blobDir: blobs.Dir()}
	if e.keyA, _, err = keys.Create(ctx, codebox.DefaultWorkspace); err != nil {
		t.Fatal(err)
	}
	if e.keyB, _, err = keys.Create(ctx, "other"); err != nil {
		t.Fatal(err)
	}
	acfg := api.Config{Logger: cfg.Logger, Auth: keys, FilesConfig: api.FilesConfig{Files: svc}}
	for _, f := range configure {
		f(&acfg)
	}
	srv := api.New(acfg)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	hs := &http.Server{Handler: srv}
	go hs.Serve(ln)
	t.Cleanup(func() { hs.Close() })
	e.url = "http://" + ln.Addr().String()
	return e
}

func (e *filesEnv) client(key string, opts ...option.RequestOption) *anthropic.Client {
	base := []option.RequestOption{option.WithBaseURL(e.url), option.WithAPIKey(key), option.WithMaxRetries(0)}
	c := anthropic.NewClient(append(base, opts...)...)
	return &c
}

func legacy() option.RequestOption { return option.WithHeader("anthropic-beta", legacyBeta) }

// apiError asserts that err is an *anthropic.Error with the given status and error.type,
// and returns it.
func apiError(t *testing.T, err error, status int, typ string) *anthropic.Error {
	t.Helper()
	var ae *anthropic.Error
	if !errors.As(err, &ae) {
		t.Fatalf("err = %v, want *anthropic.Error %d %s", err, status, typ)
	}
	if ae.StatusCode != status || string(ae.Type()) != typ {
		t.Fatalf("error = %d %s (%s), want %d %s", ae.StatusCode, ae.Type(), ae.RawJSON(), status, typ)
	}
	if ae.RequestID == "" || !strings.Contains(ae.RawJSON(), ae.RequestID) {
		t.Fatalf("request id %q not in body %s", ae.RequestID, ae.RawJSON())
	}
	return ae
}

func errorCode(ae *anthropic.Error) string {
	var env struct {
		Error struct {
			Details struct {
				ErrorCode string `json:"error_code"`
			} `json:"details"`
		} `json:"error"`
	}
	json.Unmarshal([]byte(ae.RawJSON()), &env)
	return env.Error.Details.ErrorCode
}

func rawFields(t *testing.T, raw string) map[string]json.RawMessage {
	t.Helper()
	var m map[string]json.RawMessage
	if err := json.Unmarshal([]byte(raw), &m); err != nil {
		t.Fatalf("decode %s: %v", raw, err)
	}
	return m
}

func TestFilesGA(t *testing.T) {
	e := newFilesEnv(t, files.Config{})
	ctx := context.Background()
	c := e.client(e.keyA)
	csv := []byte("date,region,units\n2026-04-01,north,12\n")

	f, err := c.Files.Upload(ctx, anthropic.FileUploadParams{File: anthropic.File(bytes.NewReader(csv), "dir/sales.csv", "text/csv")})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(f.ID, "file_") || f.Filename != "sales.csv" || f.MimeType != "text/csv" ||
		f.SizeBytes != int64(len(csv)) || f.Downloadable || f.Type != "file" {
		t.Fatalf("upload = %s", f.RawJSON())
	}
	fields := rawFields(t, f.RawJSON())
	if string(fields["expires_at"]) != "null" {
		t.Errorf("expires_at = %s, want null", fields["expires_at"])
	}
	if _, ok := fields["scope"]; ok {
		t.Errorf("GA file has scope: %s", f.RawJSON())
	}
	if time.Since(f.CreatedAt) > time.Minute {
		t.Errorf("created_at = %v", f.CreatedAt)
	}

	got, err := c.Files.GetMetadata(ctx, f.ID, anthropic.FileGetMetadataParams{})
	if err != nil {
		t.Fatal(err)
	}
	if got.RawJSON() != f.RawJSON() {
		t.Errorf("GetMetadata = %s, want %s", got.RawJSON(), f.RawJSON())
	}

	_, err = c.Files.Download(ctx, f.ID, anthropic.FileDownloadParams{})
	if code := errorCode(apiError(t, err, 400, "invalid_request_error")); code != "file_not_downloadable" {
		t.Errorf("error_code = %q, want file_not_downloadable", code)
	}

	// expires_in_seconds sets expires_at.
	g, err := c.Files.Upload(ctx, anthropic.FileUploadParams{File: anthropic.File(strings.NewReader("x"), "x.txt", "text/plain"),
		ExpiresInSeconds: anthropic.Int(3600)})
	if err != nil {
		t.Fatal(err)
	}
	if d := g.ExpiresAt.Sub(g.CreatedAt); d != time.Hour {
		t.Errorf("expires_at - created_at = %v, want 1h", d)
	}

	// The type is detected when the part says application/octet-stream or nothing.
	for _, tc := range []struct{ name, body, want string }{
		{"data.json", `{"a":1}`, "application/json"},
		{"notes.md", "# hi", "text/markdown"},
		{"script.py", "print(1)", "text/x-python"},
		{"book.xlsx", "PK\x03\x04", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"},
		{"noext", "\x89PNG\r\n\x1a\n0000", "image/png"},
		{"", "hello", "text/plain"},
	} {
		h, err := c.Files.Upload(ctx, anthropic.FileUploadParams{File: anthropic.File(strings.NewReader(tc.body), tc.name, "application/octet-stream")})
		if err != nil {
			t.Fatal(err)
		}
		if h.MimeType != tc.want {
			t.Errorf("%q: mime_type = %q, want %q", tc.name, h.MimeType, tc.want)
		}
		if tc.name == "" && h.Filename != "unnamed.txt" {
			t.Errorf("empty name: filename = %q, want unnamed.txt", h.Filename)
		}
	}

	d, err := c.Files.Delete(ctx, f.ID, anthropic.FileDeleteParams{})
	if err != nil {
		t.Fatal(err)
	}
	if d.ID != f.ID || d.Type != "file_deleted" {
		t.Errorf("delete = %s", d.RawJSON())
	}
	_, err = c.Files.GetMetadata(ctx, f.ID, anthropic.FileGetMetadataParams{})
	apiError(t, err, 404, "not_found_error")
	_, err = c.Files.Delete(ctx, f.ID, anthropic.FileDeleteParams{})
	apiError(t, err, 404, "not_found_error")
}

func TestFilesLegacy(t *testing.T) {
	e := newFilesEnv(t, files.Config{})
	ctx := context.Background()
	c := e.client(e.keyA, legacy())
	f, err := c.Beta.Files.Upload(ctx, anthropic.BetaFileUploadParams{File: anthropic.File(strings.NewReader("a,b\n"), "t.csv", "text/csv")})
	if err != nil {
		t.Fatal(err)
	}
	fields := rawFields(t, f.RawJSON())
	if _, ok := fields["expires_at"]; ok {
		t.Errorf("legacy file has expires_at: %s", f.RawJSON())
	}
	if string(fields["scope"]) != "null" {
		t.Errorf("legacy scope = %s, want null", fields["scope"])
	}
	if f.Filename != "t.csv" || f.MimeType != "text/csv" || f.SizeBytes != 4 || f.Downloadable {
		t.Errorf("upload = %s", f.RawJSON())
	}
	got, err := c.Beta.Files.GetMetadata(ctx, f.ID, anthropic.BetaFileGetMetadataParams{})
	if err != nil || got.ID != f.ID {
		t.Fatalf("GetMetadata = %v, %v", got, err)
	}
	page, err := c.Beta.Files.List(ctx, anthropic.BetaFileListParams{})
	if err != nil {
		t.Fatal(err)
	}
	lf := rawFields(t, page.RawJSON())
	if string(lf["has_more"]) != "false" || string(lf["first_id"]) != `"`+f.ID+`"` || string(lf["last_id"]) != `"`+f.ID+`"` {
		t.Errorf("legacy list = %s", page.RawJSON())
	}
	_, err = c.Beta.Files.Download(ctx, f.ID, anthropic.BetaFileDownloadParams{})
	if code := errorCode(apiError(t, err, 400, "invalid_request_error")); code != "file_not_downloadable" {
		t.Errorf("error_code = %q", code)
	}
	del, err := c.Beta.Files.Delete(ctx, f.ID, anthropic.BetaFileDeleteParams{})
	if err != nil || del.ID != f.ID || del.Type != "file_deleted" {
		t.Fatalf("delete = %v, %v", del, err)
	}

	// Managed Agents: GA shape plus scope.
	m := e.client(e.keyA, option.WithHeader("anthropic-beta", "managed-agents-2026-04-01"))
	g, err := m.Beta.Files.Upload(ctx, anthropic.BetaFileUploadParams{File: anthropic.File(strings.NewReader("x"), "x.txt", "")})
	if err != nil {
		t.Fatal(err)
	}
	mf := rawFields(t, g.RawJSON())
	if string(mf["scope"]) != "null" || string(mf["expires_at"]) != "null" {
		t.Errorf("managed-agents file = %s", g.RawJSON())
	}
}

func TestFilesDownload(t *testing.T) {
	e := newFilesEnv(t, files.Config{})
	ctx := context.Background()
	body := bytes.Repeat([]byte("0123456789abcdef"), 100_000)
	f, err := e.svc.Create(ctx, codebox.DefaultWorkspace, files.NewFile{Filename: "chart.png", Downloadable: true, Body: bytes.NewReader(body)})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []*anthropic.Client{e.client(e.keyA), e.client(e.keyA, legacy())} {
		res, err := c.Files.Download(ctx, f.ID, anthropic.FileDownloadParams{})
		if err != nil {
			t.Fatal(err)
		}
		got, err := io.ReadAll(res.Body)
		res.Body.Close()
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, body) {
			t.Fatalf("downloaded %d bytes, want %d", len(got), len(body))
		}
		if ct := res.Header.Get("Content-Type"); ct != "image/png" {
			t.Errorf("Content-Type = %q, want image/png", ct)
		}
		if res.ContentLength != int64(len(body)) {
			t.Errorf("Content-Length = %d, want %d", res.ContentLength, len(body))
		}
		if res.Header.Get("request-id") == "" {
			t.Error("no request-id header")
		}
	}
	meta, _ := e.client(e.keyA).Files.GetMetadata(ctx, f.ID, anthropic.FileGetMetadataParams{})
	if !meta.Downloadable || meta.SizeBytes != int64(len(body)) {
		t.Errorf("metadata = %s", meta.RawJSON())
	}
	if sum := files.FormatCRC32C(crc32.Checksum(body, crc32.MakeTable(crc32.Castagnoli))); f.Checksum != sum {
		t.Errorf("checksum = %s, want %s", f.Checksum, sum)
	}
}

func TestFilesExpiry(t *testing.T) {
	e := newFilesEnv(t, files.Config{ExpiredGrace: 24 * time.Hour})
	ctx := context.Background()
	now := time.Now().UTC()
	var mu sync.Mutex
	e.svc.SetClock(func() time.Time { mu.Lock(); defer mu.Unlock(); return now })
	advance := func(d time.Duration) { mu.Lock(); now = now.Add(d); mu.Unlock() }
	f, err := e.svc.Create(ctx, codebox.DefaultWorkspace, files.NewFile{Filename: "out.txt", Downloadable: true,
		ExpiresIn: time.Hour, Body: strings.NewReader("bye")})
	if err != nil {
		t.Fatal(err)
	}
	c := e.client(e.keyA)
	if _, err := c.Files.Download(ctx, f.ID, anthropic.FileDownloadParams{}); err != nil {
		t.Fatal(err)
	}
	advance(2 * time.Hour)
	_, err = c.Files.Download(ctx, f.ID, anthropic.FileDownloadParams{})
	if code := errorCode(apiError(t, err, 404, "not_found_error")); code != "file_expired" {
		t.Errorf("error_code = %q, want file_expired", code)
	}
	// Still listed and readable.
	meta, err := c.Files.GetMetadata(ctx, f.ID, anthropic.FileGetMetadataParams{})
	if err != nil || !meta.ExpiresAt.Before(now) {
		t.Fatalf("GetMetadata = %v, %v", meta, err)
	}
	page, err := c.Files.List(ctx, anthropic.FileListParams{})
	if err != nil || len(page.Data) != 1 {
		t.Fatalf("List = %v, %v", page, err)
	}
	if n, err := e.svc.PurgeExpired(ctx); err != nil || n != 0 {
		t.Fatalf("PurgeExpired within grace = %d, %v", n, err)
	}
	advance(24 * time.Hour)
	if n, err := e.svc.PurgeExpired(ctx); err != nil || n != 1 {
		t.Fatalf("PurgeExpired after grace = %d, %v", n, err)
	}
	_, err = c.Files.GetMetadata(ctx, f.ID, anthropic.FileGetMetadataParams{})
	apiError(t, err, 404, "not_found_error")
	if left, _ := os.ReadDir(e.blobDir); len(left) != 0 {
		t.Errorf("blobs left after purge: %v", left)
	}
}

// makeFiles creates n files in ws with a clock that repeats each instant three times, so
// that ordering has to break ties by id. It returns the ids newest first.
func makeFiles(t *testing.T, e *filesEnv, ws codebox.WorkspaceID, n int) []string {
	t.Helper()
	base := time.Now().UTC()
	i := 0
	e.svc.SetClock(func() time.Time { i++; return base.Add(time.Duration(i/3) * time.Millisecond) })
	defer e.svc.SetClock(func() time.Time { return time.Now().UTC() })
	var out []*files.File
	for k := 0; k < n; k++ {
		f, err := e.svc.Create(context.Background(), ws, files.NewFile{Filename: fmt.Sprintf("f%03d.txt", k), Body: strings.NewReader("x")})
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, f)
	}
	slices.SortFunc(out, func(a, b *files.File) int {
		if c := b.CreatedAt.Compare(a.CreatedAt); c != 0 {
			return c
		}
		return strings.Compare(b.ID, a.ID)
	})
	idList := make([]string, len(out))
	for k, f := range out {
		idList[k] = f.ID
	}
	return idList
}

func TestFilesPaging(t *testing.T) {
	e := newFilesEnv(t, files.Config{})
	ctx := context.Background()
	want := makeFiles(t, e, codebox.DefaultWorkspace, 250)

	collect := func(next func() bool, cur func() string, errf func() error) []string {
		var got []string
		for next() {
			got = append(got, cur())
		}
		if err := errf(); err != nil {
			t.Fatal(err)
		}
		return got
	}

	t.Run("GA auto-paging", func(t *testing.T) {
		p := e.client(e.keyA).Files.ListAutoPaging(ctx, anthropic.FileListParams{Limit: anthropic.Int(7)})
		got := collect(p.Next, func() string { return p.Current().ID }, p.Err)
		if !slices.Equal(got, want) {
			t.Fatalf("GA paging returned %d ids, want %d in order", len(got), len(want))
		}
	})
	t.Run("GA default limit", func(t *testing.T) {
		page, err := e.client(e.keyA).Files.List(ctx, anthropic.FileListParams{})
		if err != nil {
			t.Fatal(err)
		}
		if len(page.Data) != 20 || !strings.HasPrefix(page.NextPage, "page_") {
			t.Fatalf("first page: %d items, next_page %q", len(page.Data), page.NextPage)
		}
		f := rawFields(t, page.RawJSON())
		if string(f["has_more"]) != "true" {
			t.Errorf("GA superset has_more = %s", f["has_more"])
		}
	})
	t.Run("beta auto-paging with the legacy header", func(t *testing.T) {
		p := e.client(e.keyA, legacy()).Beta.Files.ListAutoPaging(ctx, anthropic.BetaFileListParams{Limit: anthropic.Int(100)})
		got := collect(p.Next, func() string { return p.Current().ID }, p.Err)
		if !slices.Equal(got, want) {
			t.Fatalf("beta paging returned %d ids, want %d in order", len(got), len(want))
		}
	})
	// The legacy pager of earlier SDKs: after_id=last_id while has_more; or, started with
	// before_id, before_id=first_id.
	legacyPage := func(t *testing.T, q map[string]string) (ids []string, hasMore bool, first, last string) {
		t.Helper()
		var opts []option.RequestOption
		for k, v := range q {
			opts = append(opts, option.WithQuery(k, v))
		}
		page, err := e.client(e.keyA, legacy()).Beta.Files.List(ctx, anthropic.BetaFileListParams{}, opts...)
		if err != nil {
			t.Fatal(err)
		}
		var body struct {
			Data    []struct{ ID string }
			HasMore bool    `json:"has_more"`
			FirstID *string `json:"first_id"`
			LastID  *string `json:"last_id"`
		}
		json.Unmarshal([]byte(page.RawJSON()), &body)
		for _, d := range body.Data {
			ids = append(ids, d.ID)
		}
		if body.FirstID != nil {
			first, last = *body.FirstID, *body.LastID
		}
		return ids, body.HasMore, first, last
	}
	t.Run("legacy after_id", func(t *testing.T) {
		var got []string
		q := map[string]string{"limit": "40"}
		for {
			ids, more, _, last := legacyPage(t, q)
			got = append(got, ids...)
			if !more || len(ids) == 0 {
				break
			}
			q["after_id"] = last
		}
		if !slices.Equal(got, want) {
			t.Fatalf("after_id paging returned %d ids, want %d in order", len(got), len(want))
		}
	})
	t.Run("legacy before_id", func(t *testing.T) {
		oldest := want[len(want)-1]
		var got []string
		q := map[string]string{"limit": "33", "before_id": oldest}
		for {
			ids, more, first, _ := legacyPage(t, q)
			got = append(ids, got...)
			if !more || len(ids) == 0 {
				break
			}
			q["before_id"] = first
		}
		if !slices.Equal(got, want[:len(want)-1]) {
			t.Fatalf("before_id paging returned %d ids, want %d in order", len(got), len(want)-1)
		}
	})
	t.Run("ids[]", func(t *testing.T) {
		sel := []string{want[5], want[100], want[5], "file_unknown", "bogus"}
		page, err := e.client(e.keyA).Files.List(ctx, anthropic.FileListParams{IDs: sel})
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, f := range page.Data {
			got = append(got, f.ID)
		}
		if !slices.Equal(got, []string{want[5], want[100]}) || page.NextPage != "" {
			t.Fatalf("ids[] = %v next %q", got, page.NextPage)
		}
	})
	t.Run("other workspace sees none", func(t *testing.T) {
		page, err := e.client(e.keyB).Files.List(ctx, anthropic.FileListParams{})
		if err != nil || len(page.Data) != 0 {
			t.Fatalf("workspace other lists %d files, %v", len(page.Data), err)
		}
		page, err = e.client(e.keyB).Files.List(ctx, anthropic.FileListParams{IDs: want[:3]})
		if err != nil || len(page.Data) != 0 {
			t.Fatalf("workspace other lists %d files by id, %v", len(page.Data), err)
		}
	})
}

func TestFilesIsolation(t *testing.T) {
	e := newFilesEnv(t, files.Config{})
	ctx := context.Background()
	f, err := e.svc.Create(ctx, codebox.DefaultWorkspace, files.NewFile{Filename: "secret.txt", Downloadable: true, Body: strings.NewReader("s3cret")})
	if err != nil {
		t.Fatal(err)
	}
	other := e.client(e.keyB)
	unknown := "file_" + strings.Repeat("Z", 24)
	ops := map[string]func(id string) error{
		"get": func(id string) error {
			_, err := other.Files.GetMetadata(ctx, id, anthropic.FileGetMetadataParams{})
			return err
		},
		"download": func(id string) error {
			_, err := other.Files.Download(ctx, id, anthropic.FileDownloadParams{})
			return err
		},
		"delete": func(id string) error {
			_, err := other.Files.Delete(ctx, id, anthropic.FileDeleteParams{})
			return err
		},
	}
	for name, op := range ops {
		a := apiError(t, op(f.ID), 404, "not_found_error")
		b := apiError(t, op(unknown), 404, "not_found_error")
		ma := strings.ReplaceAll(string(rawFields(t, a.RawJSON())["error"]), f.ID, "ID")
		mb := strings.ReplaceAll(string(rawFields(t, b.RawJSON())["error"]), unknown, "ID")
		if ma != mb {
			t.Errorf("%s: other workspace's file gives %s, unknown id gives %s", name, ma, mb)
		}
	}
	if _, err := e.client(e.keyA).Files.GetMetadata(ctx, f.ID, anthropic.FileGetMetadataParams{}); err != nil {
		t.Fatalf("owner lost the file: %v", err)
	}
}

// rawRequest sends a request outside the SDK and returns status, headers and the error
// envelope (if any).
func rawRequest(t *testing.T, method, url, key, contentType string, body io.Reader) (int, http.Header, map[string]any) {
	t.Helper()
	req, err := http.NewRequest(method, url, body)
	if err != nil {
		t.Fatal(err)
	}
	if key != "" {
		req.Header.Set("x-api-key", key)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var env map[string]any
	json.NewDecoder(res.Body).Decode(&env)
	return res.StatusCode, res.Header, env
}

func TestFilesErrors(t *testing.T) {
	e := newFilesEnv(t, files.Config{MaxFileSize: 64 << 10})
	ctx := context.Background()
	c := e.client(e.keyA)

	upload := func(ct string, body string) error {
		var res anthropic.FileMetadata
		return c.Post(ctx, "v1/files", nil, &res, option.WithRequestBody(ct, strings.NewReader(body)))
	}
	multipartBody := func(parts ...[2]string) (string, string) {
		var b bytes.Buffer
		mw := multipart.NewWriter(&b)
		for _, p := range parts {
			if p[0] == "file" {
				w, _ := mw.CreateFormFile("file", "a.txt")
				w.Write([]byte(p[1]))
			} else {
				mw.WriteField(p[0], p[1])
			}
		}
		mw.Close()
		return mw.FormDataContentType(), b.String()
	}

	tests := []struct {
		name   string
		do     func() error
		status int
		typ    string
		code   string
	}{
		{"not multipart", func() error { return upload("application/json", `{}`) }, 400, "invalid_request_error", ""},
		{"bad multipart", func() error { return upload("multipart/form-data; boundary=xyz", "garbage") }, 400, "invalid_request_error", ""},
		{"truncated multipart", func() error {
			ct, b := multipartBody([2]string{"file", "hello"})
			return upload(ct, b[:len(b)-10])
		}, 400, "invalid_request_error", ""},
		{"missing file part", func() error {
			ct, b := multipartBody([2]string{"expires_in_seconds", "3600"})
			return upload(ct, b)
		}, 400, "invalid_request_error", ""},
		{"two file parts", func() error {
			ct, b := multipartBody([2]string{"file", "a"}, [2]string{"file", "b"})
			return upload(ct, b)
		}, 400, "invalid_request_error", ""},
		{"expires too short", func() error {
			_, err := c.Files.Upload(ctx, anthropic.FileUploadParams{File: anthropic.File(strings.NewReader("x"), "x.txt", ""), ExpiresInSeconds: anthropic.Int(10)})
			return err
		}, 400, "invalid_request_error", ""},
		{"expires not a number", func() error {
			ct, b := multipartBody([2]string{"file", "a"}, [2]string{"expires_in_seconds", "soon"})
			return upload(ct, b)
		}, 400, "invalid_request_error", ""},
		{"forbidden filename", func() error {
			_, err := c.Files.Upload(ctx, anthropic.FileUploadParams{File: anthropic.File(strings.NewReader("x"), "a<b>.csv", "text/csv")})
			return err
		}, 400, "invalid_request_error", ""},
		{"filename too long", func() error {
			_, err := c.Files.Upload(ctx, anthropic.FileUploadParams{File: anthropic.File(strings.NewReader("x"), strings.Repeat("n", 256), "")})
			return err
		}, 400, "invalid_request_error", ""},
		{"too large", func() error {
			_, err := c.Files.Upload(ctx, anthropic.FileUploadParams{File: anthropic.File(bytes.NewReader(make([]byte, 64<<10+1)), "big.bin", "")})
			return err
		}, 413, "request_too_large", ""},
		{"too large, no content length", func() error {
			pr, pw := io.Pipe()
			mw := multipart.NewWriter(pw)
			go func() {
				w, _ := mw.CreateFormFile("file", "big.bin")
				_, err := w.Write(make([]byte, 3<<20))
				if err == nil {
					err = mw.Close()
				}
				pw.CloseWithError(err)
			}()
			var res anthropic.FileMetadata
			err := c.Post(ctx, "v1/files", nil, &res, option.WithRequestBody(mw.FormDataContentType(), pr))
			pr.Close()
			return err
		}, 413, "request_too_large", ""},
		{"bad id", func() error {
			_, err := c.Files.GetMetadata(ctx, "not-a-file", anthropic.FileGetMetadataParams{})
			return err
		}, 404, "not_found_error", ""},
		{"bad id with dots", func() error {
			_, err := c.Files.Download(ctx, "../../etc/passwd", anthropic.FileDownloadParams{})
			return err
		}, 404, "not_found_error", ""},
		{"bad cursor", func() error {
			_, err := c.Files.List(ctx, anthropic.FileListParams{Page: anthropic.String("page_%%%")})
			return err
		}, 400, "invalid_request_error", ""},
		{"cursor without prefix", func() error {
			_, err := c.Files.List(ctx, anthropic.FileListParams{Page: anthropic.String("abc")})
			return err
		}, 400, "invalid_request_error", ""},
		{"limit 0", func() error {
			_, err := c.Files.List(ctx, anthropic.FileListParams{Limit: anthropic.Int(0)}, option.WithQuery("limit", "0"))
			return err
		}, 400, "invalid_request_error", ""},
		{"limit 1001", func() error {
			_, err := c.Files.List(ctx, anthropic.FileListParams{Limit: anthropic.Int(1001)})
			return err
		}, 400, "invalid_request_error", ""},
		{"limit not a number", func() error {
			_, err := c.Files.List(ctx, anthropic.FileListParams{}, option.WithQuery("limit", "ten"))
			return err
		}, 400, "invalid_request_error", ""},
		{"after_id in GA", func() error {
			_, err := c.Files.List(ctx, anthropic.FileListParams{}, option.WithQuery("after_id", "file_abc"))
			return err
		}, 400, "invalid_request_error", ""},
		{"ids with limit", func() error {
			_, err := c.Files.List(ctx, anthropic.FileListParams{IDs: []string{"file_a"}, Limit: anthropic.Int(5)})
			return err
		}, 400, "invalid_request_error", ""},
		{"too many ids", func() error {
			var many []string
			for i := 0; i < 101; i++ {
				many = append(many, fmt.Sprintf("file_%d", i))
			}
			_, err := c.Files.List(ctx, anthropic.FileListParams{IDs: many})
			return err
		}, 400, "invalid_request_error", ""},
		{"legacy unknown after_id", func() error {
			_, err := c.Beta.Files.List(ctx, anthropic.BetaFileListParams{}, legacy(), option.WithQuery("after_id", "file_nope"))
			return err
		}, 400, "invalid_request_error", ""},
		{"wrong method", func() error {
			return c.Execute(ctx, http.MethodPut, "v1/files", nil, nil)
		}, 405, "invalid_request_error", ""},
		{"wrong method on a file", func() error {
			return c.Execute(ctx, http.MethodPost, "v1/files/file_abc", nil, nil)
		}, 405, "invalid_request_error", ""},
		{"unknown route", func() error {
			return c.Get(ctx, "v1/nothing", nil, nil)
		}, 404, "not_found_error", ""},
		{"wrong key", func() error {
			_, err := e.client("sk-cbx-wrong").Files.List(ctx, anthropic.FileListParams{})
			return err
		}, 401, "authentication_error", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ae := apiError(t, tc.do(), tc.status, tc.typ)
			if got := errorCode(ae); got != tc.code {
				t.Errorf("error_code = %q, want %q", got, tc.code)
			}
		})
	}

	t.Run("missing key", func(t *testing.T) {
		status, h, env := rawRequest(t, "GET", e.url+"/v1/files", "", "", nil)
		errObj, _ := env["error"].(map[string]any)
		if status != 401 || errObj["type"] != "authentication_error" || env["request_id"] != h.Get("request-id") || h.Get("request-id") == "" {
			t.Fatalf("missing key: %d %v (request-id %q)", status, env, h.Get("request-id"))
		}
	})
	t.Run("no partial file left", func(t *testing.T) {
		page, err := c.Files.List(ctx, anthropic.FileListParams{})
		if err != nil || len(page.Data) != 0 {
			t.Fatalf("files after failed uploads: %d, %v", len(page.Data), err)
		}
		if left, _ := os.ReadDir(e.blobDir); len(left) != 0 {
			t.Fatalf("blobs left after failed uploads: %v", left)
		}
	})
}

func TestFilesAuth(t *testing.T) {
	e := newFilesEnv(t, files.Config{})
	ctx := context.Background()
	bearer := anthropic.NewClient(option.WithBaseURL(e.url), option.WithAuthToken(e.keyA), option.WithMaxRetries(0))
	if _, err := bearer.Files.List(ctx, anthropic.FileListParams{}); err != nil {
		t.Fatalf("Authorization: Bearer: %v", err)
	}
	if _, err := e.client(e.keyA).Files.List(ctx, anthropic.FileListParams{}); err != nil {
		t.Fatalf("x-api-key: %v", err)
	}
	keys, err := e.keys.List(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range keys {
		if k.Workspace == codebox.DefaultWorkspace {
			if err := e.keys.Revoke(ctx, k.ID); err != nil {
				t.Fatal(err)
			}
		}
	}
	_, err = e.client(e.keyA).Files.List(ctx, anthropic.FileListParams{})
	apiError(t, err, 401, "authentication_error")
	if _, err := e.client(e.keyB).Files.List(ctx, anthropic.FileListParams{}); err != nil {
		t.Fatalf("other key after revoking default's: %v", err)
	}
}

func TestFilesQuota(t *testing.T) {
	const size, fit = 10_000, 10
	e := newFilesEnv(t, files.Config{StorageQuota: size * fit})
	ctx := context.Background()
	c := e.client(e.keyA)
	var wg sync.WaitGroup
	var mu sync.Mutex
	ok, quota := 0, 0
	for i := 0; i < 3*fit; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := c.Files.Upload(ctx, anthropic.FileUploadParams{File: anthropic.File(bytes.NewReader(make([]byte, size)), "q.bin", "")})
			mu.Lock()
			defer mu.Unlock()
			var ae *anthropic.Error
			switch {
			case err == nil:
				ok++
			case errors.As(err, &ae) && ae.StatusCode == 400 && errorCode(ae) == "storage_quota_exceeded":
				quota++
			default:
				t.Errorf("upload: %v", err)
			}
		}()
	}
	wg.Wait()
	if ok != fit || quota != 2*fit {
		t.Fatalf("%d uploads succeeded and %d hit the quota, want %d and %d", ok, quota, fit, 2*fit)
	}
	used, err := e.db.StorageUsed(ctx, codebox.DefaultWorkspace)
	if err != nil || used != size*fit {
		t.Fatalf("StorageUsed = %d, %v", used, err)
	}
	if left, _ := os.ReadDir(e.blobDir); len(left) != fit {
		t.Fatalf("%d blobs on disk, want %d", len(left), fit)
	}
	// Another workspace has its own quota.
	if _, err := e.client(e.keyB).Files.Upload(ctx, anthropic.FileUploadParams{File: anthropic.File(bytes.NewReader(make([]byte, size)), "q.bin", "")}); err != nil {
		t.Fatalf("other workspace: %v", err)
	}
}
