"""Chapter 3, anatomy of a failure: character kinds, the first error, what follows it."""

import pytest

from handbook_utils.chapters import ch03_failures as fl
from handbook_utils.tasks import AdditionChainTask


def test_position_kinds_label_every_character():
    ex = AdditionChainTask(n_terms=3).example([1, 2, 13])
    kinds = AdditionChainTask.position_kinds(ex.target)
    assert len(kinds) == len(ex.target) + 1  # + <eos>
    labelled = {i: k for i, k in enumerate(kinds[:-1])}
    target = ex.target  # <think>1+2+13=3+13=16</think>16
    assert [labelled[i] for i in range(len("<think>"), len("<think>1+2+13"))] == ["copy", "markup", "copy",
                                                                                  "markup", "copy", "copy"]
    s = target.index("=") + 1
    assert kinds[s] == "sum" and kinds[s + 1] == "markup" and kinds[s + 2] == kinds[s + 3] == "carry"
    last = target.index("</think>")
    assert kinds[last - 2 : last] == ["sum", "sum"] and kinds[last] == "markup"
    assert kinds[-3:] == ["answer", "answer", "markup"]
    with pytest.raises(ValueError):
        AdditionChainTask.position_kinds("1+2=3")


def test_first_error_and_html():
    assert fl.first_error_index("abc", "abc") is None
    assert fl.first_error_index("abc", "abx") == 2
    assert fl.first_error_index("abc", "ab") == 2
    ex = AdditionChainTask(n_terms=3).example([1, 2, 3])
    wrong = "<think>1+2+3=4+3=7</think>7"
    page = fl.first_error_html(ex.prompt, ex.target, wrong)
    assert "background" in page and "&lt;think&gt;" in page and "wrong (should be 6)" in page
    assert "right despite" in fl.first_error_html(ex.prompt, ex.target, "<think>1+2+3=4+3=6</think>6")


def test_after_first_error_and_picks():
    task = AdditionChainTask(n_terms=3)
    a, b, c = task.example([1, 2, 3]), task.example([2, 2, 2]), task.example([5, 1, 1])
    examples = [a, b, c]
    outputs = [
        "<think>1+2+3=4+3=7</think>7",  # slip, then trusts it to the end
        "<think>2+2+2=5+2=6</think>6",  # slip, then back on track
        c.target,  # right
    ]
    after = fl.after_first_error(examples, outputs)
    assert after.n_failed == 2 and after.answer_wrong == 0.5
    assert after.well_formed == 1.0 and after.answer_follows_own_chain == 1.0
    assert after.consistent_after_error == 0.5  # only the first kept computing from its own line
    assert after.later_sums_wrong == pytest.approx(0.5)  # 7 vs 6 wrong; 6 vs 6 right
    kinds = fl.first_error_kinds(examples, outputs)
    assert kinds["sum"] == 1.0
    picks = fl.pick_failures(examples, outputs, k=3)
    assert len(picks) == 2 and {o for _, o in picks} == set(outputs[:2])
    assert fl.failed_generations_html([c], [c.target]) == "<p>No failed generations.</p>"
    assert fl.after_first_error([c], [c.target]).n_failed == 0
