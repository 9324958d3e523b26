package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/anthropics/anthropic-sdk-go"
	"github.com/anthropics/anthropic-sdk-go/packages/param"
	"github.com/codebox-dev/codebox/api"
	"github.com/dustin/go-humanize"
	"github.com/spf13/cobra"
)

// maxContinuations bounds how often ask resumes a paused turn by itself.
const maxContinuations = 20

func newAskCmd() *cobra.Command {
	var cf clientFlags
	var o askOptions
	cmd := &cobra.Command{
		Use:   "ask [flags] PROMPT",
		Short: "Ask a model to work in a code execution container: upload files, stream the work, download what it made",
		Long: "ask uploads the --file paths, sends PROMPT with the code execution tool (streamed), prints the model's\n" +
			"narrative, each command and its output as it happens, resumes paused turns, downloads every file the\n" +
			"commands generated into --out, and prints the container id and the usage.",
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := cf.client()
			if err != nil {
				return err
			}
			o.prompt = args[0]
			return runAsk(cmd.Context(), &c, &o, cmd.OutOrStdout())
		},
	}
	bindClientFlags(cmd, &cf)
	fs := cmd.Flags()
	fs.StringVar(&o.model, "model", "claude-sonnet-4-5", "model: claude-*, openai/<model> or script/<name>")
	fs.StringVar(&o.container, "container", "", "reuse this container (its files from earlier requests are there)")
	fs.StringArrayVar(&o.files, "file", nil, "file to upload into the container (repeatable)")
	fs.StringVar(&o.tool, "tool", "code_execution_20250825", "code execution tool version")
	fs.Int64Var(&o.maxTokens, "max-tokens", 8192, "max_tokens of each model turn")
	fs.StringVar(&o.out, "out", ".", "directory the generated files are downloaded into")
	return cmd
}

func init() { rootCmd.AddCommand(newAskCmd()) }

type askOptions struct {
	prompt, model, container, tool, out string
	files                               []string
	maxTokens                           int64
}

func askTool(version string) (anthropic.ToolUnionParam, error) {
	switch version {
	case "code_execution_20250522":
		return anthropic.ToolUnionParam{OfCodeExecutionTool20250522: &anthropic.CodeExecutionTool20250522Param{}}, nil
	case "code_execution_20250825":
		return anthropic.ToolUnionParam{OfCodeExecutionTool20250825: &anthropic.CodeExecutionTool20250825Param{}}, nil
	case "code_execution_20260120":
		return anthropic.ToolUnionParam{OfCodeExecutionTool20260120: &anthropic.CodeExecutionTool20260120Param{}}, nil
	case "code_execution_20260521":
		return anthropic.ToolUnionParam{OfCodeExecutionTool20260521: &anthropic.CodeExecutionTool20260521Param{}}, nil
	}
	return anthropic.ToolUnionParam{}, fmt.Errorf("--tool %q: use code_execution_20250522, _20250825, _20260120 or _20260521", version)
}

func runAsk(ctx context.Context, c *anthropic.Client, o *askOptions, w io.Writer) error {
	tool, err := askTool(o.tool)
	if err != nil {
		return err
	}
	start := time.Now().UTC()
	blocks := []anthropic.ContentBlockParamUnion{anthropic.NewTextBlock(o.prompt)}
	for _, p := range o.files {
		f, err := os.Open(p)
		if err != nil {
			return err
		}
		meta, err := c.Files.Upload(ctx, anthropic.FileUploadParams{File: anthropic.File(f, filepath.Base(p), "")})
		f.Close()
		if err != nil {
			return fmt.Errorf("upload %s: %w", p, err)
		}
		fmt.Fprintf(w, "uploaded %s as %s\n", p, meta.ID)
		blocks = append(blocks, anthropic.NewContainerUploadBlock(meta.ID))
	}
	params := anthropic.MessageNewParams{
		Model:     anthropic.Model(o.model),
		MaxTokens: o.maxTokens,
		Messages:  []anthropic.MessageParam{anthropic.NewUserMessage(blocks...)},
		Tools:     []anthropic.ToolUnionParam{tool},
	}
	if o.container != "" {
		params.Container = anthropic.MessageCreateParamsContainerUnion{OfString: param.NewOpt(o.container)}
	}

	var fileIDs []string
	var containerID string
	var inTokens, outTokens, execRequests int64
	for round := 0; ; round++ {
		msg, err := streamTurn(ctx, c, params, w)
		if err != nil {
			return err
		}
		fileIDs = append(fileIDs, generatedFiles(msg)...)
		inTokens += msg.Usage.InputTokens
		outTokens += msg.Usage.OutputTokens
		execRequests += codeExecutionRequests(msg)
		if msg.Container.ID != "" {
			containerID = msg.Container.ID
		}
		if msg.StopReason != anthropic.StopReasonPauseTurn || round == maxContinuations {
			if msg.StopReason != anthropic.StopReasonEndTurn {
				fmt.Fprintf(w, "\n[stopped: %s]\n", msg.StopReason)
			}
			break
		}
		// A paused turn continues when the assistant message is sent back as is.
		params.Messages = append(params.Messages, msg.ToParam())
		params.Container = anthropic.MessageCreateParamsContainerUnion{OfString: param.NewOpt(containerID)}
	}

	fmt.Fprintln(w)
	for _, id := range fileIDs {
		if err := downloadGenerated(ctx, c, id, o.out, w); err != nil {
			fmt.Fprintf(w, "download %s: %v\n", id, err)
		}
	}
	fmt.Fprintf(w, "container: %s\n", containerID)
	fmt.Fprintf(w, "usage: %d input tokens, %d output tokens, %d code execution requests", inTokens, outTokens, execRequests)
	var rep api.UsageReport
	if err := c.Get(ctx, "v1/usage?start="+url.QueryEscape(start.Add(-time.Second).Format(time.RFC3339)), nil, &rep); err == nil {
		fmt.Fprintf(w, ", container time %s (billed %s)", secs(rep.ContainerSeconds), secs(rep.ContainerBilledSeconds))
	}
	fmt.Fprintln(w)
	return nil
}

// streamTurn sends one request and prints the work as it streams.
func streamTurn(ctx context.Context, c *anthropic.Client, params anthropic.MessageNewParams, w io.Writer) (*anthropic.Message, error) {
	stream := c.Messages.NewStreaming(ctx, params)
	defer stream.Close()
	var acc anthropic.Message
	for stream.Next() {
		ev := stream.Current()
		if err := acc.Accumulate(ev); err != nil {
			return nil, err
		}
		switch ev.Type {
		case "content_block_delta":
			if ev.Delta.Type == "text_delta" {
				fmt.Fprint(w, ev.Delta.Text)
			}
		case "content_block_stop":
			b := acc.Content[ev.Index]
			switch b.Type {
			case "text":
				fmt.Fprintln(w)
			case "server_tool_use":
				printCall(w, b.Name, b.Input)
			}
		case "content_block_start":
			b := acc.Content[ev.Index]
			if strings.HasSuffix(b.Type, "_tool_result") {
				printResult(w, b.RawJSON())
			}
		}
	}
	if err := stream.Err(); err != nil {
		return nil, err
	}
	return &acc, nil
}

func printCall(w io.Writer, name string, input json.RawMessage) {
	var in struct {
		Command  string `json:"command"`
		Path     string `json:"path"`
		Code     string `json:"code"`
		OldStr   string `json:"old_str"`
		FileText string `json:"file_text"`
	}
	json.Unmarshal(input, &in)
	switch name {
	case "bash_code_execution":
		fmt.Fprintf(w, "$ %s\n", in.Command)
	case "code_execution":
		fmt.Fprintf(w, ">>> %s\n", strings.ReplaceAll(strings.TrimRight(in.Code, "\n"), "\n", "\n... "))
	default:
		fmt.Fprintf(w, "[edit] %s %s\n", in.Command, in.Path)
	}
}

// printResult shows a result block: output and exit code, the editor's answer, or
// the error code.
func printResult(w io.Writer, raw string) {
	var b struct {
		Content struct {
			Type         string          `json:"type"`
			Stdout       string          `json:"stdout"`
			Stderr       string          `json:"stderr"`
			ReturnCode   int             `json:"return_code"`
			Content      json.RawMessage `json:"content"`
			ErrorCode    string          `json:"error_code"`
			ErrorMessage string          `json:"error_message"`
			IsFileUpdate bool            `json:"is_file_update"`
			Lines        []string        `json:"lines"`
		} `json:"content"`
	}
	json.Unmarshal([]byte(raw), &b)
	r := b.Content
	switch {
	case r.ErrorCode != "":
		fmt.Fprintf(w, "  error: %s %s\n", r.ErrorCode, r.ErrorMessage)
	case strings.HasSuffix(r.Type, "_view_result"):
		var text string
		json.Unmarshal(r.Content, &text)
		fmt.Fprint(w, indent(text))
	case strings.HasSuffix(r.Type, "_create_result"):
		fmt.Fprintf(w, "  written (existed before: %t)\n", r.IsFileUpdate)
	case strings.HasSuffix(r.Type, "_str_replace_result"):
		fmt.Fprint(w, indent(strings.Join(r.Lines, "\n")+"\n"))
	default:
		fmt.Fprint(w, indent(r.Stdout))
		if r.Stderr != "" {
			fmt.Fprint(w, indent("stderr: "+r.Stderr))
		}
		if r.ReturnCode != 0 {
			fmt.Fprintf(w, "  exit code %d\n", r.ReturnCode)
		}
	}
}

func indent(s string) string {
	if s == "" {
		return ""
	}
	s = "  " + strings.ReplaceAll(strings.TrimRight(s, "\n"), "\n", "\n  ")
	return s + "\n"
}

// generatedFiles lists the file ids of every output block of a message.
func generatedFiles(m *anthropic.Message) []string {
	var ids []string
	for _, b := range m.Content {
		if !strings.HasSuffix(b.Type, "_tool_result") {
			continue
		}
		var r struct {
			Content struct {
				Content json.RawMessage `json:"content"`
			} `json:"content"`
		}
		json.Unmarshal([]byte(b.RawJSON()), &r)
		var outs []struct {
			FileID string `json:"file_id"`
		}
		if json.Unmarshal(r.Content.Content, &outs) == nil {
			for _, o := range outs {
				if o.FileID != "" {
					ids = append(ids, o.FileID)
				}
			}
		}
	}
	return ids
}

// codeExecutionRequests reads usage.server_tool_use.code_execution_requests, which the
// SDK's types do not declare.
func codeExecutionRequests(m *anthropic.Message) int64 {
	var r struct {
		Usage struct {
			ServerToolUse struct {
				N int64 `json:"code_execution_requests"`
			} `json:"server_tool_use"`
		} `json:"usage"`
	}
	json.Unmarshal([]byte(m.RawJSON()), &r)
	return r.Usage.ServerToolUse.N
}

// downloadGenerated saves a generated file under dir with its own name, never overwriting
// an existing file (a numeric suffix is added instead).
func downloadGenerated(ctx context.Context, c *anthropic.Client, id, dir string, w io.Writer) error {
	meta, err := c.Beta.Files.GetMetadata(ctx, id, anthropic.BetaFileGetMetadataParams{})
	if err != nil {
		return err
	}
	resp, err := c.Beta.Files.Download(ctx, id, anthropic.BetaFileDownloadParams{})
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	name := filepath.Base(meta.Filename)
	if name == "." || name == "/" || name == ".." {
		name = id
	}
	ext := filepath.Ext(name)
	stem := strings.TrimSuffix(name, ext)
	var f *os.File
	for i := 0; ; i++ {
		p := filepath.Join(dir, name)
		if i > 0 {
			p = filepath.Join(dir, fmt.Sprintf("%s-%d%s", stem, i, ext))
		}
		f, err = os.OpenFile(p, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
		if err == nil {
			break
		}
		if !os.IsExist(err) || i > 1000 {
			return err
		}
	}
	n, err := io.Copy(f, resp.Body)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(f.Name())
		return err
	}
	fmt.Fprintf(w, "saved %s (%s)\n", f.Name(), humanize.Bytes(uint64(n)))
	return nil
}

func secs(s float64) string {
	return (time.Duration(s * float64(time.Second))).Round(time.Millisecond).String()
}
