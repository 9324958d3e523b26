package agentloop

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/codebox-dev/codebox"
	"github.com/codebox-dev/codebox/egress"
	"github.com/codebox-dev/codebox/errdefs"
	"github.com/codebox-dev/codebox/files"
	"github.com/codebox-dev/codebox/ids"
	"github.com/codebox-dev/codebox/provider"
	"github.com/codebox-dev/codebox/sandbox"
	"github.com/codebox-dev/codebox/skills"
	"github.com/codebox-dev/codebox/tools"
)

// Models resolves a request's model name; *provider.Router satisfies it.
type Models interface {
	// Resolve returns the model and the name to send upstream, or ErrInvalid/ErrNotFound.
	Resolve(model string) (provider.Model, string, error)
}

// Files gives the loop the workspace's uploaded files; *files.Service satisfies it.
type Files interface {
	Get(ctx context.Context, ws codebox.WorkspaceID, id string) (*files.File, error)
	sandbox.InputFiles
}

// UsageRecorder persists metered usage; *sqlite.DB satisfies it.
type UsageRecorder interface {
	RecordUsage(ctx context.Context, ws codebox.WorkspaceID, rec UsageRecord) error
}

// Sandbox is the loop's view of the containers: the tools' operations, and Delete to
// undo a container a failed request made (*sandbox.Manager satisfies it).
type Sandbox interface {
	tools.Sandbox
	Delete(ctx context.Context, ws codebox.WorkspaceID, id string) error
}

// toucher is the optional part of the sandbox that marks a container used and returns
// fresh expiry times (*sandbox.Manager has it).
type toucher interface {
	Touch(ctx context.Context, ws codebox.WorkspaceID, id string) (*sandbox.Container, error)
}

// confirmer is the optional part of the sandbox that makes a provisional container
// permanent (*sandbox.Manager has it): a container created for a request is confirmed
// only once the request answers, so that one whose request never did is reclaimed.
type confirmer interface {
	Confirm(ctx context.Context, ws codebox.WorkspaceID, id string) error
}

// Config holds the loop's dependencies and limits.
type Config struct {
	Models  Models
	Sandbox Sandbox
	Runner  *tools.Runner // nil: tools.NewRunner(Sandbox)
	Files   Files
	Skills  Skills        // nil: requests with container.skills are refused
	Usage   UsageRecorder // nil: usage is not persisted
	Logger  *slog.Logger
	// MaxIterations is the number of tool-running rounds per request before the loop
	// answers pause_turn (default 10).
	MaxIterations int
	// PingInterval is how often a stream is pinged while a command runs (default 5 s).
	PingInterval time.Duration
	// Libraries are the image's Python packages for the system prompt (default
	// DefaultLibraries); LimitsText describes the container's limits.
	Libraries []string
	Commands  []string
	// ImageContents lists the working Python libraries and commands of a custom
	// image, for the system prompt of its containers; nil, or an empty answer, means
	// Libraries and Commands.
	ImageContents func(image string) (libraries, commands []string)
	LimitsText    string
	Now           func() time.Time
	// Observer, if set, is told how each model turn went (metrics).
	Observer TurnObserver
	// ToolCallWindow is how long a programmatic tool call waits for its tool_result
	// before the code sees TimeoutError (default DefaultToolCallWindow).
	ToolCallWindow time.Duration
}

// TurnObserver is told about every model turn, for metrics; *metrics.Metrics satisfies
// it. provider is provider.Provider of the request's model; err is the turn's error.
type TurnObserver interface {
	ObserveUpstream(provider string, d time.Duration, err error)
}

// Loop runs Messages requests.
type Loop struct {
	cfg   Config
	execs executions
}

// New returns a Loop with cfg's defaults filled in.
func New(cfg Config) *Loop {
	if cfg.Runner == nil && cfg.Sandbox != nil {
		cfg.Runner = tools.NewRunner(cfg.Sandbox)
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.MaxIterations <= 0 {
		cfg.MaxIterations = 10
	}
	if cfg.PingInterval <= 0 {
		cfg.PingInterval = 5 * time.Second
	}
	if cfg.LimitsText == "" {
		cfg.LimitsText = "5 GiB of memory, 5 GiB of disk, 1 CPU"
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.ToolCallWindow <= 0 {
		cfg.ToolCallWindow = DefaultToolCallWindow
	}
	return &Loop{cfg: cfg}
}

// Forwarder returns the driver's Forwarder and upstream model name when the request
// needs no interpretation (no code execution tool) and its model's driver can pass the
// raw request through; ok is false otherwise.
func (l *Loop) Forwarder(model string) (f provider.Forwarder, upstream string, ok bool) {
	m, up, err := l.cfg.Models.Resolve(model)
	if err != nil {
		return nil, "", false
	}
	f, ok = m.(provider.Forwarder)
	return f, up, ok
}

// CountTokens reports how many input tokens req costs its model, counting what the model
// is actually shown: with a code execution tool, the sub-tools as client tools and the
// system addendum. It touches no container; container_upload files are looked up by id
// for their names only. Calls sent back unanswered are counted as they are, without the
// results running them would add. Models whose driver cannot count (OpenAI-compatible
// servers have no such endpoint) fail with ErrInvalid.
func (l *Loop) CountTokens(ctx context.Context, ws codebox.WorkspaceID, req *Request) (int64, error) {
	m, upstream, err := l.cfg.Models.Resolve(req.Model)
	if err != nil {
		return 0, err
	}
	tc, ok := m.(provider.TokenCounter)
	if !ok {
		return 0, errdefs.New(errdefs.ErrInvalid, "", "model %q: count_tokens is available for claude-* models; OpenAI-compatible servers have no token-counting endpoint", req.Model)
	}
	preq, err := l.UpstreamRequest(ctx, ws, req, upstream)
	if err != nil {
		return 0, err
	}
	return tc.CountTokens(ctx, preq)
}

// UpstreamRequest is the first request req's model would be sent, under the upstream
// model name, without touching a container (see CountTokens).
func (l *Loop) UpstreamRequest(ctx context.Context, ws codebox.WorkspaceID, req *Request, upstream string) (*provider.Request, error) {
	preq := baseRequest(req, upstream)
	if err := req.CheckUploads(); err != nil {
		return nil, err
	}
	if err := req.checkSkills(); err != nil {
		return nil, err
	}
	if req.CodeExecution == "" {
		preq.Messages = convert(req.Messages, nil).messages
		return preq, nil
	}
	names := uploadNames{}
	var uploadList []string
	for _, m := range req.Messages {
		for _, b := range m.Content {
			if b.Type != TypeContainerUpload || names[b.FileID] != "" {
				continue
			}
			names[b.FileID] = b.FileID
			if l.cfg.Files != nil {
				f, err := l.cfg.Files.Get(ctx, ws, b.FileID)
				if err != nil {
					return nil, err
				}
				names[b.FileID] = sandbox.ContainerFileName(f.Filename, b.FileID)
			}
			uploadList = append(uploadList, names[b.FileID])
		}
	}
	resolved, err := l.resolveSkills(ctx, ws, req)
	if err != nil {
		return nil, err
	}
	preq.Messages = convert(req.Messages, names).messages
	l.addCodeExecution(preq, req, req.ContainerImage, egress.Policy{}, uploadList, resolved)
	return preq, nil
}

// baseRequest is req for the model under its upstream name, without messages.
func baseRequest(req *Request, upstream string) *provider.Request {
	return &provider.Request{
		Model: upstream, System: req.System, Tools: req.Tools, ToolChoice: req.ToolChoice,
		MaxTokens: req.MaxTokens, StopSequences: req.StopSequences, Temperature: req.Temperature,
		TopP: req.TopP, TopK: req.TopK, Thinking: req.Thinking, Metadata: req.Metadata,
	}
}

// addCodeExecution shows the model the code execution tool of req's version: its
// sub-tools as client tools (the client tools its code may call described in the Python
// tool), the client tools it may call directly, and the system addendum naming the
// uploaded files, the skills and what the container's network policy lets it reach.
func (l *Loop) addCodeExecution(preq *provider.Request, req *Request, image string, network egress.Policy, uploads []string, resolved []*skills.Resolved) {
	version := req.CodeExecution
	addendum := provider.Block{Type: provider.TypeText, Text: l.systemAddendum(version, image, network, uploads, skillsAddendum(resolved))}
	preq.System = append(append([]provider.Block(nil), preq.System...), addendum)
	preq.Tools = directTools(req)
	fns, _ := codeFunctions(req)
	for _, d := range tools.DefinitionsFor(version, fns) {
		preq.Tools = append(preq.Tools, provider.Tool{Name: d.Name, Description: d.Description, InputSchema: d.InputSchema})
	}
}

// RecordForwarded meters a request whose model answered directly (no code execution),
// with the usage its answer reported.
func (l *Loop) RecordForwarded(ctx context.Context, ws codebox.WorkspaceID, messageID, model string, u Usage) {
	l.record(ctx, ws, &Response{ID: messageID, Model: model, Usage: u}, "", time.Time{}, time.Time{})
}

// run is the state of one request.
type run struct {
	l       *Loop
	ws      codebox.WorkspaceID
	req     *Request
	events  func(Event)
	started bool
	resp    *Response
	model   provider.Model
	preq    *provider.Request
	// open and ids hold, by turn-local block index, the type of each block the model
	// opened and the srvtoolu_ id given to each of its calls.
	open map[int]string
	ids  map[int]string
	// paused is set when the response ends with code awaiting client tools.
	paused bool
}

// Run answers req for workspace ws. With events non-nil it streams the response as it
// is produced, from this goroutine; events are sent only once the request has passed
// every check that can fail before the model answers, so an error returned before the
// first event can still be an HTTP error status.
//
// Errors: ErrInvalid (bad request, container_upload without code execution, an expired
// container with code container_expired), ErrNotFound (unknown container or file), the
// provider's upstream errors, and infrastructure failures.
func (l *Loop) Run(ctx context.Context, ws codebox.WorkspaceID, req *Request, events func(Event)) (*Response, error) {
	m, upstream, err := l.cfg.Models.Resolve(req.Model)
	if err != nil {
		return nil, err
	}
	r := &run{l: l, ws: ws, req: req, events: events, model: m,
		resp: &Response{ID: ids.New("msg_"), Model: req.Model},
		open: map[int]string{}, ids: map[int]string{}}
	r.preq = baseRequest(req, upstream)
	if err := req.CheckUploads(); err != nil {
		return nil, err
	}
	if err := req.checkSkills(); err != nil {
		return nil, err
	}
	if req.CodeExecution == "" {
		r.preq.Messages = convert(req.Messages, nil).messages
		if err := r.turnOnly(ctx); err != nil {
			return nil, err
		}
		l.record(ctx, ws, r.resp, "", time.Time{}, time.Time{})
		return r.resp, nil
	}
	if l.cfg.Sandbox == nil {
		return nil, errdefs.New(errdefs.ErrInvalid, "", "code execution is not available on this server (its sandbox is disabled)")
	}
	if err := checkProgrammatic(req); err != nil {
		return nil, err
	}
	return r.codeExecution(ctx)
}

// turnOnly runs one model turn with no tools executed.
func (r *run) turnOnly(ctx context.Context) error {
	resp, err := r.turn(ctx)
	if err != nil {
		return err
	}
	r.resp.Content = append(r.resp.Content, r.outBlocks(resp.Content)...)
	r.resp.StopReason, r.resp.StopSequence = resp.StopReason, resp.StopSequence
	r.start()
	return nil
}

func (r *run) codeExecution(ctx context.Context) (_ *Response, retErr error) {
	l, req, ws := r.l, r.req, r.ws
	// A request the server cannot run now is refused before its first model turn, with
	// a status the client can retry on, rather than failing its calls inside a 200.
	ctx, release, err := l.cfg.Runner.Admit(ctx, ws)
	if err != nil {
		return nil, err
	}
	defer release()
	var ctr *sandbox.Container
	if req.Container != "" {
		if ctr, err = l.cfg.Sandbox.Get(ctx, ws, req.Container); err != nil {
			return nil, containerError(req.Container, err)
		}
		if ctr.Status == sandbox.StatusExpired || (!ctr.ExpiresAt.IsZero() && !l.cfg.Now().Before(ctr.ExpiresAt)) {
			return nil, expiredError(req.Container)
		}
		if err := l.checkBusy(ws, req); err != nil {
			return nil, err
		}
	}
	// Uploads: a new container gets every file of the conversation; a reused one only
	// those of the turns after the last assistant message, so that a file the model
	// changed in an earlier request is not overwritten with the original.
	copyFrom := 0
	if req.Container != "" {
		for i, m := range req.Messages {
			if m.Role == "assistant" {
				copyFrom = i + 1
			}
		}
	}
	names := uploadNames{}
	var copyIn []string
	var uploadList []string
	for i, m := range req.Messages {
		for _, b := range m.Content {
			if b.Type != TypeContainerUpload || names[b.FileID] != "" {
				continue
			}
			// Every file is looked up before a container is made, so that an unknown one
			// fails the request without one.
			f, err := l.cfg.Files.Get(ctx, ws, b.FileID)
			if err != nil {
				if i < copyFrom {
					continue
				}
				return nil, err
			}
			names[b.FileID] = sandbox.ContainerFileName(f.Filename, b.FileID)
			if i >= copyFrom {
				copyIn = append(copyIn, b.FileID)
			}
		}
	}
	for _, n := range names {
		uploadList = append(uploadList, n)
	}
	resolved, err := l.resolveSkills(ctx, ws, req)
	if err != nil {
		return nil, err
	}
	r.resp.Skills = resolvedRefs(resolved)
	created := false
	if ctr == nil {
		if ctr, err = l.cfg.Sandbox.Create(ctx, ws, sandbox.CreateOptions{Provisional: true, Image: req.ContainerImage}); err != nil {
			return nil, err
		}
		created = true
	}
	// A request that answers confirms its container, also one it reused: a client may
	// have learnt the ID from a stream that was cut, and use it since.
	if c, ok := l.cfg.Sandbox.(confirmer); ok {
		id := ctr.ID
		defer func() {
			if retErr != nil {
				return
			}
			if err := c.Confirm(context.WithoutCancel(ctx), ws, id); err != nil {
				l.cfg.Logger.Warn("confirm container", "container", id, "err", err)
			}
		}()
	}
	sessionStart := l.cfg.Now()
	r.resp.Container = ctr
	defer func() {
		// A container made for this request that failed before anything ran in it and
		// before the client was told of it is of no use to anyone: undo it, as a
		// failed create would.
		if retErr != nil && created && r.resp.Usage.CodeExecutionRequests == 0 && !r.announced() {
			l.discard(ctx, ws, ctr.ID, retErr)
			l.record(ctx, ws, r.resp, "", time.Time{}, time.Time{})
			return
		}
		if c := l.refresh(ctx, ws, ctr.ID, r.paused); c != nil {
			r.resp.Container = c
		}
		l.record(ctx, ws, r.resp, ctr.ID, sessionStart, l.cfg.Now())
	}()
	for _, fid := range copyIn {
		if _, _, err := sandbox.CopyFile(ctx, l.cfg.Files, l.cfg.Sandbox, ws, ctr.ID, fid, names[fid]); err != nil {
			return nil, fmt.Errorf("copy %s into container: %w", names[fid], err)
		}
	}

	conv := convert(req.Messages, names)
	// A continuation's container is busy with the suspended code, which holds it until
	// these very results reach it: its skills are those the request that started the
	// code set.
	if !conv.resumes() {
		if err := l.mountSkills(ctx, ws, ctr.ID, resolved); err != nil {
			return nil, err
		}
	}
	r.preq.Messages = conv.messages
	l.addCodeExecution(r.preq, req, ctr.Image, ctr.NetworkPolicy, uploadList, resolved)

	fns, _ := codeFunctions(req)
	programmatic := len(fns) > 0
	// Calls the client sent back unanswered run first (a suspended code execution
	// resumes with the client's answers); their results open the response.
	for _, p := range conv.pending {
		r.start()
		var res *tools.Result
		var paused bool
		switch {
		case p.resume != nil:
			res, paused, err = r.resume(ctx, ctr.ID, *p.resume)
		case programmatic && p.Name == tools.Python:
			res, paused, err = r.runCode(ctx, ctr.ID, p.ID, p.Input)
		default:
			res, err = r.execute(ctx, ctr.ID, p.ID, p.Name, p.Input)
		}
		if err != nil {
			return nil, err
		}
		if paused {
			r.resp.StopReason = "tool_use"
			return r.resp, nil
		}
		if p.resume != nil || (programmatic && p.Name == tools.Python) {
			r.finishCode(p.ID, res)
		}
		r.preq.Messages[p.msg].Content[p.blk] = toolResultBlock(p.ID, res)
	}

	for iteration := 0; ; iteration++ {
		if iteration == l.cfg.MaxIterations {
			r.resp.StopReason = "pause_turn"
			r.start()
			return r.resp, nil
		}
		resp, err := r.turn(ctx)
		if err != nil {
			return nil, err
		}
		out := r.outBlocks(resp.Content)
		r.resp.Content = append(r.resp.Content, out...)
		r.resp.StopReason, r.resp.StopSequence = resp.StopReason, resp.StopSequence
		r.start()

		var calls []Block
		client := false
		assistant := make([]provider.Block, 0, len(out))
		for _, b := range out {
			switch b.Type {
			case TypeServerToolUse:
				calls = append(calls, b)
				assistant = append(assistant, provider.Block{Type: provider.TypeToolUse, ID: b.ID, Name: b.Name, Input: b.Input})
			case provider.TypeToolUse:
				client = true
				assistant = append(assistant, b.Block)
			default:
				assistant = append(assistant, b.Block)
			}
		}
		switch {
		case client:
			// The client runs its tools; our calls stay pending until it comes back.
			r.resp.StopReason = "tool_use"
			return r.resp, nil
		case len(calls) == 0:
			if r.resp.StopReason == "tool_use" {
				r.resp.StopReason = "end_turn"
			}
			return r.resp, nil
		case resp.StopReason == "max_tokens":
			// The call may be cut off; report the truncation rather than run half a command.
			return r.resp, nil
		}
		r.preq.Messages = append(r.preq.Messages, provider.Message{Role: "assistant", Content: assistant})
		var results []provider.Block
		for _, c := range calls {
			var res *tools.Result
			if programmatic && c.Name == tools.Python {
				var paused bool
				if res, paused, err = r.runCode(ctx, ctr.ID, c.ID, c.Input); err != nil {
					return nil, err
				}
				if paused {
					// The code awaits the client's tools; the calls after it stay
					// pending, to run when the client comes back.
					r.resp.StopReason = "tool_use"
					return r.resp, nil
				}
				r.finishCode(c.ID, res)
			} else if res, err = r.execute(ctx, ctr.ID, c.ID, c.Name, c.Input); err != nil {
				return nil, err
			}
			results = append(results, toolResultBlock(c.ID, res))
		}
		r.preq.Messages = append(r.preq.Messages, provider.Message{Role: "user", Content: results})
		r.resp.StopReason = ""
	}
}

// announced reports whether the client has been sent message_start, which names the
// container.
func (r *run) announced() bool { return r.started && r.events != nil }

// start emits message_start once.
func (r *run) start() {
	if r.started || r.events == nil {
		r.started = true
		return
	}
	r.started = true
	r.events(Event{Type: EventMessageStart, Message: &Response{ID: r.resp.ID, Model: r.resp.Model, Container: r.resp.Container, Skills: r.resp.Skills}})
}

// turn asks the model for one turn, streaming its blocks as response blocks.
func (r *run) turn(ctx context.Context) (*provider.Response, error) {
	var ev func(provider.Event)
	if r.events != nil {
		base := len(r.resp.Content)
		ev = func(e provider.Event) { r.modelEvent(base, e) }
	}
	began := time.Now()
	resp, err := r.model.Turn(ctx, r.preq, ev)
	if obs := r.l.cfg.Observer; obs != nil {
		obs.ObserveUpstream(provider.Provider(r.req.Model), time.Since(began), err)
	}
	if err != nil {
		return nil, err
	}
	r.resp.Usage.Add(resp.Usage)
	return resp, nil
}

// modelEvent forwards one provider event. Text and thinking stream as they come. Tool
// calls (and any other block type) are held back until complete, then sent whole (tool
// input as one input_json_delta): the model's fragments may not concatenate to valid
// JSON, and the SDK accumulators need them to.
func (r *run) modelEvent(base int, e provider.Event) {
	idx := base + e.Index
	switch e.Type {
	case provider.BlockStart:
		if e.Block == nil {
			return
		}
		r.open[e.Index] = e.Block.Type
		if !streamed(e.Block.Type) {
			return
		}
		r.start()
		b := Block{Block: provider.Block{Type: e.Block.Type}}
		r.events(Event{Type: EventBlockStart, Index: idx, Block: &b})
	case provider.BlockDelta:
		typ := r.open[e.Index]
		if !streamed(typ) || e.Delta == "" {
			return
		}
		kind := DeltaText
		if typ == provider.TypeThinking {
			kind = DeltaThinking
		}
		r.events(Event{Type: EventBlockDelta, Index: idx, DeltaType: kind, Delta: e.Delta})
	case provider.BlockStop:
		if e.Block == nil {
			return
		}
		if !streamed(r.open[e.Index]) {
			r.start()
			r.emitBlock(idx, r.outBlock(e.Index, *e.Block))
			return
		}
		if e.Block.Type == provider.TypeThinking && e.Block.Signature != "" {
			r.events(Event{Type: EventBlockDelta, Index: idx, DeltaType: DeltaSignature, Delta: e.Block.Signature})
		}
		r.events(Event{Type: EventBlockStop, Index: idx})
	}
}

// streamed reports whether blocks of typ are streamed as they are produced.
func streamed(typ string) bool { return typ == provider.TypeText || typ == provider.TypeThinking }

// outBlock converts block i of the current model turn into a response block: a call
// of an offered sub-tool becomes a server_tool_use with a srvtoolu_ id, and every
// tool input is made a JSON object. It gives the same answer for the same i within a
// turn, so streamed and returned blocks agree.
func (r *run) outBlock(i int, b provider.Block) Block {
	if b.Type != provider.TypeToolUse {
		return Block{Block: b}
	}
	out := Block{Block: provider.Block{Type: provider.TypeToolUse, ID: b.ID, Name: b.Name, Input: compactObject(b.Input), Raw: b.Raw}}
	// Every sub-tool name is a server call, offered or not (a client tool cannot take
	// these names), so a model that calls one its version lacks gets invalid_tool_input.
	if r.req.CodeExecution != "" && (b.Name == tools.Bash || b.Name == tools.TextEditor || b.Name == tools.Python) {
		id, ok := r.ids[i]
		if !ok {
			id = ids.New("srvtoolu_")
			r.ids[i] = id
		}
		out.Type, out.ID, out.Raw = TypeServerToolUse, id, nil
	}
	return out
}

// outBlocks converts a whole model turn, and resets the per-turn state.
func (r *run) outBlocks(content []provider.Block) []Block {
	out := make([]Block, 0, len(content))
	for i, b := range content {
		out = append(out, r.outBlock(i, b))
	}
	clear(r.ids)
	clear(r.open)
	return out
}

// compactObject returns in compacted when it is a JSON object, else {}: the wire and
// the next model turn both need an object.
func compactObject(in json.RawMessage) json.RawMessage {
	in = objectOrEmpty(in)
	var buf bytes.Buffer
	if err := json.Compact(&buf, in); err != nil {
		return json.RawMessage(`{}`)
	}
	return json.RawMessage(buf.Bytes())
}

// execute runs one sub-tool call and appends its result block, pinging the stream
// while it runs.
func (r *run) execute(ctx context.Context, containerID, id, name string, input json.RawMessage) (*tools.Result, error) {
	l := r.l
	r.resp.Usage.CodeExecutionRequests++
	type outcome struct {
		res *tools.Result
		err error
	}
	done := make(chan outcome, 1)
	started := time.Now()
	go func() {
		res, err := l.cfg.Runner.Run(ctx, r.ws, containerID, r.req.CodeExecution, name, input)
		done <- outcome{res, err}
	}()
	var o outcome
	if r.events == nil {
		o = <-done
	} else {
		tick := time.NewTicker(l.cfg.PingInterval)
		defer tick.Stop()
	wait:
		for {
			select {
			case o = <-done:
				break wait
			case <-tick.C:
				r.events(Event{Type: EventPing})
			}
		}
	}
	if o.err != nil {
		return nil, o.err
	}
	l.cfg.Logger.Debug("tool call", "container", containerID, "tool", name, "duration", time.Since(started),
		"error_code", o.res.ErrorCode)
	b := Block{Block: provider.Block{Type: tools.ResultType(name), ToolUseID: id}, Result: o.res}
	r.resp.Content = append(r.resp.Content, b)
	if r.events != nil {
		idx := len(r.resp.Content) - 1
		r.events(Event{Type: EventBlockStart, Index: idx, Block: &b})
		r.events(Event{Type: EventBlockStop, Index: idx})
	}
	return o.res, nil
}

// refresh returns the container with fresh expiry times after the request used it.
// While code in it awaits client tools the container stays busy with that code, and is
// only looked up.
func (l *Loop) refresh(ctx context.Context, ws codebox.WorkspaceID, id string, busy bool) *sandbox.Container {
	ctx = context.WithoutCancel(ctx)
	var c *sandbox.Container
	var err error
	if t, ok := l.cfg.Sandbox.(toucher); ok && !busy {
		c, err = t.Touch(ctx, ws, id)
	} else {
		c, err = l.cfg.Sandbox.Get(ctx, ws, id)
	}
	if err != nil {
		l.cfg.Logger.Warn("refresh container", "container", id, "err", err)
		return nil
	}
	return c
}

// discard deletes the container a failed request created; cause is why it failed.
func (l *Loop) discard(ctx context.Context, ws codebox.WorkspaceID, id string, cause error) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
	defer cancel()
	if err := l.cfg.Sandbox.Delete(ctx, ws, id); err != nil {
		l.cfg.Logger.Error("delete the container of a failed request", "container", id, "cause", cause, "err", err)
		return
	}
	l.cfg.Logger.Debug("deleted the container of a failed request", "container", id, "cause", cause)
}

// record persists a request's usage; a failure is logged, never returned, since the
// client's answer does not depend on it.
func (l *Loop) record(ctx context.Context, ws codebox.WorkspaceID, resp *Response, containerID string, start, end time.Time) {
	if l.cfg.Usage == nil {
		return
	}
	rec := UsageRecord{
		MessageID: resp.ID, Model: resp.Model, Usage: resp.Usage,
		ContainerID: containerID, ContainerStart: start, ContainerEnd: end, CreatedAt: l.cfg.Now(),
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	if err := l.cfg.Usage.RecordUsage(ctx, ws, rec); err != nil {
		l.cfg.Logger.Error("record usage", "message", resp.ID, "err", err)
	}
}

// containerError words a failed lookup of the request's container.
func containerError(id string, err error) error {
	switch {
	case errdefs.Code(err) == errdefs.CodeContainerExpired:
		return expiredError(id)
	case errors.Is(err, errdefs.ErrNotFound):
		return &errdefs.Public{Kind: errdefs.ErrNotFound, Message: fmt.Sprintf("container %s not found", id), Err: err}
	}
	return err
}

func expiredError(id string) error {
	return &errdefs.Public{Kind: errdefs.ErrInvalid, Code: errdefs.CodeContainerExpired,
		Message: fmt.Sprintf("container_expired: container %s has expired and can no longer be used; omit container to start a new one", id)}
}
