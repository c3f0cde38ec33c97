"""nbval settings for the chapter notebooks.

stderr is not compared: it carries warnings and progress bars whose text depends on the
machine. Everything a chapter claims is printed on stdout or returned as a value, and is
compared exactly (see the nbval markers in each chapter for the few cells that are not).

Progress bars are off (``HANDBOOK_PROGRESS=0``, inherited by the kernels nbval starts): in a kernel
they are widgets, outputs that the reference notebooks (executed without them) do not have.
"""

import os

os.environ["HANDBOOK_PROGRESS"] = "0"


def pytest_collectstart(collector):
    if getattr(collector, "fspath", None) is not None and collector.fspath.ext == ".ipynb":
        collector.skip_compare = tuple(collector.skip_compare) + ("stderr",)
