"""Chapter 9's views: figures return a Figure, their text alternatives come from the same data."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from handbook_utils.chapters import ch09_figures as fig  # noqa: E402
from handbook_utils.chapters.ch09_experiment import ARMS  # noqa: E402
from handbook_utils.results import Provenance, StoredResult  # noqa: E402
from handbook_utils.tasks import PathStarTask  # noqa: E402


def cell(arm, seed, first):
    return {"arm": arm, "seed": seed, "exact_match": first, "first_tf": first, "later_tf": 1.0, "first_free": first,
            "valid_path": 1.0, "step_tf": [1.0, first, 1.0, 1.0, 1.0], "step_free": [1.0, first, first, first, first],
            "loss_curve": [2.0, 1.0, 0.5, 0.1]}


@pytest.fixture
def stored():
    cells = [cell(arm, s, 0.5 if arm == "teacher forcing" else 0.9 + 0.02 * s) for arm in ARMS for s in range(3)]
    p = Provenance("ch09", "test", {}, [0, 1, 2], ["models"], "0" * 16, "2", "3.11.0", "linux", 2, "cpu", 1, 1,
                   "local", 1.0, "2026-01-01T00:00:00+00:00")
    return StoredResult(p, cells)


def teardown_function():
    plt.close("all")


def test_draw_graph_labels_every_node_and_describes_the_answer():
    task = PathStarTask(degree=3, path_length=4)
    ex = task.sample(1, 0)[0]
    graph = task.parse(ex)
    figure = fig.draw_graph(task, ex)
    assert isinstance(figure, Figure)
    texts = {t.get_text() for t in figure.axes[0].texts}
    assert {n for arm in graph.arms for n in arm} <= texts
    sentence = fig.describe_graph(task, ex)
    assert " → ".join(graph.path) in sentence and "3 arms" in sentence


def test_steps_figure_and_its_sentence(stored):
    cells = stored.select(arm="teacher forcing")
    figure = fig.plot_steps(cells, degree=2)
    ax = figure.axes[0]
    assert isinstance(figure, Figure) and len(ax.get_xticklabels()) == 5
    styles = {line.get_linestyle() for line in ax.get_lines()}
    assert {"-", "--", ":"} <= styles  # colour is not the only signal
    assert "right 0.50 of the time" in fig.describe_steps(cells)


def test_arms_summary_table_and_figure(stored):
    summary = fig.summarize(stored)
    assert list(summary) == list(ARMS)
    assert summary["teacher forcing"]["exact_match"].mean == 0.5 and summary["reversed"]["exact_match"].n == 3
    table = fig.format_table(summary)
    text, markup = str(table), table._repr_html_()
    assert all(arm in text and f'<th scope="row">{arm}</th>' in markup for arm in ARMS)
    assert "[" in text and text.count("\n") == len(ARMS) + 1  # header, rule, one line per arm
    figure = fig.plot_arms(summary, degree=2)
    markers = {line.get_marker() for line in figure.axes[0].get_lines() if line.get_marker() not in (None, "None")}
    assert {fig.ARM_STYLES[a][1] for a in ARMS} <= markers
    assert "teacher forcing 0.50" in fig.describe_arms(summary)
    assert isinstance(fig.plot_loss_curves(stored), Figure)


def test_the_graph_figure_carries_its_description():
    from handbook_utils.plotting import describe_figure

    task = PathStarTask()
    ex = task.sample(1, 4)[0]
    assert describe_figure(fig.draw_graph(task, ex)) == fig.describe_graph(task, ex)


def test_compare_and_against_give_verdict_words():
    from handbook_utils.results import seed_interval

    low, high = seed_interval([0.1, 0.12, 0.11]), seed_interval([0.9, 0.95, 0.92])
    assert fig.compare(high, low)[3] == "higher" and fig.compare(low, high)[3] == "lower"
    assert fig.compare(low, seed_interval([0.1, 0.13, 0.1]))[3] == "not distinguishable"
    delta, lo, hi, _ = fig.compare(high, low)
    assert lo < delta < hi
    assert fig.against(low, 0.5) == "below" and fig.against(high, 0.5) == "above"
    assert fig.against(seed_interval([0.4, 0.6]), 0.5) == "within"


def test_successors_along_path_counts_the_one_decision():
    task = PathStarTask(degree=3, path_length=4)
    counts = fig.successors_along_path(task, task.sample(20, 0))
    assert counts.shape == (20, 3) and (counts[:, 0] == 3).all() and (counts[:, 1:] == 1).all()


def test_problem_count_matches_a_census_of_a_small_task():
    task = PathStarTask(degree=2, path_length=2, n_nodes=4)
    seen = {(frozenset(g.edges), g.start, g.goal) for g in map(task.parse, task.sample(3000, 0))}
    assert fig.problem_count(task) == len(seen) == 24
