package e2e

import (
	"bytes"
	"os"
	"path/filepath"
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
	p.wantPNG(t, "churn_drivers.png")
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
	if got := names(p.storedFiles(t)); got != "churn_drivers.png" {
		t.Errorf("files left = %s, want the chart only (uploads deleted)", got)
	}
}

// readmeBlock returns the body of the first fenced block of lang in the README's section
// titled heading.
func readmeBlock(t *testing.T, heading, lang string) string {
	t.Helper()
	data, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	s := string(data)
	i := strings.Index(s, "\n## "+heading+"\n")
	if i < 0 {
		t.Fatalf("README has no section %q", heading)
	}
	s = s[i+1:]
	if end := strings.Index(s[3:], "\n## "); end >= 0 {
		s = s[:end+3]
	}
	start := strings.Index(s, "\n```"+lang+"\n")
	if start < 0 {
		t.Fatalf("README section %q has no %s block", heading, lang)
	}
	s = s[start+len("\n```"+lang+"\n"):]
	end := strings.Index(s, "\n```\n")
	if end < 0 {
		t.Fatalf("README section %q: unterminated %s block", heading, lang)
	}
	return s[:end+1]
}

// revenuePerUnit is what the model runs for the tutorial's follow-up question.
const revenuePerUnit = `python3 - <<'PY'
import pandas as pd
df = pd.read_csv('sales.csv')
by = df.groupby('product')[['revenue_usd', 'units']].sum()
by['revenue_per_unit'] = (by['revenue_usd'] / by['units']).round(2)
print(by['revenue_per_unit'].to_string())
by.to_csv('summary.csv')
PY`

// TestPythonQuickStart runs the README's Python quick start, which is seed 004's tutorial
// script, exactly as the README prints it (taken from the README at test time, so the
// two cannot drift): upload, analysis with a chart, download, a follow-up in the same
// container, usage, delete.
func TestPythonQuickStart(t *testing.T) {
	sales, err := os.ReadFile("../provider/script/testdata/sales.json")
	if err != nil {
		t.Fatal(err)
	}
	// The tutorial asks for anthropic>=0.40.0: it runs on the latest SDK and on the last 0.x.
	for _, sdk := range []string{sdkLatest, sdk0x} {
		t.Run(sdk, func(t *testing.T) {
			p := newPyEnv(t, sdk, string(sales), envOptions{prompts: []promptScript{{
				prompt: "Using the same dataframe",
				turns: scriptOf(
					turn(text("Revenue per unit by product:"), bash(revenuePerUnit)),
					turn(text("Gadgets earn 200.00 per unit, widgets 120.00; the table is in summary.csv.")),
				),
			}}})
			if sh := readmeBlock(t, "Quick start", "sh"); !strings.Contains(sh, "export ANTHROPIC_BASE_URL=http://127.0.0.1:8080\n") {
				t.Errorf("the quick start does not set the base URL:\n%s", sh)
			}
			p.write(t, "sales.csv", readmeBlock(t, "Quick start", "csv"))
			p.write(t, "quickstart.py", readmeBlock(t, "Quick start", "python"))
			out := p.run(t, filepath.Join(p.dir, "quickstart.py"))
			wantLines(t, out,
				"file_id: file_",
				"I'll load the sales data and look at its shape first.\n",
				"Revenue by region is printed above, and the bar chart is saved as chart.png.\n",
				"Downloaded: chart.png\n",
				"container_id: container_",
				"input_tokens: 5160\n", // the script's three turns: 1450 + 1720 + 1990
				"output_tokens: 247\n",
				"code_execution_requests: 2\n",
			)
			p.wantPNG(t, "chart.png")
			// The follow-up ran in the first request's container, on the uploaded CSV, and the
			// upload was deleted: what is left are the two generated files.
			files := p.storedFiles(t)
			if got := names(files); got != "chart.png,summary.csv" {
				t.Fatalf("files left = %s, want chart.png,summary.csv", got)
			}
			summary := string(p.download(t, files["summary.csv"]))
			if !strings.Contains(summary, "gadget,6600,33,200.0") || !strings.Contains(summary, "widget,8640,72,120.0") {
				t.Errorf("summary.csv = %q", summary)
			}
			reqs := p.upstream.Requests()
			if len(reqs) != 3 {
				t.Errorf("the analysis took %d model requests, want 3", len(reqs))
			}
		})
	}
}

// TestPythonSeed003 runs seed 003's Python examples: a first request, the upload and
// analysis of a CSV, the download of a generated file, and the container reuse whose
// second request names the first one's container and reads the random number it left in
// /tmp.
func TestPythonSeed003(t *testing.T) {
	p := newPyEnv(t, sdkLatest, scriptOf(turn(text("Nothing to do."))), envOptions{prompts: []promptScript{
		{prompt: "Calculate the mean and standard deviation", turns: scriptOf(
			turn(bash(`python3 -c "import statistics as s; d = list(range(1, 11)); print(s.mean(d), round(s.stdev(d), 4))"`)),
			turn(text("The mean is 5.5 and the sample standard deviation 3.0277.")),
		)},
		{prompt: "Analyze this CSV data", turns: scriptOf(
			turn(bash(`python3 -c "import pandas as pd; df = pd.read_csv('data.csv'); print(len(df), 'rows', df['revenue_usd'].sum(), 'USD')"`)),
			turn(text("Nine sales worth 15,240 USD.")),
		)},
		{prompt: "Create a matplotlib visualization", turns: scriptOf(
			turn(bash("python3 -c \"import matplotlib; matplotlib.use('Agg'); import matplotlib.pyplot as plt; plt.plot([1, 3, 2]); plt.savefig('output.png')\"")),
			turn(text("Saved output.png.")),
		)},
		{prompt: "Write a file with a random number", turns: scriptOf(
			turn(bash(`python3 -c "import random; n = random.randint(2, 9999); open('/tmp/number.txt', 'w').write(str(n)); print(n)"`)),
			turn(text("I saved a random number to /tmp/number.txt.")),
		)},
		{prompt: "Read the number from", turns: scriptOf(
			turn(bash(`n=$(cat /tmp/number.txt); echo "$n squared is $((n * n))"`)),
			turn(text("Done: the square is printed above.")),
		)},
	}})
	p.write(t, "data.csv", salesCSV)
	out := p.runScript(t, "check_seed003.py")
	wantLines(t, out,
		"basic: 5.5 3.0277\n",
		"upload: 9 rows 15240 USD\n",
		"Downloaded: output.png\n",
		"Message(id='msg_", // seed 003's print(response2)
		"squared is",
		"container: container_",
	)
	p.wantPNG(t, "output.png")
	if n := len(p.upstream.Requests()); n != 0 {
		t.Errorf("%d requests reached the default script, want every one routed by its prompt", n)
	}
}

// TestPythonStream streams through client.messages.stream(...) and get_final_message(),
// with the bash tool and with the beta client and the persistent REPL.
func TestPythonStream(t *testing.T) {
	p := newPyEnv(t, sdkLatest, scriptOf(
		turn(text("Let me count them."), bash(`printf 'north\nsouth\neast\nwest\n' | wc -l`)),
		turn(text(" There are four regions.")),
	), envOptions{prompts: []promptScript{{prompt: "Keep a total in the REPL", turns: scriptOf(
		turn(python("total = 40")),
		turn(python("total += 2\nprint(total)")),
		turn(text("The total is 42.")),
	)}}})
	out := p.runScript(t, "check_stream.py")
	wantLines(t, out, "streamed: Let me count them. There are four regions.\n", "stdout: 4\n", "repl: 42\n")
}
