package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"
)

type execOptions struct {
	baseURL   string
	apiKey    string
	container string
	files     []string
	timeout   time.Duration
	noFiles   bool
}

func newExecCmd() *cobra.Command {
	o := &execOptions{}
	cmd := &cobra.Command{
		Use:   "exec [--container ID] [--file PATH]... [--timeout D] -- COMMAND...",
		Short: "Run a command in a sandboxed container of a running server",
		Long: `Run a command in a sandboxed container through the containers API.

Without --container a new container is created; its id is printed on stderr so that
later runs can reuse it (files and /tmp persist). Each --file is uploaded into the
working directory first. The command's stdout and stderr are printed, the files it
created or modified are downloaded into the current directory, and codebox exits with
the command's exit status. A single argument is run as a bash script as is; several
arguments are quoted and joined.`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			code, err := runExec(cmd.Context(), o, args, cmd.OutOrStdout(), cmd.ErrOrStderr())
			if err != nil {
				return err
			}
			if code != 0 {
				os.Exit(code)
			}
			return nil
		},
	}
	fs := cmd.Flags()
	fs.StringVar(&o.baseURL, "base-url", "http://127.0.0.1:8080", "server URL")
	alsoEnv(fs, "base-url", "ANTHROPIC_BASE_URL")
	fs.StringVar(&o.apiKey, "api-key", "", "API key")
	alsoEnv(fs, "api-key", "ANTHROPIC_API_KEY")
	fs.StringVarP(&o.container, "container", "c", "", "run in this container instead of a new one")
	fs.StringArrayVarP(&o.files, "file", "f", nil, "upload this local file into the working directory first (repeatable)")
	fs.DurationVar(&o.timeout, "timeout", 0, "wall-clock limit of the command (default: the server's)")
	fs.BoolVar(&o.noFiles, "no-download", false, "do not download the files the command generated")
	return cmd
}

func init() { rootCmd.AddCommand(newExecCmd()) }

// runExec does the work of codebox exec and returns the command's exit status.
func runExec(ctx context.Context, o *execOptions, args []string, stdout, stderr io.Writer) (int, error) {
	c := &execClient{base: strings.TrimRight(o.baseURL, "/"), key: o.apiKey, http: &http.Client{}}
	id := o.container
	if id == "" {
		var created struct {
			ID string `json:"id"`
		}
		if err := c.doJSON(ctx, "POST", "/v1/containers", map[string]any{}, &created); err != nil {
			return 0, fmt.Errorf("creating a container: %w", err)
		}
		id = created.ID
	}
	fmt.Fprintf(stderr, "container: %s\n", id)
	for _, f := range o.files {
		if err := c.upload(ctx, id, f); err != nil {
			return 0, fmt.Errorf("uploading %s: %w", f, err)
		}
	}
	req := map[string]any{"command": shellCommand(args), "stream": true}
	if o.timeout > 0 {
		req["timeout_ms"] = o.timeout.Milliseconds()
	}
	res, streamed, err := c.exec(ctx, id, req, stdout, stderr)
	if err != nil {
		return 0, err
	}
	if !streamed {
		io.WriteString(stdout, res.Stdout)
		io.WriteString(stderr, res.Stderr)
	}
	switch {
	case res.TimedOut:
		fmt.Fprintln(stderr, "codebox: the command was killed at its time limit")
	case res.OOMKilled:
		fmt.Fprintln(stderr, "codebox: the command was killed by the container's memory limit")
	}
	if res.Truncated {
		fmt.Fprintln(stderr, "codebox: output was truncated")
	}
	if res.FilesError != nil {
		fmt.Fprintln(stderr, "codebox: some generated files were not stored:", res.FilesError.Message)
	}
	if !o.noFiles {
		for _, f := range res.Files {
			local, err := c.download(ctx, id, f.Path)
			if err != nil {
				return 0, fmt.Errorf("downloading %s: %w", f.Path, err)
			}
			fmt.Fprintf(stderr, "codebox: saved %s (%d bytes, %s)\n", local, f.Bytes, f.FileID)
		}
	}
	code := res.ReturnCode
	if code == 0 && res.TimedOut {
		code = 124
	}
	return code, nil
}

// execResult is the part of the API's run result codebox exec uses.
type execResult struct {
	Stdout     string `json:"stdout"`
	Stderr     string `json:"stderr"`
	ReturnCode int    `json:"return_code"`
	TimedOut   bool   `json:"timed_out"`
	OOMKilled  bool   `json:"oom_killed"`
	Truncated  bool   `json:"truncated"`
	Files      []struct {
		FileID string `json:"file_id"`
		Path   string `json:"path"`
		Bytes  int64  `json:"bytes"`
	} `json:"files"`
	FilesError *struct {
		Message string `json:"message"`
	} `json:"files_error"`
}

// exec runs the command, asking for a stream. When the server streams, output is
// written to stdout and stderr as it arrives and streamed is true; a server that
// answers with one JSON result leaves the printing to the caller.
func (c *execClient) exec(ctx context.Context, id string, body map[string]any, stdout, stderr io.Writer) (res *execResult, streamed bool, err error) {
	b, err := json.Marshal(body)
	if err != nil {
		return nil, false, err
	}
	req, err := http.NewRequestWithContext(ctx, "POST", c.base+"/v1/containers/"+url.PathEscape(id)+"/exec", bytes.NewReader(b))
	if err != nil {
		return nil, false, err
	}
	req.Header.Set("x-api-key", c.key)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "text/event-stream, application/json")
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, false, err
	}
	defer resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		return nil, false, execAPIError(resp)
	}
	res = &execResult{}
	if !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/event-stream") {
		return res, false, json.NewDecoder(resp.Body).Decode(res)
	}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 64<<20)
	var event string
	for sc.Scan() {
		line := sc.Text()
		switch {
		case strings.HasPrefix(line, "event: "):
			event = strings.TrimPrefix(line, "event: ")
		case strings.HasPrefix(line, "data: "):
			data := []byte(strings.TrimPrefix(line, "data: "))
			switch event {
			case "output":
				var out struct{ Stream, Text string }
				if err := json.Unmarshal(data, &out); err != nil {
					return nil, true, err
				}
				w := stdout
				if out.Stream == "stderr" {
					w = stderr
				}
				io.WriteString(w, out.Text)
			case "result":
				return res, true, json.Unmarshal(data, res)
			case "error":
				var env struct {
					Error struct{ Type, Message string } `json:"error"`
				}
				json.Unmarshal(data, &env)
				return nil, true, fmt.Errorf("%s (%s)", env.Error.Message, env.Error.Type)
			}
		}
	}
	if err := sc.Err(); err != nil {
		return nil, true, err
	}
	return nil, true, errors.New("the stream ended without a result")
}

// shellCommand turns the arguments into one bash command line: a single argument is a
// script as is, several are quoted so that each stays one word.
func shellCommand(args []string) string {
	if len(args) == 1 {
		return args[0]
	}
	quoted := make([]string, len(args))
	for i, a := range args {
		quoted[i] = shellQuote(a)
	}
	return strings.Join(quoted, " ")
}

func shellQuote(s string) string {
	if s != "" && strings.IndexFunc(s, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("-_./=:,+@%", r))
	}) < 0 {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// execClient is a minimal client of codebox's native API.
type execClient struct {
	base, key string
	http      *http.Client
}

func (c *execClient) request(ctx context.Context, method, p string, body io.Reader, ctype string) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, method, c.base+p, body)
	if err != nil {
		return nil, err
	}
	req.Header.Set("x-api-key", c.key)
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode/100 != 2 {
		defer resp.Body.Close()
		return nil, execAPIError(resp)
	}
	return resp, nil
}

func (c *execClient) doJSON(ctx context.Context, method, p string, in, out any) error {
	b, err := json.Marshal(in)
	if err != nil {
		return err
	}
	resp, err := c.request(ctx, method, p, bytes.NewReader(b), "application/json")
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	return json.NewDecoder(resp.Body).Decode(out)
}

// upload streams a local file into the container's working directory.
func (c *execClient) upload(ctx context.Context, id, local string) error {
	f, err := os.Open(local)
	if err != nil {
		return err
	}
	defer f.Close()
	pr, pw := io.Pipe()
	mw := multipart.NewWriter(pw)
	go func() {
		part, err := mw.CreateFormFile("file", filepath.Base(local))
		if err == nil {
			_, err = io.Copy(part, f)
		}
		if err == nil {
			err = mw.Close()
		}
		pw.CloseWithError(err)
	}()
	resp, err := c.request(ctx, "POST", "/v1/containers/"+url.PathEscape(id)+"/files", pr, mw.FormDataContentType())
	pr.CloseWithError(errors.New("request finished"))
	if err != nil {
		return err
	}
	resp.Body.Close()
	return nil
}

// download saves a container file under the current directory, at its path relative to
// the container's working directory, and returns the local path.
func (c *execClient) download(ctx context.Context, id, remote string) (string, error) {
	rel := strings.TrimPrefix(path.Clean(remote), "/workspace/")
	local := filepath.FromSlash(rel)
	if !filepath.IsLocal(local) {
		local = filepath.Base(local)
	}
	resp, err := c.request(ctx, "GET", "/v1/containers/"+url.PathEscape(id)+"/files/content?path="+url.QueryEscape(remote), nil, "")
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	if dir := filepath.Dir(local); dir != "." {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return "", err
		}
	}
	tmp, err := os.CreateTemp(filepath.Dir(local), ".codebox-*")
	if err != nil {
		return "", err
	}
	defer os.Remove(tmp.Name())
	if _, err := io.Copy(tmp, resp.Body); err != nil {
		tmp.Close()
		return "", err
	}
	if err := tmp.Close(); err != nil {
		return "", err
	}
	return local, os.Rename(tmp.Name(), local)
}

// execAPIError turns an error response into an error carrying the server's message.
func execAPIError(resp *http.Response) error {
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	var env struct {
		Error struct {
			Type    string `json:"type"`
			Message string `json:"message"`
		} `json:"error"`
	}
	if json.Unmarshal(b, &env) == nil && env.Error.Message != "" {
		return fmt.Errorf("%s (%d %s)", env.Error.Message, resp.StatusCode, env.Error.Type)
	}
	return fmt.Errorf("%s: %s", resp.Status, strings.TrimSpace(string(b)))
}
