package files

import (
	"mime"
	"net/http"
	"path"
	"strings"
)

// octetStream is what clients send when they do not know the type.
const octetStream = "application/octet-stream"

// byExtension maps the extensions of the file types people upload for analysis to their
// types. It comes before mime.TypeByExtension, whose table depends on the host.
var byExtension = map[string]string{
	".csv":      "text/csv",
	".tsv":      "text/tab-separated-values",
	".txt":      "text/plain",
	".md":       "text/markdown",
	".markdown": "text/markdown",
	".json":     "application/json",
	".jsonl":    "application/jsonl",
	".ndjson":   "application/x-ndjson",
	".xml":      "application/xml",
	".yaml":     "application/yaml",
	".yml":      "application/yaml",
	".toml":     "application/toml",
	".html":     "text/html",
	".htm":      "text/html",
	".css":      "text/css",
	".js":       "text/javascript",
	".ts":       "text/x-typescript",
	".py":       "text/x-python",
	".ipynb":    "application/x-ipynb+json",
	".r":        "text/x-r",
	".sql":      "application/sql",
	".sh":       "text/x-shellscript",
	".go":       "text/x-go",
	".c":        "text/x-c",
	".h":        "text/x-c",
	".cpp":      "text/x-c++",
	".java":     "text/x-java",
	".rs":       "text/x-rust",
	".log":      "text/plain",
	".pdf":      "application/pdf",
	".png":      "image/png",
	".jpg":      "image/jpeg",
	".jpeg":     "image/jpeg",
	".gif":      "image/gif",
	".webp":     "image/webp",
	".svg":      "image/svg+xml",
	".bmp":      "image/bmp",
	".tif":      "image/tiff",
	".tiff":     "image/tiff",
	".xlsx":     "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
	".xls":      "application/vnd.ms-excel",
	".docx":     "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
	".doc":      "application/msword",
	".pptx":     "application/vnd.openxmlformats-officedocument.presentationml.presentation",
	".ppt":      "application/vnd.ms-powerpoint",
	".odt":      "application/vnd.oasis.opendocument.text",
	".ods":      "application/vnd.oasis.opendocument.spreadsheet",
	".parquet":  "application/vnd.apache.parquet",
	".feather":  "application/vnd.apache.arrow.file",
	".arrow":    "application/vnd.apache.arrow.file",
	".zip":      "application/zip",
	".gz":       "application/gzip",
	".tgz":      "application/gzip",
	".tar":      "application/x-tar",
	".bz2":      "application/x-bzip2",
	".xz":       "application/x-xz",
	".7z":       "application/x-7z-compressed",
	".rar":      "application/vnd.rar",
	".db":       "application/vnd.sqlite3",
	".sqlite":   "application/vnd.sqlite3",
	".wav":      "audio/wav",
	".mp3":      "audio/mpeg",
	".mp4":      "video/mp4",
}

// extensionOf is the preferred extension of the types above, for naming unnamed files.
var extensionOf = func() map[string]string {
	m := map[string]string{}
	for ext, t := range byExtension {
		if old, ok := m[t]; !ok || len(ext) < len(old) || len(ext) == len(old) && ext < old {
			m[t] = ext
		}
	}
	m["text/plain"] = ".txt"
	m["text/html"] = ".html"
	m["image/jpeg"] = ".jpg"
	m["application/yaml"] = ".yaml"
	m["text/markdown"] = ".md"
	return m
}()

// DetectMIME returns the type to store for a file: the declared type when it says
// something (anything but empty or application/octet-stream), else the type of the
// filename's extension, else the type sniffed from head, the file's first bytes.
// Parameters such as charset are dropped.
func DetectMIME(declared, filename string, head []byte) string {
	if t, _, err := mime.ParseMediaType(declared); err == nil && t != octetStream && strings.Contains(t, "/") {
		return t
	}
	ext := strings.ToLower(path.Ext(filename))
	if t, ok := byExtension[ext]; ok {
		return t
	}
	if ext != "" {
		if t, _, err := mime.ParseMediaType(mime.TypeByExtension(ext)); err == nil && t != "" {
			return t
		}
	}
	if len(head) == 0 {
		return "text/plain"
	}
	t, _, err := mime.ParseMediaType(http.DetectContentType(head))
	if err != nil {
		return octetStream
	}
	return t
}

// ExtensionFor returns the usual extension (with its dot) of mime type t, or "".
func ExtensionFor(t string) string {
	if ext, ok := extensionOf[t]; ok {
		return ext
	}
	if exts, err := mime.ExtensionsByType(t); err == nil && len(exts) > 0 {
		return exts[0]
	}
	return ""
}
