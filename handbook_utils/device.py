"""One place that decides where tensors live, and one place that seeds randomness.

Every chapter and every training run goes through :func:`get_device`, so a reader can move the
whole book to another device with a single environment variable (``HANDBOOK_DEVICE=cpu``).
"""

from __future__ import annotations

import random

import numpy as np
import torch

from . import checks
from .runtime import env

_KNOWN = ("cuda", "mps", "cpu")


def available_devices() -> list[str]:
    """Names of the device types this machine can use right now, best first."""
    names = []
    if torch.cuda.is_available():
        names.append("cuda")
    mps = getattr(torch.backends, "mps", None)
    if mps is not None and mps.is_available():
        names.append("mps")
    names.append("cpu")
    return names


def get_device(prefer: str | torch.device | None = None) -> torch.device:
    """Return the device to compute on.

    Order of precedence: ``prefer`` if given, else the ``HANDBOOK_DEVICE`` environment variable,
    else the best available of cuda → mps → cpu. A name that is unknown or not available here
    raises ``ValueError`` listing what is available, instead of failing later inside a kernel.
    """
    requested = prefer if prefer is not None else env("HANDBOOK_DEVICE")
    if requested is None:
        return torch.device(available_devices()[0])
    if isinstance(requested, torch.device):
        requested = str(requested)
    if not isinstance(requested, str):
        raise TypeError(f"prefer must be a str, torch.device or None, got {type(requested).__name__}")
    name = requested.strip().lower()
    kind = name.split(":", 1)[0]
    source = "prefer" if prefer is not None else "HANDBOOK_DEVICE"
    available = available_devices()
    if kind not in _KNOWN:
        raise ValueError(f"{source}={requested!r} is not a known device name ({list(_KNOWN)}); "
                         f"available here: {available}")
    if kind not in available:
        raise ValueError(f"{source}={requested!r} is not available on this machine; available: {available}")
    try:
        device = torch.device(name)
    except RuntimeError as err:  # e.g. "cuda:x"
        raise ValueError(f"{source}={requested!r} is not a valid device string: {err}") from None
    if device.type == "cuda" and device.index is not None and device.index >= torch.cuda.device_count():
        raise ValueError(
            f"{source}={requested!r}: only {torch.cuda.device_count()} CUDA device(s) are available"
        )
    return device


def seed_everything(seed: int) -> None:
    """Seed Python's, NumPy's and torch's generators (all devices) so a run repeats exactly."""
    seed = checks.seed("seed", seed)
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)  # also seeds every CUDA device
