"""handbook_utils: the PyTorch code behind the handbook on teacher forcing and exposure bias.

Modules, one job each:

- ``device``: pick the compute device (``HANDBOOK_DEVICE`` > cuda > mps > cpu) and seed everything.
- ``plotting``: the book's one plotting style.
- ``proofs`` / ``widgets``: the proof-writing game of chapter 1.
- ``tasks``, ``models``, ``strategies``, ``training``, ``generation``, ``metrics``,
  ``schedules``, ``cache``: the training core the later chapters call.
"""

__version__ = "0.1.0"
