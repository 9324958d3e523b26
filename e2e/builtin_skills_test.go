package e2e

import (
	"archive/zip"
	"bytes"
	"context"
	"io"
	"maps"
	"slices"
	"strings"
	"testing"

	"github.com/anthropics/anthropic-sdk-go"
)

// makeSalesFiles is what a model does with the xlsx and pdf skills: write a spec, run
// the skills' scripts from their read-only folders, and leave only the results.
const makeSalesFiles = `cat > spec.json <<'EOF'
{"sheets": [{"name": "Sales", "header": true,
  "rows": [["Region", "Q1", "Q2", "Total"], ["North", 120, 135, "=SUM(B2:C2)"], ["South", 80, 95.5, "=SUM(B3:C3)"]]}]}
EOF
python3 /skills/xlsx/scripts/create_workbook.py spec.json sales.xlsx &&
printf '# Sales summary\n\nNorth sold 255 units.\n' > summary.md &&
python3 /skills/pdf/scripts/create_pdf.py summary.md summary.pdf &&
rm spec.json summary.md`

// TestBuiltinSkillsMakeFiles is a seed-style request that names Anthropic's xlsx and pdf
// skills: the model runs their scripts, and the workbook and PDF they make come back as
// downloadable files, the workbook's formulas with their computed values.
func TestBuiltinSkillsMakeFiles(t *testing.T) {
	e := newEnv(t, formatScript, scriptOf(
		turn(text("I'll build the workbook and a summary."), bash(makeSalesFiles)),
		turn(text("sales.xlsx and summary.pdf are ready.")),
	), envOptions{})
	c := e.client(e.keyA)
	ctx := context.Background()
	p := e.params(anthropic.NewTextBlock("Make a sales workbook with totals, and a one-page PDF summary."))
	p.Container = withSkills("", builtin("xlsx"), builtin("pdf"))
	msg, err := c.Messages.New(ctx, p)
	if err != nil {
		t.Fatal(err)
	}
	var res *anthropic.BashCodeExecutionResultBlock
	for _, b := range msg.Content {
		if b.Type == "bash_code_execution_tool_result" {
			r := b.AsBashCodeExecutionToolResult().Content.AsResponseBashCodeExecutionResultBlock()
			res = &r
		}
	}
	if res == nil || res.ReturnCode != 0 {
		t.Fatalf("the scripts failed: %s", msg.RawJSON())
	}
	for _, want := range []string{"wrote sales.xlsx", `"status": "ok"`, "wrote summary.pdf: 1 pages"} {
		if !strings.Contains(res.Stdout, want) {
			t.Errorf("stdout %q lacks %q", res.Stdout, want)
		}
	}
	got := map[string][]byte{}
	for _, f := range res.Content {
		meta, err := c.Beta.Files.GetMetadata(ctx, f.FileID, anthropic.BetaFileGetMetadataParams{})
		if err != nil {
			t.Fatal(err)
		}
		dl, err := c.Beta.Files.Download(ctx, f.FileID, anthropic.BetaFileDownloadParams{})
		if err != nil {
			t.Fatal(err)
		}
		got[meta.Filename], err = io.ReadAll(dl.Body)
		dl.Body.Close()
		if err != nil {
			t.Fatal(err)
		}
	}
	if len(got) != 2 || got["sales.xlsx"] == nil || got["summary.pdf"] == nil {
		t.Fatalf("generated files %v, want sales.xlsx and summary.pdf", slices.Sorted(maps.Keys(got)))
	}
	if !bytes.HasPrefix(got["summary.pdf"], []byte("%PDF-")) {
		t.Errorf("summary.pdf is not a PDF: %.20q", got["summary.pdf"])
	}
	sheet := zipMember(t, got["sales.xlsx"], "xl/worksheets/sheet1.xml")
	for _, want := range []string{"<f>SUM(B2:C2)</f><v>255</v>", "<f>SUM(B3:C3)</f><v>175.5</v>"} {
		if !strings.Contains(sheet, want) {
			t.Errorf("sheet1.xml lacks %s: %s", want, sheet)
		}
	}
}

func zipMember(t *testing.T, data []byte, name string) string {
	t.Helper()
	zr, err := zip.NewReader(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		t.Fatalf("not a zip archive: %v", err)
	}
	f, err := zr.Open(name)
	if err != nil {
		t.Fatalf("no %s in the archive: %v", name, err)
	}
	defer f.Close()
	b, err := io.ReadAll(f)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
