"""The training loop and batched inference.

The trainer knows only ``model(batch) -> (outputs, loss)`` (as minGPT's): it slices
batches out of a dict of tensors (no Python work per sample), runs Adam with
gradient-norm clipping, tracks per-epoch losses in a JSON-friendly history, stops
early on a monitored loss and restores the best weights, and stops with a clear
warning when the loss turns NaN or infinite.
"""
from __future__ import annotations

import copy
import math
import time
import warnings
from dataclasses import dataclass
from typing import Callable, Iterator, Protocol

import torch
from torch import Tensor, nn

Batch = dict[str, Tensor]


@dataclass
class TrainSettings:
    epochs: int
    batch_size: int
    learning_rate: float
    patience: int | None = None
    clip_grad_norm: float | None = 1.0
    verbose: bool = False
    min_delta: float = 0.0


class TrainingDivergedError(ValueError, RuntimeError):
    """The loss became NaN or inf before any epoch finished with a finite loss."""


class Callback(Protocol):
    """Called after every epoch with the model, the optimiser and the history so far.

    A callback may also define ``on_train_state(state: TrainState)``: it is then called
    right after ``on_epoch_end`` with the loop's whole state (what a checkpoint needs,
    see `lstmae.checkpoint`).
    """

    def on_epoch_end(self, model: nn.Module, optimizer: torch.optim.Optimizer, history: dict) -> None: ...


@dataclass
class TrainState:
    """The training loop between two epochs: live references, read-only for callbacks.

    `capture()` copies it into a ``start_state`` dict for `fit_module`, which then goes
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


def _to(batch: Batch, device: torch.device) -> Batch:
    return {k: v.to(device, non_blocking=True) for k, v in batch.items()}


@torch.no_grad()
def evaluate(model: nn.Module, data: Batch, batch_size: int, device: torch.device) -> float:
    """Mean loss over `data` in eval mode, each batch weighted by its size."""
    was_training = model.training
    model.eval()
    total, count = 0.0, 0
    for batch in iter_batches(data, batch_size):
        _, loss = model(_to(batch, device))
        size = batch["x"].shape[0]
        total += float(loss) * size
        count += size
    model.train(was_training)
    return total / max(count, 1)


@torch.no_grad()
def infer(model: nn.Module, data: Batch, batch_size: int, device: torch.device, keys: tuple[str, ...]) -> dict[str, Tensor]:
    """Run the model in eval mode over `data` in batches and gather `keys` of its outputs.

    Outputs with a time axis are padded back to the full length of ``data["x"]``.
    """
    was_training = model.training
    model.eval()
    steps = data["x"].shape[1]
    gathered: dict[str, list[Tensor]] = {k: [] for k in keys}
    encode_only = set(keys) <= {"code", "features"}
    for batch in iter_batches(data, batch_size):
        batch = _to(batch, device)
        if encode_only:
            batch["encode_only"] = torch.ones(())  # an Autoencoder then skips its decoders
        outputs, _ = model(batch)
        for k in keys:
            value = outputs[k].cpu()
            if k in ("reconstruction", "step_errors") and value.shape[1] < steps:
                value = torch.nn.functional.pad(value, (0, 0, 0, steps - value.shape[1]))
            gathered[k].append(value)
    model.train(was_training)
    return {k: torch.cat(v) for k, v in gathered.items()}


def _progress(verbose: bool, epochs: int):
    if not verbose:
        return None
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    return Progress(
        TextColumn("[bold]training"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
        TextColumn("{task.fields[losses]}"),
    )


def fit_module(
    model: nn.Module,
    train: Batch,
    val: Batch | None,
    settings: TrainSettings,
    generator: torch.Generator,
    device: torch.device,
    callbacks: list[Callback] | None = None,
    start_state: dict | None = None,
    monitor: Callable[[nn.Module, Batch], float] | None = None,
) -> dict:
    """Train `model` in place and return its history.

    History keys (lists with one entry per epoch unless noted): ``train_loss``,
    ``val_loss`` (when `val` is given), ``epoch_time`` (seconds); scalars
    ``best_epoch`` (0-based epoch of the lowest monitored loss: validation loss when
    `val` is given, else training loss), ``restored_best`` (True when the model ends
    with that epoch's weights: with early stopping (`patience`) or after divergence;
    otherwise it keeps the last epoch's), ``stopped_early`` and ``diverged`` (epoch at
    which the loss became NaN/inf, or None).

    `start_state` (from `TrainState.capture`, e.g. a checkpoint) resumes: weights,
    optimiser, RNG states (the shuffling `generator`, torch's CPU RNG, which must be
    the one the caller seeded), early-stopping state and history are restored and the
    loop goes on from the next epoch, to the same result as an uninterrupted run.

    `monitor` (optional, used only with `val`): ``monitor(model, val) -> float``, a
    score to minimise (e.g. the validation error rate) that replaces the validation
    loss for the best epoch and early stopping; its values go to ``history["val_monitor"]``.
    """
    model.to(device)
    # fused: one kernel for all parameters (3-4x faster steps on CPU than the per-tensor loop)
    optimizer = torch.optim.Adam(model.parameters(), lr=settings.learning_rate,
                                 fused=True if device.type in ("cpu", "cuda") else None)
    history: dict = {"train_loss": [], "epoch_time": [], "best_epoch": None, "stopped_early": False, "diverged": None}
    if val is not None:
        history["val_loss"] = []
    n = train["x"].shape[0]
    best, best_state, wait, first = math.inf, None, 0, 0
    if start_state is not None:
        model.load_state_dict(start_state["model"])
        optimizer.load_state_dict(start_state["optimizer"])
        generator.set_state(start_state["generator"])
        torch.set_rng_state(start_state["torch_rng"])
        if device.type == "cuda" and start_state.get("cuda_rng") is not None:
            torch.cuda.set_rng_state(start_state["cuda_rng"], device)
        history = copy.deepcopy(start_state["history"])
        best, wait, first = float(start_state["best"]), int(start_state["wait"]), int(start_state["epoch"])
        best_state = start_state["best_state"]
        if best_state is not None:
            best_state = {k: v.to(device) for k, v in best_state.items()}
        if settings.patience is not None and wait >= settings.patience:
            history["stopped_early"] = True
            first = settings.epochs  # it had stopped early: nothing left to run
    progress = _progress(settings.verbose, settings.epochs)
    task_id = (progress.add_task("fit", total=settings.epochs, completed=min(first, settings.epochs), losses="")
               if progress else None)
    if progress:
        progress.start()
    try:
        for epoch in range(first, settings.epochs):
            start = time.perf_counter()
            model.train()
            total = torch.zeros((), dtype=torch.float64)
            order = bucket_order(torch.randperm(n, generator=generator), train.get("lengths"), settings.batch_size,
                                 generator)
            for batch in iter_batches(train, settings.batch_size, order):
                _, loss = model(_to(batch, device))
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                if settings.clip_grad_norm is not None:
                    nn.utils.clip_grad_norm_(model.parameters(), settings.clip_grad_norm)
                optimizer.step()
                total += loss.detach().double().cpu() * batch["x"].shape[0]
            train_loss = float(total) / n
            history["train_loss"].append(train_loss)
            monitored = train_loss
            if val is not None:
                val_loss = evaluate(model, val, settings.batch_size, device)
                history["val_loss"].append(val_loss)
                monitored = val_loss
                if monitor is not None:
                    monitored = float(monitor(model, val))
                    history.setdefault("val_monitor", []).append(monitored)
            history["epoch_time"].append(time.perf_counter() - start)
            if not math.isfinite(monitored) or not math.isfinite(train_loss):
                history["diverged"] = epoch
                if best_state is None:
                    break  # no usable weights: the error below says it all
                warnings.warn(
                    f"training diverged: the loss became {monitored} at epoch {epoch + 1}; stopped and "
                    + "restored the weights of the best epoch. "
                    + "Lower learning_rate, set clip_grad_norm, or check the data scale.",
                    RuntimeWarning,
                    stacklevel=3,
                )
                break
            improved = monitored < best - settings.min_delta
            if improved:
                best, wait = monitored, 0
                history["best_epoch"] = epoch
                # tensor clones, not deepcopy: deepcopy's Python work per tensor dominated small fits
                best_state = {k: v.detach().clone() for k, v in model.state_dict().items()}
            else:
                wait += 1
            for cb in callbacks or []:
                cb.on_epoch_end(model, optimizer, history)
                if hasattr(cb, "on_train_state"):
                    last = epoch + 1 == settings.epochs or (settings.patience is not None and wait >= settings.patience)
                    cb.on_train_state(TrainState(epoch + 1, model, optimizer, generator, device, best, best_state,
                                                 wait, history, last, improved))
            if progress:
                text = f"loss {train_loss:.4g}" + (f"  val {history['val_loss'][-1]:.4g}" if val is not None else "")
                progress.update(task_id, advance=1, losses=text)
            if settings.patience is not None and wait >= settings.patience:
                history["stopped_early"] = True
                break
    finally:
        if progress:
            progress.stop()
    if history["diverged"] is not None and best_state is None:
        raise TrainingDivergedError(
            "training diverged in the first epoch (the loss became NaN or inf), so there are no "
            "usable weights. Lower learning_rate, set clip_grad_norm, or check the data scale."
        )
    history["restored_best"] = settings.patience is not None or history["diverged"] is not None
    if history["restored_best"]:
        model.load_state_dict(best_state)
    return history
