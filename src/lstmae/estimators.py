"""The scikit-learn face of lstmae: `LSTMAutoencoder`.

Shape legend: N samples, L time steps, F features, C code size, K horizon, T points of a
long series, W window.
"""
from __future__ import annotations

import os
from typing import Any

import numpy as np
import pandas as pd
import torch
from sklearn.base import ClassNamePrefixFeaturesOutMixin, TransformerMixin

from ._base import SequenceEstimator, resolve_device, scaled_batch, seed_from, validation_count
from .config import ModelConfig
from .data.scaling import SequenceScaler, check_scaled
from .data.sequences import Padded, as_numeric, check_finite, frame_to_series, restore_form, to_padded, to_series
from .data.sources import is_source
from .data.spec import DataSpec
from .data.windows import sliding_windows
from .modules import Autoencoder
from .scoring import Residuals, ResidualStats, iter_window_chunks, windowed_to_points
from .serialization import register
from .training import mean_loss


@register
class LSTMAutoencoder(ClassNamePrefixFeaturesOutMixin, TransformerMixin, SequenceEstimator):
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
    input_noise : float, default=0.0
        A denoising autoencoder (Vincent et al. 2008): in training, the encoder reads
        the (scaled) input plus Gaussian noise of this standard deviation, and the
        decoders rebuild the clean input; inference reads the input as it is. 0: off.
    code_size : int or None, default=None
        Optional linear bottleneck: the code is ``Linear(encoder state) -> code_size``.
        None: the code is the encoder's final hidden state (``hidden_size`` values,
        twice that when bidirectional).
    pooling : {"last", "last_hc", "mean", "all"}, default="last"
        What ``transform`` returns (training is the same for all four; the decoders
        always read the code): "last" the code (above); "last_hc" the final hidden and
        cell states of every layer and direction, concatenated, size
        ``2 * num_layers * D * hidden_size``; "mean" the mean of the top layer's
        outputs over each sequence's valid steps (both directions), size
        ``D * hidden_size``; "all" those two and the max of the top layer's outputs over
        the valid steps, concatenated, size ``(2 * num_layers + 2) * D * hidden_size``: the
        best codes for classification in docs/benchmarks.md ("Representations"). "last_hc",
        "mean" and "all" read the LSTM before any ``code_size`` bottleneck, so their size
        does not depend on ``code_size``.
    bridge : {"repeat", "state"}, default="repeat"
        How the code reaches a decoder: as its input at every step (Keras
        RepeatVector), or as its initial state, the encoder's final (h, c) of every
        layer (Srivastava et al. 2015; a learned linear map of the code when
        ``code_size`` is set or the encoder is bidirectional).
    conditional : bool, default=False
        Feed each decoder step the previous frame: ground truth while training
        (teacher forcing), its own previous output at inference.
    teacher_forcing : {"train", "always"}, default="train"
        When a conditional decoder is fed the true previous frames. "train": in
        training only (the paper's conditional decoder; validation and inference run
        on its own outputs). "always": the reconstruction decoder is fed them at
        inference too (its target is the input, so they are known): each step is
        reconstructed from the code and the true frame before it, a one-step-ahead
        reconstruction that generalises to shapes the training data lacked. Needs
        ``conditional=True`` and a reconstruction decoder; forecasts always run on
        their own outputs. It is what `LSTMAnomalyDetector`'s default model uses.
    reverse : bool, default=False
        Reconstruct in reversed time order (Srivastava et al. 2015; EncDec-AD).
        Outputs are always handed back in natural order.
    activation : {"tanh", "relu"}, default="tanh"
        Cell activation. "tanh" uses PyTorch's fused ``nn.LSTM``; "relu" (Keras
        tutorial style) uses lstmae's own cell.
    cell_clip : float, "auto" or None, default="auto"
        Bound on a relu cell's state: after each update it is clipped to
        [-cell_clip, cell_clip] (TensorFlow's ``LSTMCell(cell_clip=...)``). "auto": 1.0
        for relu, None for tanh (whose output is bounded already; a number is refused).
        An unclipped relu cell is unbounded, and long sequences can overflow once
        training raises its recurrent gain above 1; 1.0 was chosen by measurement
        (docs/benchmarks.md, "Initialisation"). None turns it off (lstmae 0.5 and earlier).
    loss : {"mse", "mae", "huber", "bce"}, default="mse"
        Training loss; "bce" gives sigmoid outputs and needs (scaled) data in [0, 1]
        (use ``scale="minmax"`` or None), e.g. video frames.
    loss_weights : tuple of 2 floats, default=(1.0, 1.0)
        Weights of the reconstruction and prediction losses (task "composite").
    scale : {"standard", "minmax", "robust", None}, default="standard"
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
        loss) and restore the best weights; never before epoch 10 (``TrainSettings.min_epochs``:
        a model whose validation loss first rises while it learns is not stopped untrained).
        None trains all ``epochs`` and keeps the last weights.
    clip_grad_norm : float or None, default=1.0
        Clip the gradients' global norm to this value; None disables clipping.
    random_state : int, RandomState or None, default=None
        Seed of weight initialisation, shuffling and dropout. The same int gives the
        same numbers on the same CPU type; the global torch RNG is left untouched.
    device : str, default="auto"
        "auto" uses CUDA when present, else the CPU; or "cpu", "cuda", "cuda:1", ...
    verbose : bool or "auto", default="auto"
        Show a progress bar with the losses while training. "auto" (as Keras): in a
        terminal or a notebook, not when output goes to a pipe or a file, nor under tests.
    n_threads : int or None, default=None
        CPU threads for torch's work in ``fit``, ``transform`` and the other methods;
        None chooses by the work's size and the CPUs this process may use (see the
        README's Speed section). The same value always gives the same model.
    warm_start : bool, default=False
        As in scikit-learn: a second ``fit`` continues from the fitted weights, scaler and
        Adam state (for ``epochs`` more epochs on the new data) instead of starting over.
        The architecture and the number of features must stay the same. A model loaded
        from disk continues with a fresh optimiser (model directories hold no optimiser
        state). See also ``partial_fit``.
    precision : {"fp32", "bf16", "fp16"}, default="fp32"
        Arithmetic of the forward passes in training and inference: "bf16" / "fp16" run
        them under ``torch.autocast`` (fp16 with a gradient scaler), the weights stay
        float32. "fp16" needs a GPU; "bf16" a GPU that supports it, or a CPU with a
        bfloat16 LSTM kernel (oneDNN's; not on CPUs without AVX-512); else, and with
        ``activation="relu"``, training refuses it with a message. Inference falls back
        to fp32 where the device cannot run it.

    Attributes
    ----------
    module_ : lstmae.modules.Autoencoder
        The fitted PyTorch module.
    config_ : lstmae.config.ModelConfig
    scaler_ : lstmae.data.scaling.SequenceScaler
    history_ : dict
        Per-epoch ``train_loss`` (and ``val_loss``), ``epoch_time``, ``best_epoch``,
        ``restored_best``, ``stopped_early``, ``diverged``; how it was trained:
        ``processes`` (1, or the number of torchrun processes), ``device`` ("cpu",
        "cuda"), ``precision``, ``threads``; after a continued fit (``warm_start``,
        ``partial_fit``), ``epochs_before``: the epochs of the fits it continued.
    optimizer_state_ : dict
        Adam's state after the last fit (in memory only; what ``warm_start`` and
        ``partial_fit`` continue from).
    residual_stats_ : lstmae.scoring.ResidualStats or None
        Typical residuals on the training data, per step position and feature (models with
        a reconstruction decoder): what anomaly scores are normalised by.
    data_spec_ : lstmae.data.spec.DataSpec or None
        How the training data was cut (set by ``fit_series`` and the command line).
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
        input_noise: float = 0.0,
        code_size: int | None = None,
        pooling: str = "last",
        bridge: str = "repeat",
        conditional: bool = False,
        teacher_forcing: str = "train",
        reverse: bool = False,
        activation: str = "tanh",
        cell_clip: float | str | None = "auto",
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
        verbose: bool | str = "auto",
        n_threads: int | None = None,
        warm_start: bool = False,
        precision: str = "fp32",
    ) -> None:
        self.task = task
        self.horizon = horizon
        self.hidden_size = hidden_size
        self.num_layers = num_layers
        self.bidirectional = bidirectional
        self.dropout = dropout
        self.input_noise = input_noise
        self.code_size = code_size
        self.pooling = pooling
        self.bridge = bridge
        self.conditional = conditional
        self.teacher_forcing = teacher_forcing
        self.reverse = reverse
        self.activation = activation
        self.cell_clip = cell_clip
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
        self.n_threads = n_threads
        self.warm_start = warm_start
        self.precision = precision

    # ------------------------------------------------------------------ validation
    def _model_config(self, n_features: int) -> ModelConfig:
        return ModelConfig(
            n_features=n_features, task=self.task, horizon=self.horizon, hidden_size=self.hidden_size,
            num_layers=self.num_layers, bidirectional=self.bidirectional, dropout=self.dropout,
            input_noise=self.input_noise,
            code_size=self.code_size, bridge=self.bridge, conditional=self.conditional,
            teacher_forcing=self.teacher_forcing, reverse=self.reverse,
            activation=self.activation, cell_clip=self.cell_clip, loss=self.loss, pooling=self.pooling,
            loss_weights=tuple(self.loss_weights) if isinstance(self.loss_weights, (list, tuple)) else self.loss_weights,
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
            return Padded(x, in_len, padded.form), future.astype(np.float32)
        future = as_numeric(y, "y", "")
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
        check_finite(future, "y")
        return padded, future.astype(np.float32)

    def _tensors(self, padded: Padded, future: np.ndarray | None) -> dict[str, torch.Tensor]:
        """Scale, re-zero the padding, and wrap as a batch dict of CPU tensors (with the future targets)."""
        data = scaled_batch(padded, self.scaler_)
        if future is not None:
            scaled = self.scaler_.transform(future)
            check_scaled(scaled, self.scaler_, "y")
            data["future"] = torch.from_numpy(np.ascontiguousarray(scaled))
        if self.config_.loss == "bce":
            mask = torch.from_numpy(padded.mask())
            for v in (data["x"][mask], data.get("future", data["x"][:0])):
                if v.numel() and (float(v.min()) < 0.0 or float(v.max()) > 1.0):
                    raise ValueError(
                        f"loss='bce' needs data in [0, 1] after scaling, but it spans [{float(v.min()):.3g}, "
                        f"{float(v.max()):.3g}] with scale={self.scaler_.method!r}; use scale='minmax' "
                        "(or None for data already in [0, 1]) or another loss."
                    )
        return data

    def build_module(self) -> Autoencoder:
        return Autoencoder(self.config_)

    def unfitted_module(self, n_features: int) -> Autoencoder:
        return Autoencoder(self._model_config(n_features))

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

        With ``warm_start=True`` a fitted model continues (weights, scaler, optimiser).
        Under torchrun the processes train one model together (`lstmae.distributed`);
        only rank 0 writes checkpoints.
        """
        padded = to_padded(X)
        cfg = self._model_config(padded.n_features)
        settings = self._train_settings()
        device = resolve_device(self.device)
        seed = seed_from(self.random_state)
        init = self.continuation(padded.n_features)
        inputs, future = self._split_targets(padded, y, cfg)
        self.config_ = cfg
        if init is None:  # a continued fit keeps its scaler (the weights expect that scaling)
            self.scaler_ = SequenceScaler.fit(inputs.x, inputs.mask(), self.scale)
        data = self._tensors(inputs, future)
        n = data["x"].shape[0]
        n_val = validation_count(n, self.validation_split)
        train = {k: v[: n - n_val] for k, v in data.items()}
        val = {k: v[n - n_val :] for k, v in data.items()} if n_val else None
        prepare = lambda module: self._checkpointing(checkpoint_dir, checkpoint_every, resume, data, n_val, module)  # noqa: E731
        self.module_, self.history_ = self._train(lambda: Autoencoder(cfg), train, val, settings, device, seed,
                                                  prepare=prepare, init=init)
        self.n_features_in_ = padded.n_features
        if init is None:
            self.data_spec_ = None
        self.residual_stats_ = None
        if cfg.has_reconstruction:  # the typical residual of every step position: anomaly scores are normalised by it
            self.residual_stats_ = ResidualStats.fit(self._raw_residuals(inputs, data), inputs.mask())
        return self

    def partial_fit(self, X: Any, y: Any = None) -> "LSTMAutoencoder":
        """One pass (one epoch) over the new sequences `X`, continuing from the fitted weights,
        scaler and optimiser; on an unfitted estimator it starts like ``fit`` (scaler fitted on X).

        All of X trains (``validation_split`` and ``patience`` do not apply); ``epochs`` is
        ignored. ``history_`` describes this pass (``epochs_before``: the epochs before it).
        ``residual_stats_`` are recomputed on X. Returns self.
        """
        with self._one_pass():
            return self.fit(X, y)

    def _checkpointing(self, checkpoint_dir, every, resume, data, n_val, module):
        """(callbacks, start_state) for the training loop from fit's checkpoint arguments."""
        if checkpoint_dir is None and resume is False and every == 1:
            return [], None
        from .checkpoint import data_fingerprint, load_checkpoint, prepare
        from .distributed import is_main_process

        params = {k: v for k, v in self.json_params().items()
                  if k not in ("epochs", "verbose", "device", "random_state", "warm_start", "precision")}
        data_print = data.fingerprint(n_val) if hasattr(data, "fingerprint") else data_fingerprint(data, n_val)
        fingerprint = {"estimator": type(self).__name__, "params": params, "data": data_print}  # a stream: its files
        if not is_main_process():  # several processes: rank 0 writes the checkpoints, the others only read
            return [], (load_checkpoint(checkpoint_dir, fingerprint) if resume and checkpoint_dir is not None
                        else None)
        return prepare(checkpoint_dir, every, resume, fingerprint, module)

    def fit_series(self, series: Any, window: int, stride: int = 1, feature_names: list[str] | None = None,
                   **fit_params: Any) -> "LSTMAutoencoder":
        """Train on the windows of one long series (T,) or (T, F): `window` steps every `stride`.

        A DataFrame is one series: its numeric columns are the features (their names are kept),
        a DatetimeIndex or datetime column the time axis.

        A source too large for memory trains without being loaded (`lstmae.data.sources`): a
        path (Parquet file, directory of Parquet/CSV files, ``.npy``), a `numpy.memmap` or a
        ``Source``; windows are cut on the fly and shuffled with a buffer of ``shuffle_buffer``
        windows (a keyword; default 128 MiB of windows; with all training windows in it, the
        fit is the in-memory one). Checkpoints then fingerprint the files, not the tensors.

        With task "predict" or "composite" each window is followed by its ``horizon`` target
        steps. The windowing (and the feature names) are stored (``data_spec_``), so the
        ``*_series`` methods and the command line cut new data the same way. Returns self.
        """
        from ._validation import check_int

        window, stride = check_int("window", window, 1), check_int("stride", stride, 1)
        if is_source(series):  # larger than memory: windows cut on the fly (lstmae.data.sources)
            from .data.sources import open_source

            source = open_source(series)
            self._fit_stream(source, window, stride, **fit_params)
            names = [str(n) for n in (feature_names if feature_names is not None else source.feature_names)]
            self.data_spec_ = DataSpec(kind="series", window=window, stride=stride, feature_names=names)
            return self
        span = window + (self.horizon if self.task in ("predict", "composite") else 0)
        if feature_names is None and isinstance(series, pd.DataFrame):
            feature_names = frame_to_series(series)[1]
        arr = to_series(series, "series", span)
        self.fit(np.ascontiguousarray(sliding_windows(arr, span, stride)), **fit_params)
        names = None if feature_names is None else [str(n) for n in feature_names]
        self.data_spec_ = DataSpec(kind="series", window=window, stride=stride, feature_names=names)
        return self

    def _fit_stream(self, source, window: int, stride: int, checkpoint_dir=None, checkpoint_every: int = 1,
                    resume: bool = False, shuffle_buffer: int | None = None) -> "LSTMAutoencoder":
        """`fit` on the windows of a source, streamed: scaler and residual statistics in streaming passes."""
        from .data.sources import WindowStream, fit_scaler, window_plan
        from .streaming import residual_stats

        cfg = self._model_config(source.n_features)
        settings = self._train_settings()
        device = resolve_device(self.device)
        seed = seed_from(self.random_state)
        init = self.continuation(source.n_features)
        horizon = cfg.horizon if cfg.has_prediction else 0
        plan = window_plan(source, window + horizon, stride)
        self.config_ = cfg
        if init is None:  # a continued fit keeps its scaler
            self.scaler_ = fit_scaler(source, window, stride, horizon, self.scale, plan)
        windows = WindowStream(source, window, stride, horizon, self.scaler_, settings.batch_size, plan=plan,
                               shuffle_buffer=shuffle_buffer, bce=cfg.loss == "bce")
        n = windows.total
        n_val = validation_count(n, self.validation_split)
        train, val = windows.part(0, n - n_val), (windows.part(n - n_val, n) if n_val else None)
        def prepare(module):
            return self._checkpointing(checkpoint_dir, checkpoint_every, resume, windows, n_val, module)

        self.module_, self.history_ = self._train(lambda: Autoencoder(cfg), train, val, settings, device, seed,
                                                  prepare=prepare, init=init)
        self.n_features_in_ = source.n_features
        self.residual_stats_ = residual_stats(self, windows) if cfg.has_reconstruction else None
        return self

    # ------------------------------------------------------------------ inference
    def _run(self, X: Any, what: str) -> tuple[Padded, np.ndarray]:
        """(padded input, one output of the module) for X: "features" (encoder only) or a decoder output."""
        self._fitted()
        padded = to_padded(X, n_features=self.n_features_in_)
        data = self._tensors(padded, None)
        if what == "features":
            out = self.infer(lambda b: {"features": self.module_.features(b)}, data)
        else:
            out = self.infer(lambda b: {what: self.module_(b)[0][what]}, data,
                              time_keys=("reconstruction", "step_errors"))
        return padded, out[what]

    def transform(self, X: Any) -> np.ndarray:
        """Codes of the sequences, pooled by ``pooling``: float32 array (N, C).

        C is ``code_size`` or D * ``hidden_size`` for "last", D * ``hidden_size`` for
        "mean", 2 * ``num_layers`` * D * ``hidden_size`` for "last_hc", (2 * ``num_layers`` + 2) * D *
        ``hidden_size`` for "all" (`get_feature_names_out`
        has one name per column).
        """
        return self._run(X, "features")[1]

    def require_reconstruction(self, what: str) -> None:
        if not self._fitted().has_reconstruction:
            raise ValueError(
                f"this model was fitted with task={self.config_.task!r}, which has no reconstruction decoder; "
                f"{what} need task='reconstruct' or 'composite'."
            )

    def reconstruct(self, X: Any):
        """The sequences as rebuilt by the reconstruction decoder, in X's form and natural time order."""
        self.require_reconstruction("reconstructions")
        padded, rec = self._run(X, "reconstruction")
        return restore_form(self.scaler_.inverse_transform(rec), padded.lengths, padded.form)

    def predict(self, X: Any):
        """Forecast of the `horizon` steps after each sequence (tasks "predict", "composite").

        Returns an array (N, K, F) ((N, K) for 2-D input). For task "reconstruct" this
        is `reconstruct(X)`.
        """
        if not self._fitted().has_prediction:
            return self.reconstruct(X)
        padded, fc = self._run(X, "forecast")
        return restore_form(self.scaler_.inverse_transform(fc), None, padded.form)

    def reconstruction_errors(self, X: Any):
        """Elementwise reconstruction loss per time step and feature, in scaled units.

        Returns an array (N, L, F) (a list of (L_i, F) for a list input; (N, L) for
        2-D input): the training loss (``loss``) of each value, so a sequence's error
        map shows which feature at which step was rebuilt badly. Higher is worse.
        """
        self.require_reconstruction("reconstruction errors")
        padded, errors = self._run(X, "step_errors")
        return restore_form(errors, padded.lengths, padded.form)

    def _raw_residuals(self, padded: Padded, data: dict[str, torch.Tensor]) -> np.ndarray:
        out = self.infer(lambda b: {"reconstruction": self.module_(b)[0]["reconstruction"]}, data,
                          time_keys=("reconstruction",))["reconstruction"]
        return np.abs(data["x"].numpy() - out) * padded.mask()[:, :, None]

    def residuals(self, X: Any, normalize: bool = False):
        """``|x - reconstruction|`` per step and feature, in scaled units, in X's form (higher is worse).

        ``normalize=True``: divided by the typical level of their step position on the training
        data (``residual_stats_``), as anomaly scores use them (`lstmae.scoring`).
        """
        r = self.normalized_residuals(X) if normalize else self._residuals(X)
        return restore_form(r.values, r.mask.sum(axis=1), r.form)

    def _residuals(self, X: Any) -> Residuals:
        self.require_reconstruction("residuals")
        padded = to_padded(X, n_features=self.n_features_in_)
        return Residuals(self._raw_residuals(padded, self._tensors(padded, None)), padded.mask(), padded.form)

    def normalized_residuals(self, X: Any) -> Residuals:
        """The residuals anomaly scores are made of (`lstmae.scoring.Residuals`).

        values (N, L, F): `residuals` divided by the typical level of their step position
        (``residual_stats_``; unchanged for a model without them), zero at padded steps;
        mask (N, L): True at valid steps; form: how X was given.
        """
        r = self._residuals(X)
        stats = getattr(self, "residual_stats_", None)
        return r if stats is None else r._replace(values=stats.normalize(r.values))

    def score(self, X: Any, y: Any = None) -> float:
        """Negative mean loss (in scaled units) on X (and y), as in fit: higher is better."""
        self._fitted()
        padded = to_padded(X, n_features=self.n_features_in_)
        inputs, future = self._split_targets(padded, y, self.config_)
        self.module_.eval()
        return -mean_loss(self.module_, self._tensors(inputs, future), int(self.batch_size), self.device_)

    @property
    def _n_features_out(self) -> int:
        return self._fitted().pooled_dim

    # ------------------------------------------------------------------ long series
    def series_windowing(self, window: int | None = None, stride: int | None = None) -> tuple[int, int]:
        """(window, stride): the given ones, else those the model was trained with (``data_spec_``)."""
        from ._validation import check_int

        spec = getattr(self, "data_spec_", None)
        window = window if window is not None else (spec.window if spec is not None else None)
        stride = stride if stride is not None else (spec.stride if spec is not None and spec.window else 1)
        if window is None:
            raise ValueError("this model was not trained on windows of a series (fit_series); give window=...")
        return check_int("window", window, 1), check_int("stride", stride, 1)

    def transform_series(self, series: Any, window: int | None = None, stride: int | None = None) -> np.ndarray:
        """Codes of every window of a long series (T,) or (T, F): (n_windows, C), in chunks (bounded memory).

        Window i covers points ``[i * stride, i * stride + window)``
        (`lstmae.data.windows.window_starts`). Window and stride default to the training ones.
        """
        window, stride = self.series_windowing(window, stride)
        if is_source(series):  # read chunk by chunk (lstmae.data.sources)
            from .data.sources import open_source
            from .streaming import iter_codes

            return np.concatenate([codes for _, codes in iter_codes(self, open_source(series), window, stride)])
        arr = to_series(series, "series", window)
        return np.concatenate([self.transform(w) for _, w in iter_window_chunks(arr, window, stride)])

    def reconstruct_series(self, series: Any, window: int | None = None, stride: int | None = None,
                           progress: bool = False) -> np.ndarray:
        """The series rebuilt point by point (T, F): each point's mean over the windows that cover it."""
        window, stride = self.series_windowing(window, stride)
        self.require_reconstruction("reconstructions")
        if is_source(series):  # read chunk by chunk (lstmae.data.sources)
            from .data.sources import open_source
            from .streaming import point_values

            return point_values(self.reconstruct, open_source(series), window, stride, progress).astype(np.float32)
        arr = to_series(series, "series", window)
        return windowed_to_points(self.reconstruct, arr, window, stride, progress=progress).astype(np.float32)

    def predict_series(self, series: Any, window: int | None = None) -> np.ndarray:
        """Forecast of the ``horizon`` points after a long series, from its last window: (K, F)."""
        if not self._fitted().has_prediction:
            raise ValueError(
                f"this model was fitted with task={self.config_.task!r}, which has no prediction decoder; "
                "forecasts need task='predict' or 'composite'."
            )
        window, _ = self.series_windowing(window, None)
        if is_source(series):  # only its last window is read
            from .data.sources import open_source

            series = open_source(series).tail(window)
        arr = to_series(series, "series", window)
        return self.predict(np.ascontiguousarray(arr[None, -window:]))[0]

    # ------------------------------------------------------------------ persistence
    def json_params(self) -> dict:
        params = super().json_params()
        params["loss_weights"] = list(params["loss_weights"])
        return params

    @classmethod
    def params_from_json(cls, params: dict) -> dict:
        params = dict(params)
        params["loss_weights"] = tuple(params.get("loss_weights", (1.0, 1.0)))
        return params

    def extra_state(self) -> dict:
        stats = getattr(self, "residual_stats_", None)
        return {} if stats is None else {"residual_stats": stats.to_dict()}

    def restore_extra_state(self, state: dict) -> None:
        stats = state.get("residual_stats")
        self.residual_stats_ = None if stats is None else ResidualStats.from_dict(stats, self.n_features_in_)

    # ------------------------------------------------------------------ sklearn tags
    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.required = False
        return tags

    def _more_tags(self):  # scikit-learn < 1.6
        return {"X_types": ["2darray", "3darray"], "requires_y": False}
