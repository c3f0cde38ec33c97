"""Keep every chapter pair (``chapters/NN_name.md`` + ``chapters/NN_name.ipynb``) honest.

Three jobs, one per sub-command:

``check``
    Fails when a pair is out of sync: an ``.md`` edited without regenerating its ``.ipynb``
    (cell sources, types or tags differ), an ``.ipynb`` with no ``.md``, an ``.md`` with no
    ``.ipynb``, or an ``.ipynb`` whose code cells were never executed. It compares content,
    never file timestamps (a fresh clone has meaningless timestamps).

``sync-text CHAPTER ...``
    Copies edited prose (markdown cells) into the ``.ipynb`` when no code cell changed, keeping the
    stored outputs: a reworded sentence does not retrain the chapter's models.

``execute [CHAPTER ...]``
    Regenerates the reference ``.ipynb`` from the ``.md`` by executing it top to bottom, and
    writes it deterministically: stable cell ids, no timing metadata, no widget state, widget
    model ids derived from the cell position. Re-running on an unchanged chapter only changes
    outputs that really changed.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
import uuid
from pathlib import Path

import jupytext
import nbformat
from nbclient import NotebookClient

from handbook_utils.files import atomic_write

ROOT = Path(__file__).resolve().parents[1]
CHAPTERS = ROOT / "chapters"
PREFACE = CHAPTERS / "00_preface.md"
TIMINGS = CHAPTERS / "timings.json"  # shown by the preface; the preface does not time itself
WIDGET_MIME = "application/vnd.jupyter.widget-view+json"
_ID_NAMESPACE = uuid.UUID("6f0b7c1e-3a52-4f55-9d0c-7e1f3b5a9c21")


def _cell_signature(cell) -> tuple:
    """What must agree between the two files of a pair: type, source and tags."""
    tags = tuple(cell.get("metadata", {}).get("tags", []))
    return cell["cell_type"], cell["source"].strip(), tags


def read_source(md_path: Path) -> nbformat.NotebookNode:
    return jupytext.read(md_path, fmt="md:myst")


def check_pairs(chapters: Path = CHAPTERS) -> list[str]:
    """Return one message per problem found (an empty list means every pair is in sync)."""
    problems: list[str] = []
    mds = sorted(chapters.glob("*.md"))
    ipynbs = sorted(chapters.glob("*.ipynb"))
    for nb_path in ipynbs:
        if not nb_path.with_suffix(".md").exists():
            problems.append(f"{nb_path.name}: no paired .md source (the .md is the source of truth)")
    for md_path in mds:
        nb_path = md_path.with_suffix(".ipynb")
        if not nb_path.exists():
            problems.append(f"{md_path.name}: no paired .ipynb; run `make notebooks`")
            continue
        source = [_cell_signature(c) for c in read_source(md_path).cells]
        stored_nb = nbformat.read(nb_path, as_version=4)
        stored = [_cell_signature(c) for c in stored_nb.cells]
        if source != stored:
            first = next(
                (i for i, (a, b) in enumerate(zip(source, stored)) if a != b),
                min(len(source), len(stored)),
            )
            problems.append(
                f"{md_path.name} and {nb_path.name} differ (first at cell {first}; "
                f"{len(source)} vs {len(stored)} cells): run `make notebooks`"
            )
            continue
        unexecuted = [
            i for i, c in enumerate(stored_nb.cells)
            if c.cell_type == "code" and c.source.strip() and c.get("execution_count") is None
        ]
        if unexecuted:
            problems.append(f"{nb_path.name}: code cells {unexecuted} hold no executed output; run `make notebooks`")
    return problems


def _normalize(nb: nbformat.NotebookNode, stem: str) -> None:
    """Remove everything that changes between two runs of the same chapter but is not output."""
    nb.metadata.pop("widgets", None)
    nb.metadata.pop("jupytext", None)
    for index, cell in enumerate(nb.cells):
        cell["id"] = f"{stem[:40]}-{index:03d}".replace("_", "-")
        cell.metadata.pop("execution", None)
        for k, output in enumerate(cell.get("outputs", [])):
            data = output.get("data", {})
            if WIDGET_MIME in data:
                stable = uuid.uuid5(_ID_NAMESPACE, f"{stem}/{index}/{k}").hex
                data[WIDGET_MIME]["model_id"] = stable


def _write_text(text: str, path: Path) -> None:
    atomic_write(path, lambda f: f.write(text), binary=False)


def execute(md_path: Path, timeout: int = 900) -> float:
    """Execute one chapter from its .md and write its reference .ipynb; return seconds taken.

    The chapter runs against an empty model cache, so the recorded time is what a reader pays on
    a first run, and the stored outputs come from models trained from scratch. Progress bars are
    off (``HANDBOOK_PROGRESS=0``): they belong to a reader's live run, not to the reference outputs.
    """
    nb = read_source(md_path)
    nb.metadata["kernelspec"] = {"display_name": "Python 3 (ipykernel)", "language": "python", "name": "python3"}
    client = NotebookClient(
        nb,
        timeout=timeout,
        kernel_name="python3",
        record_timing=False,
        store_widget_state=True,  # nbclient needs it for Output widgets; _normalize drops it
        resources={"metadata": {"path": str(md_path.parent)}},
    )
    # inherited by the kernel: an empty model cache, and no progress bars in the reference outputs
    settings = {"HANDBOOK_CACHE_DIR": None, "HANDBOOK_PROGRESS": "0"}
    previous = {name: os.environ.get(name) for name in settings}
    with tempfile.TemporaryDirectory(prefix="handbook-cache-") as empty_cache:
        settings["HANDBOOK_CACHE_DIR"] = empty_cache
        os.environ.update(settings)
        try:
            start = time.perf_counter()
            client.execute()
            elapsed = time.perf_counter() - start
        finally:
            for name, value in previous.items():
                if value is None:
                    os.environ.pop(name, None)
                else:
                    os.environ[name] = value
    _normalize(nb, md_path.stem)
    _write_text(nbformat.writes(nb) + "\n", md_path.with_suffix(".ipynb"))
    return elapsed


def sync_text(md_path: Path) -> int:
    """Copy the prose of an ``.md`` into its ``.ipynb`` when only markdown cells changed; return how many.

    A reference notebook is executed against an empty model cache, so regenerating it retrains every
    model of the chapter: minutes to tens of minutes for a reworded sentence. When every code cell
    (source and tags) is unchanged, the stored outputs are still what the code produces, so the new
    prose can be copied in without executing anything; nbval still re-executes the notebook and
    compares. Anything else (a code cell edited, added, removed or moved) is refused: run ``execute``.
    """
    nb_path = md_path.with_suffix(".ipynb")
    source = read_source(md_path).cells
    nb = nbformat.read(nb_path, as_version=4)
    layout = [c.cell_type for c in source] == [c.cell_type for c in nb.cells]
    code_same = layout and all(
        _cell_signature(a) == _cell_signature(b) for a, b in zip(source, nb.cells) if a.cell_type == "code"
    )
    if not code_same:
        raise ValueError(f"{md_path.name}: code cells changed (or cells were added, removed or moved); "
                         "only prose can be synced: run `make notebooks CHAPTERS=...`")
    changed = 0
    for src, cell in zip(source, nb.cells):
        if cell.cell_type == "markdown" and _cell_signature(src) != _cell_signature(cell):
            cell.source = src.source
            cell.metadata = src.metadata
            changed += 1
    if changed:
        _normalize(nb, md_path.stem)
        _write_text(nbformat.writes(nb) + "\n", nb_path)
    return changed


def record_timing(stem: str, seconds: float) -> None:
    """Store a chapter's execution time (from an empty model cache) for the preface's table."""
    import torch

    data = json.loads(TIMINGS.read_text()) if TIMINGS.exists() else {"seconds": {}}
    data["seconds"][stem] = round(seconds)
    data["machine"] = (
        f"{os.cpu_count()} CPU cores ({platform.machine()}), "
        f"{'CUDA' if torch.cuda.is_available() else 'no GPU'}, torch {torch.__version__.split('+')[0]}"
    )
    _write_text(json.dumps(data, indent=2, sort_keys=True) + "\n", TIMINGS)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("check", help="fail when a chapter pair is out of sync")
    run = sub.add_parser("execute", help="regenerate reference .ipynb files from the .md sources")
    run.add_argument("chapters", nargs="*", type=Path, help="chapter .md files (default: all)")
    text = sub.add_parser("sync-text", help="copy edited prose into the .ipynb when no code cell changed")
    text.add_argument("chapters", nargs="+", type=Path, help="chapter .md files")
    args = parser.parse_args(argv)

    if args.command == "sync-text":
        for md_path in args.chapters:
            try:
                n = sync_text(Path(md_path))
            except ValueError as err:
                print(err, file=sys.stderr)
                return 1
            print(f"{Path(md_path).name}: {n} markdown cell(s) copied into the .ipynb")
        return 0

    if args.command == "check":
        problems = check_pairs()
        for problem in problems:
            print(f"out of sync: {problem}", file=sys.stderr)
        n_pairs = len(list(CHAPTERS.glob("*.md")))
        print(f"notebook pairs: {n_pairs} checked, {len(problems)} problem(s)")
        return 1 if problems else 0

    targets = [Path(p).resolve() for p in args.chapters] or sorted(CHAPTERS.glob("*.md"))
    for md_path in targets:
        if md_path.suffix != ".md" or not md_path.exists():
            parser.error(f"chapters: {md_path} is not an existing .md chapter")
    # The preface shows the other chapters' timings, so it always runs last.
    targets = [p for p in targets if p != PREFACE] + [PREFACE]
    for md_path in targets:
        seconds = execute(md_path)
        if md_path != PREFACE:
            record_timing(md_path.stem, seconds)
        print(f"executed {md_path.name} in {seconds:.1f} s -> {md_path.with_suffix('.ipynb').name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
