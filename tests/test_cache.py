"""Cache: a hit skips training, a corrupt or mismatched entry is rebuilt, a changed setting misses."""

import dataclasses

import pytest
import torch

from handbook_utils import cache as cache_lib
from handbook_utils.models import GPTConfig, make_model
from handbook_utils.schedules import LinearSchedule
from handbook_utils.strategies import ScheduledSampling, TeacherForcing
from handbook_utils.tasks import AdditionChainTask
from handbook_utils.training import train

TASK = AdditionChainTask(n_terms=2, max_value=3)


@dataclasses.dataclass(frozen=True)
class CountingTF(TeacherForcing):
    """Teacher forcing that counts its calls, to see whether training ran."""

    calls: list = dataclasses.field(default_factory=list, init=False, compare=False, repr=False)

    def loss(self, model, batch, epoch=0.0):
        self.calls.append(epoch)
        return super().loss(model, batch, epoch)


def model(seed=0):
    return make_model(GPTConfig.for_task(TASK, n_layer=1, n_head=2, n_embd=16), seed=seed)


def run(directory, strategy=None, seed=0, m=None, **kw):
    m = m if m is not None else model()
    args = dict(steps=4, batch_size=4, lr=1e-3, seed=seed, progress=False, cache=directory)
    args.update(kw)
    return m, train(m, TASK, strategy or CountingTF(), **args)


def test_hit_skips_training_and_restores_weights(tmp_path):
    first_model, first = run(tmp_path)
    strategy = CountingTF()
    second_model, second = run(tmp_path, strategy)
    assert strategy.calls == [] and second.from_cache and not first.from_cache
    assert second.losses == first.losses
    for a, b in zip(first_model.state_dict().values(), second_model.state_dict().values()):
        assert torch.equal(a, b)
    assert not list(tmp_path.glob("*.tmp"))  # atomic writes leave nothing behind


def test_env_var_chooses_the_directory(tmp_path, monkeypatch):
    monkeypatch.setenv("HANDBOOK_CACHE_DIR", str(tmp_path / "c"))
    assert cache_lib.cache_dir() == tmp_path / "c"
    run(True)
    assert len(list((tmp_path / "c").glob("*.pt"))) == 1
    assert cache_lib.clear() == 1


@pytest.mark.parametrize("garbage", [b"", b"not a torch file", None])
def test_corrupt_entry_is_reported_and_rebuilt(tmp_path, garbage):
    _, first = run(tmp_path)
    (entry,) = tmp_path.glob("*.pt")
    if garbage is None:  # truncated in the middle
        data = entry.read_bytes()
        entry.write_bytes(data[: len(data) // 2])
    else:
        entry.write_bytes(garbage)
    strategy = CountingTF()
    with pytest.warns(UserWarning, match="corrupt"):
        _, again = run(tmp_path, strategy)
    assert len(strategy.calls) == 4 and not again.from_cache
    assert again.losses == first.losses  # rebuilt identically, and stored again
    _, third = run(tmp_path)
    assert third.from_cache


def test_mismatched_entry_is_reported_and_rebuilt(tmp_path):
    run(tmp_path)
    (entry,) = tmp_path.glob("*.pt")
    data = torch.load(entry, weights_only=True)
    data["settings"] = data["settings"].replace('"steps": 4', '"steps": 5')
    torch.save(data, entry)
    with pytest.warns(UserWarning, match="other settings"):
        _, again = run(tmp_path)
    assert not again.from_cache
    data = torch.load(entry, weights_only=True)
    data["state_dict"] = {k: v[:1] for k, v in data["state_dict"].items()}
    torch.save(data, entry)
    m = model()
    before = {k: v.clone() for k, v in m.state_dict().items()}
    with pytest.warns(UserWarning, match="do not fit"):
        run(tmp_path, m=m)
    assert any(not torch.equal(before[k], v) for k, v in m.state_dict().items())  # it trained


@pytest.mark.parametrize(
    "change",
    [
        dict(seed=1),
        dict(lr=2e-3),
        dict(steps=5),
        dict(strategy=ScheduledSampling(LinearSchedule(end_epoch=10), mode="parallel")),
        dict(strategy=ScheduledSampling(LinearSchedule(end_epoch=20), mode="parallel")),
        dict(m="other init"),
    ],
)
def test_changed_setting_misses(tmp_path, change):
    run(tmp_path, strategy=ScheduledSampling(LinearSchedule(end_epoch=10), mode="sequential"))
    kwargs = dict(change)
    if kwargs.get("m") == "other init":
        kwargs["m"] = model(seed=1)
    _, h = run(tmp_path, **{"strategy": ScheduledSampling(LinearSchedule(end_epoch=10), mode="sequential"), **kwargs})
    assert not h.from_cache
    assert len(list(tmp_path.glob("*.pt"))) == 2


def test_unhashable_settings_fail_early():
    with pytest.raises(ValueError, match="lambda"):
        train(model(), TASK, ScheduledSampling(lambda e: 0.1), steps=1, batch_size=1, lr=1e-3, seed=0, progress=False,
              cache=True)
    # without the cache a lambda schedule is fine
    train(model(), TASK, ScheduledSampling(lambda e: 0.1), steps=1, batch_size=1, lr=1e-3, seed=0, progress=False,
          cache=False)


def test_key_is_stable_and_sensitive():
    s = {"a": 1, "b": [1.5, "x"], "task": TASK}
    assert cache_lib.make_key(s) == cache_lib.make_key(dict(s))
    assert cache_lib.make_key(s) != cache_lib.make_key({**s, "a": 2})
    three, four = AdditionChainTask(n_terms=3), AdditionChainTask(n_terms=4)
    assert cache_lib.make_key({"t": three}) != cache_lib.make_key({"t": four})
