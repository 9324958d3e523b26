package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/anthropics/anthropic-sdk-go"
	"github.com/anthropics/anthropic-sdk-go/option"

	"github.com/codebox-dev/codebox"
	"github.com/codebox-dev/codebox/agentloop"
	"github.com/codebox-dev/codebox/api"
	"github.com/codebox-dev/codebox/provider"
	"github.com/codebox-dev/codebox/provider/script"
	"github.com/codebox-dev/codebox/tools"
)

// sentBodies records the bodies a client sends, keyed by path and query.
type sentBodies map[string][]byte

func (s sentBodies) middleware(r *http.Request, next option.MiddlewareNext) (*http.Response, error) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		return nil, err
	}
	s[r.URL.RequestURI()] = body
	r.Body = io.NopCloser(bytes.NewReader(body))
	return next(r)
}

func countParams(model string, tools ...anthropic.MessageCountTokensToolUnionParam) anthropic.MessageCountTokensParams {
	return anthropic.MessageCountTokensParams{
		Model:    anthropic.Model(model),
		Messages: []anthropic.MessageParam{anthropic.NewUserMessage(anthropic.NewTextBlock("How many tokens is this?"))},
		System:   anthropic.MessageCountTokensParamsSystemUnion{OfString: anthropic.String("Be brief.")},
		Tools:    tools,
	}
}

// TestCountTokensForwarded counts a claude-* request at upstream's count_tokens: the
// client's body byte for byte without a code execution tool, the request the model is
// shown (sub-tools and system addendum) with one.
func TestCountTokensForwarded(t *testing.T) {
	e := newEnv(t, formatAnthropic, scriptOf(turn(text("unused"))), envOptions{})
	sent := sentBodies{}
	c := anthropic.NewClient(option.WithBaseURL(e.url), option.WithAPIKey(e.keyA), option.WithMaxRetries(0),
		option.WithMiddleware(sent.middleware))
	ctx := context.Background()

	n, err := c.Messages.CountTokens(ctx, countParams(e.model))
	if err != nil {
		t.Fatal(err)
	}
	reqs := e.upstream.Requests()
	if len(reqs) != 1 || reqs[0].Path != "/v1/messages/count_tokens" {
		t.Fatalf("upstream requests = %+v", reqs)
	}
	up := reqs[0]
	if !bytes.Equal(up.Body, sent["/v1/messages/count_tokens"]) {
		t.Errorf("upstream body = %s, client sent %s", up.Body, sent["/v1/messages/count_tokens"])
	}
	if up.Header.Get("x-api-key") != "upstream-key" || up.Header.Get("anthropic-version") == "" {
		t.Errorf("upstream headers = %v", up.Header)
	}
	if want := int64(len(up.Body)/4 + 1); n.InputTokens != want {
		t.Errorf("input_tokens = %d, want upstream's %d", n.InputTokens, want)
	}
	var shape map[string]any
	if err := json.Unmarshal([]byte(n.RawJSON()), &shape); err != nil || len(shape) != 1 || shape["input_tokens"] == nil {
		t.Errorf("answer = %s, want exactly {\"input_tokens\": N}", n.RawJSON())
	}

	// The beta method adds ?beta=true and its anthropic-beta header reaches upstream.
	bn, err := c.Beta.Messages.CountTokens(ctx, anthropic.BetaMessageCountTokensParams{
		Model:    anthropic.Model(e.model),
		Messages: []anthropic.BetaMessageParam{anthropic.NewBetaUserMessage(anthropic.NewBetaTextBlock("How many tokens is this?"))},
		Betas:    []anthropic.AnthropicBeta{"token-counting-2024-11-01"},
	})
	if err != nil {
		t.Fatal(err)
	}
	reqs = e.upstream.Requests()
	up = reqs[len(reqs)-1]
	if !bytes.Equal(up.Body, sent["/v1/messages/count_tokens?beta=true"]) || up.Header.Get("anthropic-beta") != "token-counting-2024-11-01" {
		t.Errorf("beta upstream = %s %v", up.Body, up.Header)
	}
	if bn.InputTokens != int64(len(up.Body)/4+1) {
		t.Errorf("beta input_tokens = %d", bn.InputTokens)
	}

	// With the code execution tool, the count is of the request the model sees.
	fileID := uploadSales(t, &c)
	p := countParams(e.model, anthropic.MessageCountTokensToolUnionParam{OfCodeExecutionTool20250825: &anthropic.CodeExecutionTool20250825Param{}})
	p.Messages[0].Content = append(p.Messages[0].Content, anthropic.NewContainerUploadBlock(fileID))
	ce, err := c.Messages.CountTokens(ctx, p)
	if err != nil {
		t.Fatal(err)
	}
	reqs = e.upstream.Requests()
	up = reqs[len(reqs)-1]
	var got struct {
		System []struct {
			Text string `json:"text"`
		} `json:"system"`
		Tools []struct {
			Name string `json:"name"`
			Type string `json:"type"`
		} `json:"tools"`
		MaxTokens *int64 `json:"max_tokens"`
	}
	if err := json.Unmarshal(up.Body, &got); err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, tl := range got.Tools {
		names = append(names, tl.Name)
		if strings.HasPrefix(tl.Type, "code_execution_") {
			t.Errorf("upstream was sent the server tool %s", tl.Type)
		}
	}
	if strings.Join(names, ",") != tools.Bash+","+tools.TextEditor {
		t.Errorf("upstream tools = %v", names)
	}
	if len(got.System) != 2 || got.System[0].Text != "Be brief." || !strings.Contains(got.System[1].Text, "sales.csv") {
		t.Errorf("upstream system = %+v", got.System)
	}
	if got.MaxTokens != nil || !bytes.Contains(up.Body, []byte("/workspace/sales.csv")) {
		t.Errorf("upstream body = %s", up.Body)
	}
	if ce.InputTokens != int64(len(up.Body)/4+1) {
		t.Errorf("code execution input_tokens = %d", ce.InputTokens)
	}

	// Validation as for /v1/messages; the model is not asked.
	calls := len(e.upstream.Requests())
	noTool := countParams(e.model)
	noTool.Messages[0].Content = append(noTool.Messages[0].Content, anthropic.NewContainerUploadBlock(fileID))
	_, err = c.Messages.CountTokens(ctx, noTool)
	apiError(t, err, 400, "invalid_request_error")
	p.Messages[0].Content[1] = anthropic.NewContainerUploadBlock("file_doesnotexist")
	_, err = c.Messages.CountTokens(ctx, p)
	apiError(t, err, 404, "not_found_error")
	noModel := countParams("")
	_, err = c.Messages.CountTokens(ctx, noModel)
	apiError(t, err, 400, "invalid_request_error")
	noMessages := countParams(e.model)
	noMessages.Messages = nil
	_, err = c.Messages.CountTokens(ctx, noMessages)
	apiError(t, err, 400, "invalid_request_error")
	if n := len(e.upstream.Requests()); n != calls {
		t.Errorf("upstream called %d times for rejected requests", n-calls)
	}
}

// TestCountTokensOpenAI: chat completions has no count endpoint, so there is no count.
func TestCountTokensOpenAI(t *testing.T) {
	e := newEnv(t, formatOpenAI, scriptOf(turn(text("unused"))), envOptions{})
	_, err := e.client(e.keyA).Messages.CountTokens(context.Background(), countParams(e.model))
	ae := apiError(t, err, 400, "invalid_request_error")
	if !strings.Contains(ae.RawJSON(), "no token-counting endpoint") {
		t.Errorf("error = %s", ae.RawJSON())
	}
	if n := len(e.upstream.Requests()); n != 0 {
		t.Errorf("upstream called %d times", n)
	}
}

type oneKey struct{}

func (oneKey) Authenticate(context.Context, string) (codebox.WorkspaceID, error) {
	return codebox.DefaultWorkspace, nil
}

// TestCountTokensScript: a scripted model counts offline, deterministically, the same
// estimate its turns report as input tokens.
func TestCountTokensScript(t *testing.T) {
	s, err := script.Parse([]byte(scriptOf(turn(text("Hello.")))))
	if err != nil {
		t.Fatal(err)
	}
	loop := agentloop.New(agentloop.Config{Models: &provider.Router{Scripts: map[string]provider.Model{"demo": script.NewModel(s)}}})
	srv := httptest.NewServer(api.New(api.Config{Logger: slog.New(slog.DiscardHandler), Auth: oneKey{},
		MessagesConfig: api.MessagesConfig{Loop: loop}}))
	defer srv.Close()
	c := anthropic.NewClient(option.WithBaseURL(srv.URL), option.WithAPIKey("k"), option.WithMaxRetries(0))
	ctx := context.Background()
	p := countParams("script/demo")
	n1, err := c.Messages.CountTokens(ctx, p)
	if err != nil {
		t.Fatal(err)
	}
	n2, err := c.Messages.CountTokens(ctx, p)
	if err != nil {
		t.Fatal(err)
	}
	if n1.InputTokens < 1 || n1.InputTokens != n2.InputTokens {
		t.Errorf("counts = %d, %d", n1.InputTokens, n2.InputTokens)
	}
	msg, err := c.Messages.New(ctx, anthropic.MessageNewParams{Model: p.Model, MaxTokens: 100, Messages: p.Messages,
		System: []anthropic.TextBlockParam{{Text: "Be brief."}}})
	if err != nil {
		t.Fatal(err)
	}
	if msg.Usage.InputTokens != n1.InputTokens {
		t.Errorf("count = %d, the turn reported %d input tokens", n1.InputTokens, msg.Usage.InputTokens)
	}
	ce, err := c.Messages.CountTokens(ctx, countParams("script/demo",
		anthropic.MessageCountTokensToolUnionParam{OfCodeExecutionTool20250825: &anthropic.CodeExecutionTool20250825Param{}}))
	if err != nil {
		t.Fatal(err)
	}
	if ce.InputTokens <= n1.InputTokens {
		t.Errorf("with code execution %d tokens, without %d: sub-tools and addendum not counted", ce.InputTokens, n1.InputTokens)
	}
}
