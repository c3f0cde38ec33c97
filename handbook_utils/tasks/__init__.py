"""Toy sequence tasks small enough to train live, each with a known right answer.

One module per task, all behind this one import path (``from handbook_utils.tasks import ...``):

- :mod:`.base`: :class:`.Example`, the character :class:`.Tokenizer`, :class:`.Batch`, THE
  :func:`.teacher_forcing_shift`, and the :class:`.Task` interface (all chapters that train).
- :mod:`.addition`: :class:`.AdditionChainTask`, the reasoning chain of seed 000, with its parsing
  and chain check, and :class:`.CurriculumTask` (chapters 2-4, 6).
- :mod:`.markov`: :class:`.MarkovTask`, text from a known Markov chain, so exact KL is computable (chapter 4).
- :mod:`.two_step`: :class:`.TwoStepTask`, a two-token distribution where greedy misses the best answer (chapter 2).
- :mod:`.path_star`: :class:`.PathStarTask`, Bachmann & Nagarajan's path-star graph (teacherless variant too).

All tasks are character level: one token per character, plus ``<pad>`` and ``<eos>``.
"""

from .addition import (
    END_THINK,
    GENERATION_SLACK,
    KINDS,
    RETRACT,
    THINK,
    AdditionChainTask,
    ChainCheck,
    CurriculumTask,
    addition_chain,
)
from .base import EOS, PAD, SPLITS, Batch, Example, Task, Tokenizer, teacher_forcing_shift
from .markov import MarkovTask
from .path_star import NODE_CHARS, PathStarTask
from .two_step import TwoStepTask

__all__ = [
    "EOS", "END_THINK", "GENERATION_SLACK", "KINDS", "NODE_CHARS", "PAD", "RETRACT", "SPLITS", "THINK",
    "AdditionChainTask", "Batch", "ChainCheck", "CurriculumTask", "Example", "MarkovTask", "PathStarTask",
    "Task", "Tokenizer", "TwoStepTask", "addition_chain", "teacher_forcing_shift",
]
