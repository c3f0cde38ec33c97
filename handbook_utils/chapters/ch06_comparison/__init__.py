"""Chapter 6, *Scheduled sampling in practice*: remedies for exposure bias trained side by side.

The chapter calls this package; it holds every piece of logic the chapter needs so that the page
itself is prose and short calls. One module per concern: ``arms``, ``settings``, ``runs`` (one run
measured), ``grid`` (all runs, through :func:`handbook_utils.grid.run_jobs` and the one cache),
``stats``, ``costs`` and ``figures``. The curriculum task lives in the core
(:class:`handbook_utils.tasks.CurriculumTask`).

- **Arms.** An :class:`Arm` is one way of training (a strategy, optionally a curriculum);
  :func:`default_arms` gives the six the chapter compares, with the schedules solved by
  :func:`handbook_utils.schedules.solve_schedule`.
- **Settings.** :data:`SETTINGS` holds a ``"quick"`` setting (what the book is built with: the
  whole grid is about a minute of CPU time, shared by two processes) and a ``"full"`` one (the
  model and task of the shared addition recipe of :mod:`handbook_utils.recipes`, five seeds; an
  hour on a CPU).
- **The grid.** :func:`run_grid` trains every arm × task × seed through
  :meth:`handbook_utils.recipes.Recipe.run` (so trained weights land in the model cache), measures
  each model (teacher-forced loss, free-running exact match, per-position accuracy and survival,
  recovery after an injected error and whether the answer still follows the model's own chain) and
  stores these measurements as results in the model cache, so a second run of the chapter reads
  them instantly. Runs are spread over worker processes (or Ray).
- **Summaries.** :func:`summarize` gives mean ± standard deviation over seeds;
  :func:`format_table` prints them; :func:`verdicts` says, per arm and metric, whether an arm beat
  teacher forcing, lost to it, or stayed within seed noise.
- **Cost.** :func:`step_costs` times training steps of several strategies alternately in one
  process (so machine load hits them alike); :func:`passes_agreement` shows how K parallel passes
  converge to sequential scheduled sampling.
- **Figures.** :func:`plot_training_curves`, :func:`plot_comparison`,
  :func:`plot_survival`, :func:`plot_step_costs`, :func:`plot_two_pass` and :func:`plot_decision_flowchart` (a
  flowchart drawn with matplotlib, so the static book needs no network to show it).
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
    TABLE_METRICS,
    MetricInfo,
    Stat,
    Verdict,
    format_table,
    format_verdicts,
    summarize,
    verdicts,
)

__all__ = [
    "ARM_NAMES", "QUICK_ARMS", "UniformNoise", "make_arm", "slip_outcome",
    "ARM_COLORS", "ARM_STYLES", "FLOW_TEXT", "METRICS", "RESULT_FORMAT", "SETTINGS", "TABLE_METRICS", "Arm",
    "ComparisonSetting", "Grid", "InjectionContrast", "MetricInfo", "PassesAgreement", "RunResult", "Stat",
    "Verdict", "chain_agreement", "contrast_injections", "default_arms", "fed_tokens_text", "format_table",
    "format_verdicts", "get_setting", "passes_agreement", "plot_comparison", "plot_decision_flowchart",
    "plot_two_pass", "describe_two_pass",
    "plot_step_costs", "plot_survival", "plot_training_curves", "run_grid", "run_one", "step_costs",
    "summarize", "survival_curve", "train_arm", "verdicts",
]
