"""Training checkpoints: an interrupted `fit` resumes to the same result.

A checkpoint directory holds two kinds of files:

- ``checkpoint.json``: the commit point. Format name and version, the run's
  fingerprint (estimator parameters and a hash of the training data), the number of
  epochs completed, the early-stopping state (best loss, epochs without improvement),
  the history, the optimiser's structure (its parameter groups, and for every
  parameter the names of its state tensors), and the name and SHA-256 of the tensor
  file;
- ``checkpoint-<epoch>.safetensors``: the tensors: ``model.*`` (weights), ``best.*``
  (the weights of the best epoch), ``optimizer.<param>.<name>`` (Adam's moments and
  step counts), ``rng.torch`` and ``rng.generator`` (``rng.cuda``): the RNG states as
  uint8 tensors.

No pickle anywhere: safetensors and JSON cannot run code when read. Writes are
atomic and ordered: the new tensor file goes first, under a new name; then
``checkpoint.json`` is replaced (the commit); then older tensor files are removed. A
process killed at any moment leaves the previous checkpoint or the new one, whole.
Loading checks the format version, the tensor file's SHA-256, the tensors' names and
the fingerprint, and raises `CheckpointError` (a `ValueError`) saying what is wrong.

Writers hold the directory's lock (`lstmae._atomic.directory_lock`), so two runs never
interleave their files; the tensor file and ``checkpoint.json`` are staged and renamed
together (`lstmae._atomic.AtomicGroup`). A failed write (no space, read-only, no
permission) raises `lstmae._atomic.WriteError` naming the file and the cause, and leaves
the previous checkpoint whole (and no directory this save created).

`Checkpointer` also answers a stop request (SIGTERM, `lstmae.training.TrainingInterrupted`):
its `on_interrupt` makes sure the checkpoint of the last completed epoch is on disk,
also when ``every > 1`` skipped it (it keeps that epoch's state in memory until then).
"""
from __future__ import annotations

import contextlib
import hashlib
import json
import math
import os
import re
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from ._atomic import AtomicGroup, atomic_path, atomic_write, directory_lock, make_dirs, remove_made_dirs
from .serialization import sha256_file

__all__ = ["CHECKPOINT_FILE", "CheckpointError", "Checkpointer", "data_fingerprint", "has_checkpoint",
           "load_checkpoint", "save_checkpoint"]

FORMAT = "lstmae-checkpoint"
FORMAT_VERSION = 1
CHECKPOINT_FILE = "checkpoint.json"
_TENSORS = re.compile(r"checkpoint-\d{6,}\.safetensors")
_STRAY = re.compile(r"\.(tmp|bak)-.*-(checkpoint\.json|checkpoint-\d{6,}\.safetensors)")
MAX_CHECKPOINT_JSON_BYTES = 64 << 20  # checkpoint.json is read only up to this size


class CheckpointError(ValueError):
    """A checkpoint is corrupt, of an unknown format, or belongs to another run."""


def data_fingerprint(data: dict[str, torch.Tensor], n_val: int) -> dict:
    """Shapes and SHA-256 of the training tensors (a dict of CPU tensors), and the validation size."""
    digest = hashlib.sha256()
    shapes = {}
    for key in sorted(data):
        t = data[key].detach().cpu().contiguous()
        shapes[key] = list(t.shape)
        digest.update(key.encode())
        digest.update(str(t.dtype).encode())
        if t.numel():
            digest.update(memoryview(t.reshape(-1).view(torch.uint8).numpy()))  # no copy
    return {"shapes": shapes, "n_val": int(n_val), "sha256": digest.hexdigest()}


def has_checkpoint(directory: str | os.PathLike) -> bool:
    """True when `directory` holds a committed checkpoint (whether or not it is valid)."""
    return (Path(directory) / CHECKPOINT_FILE).is_file()


# ------------------------------------------------------------------------------ writing
def _json_value(value: Any) -> Any:
    if isinstance(value, (bool, int, str)) or value is None:
        return value
    if isinstance(value, float):
        return value
    if isinstance(value, (list, tuple)):
        return [_json_value(v) for v in value]
    raise TypeError(f"cannot store {type(value).__name__} {value!r} in a checkpoint")


def _split_optimizer(opt: dict, tensors: dict[str, torch.Tensor]) -> dict:
    """The optimiser state dict's structure as JSON; its tensors go into `tensors`."""
    state = {}
    for pid, entries in opt["state"].items():
        entry = {}
        for name, value in entries.items():
            if torch.is_tensor(value):
                key = f"optimizer.{pid}.{name}"
                tensors[key] = value.detach().cpu().contiguous()
                entry[name] = {"tensor": key}
            else:
                entry[name] = {"value": _json_value(value)}
        state[str(pid)] = entry
    groups = []
    for group in opt["param_groups"]:
        groups.append({
            "values": {k: _json_value(v) for k, v in group.items()},
            "tuples": sorted(k for k, v in group.items() if isinstance(v, tuple)),
        })
    return {"state": state, "param_groups": groups}


def _remove_stale(directory: Path, keep: str | None) -> None:
    for p in directory.iterdir():
        if (_TENSORS.fullmatch(p.name) and p.name != keep) or _STRAY.fullmatch(p.name):
            with contextlib.suppress(OSError):
                p.unlink()


def save_checkpoint(directory: str | os.PathLike, state: dict, fingerprint: dict) -> Path:
    """Write `state` (from `lstmae.training.TrainState.capture`) as the directory's checkpoint.

    Holds the directory's lock while writing; on a failed write (`lstmae._atomic.WriteError`)
    the previous checkpoint stays whole and a directory this call created is removed.
    """
    directory = Path(directory)
    if directory.exists() and not directory.is_dir():
        raise CheckpointError(f"cannot write checkpoints to {directory}: it is a file; give a directory path.")
    made = make_dirs(directory)
    try:
        with directory_lock(directory):
            return _save_checkpoint(directory, state, fingerprint)
    except BaseException:
        remove_made_dirs(made)
        raise


def _save_checkpoint(directory: Path, state: dict, fingerprint: dict) -> Path:
    tensors: dict[str, torch.Tensor] = {}
    for k, v in state["model"].items():
        tensors[f"model.{k}"] = v.detach().cpu().contiguous()
    if state["best_state"] is not None:
        for k, v in state["best_state"].items():
            tensors[f"best.{k}"] = v.detach().cpu().contiguous()
    tensors["rng.torch"] = state["torch_rng"].cpu().contiguous()
    tensors["rng.generator"] = state["generator"].cpu().contiguous()
    if state.get("cuda_rng") is not None:
        tensors["rng.cuda"] = state["cuda_rng"].cpu().contiguous()
    optimizer = _split_optimizer(state["optimizer"], tensors)
    name = f"checkpoint-{int(state['epoch']):06d}.safetensors"
    with AtomicGroup() as group:  # the tensor file, then checkpoint.json (the commit), renamed together
        with atomic_path(directory / name, group=group) as tmp:
            save_file(tensors, str(tmp), metadata={"format": FORMAT, "format_version": str(FORMAT_VERSION)})
            digest = sha256_file(tmp)
        meta = {
            "format": FORMAT,
            "format_version": FORMAT_VERSION,
            "epoch": int(state["epoch"]),
            "tensors": name,
            "sha256": digest,
            "fingerprint": fingerprint,
            "best": float(state["best"]),
            "has_best_state": state["best_state"] is not None,
            "wait": int(state["wait"]),
            "history": state["history"],
            "optimizer": optimizer,
        }
        with atomic_write(directory / CHECKPOINT_FILE, "w", group=group) as fh:
            fh.write(json.dumps(meta, indent=1, allow_nan=True) + "\n")
    _remove_stale(directory, keep=name)
    return directory / CHECKPOINT_FILE


def clear_checkpoint(directory: str | os.PathLike) -> None:
    """Remove the checkpoint files of `directory` (only lstmae's; other files stay)."""
    directory = Path(directory)
    if not directory.is_dir():
        return
    with directory_lock(directory):
        try:
            (directory / CHECKPOINT_FILE).unlink()  # uncommit first
        except FileNotFoundError:
            pass
        except OSError as exc:
            from ._atomic import WriteError

            raise WriteError(directory / CHECKPOINT_FILE, exc, "remove") from None
        _remove_stale(directory, keep=None)


# ------------------------------------------------------------------------------ reading
def _flat(d: Any, prefix: str = "") -> dict[str, Any]:
    if isinstance(d, dict):
        out: dict[str, Any] = {}
        for k, v in d.items():
            out.update(_flat(v, f"{prefix}{k}."))
        return out
    return {prefix[:-1]: d}


def _mismatch(saved: dict, current: dict) -> list[str]:
    a, b = _flat(saved), _flat(current)
    diffs = []
    for key in sorted(set(a) | set(b)):
        if a.get(key, "(absent)") != b.get(key, "(absent)"):
            if key == "data.sha256":
                diffs.append("the training data differ")
            else:
                diffs.append(f"{key}: {a.get(key, '(absent)')!r} in the checkpoint, {b.get(key, '(absent)')!r} now")
    return diffs


def _join_optimizer(opt: dict, tensors: dict[str, torch.Tensor]) -> dict:
    state = {}
    for pid, entries in opt["state"].items():
        entry = {}
        for name, spec in entries.items():
            entry[name] = tensors[spec["tensor"]] if "tensor" in spec else spec["value"]
        state[int(pid)] = entry
    groups = []
    for group in opt["param_groups"]:
        values = dict(group["values"])
        for key in group.get("tuples", []):
            values[key] = tuple(values[key])
        groups.append(values)
    return {"state": state, "param_groups": groups}


def load_checkpoint(directory: str | os.PathLike, fingerprint: dict | None = None) -> dict | None:
    """The `start_state` stored in `directory` (see `lstmae.training.Trainer.fit`), or None if it has none.

    Raises `CheckpointError` when the checkpoint is corrupt, of another format version,
    or (with `fingerprint`) made by a run with other parameters or data.
    """
    directory = Path(directory)
    if directory.exists() and not directory.is_dir():
        raise CheckpointError(f"{directory} is a file; a checkpoint is a directory with {CHECKPOINT_FILE}.")
    path = directory / CHECKPOINT_FILE
    if not path.is_file():
        return None
    try:
        with open(path, "rb") as fh:  # (read(n) reserves n bytes first: never more than the file has)
            raw = fh.read(min(os.fstat(fh.fileno()).st_size, MAX_CHECKPOINT_JSON_BYTES) + 1)
        if len(raw) > MAX_CHECKPOINT_JSON_BYTES:
            raise ValueError(f"larger than {MAX_CHECKPOINT_JSON_BYTES >> 20} MiB")
        meta = json.loads(raw.decode("utf-8"))
    except (ValueError, UnicodeDecodeError, RecursionError, MemoryError) as exc:
        raise CheckpointError(f"{path} is corrupt (not valid JSON: {exc}); delete the directory to start over.") from None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise CheckpointError(f"{path} is not an lstmae checkpoint; delete it or use another checkpoint directory.")
    version = meta.get("format_version")
    if version != FORMAT_VERSION:
        raise CheckpointError(
            f"{path} has checkpoint format version {version!r}, but this lstmae resumes version {FORMAT_VERSION} "
            "only; resume with the lstmae version that wrote it, or start over (resume=False)."
        )
    name = meta.get("tensors")
    if not isinstance(name, str) or not _TENSORS.fullmatch(name):
        raise CheckpointError(f"{path} is corrupt (bad tensor file name {name!r}); delete the directory to start over.")
    tensor_path = directory / name
    if not tensor_path.is_file():
        raise CheckpointError(f"{directory} is incomplete: {name} is missing; delete the directory to start over.")
    if sha256_file(tensor_path) != meta.get("sha256"):
        raise CheckpointError(
            f"{tensor_path} does not match the SHA-256 recorded in {CHECKPOINT_FILE} (changed or damaged); "
            "delete the directory to start over."
        )
    if fingerprint is not None:
        diffs = _mismatch(meta.get("fingerprint"), fingerprint)
        if diffs:
            raise CheckpointError(
                f"the checkpoint in {directory} belongs to another run ({'; '.join(diffs[:4])}); resume with the "
                "same data and parameters, use another checkpoint directory, or start over with resume=False."
            )
    try:
        tensors = load_file(str(tensor_path))
    except (SafetensorError, OSError, ValueError) as exc:
        raise CheckpointError(f"{tensor_path} is corrupt ({exc}); delete the directory to start over.") from None
    try:
        rng = {k: tensors[f"rng.{k}"] for k in ("torch", "generator")}
        reference = torch.get_rng_state()
        for k, t in rng.items():
            if t.dtype != torch.uint8 or tuple(t.shape) != tuple(reference.shape):
                raise ValueError(f"RNG state rng.{k} has dtype {t.dtype} and shape {tuple(t.shape)}")
        best = float(meta["best"])
        epoch, wait = meta["epoch"], meta["wait"]
        if not (isinstance(epoch, int) and isinstance(wait, int) and epoch >= 0 and wait >= 0):
            raise ValueError(f"epoch={epoch!r}, wait={wait!r}")
        history = meta["history"]
        if not isinstance(history, dict) or not isinstance(history.get("train_loss"), list):
            raise ValueError("the history is not a dict with train_loss")
        if math.isnan(best):
            raise ValueError("best loss is NaN")
        start = {
            "epoch": epoch,
            "model": {k[len("model."):]: v for k, v in tensors.items() if k.startswith("model.")},
            "best_state": ({k[len("best."):]: v for k, v in tensors.items() if k.startswith("best.")}
                           if meta["has_best_state"] else None),
            "optimizer": _join_optimizer(meta["optimizer"], tensors),
            "generator": rng["generator"],
            "torch_rng": rng["torch"],
            "best": best,
            "wait": wait,
            "history": history,
        }
        if "rng.cuda" in tensors:
            start["cuda_rng"] = tensors["rng.cuda"]
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise CheckpointError(f"{path} is invalid ({exc}); delete the directory to start over.") from None
    return start


# ------------------------------------------------------------------------------ callback
class Checkpointer:
    """A training callback (`lstmae.training.Callback`) that saves a checkpoint every `every`
    epochs, at every new best monitored loss, and after the last epoch."""

    def __init__(self, directory: str | os.PathLike, fingerprint: dict, every: int = 1) -> None:
        self.directory = Path(directory)
        self.fingerprint = fingerprint
        self.every = every
        self.saved_epoch: int | None = None  # the epoch of the last checkpoint this callback wrote
        self.pending: dict | None = None  # the state of the last completed epoch when it was not saved

    def on_epoch_end(self, state) -> None:
        if state.epoch % self.every == 0 or state.improved or state.last:
            save_checkpoint(self.directory, state.capture(), self.fingerprint)
            self.saved_epoch, self.pending = state.epoch, None
        else:  # kept (a CPU copy) so that a stop request can still save this epoch
            self.pending = state.capture()

    def on_interrupt(self, epoch: int) -> Path | None:
        """Training stops after `epoch` completed epochs: make sure the checkpoint holds that epoch.

        Returns the checkpoint directory when it holds `epoch` (None when no epoch ran since
        the run started and the directory holds no checkpoint).
        """
        if self.pending is not None and self.pending["epoch"] == epoch:
            save_checkpoint(self.directory, self.pending, self.fingerprint)
            self.saved_epoch, self.pending = epoch, None
        if self.saved_epoch == epoch or (self.saved_epoch is None and has_checkpoint(self.directory)):
            return self.directory
        return None


# ------------------------------------------------------------------------------ estimators
def prepare(checkpoint_dir: str | os.PathLike | None, every: Any, resume: Any, fingerprint: dict,
            module: torch.nn.Module) -> tuple[list[Checkpointer], dict | None]:
    """Validate an estimator's checkpoint arguments; return (callbacks, start_state) for `lstmae.training.Trainer`.

    ``resume=True`` with a checkpoint in `checkpoint_dir` gives its state (checked against
    `fingerprint` and `module`'s tensor names and shapes); without one, training starts
    from scratch. ``resume=False`` removes any checkpoint there first.
    """
    if isinstance(every, bool) or not isinstance(every, int) or every < 1:
        raise ValueError(f"checkpoint_every={every!r} is not valid; it must be an integer >= 1 (epochs).")
    if not isinstance(resume, bool):
        raise ValueError(f"resume={resume!r} is not valid; it must be True or False.")
    if checkpoint_dir is None:
        if resume:
            raise ValueError("resume=True needs checkpoint_dir: the directory the interrupted fit wrote its checkpoints to.")
        return [], None
    directory = Path(checkpoint_dir)
    if directory.exists() and not directory.is_dir():
        raise CheckpointError(f"checkpoint_dir={str(directory)!r} is a file; give a directory path.")
    start = load_checkpoint(directory, fingerprint) if resume else None
    if start is not None:
        expected = module.state_dict()
        for part in ("model", "best_state"):
            tensors = start[part]
            if tensors is None:
                continue
            bad = sorted(set(expected) ^ set(tensors)) or sorted(
                k for k in expected if tuple(expected[k].shape) != tuple(tensors[k].shape))
            if bad:
                raise CheckpointError(
                    f"the weights in the checkpoint in {directory} do not fit this model (first mismatch: {bad[0]}); "
                    "delete the directory to start over."
                )
    if not resume:
        clear_checkpoint(directory)
    return [Checkpointer(directory, fingerprint, every)], start
