package e2e

import (
	"context"
	"fmt"
	"io"
	"strings"
	"testing"

	"github.com/anthropics/anthropic-sdk-go"
	"github.com/anthropics/anthropic-sdk-go/packages/param"

	"github.com/codebox-dev/codebox"
	"github.com/codebox-dev/codebox/sandbox"
	"github.com/codebox-dev/codebox/sandbox/sandboxtest"
	"github.com/codebox-dev/codebox/skills"
	"github.com/codebox-dev/codebox/tools"
)

const reportSkillV1 = "---\nname: csv-report\ndescription: Summarises CSV files into a report.\n---\nRun scripts/report.py.\n"

func uploadReportSkill(t *testing.T, c *anthropic.Client) (skillID, v1, v2 string) {
	t.Helper()
	ctx := context.Background()
	sk, err := c.Skills.New(ctx, anthropic.SkillNewParams{Files: []io.Reader{
		anthropic.File(strings.NewReader(reportSkillV1), "csv-report/SKILL.md", "text/markdown"),
		anthropic.File(strings.NewReader("print('report v1')\n"), "csv-report/scripts/report.py", "text/x-python"),
	}})
	if err != nil {
		t.Fatal(err)
	}
	v, err := c.Skills.Versions.New(ctx, sk.ID, anthropic.SkillVersionNewParams{Files: []io.Reader{
		anthropic.File(strings.NewReader(strings.Replace(reportSkillV1, "Run", "Now run", 1)), "csv-report/SKILL.md", "text/markdown"),
	}})
	if err != nil {
		t.Fatal(err)
	}
	return sk.ID, sk.LatestVersionID, v.ID
}

func withSkills(id string, refs ...anthropic.SkillParams) anthropic.MessageCreateParamsContainerUnion {
	cp := &anthropic.ContainerParams{Skills: refs}
	if id != "" {
		cp.ID = param.NewOpt(id)
	}
	return anthropic.MessageCreateParamsContainerUnion{OfContainers: cp}
}

func custom(id, version string) anthropic.SkillParams {
	p := anthropic.SkillParams{Type: anthropic.SkillParamsTypeCustom, SkillID: id}
	if version != "" {
		p.Version = param.NewOpt(version)
	}
	return p
}

func builtin(id string) anthropic.SkillParams {
	return anthropic.SkillParams{Type: anthropic.SkillParamsTypeAnthropic, SkillID: id, Version: param.NewOpt("latest")}
}

func echoed(m *anthropic.Message) string {
	var s []string
	for _, sk := range m.Container.Skills {
		s = append(s, fmt.Sprintf("%s:%s:%s", sk.Type, sk.SkillID, sk.Version))
	}
	return strings.Join(s, " ")
}

func bashOut(t *testing.T, m *anthropic.Message) string {
	t.Helper()
	for _, b := range m.Content {
		if b.Type == "bash_code_execution_tool_result" {
			r := b.AsBashCodeExecutionToolResult().Content.AsResponseBashCodeExecutionResultBlock()
			return r.Stdout + r.Stderr
		}
	}
	t.Fatalf("no bash result in %s", m.RawJSON())
	return ""
}

// A request's skills appear read-only at /skills/<name>/, the model is told of them, the
// response echoes their resolved versions, and a reused container shows only the skills
// of the request using it; with every model route.
func TestSkillsInContainer(t *testing.T) {
	for _, format := range []string{formatAnthropic, formatOpenAI, formatScript} {
		t.Run(format, func(t *testing.T) { testSkillsInContainer(t, format, "") })
	}
	// The mount on the other runtimes (runsc).
	for _, rt := range sandboxtest.Runtimes()[1:] {
		t.Run(rt, func(t *testing.T) { testSkillsInContainer(t, formatAnthropic, rt) })
	}
}

func testSkillsInContainer(t *testing.T, format, runtime string) {
	e := newEnv(t, format, scriptOf(
		turn(bash("ls /skills; cat /skills/csv-report/SKILL.md; python3 /skills/csv-report/scripts/report.py; ls /skills/xlsx; touch /skills/csv-report/x 2>/dev/null || echo read-only")),
		turn(text("Loaded.")),
		turn(bash("ls /skills; cat /skills/csv-report/SKILL.md")),
		turn(text("Newer.")),
		turn(bash("ls -A /skills | wc -l")),
		turn(text("None.")),
	), envOptions{runtime: runtime})
	c := e.client(e.keyA)
	ctx := context.Background()
	skillID, v1, v2 := uploadReportSkill(t, c)

	p := e.params(anthropic.NewTextBlock("Use the report skill."))
	p.Container = withSkills("", custom(skillID, v1), builtin("xlsx"))
	first, err := c.Messages.New(ctx, p)
	if err != nil {
		t.Fatal(err)
	}
	out := bashOut(t, first)
	for _, want := range []string{"csv-report\nxlsx\n", reportSkillV1, "report v1\n", "SKILL.md\n", "read-only\n"} {
		if !strings.Contains(out, want) {
			t.Errorf("first request: output %q lacks %q", out, want)
		}
	}
	if got, want := echoed(first), "custom:"+skillID+":"+v1+" anthropic:xlsx:"+skills.BuiltinVersion; got != want {
		t.Errorf("container.skills = %s, want %s", got, want)
	}
	if e.upstream != nil {
		sys := string(e.upstream.Requests()[0].Body)
		for _, want := range []string{"csv-report (/skills/csv-report/): Summarises CSV files into a report.", "xlsx (/skills/xlsx/): "} {
			if !strings.Contains(sys, want) {
				t.Errorf("the model was not told %q: %s", want, sys)
			}
		}
	}

	// The same container, the skill's latest version alone, streamed: message_start
	// names the container and its skills.
	id := first.Container.ID
	p.Messages = append(p.Messages, first.ToParam(), anthropic.NewUserMessage(anthropic.NewTextBlock("Again, newest.")))
	p.Container = withSkills(id, custom(skillID, ""))
	stream := c.Messages.NewStreaming(ctx, p)
	second := &anthropic.Message{}
	for stream.Next() {
		if err := second.Accumulate(stream.Current()); err != nil {
			t.Fatal(err)
		}
	}
	if err := stream.Err(); err != nil {
		t.Fatal(err)
	}
	if out := bashOut(t, second); out != "csv-report\n"+strings.Replace(reportSkillV1, "Run", "Now run", 1) {
		t.Errorf("second request: %q", out)
	}
	if got, want := echoed(second), "custom:"+skillID+":"+v2; got != want || second.Container.ID != id {
		t.Errorf("second: container %s skills %s, want %s %s", second.Container.ID, got, id, want)
	}

	// The same container by its id alone: no skills.
	p.Messages = append(p.Messages, second.ToParam(), anthropic.NewUserMessage(anthropic.NewTextBlock("And without.")))
	p.Container = anthropic.MessageCreateParamsContainerUnion{OfString: param.NewOpt(id)}
	third, err := c.Messages.New(ctx, p)
	if err != nil {
		t.Fatal(err)
	}
	if out := bashOut(t, third); strings.TrimSpace(out) != "0" {
		t.Errorf("third request: /skills holds %q entries", out)
	}
	if len(third.Container.Skills) != 0 || !strings.Contains(third.RawJSON(), `"skills":[]`) {
		t.Errorf("third: container.skills = %s", third.RawJSON())
	}
}

// Bad container.skills are refused before the model is asked or a container made.
func TestSkillsErrors(t *testing.T) {
	e := newEnv(t, formatAnthropic, scriptOf(turn(text("unused"))), envOptions{})
	c := e.client(e.keyA)
	ctx := context.Background()
	skillID, _, _ := uploadReportSkill(t, c)
	many := make([]anthropic.SkillParams, skills.MaxPerRequest+1)
	for i := range many {
		many[i] = builtin("xlsx")
	}
	cases := []struct {
		name   string
		key    string
		ctr    anthropic.MessageCreateParamsContainerUnion
		noTool bool
		status int
		typ    string
		msg    string
	}{
		{"over the limit", e.keyA, withSkills("", many...), false, 400, "invalid_request_error", "at most 20 skills"},
		{"unknown custom", e.keyA, withSkills("", custom("skill_unknown000", "")), false, 404, "not_found_error", "skill_unknown000"},
		{"unknown version", e.keyA, withSkills("", custom(skillID, "skver_unknown000")), false, 404, "not_found_error", "skver_unknown000"},
		{"another workspace's", e.keyB, withSkills("", custom(skillID, "")), false, 404, "not_found_error", skillID},
		{"unknown anthropic", e.keyA, withSkills("", builtin("nope")), false, 404, "not_found_error", "Skill nope not found"},
		{"bad type", e.keyA, withSkills("", anthropic.SkillParams{Type: "plugin", SkillID: "x"}), false, 400, "invalid_request_error", "type"},
		{"no code execution", e.keyA, withSkills("", builtin("xlsx")), true, 400, "invalid_request_error", "requires a code execution tool"},
	}
	for _, tc := range cases {
		p := e.params(anthropic.NewTextBlock("hi"))
		p.Container = tc.ctr
		if tc.noTool {
			p.Tools = nil
		}
		_, err := e.client(tc.key).Messages.New(ctx, p)
		ae := apiError(t, err, tc.status, tc.typ)
		if !strings.Contains(ae.RawJSON(), tc.msg) {
			t.Errorf("%s: %s, want %q", tc.name, ae.RawJSON(), tc.msg)
		}
	}
	if n := len(e.upstream.Requests()); n != 0 {
		t.Errorf("the model was asked %d times for refused requests", n)
	}
	for _, ws := range []codebox.WorkspaceID{codebox.DefaultWorkspace, "other"} {
		if list, _, err := e.sb.(*sandbox.Manager).List(ctx, ws, sandbox.ListOptions{}); err != nil || len(list) != 0 {
			t.Errorf("workspace %s has %d containers (%v) after refused requests", ws, len(list), err)
		}
	}
}

// A continuation that answers the calls of suspended code leaves the container to that
// code: its skills stay those of the request that started it, and the code resumes.
func TestSkillsWithProgrammaticCalls(t *testing.T) {
	code := "import os\nprint(sorted(os.listdir('/skills')))\nr = await lookup({'k': 1})\nprint(r, sorted(os.listdir('/skills')))"
	e := newEnv(t, formatAnthropic, scriptOf(turn(python(code)), turn(text("done"))), envOptions{})
	ctx := context.Background()
	c := e.client(e.keyA)
	p := e.ptcParams(tools.CodeExecution20260120)
	p.Container = withSkills("", builtin("xlsx"))
	m1, err := c.Messages.New(ctx, p)
	if err != nil {
		t.Fatal(err)
	}
	calls := programmaticCalls(t, m1, m1.Content[0].ID, tools.CodeExecution20260120)
	if echoed(m1) != "anthropic:xlsx:"+skills.BuiltinVersion {
		t.Errorf("paused response: container.skills = %s", echoed(m1))
	}
	m2, err := c.Messages.New(ctx, answer(p, m1, calls, echoInput))
	if err != nil {
		t.Fatal(err)
	}
	if out := stdoutOf(t, m2); out != "['xlsx']\ngot {\"k\":1} ['xlsx']\n" {
		t.Errorf("code output = %q", out)
	}
}
