package agentloop

import (
	"testing"

	"github.com/codebox-dev/codebox/skills"
)

func TestSkillsAddendum(t *testing.T) {
	if got := skillsAddendum(nil); got != "" {
		t.Errorf("no skills: %q", got)
	}
	got := skillsAddendum([]*skills.Resolved{
		{Name: "xlsx", Description: "Spreadsheets:\n  build and edit."},
		{Name: "csv-report", Description: "Reports."},
	})
	want := "- Skills (folders of instructions and scripts, read-only; read a skill's SKILL.md before using it):\n" +
		"  - xlsx (/skills/xlsx/): Spreadsheets: build and edit.\n" +
		"  - csv-report (/skills/csv-report/): Reports.\n"
	if got != want {
		t.Errorf("addendum:\n%s\nwant:\n%s", got, want)
	}
}
