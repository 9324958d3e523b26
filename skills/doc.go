// Package skills holds the skills codebox ships: folders of instructions (a SKILL.md
// with YAML frontmatter naming and describing the skill) and helper scripts that are
// placed at /skills/<name>/ in a container when a request asks for them.
//
// Builtin holds codebox's own open implementations of the skills Anthropic offers as
// type "anthropic": xlsx, pptx, docx and pdf. Their scripts use only the Python
// libraries of the default container image (openpyxl, python-pptx, python-docx,
// reportlab, pypdf, pdfplumber).
package skills
