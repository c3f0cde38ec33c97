"""Argument checks for the whole package: fail early, name the parameter and the allowed range.

Every public function validates its inputs with these, so a typo in a chapter raises a clear
``TypeError``/``ValueError`` at the call instead of a shape error deep inside PyTorch.
NumPy scalars are accepted and returned as Python numbers; ``bool`` is never a number here
(``True`` where a count or a probability is expected is almost always a mistake).

Used by every module of the core and of ``handbook_utils.chapters``.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from numbers import Integral, Real

import numpy as np
import torch


def _is_bool(value) -> bool:
    return isinstance(value, (bool, np.bool_))


def _bounds(lo, hi, lo_open: bool = False, hi_open: bool = False) -> str:
    left = "(" if lo_open or lo is None else "["
    right = ")" if hi_open or hi is None else "]"
    def show(x):
        return f"{x:g}" if isinstance(x, float) else str(x)

    return f"{left}{'-inf' if lo is None else show(lo)}, {'inf' if hi is None else show(hi)}{right}"


def integer(name: str, value, lo: int | None = None, hi: int | None = None) -> int:
    """An int (NumPy integers too) in ``[lo, hi]``; either bound may be None."""
    if _is_bool(value) or not isinstance(value, Integral):
        raise TypeError(f"{name} must be an int, got {type(value).__name__}")
    value = int(value)
    if (lo is not None and value < lo) or (hi is not None and value > hi):
        raise ValueError(f"{name} must be in {_bounds(lo, hi)}, got {value}")
    return value


def positive_int(name: str, value) -> int:
    return integer(name, value, 1)


def non_negative_int(name: str, value) -> int:
    return integer(name, value, 0)


def seed(name: str, value) -> int:
    """A seed for torch, NumPy and ``random``: an int in ``[0, 2**32)``."""
    return integer(name, value, 0, 2**32 - 1)


def grid(seeds, arms, known_arms: Iterable) -> None:
    """The seeds and arms of an experiment's setting: at least one seed, each a :func:`seed`, and every
    arm one of ``known_arms`` (chapters 8 and 9 size their experiments with these)."""
    if not seeds:
        raise ValueError("seeds must hold at least one seed")
    for s in seeds:
        seed("seeds[i]", s)
    known_arms = tuple(known_arms)
    for arm in arms:
        one_of("arms[i]", arm, known_arms)


def real_number(name: str, value) -> float:
    """A finite real number."""
    if _is_bool(value) or not isinstance(value, Real):
        raise TypeError(f"{name} must be a real number, got {type(value).__name__}")
    value = float(value)
    if not math.isfinite(value):
        raise ValueError(f"{name} must be finite, got {value}")
    return value


def number(name: str, value, lo: float | None = None, hi: float | None = None, *,
           lo_open: bool = False, hi_open: bool = False) -> float:
    """A finite real number in the interval given by ``lo``/``hi`` (closed unless ``*_open``)."""
    value = real_number(name, value)
    too_low = lo is not None and (value <= lo if lo_open else value < lo)
    too_high = hi is not None and (value >= hi if hi_open else value > hi)
    if too_low or too_high:
        raise ValueError(f"{name} must be in {_bounds(lo, hi, lo_open, hi_open)}, got {value}")
    return value


def non_negative(name: str, value) -> float:
    return number(name, value, 0.0)


def positive(name: str, value) -> float:
    return number(name, value, 0.0, lo_open=True)


def probability(name: str, value) -> float:
    """A finite real number in ``[0, 1]``."""
    return number(name, value, 0.0, 1.0)


def in_open_unit(name: str, value, *, allow_one: bool = False) -> float:
    return number(name, value, 0.0, 1.0, lo_open=True, hi_open=not allow_one)


def boolean(name: str, value) -> bool:
    if not _is_bool(value):
        raise TypeError(f"{name} must be a bool, got {type(value).__name__}")
    return bool(value)


def one_of(name: str, value, choices: Iterable):
    """``value`` if it is one of ``choices`` (compared with ==), else a ValueError listing them."""
    choices = tuple(choices)
    if not any(type(value) is type(c) and value == c for c in choices):
        raise ValueError(f"{name} must be one of {list(choices)}, got {value!r}")
    return value


def instance(name: str, value, cls: type | tuple[type, ...], what: str | None = None):
    """``value`` if it is an instance of ``cls``; ``what`` names the expected kind in the message."""
    if not isinstance(value, cls):
        expected = what or (cls.__name__ if isinstance(cls, type) else " or ".join(c.__name__ for c in cls))
        hint = " (the class itself was given: call it to make an instance)" if isinstance(value, type) else ""
        raise TypeError(f"{name} must be a {expected}, got {type(value).__name__}{hint}")
    return value


def token_ids(name: str, ids, vocab_size: int) -> torch.Tensor:
    """A long tensor of token ids, every one in ``[0, vocab_size)``.

    Float or bool tensors are refused rather than cast: a float id is a bug upstream, and an id
    outside the vocabulary would otherwise reach the embedding and fail with an opaque IndexError
    (or, on some devices, read garbage).
    """
    if not isinstance(ids, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor of token ids, got {type(ids).__name__}")
    if ids.dtype != torch.long:
        raise TypeError(f"{name} must be a long (int64) tensor of token ids, got dtype {ids.dtype}")
    if ids.numel() == 0:
        return ids
    lo, hi = (int(v) for v in torch.aminmax(ids))
    if lo < 0 or hi >= vocab_size:
        raise ValueError(
            f"{name} holds ids in [{lo}, {hi}], outside the model's vocabulary "
            f"[0, {vocab_size}): was the model trained with another tokenizer?"
        )
    return ids


def same_vocabulary(model, tokenizer) -> None:
    """A model and a tokenizer that agree on the vocabulary size (the ids would not mean the same)."""
    vocab = getattr(model, "vocab_size", None)
    if vocab is not None and vocab != tokenizer.vocab_size:
        raise ValueError(
            f"model has vocab_size {vocab} but the task's tokenizer has {tokenizer.vocab_size}: "
            "the model was built for another task"
        )


def token_id_list(name: str, ids, vocab_size: int) -> list[int]:
    """A non-empty list (or 1-D tensor) of ints in ``[0, vocab_size)``, returned as a list of int."""
    if isinstance(ids, torch.Tensor):
        if ids.dim() != 1 or ids.dtype != torch.long:
            raise TypeError(f"{name} as a tensor must be 1-D long, got shape {tuple(ids.shape)} dtype {ids.dtype}")
        ids = ids.tolist()
    if isinstance(ids, (str, bytes)) or not isinstance(ids, Sequence) or len(ids) == 0:
        raise TypeError(f"{name} must be a non-empty list of token ids")
    out = []
    for i in ids:
        i = integer(name, i)
        if not 0 <= i < vocab_size:
            raise ValueError(f"{name} holds {i}, outside the model's vocabulary [0, {vocab_size})")
        out.append(i)
    return out


def probabilities(name: str, values, *, allow_zero: bool = True) -> np.ndarray:
    """A number or an array of probabilities in ``[0, 1]`` (``(0, 1]`` with ``allow_zero=False``), as
    a float array: the vectorised :func:`probability`, for functions a slider calls with arrays."""
    if _is_bool(values) or (isinstance(values, np.ndarray) and values.dtype == bool):
        raise TypeError(f"{name} must be a probability or an array of them, got bool")
    try:
        arr = np.asarray(values, dtype=float)
    except (TypeError, ValueError):
        raise TypeError(f"{name} must be a probability or an array of them, got {type(values).__name__}") from None
    low_ok = arr >= 0 if allow_zero else arr > 0
    if not (np.all(np.isfinite(arr)) and np.all(low_ok) and np.all(arr <= 1)):
        raise ValueError(f"{name} must be in {'[0' if allow_zero else '(0'}, 1], got {values!r}")
    return arr


def non_empty_list(name: str, values, cls: type) -> list:
    """A non-empty list or tuple whose items are all ``cls``, returned as a list."""
    if isinstance(values, (cls, str, bytes)) or not isinstance(values, (list, tuple)) or not values:
        raise TypeError(f"{name} must be a non-empty list of {cls.__name__}, got {type(values).__name__}")
    for i, value in enumerate(values):
        instance(f"{name}[{i}]", value, cls)
    return list(values)
