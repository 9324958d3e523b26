// Package skills keeps Agent Skills: folders of instructions (a SKILL.md with YAML
// frontmatter naming and describing the skill) and helper scripts that a Messages
// request places at /skills/<name>/ in its container.
//
// A custom skill belongs to one workspace and has one or more immutable versions, each
// uploaded as a set of files and stored as one zip archive: the bytes behind Blobs, the
// metadata behind Store. The newest version is the skill's latest. Resolve turns a
// request's container.skills into what the container mounts.
//
// Builtin holds codebox's own open implementations of the skills Anthropic offers as
// type "anthropic": xlsx, pptx, docx and pdf, shared by every workspace. Their scripts
// use only the Python libraries of the default container image (openpyxl, python-pptx,
// python-docx, reportlab, pypdf, pdfplumber).
package skills
