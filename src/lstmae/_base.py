"""What the estimators share: training parameters, device, seeding, batching, and the save/load skeleton.

`SequenceEstimator` is the base of `LSTMAutoencoder` and `LSTMClassifier`. A subclass
says how to build its module (`build_module`) and what else its state holds
(`extra_state` / `restore_extra_state`); the base does the rest: validating the shared
training parameters, choosing the device, seeding a forked RNG, scaling and batching
sequences, running the training loop, and writing / reading the model directory.
"""
from __future__ import annotations

import contextlib
import copy
import dataclasses
import os
import random
import sys
import warnings
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch
from sklearn.base import BaseEstimator
from sklearn.utils.validation import check_is_fitted
from torch import nn

from . import distributed
from ._validation import check_bool, check_number
from .config import ModelConfig
from .data.scaling import SCALES, SequenceScaler, check_scale, check_scaled
from .data.sequences import Padded
from .data.spec import DataSpec
from .serialization import ModelFileError, check_weights, load_weights, read_model_dir, save_model_dir
from .threads import build_threads, thread_policy, use_threads
from .training import Batch, Callback, Trainer, TrainSettings, infer

def resolve_device(device: Any) -> torch.device:
    """"auto" -> CUDA when available, else CPU; anything else must be a usable torch device."""
    if device == "auto" or device is None:
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError):
        raise ValueError(f"device={device!r} is not valid; use 'auto', 'cpu', 'cuda' or 'cuda:N'.") from None
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device={device!r} but CUDA is not available on this machine; use device='auto' or 'cpu'.")
    if dev.type == "mps" and not torch.backends.mps.is_available():
        raise ValueError(f"device={device!r} but MPS is not available on this machine; use device='auto' or 'cpu'.")
    return dev


def seed_from(random_state: Any) -> int:
    """An int seed from None, an int or a numpy RandomState/Generator (sklearn style)."""
    if random_state is None:
        return random.SystemRandom().randrange(2**31)
    if isinstance(random_state, (int, np.integer)) and not isinstance(random_state, bool):
        return int(random_state) % (2**63)
    if isinstance(random_state, np.random.RandomState):
        return int(random_state.randint(2**31))
    if isinstance(random_state, np.random.Generator):
        return int(random_state.integers(2**31))
    raise ValueError(f"random_state={random_state!r} is not valid; use None, an int or a numpy RandomState.")


def resolve_verbose(verbose: Any) -> bool:
    """"auto" (as Keras): a progress bar in a terminal or a notebook, silence in pipes, files and tests."""
    if isinstance(verbose, str) and verbose == "auto":
        if os.environ.get("PYTEST_CURRENT_TEST") or os.environ.get("CI"):
            return False
        if "ipykernel" in sys.modules:
            return True
        return bool(getattr(sys.stderr, "isatty", lambda: False)())
    if not isinstance(verbose, (bool, int, np.bool_)):
        raise ValueError(f"verbose={verbose!r} is not valid; it must be True, False or 'auto'.")
    return bool(verbose)


def validation_count(n: int, validation_split: float) -> int:
    """How many of `n` samples `validation_split` holds out; both parts must keep at least one."""
    n_val = int(round(n * float(validation_split)))
    if validation_split > 0 and (n_val < 1 or n_val >= n):
        raise ValueError(
            f"validation_split={validation_split} leaves {n - n_val} training and {n_val} validation "
            f"samples out of {n}; both need at least one. Use more data or validation_split=0."
        )
    return n_val


def scaled_batch(padded: Padded, scaler: SequenceScaler, name: str = "X") -> dict[str, torch.Tensor]:
    """Scale `padded`, re-zero its padding, and wrap it as a batch dict of CPU tensors.

    Keys: ``x`` (N, L, F) float32, and ``lengths`` (N,) int64 when the lengths differ.
    Values that overflow float32 once scaled (far outside the range seen in fit) are refused.
    """
    mask = padded.mask()
    x = scaler.transform(padded.x) * mask[:, :, None]
    check_scaled(x, scaler, name)
    data = {"x": torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32))}
    if not padded.equal_length:
        data["lengths"] = torch.from_numpy(padded.lengths)
    return data


def json_params_of(est: BaseEstimator, exclude: tuple[str, ...] = ()) -> dict:
    """`est`'s constructor parameters (less `exclude`) as JSON values: a RandomState object becomes None."""
    params = {k: v for k, v in est.get_params(deep=False).items() if k not in exclude}
    if not (params.get("random_state") is None or isinstance(params["random_state"], int)):
        params["random_state"] = None  # a RandomState object cannot go into JSON
    return params


class DataSpecMixin:
    """``data_spec_``: how the training data was read and cut, saved with the model (`DataSpec`)."""

    def with_data_spec(self, spec: DataSpec | None):
        """Record how the training data was read (columns, roles, windowing); returns self.

        The command line records the file's columns and roles this way; ``fit_series``
        records the windowing itself.
        """
        if spec is not None and not isinstance(spec, DataSpec):
            raise ValueError(f"spec must be a lstmae.data.spec.DataSpec or None, got {type(spec).__name__}.")
        self.data_spec_ = spec
        return self


class SequenceEstimator(DataSpecMixin, BaseEstimator):
    """Base of the estimators that train an `nn.Module` on sequences (see the module docstring)."""

    # constructor parameters that files saved by older versions lack, with the value that loads them as they were
    LEGACY_PARAMS: dict[str, Any] = {"cell_clip": None}  # lstmae <= 0.5: relu cells were not clipped

    # ------------------------------------------------------------------ fitting
    def _train_settings(self) -> TrainSettings:
        """The shared training parameters, validated (in `fit`, as scikit-learn asks)."""
        check_number("learning_rate", self.learning_rate, 0.0, low_inclusive=False)
        check_number("batch_size", self.batch_size, 1, integer=True)
        check_number("epochs", self.epochs, 1, integer=True)
        check_number("validation_split", self.validation_split, 0.0, 1.0)
        check_number("patience", self.patience, 1, integer=True, allow_none=True)
        check_number("clip_grad_norm", self.clip_grad_norm, 0.0, low_inclusive=False, allow_none=True)
        check_scale(self.scale)
        distributed.check_precision(getattr(self, "precision", "fp32"))
        check_bool("warm_start", getattr(self, "warm_start", False))
        return TrainSettings(
            epochs=int(self.epochs), batch_size=int(self.batch_size), learning_rate=float(self.learning_rate),
            patience=None if self.patience is None else int(self.patience),
            clip_grad_norm=None if self.clip_grad_norm is None else float(self.clip_grad_norm),
            verbose=resolve_verbose(self.verbose),
        )

    def _train(self, build: Callable[[], nn.Module], train: Batch, val: Batch | None, settings: TrainSettings,
               device: torch.device, seed: int, *, prepare: Callable[[nn.Module], tuple[list[Callback], dict | None]]
               | None = None, monitor: Callable | None = None,
               init: "Continuation | None" = None) -> tuple[nn.Module, dict]:
        """Build the module and train it under a forked, seeded torch RNG; returns (module in eval mode, history).

        `prepare(module) -> (callbacks, start_state)` sets up checkpointing / resuming. Torch's
        CPU threads follow `lstmae.threads` (``n_threads``) and are recorded in ``history["threads"]``.
        `init` (`continuation`): start from fitted weights (and optimiser state) instead of
        fresh ones. Under torchrun (``WORLD_SIZE > 1``) the module trains in
        DistributedDataParallel (`lstmae.distributed`). Sets ``device_`` (the process's GPU
        under torchrun) and ``optimizer_state_``; the history records ``processes``, ``device``,
        ``precision`` (and ``epochs_before``, the epochs of the fits it continued).
        """
        precision = getattr(self, "precision", "fp32")
        with distributed.process_group(device) as world:
            device = world.device
            world.check_batch_size(settings.batch_size)
            if not world.is_main:  # rank 0 alone shows progress
                settings = dataclasses.replace(settings, verbose=False)
            with torch.random.fork_rng(devices=[]):
                torch.manual_seed(seed)
                with use_threads(build_threads(getattr(self, "n_threads", None))):  # initialisation: 1 thread
                    module = build()
                    if init is not None:
                        init.load_weights(module)
                distributed.check_precision(precision, device, module)
                with thread_policy(getattr(self, "n_threads", None), module, settings.batch_size) as threads:
                    generator = torch.Generator().manual_seed(seed)
                    callbacks, start_state = prepare(module) if prepare is not None else ([], None)
                    trainer = Trainer(module, settings, generator, device, callbacks=callbacks, monitor=monitor,
                                      world=world, precision=precision)
                    if init is not None:
                        init.load_optimizer(trainer.optimizer, settings.learning_rate)
                    history = trainer.fit(train, val, start_state=start_state)
                    # still under the policy's threads: a large copy on the caller's (spinning) threads took
                    # 40-100 ms under load
                    optimizer_state = _cpu_copy(trainer.optimizer.state_dict())
        history["threads"] = threads
        history.update(processes=world.size, device=device.type, precision=precision)
        if init is not None:
            history["epochs_before"] = init.epochs_before
        self.device_ = device
        self.optimizer_state_ = optimizer_state
        return module.eval(), history

    def continuation(self, n_features: int) -> "Continuation | None":
        """What a fit continues from: the fitted weights and optimiser with ``warm_start=True`` (or in
        `partial_fit`) on a fitted estimator; None (a fresh start) otherwise."""
        if not (check_bool("warm_start", getattr(self, "warm_start", False)) and hasattr(self, "module_")):
            return None
        if n_features != self.n_features_in_:
            raise ValueError(
                f"X has {n_features} features, but this {type(self).__name__} was fitted with {self.n_features_in_}; "
                "warm_start and partial_fit continue the fitted model, so they need the same features (set "
                "warm_start=False, or use a new estimator, to start over)."
            )
        h = getattr(self, "history_", None) or {}
        return Continuation(
            weights={k: v.detach().cpu().clone() for k, v in self.module_.state_dict().items()},
            optimizer=getattr(self, "optimizer_state_", None),
            epochs_before=int(h.get("epochs_before", 0)) + len(h.get("train_loss", [])),
        )

    @contextlib.contextmanager
    def _one_pass(self):
        """`partial_fit`: inside the block, `fit` makes one pass over all of X (no validation split, no early
        stopping) and continues a fitted model (``warm_start``); the parameters come back afterwards."""
        saved = {k: getattr(self, k) for k in ("epochs", "validation_split", "patience", "warm_start")}
        self.epochs, self.validation_split, self.patience, self.warm_start = 1, 0.0, None, True
        try:
            yield
        finally:
            for k, v in saved.items():
                setattr(self, k, v)

    # ------------------------------------------------------------------ inference
    def infer(self, fn: Callable[[Batch], dict[str, torch.Tensor]], data: Batch,
               time_keys: tuple[str, ...] = ()) -> dict[str, np.ndarray]:
        """`fn` over `data` in batches of ``batch_size`` on the fitted device; numpy results."""
        self.module_.eval()
        with thread_policy(getattr(self, "n_threads", None), self.module_, int(self.batch_size)), \
                distributed.inference_autocast(self.device_, getattr(self, "precision", "fp32"), self.module_):
            out = infer(fn, data, int(self.batch_size), self.device_, time_keys)
        # results of a bf16 / fp16 forward pass come back as float32, as numpy cannot hold bfloat16
        return {k: (v.float() if v.dtype in (torch.bfloat16, torch.float16) else v).numpy() for k, v in out.items()}

    def summary(self, n_features: int | None = None, seq_len: int | None = None):
        """The layers in data-flow order with shapes and parameter counts (`lstmae.summary.ModelSummary`).

        Works before ``fit`` when `n_features` (F) is given, and after. `seq_len`: the
        sequence length shown (default: the training window when known, else ``L``).
        ``print(est.summary())`` prints it; ``.to_frame()`` gives a DataFrame.
        """
        from .summary import summarize

        if hasattr(self, "module_"):
            spec = getattr(self, "data_spec_", None)
            return summarize(self.module_, seq_len if seq_len is not None else getattr(spec, "window", None))
        if n_features is None:
            raise ValueError(f"this {type(self).__name__} is not fitted yet; give n_features=F (the number of "
                             "features per time step) to see the model it would build.")
        return summarize(self.unfitted_module(int(n_features)), seq_len)

    def unfitted_module(self, n_features: int) -> nn.Module:  # pragma: no cover - every subclass defines it
        """The module `fit` would build for `n_features` features (randomly initialised)."""
        raise NotImplementedError

    def _fitted(self) -> ModelConfig:
        check_is_fitted(self, "module_")
        return self.config_

    # ------------------------------------------------------------------ persistence
    def json_params(self) -> dict:
        """The constructor parameters as JSON values (what config.json stores)."""
        return json_params_of(self)

    @classmethod
    def params_from_json(cls, params: dict) -> dict:
        """Inverse of `json_params` (types JSON cannot keep)."""
        return dict(params)

    def extra_state(self) -> dict:
        """What a subclass adds to state.json beyond scaler, history and n_features_in_."""
        return {}

    def restore_extra_state(self, state: dict) -> None:
        """Inverse of `extra_state` (raise KeyError/TypeError/ValueError on bad content)."""

    def build_module(self) -> nn.Module:  # pragma: no cover - every subclass defines it
        raise NotImplementedError

    def to_parts(self) -> tuple[dict, nn.Module, dict]:
        """The parts of a saved model: (config, module, state); `save` writes them, `from_parts` reads them."""
        check_is_fitted(self, "module_")
        config = {"estimator": type(self).__name__, "params": self.json_params(), "model": self.config_.to_dict()}
        if getattr(self, "data_spec_", None) is not None:
            config["data"] = self.data_spec_.to_dict()
        state = {"n_features_in_": self.n_features_in_, "scaler": self.scaler_.to_dict(), "history": self.history_,
                 **self.extra_state()}
        return config, self.module_, state

    def save(self, path: str | os.PathLike) -> None:
        """Save to a directory: config.json + model.safetensors + state.json (no pickle)."""
        save_model_dir(path, *self.to_parts())

    @classmethod
    def from_parts(cls, config: dict, tensors: dict, state: dict, source: Any, device: str = "auto"):
        """A fitted estimator from the parts `to_parts` wrote (and its weights), checked for consistency."""
        try:
            params = {**cls.LEGACY_PARAMS, **cls.params_from_json(config["params"]), "device": device}
            est = cls(**params)
            est.config_ = ModelConfig.from_dict(config["model"])
            est.scaler_ = SequenceScaler.from_dict(state["scaler"])
            est.history_ = state["history"]
            est.n_features_in_ = int(state["n_features_in_"])
            est.data_spec_ = DataSpec.from_dict(config["data"]) if config.get("data") is not None else None
            est.restore_extra_state(state)
            _check_restored(est)
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise ModelFileError(f"the config or state in {source} is invalid ({exc}); save the model again.") from None

        def build(cfg: ModelConfig) -> nn.Module:  # the module for another architecture (check_weights' search)
            saved, est.config_ = est.config_, cfg
            try:
                return est.build_module()
            finally:
                est.config_ = saved

        check_weights(build, est.config_, tensors, source)  # shapes on the meta device: nothing allocated yet
        try:
            with use_threads(build_threads(getattr(est, "n_threads", None))):  # weights replaced below: 1 thread
                module = est.build_module()
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise ModelFileError(f"the config or state in {source} is invalid ({exc}); save the model again.") from None
        load_weights(module, tensors, source)
        est.device_ = resolve_device(device)
        est.module_ = module.to(est.device_).eval()
        return est

    @classmethod
    def load(cls, path: str | os.PathLike, device: str = "auto"):
        """Load a model saved by `save`: built from its config, weights loaded strictly, in eval mode."""
        config, tensors, state = read_model_dir(path, estimator=cls.__name__)
        return cls.from_parts(config, tensors, state, Path(path), device)

    # ------------------------------------------------------------------ sklearn tags
    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.three_d_array = True
        return tags


def _cpu_copy(state: Any) -> Any:
    """A deep copy of an optimiser state dict with its tensors on the CPU."""
    if torch.is_tensor(state):
        return state.detach().cpu().clone()
    if isinstance(state, dict):
        return {k: _cpu_copy(v) for k, v in state.items()}
    if isinstance(state, (list, tuple)):
        return type(state)(_cpu_copy(v) for v in state)
    return copy.deepcopy(state)


@dataclasses.dataclass
class Continuation:
    """Where a continued fit (``warm_start``, `partial_fit`, ``--init-from``) starts: the fitted `weights`,
    the optimiser state (None: a fresh optimiser, e.g. for a loaded model), and the epochs trained so far."""

    weights: dict
    optimizer: dict | None
    epochs_before: int

    def load_weights(self, module: nn.Module) -> None:
        try:
            module.load_state_dict(self.weights)
        except RuntimeError as exc:
            first = str(exc).strip().splitlines()
            raise ValueError(
                "warm_start: the fitted weights do not fit the model these parameters build "
                f"({first[1].strip() if len(first) > 1 else first[0] if first else exc}); keep the architecture "
                "parameters, or set warm_start=False to train from scratch."
            ) from None

    def load_optimizer(self, optimizer: torch.optim.Optimizer, learning_rate: float) -> None:
        """Adam's moments and step counts continue; the learning rate is the current parameter's."""
        if self.optimizer is None:
            return
        try:
            optimizer.load_state_dict(self.optimizer)
        except (ValueError, KeyError, RuntimeError) as exc:  # e.g. other parameter groups
            warnings.warn(f"warm_start: the fitted optimiser state does not fit this optimiser ({exc}); "
                          "Adam starts afresh from the fitted weights.", RuntimeWarning, stacklevel=4)
            return
        for group in optimizer.param_groups:
            group["lr"] = learning_rate


def _check_restored(est: SequenceEstimator) -> None:
    """Consistency of a loaded estimator's JSON state (scaler, feature count, history)."""
    n = est.config_.n_features
    if est.n_features_in_ != n:
        raise ValueError(f"n_features_in_={est.n_features_in_} but the architecture has n_features={n}")
    sc = est.scaler_
    if sc.method not in SCALES or sc.offset.shape != (n,) or sc.scale.shape != (n,):
        raise ValueError(f"the scaler does not fit {n} features (method {sc.method!r}, {sc.offset.size} offsets, "
                         f"{sc.scale.size} scales)")
    if not (np.isfinite(sc.offset).all() and np.isfinite(sc.scale).all() and (sc.scale > 0).all()):
        raise ValueError("the scaler holds non-finite or non-positive values")
    if not isinstance(est.history_, dict) or not isinstance(est.history_.get("train_loss"), list) \
            or not (est.history_["train_loss"] or est.history_.get("fine_tuned") is False):
        raise ValueError("the history is not an object with a non-empty train_loss list (empty only for a "
                         "classifier that kept its linear probe)")
    spec = est.data_spec_
    if spec is not None and spec.feature_names is not None and len(spec.feature_names) != n:
        raise ValueError(f"the data spec names {len(spec.feature_names)} features but the model has {n}")

