package agentloop

import (
	"encoding/json"
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/codebox-dev/codebox/egress"
	"github.com/codebox-dev/codebox/tools"
)

// DefaultLibraries are the Python libraries the documented container image provides,
// named in the system prompt when the image has no manifest.
var DefaultLibraries = []string{
	"pandas", "numpy", "scipy", "scikit-learn", "statsmodels", "matplotlib", "seaborn", "pyarrow",
	"openpyxl", "xlsxwriter", "xlrd", "pillow", "python-pptx", "python-docx", "pypdf", "pdfplumber",
	"pypdfium2", "pdf2image", "reportlab", "img2pdf", "sympy", "mpmath", "tqdm", "python-dateutil",
	"pytz", "joblib",
}

// DefaultCommands are the documented command-line tools of the image.
var DefaultCommands = []string{"unzip", "unrar", "7z", "bc", "rg", "fd", "sqlite3"}

// systemAddendum tells the model about the container it is working in, which runs
// image ("" for the built-in one) and may reach what network allows.
// skills, if not empty, is skillsAddendum's list of the request's skills.
func (l *Loop) systemAddendum(version, image string, network egress.Policy, uploads []string, skills string) string {
	libs, cmds := l.contents(image)
	var b strings.Builder
	b.WriteString("You have a sandboxed Linux (x86_64) container for running code.\n")
	b.WriteString(toolGuide(version, uploads))
	b.WriteString("- Python 3.11 with " + strings.Join(libs, ", ") + " preinstalled; command-line tools: " + strings.Join(cmds, ", ") + ".\n")
	b.WriteString(networkLine(network))
	b.WriteString("- The working directory is /workspace. Files you create or modify there are returned to the user as downloadable files; save charts and reports there.\n")
	if len(uploads) > 0 {
		sorted := append([]string(nil), uploads...)
		sort.Strings(sorted)
		fmt.Fprintf(&b, "- The user's uploaded files are in /workspace: %s.\n", strings.Join(sorted, ", "))
	}
	b.WriteString(skills)
	if tools.PersistentPython(version) {
		b.WriteString("- Files persist between calls and across requests that reuse this container; code_execution keeps Python variables and imports between calls.\n")
	} else {
		b.WriteString("- Files persist between calls and across requests that reuse this container; each command or Python run starts a fresh process, so keep state in files.\n")
	}
	b.WriteString("- Limits: " + l.cfg.LimitsText + ". A call that runs past its time limit is killed.\n")
	b.WriteString("- Background jobs outlive their call only with output redirected (`cmd > log 2>&1 &`).\n")
	b.WriteString("- Make real tool calls; never write a call out as text. When you are done, answer the user in text.")
	return b.String()
}

// maxNamedDomains bounds the domains the addendum lists, so that a long allow-list
// does not crowd the prompt.
const maxNamedDomains = 20

// networkLine says what the container may reach: nothing, or the domains of its
// allow-list through the proxy, with the names (never the values) of its secrets.
func networkLine(p egress.Policy) string {
	if !p.Enabled() {
		return "- No network access: nothing can be downloaded or installed.\n"
	}
	domains := p.AllowedDomains
	more := ""
	if len(domains) > maxNamedDomains {
		more = fmt.Sprintf(" and %d more", len(domains)-maxNamedDomains)
		domains = domains[:maxNamedDomains]
	}
	line := "- Network: HTTP and HTTPS to " + strings.Join(domains, ", ") + more +
		" only, through a proxy already set in the environment; nothing else is reachable.\n"
	if len(p.Secrets) == 0 {
		return line
	}
	var names []string
	for _, s := range p.Secrets {
		names = append(names, s.Name+" ("+s.Domain+")")
	}
	return line + "- Credentials: environment variables " + strings.Join(names, ", ") +
		" hold placeholders the proxy replaces with the real value in requests to that domain; use them as they are, in headers or URLs.\n"
}

// contents returns the Python libraries and commands of image ("" for the built-in
// one).
func (l *Loop) contents(image string) (libs, cmds []string) {
	if image != "" && l.cfg.ImageContents != nil {
		libs, cmds = l.cfg.ImageContents(image)
	}
	if len(libs) == 0 {
		libs = l.cfg.Libraries
	}
	if len(libs) == 0 {
		libs = DefaultLibraries
	}
	if len(cmds) == 0 {
		cmds = l.cfg.Commands
	}
	if len(cmds) == 0 {
		cmds = DefaultCommands
	}
	return libs, cmds
}

// toolGuide names the tools: which runs Python and which shell commands, with one short
// example call: smaller models otherwise send Python to bash, or write calls out as
// text. The example reads an uploaded CSV when there is one, so it is a call the
// model could make.
func toolGuide(version string, uploads []string) string {
	file := "data.csv"
	for _, u := range slices.Sorted(slices.Values(uploads)) {
		if strings.HasSuffix(strings.ToLower(u), ".csv") {
			file = u
			break
		}
	}
	read := fmt.Sprintf("import pandas as pd\nprint(pd.read_csv(%q).head())", file)
	example := func(tool, field, value string) string {
		var input strings.Builder
		enc := json.NewEncoder(&input)
		enc.SetEscapeHTML(false) // a heredoc's << must read as written
		_ = enc.Encode(map[string]string{field: value})
		return fmt.Sprintf(" Example call: %s with %s.\n", tool, strings.TrimSpace(input.String()))
	}
	switch {
	case version == tools.CodeExecution20250522:
		return "- Use " + tools.Python + " to run Python; run shell commands from Python with subprocess." +
			example(tools.Python, "code", read)
	case tools.PersistentPython(version):
		return "- Use " + tools.Python + " for Python and " + tools.Bash + " for shell commands; " + tools.TextEditor + " views and edits files." +
			example(tools.Python, "code", read)
	}
	return "- Use " + tools.Bash + " for shell commands and for Python (python3 file.py, or a heredoc); " + tools.TextEditor + " views, creates and edits files." +
		example(tools.Bash, "command", "python3 - <<'EOF'\n"+read+"\nEOF")
}
