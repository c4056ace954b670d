"""The scikit-learn face of lstmae: `LSTMAutoencoder`.

Shape legend: N samples, L time steps, F features, C code size, K horizon.
"""
from __future__ import annotations

import os
import random
from typing import Any

import numpy as np
import torch
from sklearn.base import BaseEstimator, ClassNamePrefixFeaturesOutMixin, TransformerMixin
from sklearn.utils.validation import check_is_fitted

from .config import ModelConfig
from .data.scaling import SCALES, SequenceScaler
from .data.sequences import Padded, _check_finite, _numeric, restore_layout, to_padded
from .modules import Autoencoder
from .serialization import ModelFileError, load_weights, read_model_dir, save_model_dir
from .training import TrainSettings, evaluate, fit_module, infer


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


def _seed_from(random_state: Any) -> int:
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


def validation_count(n: int, validation_split: float) -> int:
    """How many of `n` samples `validation_split` holds out; both parts must keep at least one."""
    n_val = int(round(n * float(validation_split)))
    if validation_split > 0 and (n_val < 1 or n_val >= n):
        raise ValueError(
            f"validation_split={validation_split} leaves {n - n_val} training and {n_val} validation "
            f"samples out of {n}; both need at least one. Use more data or validation_split=0."
        )
    return n_val


def _check_number(name: str, value: Any, low: float, high: float | None = None, *, integer: bool = False,
                  low_inclusive: bool = True, allow_none: bool = False) -> None:
    if value is None and allow_none:
        return
    ok_type = isinstance(value, (int, np.integer)) if integer else isinstance(value, (int, float, np.number))
    ok = ok_type and not isinstance(value, bool) and np.isfinite(value)
    if ok:
        ok = value >= low if low_inclusive else value > low
        if high is not None:
            ok = ok and value < high
    if not ok:
        kind = "an integer" if integer else "a number"
        bound = f">= {low}" if low_inclusive else f"> {low}"
        rng = f"{bound} and < {high}" if high is not None else bound
        none = " or None" if allow_none else ""
        raise ValueError(f"{name}={value!r} is not valid; it must be {kind} {rng}{none}.")


def scaled_batch(padded: Padded, scaler: SequenceScaler) -> dict[str, torch.Tensor]:
    """Scale `padded`, re-zero its padding, and wrap it as a batch dict of CPU tensors.

    Keys: ``x`` (N, L, F) float32, and ``lengths`` (N,) int64 when the lengths differ.
    """
    mask = padded.mask()
    x = scaler.transform(padded.x) * mask[:, :, None]
    data = {"x": torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32))}
    if not padded.equal_length:
        data["lengths"] = torch.from_numpy(padded.lengths)
    return data


def _check_restored(est: Any) -> None:
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
            or not est.history_["train_loss"]:
        raise ValueError("the history is not an object with a non-empty train_loss list")


class LSTMAutoencoder(ClassNamePrefixFeaturesOutMixin, TransformerMixin, BaseEstimator):
    """LSTM autoencoder for sequences: reconstruct, predict the future, or both.

    An encoder LSTM reads each sequence into a fixed-length code; one or two decoder
    LSTMs rebuild the input and/or predict the next ``horizon`` steps from it.

    Parameters
    ----------
    task : {"reconstruct", "predict", "composite"}, default="reconstruct"
        Decoders to train: rebuild the input, predict the ``horizon`` steps that
        follow it, or both from one encoder (Srivastava et al. 2015's composite model;
        the loss is ``loss_weights[0] * reconstruction + loss_weights[1] * prediction``).
    horizon : int, default=1
        Number of future steps predicted (tasks "predict" and "composite").
    hidden_size : int, default=64
        Units of every LSTM layer (encoder and decoders).
    num_layers : int, default=1
        Stacked LSTM layers in the encoder and in each decoder.
    bidirectional : bool, default=False
        Bidirectional encoder; the code concatenates both directions' final states.
    dropout : float, default=0.0
        Dropout between stacked layers and on the code fed to the decoders (training only).
    code_size : int or None, default=None
        Optional linear bottleneck: the code is ``Linear(encoder state) -> code_size``.
        None: the code is the encoder's final hidden state (``hidden_size`` values,
        twice that when bidirectional).
    pooling : {"last", "last_hc", "mean"}, default="last"
        What ``transform`` returns (training is the same for all three; the decoders
        always read the code): "last" the code (above); "last_hc" the final hidden and
        cell states of every layer and direction, concatenated, size
        ``2 * num_layers * D * hidden_size``; "mean" the mean of the top layer's
        outputs over each sequence's valid steps (both directions), size
        ``D * hidden_size``. "last_hc" and "mean" read the LSTM before any
        ``code_size`` bottleneck, so their size does not depend on ``code_size``.
    bridge : {"repeat", "state"}, default="repeat"
        How the code reaches a decoder: as its input at every step (Keras
        RepeatVector), or as its initial state, the encoder's final (h, c) of every
        layer (Srivastava et al. 2015; a learned linear map of the code when
        ``code_size`` is set or the encoder is bidirectional).
    conditional : bool, default=False
        Feed each decoder step the previous frame: ground truth while training
        (teacher forcing), its own previous output at inference.
    reverse : bool, default=False
        Reconstruct in reversed time order (Srivastava et al. 2015; EncDec-AD).
        Outputs are always handed back in natural order.
    activation : {"tanh", "relu"}, default="tanh"
        Cell activation. "tanh" uses PyTorch's fused ``nn.LSTM``; "relu" (Keras
        tutorial style) uses lstmae's own cell.
    loss : {"mse", "mae", "huber", "bce"}, default="mse"
        Training loss; "bce" gives sigmoid outputs and needs (scaled) data in [0, 1]
        (use ``scale="minmax"`` or None), e.g. video frames.
    loss_weights : tuple of 2 floats, default=(1.0, 1.0)
        Weights of the reconstruction and prediction losses (task "composite").
    scale : {"standard", "minmax", None}, default="standard"
        Per-feature scaling learned in ``fit`` on valid steps, applied to every input
        and undone on every output.
    learning_rate : float, default=1e-3
        Adam's learning rate.
    batch_size : int, default=32
    epochs : int, default=50
        Maximum number of passes over the training data.
    validation_split : float, default=0.0
        Fraction of the samples held out to monitor the loss; like Keras, the last
        samples (not shuffled), so windows of a time series validate on later data.
    patience : int or None, default=None
        Early stopping: stop after this many epochs without improvement of the
        monitored loss (validation loss when ``validation_split > 0``, else training
        loss) and restore the best weights. None trains all ``epochs`` and keeps the
        last weights.
    clip_grad_norm : float or None, default=1.0
        Clip the gradients' global norm to this value; None disables clipping.
    random_state : int, RandomState or None, default=None
        Seed of weight initialisation, shuffling and dropout. The same int gives the
        same numbers on the same CPU type; the global torch RNG is left untouched.
    device : str, default="auto"
        "auto" uses CUDA when present, else the CPU; or "cpu", "cuda", "cuda:1", ...
    verbose : bool, default=False
        Show a progress bar with the losses while training.

    Attributes
    ----------
    module_ : lstmae.modules.Autoencoder
        The fitted PyTorch module.
    config_ : lstmae.config.ModelConfig
    scaler_ : lstmae.data.scaling.SequenceScaler
    history_ : dict
        Per-epoch ``train_loss`` (and ``val_loss``), ``epoch_time``, ``best_epoch``,
        ``restored_best``, ``stopped_early``, ``diverged``.
    n_features_in_ : int
        Number of features F seen in ``fit``.

    Notes
    -----
    Inputs may be an array (N, L, F), an array (N, L) of univariate sequences, a list
    of (L_i, F) arrays of different lengths, or a DataFrame (see
    `lstmae.data.sequences`). Variable-length sequences are packed, losses masked,
    and per-step results come back as a list of the same lengths.
    """

    def __init__(
        self,
        task: str = "reconstruct",
        horizon: int = 1,
        hidden_size: int = 64,
        num_layers: int = 1,
        bidirectional: bool = False,
        dropout: float = 0.0,
        code_size: int | None = None,
        pooling: str = "last",
        bridge: str = "repeat",
        conditional: bool = False,
        reverse: bool = False,
        activation: str = "tanh",
        loss: str = "mse",
        loss_weights: tuple[float, float] = (1.0, 1.0),
        scale: str | None = "standard",
        learning_rate: float = 1e-3,
        batch_size: int = 32,
        epochs: int = 50,
        validation_split: float = 0.0,
        patience: int | None = None,
        clip_grad_norm: float | None = 1.0,
        random_state: Any = None,
        device: str = "auto",
        verbose: bool = False,
    ) -> None:
        self.task = task
        self.horizon = horizon
        self.hidden_size = hidden_size
        self.num_layers = num_layers
        self.bidirectional = bidirectional
        self.dropout = dropout
        self.code_size = code_size
        self.pooling = pooling
        self.bridge = bridge
        self.conditional = conditional
        self.reverse = reverse
        self.activation = activation
        self.loss = loss
        self.loss_weights = loss_weights
        self.scale = scale
        self.learning_rate = learning_rate
        self.batch_size = batch_size
        self.epochs = epochs
        self.validation_split = validation_split
        self.patience = patience
        self.clip_grad_norm = clip_grad_norm
        self.random_state = random_state
        self.device = device
        self.verbose = verbose

    # ------------------------------------------------------------------ validation
    def _model_config(self, n_features: int) -> ModelConfig:
        return ModelConfig(
            n_features=n_features, task=self.task, horizon=self.horizon, hidden_size=self.hidden_size,
            num_layers=self.num_layers, bidirectional=self.bidirectional, dropout=self.dropout,
            code_size=self.code_size, bridge=self.bridge, conditional=self.conditional, reverse=self.reverse,
            activation=self.activation, loss=self.loss, pooling=self.pooling,
            loss_weights=tuple(self.loss_weights) if isinstance(self.loss_weights, (list, tuple)) else self.loss_weights,
        )

    def _train_settings(self) -> TrainSettings:
        _check_number("learning_rate", self.learning_rate, 0.0, low_inclusive=False)
        _check_number("batch_size", self.batch_size, 1, integer=True)
        _check_number("epochs", self.epochs, 1, integer=True)
        _check_number("validation_split", self.validation_split, 0.0, 1.0)
        _check_number("patience", self.patience, 1, integer=True, allow_none=True)
        _check_number("clip_grad_norm", self.clip_grad_norm, 0.0, low_inclusive=False, allow_none=True)
        if self.scale not in SCALES:
            raise ValueError(f"scale={self.scale!r} is not valid; choose 'standard', 'minmax' or None.")
        if not isinstance(self.verbose, (bool, int)):
            raise ValueError(f"verbose={self.verbose!r} is not valid; it must be True or False.")
        return TrainSettings(
            epochs=int(self.epochs), batch_size=int(self.batch_size), learning_rate=float(self.learning_rate),
            patience=None if self.patience is None else int(self.patience),
            clip_grad_norm=None if self.clip_grad_norm is None else float(self.clip_grad_norm),
            verbose=bool(self.verbose),
        )

    # ------------------------------------------------------------------ data plumbing
    def _split_targets(self, padded: Padded, y: Any, cfg: ModelConfig) -> tuple[Padded, np.ndarray | None]:
        """Inputs and future targets (N, K, F) for the prediction decoder (None without one).

        With ``y=None`` the last `horizon` steps of each sequence are its target and the
        steps before them its input.
        """
        if not cfg.has_prediction:
            return padded, None
        k, n = cfg.horizon, padded.x.shape[0]
        if y is None:
            short = np.flatnonzero(padded.lengths < k + 1)
            if short.size:
                i = int(short[0])
                raise ValueError(
                    f"sequence {i} has {int(padded.lengths[i])} steps, but task={cfg.task!r} with horizon={k} "
                    f"and y=None needs at least {k + 1} (the last {k} steps of each sequence are the target, "
                    "the rest the input). Lower horizon, pass the targets as y, or drop short sequences."
                )
            in_len = padded.lengths - k
            idx = in_len[:, None] + np.arange(k)[None, :]
            future = padded.x[np.arange(n)[:, None], idx]  # (N, K, F)
            x = padded.x[:, : int(in_len.max())].copy()
            x[~(np.arange(x.shape[1])[None, :] < in_len[:, None])] = 0.0
            return Padded(x, in_len, padded.layout), future.astype(np.float32)
        future = _numeric(y, "y", "")
        if future.ndim == 2 and padded.n_features == 1:
            future = future[:, :, None]
        if future.ndim != 3:
            raise ValueError(
                f"y has shape {future.shape}; for task={cfg.task!r} it must be the future steps, shaped "
                f"(N, horizon, F) = ({n}, {k}, {padded.n_features}) (or (N, horizon) when F is 1), or None "
                "to take the last horizon steps of each sequence."
            )
        if future.shape[0] != n:
            raise ValueError(f"y has {future.shape[0]} samples but X has {n}; give one target sequence per sample.")
        if future.shape[1] != k:
            raise ValueError(
                f"y has {future.shape[1]} steps but horizon={k}; set horizon={future.shape[1]} or pass "
                f"{k}-step targets."
            )
        if future.shape[2] != padded.n_features:
            raise ValueError(
                f"y has {future.shape[2]} features but X has {padded.n_features}; the targets must have the "
                "input's features."
            )
        _check_finite(future, "y")
        return padded, future.astype(np.float32)

    def _tensors(self, padded: Padded, future: np.ndarray | None) -> dict[str, torch.Tensor]:
        """Scale, re-zero the padding, and wrap as a batch dict of CPU tensors."""
        data = scaled_batch(padded, self.scaler_)
        mask = padded.mask()
        if future is not None:
            data["future"] = torch.from_numpy(np.ascontiguousarray(self.scaler_.transform(future)))
        for key in ("x", "future"):
            if key in data and not bool(torch.isfinite(data[key]).all()):
                raise ValueError(
                    f"{'X' if key == 'x' else 'y'} holds values that overflow float32 once scaled "
                    f"(scale={self.scaler_.method!r}); they are far outside the range seen in fit. Rescale the data."
                )
        if self.config_.loss == "bce":
            for v in (data["x"][torch.from_numpy(mask)], data.get("future", data["x"][:0])):
                if v.numel() and (float(v.min()) < 0.0 or float(v.max()) > 1.0):
                    raise ValueError(
                        f"loss='bce' needs data in [0, 1] after scaling, but it spans [{float(v.min()):.3g}, "
                        f"{float(v.max()):.3g}] with scale={self.scaler_.method!r}; use scale='minmax' "
                        "(or None for data already in [0, 1]) or another loss."
                    )
        return data

    # ------------------------------------------------------------------ fit
    def fit(self, X: Any, y: Any = None, checkpoint_dir: str | os.PathLike | None = None,
            checkpoint_every: int = 1, resume: bool = False) -> "LSTMAutoencoder":
        """Train on sequences `X` (see Notes); `y`: future targets (N, K, F) for predict/composite.

        For task "reconstruct" `y` is ignored. Returns self.

        `checkpoint_dir`: save a checkpoint there (weights, optimiser, RNG states,
        early-stopping state, history; safetensors + JSON, atomic) every
        `checkpoint_every` epochs, at every new best monitored loss and after the last
        epoch; ``resume=False`` first removes an old checkpoint there. ``resume=True``
        continues from the checkpoint to the same weights as an uninterrupted run (on
        CPU, bit for bit), or starts from scratch when there is none; a checkpoint made
        with other data or parameters (all but `epochs`, `verbose`, `device` and
        `random_state`) is refused with a `lstmae.checkpoint.CheckpointError`
        (a ValueError). Raise `epochs` and resume to train a finished run longer.
        """
        padded = to_padded(X)
        cfg = self._model_config(padded.n_features)
        settings = self._train_settings()
        device = resolve_device(self.device)
        seed = _seed_from(self.random_state)
        inputs, future = self._split_targets(padded, y, cfg)
        self.config_ = cfg
        self.scaler_ = SequenceScaler.fit(inputs.x, inputs.mask(), self.scale)
        data = self._tensors(inputs, future)
        n = data["x"].shape[0]
        n_val = validation_count(n, self.validation_split)
        train = {k: v[: n - n_val] for k, v in data.items()}
        val = {k: v[n - n_val :] for k, v in data.items()} if n_val else None
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            module = Autoencoder(cfg)
            generator = torch.Generator().manual_seed(seed)
            callbacks, start_state = self._checkpointing(checkpoint_dir, checkpoint_every, resume, data, n_val, module)
            self.history_ = fit_module(module, train, val, settings, generator, device, callbacks=callbacks,
                                       start_state=start_state)
        module.eval()
        self.module_ = module
        self.device_ = device
        self.n_features_in_ = padded.n_features
        return self

    def _checkpointing(self, checkpoint_dir, every, resume, data, n_val, module):
        """(callbacks, start_state) for `fit_module` from fit's checkpoint arguments."""
        if checkpoint_dir is None and resume is False and every == 1:
            return [], None
        from .checkpoint import data_fingerprint, prepare

        params = {k: v for k, v in self._json_params().items()
                  if k not in ("epochs", "verbose", "device", "random_state")}
        fingerprint = {"estimator": type(self).__name__, "params": params, "data": data_fingerprint(data, n_val)}
        return prepare(checkpoint_dir, every, resume, fingerprint, module)

    # ------------------------------------------------------------------ inference
    def _run(self, X: Any, keys: tuple[str, ...]) -> tuple[Padded, dict[str, np.ndarray]]:
        check_is_fitted(self, "module_")
        padded = to_padded(X, n_features=self.n_features_in_)
        data = self._tensors(padded, None)
        out = infer(self.module_, data, int(self.batch_size), self.device_, keys)
        return padded, {k: v.numpy() for k, v in out.items()}

    def transform(self, X: Any) -> np.ndarray:
        """Codes of the sequences, pooled by ``pooling``: float32 array (N, C).

        C is ``code_size`` or D * ``hidden_size`` for "last", D * ``hidden_size`` for
        "mean", 2 * ``num_layers`` * D * ``hidden_size`` for "last_hc" (`get_feature_names_out`
        has one name per column).
        """
        return self._run(X, ("features",))[1]["features"]

    def reconstruct(self, X: Any):
        """The sequences as rebuilt by the reconstruction decoder, in X's layout and natural time order."""
        if not self._fitted_config().has_reconstruction:
            raise ValueError(
                f"this model was fitted with task={self.config_.task!r}, which has no reconstruction decoder; "
                "use task='reconstruct' or 'composite'."
            )
        padded, out = self._run(X, ("reconstruction",))
        return restore_layout(self.scaler_.inverse_transform(out["reconstruction"]), padded.lengths, padded.layout)

    def predict(self, X: Any):
        """Forecast of the `horizon` steps after each sequence (tasks "predict", "composite").

        Returns an array (N, K, F) ((N, K) for 2-D input). For task "reconstruct" this
        is `reconstruct(X)`.
        """
        if not self._fitted_config().has_prediction:
            return self.reconstruct(X)
        padded, out = self._run(X, ("forecast",))
        return restore_layout(self.scaler_.inverse_transform(out["forecast"]), None, padded.layout)

    def reconstruction_errors(self, X: Any):
        """Elementwise reconstruction loss per time step and feature, in scaled units.

        Returns an array (N, L, F) (a list of (L_i, F) for a list input; (N, L) for
        2-D input): the training loss (``loss``) of each value, so a sequence's error
        map shows which feature at which step was rebuilt badly. Higher is worse.
        """
        if not self._fitted_config().has_reconstruction:
            raise ValueError(
                f"this model was fitted with task={self.config_.task!r}, which has no reconstruction decoder; "
                "reconstruction errors need task='reconstruct' or 'composite'."
            )
        padded, out = self._run(X, ("step_errors",))
        return restore_layout(out["step_errors"], padded.lengths, padded.layout)

    def _abs_residuals(self, X: Any) -> tuple[Padded, np.ndarray]:
        """|x - reconstruction| per step and feature in scaled units (N, L, F), zero at padded steps."""
        if not self._fitted_config().has_reconstruction:
            raise ValueError(
                f"this model was fitted with task={self.config_.task!r}, which has no reconstruction decoder; "
                "anomaly scores need task='reconstruct' or 'composite'."
            )
        padded, out = self._run(X, ("reconstruction",))
        residuals = np.abs(self.scaler_.transform(padded.x) - out["reconstruction"]) * padded.mask()[:, :, None]
        return padded, residuals

    def score(self, X: Any, y: Any = None) -> float:
        """Negative mean loss (in scaled units) on X (and y), as in fit: higher is better."""
        check_is_fitted(self, "module_")
        padded = to_padded(X, n_features=self.n_features_in_)
        inputs, future = self._split_targets(padded, y, self.config_)
        return -evaluate(self.module_, self._tensors(inputs, future), int(self.batch_size), self.device_)

    def _fitted_config(self) -> ModelConfig:
        check_is_fitted(self, "module_")
        return self.config_

    @property
    def _n_features_out(self) -> int:
        return self._fitted_config().code_dim

    # ------------------------------------------------------------------ persistence
    def _json_params(self) -> dict:
        params = self.get_params(deep=False)
        if not (params["random_state"] is None or isinstance(params["random_state"], int)):
            params["random_state"] = None  # a RandomState object cannot go into JSON
        params["loss_weights"] = list(params["loss_weights"])
        return params

    def _payload(self) -> tuple[dict, dict]:
        """The JSON parts of a saved model: (config, state); the weights are `module_`'s."""
        check_is_fitted(self, "module_")
        config = {"estimator": type(self).__name__, "params": self._json_params(), "model": self.config_.to_dict()}
        state = {"n_features_in_": self.n_features_in_, "scaler": self.scaler_.to_dict(), "history": self.history_}
        return config, state

    def save(self, path: str | os.PathLike) -> None:
        """Save to a directory: config.json + model.safetensors + state.json (no pickle)."""
        config, state = self._payload()
        save_model_dir(path, config, self.module_, state)

    @classmethod
    def _restore(cls, config: dict, tensors: dict, state: dict, path: Any, device: str) -> "LSTMAutoencoder":
        """Rebuild a fitted estimator from the parts `_payload` wrote (and its weights)."""
        try:
            params = dict(config["params"])
            params["loss_weights"] = tuple(params.get("loss_weights", (1.0, 1.0)))
            params["device"] = device
            est = cls(**params)
            est.config_ = ModelConfig.from_dict(config["model"])
            est.scaler_ = SequenceScaler.from_dict(state["scaler"])
            est.history_ = state["history"]
            est.n_features_in_ = int(state["n_features_in_"])
            _check_restored(est)
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise ModelFileError(f"the config or state in {path} is invalid ({exc}); save the model again.") from None
        module = Autoencoder(est.config_)
        load_weights(module, tensors, path)
        est.device_ = resolve_device(device)
        est.module_ = module.to(est.device_).eval()
        return est

    @classmethod
    def load(cls, path: str | os.PathLike, device: str = "auto") -> "LSTMAutoencoder":
        """Load a model saved by `save`: built from its config, weights loaded strictly, in eval mode."""
        config, tensors, state = read_model_dir(path, estimator=cls.__name__)
        return cls._restore(config, tensors, state, path, device)

    # ------------------------------------------------------------------ sklearn tags
    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.three_d_array = True
        tags.target_tags.required = False
        return tags

    def _more_tags(self):  # scikit-learn < 1.6
        return {"X_types": ["2darray", "3darray"], "requires_y": False}

