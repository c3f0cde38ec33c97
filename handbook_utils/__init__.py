"""handbook_utils: the PyTorch code behind the handbook on teacher forcing and exposure bias.

A small reusable core, one concept per module, and the code of single pages kept apart under
``chapters`` and named by chapter. Read a core module top to bottom in one sitting; each says which
chapters use it. ``tests/test_package_map.py`` keeps this map complete.

The core
--------

- ``tasks``: toy tasks with known right answers, one module each (imported from here):
- ``tasks.base``: examples, the character tokenizer, THE teacher-forcing shift, the Task interface.
- ``tasks.addition``: the addition chain, its parsing and line-by-line check, the curriculum version.
- ``tasks.markov``: text from a known Markov chain (exact KL at every position).
- ``tasks.two_step``: a two-token distribution where greedy decoding misses the best answer.
- ``tasks.path_star``: Bachmann & Nagarajan's path-star graph (and its teacherless variant).
- ``models``: a small GPT with a KV cache, and a GRU language model, behind one interface.
- ``strategies``: what the model reads while training: teacher forcing, scheduled sampling.
- ``relaxed``: differentiable stand-ins for choosing a token: Gumbel-softmax, straight-through, soft embeddings.
- ``schedules``: the scheduled-sampling schedules (imported from here):
- ``schedules.curves``: the schedule families as small callable objects.
- ``schedules.bengio``: Bengio et al.'s ε convention, translated to ours.
- ``schedules.solve``: solve a family for "reach p at epoch e"; when does a schedule reach p.
- ``training``: the one training loop, ``train(model, task, strategy, TrainConfig)``.
- ``generation``: free-running generation (batched, KV cache), greedy vs beam search, log P(answer).
- ``metrics``: teacher-forced vs free-running evaluation, exact KL, error injection.
- ``rl``: training on the model's own answers: REINFORCE, group-relative, DAgger with the task's expert.
- ``recipes``: named, cached training recipes shared by the chapters (``quick`` and ``gpu`` sizes).
- ``grid``: many independent runs on a local process pool, or on Ray.
- ``results``: the committed results store: small JSON files with their provenance, checked for staleness.
- ``experiments``: named experiments too big for a chapter, run with one command into the store.
- ``cache``: the one disk cache (trained weights and results), keyed by settings and code.
- ``files``: the one atomic write, and the one digest of a tree of source files.
- ``checks``: the one set of argument checks (name the parameter and the allowed range).
- ``runtime``: ``HANDBOOK_*`` variables, CPU threads, eval mode, progress bars, fair timing.
- ``device``: where tensors live (``HANDBOOK_DEVICE`` > cuda > mps > cpu), and seeding.
- ``plotting``: the book's one plotting style, colours by meaning.
- ``tables``: tables as HTML (captioned, with header cells) in the book and the lab, aligned text in nbval.
- ``glue``: the values a notebook glued, read back from its stored outputs (chapter 10, the lab).
- ``flowcharts``: flowcharts drawn from boxes and arrows, with their text alternative (chapters 6, 10).
- ``web_widgets``: widgets whose JavaScript (``web/*.js``) draws data Python computed once, so they
  work on the static book's pages as in JupyterLab (anywidget live, a ``text/html`` version static).

Code of single pages (``handbook_utils.chapters``)
--------------------------------------------------

- ``chapters``: the package of chapter modules, ``chNN_topic``.
- ``chapters.ch01_proofs``: chapter 1's three proofs, word by word, with their distractors.
- ``chapters.ch01_game``: the proof-writing game (pure Python, no widgets).
- ``chapters.ch01_simulation``: simulated players, and the independence forecast of whole proofs.
- ``chapters.ch01_figures``: per-word vs whole-proof success, plotted.
- ``chapters.ch01_widgets``: the game as data for the browser (``web/proof_game.js``), scored again in Python.
- ``chapters.ch02_figures``: where inputs come from (teacher forcing, free running); the causal mask, measured.
- ``chapters.ch02_loss``: cross-entropy per token, and where the loss of one answer lives.
- ``chapters.ch02_chain_rule``: next-token = whole-sequence likelihood; the causal mask, checked and timed.
- ``chapters.ch02_decoding``: the tree where greedy decoding misses the most probable answer, and its explorer.
- ``chapters.ch02_reinforce``: REINFORCE on a toy, against the exact gradient.
- ``chapters.ch02_mechanism``: the shift by one, masked attention, cached generation: the code shown, run small.
- ``chapters.ch03_forecast``: p^T, its explorer, and forecasts against measured exact match.
- ``chapters.ch03_token_errors``: teacher-forced errors, and whether they are independent.
- ``chapters.ch03_failures``: where free-running answers first go wrong, and what follows.
- ``chapters.ch04_exposure``: accuracy on own vs gold prefixes; KL curves; accumulated error.
- ``chapters.ch04_planted``: planted errors on the addition chain and the Markov chain.
- ``chapters.ch05_tokens``: how many model tokens a schedule feeds.
- ``chapters.ch05_figures``: schedule curves and the two conventions, plotted.
- ``chapters.ch05_explorer``: the schedule explorer (data, figure, widget).
- ``chapters.ch06_comparison``: chapter 6's comparison of remedies, one module per concern:
- ``chapters.ch06_comparison.arms``: the ten ways of training compared, the uniform-noise control among them.
- ``chapters.ch06_comparison.settings``: full, quick and smoke sizes of the comparison.
- ``chapters.ch06_comparison.runs``: one run trained and measured; how an answer ends after a slip.
- ``chapters.ch06_comparison.grid``: the quick grid run live, through the grid runner and the cache.
- ``chapters.ch06_comparison.stats``: 95% intervals over seeds, paired comparisons, tables.
- ``chapters.ch06_comparison.report``: the stored full grid read: questions, slip outcomes, cost per arm.
- ``chapters.ch06_comparison.costs``: seconds per step; K passes vs the sequential loop.
- ``chapters.ch06_comparison.figures``: the chapter's figures, arm styles and decision flowchart.
- ``chapters.ch06_experiment``: chapter 6's grid (tasks × arms × seeds) for the results store.
- ``chapters.ch07_experiment``: chapter 7's arms (teacher forcing, corrections, RL, DAgger) × rates × seeds.
- ``chapters.ch07_figures``: chapter 7's arms over seeds: paired verdicts, tables, cost, the mechanisms.
- ``chapters.ch08_experiment``: chapter 8's arms (hard, expected, Gumbel, straight-through tokens) × seeds, held out.
- ``chapters.ch08_mechanics``: a small categorical: REINFORCE, Gumbel-softmax, straight-through vs the exact gradient.
- ``chapters.ch08_toy_figures``: relaxed samples, bias and spread against τ and draws, plotted; the τ slider.
- ``chapters.ch08_figures``: chapter 8's arms over seeds: intervals, paired verdicts, table and figure.
- ``chapters.ch09_experiment``: the path-star experiment: arms × seeds on held-out graphs.
- ``chapters.ch09_figures``: the graph drawn, accuracy per path step, the arms compared.
- ``chapters.ch10_summary``: chapter 10: the book's numbers read from the reference notebooks, the flowchart.
"""

__version__ = "0.2.0"
