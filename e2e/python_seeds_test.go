package e2e

import (
	"bytes"
	"image/png"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// streamingCSV is the customer table of seed 000's churn analysis, made small: basic
// churns at 0.75, standard and premium at 0.25, and everyone with 3+ tickets churned.
const streamingCSV = `customer_id,plan,monthly_fee,tenure_months,support_tickets,churned
c01,basic,8.99,3,4,1
c02,basic,8.99,14,0,0
c03,basic,8.99,2,5,1
c04,standard,13.99,20,1,0
c05,standard,13.99,6,3,1
c06,standard,13.99,30,0,0
c07,premium,17.99,25,0,0
c08,premium,17.99,40,1,0
c09,premium,17.99,4,3,1
c10,basic,8.99,1,2,1
c11,standard,13.99,18,0,0
c12,premium,17.99,36,0,0
`

// churnAnalysis is the code the model runs with the legacy tool, a fresh python3.
const churnAnalysis = `import pandas as pd
import matplotlib
matplotlib.use("Agg")
import matplotlib.pyplot as plt
df = pd.read_csv("streaming.csv")
by_plan = df.groupby("plan")["churned"].mean().round(2)
by_tickets = df.groupby(df["support_tickets"] >= 3)["churned"].mean()
print("churn by plan:", by_plan.to_dict())
print("churn with 3+ tickets:", by_tickets[True])
fig, ax = plt.subplots(1, 2, figsize=(8, 3))
by_plan.plot.bar(ax=ax[0], title="Churn rate by plan")
by_tickets.plot.bar(ax=ax[1], title="Churn rate with 3+ tickets")
plt.tight_layout()
plt.savefig("churn_drivers.png")
`

// TestPythonNotebookHelpers runs seed 000's notebook: its Files API helpers, its chat
// helper with the legacy code_execution_20250522 tool and both beta headers in
// default_headers, the download of the chart by id, and a second turn that sends the
// SDK's Message back. It runs on anthropic 0.x: the seed's chat helper passes
// temperature=, which the 1.0 SDK no longer accepts.
func TestPythonNotebookHelpers(t *testing.T) {
	p := newPyEnv(t, sdk0x, scriptOf(
		turn(text("I'll compare churn across plans and support load."), python(churnAnalysis)),
		turn(text("Support load drives churn: every customer with 3+ tickets left; basic churns most (75%). See churn_drivers.png.")),
		turn(python("import pandas as pd\nprint(len(pd.read_csv(\"streaming.csv\")), \"customers\")")),
		turn(text("There are 12 customers.")),
	), envOptions{})
	p.write(t, "streaming.csv", streamingCSV)
	out := p.runScript(t, "check_notebook.py")
	wantLines(t, out,
		"stdout: churn by plan: {'basic': 0.75, 'premium': 0.25, 'standard': 0.25} | churn with 3+ tickets: 1.0",
		"answer: I'll compare churn across plans and support load. | Support load drives churn:",
		"downloaded: churn_drivers.png",
		"followup: 12 customers",
	)
	chart, err := os.ReadFile(filepath.Join(p.dir, "churn_drivers.png"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := png.Decode(bytes.NewReader(chart)); err != nil {
		t.Errorf("churn_drivers.png is not a PNG: %v", err)
	}
	// The model saw the upload and the legacy tool, and was asked with the seed's
	// temperature.
	reqs := p.upstream.Requests()
	if len(reqs) != 4 {
		t.Fatalf("upstream saw %d requests, want 4", len(reqs))
	}
	first := reqs[0].Body
	for _, want := range []string{"/workspace/streaming.csv", `"code_execution"`, `"temperature":1`} {
		if !bytes.Contains(first, []byte(want)) {
			t.Errorf("first model request lacks %s: %s", want, first)
		}
	}
	files := p.storedFiles(t)
	names := make([]string, 0, len(files))
	for _, n := range files {
		names = append(names, n)
	}
	slices.Sort(names)
	if got := strings.Join(names, ","); got != "churn_drivers.png" {
		t.Errorf("files left = %s, want the chart only (uploads deleted)", got)
	}
}
