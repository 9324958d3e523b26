package image

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
)

// Recipe describes an image completely: two builds of equal recipes produce equivalent
// root filesystems (up to the package versions the mirrors serve that day), and any
// change to a recipe changes its Hash, which makes EnsureBuilt build a new image.
type Recipe struct {
	// Revision is bumped whenever the build steps change meaning without a field of
	// the recipe changing, so that cached images built the old way are rebuilt.
	Revision int `json:"revision"`
	// Suite is the Debian release; Variant is mmdebstrap's --variant.
	Suite   string `json:"suite"`
	Variant string `json:"variant"`
	// Sources are sources.list lines; the first one names Suite's main archive.
	Sources []string `json:"sources"`
	// Packages are installed without recommends.
	Packages []string `json:"packages"`
	// Purge lists packages removed after installation (with dpkg --force-depends),
	// and PurgePatterns regular expressions for more of them. They are build-time
	// dependencies that Debian's packaging drags in (scipy depends on pythran, which
	// pulls a C++ compiler and Boost headers) and that nothing needs at run time.
	Purge         []string `json:"purge"`
	PurgePatterns []string `json:"purge_patterns"`
	// Keep are never purged, even when a pattern matches: run-time libraries that
	// numpy, scipy and OpenBLAS load.
	Keep []string `json:"keep"`
	// Exclude are dpkg path-exclude globs (documentation, manual pages); Include are
	// path-include exceptions (licence texts stay).
	Exclude []string `json:"exclude"`
	Include []string `json:"include"`
	// TestDirs are trees whose "tests" directories are deleted after installation.
	TestDirs []string `json:"test_dirs"`
	// Modules are the Python libraries the image promises; the build fails unless every
	// one imports inside the image.
	Modules []Module `json:"modules"`
	// Tools are commands the image promises on PATH; the build fails without them.
	Tools []string `json:"tools"`
	// Missing are libraries or tools users expect that this recipe cannot provide,
	// with the reason. They are listed by the manifest and `codebox image info`.
	Missing []Missing `json:"missing"`
	// Hostname is written to /etc/hostname.
	Hostname string `json:"hostname"`
}

// Module is a Python library the image provides.
type Module struct {
	// Name is the name users know it by (the PyPI project name).
	Name string `json:"name"`
	// Import is the top-level module imported to check it.
	Import string `json:"import"`
	// Package is the Debian package that provides it.
	Package string `json:"package"`
}

// Missing is something users expect that the image does not provide, and why.
type Missing struct {
	Name   string `json:"name"`
	Reason string `json:"reason"`
}

// Hash is the recipe's cache key: the first 16 hex digits of the SHA-256 of its JSON
// encoding.
func (r *Recipe) Hash() string {
	b, err := json.Marshal(r)
	if err != nil {
		// A Recipe holds only strings, ints and slices of them.
		panic(fmt.Sprintf("image: encoding recipe: %v", err))
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])[:16]
}

// Validate reports a recipe that cannot be built.
func (r *Recipe) Validate() error {
	switch {
	case r.Suite == "":
		return fmt.Errorf("image: recipe has no suite")
	case len(r.Sources) == 0:
		return fmt.Errorf("image: recipe has no sources")
	case len(r.Packages) == 0:
		return fmt.Errorf("image: recipe has no packages")
	}
	for _, p := range r.PurgePatterns {
		if _, err := regexp.Compile(p); err != nil {
			return fmt.Errorf("image: purge pattern %q: %w", p, err)
		}
	}
	for _, m := range r.Modules {
		if m.Import == "" || m.Name == "" {
			return fmt.Errorf("image: module %+v needs a name and an import", m)
		}
	}
	return nil
}

// purgeList returns which of the installed packages the recipe removes.
func (r *Recipe) purgeList(installed []string) []string {
	var res []*regexp.Regexp
	for _, p := range r.PurgePatterns {
		res = append(res, regexp.MustCompile(p))
	}
	var out []string
	for _, name := range installed {
		if slices.Contains(r.Keep, name) {
			continue
		}
		if slices.Contains(r.Purge, name) || slices.ContainsFunc(res, func(re *regexp.Regexp) bool { return re.MatchString(name) }) {
			out = append(out, name)
		}
	}
	return out
}

// DefaultRecipe is the image codebox runs: the environment of the hosted code execution
// tool, as far as Debian 12 provides it.
func DefaultRecipe() *Recipe {
	modules := []Module{
		{"pandas", "pandas", "python3-pandas"},
		{"numpy", "numpy", "python3-numpy"},
		{"scipy", "scipy", "python3-scipy"},
		{"scikit-learn", "sklearn", "python3-sklearn"},
		{"statsmodels", "statsmodels", "python3-statsmodels"},
		{"matplotlib", "matplotlib", "python3-matplotlib"},
		{"seaborn", "seaborn", "python3-seaborn"},
		{"openpyxl", "openpyxl", "python3-openpyxl"},
		{"xlsxwriter", "xlsxwriter", "python3-xlsxwriter"},
		{"xlrd", "xlrd", "python3-xlrd"},
		{"pillow", "PIL", "python3-pil"},
		{"python-docx", "docx", "python3-docx"},
		{"pypdf", "pypdf", "python3-pypdf"},
		{"pdfminer.six", "pdfminer", "python3-pdfminer"},
		{"reportlab", "reportlab", "python3-reportlab"},
		{"sympy", "sympy", "python3-sympy"},
		{"mpmath", "mpmath", "python3-mpmath"},
		{"tqdm", "tqdm", "python3-tqdm"},
		{"python-dateutil", "dateutil", "python3-dateutil"},
		{"pytz", "pytz", "python3-tz"},
		{"joblib", "joblib", "python3-joblib"},
		{"lxml", "lxml", "python3-lxml"},
		{"beautifulsoup4", "bs4", "python3-bs4"},
		{"tabulate", "tabulate", "python3-tabulate"},
		{"odfpy", "odf", "python3-odf"},
		{"PyPDF2", "PyPDF2", "python3-pypdf2"},
		{"PyYAML", "yaml", "python3-yaml"},
	}
	packages := []string{
		"python3", "python-is-python3",
		"unzip", "zip", "unrar-free", "7zip", "p7zip-full", "xz-utils", "bzip2",
		"bc", "ripgrep", "fd-find", "sqlite3", "jq", "file", "less", "procps",
		"fonts-dejavu-core", "tzdata", "poppler-utils",
	}
	for _, m := range modules {
		packages = append(packages, m.Package)
	}
	return &Recipe{
		Revision: 1,
		Suite:    "bookworm",
		Variant:  "minbase",
		Sources: []string{
			"deb http://deb.debian.org/debian bookworm main",
			"deb http://deb.debian.org/debian bookworm-updates main",
			"deb http://deb.debian.org/debian-security bookworm-security main",
		},
		Packages: packages,
		Purge: []string{
			"python3-pythran", "python3-beniget", "python3-gast",
			"gcc", "g++", "cpp", "gcc-12", "g++-12", "cpp-12",
			"binutils", "binutils-common", "binutils-x86-64-linux-gnu",
			"libbinutils", "libctf0", "libctf-nobfd0", "libgprofng0",
			"libcc1-0", "libisl23", "libmpc3", "libasan8", "liblsan0", "libtsan2",
			"libubsan1", "libitm1", "libhwasan0",
			"libjs-mathjax", "fonts-mathjax",
		},
		PurgePatterns: []string{`-dev$`, `^libboost`},
		Keep: []string{
			"libquadmath0", "libgfortran5", "libgomp1", "libgcc-s1", "libstdc++6",
			"libopenblas0", "libopenblas0-pthread", "libblas3", "liblapack3",
		},
		// Headers are purged with their -dev packages anyway; not unpacking them saves
		// time.
		Exclude: []string{
			"/usr/share/doc/*", "/usr/share/man/*", "/usr/share/info/*",
			"/usr/share/lintian/*", "/usr/share/linda/*", "/usr/share/locale/*",
			"/usr/include/*",
		},
		// The libraries' own test suites are a third of dist-packages (180 MB) and
		// only pytest imports them. They cannot be path-excluded: py3compile fails on
		// the missing directories during installation.
		TestDirs: []string{"/usr/lib/python3/dist-packages"},
		Include:  []string{"/usr/share/doc/*/copyright", "/usr/share/locale/locale.alias"},
		Modules:  modules,
		Tools: []string{
			"bash", "python3", "python", "unzip", "zip", "unrar-free", "7z", "7za", "7zz",
			"xz", "bzip2", "bc", "rg", "fd", "fdfind", "sqlite3", "jq", "file", "less", "ps",
			"pdftotext", "pdftoppm",
		},
		Missing: []Missing{
			{"python-pptx", "not packaged by Debian (bookworm, trixie or sid) nor Ubuntu; PyPI is unreachable"},
			{"pdfplumber", "not packaged by Debian (bookworm, trixie or sid) nor Ubuntu; PyPI is unreachable (pdfminer.six, which it builds on, is included)"},
			{"pyarrow", "not in bookworm or trixie; sid's python3-pyarrow is built for Python 3.14 only, so no build for Python 3.11 is reachable"},
			{"unrar", "non-free; only Debian main is used (unrar-free and 7z extract RAR archives)"},
		},
		Hostname: "codebox",
	}
}
