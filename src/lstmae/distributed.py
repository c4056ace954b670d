"""Scaling out: several processes training one model (torchrun + DistributedDataParallel), and precision.

lstmae does not ship its own engine: it runs under PyTorch's launcher, ``torchrun``
(``python -m torch.distributed.run``), and wraps the module in
`torch.nn.parallel.DistributedDataParallel` (DDP).

Processes
---------
A fit inside a process that torchrun started with ``WORLD_SIZE > 1`` joins the process
group torchrun describes in the environment (``RANK``, ``WORLD_SIZE``, ``LOCAL_RANK``,
``MASTER_ADDR``, ``MASTER_PORT``): the ``gloo`` backend on CPU, ``nccl`` on GPUs (each
process uses the GPU of its ``LOCAL_RANK``), with a timeout of `timeout_seconds()` on
every collective (``LSTMAE_DIST_TIMEOUT``, default 120 s). The group is created when the
fit starts and destroyed when it ends (a group the caller made is used and left alone).

- Data: every process holds the whole training set and draws the same seeded shuffle
  as a one-process fit (`lstmae.training.bucket_order`, with the global ``batch_size``).
  Each global batch is cut into ``world_size`` contiguous parts (`shard_order`), so a
  process trains on ``batch_size / world_size`` samples per step and the processes
  together take the same global batch as one process would. ``batch_size`` must be a
  multiple of the number of processes. A last global batch smaller than the number of
  processes is left out (one process would have nothing to train on).
- Gradients: DDP averages them after every backward pass, so every process holds the
  same weights; gradient clipping and Adam then run identically everywhere.
- Losses: the training loss, the validation loss and a `monitor` score are summed over
  the processes with ``all_reduce`` (weighted by samples): every process sees the same
  numbers and takes the same early-stopping decision. Validation data are split across
  the processes too.
- Output: only rank 0 writes checkpoints, the model directory, progress bars and
  summaries (`is_main_process`).

What is and is not the same across process counts: the data order depends only on the
seed and the epoch (never on the number of processes), and checkpoints hold the unwrapped
module's weights, the optimiser and the RNG states, so a checkpoint written by N
processes resumes with M. The weights are *not* bit-identical across process counts: the
gradient of a global batch is summed in another order, and a per-process mean weights the
samples slightly differently where sequences have different lengths or the last batch is
uneven. With the same process count, seed and machine type, a run (and a resumed run) is
repeatable on CPU; the dropout masks are drawn from the same seeded stream on every
process.

A process that dies ends the job: torchrun stops the others, and a process whose
collective fails raises `DistributedError` (its rank and the cause; the command line
prints one ``error:`` line and exits with 1).

Precision
---------
``precision`` ("fp32", "bf16", "fp16") runs the forward passes of training and inference
under `torch.autocast`; "fp16" also scales the loss (`torch.amp.GradScaler`). "fp16" needs
a CUDA device; "bf16" runs on GPUs that support it and on CPUs whose oneDNN build has a
bfloat16 LSTM kernel (probed once: `cpu_bf16_lstm_supported`); lstmae's own cell
(``activation="relu"``) runs in fp32 only. Elsewhere training refuses the precision with a
message saying why, and inference falls back to fp32.
"""
from __future__ import annotations

import contextlib
import datetime
import functools
import inspect
import os
import subprocess
import sys
from dataclasses import dataclass
from typing import Iterator, Sequence

import torch
from torch import nn

__all__ = ["DistributedError", "World", "PRECISIONS", "autocast", "check_precision", "cpu_bf16_lstm_supported",
           "grad_scaler", "inference_autocast", "is_main_process", "launch", "process_group", "shard_order",
           "timeout_seconds"]

TIMEOUT_ENV = "LSTMAE_DIST_TIMEOUT"
DEFAULT_TIMEOUT_S = 120.0
PRECISIONS = ("fp32", "bf16", "fp16")
_DTYPES = {"bf16": torch.bfloat16, "fp16": torch.float16}


class DistributedError(RuntimeError):
    """A collective of a several-process fit failed: another process died, hung past the timeout,
    or the rendezvous failed. The message names this process's rank and the cause."""


# ---------------------------------------------------------------------------- who am I
def _env_int(name: str, default: int) -> int:
    text = os.environ.get(name)
    if text is None or text == "":
        return default
    try:
        return int(text)
    except ValueError:
        raise ValueError(f"the environment variable {name}={text!r} is not an integer (torchrun sets it).") from None


def env_world_size() -> int:
    """``WORLD_SIZE`` from the environment (torchrun's), 1 when unset."""
    return max(1, _env_int("WORLD_SIZE", 1))


def rank() -> int:
    """This process's rank: the process group's when one is initialised, else ``RANK`` (0 when unset)."""
    if torch.distributed.is_available() and torch.distributed.is_initialized():
        return torch.distributed.get_rank()
    return _env_int("RANK", 0)


def is_main_process() -> bool:
    """True in the process that writes files and prints (rank 0; any process outside torchrun)."""
    return rank() == 0


def timeout_seconds() -> float:
    """The timeout of the process group's collectives: ``LSTMAE_DIST_TIMEOUT`` (seconds), default 120."""
    text = os.environ.get(TIMEOUT_ENV)
    if not text:
        return DEFAULT_TIMEOUT_S
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not value > 0:
        raise ValueError(f"{TIMEOUT_ENV}={text!r} is not valid; give a number of seconds > 0.")
    return value


@dataclass(frozen=True)
class World:
    """The processes of a fit: this one's `rank` among `size`, its `local_rank` on the machine, the backend."""

    rank: int = 0
    size: int = 1
    local_rank: int = 0
    backend: str | None = None
    device: torch.device = torch.device("cpu")

    @property
    def distributed(self) -> bool:
        return self.size > 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    def check_batch_size(self, batch_size: int) -> int:
        """The per-process batch: ``batch_size / size``; a batch size that does not divide is refused."""
        if batch_size % self.size:
            low = max(self.size, batch_size - batch_size % self.size)
            raise ValueError(
                f"batch_size={batch_size} does not divide among {self.size} processes: the global batch is split "
                f"evenly across them; use a multiple of {self.size} (e.g. batch_size={low} or "
                f"{low + self.size})."
            )
        return batch_size // self.size

    def wrap(self, module: nn.Module) -> nn.Module:
        """`module` in `DistributedDataParallel` (parameters broadcast from rank 0)."""
        from torch.nn.parallel import DistributedDataParallel

        ids = [self.device.index] if self.device.type == "cuda" else None
        # LSTMs hold no running statistics: no buffers to broadcast before every forward pass
        # (PyTorch >= 2.13 names the switch forward_sync_buffers)
        params = inspect.signature(DistributedDataParallel.__init__).parameters
        sync = {"forward_sync_buffers": False} if "forward_sync_buffers" in params else {"broadcast_buffers": False}
        return DistributedDataParallel(module, device_ids=ids, **sync)

    def all_reduce_sum(self, values: Sequence[float]) -> list[float]:
        """`values` summed over the processes (float64), in every process."""
        device = self.device if self.backend == "nccl" else torch.device("cpu")
        t = torch.tensor([float(v) for v in values], dtype=torch.float64, device=device)
        torch.distributed.all_reduce(t, op=torch.distributed.ReduceOp.SUM)
        return t.cpu().tolist()

    def weighted_mean(self, value: float, weight: float) -> float:
        """The mean of the processes' `value`, each weighted by its `weight` (e.g. its sample count)."""
        total, count = self.all_reduce_sum([value * weight if weight else 0.0, weight])
        return total / count if count else float("nan")


def shard_order(order: torch.Tensor, batch_size: int, world_size: int, rank: int) -> torch.Tensor:
    """This process's part of a global sample `order`, for batches of ``batch_size / world_size``.

    Each global batch (``batch_size`` consecutive entries of `order`) is cut into
    `world_size` contiguous parts (sizes differing by at most one) and process `rank`
    takes part `rank`: reading the result in batches of ``batch_size / world_size`` gives
    every process its part of the same global batch, step by step. A last batch with
    fewer samples than processes is left out, so every process takes the same number of steps.
    """
    parts = [idx.tensor_split(world_size)[rank] for idx in order.split(batch_size) if idx.numel() >= world_size]
    return torch.cat(parts) if parts else order[:0]


def split_part(data: dict[str, torch.Tensor], world_size: int, rank: int) -> dict[str, torch.Tensor]:
    """Process `rank`'s contiguous part of a dict of tensors (e.g. validation data; may be empty)."""
    n = next(iter(data.values())).shape[0]
    bounds = torch.arange(n).tensor_split(world_size)[rank]
    start = int(bounds[0]) if bounds.numel() else 0
    return {k: v[start : start + bounds.numel()] for k, v in data.items()}


# ---------------------------------------------------------------------------- the process group
@contextlib.contextmanager
def process_group(device: torch.device) -> Iterator[World]:
    """The processes this fit runs on, for the duration of the block.

    One process (no ``WORLD_SIZE > 1`` and no group): ``World()`` with `device`, and nothing
    else happens. Under torchrun: joins the group from the environment (``gloo`` on CPU,
    ``nccl`` on CUDA, where each process takes the GPU of its ``LOCAL_RANK``), destroyed
    again at the end; a group the caller initialised is used as is. A `RuntimeError`
    inside the block (a failed collective) becomes a `DistributedError` naming the rank.
    """
    dist = torch.distributed
    initialised = dist.is_available() and dist.is_initialized()
    size = dist.get_world_size() if initialised else env_world_size()
    if size <= 1:
        yield World(device=device)
        return
    if not dist.is_available():  # pragma: no cover - every desktop/server build has it
        raise RuntimeError("WORLD_SIZE > 1 but this PyTorch build has no torch.distributed.")
    local_rank = _env_int("LOCAL_RANK", 0)
    if device.type == "cuda":
        device = torch.device("cuda", local_rank % max(1, torch.cuda.device_count()))
        torch.cuda.set_device(device)
    elif device.type != "cpu":
        raise ValueError(f"device={str(device)!r}: several processes train on 'cpu' or 'cuda' devices only.")
    made = False
    if not initialised:
        backend = "nccl" if device.type == "cuda" else "gloo"
        try:
            dist.init_process_group(backend, timeout=datetime.timedelta(seconds=timeout_seconds()))
        except (RuntimeError, ValueError) as exc:
            raise DistributedError(f"process {_env_int('RANK', 0)} of {size} could not join the process group "
                                   f"({_first_line(exc)}); check torchrun's rendezvous settings.") from exc
        made = True
    world = World(rank=dist.get_rank(), size=dist.get_world_size(), local_rank=local_rank,
                  backend=str(dist.get_backend()), device=device)
    failed = False
    try:
        yield world
    except RuntimeError as exc:
        if isinstance(exc, (DistributedError, ValueError)):  # ours, or a data / divergence error (a ValueError)
            raise
        failed = True
        raise DistributedError(
            f"process {world.rank} of {world.size} stopped: {_first_line(exc)} (in a run of several processes this "
            "usually means another process died or timed out; see its output)"
        ) from exc
    finally:
        if made:
            if not (failed and world.backend == "nccl"):  # a broken NCCL communicator can hang on destroy
                with contextlib.suppress(Exception):
                    dist.destroy_process_group()


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return (text.splitlines()[0] if text else type(exc).__name__)[:300]


# ---------------------------------------------------------------------------- launching
def launch(nproc: int, argv: Sequence[str]) -> int:
    """Run the command line `argv` (without ``--nproc``) in `nproc` processes under torchrun; its exit code.

    ``python -m torch.distributed.run --standalone --nproc-per-node N -m lstmae.cli ARGV``:
    a single-machine rendezvous on a free port. For several machines, call torchrun yourself
    with its rendezvous flags (see the README's "Scaling out").
    """
    if nproc < 1:
        raise ValueError(f"--nproc {nproc} is not valid; give a number of processes >= 1.")
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", str(nproc),
           "-m", "lstmae.cli", *argv]
    return subprocess.call(cmd)


def strip_option(argv: Sequence[str], name: str) -> list[str]:
    """`argv` without the option `name` and its value (``--name V`` or ``--name=V``)."""
    out, skip = [], False
    for arg in argv:
        if skip:
            skip = False
        elif arg == name:
            skip = True
        elif not arg.startswith(name + "="):
            out.append(arg)
    return out


# ---------------------------------------------------------------------------- precision
@functools.lru_cache(maxsize=None)
def cpu_bf16_lstm_supported() -> bool:
    """Whether PyTorch's fused `nn.LSTM` runs forward and backward under CPU bfloat16 autocast here.

    oneDNN provides that kernel on some CPUs only (elsewhere it fails with "could not create
    a primitive descriptor"); probed once per process on a tiny LSTM.
    """
    try:
        with torch.random.fork_rng(devices=[]):
            lstm = nn.LSTM(2, 4, batch_first=True)
            with torch.autocast("cpu", dtype=torch.bfloat16):
                out, _ = lstm(torch.zeros(2, 3, 2))
            out.float().sum().backward()
        return True
    except RuntimeError:
        return False


def _has_fused_lstm(module: nn.Module | None) -> bool:
    return module is None or any(isinstance(m, nn.RNNBase) for m in module.modules())


def _has_own_cell(module: nn.Module | None) -> bool:
    from .cells import LoopLSTM

    return module is not None and any(isinstance(m, LoopLSTM) for m in module.modules())


def check_precision(precision: str, device: torch.device | None = None, module: nn.Module | None = None) -> str:
    """`precision` validated for training `module` on `device` (None: the value alone); returns it."""
    if precision not in PRECISIONS:
        raise ValueError(f"precision={precision!r} is not valid; choose 'fp32', 'bf16' or 'fp16'.")
    if device is None or precision == "fp32":
        return precision
    if _has_own_cell(module):
        raise ValueError(f"precision={precision!r} with activation='relu': lstmae's own LSTM cell has no "
                         "reduced-precision backward pass; use activation='tanh' (PyTorch's fused LSTM) or "
                         "precision='fp32'.")
    if device.type == "cuda":
        if precision == "bf16" and not torch.cuda.is_bf16_supported():
            raise ValueError(f"precision='bf16' but {torch.cuda.get_device_name(device)} does not support "
                             "bfloat16; use precision='fp16' or 'fp32'.")
        return precision
    if device.type != "cpu":
        raise ValueError(f"precision={precision!r} is supported on 'cpu' and 'cuda' devices, not "
                         f"{device.type!r}; use precision='fp32'.")
    if precision == "fp16":
        raise ValueError("precision='fp16' needs a CUDA device (float16 with loss scaling is a GPU format); on the "
                         "CPU use precision='bf16' or 'fp32'.")
    if _has_fused_lstm(module) and not cpu_bf16_lstm_supported():
        raise ValueError(
            "precision='bf16' on this CPU: PyTorch's LSTM has no bfloat16 kernel here (oneDNN cannot build one "
            "for this CPU, e.g. one without AVX-512); use precision='fp32' on this machine, or "
            "a GPU."
        )
    return precision


def autocast(device: torch.device, precision: str):
    """The context of a forward pass: `torch.autocast` for "bf16" / "fp16", nothing for "fp32"."""
    if precision == "fp32":
        return contextlib.nullcontext()
    return torch.autocast(device.type, dtype=_DTYPES[precision])


def inference_autocast(device: torch.device, precision: str, module: nn.Module | None = None):
    """`autocast` for inference, falling back to fp32 where `device` cannot run `precision`
    (e.g. a model trained in fp16 on a GPU, used on a CPU)."""
    try:
        check_precision(precision, device, module)
    except ValueError:
        return contextlib.nullcontext()
    return autocast(device, precision)


def grad_scaler(device: torch.device, precision: str) -> torch.amp.GradScaler | None:
    """A `torch.amp.GradScaler` for "fp16" (gradients of float16 losses underflow without it), else None."""
    return torch.amp.GradScaler(device.type) if precision == "fp16" else None
