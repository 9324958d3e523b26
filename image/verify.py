# Verifies a codebox image from the inside. Reads {"modules": [...], "tools": [...]}
# on stdin and prints a JSON report on stdout; the Go side decides what is fatal.
import importlib
import importlib.metadata
import json
import os
import platform
import shutil
import subprocess
import sys

spec = json.load(sys.stdin)
report = {"python": platform.python_version(), "modules": [], "tools": [], "errors": []}

for m in spec["modules"]:
    status = dict(m)
    try:
        mod = importlib.import_module(m["import"])
    except BaseException as e:  # an import can raise anything, SystemExit included
        status["error"] = "%s: %s" % (type(e).__name__, e)
    else:
        version = ""
        try:
            version = importlib.metadata.version(m["name"])
        except Exception:
            pass
        if version in ("", "0.0.0"):  # Debian's mpmath metadata says 0.0.0
            version = str(getattr(mod, "__version__", "") or getattr(mod, "VERSION", "") or version)
        status["version"] = version
    report["modules"].append(status)

for name in spec["tools"]:
    status = {"name": name}
    path = shutil.which(name)
    if path is None:
        status["error"] = "not found on PATH"
    else:
        status["path"] = path
        # The real path: $ORIGIN in a run path (Java's) is relative to it, not to
        # the alternatives symlink.
        real = os.path.realpath(path)
        with open(real, "rb") as f:
            elf = f.read(4) == b"\x7fELF"
        if elf:
            out = subprocess.run(["ldd", real], capture_output=True, text=True).stdout
            missing = [l.split()[0] for l in out.splitlines() if "not found" in l]
            if missing:
                status["error"] = "unresolved libraries: " + ", ".join(missing)
    report["tools"].append(status)


def check(name, fn):
    try:
        fn()
    except BaseException as e:
        report["errors"].append("%s: %s: %s" % (name, type(e).__name__, e))


def plot():
    import matplotlib
    import matplotlib.pyplot as plt
    import numpy as np
    import pandas as pd

    backend = matplotlib.get_backend().lower()
    assert backend == "agg", "default backend is %s, want agg" % backend
    df = pd.DataFrame({"group": list("abcabc"), "value": np.arange(6.0)})
    means = df.groupby("group")["value"].mean()
    assert list(means) == [1.5, 2.5, 3.5], list(means)
    fig, ax = plt.subplots()
    means.plot.bar(ax=ax)
    fig.savefig("/tmp/codebox-verify.png")
    with open("/tmp/codebox-verify.png", "rb") as f:
        assert f.read(8) == b"\x89PNG\r\n\x1a\n", "not a PNG"


def fit():
    import numpy as np
    import scipy.linalg
    from sklearn.linear_model import LinearRegression

    model = LinearRegression().fit([[0.0], [1.0], [2.0]], [1.0, 3.0, 5.0])
    assert abs(model.coef_[0] - 2.0) < 1e-9, model.coef_
    assert np.allclose(scipy.linalg.inv(2 * np.eye(3)), 0.5 * np.eye(3))


# The functional checks use each library the way the seeds' code does. They write to a
# scratch directory under /tmp, never to HOME.
scratch = None


def tmp(name):
    global scratch
    if scratch is None:
        import tempfile

        scratch = tempfile.mkdtemp(prefix="codebox-verify-")
    return os.path.join(scratch, name)


def sample_pdf():
    """A one-page PDF made with reportlab: a heading and a ruled 3x3 table."""
    path = tmp("sample.pdf")
    if os.path.exists(path):
        return path
    from reportlab.lib import colors
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.styles import getSampleStyleSheet
    from reportlab.platypus import Paragraph, SimpleDocTemplate, Table, TableStyle

    table = Table([["city", "sales"], ["Oslo", "12"], ["Lima", "34"]])
    table.setStyle(TableStyle([("GRID", (0, 0), (-1, -1), 1, colors.black)]))
    doc = SimpleDocTemplate(path, pagesize=A4)
    doc.build([Paragraph("codebox quarterly report", getSampleStyleSheet()["Title"]), table])
    return path


def parquet():
    import pandas as pd
    import pyarrow as pa
    import pyarrow.parquet as pq

    df = pd.DataFrame({
        "n": [1, 2, 3],
        "s": ["a", None, "c"],
        "x": [0.5, float("nan"), 2.5],
        "t": pd.date_range("2024-01-01", periods=3, freq="D"),
    })
    path = tmp("frame.parquet")
    df.to_parquet(path)
    pd.testing.assert_frame_equal(pd.read_parquet(path), df)
    table = pq.read_table(path)
    assert table.num_rows == 3 and table.schema.field("n").type == pa.int64(), table.schema
    pd.testing.assert_frame_equal(pa.Table.from_pandas(df).to_pandas(), df)


def pptx():
    from pptx import Presentation
    from pptx.util import Inches

    prs = Presentation()
    slide = prs.slides.add_slide(prs.slide_layouts[5])
    slide.shapes.title.text = "codebox"
    slide.shapes.add_textbox(Inches(1), Inches(2), Inches(4), Inches(1)).text_frame.text = "written and read back"
    path = tmp("deck.pptx")
    prs.save(path)
    texts = [s.text_frame.text for s in Presentation(path).slides[0].shapes if s.has_text_frame]
    assert texts == ["codebox", "written and read back"], texts


def pdfplumber_check():
    import pdfplumber

    with pdfplumber.open(sample_pdf()) as pdf:
        page = pdf.pages[0]
        assert "codebox quarterly report" in page.extract_text(), page.extract_text()
        table = page.extract_table()
        assert table == [["city", "sales"], ["Oslo", "12"], ["Lima", "34"]], table


def pypdfium2_check():
    import pypdfium2 as pdfium

    pdf = pdfium.PdfDocument(sample_pdf())
    page = pdf[0]
    assert "codebox quarterly report" in page.get_textpage().get_text_range()
    image = page.render(scale=0.5).to_pil()
    assert image.width > 100 and image.height > 100, image.size
    pdf.close()


def pdf2image_check():
    from pdf2image import convert_from_path

    pages = convert_from_path(sample_pdf(), dpi=40)
    assert len(pages) == 1 and pages[0].width > 100, pages


def tabula_check():
    import tabula

    frames = tabula.read_pdf(sample_pdf(), pages=1, lattice=True)
    assert frames, "no table found"
    df = frames[0]
    assert list(df.columns) == ["city", "sales"] and df["sales"].tolist() == [12, 34], df


def pdfkit_check():
    import pdfkit

    path = tmp("page.pdf")
    pdfkit.from_string("<h1>codebox</h1><p>HTML to PDF</p>", path, options={"quiet": ""})
    # pypdf cannot read the text of wkhtmltopdf's CID fonts; poppler can.
    text = subprocess.run(["pdftotext", path, "-"], capture_output=True, text=True, check=True).stdout
    assert "HTML to PDF" in text, repr(text)


def img2pdf_check():
    import img2pdf
    from PIL import Image
    from pypdf import PdfReader

    png = tmp("square.png")
    Image.new("RGB", (64, 32), "red").save(png)
    path = tmp("image.pdf")
    with open(path, "wb") as f:
        f.write(img2pdf.convert(png))
    assert len(PdfReader(path).pages) == 1


def cairo_check():
    import cairo

    surface = cairo.ImageSurface(cairo.FORMAT_ARGB32, 40, 20)
    ctx = cairo.Context(surface)
    ctx.set_source_rgb(0, 0, 1)
    ctx.paint()
    path = tmp("cairo.png")
    surface.write_to_png(path)
    with open(path, "rb") as f:
        assert f.read(8) == b"\x89PNG\r\n\x1a\n", "not a PNG"
    pdf = cairo.PDFSurface(tmp("cairo.pdf"), 100, 100)
    pdf.finish()


# (name, imports it needs, check): a check runs when the recipe has all its modules.
FUNCTIONAL = [
    ("pyarrow", {"pandas", "pyarrow"}, parquet),
    ("python-pptx", {"pptx"}, pptx),
    ("pdfplumber", {"reportlab", "pdfplumber"}, pdfplumber_check),
    ("pypdfium2", {"reportlab", "pypdfium2"}, pypdfium2_check),
    ("pdf2image", {"reportlab", "pdf2image"}, pdf2image_check),
    ("tabula-py", {"reportlab", "tabula"}, tabula_check),
    ("pdfkit", {"pdfkit"}, pdfkit_check),
    ("img2pdf", {"img2pdf", "PIL", "pypdf"}, img2pdf_check),
    ("pycairo", {"cairo"}, cairo_check),
]


def home_untouched():
    # Anything written to HOME (the workspace) would be reported as a generated file.
    left = os.listdir(os.environ["HOME"])
    assert not left, "files written to HOME: %s" % left


imports = {m["import"] for m in spec["modules"]}
if {"matplotlib", "numpy", "pandas"} <= imports:
    check("plot", plot)
if {"numpy", "scipy", "sklearn"} <= imports:
    check("fit", fit)
for name, needs, fn in FUNCTIONAL:
    if needs <= imports:
        check(name, fn)
for m in spec["modules"]:
    if m.get("check"):
        check(m["name"], lambda m=m: exec("import %s\n%s" % (m["import"], m["check"]), {}))
check("home", home_untouched)
json.dump(report, sys.stdout)
