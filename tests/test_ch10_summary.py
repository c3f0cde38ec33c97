"""Chapter 10's reading of the book: glued values from executed notebooks, spreads in words, and the
closing flowchart drawn with chapter 6's generalised drawer."""

import json
import re
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from handbook_utils.chapters import ch10_summary as S  # noqa: E402
from handbook_utils.plotting import describe_figure  # noqa: E402
from handbook_utils.results import paired_comparison, seed_interval  # noqa: E402

CHAPTER_10 = S.CHAPTERS_DIR / "10_what_to_do_about_it.md"
NUMBERS = {"rev_exact": 1.0, "tf_path_exact": 0.44, "tl_exact": 0.0, "tf_more": 0.77, "start_exact": 0.67,
           "slip_right": 0.31, "clean_right": 0.79, "curr_cost": 0.43, "half_at": 0.6}


def teardown_function():
    plt.close("all")


def glue_output(name, text, prefix="application/papermill.record/"):
    """A cell output as myst-nb's ``glue(name, value, display=False)`` writes it."""
    return {"data": {prefix + "text/plain": text}, "metadata": {"scrapbook": {"mime_prefix": prefix, "name": name}},
            "output_type": "display_data"}


def write_notebook(path: Path, outputs) -> Path:
    cells = [{"cell_type": "markdown", "metadata": {}, "source": "# A page"},
             {"cell_type": "code", "metadata": {}, "source": "", "execution_count": 1, "outputs": list(outputs)}]
    path.write_text(json.dumps({"cells": cells, "metadata": {}, "nbformat": 4, "nbformat_minor": 5}))
    return path


# --------------------------------------------------------------------------------------------
# glued_values


def test_glued_values_read_back_as_glue_text_reads_them(tmp_path):
    nb = write_notebook(tmp_path / "99_page.ipynb", [
        glue_output("accuracy", "0.9872217230707797"),
        glue_output("steps", "1000"),
        glue_output("phrase", "'within noise'"),
        glue_output("split", ["0.", "25"]),  # nbformat may store text as a list of lines
        glue_output("shown", "3", prefix=""),  # glue(..., display=True): no prefix
        glue_output("accuracy", "0.9872217230707797"),  # glued twice, the same value: fine
        {"output_type": "stream", "name": "stdout", "text": "printed, not glued\n"},
        {"data": {"application/papermill.record/image/png": "iVBOR"}, "output_type": "display_data",
         "metadata": {"scrapbook": {"mime_prefix": "application/papermill.record/", "name": "a_figure"}}},
    ])
    values = S.glued_values(nb)
    assert dict(values) == {"accuracy": 0.9872217230707797, "steps": 1000, "phrase": "within noise", "split": 0.25,
                            "shown": 3}
    assert isinstance(values["steps"], int) and values.source == nb and "5 names" in repr(values)
    assert S.glued_values(str(nb))["phrase"] == "within noise"  # a str path works too


def test_a_missing_name_says_which_notebook_and_what_is_close(tmp_path):
    values = S.glued_values(write_notebook(tmp_path / "99_page.ipynb", [glue_output("exact", "0.688"),
                                                                        glue_output("exact_long", "0.29")]))
    with pytest.raises(KeyError, match=r"'exact_match' is not glued in 99_page.ipynb; close names: exact"):
        values["exact_match"]
    with pytest.raises(KeyError, match="not glued"):
        values["nothing like it"]


def test_a_name_glued_twice_with_different_values_is_refused(tmp_path):
    nb = write_notebook(tmp_path / "99_page.ipynb", [glue_output("p", "0.5"), glue_output("p", "0.6")])
    with pytest.raises(ValueError, match="glues 'p' twice"):
        S.glued_values(nb)


@pytest.mark.parametrize("bad, error", [
    (3, TypeError),
    (None, TypeError),
    ("chapters/03_compounding_errors.md", ValueError),  # the text notebook, not the executed one
    ("no/such/notebook.ipynb", FileNotFoundError),
])
def test_bad_notebook_paths_name_the_parameter(bad, error):
    with pytest.raises(error, match="notebook_path"):
        S.glued_values(bad)


def test_a_file_that_is_not_a_notebook_names_the_parameter(tmp_path):
    broken = tmp_path / "broken.ipynb"
    broken.write_text("{not json")
    with pytest.raises(ValueError, match="notebook_path .* is not a Jupyter notebook"):
        S.glued_values(broken)
    (tmp_path / "list.ipynb").write_text("[1, 2]")
    with pytest.raises(ValueError, match="notebook_path"):
        S.glued_values(tmp_path / "list.ipynb")


# --------------------------------------------------------------------------------------------
# The book's own notebooks


def test_chapter_notebook_finds_each_reference_notebook():
    for n in range(1, 7):
        path = S.chapter_notebook(n)
        assert path.name.startswith(f"{n:02d}_") and path.suffix == ".ipynb" and path.parent == S.CHAPTERS_DIR
    assert S.glued_values(S.chapter_notebook(3))["t_seed"] == 142  # the worked 142-character chain


def test_chapter_notebook_bad_inputs(tmp_path):
    with pytest.raises(TypeError, match="number"):
        S.chapter_notebook("3")
    with pytest.raises(ValueError, match="number"):
        S.chapter_notebook(-1)
    with pytest.raises(FileNotFoundError, match="exactly one 03_"):
        S.chapter_notebook(3, chapters_dir=tmp_path)


def test_every_name_chapter_10_reads_is_glued_by_its_chapter():
    """The closing chapter reads ``c3["exact"]``, ``c6["at_pct"]``, ...: each must exist."""
    text = CHAPTER_10.read_text()
    wanted = set(re.findall(r"\bc([1-6])\[[\"'](\w+)[\"']\]", text))
    wanted |= set(re.findall(r"\bbook\[([1-6])\]\[[\"'](\w+)[\"']\]", text))
    assert len(wanted) > 30 and any(n == "6" for n, _ in wanted)
    glued = {n: S.glued_values(S.chapter_notebook(n)) for n in range(1, 7)}
    missing = sorted((n, name) for n, name in wanted if name not in glued[int(n)] and name != "exact_match")
    assert not missing, f"chapter 10 reads names its chapters do not glue: {missing}"


# --------------------------------------------------------------------------------------------
# Spreads in words


def test_interval_and_sd_text():
    iv = seed_interval([0.41, 0.44, 0.48])
    assert S.interval_text(iv) == f"{iv.mean:.2f} [{iv.low:.2f}, {iv.high:.2f}]"
    assert S.interval_text(iv, digits=3).startswith(f"{iv.mean:.3f} [")
    assert S.sd_text(0.3997, 0.0762) == "0.40 ± 0.08"
    with pytest.raises(TypeError, match="iv"):
        S.interval_text(0.5)
    with pytest.raises(ValueError, match="sd"):
        S.sd_text(0.4, -0.1)
    with pytest.raises(ValueError, match="digits"):
        S.interval_text(iv, digits=-1)


def comparison(arm, deltas, family=1):
    """A paired comparison whose per-seed differences are ``deltas``."""
    return paired_comparison({s: d for s, d in enumerate(deltas)}, {s: 0.0 for s in range(len(deltas))}, arm=arm,
                             reference="teacher forcing", metric="exact_match", family=family)


def test_mean_range_and_difference_text():
    ivs = [seed_interval([0.37, 0.37]), seed_interval([0.44, 0.44]), seed_interval([0.40, 0.41])]
    assert S.mean_range(ivs) == "0.37 to 0.44"
    assert S.mean_range(ivs, digits=1) == "0.4"  # one number when both ends print alike
    assert S.mean_range(ivs[2:], digits=3) == "0.405"
    c = comparison("SS linear", [0.30, 0.28, 0.32, 0.31, 0.29])
    assert c.word == "better" and S.difference_text(c) == f"+0.30 [{c.low:+.2f}, {c.high:+.2f}], better"
    with pytest.raises(ValueError, match="intervals"):
        S.mean_range([])
    with pytest.raises(TypeError, match="intervals"):
        S.mean_range([0.5])
    with pytest.raises(TypeError, match="c"):
        S.difference_text(0.3)


def test_verdicts_text_groups_arms_by_word():
    better = comparison("SS linear", [0.30, 0.28, 0.32, 0.31, 0.29])
    worse = comparison("curriculum", [-0.30, -0.28, -0.32, -0.31, -0.29])
    noise = [comparison(a, [0.2, -0.1, 0.05, -0.2, 0.1]) for a in ("SS exponential", "SS inverse sigmoid")]
    assert {c.word for c in noise} == {"within noise"}
    table = {c.arm: c for c in (noise[0], better, worse, noise[1])}
    assert S.verdicts_text(table) == ("better: SS linear; worse: curriculum; within noise: SS exponential and "
                                      "SS inverse sigmoid")
    assert S.verdicts_text({c.arm: c for c in noise}) == "both within noise"
    assert S.verdicts_text({c.arm: c for c in (*noise, comparison("x", [0.1, -0.1, 0.0]))}) == "all three within noise"
    assert S.verdicts_text({"SS linear": better}) == "better"
    with pytest.raises(ValueError, match="comparisons"):
        S.verdicts_text({})
    with pytest.raises(TypeError, match="comparisons"):
        S.verdicts_text({"a": 0.3})


def test_on_tasks_says_one_word_per_task():
    assert S.on_tasks({"short chains": "worse", "long chains": "worse"}) == "worse on both tasks"
    assert S.on_tasks({"short chains": "within noise", "long chains": "worse"}) == (
        "within noise on the short chains, worse on the long chains")
    assert S.on_tasks({"long chains": "better"}) == "better on the long chains"
    with pytest.raises(ValueError, match="word"):
        S.on_tasks({"short chains": "higher"})
    with pytest.raises(ValueError, match="words"):
        S.on_tasks({})


# --------------------------------------------------------------------------------------------
# The closing flowchart


def test_the_flowchart_is_connected_and_every_box_is_drawn_with_its_numbers():
    reached, frontier = {"start"}, ["start"]
    while frontier:
        key = frontier.pop()
        for a, b, _ in S.FLOW_EDGES:
            if a == key and b not in reached:
                reached.add(b)
                frontier.append(b)
    assert reached == set(S.FLOW_NODES) == set(S.FLOW_TEXT)
    fig = S.plot_what_to_try(NUMBERS)
    assert isinstance(fig, Figure)
    texts = [t.get_text() for t in fig.axes[0].texts]
    assert all(words in texts for words in S.flow_text(NUMBERS).values())
    assert sum(t in ("yes", "no") for t in texts) == sum(bool(label) for _, _, label in S.FLOW_EDGES)
    assert "reversed target 1.00" in S.flow_text(NUMBERS)["objective"] and "½\nat 60%" in S.flow_text(NUMBERS)["ss"]
    alt = describe_figure(fig)
    assert alt == S.describe_what_to_try(NUMBERS)
    assert alt.startswith("What to try, in order: Train with teacher forcing → Measure what the loss hides")
    assert ("if no: Back to teacher forcing; correction data alone taught the marker, not its use, and cost exact "
            "match [7d].") in alt
    # the branch to scheduled sampling asks about measured recovery after a slip, not about length
    assert "(here 31% against 79%) [4b] if no: Keep teacher forcing" in alt and "Long answers" not in alt
    assert "teacherless 0.00 [9c]" in alt


def test_a_missing_number_names_the_slot_and_the_box():
    with pytest.raises(KeyError, match="'curr_cost', needed by the box 'enough'"):
        S.flow_text({k: v for k, v in NUMBERS.items() if k != "curr_cost"})
    with pytest.raises(TypeError, match="numbers"):
        S.flow_text([0.5])


def test_no_hex_colour_in_the_chapter_module():
    source = Path(S.__file__).read_text(encoding="utf-8")
    assert not re.findall(r"#[0-9A-Fa-f]{6}\b", source)
