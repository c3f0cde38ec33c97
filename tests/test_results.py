"""The results store: round trip, atomic writes, a code digest of the declared modules only, staleness
that `check` catches, the committed results up to date, and a stored cell that re-runs to the same numbers."""

import dataclasses
import json
import math
import os
import shutil
from pathlib import Path

import pytest

from handbook_utils import experiments, results
from handbook_utils.chapters import ch09_experiment
from handbook_utils.results import Provenance, StoredResult, code_digest, load, save, seed_interval, staleness

COMMITTED = results.RESULTS_DIR


def provenance(**changes) -> Provenance:
    setting = ch09_experiment.SETTINGS["smoke"]
    p = Provenance.collect("ch09", "smoke", setting, setting.seeds, experiments.get("ch09").depends,
                           digest=experiments.get("ch09").digest(), device="cpu", threads=1, workers=1,
                           engine="local", wall_time_s=1.5)
    return Provenance(**{**p.__dict__, **changes})


def stored(**changes) -> StoredResult:
    return StoredResult(provenance(**changes), [{"arm": "teacher forcing", "seed": 0, "exact_match": 0.5,
                                                 "step_tf": [1.0, 0.5, 1.0], "nan": math.nan}])


# ---------------------------------------------------------------------------- the file


def test_round_trip(tmp_path):
    original = stored()
    path = save(original, tmp_path / "ch09_smoke.json")
    back = load(path)
    assert back.provenance == original.provenance and back.path == path
    assert back.cells[0]["step_tf"] == [1.0, 0.5, 1.0] and math.isnan(back.cells[0]["nan"])
    assert back.select(arm="teacher forcing", seed=0) == back.cells and back.select(arm="reversed") == []
    text = back.provenance.describe()
    assert "ch09" in text and back.provenance.code_digest in text and "torch" in text


def test_provenance_records_the_machine_and_the_code():
    p = provenance()
    assert p.cpu_count >= 1 and p.python.count(".") == 2 and p.torch and p.platform
    assert p.settings["class"].endswith("PathStarSetting") and p.seeds == [0, 1]
    assert p.code_digest == code_digest(p.modules) and "T" in p.date


def test_atomic_write_leaves_no_temporary_file(tmp_path, monkeypatch):
    path = save(stored(), tmp_path / "ch09_smoke.json")
    before = path.read_text()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ch09_smoke.json"]

    def broken_replace(src, dst):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", broken_replace)
    with pytest.raises(OSError, match="disk full"):
        save(stored(wall_time_s=99.0), path)
    assert path.read_text() == before  # the old file, whole
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ch09_smoke.json"]  # and no orphan


def test_load_refuses_what_is_not_a_results_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="experiments"):
        load(tmp_path / "missing.json")
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"format": 0, "cells": []}))
    with pytest.raises(ValueError, match="not a results file"):
        load(bad)
    bad.write_text("{not json")
    with pytest.raises(ValueError, match="not valid JSON"):
        load(bad)


# ---------------------------------------------------------------------------- the code digest


def test_code_digest_covers_the_declared_modules_only(tmp_path, monkeypatch):
    root = tmp_path / "pkg"
    (root / "tasks").mkdir(parents=True)
    (root / "__init__.py").write_text("")
    (root / "training.py").write_text("x = 1\n")
    (root / "widgets.py").write_text("y = 1\n")
    (root / "tasks" / "__init__.py").write_text("")
    (root / "tasks" / "path_star.py").write_text("z = 1\n")
    monkeypatch.setattr(results, "PACKAGE_ROOT", root)
    declared = ["training", "tasks"]
    first = code_digest(declared)
    (root / "widgets.py").write_text("y = 2  # chapter 1's widget\n")
    assert code_digest(declared) == first  # an unrelated edit: still valid
    (root / "tasks" / "path_star.py").write_text("z = 2\n")
    second = code_digest(declared)
    assert second != first  # an edit inside a declared package
    (root / "training.py").write_text("x = 2\n")
    assert code_digest(declared) != second  # an edit to a declared module
    with pytest.raises(ValueError, match="no module"):
        code_digest(["nonexistent"])


def test_code_digest_ignores_documentation_but_not_code(tmp_path, monkeypatch):
    root = tmp_path / "pkg"
    root.mkdir()
    (root / "__init__.py").write_text("")
    source = 'def rate(x):\n    """Why."""\n    return 2 * x\n\n\nLABEL = "slip"\n'
    (root / "training.py").write_text(source)
    monkeypatch.setattr(results, "PACKAGE_ROOT", root)
    first = code_digest(["training"])
    longer = source.replace('"""Why."""', '"""Why, at length:\n\n    more."""')
    (root / "training.py").write_text('"""Module docs."""\n# a comment\n' + longer)
    assert code_digest(["training"]) == first  # docstrings, comments and blank lines: documentation
    (root / "training.py").write_text(source.replace('"slip"', '"slips"'))
    assert code_digest(["training"]) != first  # a string the code uses is code
    (root / "training.py").write_text(source.replace("2 * x", "3 * x"))
    assert code_digest(["training"]) != first
    (root / "training.py").write_text(source.replace('    """Why."""\n', ""))
    assert code_digest(["training"]) == first  # removing a docstring: still the same code


def test_a_restamp_over_unchanged_sources_says_why_no_cell_ran():
    record = {"code_digest": "abc", "modules": ["tasks"], "from_digest": "def", "cells": [], "date": "2026-12-02",
              "reason": "the digest now ignores docstrings"}
    stored = load(results.RESULTS_DIR / "ch09_full.json")
    text = dataclasses.replace(stored.provenance, revalidations=[record]).describe()
    assert "re-stamped 2026-12-02 under code digest abc: the digest now ignores docstrings" in text


def test_the_declared_modules_cover_everything_the_experiment_imports(monkeypatch):
    for name in experiments.REGISTRY:
        assert experiments.undeclared_imports(name) == [], name
    exp = experiments.get("ch09")
    short = experiments.Experiment(exp.name, exp.module, tuple(d for d in exp.depends if d != "training"), exp.about)
    monkeypatch.setitem(experiments.REGISTRY, "ch09", short)
    assert "training" in experiments.undeclared_imports("ch09")  # the net catches a missing declaration


# ---------------------------------------------------------------------------- staleness and check


def test_staleness_names_what_changed():
    exp = experiments.get("ch09")
    setting = ch09_experiment.SETTINGS["smoke"]
    assert staleness(stored(), settings=setting, modules=exp.depends) is None
    message = staleness(stored(code_digest="0" * 16), settings=setting, modules=exp.depends)
    assert "stale" in message and "code" in message and "0" * 16 in message
    other = ch09_experiment.SETTINGS["smoke"].__class__(**{**setting.__dict__, "steps": 7})
    message = staleness(stored(), settings=other, modules=exp.depends)
    assert "stale" in message and "steps" in message
    message = staleness(stored(), settings=setting, modules=exp.depends + ("plotting",))
    assert "stale" in message and "plotting" in message


@pytest.fixture(scope="module")
def smoke_dir(tmp_path_factory):
    """The smoke setting run end to end through the command line, into a scratch directory."""
    directory = tmp_path_factory.mktemp("results")
    assert experiments.main(["run", "ch09", "--setting", "smoke", "--no-cache", "--dir", str(directory)]) == 0
    return directory


def test_run_writes_one_cell_per_arm_and_seed(smoke_dir):
    result = load(smoke_dir / "ch09_smoke.json")
    setting = ch09_experiment.SETTINGS["smoke"]
    assert [(c["arm"], c["seed"]) for c in result.cells] == [(a, s) for a in setting.arms for s in setting.seeds]
    assert result.provenance.setting == "smoke" and result.provenance.threads == 1


def test_check_fails_on_a_stale_copy_and_names_it(smoke_dir, tmp_path, capsys):
    assert experiments.main(["check", "--dir", str(smoke_dir)]) == 0
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    data = json.loads((smoke_dir / "ch09_smoke.json").read_text())
    data["provenance"]["code_digest"] = "0123456789abcdef"
    (scratch / "ch09_smoke.json").write_text(json.dumps(data))
    capsys.readouterr()
    assert experiments.main(["check", "--dir", str(scratch)]) == 1
    err = capsys.readouterr().err
    assert "ch09_smoke.json is stale" in err and "code" in err and "run ch09 --setting smoke" in err

    data = json.loads((smoke_dir / "ch09_smoke.json").read_text())
    data["provenance"]["settings"]["lr"] = 0.5
    (scratch / "ch09_smoke.json").write_text(json.dumps(data))
    assert experiments.main(["check", "--dir", str(scratch)]) == 1
    assert "setting 'smoke' changed" in capsys.readouterr().err and "lr" in experiments.check(scratch)[0]


def test_spot_reproduces_a_cell_and_catches_a_changed_number(smoke_dir, tmp_path):
    spot = experiments.spot("ch09", "smoke", directory=smoke_dir)
    assert spot.reproduced and spot.max_difference == 0.0 and spot.compared > 10
    scratch = tmp_path / "scratch"
    shutil.copytree(smoke_dir, scratch)
    data = json.loads((scratch / "ch09_smoke.json").read_text())
    cell = next(c for c in data["cells"] if c["arm"] == spot.label["arm"] and c["seed"] == spot.label["seed"])
    cell["tf_loss"] += 1e-3
    (scratch / "ch09_smoke.json").write_text(json.dumps(data))
    tampered = experiments.spot("ch09", "smoke", directory=scratch)
    assert not tampered.reproduced and math.isclose(tampered.max_difference, 1e-3, rel_tol=1e-6)


def test_spot_trains_with_an_empty_model_cache_and_restores_the_setting(smoke_dir, monkeypatch, tmp_path):
    module = experiments.get("ch09").load()
    seen = []
    real = module.run_cell

    def recording(cell):
        folder = Path(os.environ["HANDBOOK_CACHE_DIR"])
        seen.append((folder, list(folder.iterdir())))
        return real(cell)

    monkeypatch.setattr(module, "run_cell", recording)
    monkeypatch.setenv("HANDBOOK_CACHE_DIR", str(tmp_path / "mine"))
    experiments.spot("ch09", "smoke", directory=smoke_dir)
    (folder, contents), = seen
    assert folder != tmp_path / "mine" and contents == [] and not folder.exists()  # empty, then removed
    assert os.environ["HANDBOOK_CACHE_DIR"] == str(tmp_path / "mine")


def test_revalidate_restamps_a_result_whose_cells_reproduce_under_edited_code(smoke_dir, tmp_path):
    scratch = tmp_path / "scratch"
    shutil.copytree(smoke_dir, scratch)
    path = scratch / "ch09_smoke.json"
    data = json.loads(path.read_text())
    data["provenance"]["code_digest"] = "0123456789abcdef"  # as if computed before an edit
    data["provenance"]["modules"] = data["provenance"]["modules"][1:]  # that also declared one module more
    path.write_text(json.dumps(data))
    assert experiments.check(scratch)
    assert "revalidate ch09 --setting smoke" in experiments.check(scratch)[0]
    checked = experiments.revalidate("ch09", "smoke", directory=scratch)
    setting = ch09_experiment.SETTINGS["smoke"]
    assert checked.stamped and checked.reproduced
    assert checked.labels == [{"arm": arm, "seed": setting.seeds[0]} for arm in setting.arms]  # one per arm
    assert experiments.check(scratch) == []
    stored = load(path)
    assert stored.provenance.code_digest == "0123456789abcdef"  # the original record is kept
    assert stored.provenance.current_digest == experiments.get("ch09").digest()
    assert stored.cells == load(smoke_dir / "ch09_smoke.json").cells
    assert "revalidated" in stored.provenance.describe()
    again = experiments.revalidate("ch09", "smoke", directory=scratch)
    assert not again.labels and not again.stamped  # up to date: nothing to do


def test_revalidate_refuses_numbers_that_do_not_reproduce_and_setting_changes(smoke_dir, tmp_path, capsys):
    scratch = tmp_path / "scratch"
    shutil.copytree(smoke_dir, scratch)
    path = scratch / "ch09_smoke.json"
    data = json.loads(path.read_text())
    data["provenance"]["code_digest"] = "0123456789abcdef"
    data["cells"][0]["exact_match"] += 0.25  # the edit changed a number
    path.write_text(json.dumps(data))
    before = path.read_text()
    assert experiments.main(["revalidate", "ch09", "--setting", "smoke", "--dir", str(scratch)]) == 1
    assert "NOT reproduced" in capsys.readouterr().err
    assert path.read_text() == before and experiments.check(scratch)  # still stale, file untouched
    data["cells"][0]["exact_match"] -= 0.25
    data["provenance"]["settings"]["lr"] = 0.5
    path.write_text(json.dumps(data))
    with pytest.raises(ValueError, match="only a code change can be revalidated"):
        experiments.revalidate("ch09", "smoke", directory=scratch)


def test_a_results_file_from_before_revalidations_still_loads(smoke_dir, tmp_path):
    data = json.loads((smoke_dir / "ch09_smoke.json").read_text())
    del data["provenance"]["revalidations"]
    (tmp_path / "ch09_smoke.json").write_text(json.dumps(data))
    assert load(tmp_path / "ch09_smoke.json").provenance.revalidations == []


NOT_RUN_YET = "results/ holds no committed result yet: python -m handbook_utils.experiments run ch09 --setting full"


def test_the_committed_results_are_up_to_date():
    if not list(COMMITTED.glob("*.json")):
        pytest.skip(NOT_RUN_YET)
    assert experiments.check(COMMITTED) == []


# The committed cells' spot re-run is `make results` (part of `make test`), not repeated here.


# ---------------------------------------------------------------------------- summaries


def test_seed_interval():
    iv = seed_interval([1.0, 2.0, 3.0])
    half = 4.303 / math.sqrt(3)
    assert iv.mean == 2.0 and iv.sd == 1.0 and iv.n == 3
    assert math.isclose(iv.low, 2 - half) and math.isclose(iv.high, 2 + half)
    one = seed_interval([0.5])
    assert one.low == one.high == 0.5
    clipped = seed_interval([0.98, 1.0, 1.0], bounds=(0.0, 1.0))
    assert clipped.high == 1.0 and clipped.low < clipped.mean < 1.0
    assert str(clipped) == f"{clipped.mean:.3f} [{clipped.low:.2f}, 1.00]"
    assert results.t95(1000) == 1.96 and results.t95(35) == 2.042  # conservative between rows
    with pytest.raises(ValueError, match="values"):
        seed_interval([])
    with pytest.raises(ValueError, match="finite"):
        seed_interval([1.0, math.nan])


def test_t_quantiles_match_the_table_and_bonferroni_widens_the_verdict():
    for df in (1, 2, 4, 9, 30):
        assert results.t_quantile(0.975, df) == pytest.approx(results.t95(df), abs=1e-3)
    assert results.t_quantile(0.025, 4) == pytest.approx(-2.776, abs=1e-3)
    assert results.t_cdf(0.0, 3) == pytest.approx(0.5) and results.t_cdf(-50.0, 3) < 1e-3
    ref = {s: 0.5 for s in range(5)}
    arm = {s: 0.5 + d for s, d in enumerate((0.01, 0.015, 0.005, 0.01, 0.01))}  # +0.01 on every seed but noisy
    alone = results.paired_comparison(arm, ref, metric="exact_match")
    many = results.paired_comparison(arm, ref, metric="exact_match", family=40)
    assert alone.word == "better" and many.word == "within noise"  # same data, 40 comparisons at once
    assert (alone.low, alone.high) == (many.low, many.high) and many.family == 40  # the shown interval is 95%
    worse = results.paired_comparison(ref, arm, higher_is_better=True)
    assert worse.word == "worse" and worse.delta == pytest.approx(-alone.delta)
    assert results.paired_comparison(arm, ref, higher_is_better=False).word == "worse"
    with pytest.raises(ValueError, match="at least 2"):
        results.paired_comparison({0: 1.0}, {0: 0.0})
    with pytest.raises(ValueError, match="family"):
        results.paired_comparison(arm, ref, family=0)
    with pytest.raises(ValueError, match="q"):
        results.t_quantile(1.0, 3)


def test_result_path_is_named_by_experiment_and_setting():
    assert results.result_path("ch09", "full") == COMMITTED / "ch09_full.json"
    assert results.result_path("ch09", "full", "x") == Path("x") / "ch09_full.json"
    with pytest.raises(ValueError, match="setting"):
        results.result_path("ch09", "../full")


def test_list_names_every_experiment(capsys):
    assert experiments.main(["list"]) == 0
    out = capsys.readouterr().out
    assert all(name in out for name in experiments.REGISTRY) and "full" in out
    with pytest.raises(ValueError, match="no experiment"):
        experiments.get("ch99")
    with pytest.raises(ValueError, match="no setting"):
        experiments.get("ch09").setting("huge")


def test_check_reports_an_experiment_that_imports_what_it_does_not_declare(smoke_dir, monkeypatch):
    exp = experiments.get("ch09")
    short = experiments.Experiment(exp.name, exp.module, tuple(d for d in exp.depends if d != "metrics"), exp.about)
    monkeypatch.setitem(experiments.REGISTRY, "ch09", short)
    problems = experiments.check(smoke_dir)
    assert any("does not declare" in p and "metrics" in p for p in problems)


def test_an_interrupted_run_resumes_from_the_cache(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("HANDBOOK_CACHE_DIR", str(tmp_path / "cache"))
    first = load(experiments.run("ch09", "smoke", directory=tmp_path / "a", log=lambda _: None))
    assert capsys.readouterr().out.count("done in") == len(first.cells)
    second = load(experiments.run("ch09", "smoke", directory=tmp_path / "b", log=lambda _: None))
    assert capsys.readouterr().out.count("from the cache") == len(second.cells)
    assert second.cells == first.cells
