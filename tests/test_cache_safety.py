"""The cache never serves numbers the current code did not produce, and never loses finished work.

One test per finding of the cache audit: code-keyed entries, digests checked on load, writes that
fail without losing the trained model, a NaN caught before the optimizer step, a clear() that only
removes its own files, and the smaller behaviours (RNG after a hit, thread count in the key).
"""

import dataclasses
import importlib
import shutil
import sys
import warnings

import pytest
import torch

from handbook_utils import cache as cache_lib
from handbook_utils.models import GPTConfig, make_model
from handbook_utils.strategies import TeacherForcing
from handbook_utils.tasks import AdditionChainTask
from handbook_utils.training import train

TASK = AdditionChainTask(n_terms=2, max_value=3)


def model(seed=0):
    return make_model(GPTConfig.for_task(TASK, n_layer=1, n_head=2, n_embd=16), seed=seed)


def run(directory, m=None, strategy=None, **kw):
    m = m if m is not None else model()
    args = dict(steps=3, batch_size=4, lr=1e-3, seed=0, progress=False, cache=directory)
    args.update(kw)
    return m, train(m, TASK, strategy or TeacherForcing(), **args)


# ---- 2. keys follow the code -----------------------------------------------------------------


def test_a_package_edit_changes_the_code_digest_and_so_every_key(tmp_path):
    copy = tmp_path / "pkg"
    shutil.copytree(cache_lib.PACKAGE_ROOT, copy, ignore=shutil.ignore_patterns("__pycache__"))
    before = cache_lib.tree_digest(copy)
    assert before == cache_lib.code_digest()  # the copy is the code that runs
    training = copy / "training.py"
    training.write_text(training.read_text().replace("c.lr, c.weight_decay", "c.lr * 0, c.weight_decay"))
    assert cache_lib.tree_digest(copy) != before


def test_an_entry_from_other_code_is_a_miss(tmp_path, monkeypatch):
    _, first = run(tmp_path)
    _, hit = run(tmp_path)
    assert hit.from_cache
    monkeypatch.setattr(cache_lib, "code_digest", lambda: "edited-package")
    _, after_edit = run(tmp_path)
    assert not after_edit.from_cache


def _schedule_module(tmp_path, body: str):
    (tmp_path / "my_schedules.py").write_text(f"def my_schedule(epoch):\n    return {body}\n")
    sys.path.insert(0, str(tmp_path))
    try:
        sys.modules.pop("my_schedules", None)
        return importlib.import_module("my_schedules").my_schedule
    finally:
        sys.path.remove(str(tmp_path))


def test_a_user_function_whose_body_changed_gets_another_key(tmp_path):
    first = cache_lib.make_key({"schedule": _schedule_module(tmp_path, "0.1")})
    same = cache_lib.make_key({"schedule": _schedule_module(tmp_path, "0.1")})
    changed = cache_lib.make_key({"schedule": _schedule_module(tmp_path, "0.2")})
    assert first == same != changed


def test_the_thread_count_is_part_of_the_key(tmp_path):
    before = torch.get_num_threads()
    try:
        torch.set_num_threads(1)
        run(tmp_path)
        torch.set_num_threads(2)
        _, other = run(tmp_path)
    finally:
        torch.set_num_threads(before)
    assert not other.from_cache


# ---- 3. finished work is kept ------------------------------------------------------------------


def test_a_cache_folder_under_a_file_warns_before_training_and_returns_the_history(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    with pytest.warns(UserWarning, match="not writable"):
        _, history = run(blocker / "cache")
    assert len(history.losses) == 3


def test_a_failed_write_warns_and_returns_the_history(tmp_path, monkeypatch):
    def full_disk(path, write, binary=True):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(cache_lib, "atomic_write", full_disk)
    with pytest.warns(UserWarning, match="No space left"):
        _, history = run(tmp_path)
    assert len(history.losses) == 3 and not list(tmp_path.glob("model-*"))


@dataclasses.dataclass(frozen=True)
class NaNAtSecondStep(TeacherForcing):
    calls: list = dataclasses.field(default_factory=list, compare=False, repr=False)

    def loss(self, model, batch, epoch=0.0):
        self.calls.append(epoch)
        loss = super().loss(model, batch, epoch)
        return loss * float("nan") if len(self.calls) == 2 else loss


def test_a_nan_loss_stops_before_the_optimizer_step():
    m = model()
    after_one_step = model()
    train(after_one_step, TASK, steps=1, batch_size=4, lr=1e-3, seed=0, progress=False, cache=False,
          lr_schedule="constant")
    with pytest.raises(FloatingPointError, match=r"step 2 of 3.*grad_clip is 1.0"):
        train(m, TASK, NaNAtSecondStep(), steps=3, batch_size=4, lr=1e-3, seed=0, progress=False, cache=False,
              lr_schedule="constant")
    for a, b in zip(m.state_dict().values(), after_one_step.state_dict().values()):
        assert torch.isfinite(a).all() and torch.equal(a, b)  # the weights of the step before


# ---- 4. corruption is never loaded silently ---------------------------------------------------


def test_flipped_bytes_never_load_other_weights(tmp_path):
    trained, _ = run(tmp_path)
    (entry,) = tmp_path.glob("model-*.pt")
    original = entry.read_bytes()
    silent = 0
    for offset in range(0, len(original) - 8, max(1, len(original) // 60)):
        damaged = bytearray(original)
        damaged[offset : offset + 8] = bytes(255 - b for b in damaged[offset : offset + 8])
        entry.write_bytes(bytes(damaged))
        m = model()
        with warnings.catch_warnings(record=True):
            warnings.simplefilter("always")
            history = cache_lib.load_model(entry.name[6:-3], m, tmp_path, _settings_of(original))
        if history is not None:
            same = all(torch.equal(a, b) for a, b in zip(m.state_dict().values(), trained.state_dict().values()))
            silent += not same
    assert silent == 0


def _settings_of(entry_bytes):
    import io
    import json

    return json.loads(torch.load(io.BytesIO(entry_bytes), weights_only=True)["settings"])


def test_nan_weights_with_a_valid_digest_are_refused(tmp_path):
    run(tmp_path)
    (entry,) = tmp_path.glob("model-*.pt")
    data = torch.load(entry, weights_only=True)
    name = next(iter(data["state_dict"]))
    data["state_dict"][name] = torch.full_like(data["state_dict"][name], float("nan"))
    data["digest"] = cache_lib._model_digest(data["state_dict"], data["history"])
    torch.save(data, entry)
    with pytest.warns(UserWarning, match="non-finite"):
        _, again = run(tmp_path)
    assert not again.from_cache


def test_a_changed_result_file_is_a_miss(tmp_path):
    settings = cache_lib.describe({"run": 1})
    key = cache_lib.make_key(settings)
    path = cache_lib.save_result(key, {"exact_match": 0.5}, tmp_path, settings)
    assert cache_lib.load_result(key, tmp_path, settings) == {"exact_match": 0.5}
    path.write_text(path.read_text().replace("0.5", "0.9"))
    with pytest.warns(UserWarning, match="digest"):
        assert cache_lib.load_result(key, tmp_path, settings) is None


# ---- 5. clear() removes only its own files ---------------------------------------------------


def test_clear_keeps_other_files_and_removes_orphans(tmp_path):
    run(tmp_path)
    settings = cache_lib.describe({"run": 2})
    cache_lib.save_result(cache_lib.make_key(settings), {"x": 1}, tmp_path, settings)
    mine = tmp_path / "my_model.pt"
    mine.write_bytes(b"a user's own weights")
    orphan = tmp_path / f".model-{'a' * 32}.x1y2.tmp"
    orphan.write_bytes(b"half")
    assert cache_lib.clear(tmp_path) == 3
    assert mine.exists() and not orphan.exists()
    assert not list(tmp_path.glob("model-*")) and not list(tmp_path.glob("result-*"))


# ---- 8. smaller behaviours -------------------------------------------------------------------


def test_random_state_after_a_hit_equals_after_training(tmp_path):
    run(tmp_path)
    cold = torch.rand(3)
    _, hit = run(tmp_path)
    assert hit.from_cache and torch.equal(torch.rand(3), cold)
