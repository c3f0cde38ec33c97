"""nbval settings for the chapter notebooks.

stderr is not compared: it carries warnings and progress bars whose text depends on the
machine. Everything a chapter claims is printed on stdout or returned as a value, and is
compared exactly (see the nbval markers in each chapter for the few cells that are not).
"""


def pytest_collectstart(collector):
    if getattr(collector, "fspath", None) is not None and collector.fspath.ext == ".ipynb":
        collector.skip_compare = tuple(collector.skip_compare) + ("stderr",)
