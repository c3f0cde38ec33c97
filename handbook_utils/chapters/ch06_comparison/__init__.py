"""Chapter 6, *Scheduled sampling in practice*: remedies for exposure bias trained side by side.

The chapter calls this package; it holds every piece of logic the chapter needs so that the page
itself is prose and short calls. One module per concern:

- **Arms** (``arms``). :func:`make_arm` builds each of :data:`ARM_NAMES`: teacher forcing;
  two-pass scheduled sampling with three schedule families and a sweep of the point where the
  probability reaches one half; true free running (sequential); the one-pass variant under its own
  name; the uniform-noise control (:class:`UniformNoise`); a curriculum.
- **Settings** (``settings``). :data:`SETTINGS`: ``"full"`` (what ``results/ch06_full.json`` holds),
  ``"quick"`` (what the page trains live, about a minute) and ``"smoke"`` (the tests). Two tasks
  that differ only in chain length, trained on their training split and measured on held-out problems.
- **One run** (``runs``). :func:`run_one` trains (or loads) a model and measures it, sorting every
  injected slip with :func:`slip_outcome` into valid recovery, right answers through invalid notes,
  and answers that follow the slip.
- **The grid** (``grid``). :func:`run_grid` runs a setting live through the experiment's own
  ``run_cell`` (:mod:`handbook_utils.chapters.ch06_experiment`) and the one grid runner, caching
  each run; the full setting goes through :mod:`handbook_utils.experiments` into the results store.
- **Statistics** (``stats``). Means with 95% t intervals, paired comparisons with teacher forcing
  under a Bonferroni rule, and the tables.
- **Cost** (``costs``) and **figures** (``figures``), including the decision flowchart (drawn
  with matplotlib, so the static book needs no network to show it).
"""

from .arms import ARM_NAMES, QUICK_ARMS, Arm, UniformNoise, default_arms, make_arm
from .costs import (
    InjectionContrast,
    PassesAgreement,
    contrast_injections,
    fed_tokens_text,
    passes_agreement,
    step_costs,
)
from .figures import (
    ARM_COLORS,
    ARM_STYLES,
    FLOW_TEXT,
    describe_two_pass,
    plot_comparison,
    plot_decision_flowchart,
    plot_step_costs,
    plot_survival,
    plot_training_curves,
    plot_two_pass,
)
from .grid import Grid, run_grid
from .runs import (
    RESULT_FORMAT,
    RunResult,
    chain_agreement,
    run_one,
    slip_outcome,
    survival_curve,
    train_arm,
)
from .settings import SETTINGS, ComparisonSetting, get_setting
from .stats import (
    METRICS,
    PRIMARY,
    REFERENCE,
    TABLE_METRICS,
    best_arm,
    by_seed,
    compare,
    comparisons,
    format_comparisons,
    format_table,
    summarize,
    tasks_and_arms,
    verdict_words,
)

__all__ = [
    "ARM_COLORS", "ARM_NAMES", "ARM_STYLES", "FLOW_TEXT", "METRICS", "PRIMARY", "QUICK_ARMS", "REFERENCE",
    "RESULT_FORMAT", "SETTINGS", "TABLE_METRICS", "Arm", "ComparisonSetting", "Grid", "InjectionContrast",
    "PassesAgreement", "RunResult", "UniformNoise", "best_arm", "by_seed", "chain_agreement", "compare",
    "comparisons", "contrast_injections", "default_arms", "describe_two_pass", "fed_tokens_text",
    "format_comparisons", "format_table", "get_setting", "make_arm", "passes_agreement", "plot_comparison",
    "plot_decision_flowchart", "plot_step_costs", "plot_survival", "plot_training_curves", "plot_two_pass",
    "run_grid", "run_one", "slip_outcome", "step_costs", "summarize", "survival_curve", "tasks_and_arms",
    "train_arm", "verdict_words",
]
