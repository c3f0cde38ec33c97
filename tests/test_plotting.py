"""The book style, its colours by meaning, and that the modules it serves take colours from it."""

from __future__ import annotations

import re
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402
from matplotlib.colors import is_color_like  # noqa: E402

import handbook_utils  # noqa: E402
from handbook_utils.plotting import (  # noqa: E402
    COLORS,
    FIGSIZE,
    PALETTE,
    SCHEDULE_COLORS,
    new_axes,
    use_book_style,
)
from handbook_utils.schedules import KINDS  # noqa: E402

PACKAGE = Path(handbook_utils.__file__).parent
HEX_COLOUR = re.compile(r"#(?:[0-9a-fA-F]{6}|[0-9a-fA-F]{3})\b")


def test_use_book_style_sets_rcparams() -> None:
    use_book_style()
    assert tuple(plt.rcParams["figure.figsize"]) == FIGSIZE
    assert plt.rcParams["axes.spines.top"] is False
    assert list(plt.rcParams["axes.prop_cycle"].by_key()["color"]) == list(PALETTE)


def test_colours_by_meaning_are_valid_and_distinct_where_it_matters() -> None:
    assert all(is_color_like(c) for c in (*COLORS.values(), *SCHEDULE_COLORS.values()))
    assert COLORS["teacher_forcing"] != COLORS["free_running"]
    assert len(set(SCHEDULE_COLORS.values())) == len(SCHEDULE_COLORS)


def test_every_schedule_family_has_a_colour() -> None:
    assert set(SCHEDULE_COLORS) == set(KINDS)


def test_new_axes_reuses_given_axes_or_makes_a_figure() -> None:
    fig, ax = plt.subplots()
    assert new_axes(ax) is ax
    fresh = new_axes(figsize=(3.0, 2.0))
    assert fresh is not ax and tuple(fresh.figure.get_size_inches()) == (3.0, 2.0)
    plt.close("all")


@pytest.mark.parametrize(
    "pattern", ["chapters/ch01_*.py", "chapters/ch05_*.py", "schedules/*.py"], ids=lambda p: p.split("/")[-1]
)
def test_no_hex_colour_outside_plotting(pattern: str) -> None:
    """Chapters 1 and 5 and the schedules take every colour from this module, by meaning."""
    files = sorted(PACKAGE.glob(pattern))
    assert files
    for path in files:
        found = HEX_COLOUR.findall(path.read_text(encoding="utf-8"))
        assert not found, f"{path.name} defines colours {found}: add a role to plotting.COLORS instead"
