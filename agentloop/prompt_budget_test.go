package agentloop

import (
	"encoding/json"
	"regexp"
	"strings"
	"testing"

	"github.com/tiktoken-go/tokenizer"

	"github.com/codebox-dev/codebox/egress"
	"github.com/codebox-dev/codebox/tools"
)

// promptBudget is how many tokens (o200k_base) the container's system addendum and the
// sub-tools' definitions may take together, per tool version: what a 7–14B model with
// a small context window reads before the user's first word. Raise it only for text
// that earns its place.
var promptBudget = map[string]int{
	tools.CodeExecution20250522: 420,
	tools.CodeExecution20250825: 700,
	tools.CodeExecution20260120: 750,
	tools.CodeExecution20260521: 760,
}

// TestPromptBudget measures the addendum and the tool definitions a model is shown for
// each tool version (default image, one upload) against promptBudget.
func TestPromptBudget(t *testing.T) {
	enc, err := tokenizer.Get(tokenizer.O200kBase)
	if err != nil {
		t.Fatal(err)
	}
	l := New(Config{})
	for version, budget := range promptBudget {
		text := l.systemAddendum(version, "", egress.Policy{}, []string{"sales.csv"}, "")
		defs, err := json.Marshal(tools.Definitions(version))
		if err != nil {
			t.Fatal(err)
		}
		ids, _, err := enc.Encode(text + string(defs))
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("%s: %d tokens (addendum %d characters)", version, len(ids), len(text))
		if len(ids) > budget {
			t.Errorf("%s: addendum and tools take %d tokens, over the budget of %d", version, len(ids), budget)
		}
	}
}

var exampleRe = regexp.MustCompile(`Example call: (\w+) with (\{.*\})\.\n`)

// TestToolGuide: the addendum says which tool runs Python and which runs shell
// commands, and its one example is a call the model can copy: an offered tool, with an
// input that is valid JSON holding the tool's required field, reading the uploaded CSV.
func TestToolGuide(t *testing.T) {
	l := New(Config{})
	for version := range promptBudget {
		text := l.systemAddendum(version, "", egress.Policy{}, []string{"sales.csv", "q1.xlsx"}, "")
		m := exampleRe.FindStringSubmatch(text)
		if m == nil {
			t.Fatalf("%s: no example call in\n%s", version, text)
		}
		var input map[string]string
		if err := json.Unmarshal([]byte(m[2]), &input); err != nil {
			t.Fatalf("%s: example input %s: %v", version, m[2], err)
		}
		field := map[string]string{tools.Python: "code", tools.Bash: "command"}[m[1]]
		if !tools.Offers(version, m[1]) || field == "" || !strings.Contains(input[field], `pd.read_csv("sales.csv")`) {
			t.Errorf("%s: example %s %s", version, m[1], m[2])
		}
		for _, d := range tools.Definitions(version) {
			if !strings.Contains(text, d.Name) {
				t.Errorf("%s: the addendum does not name %s", version, d.Name)
			}
		}
		if !strings.Contains(text, "for Python") && !strings.Contains(text, "to run Python") {
			t.Errorf("%s: the addendum does not say which tool runs Python:\n%s", version, text)
		}
	}
}
