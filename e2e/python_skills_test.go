package e2e

import "testing"

// TestPythonSkills drives the Skills API and container.skills with the Python SDK.
func TestPythonSkills(t *testing.T) {
	p := newPyEnv(t, sdkLatest, scriptOf(
		turn(bash("ls /skills; python3 /skills/csv-report/scripts/report.py")),
		turn(text("The report is done.")),
	), envOptions{})
	out := p.runScript(t, "check_skills.py")
	wantLines(t, out,
		"created: CSV report custom True",
		"latest: csv-report Summarises CSV files into a report.",
		"paged: 2 versions, 6 skills",
		"archive: ['csv-report/SKILL.md', 'csv-report/scripts/report.py'] print('report from the skill')",
		"stdout: csv-report|xlsx|report from the skill|",
		"container.skills: [('custom', ", "True), ('anthropic', 'xlsx', '20251013')]",
		"another workspace's skill: 404 not_found_error",
		"another workspace's skill in a request: 404 not_found_error",
		"too many skills: 400 invalid_request_error: container.skills: at most 20 skills per request, got 21",
		"no SKILL.md: 400 invalid_request_error",
		"reserved name: 400 invalid_request_error",
		"deleting the only version: 400 invalid_request_error",
		"deleted: skill_deleted",
		"deleted skill: 404 not_found_error",
	)
	if n := len(p.upstream.Requests()); n != 2 {
		t.Errorf("the model was asked %d times, want 2 (refused requests must not reach it)", n)
	}
}
