"""Argument checks shared by the package: fail early, name the parameter and the allowed range.

Every public function validates its inputs with these, so a typo in a chapter raises a clear
``TypeError``/``ValueError`` at the call instead of a shape error deep inside PyTorch.
NumPy scalars are accepted and returned as Python numbers.
"""

from __future__ import annotations

import math
from numbers import Integral, Real

import numpy as np


def real_number(name: str, value) -> float:
    """A finite real number (bools are rejected: ``True`` is almost always a mistake here)."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, Real):
        raise TypeError(f"{name} must be a real number, got {type(value).__name__}")
    value = float(value)
    if not math.isfinite(value):
        raise ValueError(f"{name} must be finite, got {value}")
    return value


def non_negative(name: str, value) -> float:
    value = real_number(name, value)
    if value < 0:
        raise ValueError(f"{name} must be in [0, inf), got {value}")
    return value


def positive(name: str, value) -> float:
    value = real_number(name, value)
    if value <= 0:
        raise ValueError(f"{name} must be in (0, inf), got {value}")
    return value


def probability(name: str, value) -> float:
    value = real_number(name, value)
    if not 0.0 <= value <= 1.0:
        raise ValueError(f"{name} must be in [0, 1], got {value}")
    return value


def in_open_unit(name: str, value, *, allow_one: bool = False) -> float:
    value = real_number(name, value)
    if not (0.0 < value < 1.0 or (allow_one and value == 1.0)):
        raise ValueError(f"{name} must be in (0, {'1]' if allow_one else '1)'}, got {value}")
    return value


def positive_int(name: str, value) -> int:
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, Integral):
        raise TypeError(f"{name} must be an int, got {type(value).__name__}")
    if value < 1:
        raise ValueError(f"{name} must be in [1, inf), got {value}")
    return int(value)
