"""How many CPU threads lstmae's own torch work uses, chosen by measurement, and applied only around it.

PyTorch starts one OpenMP thread per core of the host (not of the container) and lets
idle threads spin. A job alone gains from a second thread (about 1.5-1.8x per epoch on
2 cores from 1.6M multiply-adds per step up), but as soon as anything else wants the same
cores (``GridSearchCV(n_jobs=...)``, a detector per sensor, a notebook beside a training
run, a CI runner, other people's tests) every parallel operation waits for a thread that
is not running: on 2 cores two or three default detector fits at once took 10-25x longer
each than alone (docs/benchmarks.md, "Threads under load"). One thread per job loses at
most that 1.5-1.8x alone and keeps the cores' full throughput under load.

The policy (`choose_threads`), for ``n_threads=None``:

1. ``LSTMAE_THREADS`` in the environment: an integer is used like ``n_threads``; ``torch``
   leaves torch's own setting alone (PyTorch's default: the policy is off); ``auto`` or
   unset: the rules below. The command line's ``--threads N`` sets it for its run.
2. Inside a joblib worker (``GridSearchCV(n_jobs>1)``, ``Parallel(n_jobs>1)``: loky or
   multiprocessing processes, threads): 1 thread, as joblib / threadpoolctl limit nested
   parallelism.
3. Else one thread per `WORK_PER_THREAD` multiply-adds of one time step of a batch (the
   module's parameter count times the batch size: a recurrent step is one small matrix
   product per layer), at least 1, and at most half the CPUs the process may use
   (`cpu_budget`: the CPU affinity mask, the cgroup v2 ``cpu.max`` / v1
   ``cpu.cfs_quota_us`` quota, and ``OMP_NUM_THREADS`` when set), leaving room for a
   second job. So 1 thread on 2 CPUs; more only for big models on bigger machines.

The choice depends on the parameters, the data's shape and the machine's configuration,
never on the momentary load, so the same data, parameters, machine type and seed give the
same model (the thread count changes how sums are split, hence the last bits of the
weights). Training records it in ``history_["threads"]``.

Modules are built (and their weights initialised) with one thread (`build_threads`), whatever
the choice: initialisation is tiny, and so the initial weights do not depend on it.

`thread_policy` applies the choice with ``torch.set_num_threads`` around the library's own
fit and inference only and restores the previous value afterwards: the caller's torch
setting and environment are left as they were. ``n_threads`` (an int) overrides the policy
and is used as given, even above the CPU budget.
"""
from __future__ import annotations

import math
import os
import sys
import threading
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

import torch
from torch import nn

from ._validation import check_int

ENV = "LSTMAE_THREADS"

# Multiply-adds per time step (parameters x batch size) per thread. Measured on a 2-core AMD EPYC
# (docs/benchmarks.md): a job alone gained nothing from a second thread at 0.4M and 1.5-1.8x from 1.6M
# up, where each of two threads gets 0.8M; more than 2 threads were not measured (an extrapolation).
WORK_PER_THREAD = 800_000

_CGROUP_ROOT = Path("/sys/fs/cgroup")


# ---------------------------------------------------------------------------- what the process may use
def affinity_cpus() -> int:
    """CPUs in this process's affinity mask (``taskset``, ``--cpuset-cpus``); the CPU count without one."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):  # not on Linux
        return max(1, os.cpu_count() or 1)


def _quota(text: str, period: str | None = None) -> float | None:
    """CPUs a cgroup quota allows: v2 ``"max 100000"`` / ``"50000 100000"``, v1 quota and period; None = no limit."""
    parts = text.split()
    if period is not None:
        parts = parts[:1] + period.split()[:1]
    if len(parts) != 2 or parts[0] == "max":
        return None
    quota, per = int(parts[0]), int(parts[1])
    return quota / per if quota > 0 and per > 0 else None


def _own_cgroup_dirs(version: int) -> list[Path]:
    """This process's cgroup directory and its parents (v2), or those of its ``cpu`` controller (v1)."""
    try:
        lines = Path("/proc/self/cgroup").read_text().splitlines()
    except OSError:
        return []
    for line in lines:
        hid, controllers, path = (line.split(":", 2) + ["", ""])[:3]
        if version == 2 and hid == "0" and controllers == "":
            mounts = [_CGROUP_ROOT]
        elif version == 1 and "cpu" in controllers.split(","):
            mounts = [_CGROUP_ROOT / "cpu,cpuacct", _CGROUP_ROOT / "cpu"]
        else:
            continue
        rel = Path(path.strip().lstrip("/"))
        dirs = []
        for mount in mounts:
            dirs += [mount / p for p in [rel, *rel.parents]]
        return dirs
    return []


def cgroup_cpus() -> float | None:
    """CPUs the cgroup quota allows (the smallest along this process's cgroup path); None when unlimited."""
    limits = []
    for d in dict.fromkeys([_CGROUP_ROOT, *_own_cgroup_dirs(2)]):
        try:
            limits.append(_quota((d / "cpu.max").read_text()))
        except (OSError, ValueError):
            pass
    for d in dict.fromkeys([_CGROUP_ROOT / "cpu", _CGROUP_ROOT / "cpu,cpuacct", *_own_cgroup_dirs(1)]):
        try:
            limits.append(_quota((d / "cpu.cfs_quota_us").read_text(), (d / "cpu.cfs_period_us").read_text()))
        except (OSError, ValueError):
            pass
    limits = [q for q in limits if q is not None]
    return min(limits) if limits else None


def env_threads() -> int | None:
    """``OMP_NUM_THREADS`` as a positive int (its first level), None when unset or not a number."""
    try:
        value = int(os.environ.get("OMP_NUM_THREADS", "").split(",")[0])
    except ValueError:
        return None
    return value if value > 0 else None


def cpu_budget() -> int:
    """The most threads this process should run: affinity, cgroup quota (rounded up) and OMP_NUM_THREADS."""
    budget = affinity_cpus()
    quota = cgroup_cpus()
    if quota is not None:
        budget = min(budget, max(1, math.ceil(quota)))
    env = env_threads()
    if env is not None:
        budget = min(budget, env)
    return max(1, budget)


def in_parallel_worker() -> bool:
    """True inside a joblib worker of a parallel call (loky / multiprocessing process or thread, n_jobs > 1)."""
    if "joblib" not in sys.modules:
        return False
    try:
        from joblib.parallel import get_active_backend

        backend, _ = get_active_backend()
    except Exception:  # noqa: BLE001 - a joblib we do not know: no nesting information
        return False
    return bool(getattr(backend, "nesting_level", 0) or 0)


# ---------------------------------------------------------------------------- the choice
def step_work(module: nn.Module, batch_size: int) -> int:
    """Multiply-adds of one time step of a batch, roughly: the module's parameter count times the batch size."""
    return sum(p.numel() for p in module.parameters()) * max(1, int(batch_size))


def auto_threads(work: int) -> int:
    """The automatic choice for `work` multiply-adds per step (rules 2 and 3 of the module docstring)."""
    if in_parallel_worker():
        return 1
    return max(1, min(cpu_budget() // 2, int(work) // WORK_PER_THREAD))


def choose_threads(n_threads: Any, work: int) -> int | None:
    """Threads for the library's work: `n_threads` when given, else the policy; None = leave torch's setting."""
    n = check_int("n_threads", n_threads, 1, allow_none=True, maximum=4096)
    if n is not None:
        return n
    env = os.environ.get(ENV, "").strip().lower()
    if env == "torch":
        return None
    if env not in ("", "auto"):
        try:
            return check_int(ENV, int(env), 1, maximum=4096)
        except ValueError:
            raise ValueError(f"{ENV}={os.environ[ENV]!r} is not valid; use an integer >= 1, 'auto' or "
                             "'torch'.") from None
    return auto_threads(work)


_lock = threading.Lock()
_active = 0  # blocks of use_threads running now, in all threads of the process
_saved = 1  # torch's count before the first of them


@contextmanager
def use_threads(n: int | None) -> Iterator[int]:
    """``torch.set_num_threads(n)`` inside the block, torch's previous count back after it; yields the count used.

    None leaves torch's setting alone. Torch's count is one setting for the whole process:
    when blocks overlap (fits in several threads), the count from before the first one is
    restored when the last one ends.
    """
    global _active, _saved
    if n is None:
        yield torch.get_num_threads()
        return
    with _lock:
        if _active == 0:
            _saved = torch.get_num_threads()
        _active += 1
        if torch.get_num_threads() != n:
            torch.set_num_threads(n)
    try:
        yield n
    finally:
        with _lock:
            _active -= 1
            if _active == 0 and torch.get_num_threads() != _saved:
                torch.set_num_threads(_saved)


def build_threads(n_threads: Any = None) -> int | None:
    """Threads for building (initialising) a module: 1, or None (torch's setting) when the policy is off.

    Initialisation is a few small QR factorisations (orthogonal recurrent weights): under load
    PyTorch's default threads took ~280 ms for a (256, 64) matrix that one thread factorises in
    0.4 ms, and the factors' last bits depend on the thread count. One thread makes the initial
    weights the same whatever `n_threads`, ``OMP_NUM_THREADS`` or the CPU count. With
    ``LSTMAE_THREADS=torch`` (and no `n_threads`) the policy is off and torch's setting is kept.
    """
    if n_threads is None and os.environ.get(ENV, "").strip().lower() == "torch":
        return None
    return 1


def thread_policy(n_threads: Any, module: nn.Module, batch_size: int):
    """`use_threads` with the count `choose_threads` picks for `module` at `batch_size` (the estimators' hook)."""
    return use_threads(choose_threads(n_threads, step_work(module, batch_size)))
