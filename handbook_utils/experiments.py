"""Named experiments too big for a chapter, run with one command into the results store.

::

    python -m handbook_utils.experiments list
    python -m handbook_utils.experiments run ch09 [--setting full] [--workers N] [--engine local|ray]
    python -m handbook_utils.experiments check          # non-zero exit when a committed result is stale
    python -m handbook_utils.experiments spot ch09      # re-run one cell and compare with the stored one
    python -m handbook_utils.experiments revalidate ch09  # after an edit: one cell per arm; re-stamp if equal

An :class:`Experiment` names a module and the code its numbers depend on. The module provides

- ``SETTINGS``: ``{name: setting}``, each a frozen dataclass with a ``seeds`` field;
- ``cells(setting)``: picklable cells, each with ``label()`` (``{"arm": "reversed", "seed": 3}``) and ``cost``;
- ``run_cell(cell)``: one cell trained and measured, a JSON-able dict whose timings (keys ending
  in ``time_s``) are the only entries allowed to differ between two runs.

:func:`run` spreads the cells over :func:`run_cells` (one CPU thread per job, so the numbers do not
depend on the engine or the workers; finished cells kept in the cache, so a run resumes) and writes
``results/<name>_<setting>.json`` with its :class:`~handbook_utils.results.Provenance`. Registered:
chapters 6 to 9.
"""

from __future__ import annotations

import argparse
import ast
import contextlib
import dataclasses
import datetime
import hashlib
import importlib
import json
import math
import os
import sys
import tempfile
import time
import warnings
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from unittest import mock

import torch

from . import cache as cache_lib
from . import checks
from .device import get_device
from .grid import ENGINES, run_jobs
from .results import (
    CORE_MODULES,
    RESULTS_DIR,
    Provenance,
    StoredResult,
    code_digest,
    load,
    module_path,
    result_path,
    save,
    staleness,
)

SPOT_TOLERANCE = 1e-9
"""Training is deterministic on the CPU with one thread: a re-run cell must agree to float rounding."""


@dataclass(frozen=True)
class Experiment:
    """A registered experiment: its module, and the modules whose code decides its numbers."""

    name: str
    module: str  # dotted path of the module with SETTINGS, cells(setting) and run_cell(cell)
    depends: tuple[str, ...]  # names under handbook_utils: what results.code_digest covers
    about: str

    def load(self) -> ModuleType:
        return importlib.import_module(self.module)

    def setting(self, name: str):
        settings = self.load().SETTINGS
        if name not in settings:
            raise ValueError(f"experiment {self.name!r} has no setting {name!r}; known: {sorted(settings)}")
        return settings[name]

    def digest(self) -> str:
        return code_digest(self.depends)


REGISTRY: dict[str, Experiment] = {
    e.name: e
    for e in (
        Experiment("ch09", "handbook_utils.chapters.ch09_experiment", CORE_MODULES + ("chapters.ch09_experiment",),
                   "chapter 9: path-star arms (teacher forcing, reversed, teacherless, multi-token) over seeds"),
        Experiment("ch06", "handbook_utils.chapters.ch06_experiment", CORE_MODULES + tuple(
            f"chapters.{m}" for m in ("ch06_experiment", "ch06_comparison.arms", "ch06_comparison.settings",
                                      "ch06_comparison.runs")),
            "chapter 6: teacher forcing against nine remedies, from scratch on short and long chains, over seeds"),
        Experiment("ch07", "handbook_utils.chapters.ch07_experiment",
                   CORE_MODULES + ("rl", "chapters.ch07_experiment"),
                   "chapter 7: training on the model's own answers (RL, DAgger, correction data) against "
                   "more teacher forcing, from chapter 3's model, over seeds"),
        Experiment("ch08", "handbook_utils.chapters.ch08_experiment",
                   CORE_MODULES + ("relaxed", "grid", "chapters.ch08_experiment"),
                   "chapter 8: scheduled sampling with relaxed tokens, gradient stopped or flowing, over seeds"),
    )
}


def get(name: str) -> Experiment:
    if name not in REGISTRY:
        raise ValueError(f"no experiment named {name!r}; known: {sorted(REGISTRY)}")
    return REGISTRY[name]


def undeclared_imports(name: str) -> list[str]:
    """Modules of the package that the experiment's module imports (directly or through other modules
    of the package) but its ``depends`` does not cover: an edit there would go unnoticed by ``check``."""
    exp = get(name)
    todo, seen = [exp.module.split(".", 1)[1]], set()
    while todo:
        mod = todo.pop()
        if mod not in seen:
            seen.add(mod)
            todo += sorted(_imports(mod))

    def covered(mod: str) -> bool:
        return any(mod == dep or mod.startswith(dep + ".") for dep in exp.depends)

    return sorted(mod for mod in seen if not covered(mod))


def _imports(mod: str) -> set[str]:
    """The modules of the package that module ``mod`` imports (read from its source, not executed)."""
    path = module_path(mod)
    file = path / "__init__.py" if path.is_dir() else path
    package = mod.split(".") if path.is_dir() else mod.split(".")[:-1]
    found = set()
    for node in ast.walk(ast.parse(file.read_text())):
        if isinstance(node, ast.ImportFrom):
            if node.level == 0:
                if not (node.module or "").startswith("handbook_utils."):
                    continue
                base = node.module.split(".")[1:]
            else:
                base = package[: len(package) - node.level + 1] + (node.module.split(".") if node.module else [])
            candidates = [base] + [base + [alias.name] for alias in node.names]
        elif isinstance(node, ast.Import):
            candidates = [a.name.split(".")[1:] for a in node.names if a.name.startswith("handbook_utils.")]
        else:
            continue
        found |= {".".join(c) for c in candidates if c and _is_module(".".join(c))}
    return found


def _is_module(name: str) -> bool:
    try:
        module_path(name)
    except ValueError:
        return False
    return True


# --------------------------------------------------------------------------------------------
# Running


def _cell_settings(exp: Experiment, setting: str, cell) -> dict:
    return cache_lib.describe({"kind": "experiment-cell", "experiment": exp.name, "setting": setting, "cell": cell})


def _cell_key(settings: dict, digest: str) -> str:
    """Cache key of one cell: its settings, the declared code's digest (not the package's) and torch."""
    text = json.dumps({"settings": settings, "code": digest, "torch": str(torch.__version__)}, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def _train_cell(job: dict) -> dict:
    """One job (runs in a worker): train and measure one cell, store it when a cache key is given."""
    out = importlib.import_module(job["module"]).run_cell(job["cell"])
    if job["key"] is not None:
        cache_lib.save_result(job["key"], out, job["directory"], job["settings"])
    print(f"  {job['cell'].label()}: done in {out.get('wall_time_s', float('nan')):.0f} s", flush=True)
    return out


def run_cells(name: str, setting: str, cells: Sequence, *, workers: int | None = 1, engine: str = "local",
              cache: bool = True) -> tuple[list[dict], int]:
    """``(outputs, trained)``: each cell's ``run_cell`` output in order, and how many were trained now.
    A cell finished before under the declared code is read from the result cache; ``cache=False``
    reads and writes nothing, the model cache included. :func:`run` and chapter 6's live grid use it."""
    exp, cells, outputs, pending = get(name), list(cells), [], []
    digest, directory = exp.digest(), cache_lib.cache_dir(None) if checks.boolean("cache", cache) else None
    for cell in cells:
        settings = _cell_settings(exp, setting, cell) if cache else None
        key = _cell_key(settings, digest) if cache else None
        outputs.append(cache_lib.load_result(key, directory, settings) if cache else None)
        if outputs[-1] is not None:
            print(f"  {cell.label()}: from the cache", flush=True)
        else:
            pending.append((len(outputs) - 1, {"module": exp.module, "cell": cell, "key": key,
                                               "directory": directory, "settings": settings}))
    with contextlib.nullcontext() if cache else _empty_model_cache():
        done = run_jobs(_train_cell, [job for _, job in pending], workers=workers, engine=engine,
                        costs=[job["cell"].cost for _, job in pending]) if pending else []
    for (i, _), out in zip(pending, done):
        outputs[i] = out
    return outputs, len(pending)


def run(name: str, setting: str = "full", *, workers: int = 1, engine: str = "local",
        directory: str | Path | None = None, cache: bool = True, log=print) -> Path:
    """Run every cell of experiment ``name`` at ``setting`` and write its results file; returns the path.

    ``cache=True`` keeps each finished cell in the result cache, so an interrupted run resumes where
    it stopped (a cell is reused only while the code the experiment declares is unchanged).
    """
    exp = get(name)
    checks.one_of("engine", engine, ENGINES)
    workers = checks.positive_int("workers", workers)
    checks.boolean("cache", cache)
    setting_obj = exp.setting(setting)
    digest = exp.digest()  # before training: the code that runs
    cells = list(exp.load().cells(setting_obj))
    log(f"{exp.name} {setting}: {len(cells)} cells on {workers} worker(s), engine {engine}")
    start = time.perf_counter()
    outputs, trained = run_cells(name, setting, cells, workers=workers, engine=engine, cache=cache)
    log(f"{len(cells) - trained} cell(s) from the cache, {trained} trained now")
    wall = time.perf_counter() - start
    cell_seconds = sum(float(out.get("wall_time_s", 0.0)) for out in outputs)  # counts resumed cells too
    stored = StoredResult(
        Provenance.collect(exp.name, setting, setting_obj, setting_obj.seeds, exp.depends, digest=digest,
                           device=get_device().type, threads=1, workers=workers, engine=engine,
                           wall_time_s=cell_seconds),
        [{**cell.label(), **out} for cell, out in zip(cells, outputs)],
    )
    if exp.digest() != digest:
        warnings.warn(f"the code of {exp.name} changed while it ran; the results record the code it started with "
                      "and `check` will call them stale", stacklevel=2)
    path = save(stored, result_path(exp.name, setting, directory))
    log(f"wrote {path}: the cells took {cell_seconds / 60:.1f} min, this call {wall / 60:.1f} min")
    return path


# --------------------------------------------------------------------------------------------
# Checking


def check(directory: str | Path | None = None) -> list[str]:
    """One message per stored result in ``directory`` (default ``results/``) that is stale or unreadable,
    or whose experiment imports modules it does not declare (see :func:`undeclared_imports`)."""
    directory = Path(directory) if directory is not None else RESULTS_DIR
    problems = []
    for path in sorted(directory.glob("*.json")):
        try:
            stored = load(path)
            exp = get(stored.provenance.experiment)
            settings = exp.setting(stored.provenance.setting)
        except (ValueError, KeyError) as err:
            problems.append(f"{path}: {err}")
            continue
        missing = undeclared_imports(exp.name)
        if missing:
            problems.append(f"{path}: experiment {exp.name!r} imports {missing} but does not declare them, so "
                            "edits there would go unnoticed; add them to its depends")
        message = staleness(stored, settings=settings, modules=exp.depends, digest=exp.digest())
        if message:
            p = stored.provenance
            fix = f"python -m handbook_utils.experiments run {exp.name} --setting {p.setting}"
            if staleness(stored, settings=settings, modules=p.current_modules, digest=p.current_digest) is None:
                fix += (" (or, for an edit that should leave the numbers unchanged: python -m "
                        f"handbook_utils.experiments revalidate {exp.name} --setting {p.setting})")
            problems.append(f"{message}; re-run: {fix}")
    return problems


@dataclass(frozen=True)
class SpotCheck:
    """One cell trained again and compared, number by number, with the stored one."""

    path: Path
    label: dict
    compared: int  # numbers compared
    max_difference: float
    wall_time_s: float

    @property
    def reproduced(self) -> bool:
        return self.max_difference <= SPOT_TOLERANCE


def _numbers(value, prefix: str = "") -> dict[str, float]:
    """Every number in a JSON-like value, by dotted path (timings, ``*time_s``, left out: they differ)."""
    if isinstance(value, Mapping):
        out = {}
        for k, v in value.items():
            if not str(k).endswith("time_s"):
                out.update(_numbers(v, f"{prefix}.{k}" if prefix else str(k)))
        return out
    if isinstance(value, Sequence) and not isinstance(value, str):
        out = {}
        for i, v in enumerate(value):
            out.update(_numbers(v, f"{prefix}[{i}]"))
        return out
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return {prefix: float(value)}
    return {prefix: value}


def spot(name: str, setting: str = "full", *, index: int | None = None,
         directory: str | Path | None = None) -> SpotCheck:
    """Re-run one cell of a stored result without any cache, the model cache included (the cheapest
    cell unless ``index`` is given), and compare every number it reports with the stored one."""
    exp = get(name)
    path = result_path(exp.name, setting, directory)
    stored = load(path)
    cells = list(exp.load().cells(exp.setting(setting)))
    if index is None:  # the cheapest: by the time it took when stored, else by its estimated cost
        def measured(i: int) -> tuple[float, float]:
            match = stored.select(**cells[i].label())
            return (float(match[0].get("wall_time_s", math.inf)) if match else math.inf, cells[i].cost)

        index = min(range(len(cells)), key=measured)
    index = checks.integer("index", index, 0, len(cells) - 1)
    cell = cells[index]
    matches = stored.select(**cell.label())
    if len(matches) != 1:
        raise ValueError(f"{path} holds {len(matches)} cells labelled {cell.label()}, expected one")
    start = time.perf_counter()
    out = run_cells(exp.name, setting, [cell], cache=False)[0][0]  # no cache at all, the model cache included
    wall = time.perf_counter() - start
    compared, difference = _compare(path, matches[0], {**cell.label(), **out})
    return SpotCheck(path, cell.label(), compared, difference, wall)


@contextmanager
def _empty_model_cache() -> Iterator[None]:
    """Point the model cache at an empty folder while cells train uncached: a cell that reuses cached
    weights (chapter 7's start models) must train them again too. The variable is restored after."""
    with tempfile.TemporaryDirectory(prefix="handbook-spot-") as empty, \
            mock.patch.dict(os.environ, {"HANDBOOK_CACHE_DIR": empty}):
        yield


def _compare(path: Path, stored: Mapping, rerun: Mapping) -> tuple[int, float]:
    """How many numbers a re-run cell reports, and the largest difference from the stored cell
    (``inf`` for a changed non-number); timings are left out."""
    old, new = _numbers(stored), _numbers(rerun)
    if old.keys() != new.keys():
        raise ValueError(f"{path}: the re-run cell reports other fields ({sorted(old.keys() ^ new.keys())[:5]})")
    diffs = []
    for key, a in old.items():
        b = new[key]
        if isinstance(a, float) and isinstance(b, float):
            diffs.append(0.0 if (a == b or (math.isnan(a) and math.isnan(b))) else abs(a - b))
        else:
            diffs.append(0.0 if a == b else math.inf)
    return len(diffs), max(diffs, default=0.0)


@dataclass(frozen=True)
class Revalidation:
    """One cell per group (every arm, say) trained again under changed code and compared with the store."""

    path: Path
    labels: list[dict]
    max_differences: list[float]
    wall_time_s: float
    stamped: bool  # the results file now records the new code digest

    @property
    def reproduced(self) -> bool:
        return all(d <= SPOT_TOLERANCE for d in self.max_differences)


def revalidate(name: str, setting: str = "full", *, workers: int = 1,
               directory: str | Path | None = None) -> Revalidation:
    """Bring a stored result up to date with an edit that should not change its numbers, without the full grid.

    A stored result goes stale on *any* edit to the code it declares, including a comment or a new
    function that it never calls. Re-running every cell proves nothing more than re-running one cell
    of each kind when the cells of a kind differ only in their seed: the same code path runs, with
    other random numbers. So this trains one cell per distinct label-without-seed (one per arm, say),
    compares every number with the stored one, and only if all of them reproduce records the new code
    digest in the file's provenance (``revalidations``); otherwise it changes nothing and the message
    says to re-run the grid. Declared modules may have changed too (they are code); a changed setting
    makes another grid and always needs ``run``.
    """
    exp = get(name)
    workers = checks.positive_int("workers", workers)
    path = result_path(exp.name, setting, directory)
    stored = load(path)
    setting_obj = exp.setting(setting)
    digest = exp.digest()
    # Changed settings make another grid, so only `run` will do. (Changed declared modules are code.)
    other = staleness(stored, settings=setting_obj, modules=stored.provenance.current_modules,
                      digest=stored.provenance.current_digest)
    if other is not None:
        raise ValueError(f"{other}; only a code change can be revalidated: run the experiment again")
    if staleness(stored, settings=setting_obj, modules=exp.depends, digest=digest) is None:
        return Revalidation(path, [], [], 0.0, stamped=False)
    groups: dict[str, object] = {}
    for cell in exp.load().cells(setting_obj):
        kind = json.dumps({k: v for k, v in cell.label().items() if k != "seed"}, sort_keys=True)
        groups.setdefault(kind, cell)
    chosen = list(groups.values())
    start = time.perf_counter()
    outputs = run_jobs(exp.load().run_cell, chosen, workers=workers, costs=[c.cost for c in chosen])
    wall = time.perf_counter() - start
    differences = []
    for cell, out in zip(chosen, outputs):
        matches = stored.select(**cell.label())
        if len(matches) != 1:
            raise ValueError(f"{path} holds {len(matches)} cells labelled {cell.label()}, expected one")
        differences.append(_compare(path, matches[0], {**cell.label(), **out})[1])
    labels = [cell.label() for cell in chosen]
    result = Revalidation(path, labels, differences, wall, stamped=False)
    if not result.reproduced:
        return result
    if exp.digest() != digest:
        raise RuntimeError(f"the code of {exp.name} changed while it was being revalidated; run revalidate again")
    record = {"code_digest": digest, "modules": sorted(set(exp.depends)),
              "from_digest": stored.provenance.current_digest, "cells": labels,
              "date": datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0).isoformat(),
              "torch": str(torch.__version__), "wall_time_s": wall}
    provenance = dataclasses.replace(stored.provenance,
                                     revalidations=[*stored.provenance.revalidations, record])
    save(StoredResult(provenance, stored.cells), path)
    return dataclasses.replace(result, stamped=True)


# --------------------------------------------------------------------------------------------
# Command line


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m handbook_utils.experiments", description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("list", help="the registered experiments and their settings")
    p_run = sub.add_parser("run", help="run an experiment and write results/<name>_<setting>.json")
    p_check = sub.add_parser("check", help="exit 1 when a stored result is stale")
    p_spot = sub.add_parser("spot", help="re-run one cell and compare it with the stored one")
    p_re = sub.add_parser("revalidate", help="after a code edit: re-run one cell per arm; if every number "
                                             "reproduces, record the new code digest (else re-run the grid)")
    for p in (p_run, p_spot, p_re):
        p.add_argument("name")
        p.add_argument("--setting", default="full")
    for p in (p_run, p_re):
        p.add_argument("--workers", type=int, default=1)
    for p in (p_run, p_check, p_spot, p_re):
        p.add_argument("--dir", default=None, help="the results folder (default: results/)")
    p_run.add_argument("--engine", choices=ENGINES, default="local")
    p_run.add_argument("--no-cache", action="store_true", help="train every cell again")
    p_spot.add_argument("--index", type=int, default=None, help="which cell (default: the cheapest)")
    args = parser.parse_args(argv)

    if args.command == "list":
        for exp in REGISTRY.values():
            print(f"{exp.name}: {exp.about}; settings {sorted(exp.load().SETTINGS)}")
        return 0
    if args.command == "run":
        run(args.name, args.setting, workers=args.workers, engine=args.engine, directory=args.dir,
            cache=not args.no_cache)
        return 0
    if args.command == "check":
        problems = check(args.dir)
        for problem in problems:
            print(problem, file=sys.stderr)
        if not problems:
            n = len(list((Path(args.dir) if args.dir else RESULTS_DIR).glob("*.json")))
            print(f"results up to date ({n} files)")
        return 1 if problems else 0
    if args.command == "revalidate":
        checked = revalidate(args.name, args.setting, workers=args.workers, directory=args.dir)
        if not checked.labels:
            print(f"{checked.path} is up to date; nothing to revalidate")
            return 0
        for label, difference in zip(checked.labels, checked.max_differences):
            print(f"  {label}: max difference {difference:.3g}")
        if checked.stamped:
            print(f"{checked.path}: every re-run cell reproduced; recorded the new code digest "
                  f"({checked.wall_time_s / 60:.1f} min)")
            return 0
        print(f"{checked.path}: NOT reproduced; the numbers depend on the edit: python -m "
              f"handbook_utils.experiments run {args.name} --setting {args.setting}", file=sys.stderr)
        return 1
    result = spot(args.name, args.setting, index=args.index, directory=args.dir)
    verdict = "reproduced" if result.reproduced else "NOT reproduced"
    print(f"{result.path} cell {result.label}: {verdict}; max difference {result.max_difference:.3g} over "
          f"{result.compared} numbers ({result.wall_time_s:.0f} s)")
    return 0 if result.reproduced else 1


if __name__ == "__main__":
    # the importable module, not __main__: grid workers unpickle its functions by their module name
    from handbook_utils.experiments import main as _main

    sys.exit(_main())
