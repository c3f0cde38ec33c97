"""The grid runner: the local process pool and Ray give the same results as a plain loop, in job
order, and a worker whose parent died exits instead of lingering."""

import os
import subprocess
import sys
import textwrap

import pytest

from handbook_utils.grid import run_jobs
from handbook_utils.models import GPTConfig, make_model
from handbook_utils.tasks import AdditionChainTask
from handbook_utils.training import train

TASK = AdditionChainTask(n_terms=2, max_value=3)


def tiny_run(seed: int) -> list[float]:
    """One small training run: its losses depend on the seed and on nothing else."""
    model = make_model(GPTConfig.for_task(TASK, n_layer=1, n_head=1, n_embd=8), seed=seed)
    return train(model, TASK, steps=3, batch_size=4, lr=1e-3, seed=seed, progress=False, cache=False).losses


SEEDS = [3, 0, 2, 1]


def test_local_pool_equals_a_plain_loop_in_job_order():
    expected = [tiny_run(s) for s in SEEDS]
    assert run_jobs(tiny_run, SEEDS, workers=2, costs=[1, 4, 2, 3]) == expected
    assert run_jobs(tiny_run, SEEDS, workers=1) == expected


def test_a_failing_job_raises_in_the_caller():
    with pytest.raises(ValueError):
        run_jobs(int, ["1", "not a number"], workers=2)


def test_ray_equals_the_local_pool():
    ray = pytest.importorskip("ray", reason="Ray is an optional extra: pip install 'handbook-utils[ray]'")
    local = run_jobs(tiny_run, SEEDS, workers=2)
    # Ray's workers cannot import this test module: ship tiny_run by value
    ray.cloudpickle.register_pickle_by_value(sys.modules[__name__])
    try:
        via_ray = run_jobs(tiny_run, SEEDS, workers=2, engine="ray")
    except Exception as err:  # Ray's own start-up window (30 s, three tries) missed on a saturated machine
        if "timed out during startup" not in str(err):
            raise
        pytest.skip(f"Ray could not start a local node on this busy machine: {err}")
    finally:
        ray.shutdown()
    assert via_ray == local


def test_a_worker_exits_when_its_parent_is_gone():
    # the watchdog is told its parent is a pid that is not its parent: it must end the process
    code = textwrap.dedent("""
        import time
        from handbook_utils.grid import _exit_with_parent
        _exit_with_parent(parent_pid=-1)
        time.sleep(30)
    """)
    proc = subprocess.run([sys.executable, "-c", code], timeout=20, env=dict(os.environ))
    assert proc.returncode == 1
