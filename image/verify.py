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
        with open(path, "rb") as f:
            elf = f.read(4) == b"\x7fELF"
        if elf:
            out = subprocess.run(["ldd", path], capture_output=True, text=True).stdout
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


def home_untouched():
    # Anything written to HOME (the workspace) would be reported as a generated file.
    left = os.listdir(os.environ["HOME"])
    assert not left, "files written to HOME: %s" % left


imports = {m["import"] for m in spec["modules"]}
if {"matplotlib", "numpy", "pandas"} <= imports:
    check("plot", plot)
if {"numpy", "scipy", "sklearn"} <= imports:
    check("fit", fit)
check("home", home_untouched)
json.dump(report, sys.stdout)
