package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime/multipart"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"text/tabwriter"
	"time"
)

// SalesCSV is the seed workflow's upload: the CSV of the README's quick start.
const SalesCSV = `date,region,product,units,revenue_usd
2026-04-01,north,widget,12,1440
2026-04-02,north,gadget,8,1600
2026-04-03,south,widget,15,1800
2026-04-04,south,gadget,5,1000
2026-04-05,east,widget,20,2400
2026-04-06,east,gadget,11,2200
2026-04-07,west,widget,7,840
2026-04-08,west,gadget,9,1800
2026-04-09,north,widget,18,2160
`

// LoadConfig says how to drive a running server with the seed workflow: upload
// sales.csv, then one Messages request with code execution whose model (a scripted one,
// script/sales by default) analyses it and saves chart.png.
type LoadConfig struct {
	BaseURL string // a loopback URL; anything else is refused
	// BaseURLs, when set, are the nodes of one cluster (loopback URLs too): each request
	// goes to the next in turn, as behind a round-robin load balancer, and BaseURL is
	// not used.
	BaseURLs []string
	APIKey   string
	Model    string // default script/sales
	// Levels are the numbers of concurrent clients, run one after the other.
	Levels []int
	// Duration is how long each level starts new workflows; in-flight ones then finish
	// (each within RequestTimeout), so a level lasts at most Duration+RequestTimeout.
	Duration       time.Duration
	RequestTimeout time.Duration
	// MaxRetryAfter caps how long a client waits, as a retry-after header asks, before
	// its next workflow after a 429 or 529.
	MaxRetryAfter time.Duration
	// Pause separates levels, so that one level's cleanup does not weigh on the next.
	Pause time.Duration
	// Download fetches the chart too, as the seed workflow's client does with its result.
	Download bool
	Client   *http.Client
	Progress func(string)

	turn *atomic.Uint64 // the round-robin over BaseURLs
}

// LevelResult is what one level of the ramp measured.
type LevelResult struct {
	Clients   int
	Elapsed   time.Duration   // from the first start to the last workflow's end
	Latencies []time.Duration // of the workflows that produced the chart
	Errors    map[string]int  // failed workflows by kind ("429 rate_limit_error", "200 no chart (too_many_requests)", …)
}

// Completed counts the workflows that produced the chart.
func (l *LevelResult) Completed() int { return len(l.Latencies) }

// Failed counts the workflows that did not.
func (l *LevelResult) Failed() int {
	n := 0
	for _, c := range l.Errors {
		n += c
	}
	return n
}

// Throughput is completed workflows per second.
func (l *LevelResult) Throughput() float64 {
	if l.Elapsed <= 0 {
		return 0
	}
	return float64(l.Completed()) / l.Elapsed.Seconds()
}

// CheckLoopback refuses a base URL whose host is not a loopback address: the load ramp
// is meant for a server on the same machine, never for someone else's.
func CheckLoopback(ctx context.Context, base string) error {
	u, err := url.Parse(base)
	if err != nil {
		return fmt.Errorf("url %q: %w", base, err)
	}
	host := u.Hostname()
	if host == "" {
		return fmt.Errorf("url %q has no host", base)
	}
	addrs, err := net.DefaultResolver.LookupIPAddr(ctx, host)
	if err != nil {
		return fmt.Errorf("url %q: %w", base, err)
	}
	for _, a := range addrs {
		if !a.IP.IsLoopback() {
			return fmt.Errorf("url %q: %s is not a loopback address; the load ramp only drives a local server", base, a.IP)
		}
	}
	return nil
}

// RunLoad runs every level of cfg and returns what each measured.
func RunLoad(ctx context.Context, cfg LoadConfig) ([]LevelResult, error) {
	if len(cfg.BaseURLs) == 0 {
		cfg.BaseURLs = []string{cfg.BaseURL}
	}
	cfg.BaseURLs = slices.Clone(cfg.BaseURLs)
	for i, u := range cfg.BaseURLs {
		if err := CheckLoopback(ctx, u); err != nil {
			return nil, err
		}
		cfg.BaseURLs[i] = strings.TrimRight(u, "/")
	}
	cfg.turn = new(atomic.Uint64)
	if cfg.Model == "" {
		cfg.Model = "script/sales"
	}
	if cfg.Duration <= 0 {
		cfg.Duration = 20 * time.Second
	}
	if cfg.RequestTimeout <= 0 {
		cfg.RequestTimeout = 2 * time.Minute
	}
	if cfg.MaxRetryAfter <= 0 {
		cfg.MaxRetryAfter = 10 * time.Second
	}
	if cfg.Client == nil {
		cfg.Client = &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 256}}
	}
	if cfg.Progress == nil {
		cfg.Progress = func(string) {}
	}
	var out []LevelResult
	for i, n := range cfg.Levels {
		if n < 1 {
			return out, fmt.Errorf("level %d: at least one client", n)
		}
		if i > 0 && cfg.Pause > 0 {
			select {
			case <-ctx.Done():
				return out, ctx.Err()
			case <-time.After(cfg.Pause):
			}
		}
		cfg.Progress(fmt.Sprintf("%d concurrent clients for %s", n, cfg.Duration))
		res := runLevel(ctx, &cfg, n)
		out = append(out, res)
		if err := ctx.Err(); err != nil {
			return out, err
		}
	}
	return out, nil
}

func runLevel(ctx context.Context, cfg *LoadConfig, clients int) LevelResult {
	res := LevelResult{Clients: clients, Errors: map[string]int{}}
	var mu sync.Mutex
	start := time.Now()
	stop := start.Add(cfg.Duration)
	var wg sync.WaitGroup
	for range clients {
		wg.Go(func() {
			for time.Now().Before(stop) && ctx.Err() == nil {
				t0 := time.Now()
				kind, wait := workflow(ctx, cfg)
				d := time.Since(t0)
				mu.Lock()
				if kind == "" {
					res.Latencies = append(res.Latencies, d)
				} else {
					res.Errors[kind]++
				}
				mu.Unlock()
				if wait > 0 {
					select {
					case <-ctx.Done():
					case <-time.After(min(wait, cfg.MaxRetryAfter, time.Until(stop))):
					}
				}
			}
		})
	}
	wg.Wait()
	res.Elapsed = time.Since(start)
	return res
}

// workflow runs the seed workflow once and cleans up what it made. It returns "" when
// the chart was produced, else the kind of failure, and how long the server asked the
// client to wait before trying again.
func workflow(ctx context.Context, cfg *LoadConfig) (kind string, retryAfter time.Duration) {
	ctx, cancel := context.WithTimeout(ctx, cfg.RequestTimeout)
	defer cancel()
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	part, _ := mw.CreateFormFile("file", "sales.csv")
	part.Write([]byte(SalesCSV))
	mw.Close()
	var file struct {
		ID string `json:"id"`
	}
	if kind, wait := call(ctx, cfg, "POST", "/v1/files", mw.FormDataContentType(), &body, &file); kind != "" {
		return "upload: " + kind, wait
	}
	defer call(context.WithoutCancel(ctx), cfg, "DELETE", "/v1/files/"+file.ID, "", nil, nil)

	req := map[string]any{
		"model":      cfg.Model,
		"max_tokens": 4096,
		"tools":      []any{map[string]string{"type": "code_execution_20250825", "name": "code_execution"}},
		"messages": []any{map[string]any{"role": "user", "content": []any{
			map[string]string{"type": "container_upload", "file_id": file.ID},
			map[string]string{"type": "text", "text": "Load sales.csv with pandas. Report total revenue by region and the top-selling product. Then save a bar chart of revenue-by-region as chart.png."},
		}}},
	}
	b, _ := json.Marshal(req)
	var msg struct {
		Container *struct {
			ID string `json:"id"`
		} `json:"container"`
		Content []struct {
			Type    string `json:"type"`
			Content struct {
				ErrorCode string `json:"error_code"`
				Content   []struct {
					FileID string `json:"file_id"`
				} `json:"content"`
			} `json:"content"`
		} `json:"content"`
	}
	if kind, wait := call(ctx, cfg, "POST", "/v1/messages", "application/json", bytes.NewReader(b), &msg); kind != "" {
		return kind, wait
	}
	if msg.Container != nil {
		defer call(context.WithoutCancel(ctx), cfg, "DELETE", "/v1/containers/"+msg.Container.ID, "", nil, nil)
	}
	chart, toolErr := false, ""
	for _, blk := range msg.Content {
		if !strings.HasSuffix(blk.Type, "_tool_result") {
			continue
		}
		if blk.Content.ErrorCode != "" && toolErr == "" {
			toolErr = blk.Content.ErrorCode
		}
		for _, f := range blk.Content.Content {
			if f.FileID == "" {
				continue
			}
			chart = true
			defer call(context.WithoutCancel(ctx), cfg, "DELETE", "/v1/files/"+f.FileID, "", nil, nil)
			if cfg.Download {
				if kind, wait := call(ctx, cfg, "GET", "/v1/files/"+f.FileID+"/content", "", nil, nil); kind != "" {
					return "download: " + kind, wait
				}
			}
		}
	}
	switch {
	case chart:
		return "", 0
	case toolErr != "":
		return "200 no chart (" + toolErr + ")", 0
	default:
		return "200 no chart", 0
	}
}

// call makes one API request and decodes a 200's JSON into out. It returns "" on
// success, else the kind of failure and the retry-after the server sent.
func call(ctx context.Context, cfg *LoadConfig, method, path, contentType string, body io.Reader, out any) (string, time.Duration) {
	base := cfg.BaseURLs[cfg.turn.Add(1)%uint64(len(cfg.BaseURLs))]
	req, err := http.NewRequestWithContext(ctx, method, base+path, body)
	if err != nil {
		return "request: " + err.Error(), 0
	}
	req.Header.Set("x-api-key", cfg.APIKey)
	req.Header.Set("anthropic-version", "2023-06-01")
	req.Header.Set("anthropic-beta", "files-api-2025-04-14")
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := cfg.Client.Do(req)
	if err != nil {
		return transportKind(err), 0
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		return transportKind(err), 0
	}
	if resp.StatusCode/100 != 2 {
		var e struct {
			Error struct {
				Type string `json:"type"`
			} `json:"error"`
		}
		json.Unmarshal(data, &e)
		kind := strconv.Itoa(resp.StatusCode) + " " + e.Error.Type
		wait := time.Duration(0)
		if s, err := strconv.Atoi(resp.Header.Get("retry-after")); err == nil && s >= 0 {
			wait = time.Duration(s) * time.Second
			kind += " (retry-after)"
		} else if resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode == 529 {
			wait = time.Second
		}
		return kind, wait
	}
	if out != nil {
		if err := json.Unmarshal(data, out); err != nil {
			return "bad response: " + err.Error(), 0
		}
	}
	return "", 0
}

// transportKind names a transport failure by its cause, not its text (which carries
// addresses and ports).
func transportKind(err error) string {
	var ne net.Error
	switch {
	case errors.Is(err, context.DeadlineExceeded), errors.As(err, &ne) && ne.Timeout():
		return "client timeout"
	case errors.Is(err, syscall.ECONNREFUSED):
		return "connection refused"
	case errors.Is(err, syscall.ECONNRESET), errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return "connection reset"
	case errors.Is(err, context.Canceled):
		return "cancelled"
	}
	return "transport error"
}

// PrintLoad writes the ramp as a table: throughput, latency of the completed workflows,
// and the failures by kind.
func PrintLoad(w io.Writer, levels []LevelResult) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight|tabwriter.Debug)
	fmt.Fprintln(tw, "clients\tworkflows\tcharts\twf/s\tp50\tp99\tmax\tfailed\t")
	for _, l := range levels {
		s := &Series{Samples: l.Latencies}
		lat := []string{"-", "-", "-"}
		if len(l.Latencies) > 0 {
			lat = []string{ms(s.Percentile(50)), ms(s.Percentile(99)), ms(s.Percentile(100))}
		}
		fmt.Fprintf(tw, "%d\t%d\t%d\t%.2f\t%s\t%s\t%s\t%d\t\n", l.Clients, l.Completed()+l.Failed(), l.Completed(),
			l.Throughput(), lat[0], lat[1], lat[2], l.Failed())
	}
	tw.Flush()
	fmt.Fprintln(w)
	for _, l := range levels {
		if len(l.Errors) == 0 {
			continue
		}
		kinds := make([]string, 0, len(l.Errors))
		for k := range l.Errors {
			kinds = append(kinds, k)
		}
		slices.Sort(kinds)
		parts := make([]string, 0, len(kinds))
		for _, k := range kinds {
			parts = append(parts, fmt.Sprintf("%s ×%d", k, l.Errors[k]))
		}
		fmt.Fprintf(w, "%d clients failed: %s\n", l.Clients, strings.Join(parts, ", "))
	}
}
