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
	// Name is a custom image's name; empty for the default image.
	Name string `json:"name,omitempty"`
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
	// Python is the version of the suite's python3 ("3.11"); wheels are chosen for it.
	Python string `json:"python"`
	// Wheels are installed from the Python package index after the packages, binary
	// only and hash-checked, without dependency resolution. The one named "pip" is the
	// installer and is not installed.
	Wheels []Wheel `json:"wheels"`
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
	// Files are copied into a custom image after the packages and wheels.
	Files []File `json:"files,omitempty"`
}

// Module is a Python library the image provides.
type Module struct {
	// Name is the name users know it by (the PyPI project name).
	Name string `json:"name"`
	// Import is the top-level module imported to check it.
	Import string `json:"import"`
	// Package is the Debian package that provides it, or Wheel the name of the wheel
	// in the recipe's Wheels.
	Package string `json:"package,omitempty"`
	Wheel   string `json:"wheel,omitempty"`
	// Check is Python code run after the import, with the module bound to its import
	// name, that raises if the library does not work.
	Check string `json:"check,omitempty"`
}

// Source says where m comes from: "debian <package>" or "wheel <name>".
func (m Module) Source() string {
	if m.Wheel != "" {
		return "wheel " + m.Wheel
	}
	return "debian " + m.Package
}

// Missing is something users expect that the image does not provide, and why.
type Missing struct {
	Name   string `json:"name"`
	Reason string `json:"reason"`
}

var rePython = regexp.MustCompile(`^3\.[0-9]+$`)

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
	case !rePython.MatchString(r.Python):
		return fmt.Errorf("image: recipe's python version %q is not like 3.11", r.Python)
	}
	if r.Name != "" && !ValidName(r.Name) {
		return fmt.Errorf("image: %q is not a valid image name", r.Name)
	}
	if err := validateFiles(r.Files); err != nil {
		return fmt.Errorf("image: %w", err)
	}
	for _, p := range r.PurgePatterns {
		if _, err := regexp.Compile(p); err != nil {
			return fmt.Errorf("image: purge pattern %q: %w", p, err)
		}
	}
	wheels := map[string]bool{}
	for _, w := range r.Wheels {
		if err := w.validate(); err != nil {
			return fmt.Errorf("image: %w", err)
		}
		if wheels[w.Name] {
			return fmt.Errorf("image: wheel %s is listed twice", w.Name)
		}
		wheels[w.Name] = true
	}
	if len(r.Wheels) > 0 && !wheels[installerName] {
		return fmt.Errorf("image: a recipe with wheels needs the %s wheel, the installer", installerName)
	}
	for _, m := range r.Modules {
		switch {
		case m.Import == "" || m.Name == "":
			return fmt.Errorf("image: module %+v needs a name and an import", m)
		case (m.Package == "") == (m.Wheel == ""):
			return fmt.Errorf("image: module %s needs either a Debian package or a wheel", m.Name)
		case m.Package != "" && !slices.Contains(r.Packages, m.Package):
			return fmt.Errorf("image: module %s: Debian package %s is not in the recipe's packages", m.Name, m.Package)
		case m.Wheel != "" && !wheels[m.Wheel]:
			return fmt.Errorf("image: module %s: wheel %s is not in the recipe's wheels", m.Name, m.Wheel)
		}
	}
	return nil
}

// installedWheels are the wheels installed into the image, and the installer's.
func (r *Recipe) installedWheels() (wheels []Wheel, installer Wheel) {
	for _, w := range r.Wheels {
		if w.Name == installerName {
			installer = w
		} else {
			wheels = append(wheels, w)
		}
	}
	return wheels, installer
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
		{Name: "pandas", Import: "pandas", Package: "python3-pandas"},
		{Name: "numpy", Import: "numpy", Package: "python3-numpy"},
		{Name: "scipy", Import: "scipy", Package: "python3-scipy"},
		{Name: "scikit-learn", Import: "sklearn", Package: "python3-sklearn"},
		{Name: "statsmodels", Import: "statsmodels", Package: "python3-statsmodels"},
		{Name: "matplotlib", Import: "matplotlib", Package: "python3-matplotlib"},
		{Name: "seaborn", Import: "seaborn", Package: "python3-seaborn"},
		{Name: "openpyxl", Import: "openpyxl", Package: "python3-openpyxl"},
		{Name: "xlsxwriter", Import: "xlsxwriter", Package: "python3-xlsxwriter"},
		{Name: "xlrd", Import: "xlrd", Package: "python3-xlrd"},
		{Name: "pillow", Import: "PIL", Package: "python3-pil"},
		{Name: "python-docx", Import: "docx", Package: "python3-docx"},
		{Name: "pypdf", Import: "pypdf", Package: "python3-pypdf"},
		{Name: "reportlab", Import: "reportlab", Package: "python3-reportlab"},
		{Name: "sympy", Import: "sympy", Package: "python3-sympy"},
		{Name: "mpmath", Import: "mpmath", Package: "python3-mpmath"},
		{Name: "tqdm", Import: "tqdm", Package: "python3-tqdm"},
		{Name: "python-dateutil", Import: "dateutil", Package: "python3-dateutil"},
		{Name: "pytz", Import: "pytz", Package: "python3-tz"},
		{Name: "joblib", Import: "joblib", Package: "python3-joblib"},
		{Name: "lxml", Import: "lxml", Package: "python3-lxml"},
		{Name: "beautifulsoup4", Import: "bs4", Package: "python3-bs4"},
		{Name: "tabulate", Import: "tabulate", Package: "python3-tabulate"},
		{Name: "odfpy", Import: "odf", Package: "python3-odf"},
		{Name: "PyPDF2", Import: "PyPDF2", Package: "python3-pypdf2"},
		{Name: "PyYAML", Import: "yaml", Package: "python3-yaml"},
		{Name: "pdfkit", Import: "pdfkit", Package: "python3-pdfkit"},
		{Name: "img2pdf", Import: "img2pdf", Package: "python3-img2pdf"},
		{Name: "pycairo", Import: "cairo", Package: "python3-cairo"},
	}
	// Not packaged by Debian for bookworm's Python: wheels of wheels.lock. pdfminer.six
	// is Debian's too, but pdfplumber pins a newer release.
	for _, w := range []struct{ name, imp string }{
		{"pyarrow", "pyarrow"}, {"python-pptx", "pptx"}, {"pdfplumber", "pdfplumber"},
		{"pdfminer.six", "pdfminer"}, {"pypdfium2", "pypdfium2"}, {"pdf2image", "pdf2image"},
		{"tabula-py", "tabula"},
	} {
		modules = append(modules, Module{Name: w.name, Import: w.imp, Wheel: w.name})
	}
	packages := []string{
		"python3", "python-is-python3",
		"unzip", "zip", "unrar-free", "7zip", "p7zip-full", "xz-utils", "bzip2",
		"bc", "ripgrep", "fd-find", "sqlite3", "jq", "file", "less", "procps",
		"fonts-dejavu-core", "tzdata",
		// pdf2image runs poppler's pdftoppm, pdfkit runs wkhtmltopdf, tabula-py runs
		// tabula-java; unrar is in non-free.
		"poppler-utils", "wkhtmltopdf", "default-jre-headless", "unrar",
		// What the wheels need that is not in the lock: pdfminer.six's
		// charset-normalizer and cryptography, tabula-py's distro, python-pptx's
		// typing-extensions.
		"python3-charset-normalizer", "python3-cryptography", "python3-distro", "python3-typing-extensions",
	}
	for _, m := range modules {
		if m.Package != "" {
			packages = append(packages, m.Package)
		}
	}
	return &Recipe{
		Revision: 2,
		Suite:    "bookworm",
		Variant:  "minbase",
		Sources: []string{
			"deb http://deb.debian.org/debian bookworm main non-free",
			"deb http://deb.debian.org/debian bookworm-updates main non-free",
			"deb http://deb.debian.org/debian-security bookworm-security main non-free",
		},
		Packages: packages,
		Python:   "3.11",
		Wheels:   defaultWheels(),
		Purge: []string{
			"python3-pythran", "python3-beniget", "python3-gast",
			"gcc", "g++", "cpp", "gcc-12", "g++-12", "cpp-12",
			"binutils", "binutils-common", "binutils-x86-64-linux-gnu",
			"libbinutils", "libctf0", "libctf-nobfd0", "libgprofng0",
			"libcc1-0", "libisl23", "libmpc3", "libasan8", "liblsan0", "libtsan2",
			"libubsan1", "libitm1", "libhwasan0",
			"libjs-mathjax", "fonts-mathjax",
			// Qt's GUI library (wkhtmltopdf) pulls Mesa's DRI drivers and LLVM; headless
			// rendering to PDF never loads them.
			"libgl1-mesa-dri", "libllvm15", "libz3-4",
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
		TestDirs: []string{"/usr/lib/python3/dist-packages", "/usr/local/lib/python3.11/dist-packages"},
		Include:  []string{"/usr/share/doc/*/copyright", "/usr/share/locale/locale.alias"},
		Modules:  modules,
		Tools: []string{
			"bash", "python3", "python", "unzip", "zip", "unrar-free", "7z", "7za", "7zz",
			"xz", "bzip2", "bc", "rg", "fd", "fdfind", "sqlite3", "jq", "file", "less", "ps",
			"pdftotext", "pdftoppm", "unrar", "wkhtmltopdf", "java",
		},
		Hostname: "codebox",
	}
}
