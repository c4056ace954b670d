"""The training loop and batched inference.

The trainer knows only ``model(batch) -> (outputs, loss)`` (as minGPT's): it slices
batches out of a dict of tensors (no Python work per sample), runs Adam with
gradient-norm clipping, tracks per-epoch losses in a JSON-friendly history, stops
early on a monitored loss and restores the best weights, and stops with a clear
warning when the loss turns NaN or infinite. A SIGTERM during `Trainer.fit` (what Slurm,
Kubernetes and systemd send before they kill) stops it at the next batch boundary with
`TrainingInterrupted`, once the checkpoint of the last completed epoch is on disk.
"""
from __future__ import annotations

import contextlib
import copy
import math
import signal
import threading
import time
import warnings
from pathlib import Path
from dataclasses import dataclass
from typing import Callable, Iterator, Protocol

import torch
from torch import Tensor, nn

from . import distributed as _dist

Batch = dict[str, Tensor]


@dataclass
class TrainSettings:
    epochs: int
    batch_size: int
    learning_rate: float
    patience: int | None = None
    clip_grad_norm: float | None = 1.0
    verbose: bool = False
    # early stopping never ends training before this many epochs (the best epoch is still
    # chosen among all of them): a model whose validation loss first rises while it learns
    # (a conditional decoder runs on its own outputs in validation) is not stopped untrained
    min_epochs: int = 10


class TrainingDivergedError(ValueError, RuntimeError):
    """The loss became NaN or inf before any epoch finished with a finite loss."""


STOP_SIGNALS = (signal.SIGTERM,)  # handled while `Trainer.fit` runs (in the main thread)


class TrainingInterrupted(Exception):
    """`Trainer.fit` stopped on a signal (SIGTERM) at a batch boundary.

    ``epoch``: the epochs completed; ``checkpoint_dir``: the checkpoint directory, which
    then holds that epoch (None without checkpointing, or when no epoch had finished);
    ``exit_code``: 128 + the signal number (143 for SIGTERM), the shell's convention.
    Fitting again with ``resume=True`` continues to the same result as an uninterrupted
    run. Not a `KeyboardInterrupt`: the command line reports it as one ``error:`` line.
    """

    def __init__(self, signum: int, epoch: int, checkpoint_dir: Path | None = None) -> None:
        self.signum, self.epoch, self.checkpoint_dir = int(signum), int(epoch), checkpoint_dir
        self.exit_code = 128 + self.signum
        super().__init__(self.message("fit again with resume=True to continue"))

    @property
    def signal_name(self) -> str:
        try:
            return signal.Signals(self.signum).name
        except ValueError:  # pragma: no cover
            return f"signal {self.signum}"

    def message(self, resume_hint: str) -> str:
        """The message, with `resume_hint` saying how to continue (API or command-line terms)."""
        head = (f"interrupted by {self.signal_name} after epoch {self.epoch}" if self.epoch
                else f"interrupted by {self.signal_name} before the first epoch ended")
        if self.checkpoint_dir is not None:
            return f"{head}; the checkpoint in {self.checkpoint_dir} holds epoch {self.epoch}: {resume_hint}"
        return f"{head}; no checkpoint holds it (save checkpoints to a checkpoint directory to be able to resume)"


class _StopRequested(Exception):
    """Internal: unwinds the loop from a batch boundary after a stop signal."""


class Callback(Protocol):
    """The loop's one hook: called after every epoch with the loop's whole state (`TrainState`).

    `lstmae.checkpoint.Checkpointer` is one; the state's live references are read-only.
    """

    def on_epoch_end(self, state: "TrainState") -> None: ...


@dataclass
class TrainState:
    """The training loop between two epochs: live references, read-only for callbacks.

    `capture()` copies it into a ``start_state`` dict for `Trainer.fit`, which then goes
    on exactly as the loop would have (same batches, same dropout masks, same early
    stopping): keys ``epoch`` (epochs completed), ``model`` and ``optimizer`` (state
    dicts), ``generator`` / ``torch_rng`` (/ ``cuda_rng``) (uint8 RNG states), ``best``,
    ``best_state`` (weights of the best epoch or None), ``wait``, ``history``.
    """

    epoch: int  # epochs completed
    model: nn.Module
    optimizer: torch.optim.Optimizer
    generator: torch.Generator
    device: torch.device
    best: float
    best_state: dict | None
    wait: int
    history: dict
    last: bool  # no further epoch follows (the last epoch, or early stopping is due)
    improved: bool  # this epoch set a new best monitored loss

    def capture(self) -> dict:
        state = {
            "epoch": self.epoch,
            "model": {k: v.detach().cpu().clone() for k, v in self.model.state_dict().items()},
            "optimizer": copy.deepcopy(self.optimizer.state_dict()),
            "generator": self.generator.get_state(),
            "torch_rng": torch.get_rng_state(),
            "best": self.best,
            "best_state": None if self.best_state is None
            else {k: v.detach().cpu().clone() for k, v in self.best_state.items()},
            "wait": self.wait,
            "history": copy.deepcopy(self.history),
        }
        if self.device.type == "cuda":
            state["cuda_rng"] = torch.cuda.get_rng_state(self.device)
        return state


def iter_batches(data: Batch, batch_size: int, order: Tensor | None = None) -> Iterator[Batch]:
    """Yield batches of `data` (a dict of tensors sharing the first dimension).

    `order` (a permutation) shuffles; the time axis of ``x`` is trimmed to the
    longest sequence of each batch, so short batches do not pay for padding.
    """
    if not isinstance(data, dict):  # a stream (`lstmae.data.sources.WindowStream`): its batches, in order
        yield from data.batches(None)
        return
    n = data["x"].shape[0]
    index = order if order is not None else torch.arange(n)
    for idx in index.split(batch_size):
        if order is None:  # contiguous: slice views, no copy
            batch = {k: v[int(idx[0]) : int(idx[-1]) + 1] for k, v in data.items()}
        else:
            batch = {k: v[idx] for k, v in data.items()}
        lengths = batch.get("lengths")
        if lengths is not None:
            batch["x"] = batch["x"][:, : int(lengths.max())]
        yield batch


def bucket_order(order: Tensor, lengths: Tensor | None, batch_size: int, generator: torch.Generator | None = None,
                 bucket_batches: int = 32) -> Tensor:
    """A shuffled `order` regrouped so that each batch holds sequences of similar length.

    Chunks of ``bucket_batches * batch_size`` shuffled sequences are sorted by length and cut
    into batches, and the batches are shuffled: the batches stay random, but `iter_batches`
    trims each to its longest sequence, so variable-length data pays little for padding.
    Equal lengths (or none) leave `order` unchanged.
    """
    if lengths is None or order.numel() <= batch_size or bool(lengths.min() == lengths.max()):
        return order
    parts = [c[torch.argsort(lengths[c], stable=True)] for c in order.split(batch_size * bucket_batches)]
    batches = torch.cat(parts).split(batch_size)
    shuffle = torch.randperm(len(batches), generator=generator)
    return torch.cat([batches[i] for i in shuffle.tolist()])


def to_device(batch: Batch, device: torch.device) -> Batch:
    if device.type == "cuda":  # through pinned host memory, so that the copy does not block
        return {k: (v.pin_memory() if v.device.type == "cpu" else v).to(device, non_blocking=True)
                for k, v in batch.items()}
    return {k: v.to(device, non_blocking=True) for k, v in batch.items()}


@torch.no_grad()
def mean_loss(model: nn.Module, data: Batch, batch_size: int, device: torch.device) -> float:
    """Mean loss of ``model(batch) -> (outputs, loss)`` over `data` in eval mode, each batch weighted by its size."""
    was_training = model.training
    model.eval()
    total, count = 0.0, 0
    for batch in iter_batches(data, batch_size):
        _, loss = model(to_device(batch, device))
        size = batch["x"].shape[0]
        total += float(loss) * size
        count += size
    model.train(was_training)
    return total / max(count, 1)


@torch.no_grad()
def infer(fn: Callable[[Batch], dict[str, Tensor]], data: Batch, batch_size: int, device: torch.device,
          time_keys: tuple[str, ...] = ()) -> dict[str, Tensor]:
    """Call ``fn(batch) -> dict of tensors`` on `data` in batches (no gradients) and concatenate its results.

    Batches are trimmed to their longest sequence (`iter_batches`); the results named in
    `time_keys` have a time axis (dimension 1) and are zero-padded back to the full length of
    ``data["x"]``. `fn` puts its model in eval mode itself (the loop does not know the model).
    """
    steps = data["x"].shape[1]
    gathered: dict[str, list[Tensor]] = {}
    for batch in iter_batches(data, batch_size):
        for k, value in fn(to_device(batch, device)).items():
            value = value.detach().cpu()
            if k in time_keys and value.shape[1] < steps:
                value = torch.nn.functional.pad(value, (0, 0) * (value.dim() - 2) + (0, steps - value.shape[1]))
            gathered.setdefault(k, []).append(value)
    return {k: torch.cat(v) for k, v in gathered.items()}


def _progress(verbose: bool):
    if not verbose:
        return None
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    return Progress(
        TextColumn("[bold]training"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
        TextColumn("{task.fields[losses]}"),
    )


class Trainer:
    """The training loop in small steps (skorch-style): `fit` = `resume`, then per epoch
    `train_epoch`, `validate`, `end_epoch` (divergence, best weights, callbacks, early stopping).

    It knows only ``model(batch) -> (outputs, loss)``. `monitor` (optional, used with
    validation data): ``monitor(model, val) -> float``, a score to minimise (e.g. the
    validation error rate) that replaces the validation loss for the best epoch and early
    stopping; its values go to ``history["val_monitor"]``.

    `world` (`lstmae.distributed.World`, several processes under torchrun): the module trains
    in DistributedDataParallel on this process's part of every global batch, and the losses
    are averaged over the processes (see `lstmae.distributed`). `precision` ("fp32", "bf16",
    "fp16"): forward passes under `torch.autocast` (fp16 with a `torch.amp.GradScaler`).
    Without them (one process, fp32) the loop is exactly the plain one.
    """

    def __init__(self, model: nn.Module, settings: TrainSettings, generator: torch.Generator, device: torch.device,
                 callbacks: list[Callback] | None = None,
                 monitor: Callable[[nn.Module, Batch], float] | None = None,
                 world: "_dist.World | None" = None, precision: str = "fp32") -> None:
        self.model = model.to(device)
        self.settings = settings
        self.generator = generator
        self.device = device
        self.callbacks = list(callbacks or [])
        self.monitor = monitor
        # fused: one kernel for all parameters (3-4x faster steps on CPU than the per-tensor loop)
        self.optimizer = torch.optim.Adam(model.parameters(), lr=settings.learning_rate,
                                          fused=True if device.type in ("cpu", "cuda") else None)
        self.history: dict = {"train_loss": [], "epoch_time": [], "best_epoch": None, "stopped_early": False,
                              "diverged": None}
        self.best, self.best_state, self.wait, self.epoch = math.inf, None, 0, 0
        self._best_buffers: dict[str, Tensor] | None = None  # `_snapshot`'s reused copy of the weights
        self.stop_signal: int | None = None  # set by a stop signal (SIGTERM) while `fit` runs
        # several processes (`lstmae.distributed`): `net` is the module in DistributedDataParallel, which
        # trains; `model` stays the plain module (state dicts, checkpoints, validation)
        self.world = world if world is not None and world.distributed else None
        self.net = self.model if self.world is None else self.world.wrap(self.model)
        self.precision = precision  # "fp32", "bf16" or "fp16": the forward passes run under torch.autocast
        self.grad_scaler = _dist.grad_scaler(device, precision)

    # ------------------------------------------------------------------ stop requests
    def request_stop(self, signum: int = signal.SIGTERM, frame=None) -> None:
        """Ask the loop to stop at the next batch boundary (the SIGTERM handler; callable directly)."""
        if self.stop_signal is None:
            self.stop_signal = int(signum)

    def _check_stop(self) -> None:
        if self.stop_signal is not None:
            raise _StopRequested

    @contextlib.contextmanager
    def _stop_signals(self) -> Iterator[None]:
        """`request_stop` as the handler of `STOP_SIGNALS` inside the block (main thread only; a signal
        the process ignores stays ignored); the previous handlers come back afterwards."""
        previous = {}
        if threading.current_thread() is threading.main_thread():
            for sig in STOP_SIGNALS:
                try:
                    before = signal.getsignal(sig)
                    if before is signal.SIG_IGN:
                        continue
                    signal.signal(sig, self.request_stop)
                    previous[sig] = signal.SIG_DFL if before is None else before
                except (ValueError, OSError):  # not the main interpreter, or not allowed
                    continue
        try:
            yield
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)

    def _interrupted(self) -> TrainingInterrupted:
        """Make sure the checkpoint holds the last completed epoch (callbacks' ``on_interrupt``); the exception."""
        directory = None
        for cb in self.callbacks:
            hook = getattr(cb, "on_interrupt", None)
            if hook is not None:
                directory = hook(self.epoch) or directory
        return TrainingInterrupted(self.stop_signal or signal.SIGTERM, self.epoch, directory)

    # ------------------------------------------------------------------ steps
    def resume(self, start_state: dict) -> None:
        """Restore weights, optimiser, RNG states, early-stopping state and history (`TrainState.capture`)."""
        self.model.load_state_dict(start_state["model"])
        self.optimizer.load_state_dict(start_state["optimizer"])
        self.generator.set_state(start_state["generator"])
        torch.set_rng_state(start_state["torch_rng"])
        if self.device.type == "cuda" and start_state.get("cuda_rng") is not None:
            torch.cuda.set_rng_state(start_state["cuda_rng"], self.device)
        self.history = copy.deepcopy(start_state["history"])
        self.best, self.wait = float(start_state["best"]), int(start_state["wait"])
        self.epoch = int(start_state["epoch"])
        best_state = start_state["best_state"]
        self.best_state = None if best_state is None else {k: v.to(self.device) for k, v in best_state.items()}
        if self.patience_spent:
            self.history["stopped_early"] = True
            self.epoch = self.settings.epochs  # it had stopped early: nothing left to run

    @property
    def patience_spent(self) -> bool:
        """Early stopping is due: `patience` epochs without a better monitored loss, and at least
        ``min_epochs`` epochs done."""
        return (self.settings.patience is not None and self.wait >= self.settings.patience
                and self.epoch >= self.settings.min_epochs)

    # ------------------------------------------------------------------ processes and precision
    def _share(self, order: Tensor) -> tuple[Tensor, int]:
        """(this process's part of the global `order`, its batch size): all of it with one process."""
        if self.world is None:
            return order, self.settings.batch_size
        w = self.world
        return _dist.shard_order(order, self.settings.batch_size, w.size, w.rank), w.check_batch_size(
            self.settings.batch_size)

    def _forward(self, batch: Batch):
        with _dist.autocast(self.device, self.precision):
            return self.net(to_device(batch, self.device))

    def _backward(self, loss: Tensor) -> None:
        if self.grad_scaler is None:
            loss.backward()
        else:  # fp16: a scaled loss, and the gradients unscaled again before clipping
            self.grad_scaler.scale(loss).backward()
            self.grad_scaler.unscale_(self.optimizer)

    def _step(self) -> None:
        if self.grad_scaler is None:
            self.optimizer.step()
        else:
            self.grad_scaler.step(self.optimizer)
            self.grad_scaler.update()

    def _epoch_mean(self, total: Tensor, n: int, order: Tensor) -> float:
        """The epoch's mean training loss: over this process's `n` samples, or all processes' (all_reduce)."""
        if self.world is None:
            return float(total) / n
        summed, count = self.world.all_reduce_sum([float(total), order.numel()])
        return summed / count

    def _over_processes(self, data: Batch, fn: Callable[[Batch], float]) -> float:
        """``fn(data)``; with several processes, the sample-weighted mean of ``fn`` over their parts of `data`."""
        if self.world is None:
            return fn(data)
        part = _dist.split_part(data, self.world.size, self.world.rank)
        count = part["x"].shape[0]
        return self.world.weighted_mean(fn(part) if count else 0.0, count)

    def train_epoch(self, train: Batch) -> float:
        """One pass over `train` in shuffled, length-bucketed batches; returns the mean training loss."""
        if not self.model.training:  # (a no-op walk over every submodule otherwise, each epoch)
            self.model.train()
        total = torch.zeros((), dtype=torch.float64)
        if isinstance(train, dict):
            n = train["x"].shape[0]
            order = bucket_order(torch.randperm(n, generator=self.generator), train.get("lengths"),
                                 self.settings.batch_size, self.generator)
            order, batch_size = self._share(order)  # this process's part of every global batch (several processes)
            batches = iter_batches(train, batch_size, order)
        else:  # a stream (`lstmae.data.sources.WindowStream`): it cuts, shuffles (with the generator) and batches
            if self.world is not None:
                raise ValueError("training from a stream runs in one process; several processes need in-memory data.")
            n, order, batches = len(train), torch.arange(0), train.batches(self.generator)
        for batch in batches:
            _, loss = self._forward(batch)
            self.optimizer.zero_grad(set_to_none=True)
            self._backward(loss)
            if self.settings.clip_grad_norm is not None:
                nn.utils.clip_grad_norm_(self.model.parameters(), self.settings.clip_grad_norm)
            self._step()
            total += loss.detach().double().cpu() * batch["x"].shape[0]
            self._check_stop()  # a batch boundary
        return self._epoch_mean(total, n, order)

    def _snapshot(self) -> dict[str, Tensor]:
        """A copy of the model's weights (the best epoch's), in buffers reused from one improvement to the next.

        Not deepcopy, nor a clone per tensor: in small fits (the tutorial's: one batch per epoch,
        almost every epoch an improvement) their per-tensor work was 6-8% of the fit. One
        ``_foreach_copy_`` into the same buffers instead; callbacks copy what they keep
        (`TrainState.capture`), and `finish` loads it into the model.
        """
        if self._best_buffers is None:
            state = self.model.state_dict()  # detached views of the parameters, updated in place by the optimiser
            self._best_sources = list(state.values())
            self._best_buffers = {k: v.clone() for k, v in state.items()}
        else:
            torch._foreach_copy_(list(self._best_buffers.values()), self._best_sources)
        return self._best_buffers

    def validate(self, val: Batch) -> float:
        """The validation loss (recorded), or the `monitor` score when one is given (recorded too)."""
        with _dist.autocast(self.device, self.precision):
            val_loss = self._over_processes(val, lambda part: mean_loss(self.model, part, self.settings.batch_size,
                                                                        self.device))
        self.history["val_loss"].append(val_loss)
        if self.monitor is None:
            return val_loss
        with _dist.autocast(self.device, self.precision):
            monitored = self._over_processes(val, lambda part: float(self.monitor(self.model, part)))
        self.history.setdefault("val_monitor", []).append(monitored)
        return monitored

    def end_epoch(self, train_loss: float, monitored: float, seconds: float) -> bool:
        """Record the epoch, keep the best weights, call the callbacks; True when training must stop."""
        self.history["train_loss"].append(train_loss)
        self.history["epoch_time"].append(seconds)
        epoch = self.epoch
        if not math.isfinite(monitored) or not math.isfinite(train_loss):
            self.history["diverged"] = epoch
            if self.best_state is not None:
                warnings.warn(
                    f"training diverged: the loss became {monitored} at epoch {epoch + 1}; stopped and "
                    "restored the weights of the best epoch. "
                    "Lower learning_rate, set clip_grad_norm, or check the data scale.",
                    RuntimeWarning,
                    stacklevel=4,
                )
            return True
        improved = monitored < self.best
        if improved:
            self.best, self.wait = monitored, 0
            self.history["best_epoch"] = epoch
            self.best_state = self._snapshot()
        else:
            self.wait += 1
        self.epoch = epoch + 1
        last = self.epoch == self.settings.epochs or self.patience_spent
        state = TrainState(self.epoch, self.model, self.optimizer, self.generator, self.device, self.best,
                           self.best_state, self.wait, self.history, last, improved)
        for cb in self.callbacks:
            cb.on_epoch_end(state)
        if self.patience_spent:
            self.history["stopped_early"] = True
            return True
        return False

    def finish(self) -> dict:
        """Raise when there are no usable weights; restore the best ones when asked (or after divergence)."""
        if self.history["diverged"] is not None and self.best_state is None:
            raise TrainingDivergedError(
                "training diverged in the first epoch (the loss became NaN or inf), so there are no "
                "usable weights. Lower learning_rate, set clip_grad_norm, or check the data scale."
            )
        self.history["restored_best"] = self.best_state is not None and (
            self.settings.patience is not None or self.history["diverged"] is not None)  # none with 0 epochs
        if self.history["restored_best"]:
            self.model.load_state_dict(self.best_state)
        return self.history

    # ------------------------------------------------------------------ the loop
    def fit(self, train: Batch, val: Batch | None = None, start_state: dict | None = None) -> dict:
        """Train the model in place and return its history.

        History keys (lists with one entry per epoch unless noted): ``train_loss``,
        ``val_loss`` (when `val` is given), ``epoch_time`` (seconds); scalars
        ``best_epoch`` (0-based epoch of the lowest monitored loss: validation loss when
        `val` is given, else training loss), ``restored_best`` (True when the model ends
        with that epoch's weights: with early stopping (`patience`) or after divergence;
        otherwise it keeps the last epoch's), ``stopped_early`` and ``diverged`` (epoch at
        which the loss became NaN/inf, or None).

        `start_state` (from `TrainState.capture`, e.g. a checkpoint) resumes: weights,
        optimiser, RNG states (the shuffling generator, torch's CPU RNG, which must be
        the one the caller seeded), early-stopping state and history are restored and the
        loop goes on from the next epoch, to the same result as an uninterrupted run.

        A SIGTERM while it runs (handled in the main thread only, the previous handler
        restored afterwards; `request_stop` does the same from code) stops it at the next
        batch boundary: a callback with ``on_interrupt(epoch)`` (the `Checkpointer`) makes
        sure the checkpoint holds the last completed epoch, then `TrainingInterrupted` is
        raised; resuming from that checkpoint gives the uninterrupted run's result.
        """
        if val is not None:
            self.history["val_loss"] = []
        if start_state is not None:
            self.resume(start_state)
        progress = _progress(self.settings.verbose)
        task = (progress.add_task("fit", total=self.settings.epochs, completed=min(self.epoch, self.settings.epochs),
                                  losses="") if progress else None)
        if progress:
            progress.start()
        try:
            with self._stop_signals():
                try:
                    self._loop(train, val, progress, task)
                    self._check_stop()  # a stop request after the last epoch still stops the caller
                except _StopRequested:
                    raise self._interrupted() from None
        finally:
            if progress:
                progress.stop()
        return self.finish()

    def _loop(self, train: Batch, val: Batch | None, progress, task) -> None:
        while self.epoch < self.settings.epochs:
            self._check_stop()
            start = time.perf_counter()
            train_loss = self.train_epoch(train)
            monitored = self.validate(val) if val is not None else train_loss
            stop = self.end_epoch(train_loss, monitored, time.perf_counter() - start)
            if progress:
                text = f"loss {train_loss:.4g}" + (f"  val {self.history['val_loss'][-1]:.4g}" if val is not None
                                                  else "")
                progress.update(task, advance=1, losses=text)
            if stop:
                break
