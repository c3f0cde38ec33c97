"""The book style, its colours by meaning, and that the modules it serves take colours from it;
text colours readable on white (WCAG AA), and figures described in words from what they draw."""

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
    SCHEDULE_MARKERS,
    SCHEDULE_TEXT_COLORS,
    TEXT_CONTRAST,
    TEXT_ROLES,
    contrast_ratio,
    describe_axes_as,
    describe_figure,
    figure_html,
    new_axes,
    readable_on_white,
    show,
    spoken_html,
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


def test_every_schedule_family_has_a_colour_a_text_colour_and_a_marker() -> None:
    assert set(SCHEDULE_COLORS) == set(SCHEDULE_TEXT_COLORS) == set(SCHEDULE_MARKERS) == set(KINDS)
    assert len(set(SCHEDULE_MARKERS.values())) == len(SCHEDULE_MARKERS)  # told apart without colour


def test_contrast_ratio_matches_wcag() -> None:
    assert contrast_ratio("black", "white") == pytest.approx(21.0)
    assert contrast_ratio("white", "white") == pytest.approx(1.0)
    assert contrast_ratio("#767676") == pytest.approx(4.54, abs=0.01)  # the classic AA grey
    assert contrast_ratio("#777777") < TEXT_CONTRAST


def test_readable_on_white_darkens_only_as_needed() -> None:
    assert readable_on_white("#0072B2") == "#0072B2"  # already 5.2:1
    darker = readable_on_white("#D55E00")
    assert contrast_ratio(darker) >= TEXT_CONTRAST
    assert contrast_ratio(readable_on_white("#D55E00", ratio=TEXT_CONTRAST - 0.3)) < contrast_ratio(darker)
    hue = matplotlib.colors.rgb_to_hsv(matplotlib.colors.to_rgb(darker))[0]
    assert hue == pytest.approx(matplotlib.colors.rgb_to_hsv(matplotlib.colors.to_rgb("#D55E00"))[0], abs=0.01)


@pytest.mark.parametrize("role", TEXT_ROLES)
def test_every_text_role_is_readable_on_white(role: str) -> None:
    """WCAG 2.1 AA 1.4.3: text in a role's colour, and white text on it (a highlight), reach 4.5:1."""
    assert contrast_ratio(COLORS[f"{role}_text"]) >= TEXT_CONTRAST
    assert COLORS[f"{role}_text"] == readable_on_white(COLORS[role])


def test_schedule_text_colours_are_readable_on_white() -> None:
    assert all(contrast_ratio(c) >= TEXT_CONTRAST for c in SCHEDULE_TEXT_COLORS.values())


def test_spoken_html_is_escaped_and_visually_hidden() -> None:
    text = spoken_html("wrong: <b>")
    assert "wrong: &lt;b&gt;" in text and "position:absolute" in text and "clip:" in text


def _line_figure(last: float):
    use_book_style()
    fig, ax = plt.subplots()
    ax.plot([0, 50, 100], [1.0, 0.5, last], "o-", label="teacher forcing")
    ax.axhline(0.5, ls=":", label="half")
    ax.set(title="Accuracy $p^T$", xlabel="step", ylabel="fraction")
    ax.annotate("final", (100, last))
    ax.legend()
    return fig


def test_describe_figure_reads_titles_labels_series_and_notes() -> None:
    text = describe_figure(_line_figure(0.25), summary="What it shows.")
    assert text.startswith("What it shows. Accuracy p^T.")  # mathtext stripped
    assert "fraction against step." in text
    assert "teacher forcing: from 1 at 0 to 0.25 at 100" in text
    assert "half: level at 0.5" in text and "Marked: final." in text
    plt.close("all")


def test_describe_figure_follows_the_data() -> None:
    """The text alternative is read from the figure, so it changes when the numbers do."""
    assert "to 0.1 at 100" in describe_figure(_line_figure(0.1))
    assert "to 0.9 at 100, highest 1 at 0" not in describe_figure(_line_figure(0.9))
    plt.close("all")


def test_describe_figure_bars_points_diagrams_and_twin_axes() -> None:
    fig, (bars, diagram) = plt.subplots(1, 2)
    bars.bar([0, 1, 2], [0.5, 0.3, 0.2], label="measured")
    bars.scatter([0, 1], [0.4, 0.6], label="forecast")
    bars.legend()
    twin = bars.twinx()
    twin.plot([0, 1, 2], [10, 20, 30], label="excess (%)")
    twin.legend()
    diagram.axis("off")
    diagram.set_title("greedy writes 'ab'")
    text = describe_figure(fig)
    assert "measured: bars at 0.5, 0.3, 0.2" in text and "forecast: points at 0.4, 0.6" in text
    assert "excess (%): from 10 at 0 to 30 at 2" in text
    assert "Diagram: greedy writes 'ab'." in text
    plt.close("all")


def test_describe_figure_names_bars_by_their_categories() -> None:
    fig, ax = plt.subplots()
    ax.barh(["teacher forcing", "sequential"], [1.0, 4.25])
    ax.set_xlabel("time per step")
    text = describe_figure(fig)
    assert "x axis: time per step." in text and "bars: teacher forcing = 1, sequential = 4.25" in text
    plt.close("all")


def test_describe_figure_says_extremes_only_where_they_add_something() -> None:
    fig, ax = plt.subplots()
    ax.plot([0, 1, 2, 3], [1.0, 0.5, 0.5, 0.5], label="survival")  # lowest = last: not repeated
    ax.plot([0, 1, 2, 3], [0.0, 0.9, 0.2, 0.1], label="bump")
    ax.plot([0, 1], [-0.0, -0.0], label="zero")
    ax.legend()
    text = describe_figure(fig)
    assert "survival: from 1 at 0 to 0.5 at 3;" in text
    assert "bump: from 0 at 0 to 0.1 at 3, highest 0.9 at 1;" in text
    assert "zero: level at 0." in text
    plt.close("all")


def test_show_displays_the_figure_with_its_alt_text_and_closes_it(monkeypatch) -> None:
    shown = []
    monkeypatch.setattr("IPython.display.display", lambda obj, **kw: shown.append((obj, kw)))
    fig = _line_figure(0.25)
    show(fig)
    ((obj, kwargs),) = shown
    assert obj is fig
    assert kwargs["metadata"]["image/png"]["alt"] == describe_figure(fig)
    assert not plt.fignum_exists(fig.number)


def test_describe_axes_as_gives_a_drawing_its_own_words() -> None:
    fig, (tree, chart) = plt.subplots(1, 2)
    tree.axis("off")
    describe_axes_as(tree, "Probability tree:\n  aa 0.22, ab 0.16.")
    chart.plot([0, 1, 2], [3, 2, 1], label="loss")
    chart.legend()
    text = describe_figure(fig)
    assert text.startswith("Probability tree: aa 0.22, ab 0.16.") and "loss: from 3 at 0 to 1 at 2" in text
    plt.close("all")


def test_figure_html_is_an_img_with_escaped_alt_text() -> None:
    fig = _line_figure(0.25)
    fig.axes[0].set_title('a "quoted" <title>')
    tag = figure_html(fig)
    assert tag.startswith('<img src="data:image/png;base64,iVBOR')
    assert 'alt="a &quot;quoted&quot; &lt;title&gt;.' in tag
    plt.close("all")


def test_new_axes_reuses_given_axes_or_makes_a_figure() -> None:
    fig, ax = plt.subplots()
    assert new_axes(ax) is ax
    fresh = new_axes(figsize=(3.0, 2.0))
    assert fresh is not ax and tuple(fresh.figure.get_size_inches()) == (3.0, 2.0)
    plt.close("all")


@pytest.mark.parametrize(
    "pattern", ["chapters/ch0[1-5]_*.py", "chapters/ch06_comparison/*.py", "schedules/*.py"],
    ids=lambda p: p.split("/")[-2 if "ch06" in p else -1],
)
def test_no_hex_colour_outside_plotting(pattern: str) -> None:
    """Chapters 1-6 and the schedules take every colour from this module, by meaning."""
    files = sorted(PACKAGE.glob(pattern))
    assert files
    for path in files:
        found = HEX_COLOUR.findall(path.read_text(encoding="utf-8"))
        assert not found, f"{path.name} defines colours {found}: add a role to plotting.COLORS instead"
