"""Shared test settings. Set before torch is imported anywhere in the test session."""

import os

# Idle OpenMP threads sleep instead of spinning (much faster on a small, shared machine).
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
