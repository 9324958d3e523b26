package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime/multipart"
	"net/textproto"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/anthropics/anthropic-sdk-go"
	"github.com/anthropics/anthropic-sdk-go/option"
	"github.com/dustin/go-humanize"
	"github.com/spf13/cobra"
)

// clientFlags are the connection flags of the client commands.
type clientFlags struct {
	BaseURL string
	APIKey  string
}

func bindClientFlags(cmd *cobra.Command, c *clientFlags) {
	fs := cmd.PersistentFlags()
	fs.StringVar(&c.BaseURL, "base-url", "http://127.0.0.1:8080", "codebox server URL")
	alsoEnv(fs, "base-url", "ANTHROPIC_BASE_URL")
	fs.StringVar(&c.APIKey, "api-key", "", "API key (default: ./codebox-data/api-key when present)")
	alsoEnv(fs, "api-key", "ANTHROPIC_API_KEY")
}

// client returns an SDK client for the flags. Without a key it falls back to the key the
// server wrote into ./codebox-data on first start, which is what a local user wants.
func (c *clientFlags) client() (anthropic.Client, error) {
	key, err := c.key()
	if err != nil {
		return anthropic.Client{}, err
	}
	return anthropic.NewClient(option.WithBaseURL(c.BaseURL), option.WithAPIKey(key)), nil
}

// key returns --api-key, or the key in ./codebox-data.
func (c *clientFlags) key() (string, error) {
	if c.APIKey != "" {
		return c.APIKey, nil
	}
	b, err := os.ReadFile(filepath.Join("codebox-data", "api-key"))
	if err != nil {
		return "", errors.New("no API key: pass --api-key or set ANTHROPIC_API_KEY")
	}
	return strings.TrimSpace(string(b)), nil
}

func newFilesCmd() *cobra.Command {
	var cf clientFlags
	cmd := &cobra.Command{
		Use:   "files",
		Short: "Upload, list, inspect, download and delete files on a codebox server",
	}
	bindClientFlags(cmd, &cf)

	var expiresIn time.Duration
	upload := &cobra.Command{
		Use:   "upload PATH...",
		Short: "Upload files; prints one id per file",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			client, err := cf.client()
			if err != nil {
				return err
			}
			for _, p := range args {
				f, err := uploadFile(cmd.Context(), client, p, expiresIn)
				if err != nil {
					return fmt.Errorf("%s: %w", p, err)
				}
				fmt.Printf("%s\t%s\t%s\n", f.ID, f.Filename, humanize.Bytes(uint64(f.SizeBytes)))
			}
			return nil
		},
	}
	upload.Flags().DurationVar(&expiresIn, "expires-in", 0, "expire the file after this long (1h to 2160h)")

	var limit int
	list := &cobra.Command{
		Use:   "list",
		Short: "List files, newest first",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			client, err := cf.client()
			if err != nil {
				return err
			}
			tw := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', 0)
			fmt.Fprintln(tw, "ID\tFILENAME\tSIZE\tTYPE\tCREATED\tDOWNLOADABLE\tEXPIRES")
			pager := client.Files.ListAutoPaging(cmd.Context(), anthropic.FileListParams{Limit: anthropic.Int(100)})
			n := 0
			for pager.Next() && (limit <= 0 || n < limit) {
				f := pager.Current()
				expires := "-"
				if !f.ExpiresAt.IsZero() {
					expires = f.ExpiresAt.Local().Format("2006-01-02 15:04")
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%v\t%s\n", f.ID, f.Filename, humanize.Bytes(uint64(f.SizeBytes)),
					f.MimeType, f.CreatedAt.Local().Format("2006-01-02 15:04"), f.Downloadable, expires)
				n++
			}
			if err := pager.Err(); err != nil {
				return err
			}
			return tw.Flush()
		},
	}
	list.Flags().IntVar(&limit, "limit", 0, "show at most this many files (0: all)")

	get := &cobra.Command{
		Use:   "get ID",
		Short: "Print a file's metadata as JSON",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			client, err := cf.client()
			if err != nil {
				return err
			}
			f, err := client.Files.GetMetadata(cmd.Context(), args[0], anthropic.FileGetMetadataParams{})
			if err != nil {
				return err
			}
			var v any
			if err := json.Unmarshal([]byte(f.RawJSON()), &v); err != nil {
				return err
			}
			enc := json.NewEncoder(os.Stdout)
			enc.SetIndent("", "  ")
			return enc.Encode(v)
		},
	}

	var out string
	download := &cobra.Command{
		Use:   "download ID",
		Short: "Download a file (to its own name in the current directory, -o PATH, or -o - for stdout)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			client, err := cf.client()
			if err != nil {
				return err
			}
			return downloadFile(cmd.Context(), client, args[0], out)
		},
	}
	download.Flags().StringVarP(&out, "output", "o", "", "where to write the file")

	del := &cobra.Command{
		Use:   "delete ID",
		Short: "Delete a file",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			client, err := cf.client()
			if err != nil {
				return err
			}
			d, err := client.Files.Delete(cmd.Context(), args[0], anthropic.FileDeleteParams{})
			if err != nil {
				return err
			}
			fmt.Println("deleted", d.ID)
			return nil
		},
	}
	cmd.AddCommand(upload, list, get, download, del)
	return cmd
}

func init() { rootCmd.AddCommand(newFilesCmd()) }

// uploadFile streams path as a multipart body through the SDK: the SDK's own Upload
// builds the whole body in memory, which a large file must not need.
func uploadFile(ctx context.Context, client anthropic.Client, path string, expiresIn time.Duration) (*anthropic.FileMetadata, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if !st.Mode().IsRegular() {
		return nil, errors.New("not a regular file")
	}
	pr, pw := io.Pipe()
	mw := multipart.NewWriter(pw)
	bar := newProgress(filepath.Base(path), st.Size())
	go func() {
		err := func() error {
			if expiresIn > 0 {
				if err := mw.WriteField("expires_in_seconds", fmt.Sprint(int64(expiresIn/time.Second))); err != nil {
					return err
				}
			}
			h := textproto.MIMEHeader{}
			h.Set("Content-Disposition", multipartDisposition("file", filepath.Base(path)))
			h.Set("Content-Type", "application/octet-stream")
			part, err := mw.CreatePart(h)
			if err != nil {
				return err
			}
			if _, err := io.Copy(part, bar.reader(f)); err != nil {
				return err
			}
			return mw.Close()
		}()
		pw.CloseWithError(err)
	}()
	var res anthropic.FileMetadata
	err = client.Post(ctx, "v1/files", nil, &res, option.WithRequestBody(mw.FormDataContentType(), pr))
	pr.CloseWithError(errors.New("request ended"))
	bar.done()
	if err != nil {
		return nil, err
	}
	return &res, nil
}

func multipartDisposition(name, filename string) string {
	esc := strings.NewReplacer(`\`, `\\`, `"`, `\"`)
	return fmt.Sprintf(`form-data; name="%s"; filename="%s"`, esc.Replace(name), esc.Replace(filename))
}

// downloadFile writes the file to out; a file is written under a temporary name and
// renamed when complete, so a failed download leaves no partial file.
func downloadFile(ctx context.Context, client anthropic.Client, id, out string) (err error) {
	if out == "" {
		meta, err := client.Files.GetMetadata(ctx, id, anthropic.FileGetMetadataParams{})
		if err != nil {
			return err
		}
		out = filepath.Base(meta.Filename)
	}
	res, err := client.Files.Download(ctx, id, anthropic.FileDownloadParams{})
	if err != nil {
		return err
	}
	defer res.Body.Close()
	bar := newProgress(id, res.ContentLength)
	defer bar.done()
	if out == "-" {
		_, err = io.Copy(os.Stdout, bar.reader(res.Body))
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(out), "."+filepath.Base(out)+".part-*")
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	if _, err = io.Copy(tmp, bar.reader(res.Body)); err != nil {
		return err
	}
	if err = tmp.Close(); err != nil {
		return err
	}
	if err = os.Rename(tmp.Name(), out); err != nil {
		return err
	}
	fmt.Fprintln(os.Stderr, "saved", out)
	return nil
}

// progress draws a bar on stderr for transfers of at least progressMin bytes, when stderr
// is a terminal.
type progress struct {
	name  string
	total int64
	n     int64
	start time.Time
	last  time.Time
	on    bool
}

const progressMin = 8 << 20

func newProgress(name string, total int64) *progress {
	st, err := os.Stderr.Stat()
	tty := err == nil && st.Mode()&os.ModeCharDevice != 0
	return &progress{name: name, total: total, start: time.Now(), on: tty && total >= progressMin}
}

func (p *progress) reader(r io.Reader) io.Reader {
	if !p.on {
		return r
	}
	return readerFunc(func(b []byte) (int, error) {
		n, err := r.Read(b)
		p.n += int64(n)
		if now := time.Now(); now.Sub(p.last) > 100*time.Millisecond || err != nil {
			p.last = now
			p.draw()
		}
		return n, err
	})
}

func (p *progress) draw() {
	const width = 30
	frac := float64(p.n) / float64(p.total)
	frac = min(max(frac, 0), 1)
	filled := int(frac * width)
	rate := float64(p.n) / max(time.Since(p.start).Seconds(), 1e-3)
	fmt.Fprintf(os.Stderr, "\r%s [%s%s] %3.0f%% %s/%s %s/s ", p.name, strings.Repeat("=", filled), strings.Repeat(" ", width-filled),
		frac*100, humanize.Bytes(uint64(p.n)), humanize.Bytes(uint64(p.total)), humanize.Bytes(uint64(rate)))
}

func (p *progress) done() {
	if p.on {
		p.draw()
		fmt.Fprintln(os.Stderr)
		p.on = false
	}
}

type readerFunc func([]byte) (int, error)

func (f readerFunc) Read(b []byte) (int, error) { return f(b) }
