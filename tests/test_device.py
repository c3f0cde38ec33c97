from __future__ import annotations

import random

import numpy as np
import pytest
import torch

from handbook_utils.device import available_devices, get_device, seed_everything


def test_default_is_the_best_available(monkeypatch):
    monkeypatch.delenv("HANDBOOK_DEVICE", raising=False)
    assert get_device().type == available_devices()[0]


def test_cpu_is_always_available():
    assert "cpu" in available_devices()
    assert get_device("cpu") == torch.device("cpu")


def test_environment_variable_is_honoured(monkeypatch):
    monkeypatch.setenv("HANDBOOK_DEVICE", "cpu")
    assert get_device() == torch.device("cpu")


def test_explicit_preference_beats_environment(monkeypatch):
    monkeypatch.setenv("HANDBOOK_DEVICE", "definitely-not-a-device")
    assert get_device("cpu").type == "cpu"


def test_torch_device_argument():
    assert get_device(torch.device("cpu")) == torch.device("cpu")


@pytest.mark.parametrize("name", ["tpu", "gpu", "", "cuda0"])
def test_unknown_device_names_what_is_available(name, monkeypatch):
    monkeypatch.delenv("HANDBOOK_DEVICE", raising=False)
    with pytest.raises(ValueError, match="prefer=.*available"):
        get_device(name)


def test_unknown_device_from_environment_names_the_variable(monkeypatch):
    monkeypatch.setenv("HANDBOOK_DEVICE", "tpu")
    with pytest.raises(ValueError, match="HANDBOOK_DEVICE"):
        get_device()


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the error on a machine without CUDA")
def test_unavailable_cuda_raises():
    with pytest.raises(ValueError, match="not available.*cpu"):
        get_device("cuda")


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_cuda_index_out_of_range_raises():
    with pytest.raises(ValueError, match="CUDA device"):
        get_device(f"cuda:{torch.cuda.device_count()}")


def test_wrong_type_raises():
    with pytest.raises(TypeError, match="prefer"):
        get_device(3)


def test_seed_everything_repeats_all_generators():
    def draw():
        return random.random(), float(np.random.rand()), float(torch.rand(1))

    seed_everything(123)
    first = draw()
    seed_everything(123)
    assert draw() == first


@pytest.mark.parametrize("bad, exc", [(-1, ValueError), (2**32, ValueError), (1.5, TypeError), (True, TypeError)])
def test_seed_everything_rejects_bad_seeds(bad, exc):
    with pytest.raises(exc, match="seed"):
        seed_everything(bad)
