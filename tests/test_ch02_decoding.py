"""Chapter 2, greedy vs best: the TwoStepTask tree, greedy decoding and beam search, the tree plot."""

import math

import matplotlib

matplotlib.use("Agg")

import pytest
import torch
from fixtures_addition import SMALL_ADDITION as TASK
from fixtures_addition import OracleLM, one_thread, sharpen, tiny_gpt  # noqa: F401 (one_thread: autouse fixture)
from matplotlib.figure import Figure

from handbook_utils import cache as cache_lib
from handbook_utils.chapters.ch02_chain_rule import enumerate_continuations
from handbook_utils.chapters.ch02_decoding import TreeExplorer, explorer_trees, plot_greedy_tree, tree_data
from handbook_utils.generation import beam_search, greedy_decode
from handbook_utils.tasks import TwoStepTask

TOY = TwoStepTask()


class TableLM(OracleLM):
    """A 'model' whose next-token distributions are exactly those of a TwoStepTask."""

    def __init__(self, task: TwoStepTask):
        super().__init__(task)
        self.letter_ids = [task.tokenizer.stoi[ch] for ch in task.letters]

    def _row(self, prefix):
        V = self.vocab_size
        probs = torch.full((V,), 1.0 / V, dtype=torch.float64)
        tok = self.task.tokenizer
        if prefix and prefix[0] == tok.stoi["^"]:
            letters = [self.letter_ids.index(i) if i in self.letter_ids else None for i in prefix[1:]]
            if None not in letters:
                probs = torch.zeros(V, dtype=torch.float64)
                if len(letters) == 0:
                    dist = self.task.first
                elif len(letters) == 1:
                    dist = self.task.second[letters[0]]
                else:
                    dist = None
                if dist is None:
                    probs[tok.eos_id] = 1.0
                else:
                    for i, p in zip(self.letter_ids, dist):
                        probs[i] = p
        return probs.log()

    def forward(self, idx):
        B, T = idx.shape
        out = torch.stack([torch.stack([self._row(idx[b, : t + 1].tolist()) for t in range(T)]) for b in range(B)])
        return out.float() + 0 * self.dummy


def test_two_step_task_exact_answers():
    joint = TOY.joint()
    assert sum(joint.values()) == pytest.approx(1.0)
    assert TOY.greedy() == ("aa", pytest.approx(0.22))
    assert TOY.best() == ("ba", pytest.approx(0.405))
    tops = TwoStepTask.from_tops(0.55, 0.4, 0.9)
    assert tops.joint() == pytest.approx(joint)
    same = TwoStepTask.from_tops(0.9, 0.9, 0.9)
    assert same.greedy()[0] == same.best()[0] == "aa"


def test_two_step_task_samples_and_caches():
    examples = TOY.sample(20000, 0)
    freq = sum(e.target == "ba" for e in examples) / len(examples)
    assert freq == pytest.approx(0.405, abs=0.02)
    assert all(e.prompt == "^" and len(e.target) == 2 for e in examples[:50])
    batch = TOY.batch(examples[:4])
    assert batch.inputs.shape == (4, TOY.max_len)
    assert cache_lib.describe(TOY)["class"].endswith("TwoStepTask")  # the training cache can key it


@pytest.mark.parametrize("kwargs, match", [
    (dict(first=(0.5, 0.6, 0.0)), "sum to 1"),
    (dict(first=(0.5, 0.5)), "3 probabilities"),
    (dict(first=(1.5, -0.5, 0.0)), r"first\[1\] must be in \[0"),  # handbook_utils.checks names the entry
    (dict(second=((1, 0, 0),)), "3 rows"),
    (dict(letters="a"), "letters"),
    (dict(letters="a^c"), "start symbol"),
])
def test_two_step_task_rejects_bad_settings(kwargs, match):
    with pytest.raises(ValueError, match=match):
        TwoStepTask(**kwargs)


def test_two_step_from_tops_rejects_bad_probabilities():
    with pytest.raises(ValueError, match="p_first"):
        TwoStepTask.from_tops(1.2, 0.5, 0.5)


def test_greedy_misses_the_best_answer_of_an_exact_model():
    model = TableLM(TOY)
    tok = TOY.tokenizer
    start = tok.encode("^")
    seqs, lp = enumerate_continuations(model, start, 3)
    assert float(lp.exp().sum()) == pytest.approx(1.0, abs=1e-6)
    best = tok.decode(seqs[lp.argmax()])
    ids, glp = greedy_decode(model, start, 3)
    assert tok.decode(ids) == "aa" and math.exp(glp) == pytest.approx(0.22, abs=1e-6)
    assert best == "ba" and math.exp(float(lp.max())) == pytest.approx(0.405, abs=1e-6)
    assert tok.decode(beam_search(model, start, 3, width=1)[0]) == "aa"
    b2, b2_lp = beam_search(model, start, 3, width=2)
    assert tok.decode(b2) == "ba" and math.exp(b2_lp) == pytest.approx(0.405, abs=1e-6)


def test_wide_beam_search_is_exact():
    model = sharpen(tiny_gpt(TOY, n_embd=8, seed=3))
    start = TOY.tokenizer.encode("^")
    seqs, lp = enumerate_continuations(model, start, 3)
    V = TOY.tokenizer.vocab_size
    ids, best_lp = beam_search(model, start, 3, width=V**2)
    assert ids == seqs[lp.argmax()].tolist()
    assert best_lp == pytest.approx(float(lp.max()), abs=1e-5)
    with pytest.raises(ValueError, match="width"):
        beam_search(model, start, 3, width=0)


def test_tree_plot_and_explorer():
    fig = plot_greedy_tree(TOY)
    assert isinstance(fig, Figure)
    title = fig.axes[0].get_title()
    assert "'aa'" in title and "'ba'" in title
    fig2 = plot_greedy_tree(TwoStepTask.from_tops(0.9, 0.9, 0.9))
    assert "finds the most probable" in fig2.axes[0].get_title()
    tree = tree_data(TwoStepTask.from_tops(0.55, 0.4, 0.9))
    assert tree["verdict"] == title
    assert [lf["answer"] for lf in tree["leaves"] if lf["greedy"] or lf["best"]] == ["aa", "ba"]
    assert sum(lf["joint"] for lf in tree["leaves"]) == pytest.approx(1.0)
    with pytest.raises(TypeError, match="TwoStepTask"):
        plot_greedy_tree(TASK)
    matplotlib.pyplot.close("all")


def test_the_tree_explorer_holds_every_tree_its_sliders_reach():
    data = explorer_trees(0.55, 0.4, 0.9)
    sliders = {s["name"]: s for s in data["sliders"]}
    assert [sliders[n]["values"][sliders[n]["index"]] for n in ("p_first", "top_after_first", "top_after_second")] \
        == [0.55, 0.4, 0.9]
    assert len(data["trees"]) == len(sliders["p_first"]["values"]) * 9 * 9  # 0.4 and 0.9 are on the grid
    assert data["firsts"] == ["a", "b"]
    assert [lf["answer"] for lf in data["leaves"]] == ["aa", "ab", "ac", "ba", "bb", "bc"]
    for key, nums in list(data["trees"].items())[::97]:
        i, j, k = map(int, key.split(","))
        task = TwoStepTask.from_tops(sliders["p_first"]["values"][i], sliders["top_after_first"]["values"][j],
                                     sliders["top_after_second"]["values"][k])
        joint = task.joint()
        assert nums[8:14] == [round(joint[a], 4) for a in ("aa", "ab", "ac", "ba", "bb", "bc")]
        answers = ["aa", "ab", "ac", "ba", "bb", "bc"]
        assert answers[nums[14]] == task.greedy()[0] and answers[nums[15]] == task.best()[0]
    with pytest.raises(ValueError, match="^p_first"):
        explorer_trees(p_first=1.0)  # a branch of probability 0 would change the tree's shape
    data, _ = TreeExplorer()._repr_mimebundle_()
    assert '<script type="module">' in data["text/html"] and data["text/plain"].startswith("Run this cell")
