"""Run many independent jobs (one trained model each) on a local process pool, or on a Ray cluster.

One function, :func:`run_jobs`, so every grid of the book (chapter 6's arms × tasks × seeds, and the
chapters after it) is spread over processes the same way:

- ``engine="local"`` (default): a :class:`concurrent.futures.ProcessPoolExecutor` with *spawned*
  workers (a fresh interpreter that imports the installed package; nothing is forked from a
  notebook's state, no ``PYTHONPATH`` is rewritten). A worker exits by itself when the process
  that started it dies, so an interrupted grid leaves no orphans behind.
- ``engine="ray"``: the same jobs as Ray tasks, for a reader whose grid outgrows one machine
  (``pip install "handbook-utils[ray]"``; connect with ``RAY_ADDRESS`` or start a local instance).

Jobs must be picklable and ``fn`` a module-level function. From a script (not a notebook), call
:func:`run_jobs` under ``if __name__ == "__main__":``: spawned workers import the script again.
Every job trains on one CPU thread (:func:`handbook_utils.runtime.cpu_threads`), so results do not
depend on the engine or the number of workers: a test runs the same tiny grid through both engines
and compares the results.
Used by chapter 6 (:mod:`handbook_utils.chapters.ch06_comparison.grid`).
"""

from __future__ import annotations

import concurrent.futures as cf
import multiprocessing
import os
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any

from . import checks
from .device import get_device
from .runtime import cpu_threads

ENGINES = ("local", "ray")


def default_workers() -> int:
    """2 processes on a CPU with two or more cores (each job uses one thread), 1 on an accelerator
    (one device: jobs would queue on it anyway)."""
    if get_device().type != "cpu":
        return 1
    return max(1, min(2, os.cpu_count() or 1))


def _call_one_thread(fn: Callable, job: Any):
    with cpu_threads(1):
        return fn(job)


def _exit_with_parent(parent_pid: int) -> None:
    """Worker initializer: a daemon thread ends this worker once its parent is gone."""
    def watch():
        while True:
            if os.getppid() != parent_pid:
                os._exit(1)
            time.sleep(1.0)

    threading.Thread(target=watch, daemon=True).start()


def run_jobs(fn: Callable[[Any], Any], jobs: Sequence[Any], *, workers: int | None = None,
             engine: str = "local", costs: Sequence[float] | None = None) -> list:
    """``[fn(job) for job in jobs]``, computed in parallel; results in the order of ``jobs``.

    ``costs`` (one rough number per job) lets the longest jobs start first, so the pool does not end
    on one long straggler. With one worker (or one job) the local engine runs in this process.
    """
    checks.one_of("engine", engine, ENGINES)
    if not callable(fn):
        raise TypeError(f"fn must be a module-level function, got {type(fn).__name__}")
    jobs = list(jobs)
    if not jobs:
        raise ValueError("jobs must hold at least one job")
    workers = default_workers() if workers is None else checks.positive_int("workers", workers)
    if costs is not None and len(costs) != len(jobs):
        raise ValueError(f"costs must hold one number per job, got {len(costs)} for {len(jobs)} jobs")
    order = sorted(range(len(jobs)), key=lambda i: -costs[i]) if costs is not None else list(range(len(jobs)))
    if engine == "ray":
        return _run_ray(fn, jobs, order, workers)
    if workers == 1 or len(jobs) == 1:
        return [_call_one_thread(fn, job) for job in jobs]
    results: list[Any] = [None] * len(jobs)
    context = multiprocessing.get_context("spawn")
    with cf.ProcessPoolExecutor(max_workers=min(workers, len(jobs)), mp_context=context,
                                initializer=_exit_with_parent, initargs=(os.getpid(),)) as pool:
        futures = {pool.submit(_call_one_thread, fn, jobs[i]): i for i in order}
        try:
            for future in cf.as_completed(futures):
                results[futures[future]] = future.result()
        except BaseException:
            for future in futures:
                future.cancel()
            raise
    return results


def _run_ray(fn: Callable, jobs: list, order: list[int], workers: int) -> list:
    try:
        import ray
    except ImportError:
        raise ImportError('engine="ray" needs Ray: pip install "handbook-utils[ray]" (or pip install ray)') from None
    if not ray.is_initialized():
        _start_ray(ray, workers)
    remote = ray.remote(num_cpus=1)(_call_one_thread)
    refs = {i: remote.remote(fn, jobs[i]) for i in order}
    return [ray.get(refs[i]) for i in range(len(jobs))]


def _start_ray(ray, workers: int, attempts: int = 3) -> None:
    """Connect to ``RAY_ADDRESS``, or start a local instance on loopback only.

    Ray gives a starting node a fixed 30 s to register; on a small machine that is busy with other
    work it can miss that, so a local start is tried up to ``attempts`` times before giving up.
    """
    address = os.environ.get("RAY_ADDRESS")
    if address:
        ray.init(address=address, log_to_driver=False)
        return
    for attempt in range(1, attempts + 1):
        try:
            ray.init(num_cpus=workers, include_dashboard=False, log_to_driver=False, _node_ip_address="127.0.0.1")
            return
        except Exception as err:  # Ray raises a bare Exception when the node misses its start-up window
            ray.shutdown()
            if attempt == attempts or "timed out during startup" not in str(err):
                raise
