"""Speed figures the book quotes, measured side by side in one process.

    python benchmarks/run.py          # full run (about a minute on a 2-core CPU)
    python benchmarks/run.py --quick  # under a minute

Prints one line per figure, ``name: ratio (target ...)``. Each ratio compares two things timed
alternately in the same process (median of several repeats), so machine load affects both alike.
The full run also trains the 5-term addition chain (issue 3's done-when: teacher-forced loss
<= 0.02 in under 60 s on the CPU) with ``recipes.five_term_recipe``.
"""

from __future__ import annotations

import os

# OpenMP threads that spin while waiting turn a busy 2-core machine into a 10x slowdown (measured:
# 100 training steps took 101 s spinning vs 8 s passive while other jobs ran). Must be set before
# torch is imported; an explicit setting in the environment wins.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import argparse  # noqa: E402
import statistics  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import torch  # noqa: E402
import torch.nn as nn  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from handbook_utils import rl  # noqa: E402
from handbook_utils.device import get_device, seed_everything  # noqa: E402
from handbook_utils.generation import generate_ids  # noqa: E402
from handbook_utils.models import GPT, GPTConfig, count_parameters, make_model  # noqa: E402
from handbook_utils.recipes import five_term_recipe  # noqa: E402
from handbook_utils.runtime import time_in_turns  # noqa: E402
from handbook_utils.strategies import ScheduledSampling, SoftScheduledSampling, TeacherForcing  # noqa: E402
from handbook_utils.training import configure_optimizer  # noqa: E402

FIVE_TERM = five_term_recipe()  # the training target: 5-term chains, loss <= 0.02 in under 60 s


def train_five_term(cache=False, progress=False):
    """Train the 5-term chain model of ``recipes.five_term_recipe``; returns (model, History)."""
    trained = FIVE_TERM.run(cache=cache, progress=progress, device="cpu", threads=None)
    return trained.model, trained.history


def side_by_side(a, b, repeats: int, warmup: int = 2) -> tuple[float, float]:
    """Median seconds of ``a()`` and ``b()``, timed in turns (see ``runtime.time_in_turns``)."""
    times = time_in_turns({"a": a, "b": b}, repeats, warmup=warmup)
    return statistics.median(times["a"]), statistics.median(times["b"])


def line(name: str, value: float, target: str, detail: str = "") -> None:
    print(f"{name}: {value:.2f}x (target {target}){'  ' + detail if detail else ''}", flush=True)


# ------------------------------------------------------------------------------------ figures


@torch.no_grad()
def tf_parallel_speedup(repeats: int) -> None:
    """One teacher-forced pass over T=128 positions vs T passes over growing prefixes (no cache)."""
    T = 128
    model = make_model(GPTConfig(vocab_size=32, block_size=T, n_layer=2, n_head=4, n_embd=128)).eval()
    x = torch.randint(0, 32, (8, T))

    def parallel():
        model(x)

    def sequential():
        for t in range(1, T + 1):
            model(x[:, :t])

    tp, ts = side_by_side(parallel, sequential, repeats, warmup=1)
    line("tf_parallel_speedup", ts / tp, ">= 20x", f"[{ts * 1e3:.0f} ms vs {tp * 1e3:.1f} ms, B=8, T={T}]")


def _training_step(model, optimizer, strategy, batch):
    def step():
        loss = strategy.loss(model, batch, 1.0)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()

    return step


def ss_over_tf(repeats: int) -> None:
    """A scheduled-sampling training step (two-pass parallel; step-by-step sequential) over a TF step."""
    task = FIVE_TERM.task
    model = FIVE_TERM.build_model()
    optimizer = configure_optimizer(model, 1e-4, 0.0)
    batch = task.batch(task.sample(32, 0))
    tf = _training_step(model, optimizer, TeacherForcing(), batch)
    par = _training_step(model, optimizer, ScheduledSampling(0.25, mode="parallel", passes=1), batch)
    seq = _training_step(model, optimizer, ScheduledSampling(0.25, mode="sequential"), batch)
    t_tf, t_par = side_by_side(tf, par, repeats)
    line("ss_parallel_over_tf", t_par / t_tf, "<= 1.5x, floor ~1.33x", f"[{t_par * 1e3:.1f} ms vs {t_tf * 1e3:.1f} ms]")
    t_tf2, t_seq = side_by_side(tf, seq, max(3, repeats // 3), warmup=1)
    line("ss_sequential_over_tf", t_seq / t_tf2, "none; for contrast",
         f"[{t_seq * 1e3:.0f} ms vs {t_tf2 * 1e3:.1f} ms]")


def soft_ss_over_tf(repeats: int) -> None:
    """Scheduled sampling with soft inputs (chapter 8) over a TF step: the expected embedding with the
    first pass gradient-free (one extra forward pass) and with the gradient flowing through it (the first
    pass is then trained too: about a second forward-and-backward)."""
    task = FIVE_TERM.task
    model = FIVE_TERM.build_model()
    optimizer = configure_optimizer(model, 1e-4, 0.0)
    batch = task.batch(task.sample(32, 0))
    tf = _training_step(model, optimizer, TeacherForcing(), batch)
    for name, through, target in (("ss_soft_stopped_over_tf", False, "<= 1.5x, floor ~1.33x"),
                                  ("ss_soft_through_over_tf", True, "none; floor ~2x (two passes trained)")):
        soft = _training_step(model, optimizer, SoftScheduledSampling(0.25, relax="expected",
                                                                      grad_through_first_pass=through), batch)
        t_tf, t_soft = side_by_side(tf, soft, repeats)
        line(name, t_soft / t_tf, target, f"[{t_soft * 1e3:.1f} ms vs {t_tf * 1e3:.1f} ms]")


def rl_step_over_tf(repeats: int, model=None) -> None:
    """One group-relative step (chapter 7: sampling G answers per question with the KV cache, scoring,
    the per-token policy-gradient loss, backward, step) over one teacher-forcing step on the same
    answers, per scored token. Timed on the trained five-term model, whose answers are as long as the
    gold ones (as in fine-tuning); an untrained model (``--quick``) writes short random answers whose
    longest one still sets the number of sampling steps, so its ratio is an upper bound."""
    task = FIVE_TERM.task
    trained = model is not None
    model = model if trained else FIVE_TERM.build_model()
    optimizer = configure_optimizer(model, 1e-4, 0.0)
    config = rl.FinetuneConfig(method="group", steps=1, seed=0, batch_size=16, group_size=8)
    questions = task.sample(config.batch_size, 0)
    examples = [e for e in questions for _ in range(config.group_size)]  # the N = B·G answers scored
    generator = torch.Generator().manual_seed(0)
    rl_tokens = int(rl.roll_out(model, task, examples, temperature=1.0, generator=generator).answer_mask.sum())
    batch = task.batch(examples)
    tf_tokens = int(batch.loss_mask.sum())
    tf = _training_step(model, optimizer, TeacherForcing(), batch)

    def group():
        rl.update(model, optimizer, task, questions, config, reward=rl.REWARDS["exact"], generator=generator)

    t_tf, t_rl = side_by_side(tf, group, repeats)
    ratio = (t_rl / rl_tokens) / (t_tf / tf_tokens)
    line("rl_step_over_tf", ratio, "<= 3x per scored token",
         f"[{t_rl * 1e3:.0f} ms for {rl_tokens} sampled tokens vs {t_tf * 1e3:.1f} ms for {tf_tokens} gold tokens, "
         f"B={config.batch_size} questions x G={config.group_size}, {'trained' if trained else 'untrained'} model]")


def kv_cache_speedup(repeats: int) -> None:
    """Greedy generation of 128 tokens: KV cache vs recomputing the whole prefix every step."""
    model = make_model(GPTConfig(vocab_size=32, block_size=160, n_layer=2, n_head=4, n_embd=128)).eval()
    prompts = [[3, 4, 5, 6]] * 8

    def run(use_cache):
        return lambda: generate_ids(model, prompts, 128, stop_sequences=[], use_cache=use_cache)

    t_cache, t_full = side_by_side(run(True), run(False), repeats, warmup=1)
    line("kv_cache_speedup", t_full / t_cache, ">= 3x", f"[{t_full * 1e3:.0f} ms vs {t_cache * 1e3:.0f} ms, B=8]")


class ReferenceLM(nn.Module):
    """The same-sized model from torch.nn.TransformerEncoder with a causal mask (pre-norm, GELU, tied)."""

    def __init__(self, config: GPTConfig):
        super().__init__()
        C = config.n_embd
        self.wte = nn.Embedding(config.vocab_size, C)
        self.wpe = nn.Embedding(config.block_size, C)
        layer = nn.TransformerEncoderLayer(C, config.n_head, 4 * C, dropout=0.0, activation="gelu",
                                           batch_first=True, norm_first=True)
        self.encoder = nn.TransformerEncoder(layer, config.n_layer, enable_nested_tensor=False)
        self.ln_f = nn.LayerNorm(C)
        self.lm_head = nn.Linear(C, config.vocab_size, bias=False)
        self.lm_head.weight = self.wte.weight

    def forward(self, idx):
        T = idx.shape[1]
        mask = nn.Transformer.generate_square_subsequent_mask(T, device=idx.device)
        x = self.wte(idx) + self.wpe(torch.arange(T, device=idx.device))
        return self.lm_head(self.ln_f(self.encoder(x, mask=mask, is_causal=True)))


def train_tokens_per_s_vs_reference(repeats: int) -> None:
    """Training throughput of our GPT vs the nn.TransformerEncoder reference of equal size."""
    config = GPTConfig(vocab_size=32, block_size=64, n_layer=2, n_head=4, n_embd=128)
    seed_everything(0)
    ours, ref = GPT(config), ReferenceLM(config)
    assert count_parameters(ours) == count_parameters(ref), (count_parameters(ours), count_parameters(ref))
    x = torch.randint(0, 32, (32, 64))
    y = torch.randint(0, 32, (32, 64))

    def step(model):
        optimizer = torch.optim.AdamW(model.parameters(), lr=1e-4)

        def run():
            loss = nn.functional.cross_entropy(model(x).flatten(0, 1), y.flatten())
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()

        return run

    t_ours, t_ref = side_by_side(step(ours), step(ref), repeats)
    tokens = x.numel()
    line("train_tokens_per_s_vs_reference", t_ref / t_ours, ">= 1.0x",
         f"[{tokens / t_ours:,.0f} vs {tokens / t_ref:,.0f} tokens/s, {count_parameters(ours):,} params each]")


def five_term_training():
    """Train the five-term model against the clock; returns it (the RL step is timed on it)."""
    start = time.perf_counter()
    model, history = train_five_term()
    total = time.perf_counter() - start
    ev = history.final_eval
    ok = ev.tf_loss <= 0.02 and total < 60
    print(f"addition5_train: {total:.1f} s to teacher-forced loss {ev.tf_loss:.4f}, exact match {ev.exact_match:.3f} "
          f"(target loss <= 0.02 in < 60 s: {'met' if ok else 'NOT met'})", flush=True)
    return model


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer repeats, no training run (under a minute)")
    args = parser.parse_args(argv)
    get_device("cpu")
    print(f"# torch {torch.__version__}, {torch.get_num_threads()} threads, {'quick' if args.quick else 'full'} run",
          flush=True)
    r = 3 if args.quick else 10
    tf_parallel_speedup(r)
    ss_over_tf(3 * r)
    soft_ss_over_tf(3 * r)
    kv_cache_speedup(r)
    train_tokens_per_s_vs_reference(3 * r)
    if args.quick:
        rl_step_over_tf(r)
    else:
        rl_step_over_tf(r, model=five_term_training())


if __name__ == "__main__":
    main()
