package e2e

import (
	"bytes"
	"context"
	"image/png"
	"io"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/anthropics/anthropic-sdk-go"
	"github.com/anthropics/anthropic-sdk-go/packages/param"

	"github.com/codebox-dev/codebox/provider"
	openaidrv "github.com/codebox-dev/codebox/provider/openai"
	"github.com/codebox-dev/codebox/provider/script"
	"github.com/codebox-dev/codebox/tools"
)

// vendorFakes serves s as the fake of each built-in OpenAI-compatible provider, which
// behaves as that provider's documentation says (script.Flavors cites it), and returns
// drivers configured as codebox configures each provider.
func vendorFakes(t testing.TB, s *script.Script) (map[string]provider.Model, map[string]*script.Server) {
	models, servers := map[string]provider.Model{}, map[string]*script.Server{}
	for _, v := range openaidrv.Vendors {
		srv := script.NewOpenAIServerFlavor(s, script.Flavors[v.Name])
		up := httptest.NewServer(srv)
		t.Cleanup(up.Close)
		cfg := v.Config(up.URL+"/v1", "upstream-key", "")
		if v.Name == "openai" {
			cfg.MaxTokensField = openaidrv.MaxCompletionTokens // as at api.openai.com
		}
		m, err := openaidrv.New(cfg)
		if err != nil {
			t.Fatal(err)
		}
		models[v.Name], servers[v.Name] = m, srv
	}
	return models, servers
}

// seedScript is the seed workflow as a model does it in two tool calls: it thinks,
// totals revenue by region, then charts it, then answers. The calls run in the
// container's persistent Python, so only the first run of the test pays for the
// imports.
func seedScript() string {
	first := turn(obj{"type": "thinking", "thinking": "Load the CSV, total by region, then chart.", "signature": "sig"},
		text("I'll total revenue by region."),
		python("import pandas as pd\nrev = pd.read_csv('sales.csv').groupby('region')['revenue_usd'].sum()\nprint(rev.to_string())"))
	second := turn(text("Now the chart."), python("import matplotlib\nmatplotlib.use('Agg')\n"+
		"import matplotlib.pyplot as plt\nrev.plot(kind='bar')\nplt.savefig('chart.png')\nplt.close('all')"))
	return scriptOf(first, second,
		turn(text("North leads with $5,200; the chart is chart.png.")))
}

// TestProvidersSeedWorkflow runs the seed workflow (upload a CSV, an analysis with two
// tool calls, the chart downloaded) with the official SDK, on the real sandbox,
// through every provider: Claude and each OpenAI-compatible provider's fake on
// loopback, plain and streamed, all in one container. Every documented rejection
// of the fakes (tool-call ids, reasoning_content, schema keywords, empty content,
// refused fields) would fail the run, and every stream shape they send must come out
// as the same message.
func TestProvidersSeedWorkflow(t *testing.T) {
	e := newEnv(t, formatVendors, seedScript(), envOptions{})
	c := e.client(e.keyA)
	ctx := context.Background()
	fileID := uploadSales(t, c)
	models := []string{"claude-sonnet-4-5"}
	for _, v := range openaidrv.Vendors {
		models = append(models, v.Name+"/scripted-model")
	}
	container := ""
	for _, model := range models {
		t.Run(strings.Split(model, "/")[0], func(t *testing.T) {
			p := e.params(anthropic.NewTextBlock("Total revenue by region, and save a bar chart as chart.png."),
				anthropic.NewContainerUploadBlock(fileID))
			p.Model = anthropic.Model(model)
			// A client tool the model never calls, written as OpenAI's strict mode wants
			// it, which Gemini refuses unless translated.
			weather := anthropic.ToolParam{Name: "get_weather", Strict: param.NewOpt(true),
				InputSchema: anthropic.ToolInputSchemaParam{Properties: map[string]any{"city": map[string]any{"type": "string"}},
					Required: []string{"city"}, ExtraFields: map[string]any{"additionalProperties": false}}}
			p.Tools = []anthropic.ToolUnionParam{codeExecTool(tools.CodeExecution20260120), {OfTool: &weather}}
			if container != "" {
				p.Container = anthropic.MessageCreateParamsContainerUnion{OfString: param.NewOpt(container)}
			}
			plain, err := c.Messages.New(ctx, p)
			if err != nil {
				t.Fatal(err)
			}
			checkSeed(t, c, plain)
			container = plain.Container.ID

			p.Container = anthropic.MessageCreateParamsContainerUnion{OfString: param.NewOpt(container)}
			stream := c.Messages.NewStreaming(ctx, p)
			var acc anthropic.Message
			for stream.Next() {
				if err := acc.Accumulate(stream.Current()); err != nil {
					t.Fatalf("accumulate: %v", err)
				}
			}
			if err := stream.Err(); err != nil {
				t.Fatal(err)
			}
			checkSeed(t, c, &acc)
			if acc.Container.ID != container {
				t.Errorf("streamed run in container %q, want %q", acc.Container.ID, container)
			}
		})
	}
	for name, srv := range e.vendors {
		if n := len(srv.Requests()); n != 6 {
			t.Errorf("%s's fake saw %d requests, want 6 (three turns, twice)", name, n)
		}
	}
}

// checkSeed checks a seed workflow's answer: the two calls and their results, the
// totals, the answer, and chart.png downloadable and a PNG.
func checkSeed(t *testing.T, c *anthropic.Client, msg *anthropic.Message) {
	t.Helper()
	var types []string
	for _, b := range msg.Content {
		if b.Type != "thinking" { // Claude shows its thinking; the others only when asked
			types = append(types, b.Type)
		}
	}
	want := "text,server_tool_use,code_execution_tool_result,text,server_tool_use,code_execution_tool_result,text"
	if got := strings.Join(types, ","); got != want || msg.StopReason != "end_turn" {
		t.Fatalf("content = %s (%s), want %s: %s", got, msg.StopReason, want, msg.RawJSON())
	}
	var results []anthropic.CodeExecutionResultBlock
	for _, b := range msg.Content {
		if b.Type == "code_execution_tool_result" {
			results = append(results, b.AsCodeExecutionToolResult().Content.AsResponseCodeExecutionResultBlock())
		}
	}
	if out := results[0]; out.ReturnCode != 0 || !strings.Contains(out.Stdout, "north") || !strings.Contains(out.Stdout, "5200") {
		t.Fatalf("totals = %+v", out)
	}
	chart := results[1]
	if chart.ReturnCode != 0 || len(chart.Content) != 1 {
		t.Fatalf("chart run = %+v", chart)
	}
	ctx := context.Background()
	meta, err := c.Beta.Files.GetMetadata(ctx, chart.Content[0].FileID, anthropic.BetaFileGetMetadataParams{})
	if err != nil || meta.Filename != "chart.png" || !meta.Downloadable {
		t.Fatalf("chart metadata = %+v, %v", meta, err)
	}
	dl, err := c.Beta.Files.Download(ctx, chart.Content[0].FileID, anthropic.BetaFileDownloadParams{})
	if err != nil {
		t.Fatal(err)
	}
	data, _ := io.ReadAll(dl.Body)
	dl.Body.Close()
	if _, err := png.Decode(bytes.NewReader(data)); err != nil {
		t.Fatalf("chart.png is not a valid PNG (%d bytes): %v", len(data), err)
	}
	if n := codeExecRequests(t, msg); n != 2 {
		t.Errorf("code_execution_requests = %d, want 2", n)
	}
}
