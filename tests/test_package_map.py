"""The package map in ``handbook_utils/__init__.py`` lists every module, and no module is too long.

A newcomer reads the map first; a module missing from it is a module nobody finds. The length
limit keeps each core module readable in one sitting (the project aims at 400 lines).
"""

from pathlib import Path

import handbook_utils

ROOT = Path(handbook_utils.__file__).parent
MAX_LINES = 500


def _modules() -> list[str]:
    names = []
    for path in sorted(ROOT.rglob("*.py")):
        rel = path.relative_to(ROOT).with_suffix("")
        parts = rel.parts[:-1] if rel.name == "__init__" else rel.parts
        if parts:
            names.append(".".join(parts))
    return names


def test_every_module_is_on_the_map():
    doc = handbook_utils.__doc__
    missing = [m for m in _modules() if f"``{m}``" not in doc]
    assert not missing, f"add these modules to the map in handbook_utils/__init__.py: {missing}"


def test_the_map_names_no_module_that_does_not_exist():
    import re

    listed = set(re.findall(r"^- ``([\w.]+)``", handbook_utils.__doc__, flags=re.M))
    assert listed, "the map lists modules as lines starting with - ``name``"
    assert listed <= set(_modules()), f"the map lists modules that do not exist: {sorted(listed - set(_modules()))}"


def test_no_module_is_longer_than_the_limit():
    lengths = {str(p.relative_to(ROOT)): len(p.read_text().splitlines()) for p in ROOT.rglob("*.py")}
    long = {name: n for name, n in lengths.items() if n > MAX_LINES}
    assert not long, f"split these by concern (> {MAX_LINES} lines): {long}"
