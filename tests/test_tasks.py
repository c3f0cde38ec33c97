"""Task formats are exact, and the one teacher-forcing shift builds what it claims."""

import random
import re

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from handbook_utils import cache as cache_lib
from handbook_utils.models import GPTConfig, make_model
from handbook_utils.tasks import (
    EOS,
    AdditionChainTask,
    CurriculumTask,
    Example,
    MarkovTask,
    PathStarTask,
    Tokenizer,
    addition_chain,
    teacher_forcing_shift,
)
from handbook_utils.training import train

# ---------------------------------------------------------------------------------- tokenizer


@settings(deadline=None)
@given(st.text(alphabet="0123456789+=</>hiknt", max_size=50))
def test_tokenizer_round_trip(text):
    tok = AdditionChainTask().tokenizer
    assert tok.decode(tok.encode(text)) == text


def test_tokenizer_specials_and_unknown_character():
    tok = Tokenizer("ab")
    assert tok.vocab_size == 4 and tok.itos[:2] == ["<pad>", EOS]
    assert tok.decode([2, 0, 3, tok.eos_id, 2]) == "ab"  # pad skipped, stops at <eos>
    with pytest.raises(ValueError, match="'z'"):
        tok.encode("abz")


# ---------------------------------------------------------------------------------- addition chain


def test_seed_example_is_exact():
    ex = AdditionChainTask().example([1, 2, 3])
    assert ex == Example("1+2+3=", "<think>1+2+3=3+3=6</think>6")


def test_blog_example_has_142_target_characters():
    ex = AdditionChainTask(n_terms=10, max_value=10).example(list(range(1, 11)))
    assert len(ex.target) == 142
    assert ex.target.endswith("</think>55")


def test_addition_chain_lines():
    assert addition_chain([1, 2, 3]) == [[1, 2, 3], [3, 3], [6]]


@settings(max_examples=60, deadline=None)
@given(st.integers(0, 10_000), st.integers(2, 12), st.integers(1, 99))
def test_every_chain_step_is_arithmetically_right(seed, n, max_value):
    task = AdditionChainTask(n_terms=(2, n), max_value=max_value)
    for ex in task.sample(3, seed):
        terms = [int(x) for x in ex.prompt[:-1].split("+")]
        assert ex.prompt.endswith("=") and 2 <= len(terms) <= n
        assert all(0 <= t <= max_value for t in terms)
        m = re.fullmatch(r"<think>(.*)</think>(\d+)", ex.target)
        assert m, ex.target
        lines = [[int(x) for x in line.split("+")] for line in m.group(1).split("=")]
        assert lines[0] == terms
        for prev, nxt in zip(lines, lines[1:]):
            assert nxt == [prev[0] + prev[1], *prev[2:]]  # first two terms added, rest copied
        assert lines[-1] == [sum(terms)] and int(m.group(2)) == sum(terms)


def test_n_terms_forms_and_max_len():
    assert AdditionChainTask(n_terms=3).n_terms == (3, 3)
    assert AdditionChainTask(n_terms=range(2, 6)).n_terms == (2, 5)
    task = AdditionChainTask(n_terms=(2, 5))
    longest = max(task.batch(task.sample(500, 0)).inputs.shape[1], 0)
    assert longest <= task.max_len


def test_sample_is_deterministic():
    task = AdditionChainTask()
    assert task.sample(5, 7) == task.sample(5, 7)
    assert task.sample(5, 7) != task.sample(5, 8)


# ---------------------------------------------------------------------------------- path-star


def _parse_path_star(ex):
    edges_text, query = ex.prompt[:-1].split("/")
    edges = [tuple(e.split(",")) for e in edges_text.split("|")]
    start, goal = query.split(",")
    return edges, start, goal, ex.target.split(",")


@settings(max_examples=40, deadline=None)
@given(st.integers(0, 10_000), st.integers(2, 5), st.integers(2, 7), st.booleans())
def test_path_star_target_is_a_real_path(seed, degree, path_length, reverse):
    task = PathStarTask(degree=degree, path_length=path_length, n_nodes=50, reverse=reverse)
    for ex in task.sample(3, seed):
        edges, start, goal, path = _parse_path_star(ex)
        assert len(edges) == degree * (path_length - 1)
        nodes = {u for e in edges for u in e}
        assert len(nodes) == 1 + degree * (path_length - 1)  # distinct labels
        assert sum(u == start for u, _ in edges) == degree  # the centre has `degree` arms
        if reverse:
            path = path[::-1]
        assert path[0] == start and path[-1] == goal and len(path) == path_length
        for u, v in zip(path, path[1:]):
            assert (u, v) in edges


def test_path_star_teacherless_hides_target_inputs():
    plain, hidden = PathStarTask(), PathStarTask(teacherless=True)
    examples = plain.sample(4, 0)
    a, b = plain.batch(examples), hidden.batch(examples)
    dummy = hidden.tokenizer.stoi["$"]
    assert torch.equal(a.targets, b.targets) and torch.equal(a.loss_mask, b.loss_mask)
    for row in range(4):
        P = int(a.prompt_lens[row])
        assert torch.equal(a.inputs[row, :P], b.inputs[row, :P])
        T = int(a.target_lens[row])
        assert (b.inputs[row, P : P + T - 1] == dummy).all()  # every target input is the dummy
        assert not (a.inputs[row] == dummy).any()


def test_path_star_reverse_is_reversed_path():
    ex_f = PathStarTask().sample(3, 5)
    ex_r = PathStarTask(reverse=True).sample(3, 5)
    for f, r in zip(ex_f, ex_r):
        assert f.prompt == r.prompt
        assert f.target.split(",")[::-1] == r.target.split(",")


# ---------------------------------------------------------------------------------- Markov


def test_markov_true_probabilities_are_distributions_and_match_samples():
    task = MarkovTask(n_states=4, order=2, length=6, seed=3)
    batch = task.batch(task.sample(2000, 0))
    table = task.true_next_token_table(batch.inputs)  # (B, T, V)
    assert torch.allclose(table.sum(-1), torch.ones_like(table.sum(-1)))
    # the true probability of the observed next token is never zero
    observed = table.gather(-1, batch.targets[..., None]).squeeze(-1)
    assert (observed[batch.loss_mask] > 0).all()
    # empirical first-letter frequencies match the table (prefix "^" only)
    first = batch.targets[:, 0]
    freq = torch.bincount(first, minlength=task.tokenizer.vocab_size).double() / len(first)
    assert torch.allclose(freq, table[0, 0], atol=0.04)


def test_markov_true_next_token_probs_ends_with_eos():
    task = MarkovTask(n_states=3, length=2)
    ex = task.sample(1, 0)[0]
    ids = task.tokenizer.encode(ex.prompt + ex.target)
    probs = task.true_next_token_probs(ids)
    assert probs[task.tokenizer.eos_id] == 1.0


# ---------------------------------------------------------------------------------- the shift


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.lists(st.integers(2, 9), min_size=1, max_size=6),
                          st.lists(st.integers(1, 9), min_size=1, max_size=6)), min_size=1, max_size=5))
def test_teacher_forcing_shift(pairs):
    prompts, targets = zip(*pairs)
    batch = teacher_forcing_shift(prompts, targets, pad_id=0)
    B, T = batch.inputs.shape
    assert max(len(p) + len(t) for p, t in pairs) - 1 == T
    for b, (p, t) in enumerate(pairs):
        seq = list(p) + list(t)
        L = len(seq)
        assert batch.inputs[b, : L - 1].tolist() == seq[:-1]
        assert batch.targets[b, : L - 1].tolist() == seq[1:]  # next token, shifted by one
        assert batch.targets[b][batch.loss_mask[b]].tolist() == list(t)  # exactly the target is scored
        assert int(batch.prompt_lens[b]) == len(p)
        assert (batch.inputs[b, L - 1 :] == 0).all()


def test_batch_targets_end_with_eos():
    task = AdditionChainTask()
    examples = task.sample(8, 0)
    batch = task.batch(examples)
    tok = task.tokenizer
    for b, ex in enumerate(examples):
        scored = batch.targets[b][batch.loss_mask[b]].tolist()
        assert scored == tok.encode(ex.target) + [tok.eos_id]


# ---------------------------------------------------------------------------------- reading chains


@settings(max_examples=40, deadline=None)
@given(st.integers(0, 10_000), st.integers(2, 9))
def test_the_gold_chain_passes_its_own_check_and_parses_back(seed, n):
    task = AdditionChainTask(n_terms=(2, n), max_value=9)
    for ex in task.sample(3, seed):
        check = task.check_chain(ex.prompt, ex.target)
        assert check.well_formed and check.chain_valid and check.answer_correct and check.answer_follows_chain
        assert all(check.lines_valid) and check.first_invalid_line is None
        assert task.chain_lines(ex.target) == task.gold_lines(ex.prompt)
        assert task.answer_of(ex.target) == sum(task.terms_of(ex.prompt))
        kinds = task.position_kinds(ex.target)
        assert len(kinds) == len(ex.target) + 1 and set(kinds) <= set(task.KINDS)


def test_check_chain_splits_valid_recovery_from_right_answers_through_invalid_notes():
    check = AdditionChainTask.check_chain
    # a slip in line 1, then correct reasoning from the slip: only line 1 is invalid; wrong answer
    slip = check("1+2+3=", "<think>1+2+3=4+3=7</think>7")
    assert slip.lines_valid == (True, False, True) and not slip.chain_valid
    assert slip.answer_follows_chain and not slip.answer_correct and slip.first_invalid_line == 1
    # the right sum written after invalid notes: answer right, chain not, answer ignores the notes
    ignore = check("1+2+3=", "<think>1+2+3=4+3=7</think>6")
    assert ignore.answer_correct and not ignore.chain_valid and ignore.answer_follows_chain is False
    # a wrong copy of the question is invalid from line 0
    assert check("1+2=", "<think>1+3=4</think>4").lines_valid == (False, True)
    # unparseable notes: not well formed, but the answer is still judged
    garbled = check("1+2=", "<think>1+=3</think>3")
    assert not garbled.well_formed and garbled.answer_follows_chain and garbled.answer_correct
    assert check("1+2=", "<think>1+2</think>3").answer_follows_chain is None  # no result line to follow
    assert check("1+2=", "<think>1+2=3</think>").answer_follows_chain is None  # no answer
    with pytest.raises(ValueError, match="prompt"):
        check("1+2", "<think>1+2=3</think>3")


def test_a_retracted_line_leaves_the_chain_and_is_counted():
    check = AdditionChainTask.check_chain
    noticed = check("1+2+3=", "<think>1+2+3=4+3==3+3=6</think>6")  # slip, marker, right line
    assert noticed.chain_valid and noticed.lines_valid == (True, True, True)
    assert (noticed.retractions, noticed.slips_retracted) == (1, 1)
    false_alarm = check("1+2+3=", "<think>1+2+3=3+3==3+3=6</think>6")  # a right line withdrawn
    assert false_alarm.chain_valid and (false_alarm.retractions, false_alarm.slips_retracted) == (1, 0)
    wrong_fix = check("1+2+3=", "<think>1+2+3=4+3==5+3=8</think>8")  # noticed, then a wrong rewrite
    assert not wrong_fix.chain_valid and wrong_fix.slips_retracted == 1 and wrong_fix.first_invalid_line == 1
    assert not check("1+2=", "<think>=1+2=3</think>3").well_formed  # nothing to withdraw
    assert AdditionChainTask.kept_lines(["1+2+3", "4+3", "", "3+3", "6"]) == [[1, 2, 3], [3, 3], [6]]


@settings(max_examples=40, deadline=None)
@given(st.integers(0, 10_000))
def test_correction_data_plants_one_unscored_slip_and_fixes_it(seed):
    task = AdditionChainTask(n_terms=(2, 5), max_value=9)
    rng = random.Random(seed)
    example = task.sample(1, seed)[0]
    fixed = task.with_correction(example, rng)
    (j,) = fixed.unscored
    assert fixed.target[j] != example.target[j] and fixed.target[j].isdigit()  # the planted wrong digit
    assert fixed.target[: j] == example.target[: j]  # gold up to the slip
    check = task.check_chain(fixed.prompt, fixed.target)
    assert check.chain_valid and check.answer_correct and (check.retractions, check.slips_retracted) == (1, 1)
    batch = task.batch([example, fixed])
    assert int(batch.loss_mask[1].sum()) == len(fixed.target)  # every character and <eos>, but the slip
    assert not batch.loss_mask[1, len(fixed.prompt) - 1 + j]
    assert int(batch.loss_mask[0].sum()) == len(example.target) + 1
    # a context cap plants only slips whose correction fits, and none when nothing fits
    cap = len(example.prompt) + len(example.target) + 3
    capped = task.with_correction(example, random.Random(seed), max_length=cap)
    assert len(capped.prompt) + len(capped.target) <= cap
    tight = len(example.prompt) + len(example.target)
    assert task.with_correction(example, rng, max_length=tight) == example


def test_wrong_digit_is_a_different_digit_and_never_a_leading_zero():
    rng = random.Random(0)
    for _ in range(200):
        assert AdditionChainTask.wrong_digit("3+12", 2, rng) not in "01"  # the "1" of 12 leads
        assert AdditionChainTask.wrong_digit("3+12", 3, rng) != "2"
    with pytest.raises(ValueError, match="unscored"):
        Example("1=", "ab", unscored=(2,))


def test_held_out_split_never_shares_a_problem_and_keeps_the_distribution():
    train, test = (AdditionChainTask(n_terms=(2, 4), max_value=5, split=s) for s in ("train", "test"))
    a, b = train.sample(400, 1), test.sample(400, 1)
    assert not {e.prompt for e in a} & {e.prompt for e in b}
    assert all(test.held_out(e) for e in b) and not any(test.held_out(e) for e in a)
    assert train.other() == test and train.held_out_task() == test and test.held_out_task() == test
    assert {len(test.terms_of(e.prompt)) for e in b} == {2, 3, 4}  # every length still drawn
    assert test.max_len == AdditionChainTask(n_terms=(2, 4), max_value=5).max_len
    assert AdditionChainTask(n_terms=(2, 4)).sample(50, 3) == AdditionChainTask(n_terms=(2, 4)).sample(50, 3)
    with pytest.raises(ValueError, match="split"):
        AdditionChainTask(split="dev")
    with pytest.raises(ValueError, match="test_share"):
        AdditionChainTask(test_share=1.0)
    with pytest.raises(ValueError, match="other split"):
        AdditionChainTask().other()
    assert CurriculumTask.wrap(train).base == train  # a curriculum keeps the split


def test_line_sum_and_generation_budget():
    target = "<think>1+2+3=3+3=6</think>6"
    assert AdditionChainTask.line_sum_at(target, target.index("3+3")) == 6
    assert AdditionChainTask.line_sum_at("<think>1+2+3=4+3", 14) == 7  # unfinished line
    assert AdditionChainTask().generation_budget(10) == 10 + 1 + 16
    with pytest.raises(ValueError, match="target_length"):
        AdditionChainTask().generation_budget(-1)


# ---------------------------------------------------------------------------------- curriculum


def test_curriculum_grows_one_length_per_stage():
    task = CurriculumTask(n_terms=(2, 4), max_value=5, full_at_epoch=60)
    assert [task.n_terms_at(e) for e in (0, 29.9, 30, 59.9, 60, 500)] == [
        (2, 2), (2, 2), (2, 3), (2, 3), (2, 4), (2, 4)]
    for epoch, longest in ((0, 2), (45, 3), (80, 4)):
        terms = [e.prompt.count("+") + 1 for e in task.sample_at(200, seed=3, epoch=epoch)]
        assert min(terms) == 2 and max(terms) == longest


def test_curriculum_evaluates_on_the_full_task():
    base = AdditionChainTask(n_terms=(4, 6), max_value=3)
    task = CurriculumTask.wrap(base, full_at_epoch=10)
    assert task.sample(50, 7) == base.sample(50, 7)  # same evaluation questions
    assert task.max_len == base.max_len and task.tokenizer.vocab_size == base.tokenizer.vocab_size
    assert task.base == base
    assert task.sample_at(20, 1, 10.0) == base.sample(20, 1)


def test_training_follows_the_curriculum(monkeypatch):
    task = CurriculumTask(n_terms=(2, 3), max_value=3, full_at_epoch=2)
    seen = []
    original = CurriculumTask.sample_at

    def spy(self, n, seed, epoch):
        seen.append(self.n_terms_at(epoch))
        return original(self, n, seed, epoch)

    monkeypatch.setattr(CurriculumTask, "sample_at", spy)
    model = make_model(GPTConfig.for_task(task, n_layer=1, n_head=2, n_embd=16))
    train(model, task, steps=4, batch_size=2, lr=1e-3, seed=0, progress=False, cache=False, steps_per_epoch=1)
    assert seen == [(2, 2), (2, 2), (2, 3), (2, 3)]


def test_curriculum_is_hashable_for_the_cache():
    a = CurriculumTask(n_terms=(2, 4), max_value=5, full_at_epoch=60)
    b = CurriculumTask(n_terms=(2, 4), max_value=5, full_at_epoch=30)
    assert cache_lib.make_key({"t": a}) != cache_lib.make_key({"t": b})
    assert cache_lib.make_key({"t": a}) != cache_lib.make_key({"t": a.base})


def test_curriculum_bad_inputs():
    with pytest.raises(ValueError, match="full_at_epoch"):
        CurriculumTask(n_terms=(2, 4), full_at_epoch=0)
    with pytest.raises(TypeError, match="full_at_epoch"):
        CurriculumTask(n_terms=(2, 4), full_at_epoch="10")
    with pytest.raises(ValueError, match="epoch"):
        CurriculumTask(n_terms=(2, 4)).n_terms_at(-1)
    with pytest.raises(TypeError, match="AdditionChainTask"):
        CurriculumTask.wrap("not a task")
    with pytest.raises(TypeError, match="already"):
        CurriculumTask.wrap(CurriculumTask(n_terms=(2, 4)))
