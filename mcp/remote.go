package mcp

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"net/url"
	"path"
	"strings"
	"time"

	"github.com/codebox-dev/codebox/sandbox"
	"github.com/codebox-dev/codebox/tools"
)

// Remote is the Backend that calls a codebox server's containers API with an API key.
type Remote struct {
	BaseURL string // without /v1
	APIKey  string
	Client  *http.Client // nil: http.DefaultClient
}

// do sends a request to the containers API and decodes a 2xx JSON answer into out
// (when non-nil). Any other answer is an error carrying the envelope's message.
func (r *Remote) do(ctx context.Context, method, p string, ctype string, body io.Reader, out any) error {
	resp, err := r.send(ctx, method, p, ctype, body)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if out == nil {
		return nil
	}
	if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
		return fmt.Errorf("%s %s: decoding the answer: %w", method, p, err)
	}
	return nil
}

func (r *Remote) send(ctx context.Context, method, p, ctype string, body io.Reader) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, method, strings.TrimSuffix(r.BaseURL, "/")+p, body)
	if err != nil {
		return nil, err
	}
	req.Header.Set("x-api-key", r.APIKey)
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	c := r.Client
	if c == nil {
		c = http.DefaultClient
	}
	resp, err := c.Do(req)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode/100 != 2 {
		defer resp.Body.Close()
		var env struct {
			Error struct{ Type, Message string } `json:"error"`
		}
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
		if json.Unmarshal(b, &env) == nil && env.Error.Message != "" {
			return nil, fmt.Errorf("%s: %s", env.Error.Type, env.Error.Message)
		}
		return nil, fmt.Errorf("%s %s: %s", method, p, resp.Status)
	}
	return resp, nil
}

func (r *Remote) postJSON(ctx context.Context, p string, in, out any) error {
	b, err := json.Marshal(in)
	if err != nil {
		return err
	}
	return r.do(ctx, http.MethodPost, p, "application/json", bytes.NewReader(b), out)
}

func containerPath(id, rest string) string {
	return "/v1/containers/" + url.PathEscape(id) + rest
}

func (r *Remote) NewContainer(ctx context.Context) (string, error) {
	var c struct{ ID string }
	if err := r.postJSON(ctx, "/v1/containers", map[string]string{"name": "mcp"}, &c); err != nil {
		return "", err
	}
	return c.ID, nil
}

func (r *Remote) CheckContainer(ctx context.Context, id string) error {
	return r.do(ctx, http.MethodGet, containerPath(id, ""), "", nil, nil)
}

func (r *Remote) DeleteContainer(ctx context.Context, id string) error {
	return r.do(ctx, http.MethodDelete, containerPath(id, ""), "", nil, nil)
}

// execResult is the containers API's container.exec_result.
type execResult struct {
	Stdout     string `json:"stdout"`
	Stderr     string `json:"stderr"`
	ReturnCode int    `json:"return_code"`
	TimedOut   bool   `json:"timed_out"`
	OOMKilled  bool   `json:"oom_killed"`
	Truncated  bool   `json:"truncated"`
	DurationMS int64  `json:"duration_ms"`
	Files      []struct {
		FileID   string `json:"file_id"`
		Path     string `json:"path"`
		Bytes    int64  `json:"bytes"`
		MimeType string `json:"mime_type"`
	} `json:"files"`
	FilesError *struct{ Code, Message string } `json:"files_error"`
}

func (e *execResult) sandbox() *sandbox.ExecResult {
	out := &sandbox.ExecResult{Stdout: e.Stdout, Stderr: e.Stderr, ExitCode: e.ReturnCode, TimedOut: e.TimedOut,
		OOMKilled: e.OOMKilled, Truncated: e.Truncated, Duration: time.Duration(e.DurationMS) * time.Millisecond}
	for _, f := range e.Files {
		out.Files = append(out.Files, sandbox.OutputFile{FileID: f.FileID, Path: f.Path, Size: f.Bytes, MimeType: f.MimeType})
	}
	if e.FilesError != nil {
		out.FilesError = &sandbox.OutputError{Code: e.FilesError.Code, Message: e.FilesError.Message}
	}
	return out
}

func (r *Remote) Exec(ctx context.Context, id, command string) (*sandbox.ExecResult, error) {
	var res execResult
	if err := r.postJSON(ctx, containerPath(id, "/exec"), map[string]string{"command": command}, &res); err != nil {
		return nil, err
	}
	return res.sandbox(), nil
}

func (r *Remote) Python(ctx context.Context, id, code string) (*sandbox.ExecResult, error) {
	var res execResult
	if err := r.postJSON(ctx, containerPath(id, "/python"), map[string]string{"code": code}, &res); err != nil {
		return nil, err
	}
	return res.sandbox(), nil
}

func (r *Remote) Edit(ctx context.Context, id string, in tools.EditInput) (*tools.EditResult, error) {
	var res struct {
		FileType     string   `json:"file_type"`
		Content      string   `json:"content"`
		NumLines     int      `json:"num_lines"`
		StartLine    int      `json:"start_line"`
		TotalLines   int      `json:"total_lines"`
		IsFileUpdate bool     `json:"is_file_update"`
		OldStart     int      `json:"old_start"`
		OldLines     int      `json:"old_lines"`
		NewStart     int      `json:"new_start"`
		NewLines     int      `json:"new_lines"`
		Lines        []string `json:"lines"`
	}
	if err := r.postJSON(ctx, containerPath(id, "/edit"), in, &res); err != nil {
		return nil, err
	}
	return &tools.EditResult{Command: in.Command,
		View: sandbox.ViewResult{FileType: res.FileType, Content: res.Content, NumLines: res.NumLines,
			StartLine: res.StartLine, TotalLines: res.TotalLines},
		IsFileUpdate: res.IsFileUpdate,
		Replace: sandbox.ReplaceResult{OldStart: res.OldStart, OldLines: res.OldLines, NewStart: res.NewStart,
			NewLines: res.NewLines, Lines: res.Lines},
	}, nil
}

func (r *Remote) Upload(ctx context.Context, id, p string, data []byte) error {
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	if err := mw.WriteField("path", p); err != nil {
		return err
	}
	fw, err := mw.CreateFormFile("file", path.Base(p))
	if err != nil {
		return err
	}
	if _, err := fw.Write(data); err != nil {
		return err
	}
	if err := mw.Close(); err != nil {
		return err
	}
	return r.do(ctx, http.MethodPost, containerPath(id, "/files"), mw.FormDataContentType(), &body, nil)
}

func (r *Remote) ReadFile(ctx context.Context, id, p string, limit int64) ([]byte, error) {
	resp, err := r.send(ctx, http.MethodGet, containerPath(id, "/files/content?path="+url.QueryEscape(p)), "", nil)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	return readLimited(resp.Body, p, limit)
}

func (r *Remote) ListFiles(ctx context.Context, id, dir string) ([]File, error) {
	var out []File
	after := ""
	for {
		q := url.Values{"path": {dir}, "limit": {"100"}, "order": {"asc"}}
		if after != "" {
			q.Set("after", after)
		}
		var page struct {
			Data []struct {
				ID    string `json:"id"`
				Path  string `json:"path"`
				Bytes int64  `json:"bytes"`
			} `json:"data"`
			HasMore bool `json:"has_more"`
		}
		if err := r.do(ctx, http.MethodGet, containerPath(id, "/files?"+q.Encode()), "", nil, &page); err != nil {
			return nil, err
		}
		for _, f := range page.Data {
			out = append(out, File{Path: f.Path, Bytes: f.Bytes})
		}
		if !page.HasMore || len(page.Data) == 0 {
			return out, nil
		}
		after = page.Data[len(page.Data)-1].ID
	}
}
