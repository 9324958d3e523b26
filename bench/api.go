package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"time"
)

// API reaches a codebox server's containers API over HTTP, as a client would.
type API struct {
	URL, Key string
	Client   *http.Client
}

// NewAPI returns an API at url (e.g. http://127.0.0.1:8080) with key, keeping up to
// conns connections alive, so that concurrent requests reuse theirs as a client's
// pool does.
func NewAPI(url, key string, conns int) *API {
	return &API{URL: url, Key: key, Client: &http.Client{Transport: &http.Transport{
		MaxIdleConns: conns, MaxIdleConnsPerHost: conns, MaxConnsPerHost: 0,
	}}}
}

func (a *API) do(ctx context.Context, method, path string, in, out any) error {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return err
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, a.URL+path, body)
	if err != nil {
		return err
	}
	req.Header.Set("x-api-key", a.Key)
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := a.Client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(resp.Body)
		return fmt.Errorf("%s %s: %s: %s", method, path, resp.Status, bytes.TrimSpace(b))
	}
	if out == nil {
		_, err = io.Copy(io.Discard, resp.Body)
		return err
	}
	return json.NewDecoder(resp.Body).Decode(out)
}

// Create makes a container (POST /v1/containers) and returns its ID.
func (a *API) Create(ctx context.Context) (string, error) {
	var c struct {
		ID string `json:"id"`
	}
	err := a.do(ctx, "POST", "/v1/containers", map[string]any{}, &c)
	return c.ID, err
}

// Exec runs command in container id (POST /v1/containers/{id}/exec) and returns its
// stdout and how long the command ran in the container (duration_ms); a non-zero exit
// is an error.
func (a *API) Exec(ctx context.Context, id, command string) (string, time.Duration, error) {
	var r struct {
		Stdout     string `json:"stdout"`
		Stderr     string `json:"stderr"`
		ReturnCode int    `json:"return_code"`
		DurationMS int64  `json:"duration_ms"`
	}
	if err := a.do(ctx, "POST", "/v1/containers/"+id+"/exec", map[string]string{"command": command}, &r); err != nil {
		return "", 0, err
	}
	ran := time.Duration(r.DurationMS) * time.Millisecond
	if r.ReturnCode != 0 {
		return r.Stdout, ran, fmt.Errorf("exit %d, stderr %q", r.ReturnCode, truncate(r.Stderr, 300))
	}
	return r.Stdout, ran, nil
}

// Delete destroys container id (DELETE /v1/containers/{id}).
func (a *API) Delete(ctx context.Context, id string) error {
	return a.do(ctx, "DELETE", "/v1/containers/"+id, nil, nil)
}

// loadAverage is the machine's 1-minute load average as /proc/loadavg states it: the
// machine is shared, and every figure is read beside it.
func loadAverage() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	f := strings.Fields(string(b))
	if len(f) == 0 {
		return "?"
	}
	return f[0]
}
