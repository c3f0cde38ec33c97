"""Copy the browser assets the book needs from npm packages into ``_vendor/``.

Sphinx serves ``_vendor/`` as ``_static/`` (``html_static_path`` in ``_config.yml``), so
MathJax, require.js and the ipywidgets HTML manager load from the book's own server: a page
viewed offline still renders math and widgets, and no page asks a CDN for anything.
The npm versions are pinned in ``tools/vendor/package.json`` and its lock file.

One asset is for the browser test only: axe-core (``_vendor/axe-core/axe.min.js``), the
accessibility checker that ``tests/browser/pagecheck.py`` injects into every page it opens. No
page loads it, and ``_config.yml`` leaves it out of the book's ``_static/`` (``exclude_patterns``).
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
NPM_DIR = ROOT / "tools" / "vendor"
MODULES = NPM_DIR / "node_modules"
TARGET = ROOT / "_vendor"
STAMP = TARGET / ".stamp"

# (source inside node_modules, destination inside _vendor, files to leave out)
COPIES = [
    ("requirejs/require.js", "require.js", ()),
    # embed-amd.js finds its icon fonts next to its require.js module URL, so it keeps its
    # npm path under _static/ (widgets-config.js points require.js's baseUrl there).
    ("@jupyter-widgets/html-manager/dist", "@jupyter-widgets/html-manager/dist",
     ("*.map", "embed.js", "embed.js.LICENSE.txt", "libembed-amd.js")),
    ("mathjax/es5", "mathjax", ("*.map",)),
    # test-only, see the module docstring (AXE below is where the browser test finds it)
    ("axe-core/axe.min.js", "axe-core/axe.min.js", ()),
    ("axe-core/LICENSE", "axe-core/LICENSE", ()),
]
AXE = TARGET / "axe-core" / "axe.min.js"


# The book's own scripts, beside the npm packages: widgets-config.js points require.js at _static/,
# widgets-a11y.js gives the widget manager's sliders their accessible names.
OWN_SCRIPTS = ("widgets-config.js", "widgets-a11y.js")


def up_to_date() -> bool:
    inputs = [NPM_DIR / "package.json", NPM_DIR / "package-lock.json", *(NPM_DIR / s for s in OWN_SCRIPTS),
              Path(__file__)]
    return STAMP.exists() and all(STAMP.stat().st_mtime >= p.stat().st_mtime for p in inputs)


def main() -> int:
    if up_to_date():
        return 0
    npm = shutil.which("npm")
    if npm is None:
        print("vendor_assets: npm is needed once to fetch MathJax, require.js, the ipywidgets "
              "HTML manager and axe-core from the npm registry (install Node.js, e.g. `apt-get install nodejs npm`).",
              file=sys.stderr)
        return 1
    subprocess.run([npm, "ci", "--no-audit", "--no-fund", "--ignore-scripts", "--prefix", str(NPM_DIR)],
                   check=True, stdout=subprocess.DEVNULL)
    staging = TARGET.with_name("_vendor.tmp")
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir()
    for source, dest, leave_out in COPIES:
        src = MODULES / source
        dst = staging / dest
        if src.is_dir():
            shutil.copytree(src, dst, ignore=shutil.ignore_patterns(*leave_out), dirs_exist_ok=True)
        else:
            dst.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dst)
    for script in OWN_SCRIPTS:
        shutil.copy2(NPM_DIR / script, staging / script)
    (staging / ".stamp").touch()
    shutil.rmtree(TARGET, ignore_errors=True)
    staging.rename(TARGET)
    print(f"vendor_assets: {sum(1 for _ in TARGET.rglob('*'))} files in {TARGET.relative_to(ROOT)}/")
    return 0


if __name__ == "__main__":
    sys.exit(main())
