"""Results of experiments too big for a chapter's time budget: small JSON files with their provenance.

An experiment (chapter 9's arms × seeds now, chapter 6's full grid later; see
:mod:`handbook_utils.experiments`) runs once, with one command, and commits its measurements, never
weights, to ``results/<experiment>_<setting>.json``. A chapter then reads the file instead of
training, and shows where the numbers came from with :meth:`Provenance.describe`.

A stored result must say which code and settings produced it, and notice when they no longer hold:

- :class:`Provenance` records the experiment, the setting's name and full description
  (:func:`handbook_utils.cache.describe`), the seeds, a digest of the code the experiment depends
  on, the torch and Python versions, the machine, the device, the wall time and the date;
- :func:`code_digest` hashes only the modules an experiment *declares* (the training core and its
  chapter module, say), so editing chapter 1's widget leaves chapter 9's results valid while an edit
  to ``training.py`` makes them stale;
- :func:`staleness` compares a stored result with what the current code and settings would produce
  and returns a message naming the file and what changed (None when it is up to date).

:func:`save` writes atomically (:func:`handbook_utils.files.atomic_write`). :func:`seed_interval`
summarizes one number over seeds with a 95% Student-t interval, as the book reports every claim
about trained models.
"""

from __future__ import annotations

import ast
import datetime
import hashlib
import json
import math
import os
import platform
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

import numpy as np
import torch

from . import checks
from .cache import PACKAGE_ROOT, describe
from .files import atomic_write, source_files

FORMAT = 1
RESULTS_DIR = PACKAGE_ROOT.parent / "results"

CORE_MODULES = ("tasks", "models", "strategies", "relaxed", "schedules", "training", "metrics", "generation", "checks",
                "runtime", "glue", "device", "recipes", "cache", "files")
"""The modules every trained number depends on (the training core), as names under ``handbook_utils``."""


# --------------------------------------------------------------------------------------------
# Code digest of the declared modules


def module_path(name: str) -> Path:
    """The file (``models`` → ``models.py``) or package folder (``tasks``) of a module of the package."""
    if not isinstance(name, str) or not name or name.startswith(".") or "/" in name:
        raise ValueError(f"module names are dotted names under handbook_utils such as 'tasks', got {name!r}")
    base = PACKAGE_ROOT.joinpath(*name.split("."))
    if base.is_dir() and (base / "__init__.py").exists():
        return base
    if base.with_suffix(".py").is_file():
        return base.with_suffix(".py")
    raise ValueError(f"handbook_utils has no module {name!r}")


def code_fingerprint(source: str) -> str:
    """The part of a module's source that can change a number: its syntax tree without docstrings.

    Comments, blank lines, line breaks and docstrings do not reach the interpreter's behaviour, so an
    edit to the documentation (the API reference is built from these docstrings) leaves stored results
    fresh; any edit to code, a default value or a string the code uses makes them stale.
    """
    tree = ast.parse(source)
    for node in ast.walk(tree):
        body = getattr(node, "body", None)
        if (isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)) and body
                and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant)
                and isinstance(body[0].value.value, str)):
            node.body = body[1:] or [ast.Pass()]
    return hashlib.sha256(ast.dump(tree, include_attributes=False).encode()).hexdigest()[:16]


def code_digest(modules: Sequence[str]) -> str:
    """SHA-256 over the :func:`code_fingerprint` of every source file of ``modules`` (a file, or every
    ``*.py`` of a package with its relative path), and nothing else."""
    if isinstance(modules, str) or not modules:
        raise ValueError("modules must be a non-empty list of module names")
    h = hashlib.sha256()
    for name in sorted(set(modules)):
        path = module_path(name)
        files = source_files(path) if path.is_dir() else [path]
        for file in files:
            where = file.relative_to(path).as_posix() if path.is_dir() else ""
            h.update(f"{name}/{where}:{code_fingerprint(file.read_text())};".encode())
    return h.hexdigest()[:16]


# --------------------------------------------------------------------------------------------
# Provenance and the stored file


@dataclass(frozen=True)
class Provenance:
    """Where a stored result came from: enough to judge it, and to re-run it."""

    experiment: str
    setting: str
    settings: dict  # cache.describe(setting): every value that sizes the experiment
    seeds: list[int]
    modules: list[str]  # what code_digest covers
    code_digest: str
    torch: str
    python: str
    platform: str
    cpu_count: int
    device: str
    threads: int  # torch CPU threads per job
    workers: int
    engine: str
    wall_time_s: float  # the cells' own times, summed (one core each); a resumed run counts every cell once
    date: str  # UTC, ISO 8601
    # Later code digests under which cells were re-run and reproduced every stored number
    # (handbook_utils.experiments.revalidate): [{"code_digest", "modules", "from_digest", "cells", "date", ...}]
    revalidations: list = field(default_factory=list)

    @classmethod
    def collect(cls, experiment: str, setting: str, setting_obj, seeds: Sequence[int], modules: Sequence[str], *,
                digest: str, device: str, threads: int, workers: int, engine: str,
                wall_time_s: float) -> Provenance:
        """Provenance of a run that just finished on this machine; ``digest`` is :func:`code_digest` of
        ``modules`` taken *before* the run (the code that actually ran)."""
        return cls(
            experiment=experiment, setting=setting, settings=describe(setting_obj),
            seeds=[checks.seed("seeds[i]", s) for s in seeds], modules=sorted(set(modules)), code_digest=digest,
            torch=str(torch.__version__), python=platform.python_version(), platform=platform.platform(),
            cpu_count=os.cpu_count() or 1, device=str(device), threads=checks.positive_int("threads", threads),
            workers=checks.positive_int("workers", workers), engine=engine, wall_time_s=float(wall_time_s),
            date=datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0).isoformat(),
        )

    @property
    def current_digest(self) -> str:
        """The code digest the stored numbers are known to hold under: the last revalidation's, else the
        one they were computed with."""
        return self.revalidations[-1]["code_digest"] if self.revalidations else self.code_digest

    @property
    def current_modules(self) -> list[str]:
        """The modules :attr:`current_digest` covers."""
        return list(self.revalidations[-1]["modules"]) if self.revalidations else list(self.modules)

    def describe(self) -> str:
        """A few lines for a chapter page: what ran, where, when, and on which code."""
        seeds = ", ".join(str(s) for s in self.seeds)
        return (
            f"experiment {self.experiment}, setting {self.setting!r}, seeds {seeds}\n"
            f"computed {self.date}; the cells took {self.wall_time_s / 60:.1f} min on {self.device} "
            f"({self.platform}, {self.cpu_count} CPUs; {self.workers} worker(s) × {self.threads} thread(s), "
            f"engine {self.engine})\n"
            f"torch {self.torch}, Python {self.python}; code digest {self.code_digest} of handbook_utils."
            f"{{{', '.join(self.modules)}}}"
        ) + "".join(_revalidation_text(r) for r in self.revalidations)


def _revalidation_text(record: Mapping) -> str:
    """One line of :meth:`Provenance.describe` per revalidation: cells trained again, or a stated reason
    why none had to be (a change in how the digest is computed, over unchanged sources)."""
    if not record["cells"] and record.get("reason"):
        return f"\nre-stamped {record['date']} under code digest {record['code_digest']}: {record['reason']}"
    cells = ", ".join(_label_text(c) for c in record["cells"])
    return (f"\nrevalidated {record['date']} under code digest {record['code_digest']}: {len(record['cells'])} "
            f"cell(s) ({cells}) trained again reproduced every stored number")


def _label_text(label: Mapping) -> str:
    return " ".join(f"{k}={v}" for k, v in label.items())


@dataclass
class StoredResult:
    """A results file: its provenance and one dict of measurements per cell (e.g. one arm and seed)."""

    provenance: Provenance
    cells: list[dict]
    path: Path | None = field(default=None, compare=False)

    def select(self, **match) -> list[dict]:
        """The cells whose fields equal every ``match`` (``select(arm="reversed")``), in stored order."""
        return [c for c in self.cells if all(c.get(k) == v for k, v in match.items())]

    def to_dict(self) -> dict:
        return {"format": FORMAT, "provenance": asdict(self.provenance), "cells": self.cells}


def result_path(experiment: str, setting: str, directory: str | os.PathLike | None = None) -> Path:
    """``results/<experiment>_<setting>.json`` (or the same name in ``directory``)."""
    for name, value in (("experiment", experiment), ("setting", setting)):
        if not isinstance(value, str) or not value.replace("-", "").replace("_", "").isalnum():
            raise ValueError(f"{name} must be a short name of letters, digits, '-' and '_', got {value!r}")
    return Path(directory if directory is not None else RESULTS_DIR) / f"{experiment}_{setting}.json"


def save(result: StoredResult, path: str | os.PathLike) -> Path:
    """Write ``result`` to ``path`` atomically (a reader sees the old file or the whole new one)."""
    checks.instance("result", result, StoredResult)
    text = json.dumps(result.to_dict(), indent=1, sort_keys=True, allow_nan=True) + "\n"
    path = atomic_write(Path(path), lambda f: f.write(text), binary=False)
    result.path = path
    return path


def load(path: str | os.PathLike) -> StoredResult:
    """Read a results file; a clear ValueError when it is not one (or from another format)."""
    path = Path(path)
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        raise FileNotFoundError(f"no results file {path}; run the experiment that writes it "
                                "(python -m handbook_utils.experiments list)") from None
    except ValueError as err:
        raise ValueError(f"{path} is not valid JSON ({err})") from None
    if not isinstance(data, dict) or data.get("format") != FORMAT or not {"provenance", "cells"} <= data.keys():
        raise ValueError(f"{path} is not a results file of format {FORMAT}")
    known = {f.name for f in fields(Provenance)}
    optional = {"revalidations"}  # absent from files written before it existed
    if not known - optional <= set(data["provenance"]) <= known:
        raise ValueError(f"{path}: provenance must have the fields {sorted(known)}")
    return StoredResult(Provenance(**data["provenance"]), list(data["cells"]), path)


# --------------------------------------------------------------------------------------------
# Staleness


def _differences(stored, current, prefix: str = "") -> list[str]:
    """Dotted paths where two JSON-like values differ."""
    if isinstance(stored, Mapping) and isinstance(current, Mapping):
        out = []
        for key in sorted(set(stored) | set(current), key=str):
            where = f"{prefix}.{key}" if prefix else str(key)
            if key not in stored or key not in current:
                out.append(where)
            else:
                out += _differences(stored[key], current[key], where)
        return out
    return [] if stored == current else [prefix or "(the whole setting)"]


def staleness(result: StoredResult, *, settings, modules: Sequence[str], digest: str | None = None) -> str | None:
    """Why ``result`` no longer matches what the current code would produce, or None if it does.

    ``settings``: the setting object the experiment would run now (described with
    :func:`handbook_utils.cache.describe`); ``modules``: the modules it declares now; ``digest``:
    their :func:`code_digest` (computed when not given).
    """
    checks.instance("result", result, StoredResult)
    p = result.provenance
    where = str(result.path) if result.path is not None else f"{p.experiment}_{p.setting}"
    modules = sorted(set(modules))
    if p.current_modules != modules:
        return (f"{where} is stale: it covers the code of {p.current_modules}, but experiment {p.experiment!r} now "
                f"depends on {modules}")
    digest = digest if digest is not None else code_digest(modules)
    if p.current_digest != digest:
        return (f"{where} is stale: the code it depends on (handbook_utils.{{{', '.join(modules)}}}) changed since "
                f"it was computed (code digest {p.current_digest}, now {digest})")
    now = json.loads(json.dumps(describe(settings)))  # as it would read back from the file
    changed = _differences(p.settings, now)
    if changed:
        shown = ", ".join(changed[:5]) + (f" and {len(changed) - 5} more" if len(changed) > 5 else "")
        return f"{where} is stale: setting {p.setting!r} changed since it was computed ({shown})"
    return None


# --------------------------------------------------------------------------------------------
# Summaries over seeds

# Two-sided 95% quantiles of Student's t by degrees of freedom (no SciPy in the environment).
_T95 = {1: 12.706, 2: 4.303, 3: 3.182, 4: 2.776, 5: 2.571, 6: 2.447, 7: 2.365, 8: 2.306, 9: 2.262, 10: 2.228,
        11: 2.201, 12: 2.179, 13: 2.160, 14: 2.145, 15: 2.131, 16: 2.120, 17: 2.110, 18: 2.101, 19: 2.093,
        20: 2.086, 25: 2.060, 30: 2.042, 40: 2.021, 60: 2.000, 120: 1.980}


def t95(df: int) -> float:
    """The 0.975 quantile of Student's t with ``df`` degrees of freedom (conservative between table rows)."""
    df = checks.positive_int("df", df)
    return _T95[max(k for k in _T95 if k <= df)] if df <= 120 else 1.960


UNIT = (0.0, 1.0)
"""The range of a share (accuracy, exact match): intervals of one are clipped to it."""


@dataclass(frozen=True)
class MetricInfo:
    """How a chapter reports one measured number: its table label, which direction is good (for verdict
    words), the range an interval is clipped to, and the digits shown."""

    label: str
    higher_is_better: bool
    bounds: tuple[float, float] | None = UNIT
    digits: int = 3


@dataclass(frozen=True)
class SeedInterval:
    """One number over seeds: mean, sample s.d. and the 95% t interval of the mean."""

    mean: float
    sd: float
    low: float
    high: float
    values: tuple[float, ...]

    @property
    def n(self) -> int:
        return len(self.values)

    @property
    def half_width(self) -> float:
        return (self.high - self.low) / 2

    def text(self, digits: int = 3) -> str:
        """``mean [low, high]``: the mean to ``digits`` decimals, the bounds to one fewer (the way
        every chapter prints an interval)."""
        digits = checks.integer("digits", digits, 1, 12)
        return f"{self.mean:.{digits}f} [{self.low:.{digits - 1}f}, {self.high:.{digits - 1}f}]"

    def __str__(self) -> str:
        return self.text(3)


def seed_interval(values: Sequence[float], bounds: tuple[float, float] | None = None) -> SeedInterval:
    """Mean and 95% interval ``mean ± t·s/√n`` over seeds (one value: a zero-width interval).

    ``bounds``: the range the quantity cannot leave (``(0, 1)`` for an accuracy); the interval is
    clipped to it, so it never claims an accuracy above 1."""
    values = tuple(checks.real_number("values[i]", v) for v in values)
    if not values:
        raise ValueError("values must hold at least one number")
    a = np.array(values)
    mean = float(a.mean())
    sd = float(a.std(ddof=1)) if len(a) > 1 else 0.0
    half = t95(len(a) - 1) * sd / math.sqrt(len(a)) if len(a) > 1 else 0.0
    low, high = mean - half, mean + half
    if bounds is not None:
        low, high = max(low, bounds[0]), min(high, bounds[1])
    return SeedInterval(mean, sd, low, high, values)


def t_cdf(x: float, df: int) -> float:
    """P(T ≤ x) for Student's t with ``df`` degrees of freedom (Simpson's rule on the density: no SciPy)."""
    df = checks.positive_int("df", df)
    x = checks.real_number("x", x)
    if x < 0:
        return 1.0 - t_cdf(-x, df)
    n = 2000  # even; the density is smooth, so the error is far below the digits a verdict needs
    grid = np.linspace(0.0, x, n + 1)
    log_c = math.lgamma((df + 1) / 2) - math.lgamma(df / 2) - 0.5 * math.log(df * math.pi)
    dens = np.exp(log_c - (df + 1) / 2 * np.log1p(grid**2 / df))
    weights = np.ones(n + 1)
    weights[1:-1:2], weights[2:-1:2] = 4, 2
    return 0.5 + float((weights * dens).sum() * (x / n) / 3)


def t_quantile(q: float, df: int) -> float:
    """The ``q`` quantile of Student's t (bisection on :func:`t_cdf`)."""
    q = checks.number("q", q, 0.0, 1.0, lo_open=True, hi_open=True)
    if q < 0.5:
        return -t_quantile(1 - q, df)
    lo, hi = 0.0, 1.0
    while t_cdf(hi, df) < q:
        hi *= 2
    for _ in range(60):
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if t_cdf(mid, df) < q else (lo, mid)
    return (lo + hi) / 2


@dataclass(frozen=True)
class Comparison:
    """``arm − reference`` on one metric, paired by seed: the mean difference, its 95% interval, and the
    verdict at a family-wise 95% level when ``family`` comparisons are judged together (Bonferroni)."""

    arm: str
    reference: str
    metric: str
    delta: float
    low: float  # 95% interval of the mean paired difference
    high: float
    n: int  # seeds paired
    word: str  # "better", "worse" or "within noise"
    family: int = 1  # comparisons judged together; the verdict's interval is 1 - 0.05/family

    def __str__(self) -> str:
        return f"{self.delta:+.3f} [{self.low:+.3f}, {self.high:+.3f}] {self.word}"


def paired_comparison(arm_values: Mapping[int, float], reference_values: Mapping[int, float], *, arm: str = "",
                      reference: str = "", metric: str = "", higher_is_better: bool = True,
                      family: int = 1) -> Comparison:
    """Compare two arms seed by seed (``{seed: value}`` each): per seed the difference, then its mean and
    95% t interval. "better"/"worse" only when the interval at level ``1 - 0.05/family`` excludes 0 in
    the metric's good direction (Bonferroni: with ``family`` comparisons read together, the chance of
    any false verdict stays under 5%); otherwise "within noise", which says the seeds do not separate
    the arms, not that they are equal."""
    family = checks.positive_int("family", family)
    seeds = sorted(set(arm_values) & set(reference_values))
    if len(seeds) < 2:
        raise ValueError(f"{arm!r} and {reference!r} share {len(seeds)} seeds; at least 2 are needed")
    iv = seed_interval([arm_values[s] - reference_values[s] for s in seeds])
    half = t_quantile(1 - 0.025 / family, iv.n - 1) * iv.sd / math.sqrt(iv.n)
    if iv.mean - half > 0 or iv.mean + half < 0:
        word = "better" if (iv.mean > 0) == higher_is_better else "worse"
    else:
        word = "within noise"
    return Comparison(arm, reference, metric, iv.mean, iv.low, iv.high, iv.n, word, family)
