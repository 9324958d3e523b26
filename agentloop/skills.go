package agentloop

import (
	"context"
	"fmt"
	"strings"

	"github.com/codebox-dev/codebox"
	"github.com/codebox-dev/codebox/errdefs"
	"github.com/codebox-dev/codebox/sandbox"
	"github.com/codebox-dev/codebox/skills"
)

// Skills resolves a request's container.skills; *skills.Service satisfies it.
type Skills interface {
	Resolve(ctx context.Context, ws codebox.WorkspaceID, refs []skills.Ref) ([]*skills.Resolved, error)
}

// skillSetter is the part of the sandbox that places skills in a container
// (*sandbox.Manager has it).
type skillSetter interface {
	SetSkills(ctx context.Context, ws codebox.WorkspaceID, id string, skills []sandbox.Skill) error
}

// resolveSkills looks up the request's skills, before any container is made, so that an
// unknown one fails the request without one.
func (l *Loop) resolveSkills(ctx context.Context, ws codebox.WorkspaceID, req *Request) ([]*skills.Resolved, error) {
	if len(req.Skills) == 0 {
		return nil, nil
	}
	if err := req.checkSkills(); err != nil {
		return nil, err
	}
	if l.cfg.Skills == nil {
		return nil, errdefs.New(errdefs.ErrInvalid, "", "container.skills: Agent Skills are not available on this server")
	}
	return l.cfg.Skills.Resolve(ctx, ws, req.Skills)
}

// checkSkills refuses container.skills in a request without a code execution tool:
// there is no container to load them into.
func (req *Request) checkSkills() error {
	if len(req.Skills) > 0 && req.CodeExecution == "" {
		return errdefs.New(errdefs.ErrInvalid, "", "container.skills requires a code execution tool (code_execution_20250825 or later) in tools")
	}
	return nil
}

// mountSkills makes the container's /skills hold exactly resolved, also when that is
// none: a reused container must not keep the skills of an earlier request.
func (l *Loop) mountSkills(ctx context.Context, ws codebox.WorkspaceID, id string, resolved []*skills.Resolved) error {
	setter, ok := l.cfg.Sandbox.(skillSetter)
	if !ok {
		if len(resolved) == 0 {
			return nil
		}
		return errdefs.New(errdefs.ErrInvalid, "", "container.skills: this server's sandbox cannot load skills")
	}
	list := make([]sandbox.Skill, len(resolved))
	for i, r := range resolved {
		list[i] = sandbox.Skill{Name: r.Name, Key: r.Key, Open: r.Open}
	}
	if err := setter.SetSkills(ctx, ws, id, list); err != nil {
		return fmt.Errorf("load skills into container: %w", err)
	}
	return nil
}

// resumes reports whether the conversation answers calls of a suspended code execution.
func (c *converted) resumes() bool {
	for _, p := range c.pending {
		if p.resume != nil {
			return true
		}
	}
	return false
}

// resolvedRefs is what the response's container.skills echoes.
func resolvedRefs(resolved []*skills.Resolved) []skills.Ref {
	if len(resolved) == 0 {
		return nil
	}
	out := make([]skills.Ref, len(resolved))
	for i, r := range resolved {
		out[i] = r.Ref
	}
	return out
}

// skillsAddendum tells the model which skills it has and where: one line each.
func skillsAddendum(resolved []*skills.Resolved) string {
	if len(resolved) == 0 {
		return ""
	}
	var b strings.Builder
	b.WriteString("- Skills (folders of instructions and scripts, read-only; read a skill's SKILL.md before using it):\n")
	for _, r := range resolved {
		fmt.Fprintf(&b, "  - %s (%s/%s/): %s\n", r.Name, sandbox.SkillsPath, r.Name, strings.Join(strings.Fields(r.Description), " "))
	}
	return b.String()
}
