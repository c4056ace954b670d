"""`LSTMClassifier`: an LSTM encoder and a linear head, optionally seeded with an autoencoder's encoder.

The semi-supervised recipe of Srivastava et al. (2015): train an `LSTMAutoencoder` on
plenty of unlabelled sequences, then start a classifier from its encoder weights and
train it on the few labelled ones, either fine-tuning the encoder or keeping it frozen
(a linear probe on its codes).

Shape legend: N samples, L time steps, F features, K classes.
"""
from __future__ import annotations

import dataclasses
import os
from typing import Any

import numpy as np
import torch
from sklearn.base import ClassifierMixin, clone
from sklearn.metrics import accuracy_score
from sklearn.model_selection import train_test_split
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import column_or_1d

from ._base import SequenceEstimator, resolve_device, scaled_batch, seed_from, validation_count
from ._validation import check_bool, check_choice, check_number
from .config import ModelConfig
from .data.scaling import SequenceScaler
from .data.sequences import to_padded
from .estimators import LSTMAutoencoder
from .modules import Classifier
from .serialization import register
from .training import infer

_LABEL_TYPES = (str, int, float, bool)
FINE_TUNINGS = ("lp-ft", "joint")
# LP-FT with fewer labelled training sequences than this per class keeps its probe: fine-tuning on one example
# per class can only fit those examples (docs/benchmarks.md, "Representations": every cell where fine-tuning
# fell more than 0.01 below its probe had one label per class)
MIN_FINE_TUNE_PER_CLASS = 2


@register
class LSTMClassifier(ClassifierMixin, SequenceEstimator):
    """Sequence classifier: an LSTM encoder, its pooled code, and a linear (softmax) head.

    Parameters
    ----------
    encoder : LSTMAutoencoder, str, path or None, default=None
        Where the encoder starts. A fitted `LSTMAutoencoder` (or the directory it was
        saved to): the classifier copies its encoder weights, its scaler and its
        architecture (``hidden_size``, ``num_layers``, ``bidirectional``,
        ``code_size``, ``activation``, ``cell_clip``; the parameters of those names below are then
        ignored; see ``config_``). None: random initialisation with the architecture
        below. The encoder object is only read, never changed, and ``clone`` (e.g. in
        ``GridSearchCV``) passes it on as is.
    freeze_encoder : bool, default=False
        Keep the encoder's weights fixed (in eval mode, no dropout) and train the head
        only: a linear probe of the codes. False fine-tunes encoder and head together.
    fine_tuning : {"lp-ft", "joint"}, default="lp-ft"
        How a seeded encoder is trained (ignored when ``encoder`` is None). "lp-ft"
        (Kumar et al. 2022): first a linear probe, a logistic regression (L2, C=1, on
        standardised codes, as scikit-learn's) of the training labels on the frozen
        encoder's pooled codes, written into the head; then ``epochs`` of training of
        encoder and head on the probe's objective (cross-entropy plus its L2 penalty on the
        head), the encoder at ``encoder_lr_scale * learning_rate`` (with
        ``freeze_encoder=True``: the head only, starting from the probe). With fewer than
        two labelled training sequences per class (`MIN_FINE_TUNE_PER_CLASS`) the probe is
        kept as it is (``history_["fine_tuned"]`` is False): there is nothing to fine-tune
        on but the examples the probe already fits. A continued fit
        (``warm_start``) keeps the learning rates but not the penalty. "joint": a
        randomly initialised head and one learning rate for everything (the recipe of
        lstmae 0.2 and earlier). "lp-ft" was chosen by measurement: see docs/benchmarks.md,
        "Representations".
    encoder_lr_scale : float, default=0.01
        With ``fine_tuning="lp-ft"``: the encoder's learning rate as a fraction of
        ``learning_rate`` (the head's); in (0, 1]. Measured: 0.1 let fine-tuning wreck
        codes of small variance (arrowhead: 0.56 -> 0.32); 0.01 stays at or near the probe.
    pooling : {"last", "last_hc", "mean", "all"} or None, default="all"
        What the head reads (see `LSTMAutoencoder`'s ``pooling``). None: the seeding
        autoencoder's pooling, or "last" without one. "all" (final h and c of every
        layer, mean and max of the outputs over time) was chosen by measurement, for
        seeded and randomly initialised encoders alike (docs/benchmarks.md,
        "Representations"; lstmae 0.2 and earlier used None).
    hidden_size, num_layers, bidirectional, code_size, activation, cell_clip
        Encoder architecture when ``encoder`` is None (as in `LSTMAutoencoder`).
    dropout : float, default=0.0
        Dropout between stacked encoder layers and on the code before the head.
    class_weight : None, "balanced" or dict, default=None
        Weights of the classes in the cross-entropy, as in scikit-learn: "balanced"
        weighs each class by ``n_samples / (n_classes * count)``; a dict maps labels to
        weights (classes not in it weigh 1).
    scale : {"standard", "minmax", None}, default="standard"
        Per-feature scaling learned in ``fit`` when ``encoder`` is None; a seeded
        classifier uses its autoencoder's scaler (the weights expect that scaling).
    learning_rate, batch_size, epochs, clip_grad_norm, random_state, device, verbose, n_threads
        As in `LSTMAutoencoder`.
    validation_split : float, default=0.0
        Fraction of the samples held out to monitor validation accuracy: a random
        split, stratified by class when every class has two samples or more (not the
        last samples, as in `LSTMAutoencoder`: labelled sets are often sorted by class).
    patience : int or None, default=None
        Early stopping: stop after this many epochs without a better validation
        accuracy (training loss without a validation split) and restore the best
        epoch's weights; never before epoch 10 (``TrainSettings.min_epochs``). None
        trains all ``epochs`` and keeps the last weights.
    warm_start : bool, default=False
        A second ``fit`` continues from the fitted weights, scaler, optimiser and classes
        (new labels must be among ``classes_``) instead of starting over (see
        `LSTMAutoencoder`; ``partial_fit`` makes one pass).
    precision : {"fp32", "bf16", "fp16"}, default="fp32"
        As in `LSTMAutoencoder`.

    Attributes
    ----------
    classes_ : ndarray (K,)
        The class labels (sorted), as given in ``y`` (strings or numbers).
    module_ : lstmae.modules.Classifier
    config_ : lstmae.config.ModelConfig
        The encoder's architecture (and pooling).
    scaler_ : lstmae.data.scaling.SequenceScaler
    history_ : dict
        As `LSTMAutoencoder`'s, plus ``val_accuracy`` per epoch with a validation split.
    n_features_in_ : int
        Number of features F per time step.

    Notes
    -----
    Inputs are sequences in any form `LSTMAutoencoder` accepts: (N, L, F), (N, L), a
    list of (L_i, F) arrays of different lengths, or a DataFrame. ``y`` has one label
    per sequence.
    """

    def __init__(
        self,
        encoder: Any = None,
        freeze_encoder: bool = False,
        fine_tuning: str = "lp-ft",
        encoder_lr_scale: float = 0.01,
        pooling: str | None = "all",
        hidden_size: int = 64,
        num_layers: int = 1,
        bidirectional: bool = False,
        dropout: float = 0.0,
        code_size: int | None = None,
        activation: str = "tanh",
        cell_clip: float | str | None = "auto",
        class_weight: Any = None,
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
        self.encoder = encoder
        self.freeze_encoder = freeze_encoder
        self.fine_tuning = fine_tuning
        self.encoder_lr_scale = encoder_lr_scale
        self.pooling = pooling
        self.hidden_size = hidden_size
        self.num_layers = num_layers
        self.bidirectional = bidirectional
        self.dropout = dropout
        self.code_size = code_size
        self.activation = activation
        self.cell_clip = cell_clip
        self.class_weight = class_weight
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

    def __sklearn_clone__(self) -> "LSTMClassifier":
        # as sklearn.base.clone, except that the encoder is passed on as is: a fitted
        # autoencoder is a read-only source of weights, and a clone of it would be unfitted
        params = {k: clone(v, safe=False) for k, v in self.get_params(deep=False).items() if k != "encoder"}
        return type(self)(encoder=self.encoder, **params)

    # ------------------------------------------------------------------ validation
    def _source(self) -> LSTMAutoencoder | None:
        """The fitted autoencoder that seeds the encoder, or None."""
        enc = self.encoder
        if enc is None:
            return None
        if type(enc).__name__ == "FrozenEstimator" and hasattr(enc, "estimator"):  # sklearn.frozen
            enc = enc.estimator
        if isinstance(enc, (str, os.PathLike)):
            return LSTMAutoencoder.load(enc, device="cpu")
        if isinstance(enc, LSTMAutoencoder):
            if not hasattr(enc, "module_"):
                raise ValueError(
                    "encoder is an LSTMAutoencoder that is not fitted; fit it first (e.g. on unlabelled "
                    "sequences) or pass the directory of a saved one."
                )
            return enc
        raise ValueError(
            f"encoder={enc!r} is not valid; pass a fitted LSTMAutoencoder, the directory of a saved one, "
            "or None for a randomly initialised encoder."
        )

    def _model_config(self, n_features: int, source: LSTMAutoencoder | None) -> ModelConfig:
        if source is None:
            return ModelConfig(
                n_features=n_features, hidden_size=self.hidden_size, num_layers=self.num_layers,
                bidirectional=self.bidirectional, dropout=self.dropout, code_size=self.code_size,
                activation=self.activation, cell_clip=self.cell_clip,
                pooling="last" if self.pooling is None else self.pooling,
            )
        enc = source.config_
        return ModelConfig(
            n_features=enc.n_features, hidden_size=enc.hidden_size, num_layers=enc.num_layers,
            bidirectional=enc.bidirectional, dropout=self.dropout, code_size=enc.code_size,
            activation=enc.activation, cell_clip=enc.cell_clip,
            pooling=enc.pooling if self.pooling is None else self.pooling,
        )

    def _check_y(self, y: Any, n: int) -> np.ndarray:
        if y is None:
            raise ValueError(
                f"{type(self).__name__} requires y to be passed, but the target y is None; give one class "
                "label per sequence."
            )
        y = column_or_1d(y, warn=True)
        check_classification_targets(y)
        if len(y) != n:
            raise ValueError(f"y has {len(y)} labels but X has {n} sequences; give one label per sequence.")
        return y

    def _class_weights(self, classes: np.ndarray, y_idx: np.ndarray) -> torch.Tensor | None:
        cw = self.class_weight
        if cw is None:
            return None
        counts = np.bincount(y_idx, minlength=len(classes)).astype(np.float64)
        if isinstance(cw, str) and cw == "balanced":
            weights = len(y_idx) / (len(classes) * counts)
        elif isinstance(cw, dict):
            lookup = {(k.item() if isinstance(k, np.generic) else k): v for k, v in cw.items()}
            known = set(classes.tolist())
            unknown = [k for k in lookup if k not in known]
            if unknown:
                raise ValueError(
                    f"class_weight has labels {unknown} that are not in y (the classes are "
                    f"{classes.tolist()}); use the labels of y as keys."
                )
            try:
                weights = np.array([float(lookup.get(c, 1.0)) for c in classes.tolist()])
            except (TypeError, ValueError):
                weights = np.array([np.nan])
            if not np.all(np.isfinite(weights)) or np.any(weights < 0) or not np.any(weights > 0):
                raise ValueError(f"class_weight={cw!r} is not valid; weights must be finite, >= 0, not all 0.")
        else:
            raise ValueError(f"class_weight={cw!r} is not valid; use None, 'balanced' or a dict {{label: weight}}.")
        return torch.tensor(weights, dtype=torch.float32)

    def _split(self, y_idx: np.ndarray, seed: int) -> tuple[np.ndarray, np.ndarray | None]:
        """Indices of the training and validation samples (validation None without a split)."""
        n = len(y_idx)
        n_val = validation_count(n, self.validation_split)
        if n_val == 0:
            return np.arange(n), None
        k = int(y_idx.max()) + 1
        counts = np.bincount(y_idx)
        stratify = y_idx if counts.min() >= 2 and n_val >= k and n - n_val >= k else None
        train, val = train_test_split(np.arange(n), test_size=n_val, random_state=seed % 2**32, stratify=stratify)
        return np.sort(train), np.sort(val)

    # ------------------------------------------------------------------ fit
    def fit(self, X: Any, y: Any) -> "LSTMClassifier":
        """Train on sequences `X` (see Notes) with one class label per sequence in `y`. Returns self."""
        padded = to_padded(X)
        y = self._check_y(y, padded.x.shape[0])
        settings = self._train_settings()  # the same training parameters, with the same checks, as the autoencoder
        freeze = check_bool("freeze_encoder", self.freeze_encoder)
        check_choice("fine_tuning", self.fine_tuning, FINE_TUNINGS)
        check_number("encoder_lr_scale", self.encoder_lr_scale, 0.0, 1.0, low_inclusive=False, high_inclusive=True)
        device = resolve_device(self.device)
        seed = seed_from(self.random_state)
        source = self._source()
        if source is not None and source.n_features_in_ != padded.n_features:
            raise ValueError(
                f"X has {padded.n_features} features, but the encoder was fitted with {source.n_features_in_}; "
                "pass sequences with the autoencoder's features in the same order."
            )
        cfg = self._model_config(padded.n_features, source)
        init = self.continuation(padded.n_features)
        classes, y_idx = self._encode_classes(y, None if init is None else self.classes_)
        if len(classes) < 2:
            raise ValueError(
                f"y has only one class ({classes[0]!r}); a classifier needs at least two classes."
            )
        weights = self._class_weights(classes, y_idx)
        if init is not None:  # a continued fit keeps its scaler
            scaler = self.scaler_
        elif source is not None:
            scaler = SequenceScaler.from_dict(source.scaler_.to_dict())  # a copy
        else:
            scaler = SequenceScaler.fit(padded.x, padded.mask(), self.scale)
        data = scaled_batch(padded, scaler)
        data["y"] = torch.from_numpy(y_idx.astype(np.int64))
        train_idx, val_idx = self._split(y_idx, seed)
        train = {k: v[torch.from_numpy(train_idx)] for k, v in data.items()}
        val = {k: v[torch.from_numpy(val_idx)] for k, v in data.items()} if val_idx is not None else None
        batch_size = int(self.batch_size)

        def error_rate(model: torch.nn.Module, val_data: dict) -> float:
            was_training = model.training
            model.eval()
            logits = infer(lambda b: {"logits": model(b)[0]["logits"]}, val_data, batch_size, device)["logits"]
            model.train(was_training)
            return float((logits.argmax(dim=1) != val_data["y"]).double().mean())

        lp_ft = source is not None and self.fine_tuning == "lp-ft"

        def build() -> Classifier:
            module = Classifier(cfg, len(classes), weights, freeze_encoder=freeze)
            if source is not None:
                module.encoder.load_state_dict(source.module_.encoder.state_dict())
                if lp_ft and init is None:
                    _probe_head(module, train, weights, batch_size)
            return module

        start = _FineTuneStart(init, None if freeze else float(self.encoder_lr_scale)) if lp_ft else init
        probe_only = lp_ft and init is None and len(train["y"]) < MIN_FINE_TUNE_PER_CLASS * len(classes)
        if probe_only:
            settings = dataclasses.replace(settings, epochs=0)
        self.module_, history = self._train(build, train, val, settings, device, seed,
                                            monitor=error_rate if val is not None else None, init=start)
        if lp_ft:
            history["fine_tuned"] = not probe_only
        if init is None:
            history.pop("epochs_before", None)
        if "val_monitor" in history:
            history["val_accuracy"] = [1.0 - e for e in history.pop("val_monitor")]
        self.config_ = cfg
        self.scaler_ = scaler
        self.history_ = history
        self.classes_ = classes
        self.n_features_in_ = padded.n_features
        if init is None:
            self.data_spec_ = None
        return self

    def partial_fit(self, X: Any, y: Any, classes: Any = None) -> "LSTMClassifier":
        """One pass (one epoch) over new labelled sequences, continuing from the fitted weights, scaler,
        optimiser and classes; on an unfitted classifier it starts like ``fit``.

        `classes`: all the labels there will be, needed on the first call when its `y` does not
        hold them all (as in scikit-learn); later calls may omit it. All of X trains
        (``validation_split`` and ``patience`` do not apply). Returns self.
        """
        if classes is not None and hasattr(self, "module_"):
            if not np.array_equal(np.unique(np.asarray(classes)), self.classes_):
                raise ValueError(f"classes={list(np.unique(np.asarray(classes)))} differ from the classes of the "
                                 f"first partial_fit ({self.classes_.tolist()}); they cannot change.")
        self._first_classes = None if hasattr(self, "module_") else classes
        try:
            with self._one_pass():
                return self.fit(X, y)
        finally:
            del self._first_classes

    def _encode_classes(self, y: np.ndarray, known: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
        """(classes, index of each label): the labels of y; or `known` ones (a continued fit), or those
        given to the first `partial_fit`, which every label must be among."""
        if known is None:
            given = getattr(self, "_first_classes", None)
            if given is None:
                return np.unique(y, return_inverse=True)
            known = np.unique(np.asarray(given))
        lookup = {v: i for i, v in enumerate(known.tolist())}
        idx = np.array([lookup.get(v, -1) for v in np.asarray(y).tolist()], dtype=np.int64)
        if (idx < 0).any():
            unknown = sorted({v for v, i in zip(np.asarray(y).tolist(), idx) if i < 0}, key=str)
            raise ValueError(
                f"y has labels {unknown} that are not among the classes {known.tolist()}; a continued fit "
                "(warm_start, partial_fit) keeps the classes of the first one (give them all to the first "
                "partial_fit with classes=...)."
            )
        return known, idx

    # ------------------------------------------------------------------ inference
    def predict_proba(self, X: Any) -> np.ndarray:
        """Class probabilities, float64 (N, K), columns in the order of ``classes_``; rows sum to 1."""
        self._fitted()
        padded = to_padded(X, n_features=self.n_features_in_)
        logits = self.infer(lambda b: {"logits": self.module_(b)[0]["logits"]},
                             scaled_batch(padded, self.scaler_))["logits"]
        return torch.softmax(torch.from_numpy(logits).double(), dim=1).numpy()

    def predict(self, X: Any) -> np.ndarray:
        """The most probable class of each sequence, (N,), labels as in ``classes_``."""
        proba = self.predict_proba(X)
        return self.classes_[np.argmax(proba, axis=1)]

    def score(self, X: Any, y: Any, sample_weight: Any = None) -> float:
        """Accuracy on (X, y). Labels not seen in ``fit`` are an error, not a miss."""
        self._fitted()
        pred = self.predict(X)
        y = self._check_y(y, len(pred))
        unknown = sorted(set(np.unique(y).tolist()) - set(self.classes_.tolist()), key=str)
        if unknown:
            raise ValueError(
                f"y has labels {unknown} that the classifier did not see in fit (its classes are "
                f"{self.classes_.tolist()}); score on data with known labels only."
            )
        return float(accuracy_score(y, pred, sample_weight=sample_weight))

    # ------------------------------------------------------------------ persistence
    # The labels go into state.json; an `encoder` object is not saved (its weights, fine-tuned,
    # are the classifier's own), a path is.
    def json_params(self) -> dict:
        params = super().json_params()
        enc = params["encoder"]
        params["encoder"] = os.fspath(enc) if isinstance(enc, (str, os.PathLike)) else None
        if isinstance(params["class_weight"], dict):  # JSON keys are strings: keep the labels' types
            params["class_weight"] = [[_plain(k), float(v)] for k, v in params["class_weight"].items()]
        return params

    @classmethod
    def params_from_json(cls, params: dict) -> dict:
        params = dict(params)
        if isinstance(params.get("class_weight"), list):
            params["class_weight"] = {k: v for k, v in params["class_weight"]}
        return params

    def extra_state(self) -> dict:
        return {"classes": [_plain(c) for c in self.classes_],
                "classes_dtype": self.classes_.dtype.str if self.classes_.dtype != object else "object"}

    def restore_extra_state(self, state: dict) -> None:
        self.classes_ = np.array(state["classes"], dtype=np.dtype(state["classes_dtype"]))
        if self.classes_.ndim != 1 or len(self.classes_) < 1:
            raise ValueError("no classes")

    def unfitted_module(self, n_features: int, n_classes: int = 2) -> Classifier:
        """The module `fit` would build for `n_features` features (and, say, 2 classes)."""
        source = self._source()
        return Classifier(self._model_config(n_features if source is None else source.n_features_in_, source),
                          n_classes, freeze_encoder=bool(self.freeze_encoder))

    def build_module(self) -> Classifier:
        return Classifier(self.config_, len(self.classes_), freeze_encoder=bool(self.freeze_encoder))

    # ------------------------------------------------------------------ sklearn tags
    def __sklearn_tags__(self):
        return super().__sklearn_tags__()

    def _more_tags(self):  # scikit-learn < 1.6
        return {"X_types": ["2darray", "3darray"]}


def _plain(label: Any) -> Any:
    """A label as a JSON value (str, int, float or bool)."""
    value = label.item() if isinstance(label, np.generic) else label
    if not isinstance(value, _LABEL_TYPES):
        raise ValueError(
            f"cannot save class label {label!r} of type {type(label).__name__}; labels must be strings, "
            "integers, floats or booleans."
        )
    return value


def _probe_head(module: Classifier, train: dict, class_weight: torch.Tensor | None, batch_size: int) -> None:
    """LP of LP-FT: fit a logistic regression (scikit-learn's, L2 with C=1, on standardised features) of
    the training labels on the frozen encoder's pooled codes and write it into ``module.head`` (the
    standardisation folded into its weights), so the classifier starts as that linear probe."""
    from sklearn.linear_model import LogisticRegression

    was_training = module.training
    module.eval()
    data = {k: v for k, v in train.items() if k != "y"}
    feats = infer(lambda b: {"f": module.encoder.pool(b["x"], b.get("lengths"))}, data, batch_size,
                  torch.device("cpu"))["f"].double().numpy()
    module.train(was_training)
    y = train["y"].numpy()
    n_classes = module.head.out_features
    present = np.unique(y)
    mean, std = feats.mean(axis=0), feats.std(axis=0)
    std[std < 1e-12] = 1.0
    z = (feats - mean) / std
    weight = np.zeros((n_classes, feats.shape[1]))
    bias = np.zeros(n_classes)
    if len(present) == 1:  # e.g. the first partial_fit of a batch with one class
        bias[:] = -10.0
        bias[present[0]] = 0.0
    else:
        cw = None if class_weight is None else {int(c): float(class_weight[c]) for c in present}
        lr = LogisticRegression(C=1.0, max_iter=5000, class_weight=cw).fit(z, y)
        coef, intercept = lr.coef_, lr.intercept_
        if len(present) == 2:  # one decision function: softmax([-z/2, z/2]) = sigmoid(z)
            coef = np.vstack([-coef / 2, coef / 2])
            intercept = np.array([-intercept[0] / 2, intercept[0] / 2])
        bias[:] = intercept.min() - 10.0  # classes not in these labels: never predicted at first
        weight[present] = coef
        bias[present] = intercept
    weight = weight / std  # fold the standardisation in: w.(x - m)/s + b = (w/s).x + (b - (w/s).m)
    bias = bias - weight @ mean
    with torch.no_grad():
        module.head.weight.copy_(torch.from_numpy(weight))
        module.head.bias.copy_(torch.from_numpy(bias))
    # scikit-learn minimises 0.5 |w|^2 + C sum(losses) on standardised features: per sample, a penalty of
    # |w|^2 / (2 C n), in the folded weights (w s)^2 / (2 C n); a two-class probe's one vector w became the
    # rows -w/2 and w/2, whose squares sum to |w|^2 / 2, hence twice the factor
    factor = (2.0 if len(present) == 2 else 1.0) / (2.0 * 1.0 * len(y))
    penalty = np.broadcast_to(factor * std ** 2, weight.shape).copy()
    module.head_penalty = torch.from_numpy(penalty).to(module.head.weight.dtype)


class _FineTuneStart:
    """The FT of LP-FT, as `SequenceEstimator._train`'s `init`: the encoder's parameters in their own Adam
    parameter group at ``encoder_lr_scale`` times the learning rate (None: one group, e.g. a frozen
    encoder); a continued fit (`Continuation`) loads its weights and optimiser state into those groups."""

    def __init__(self, continuation: Any, encoder_lr_scale: float | None) -> None:
        self.continuation = continuation
        self.scale = encoder_lr_scale
        self.epochs_before = continuation.epochs_before if continuation is not None else 0
        self.module: Classifier | None = None

    def load_weights(self, module: Classifier) -> None:
        self.module = module
        if self.continuation is not None:
            self.continuation.load_weights(module)

    def load_optimizer(self, optimizer: torch.optim.Optimizer, learning_rate: float) -> None:
        if self.scale is not None and self.module is not None:
            encoder = {id(p) for p in self.module.encoder.parameters()}
            params = [p for group in optimizer.param_groups for p in group["params"]]
            optimizer.param_groups.clear()
            optimizer.add_param_group({"params": [p for p in params if id(p) in encoder]})
            optimizer.add_param_group({"params": [p for p in params if id(p) not in encoder]})
        if self.continuation is not None:
            self.continuation.load_optimizer(optimizer, learning_rate)
        if self.scale is not None:
            optimizer.param_groups[0]["lr"] = learning_rate * self.scale
            optimizer.param_groups[1]["lr"] = learning_rate
