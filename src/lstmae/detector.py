"""`LSTMAnomalyDetector`: anomaly detection from the reconstruction errors of an LSTM autoencoder.

Direction of the scores (stated once, tested):

- ``anomaly_score(X)``, ``score_series(series)``: **higher is more anomalous**;
- ``score_samples(X)`` = ``-anomaly_score(X)``: higher is more normal (scikit-learn);
- ``decision_function(X)`` = ``threshold_ - anomaly_score(X)``: negative for outliers;
- ``predict(X)``: ``+1`` inlier, ``-1`` outlier (scikit-learn's OutlierMixin convention).

Shape legend: N sequences, L time steps, F features, T points of a long series.

How a score is made: the autoencoder rebuilds each sequence; the absolute residual
``|x - x_hat|`` (in the model's scaled units) at each step is an error vector of F
values, kept as an (N, L, F) map (`error_map`). An error model turns each error vector
into one number: "mean" (the mean absolute error over features) or "mahalanobis" (the
EncDec-AD error model of Malhotra et al. 2016: the Mahalanobis distance of the error
vector from the mean error of held-out normal data, with a Ledoit-Wolf shrunk
covariance so that a singular covariance does not break it). A sequence's score is
the mean over its steps; a long series' score at each time point uses the error
vectors averaged over all windows that cover the point.

The error model and the threshold are fitted on held-out normal data (the last
``holdout`` fraction of the sequences, or of the series), never on the windows the
autoencoder was trained on.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, OutlierMixin, clone
from sklearn.metrics import precision_recall_curve
from sklearn.utils.validation import check_is_fitted

from .data.sequences import Padded, to_padded
from .data.windows import sliding_windows
from .estimators import LSTMAutoencoder, _check_number
from .metrics import segments
from .scoring import windowed_to_points
from .serialization import ModelFileError, read_model_dir, save_model_dir

ERROR_MODELS = ("mean", "mahalanobis")
THRESHOLDS = ("contamination", "k-sigma", "max", "f-beta")


def default_autoencoder() -> LSTMAutoencoder:
    """The autoencoder a detector uses unless given one; chosen by measurement (docs/benchmarks.md)."""
    return LSTMAutoencoder(
        task="reconstruct", hidden_size=64, bridge="repeat", learning_rate=3e-3, batch_size=64,
        epochs=40, validation_split=0.1, patience=5,
    )


@dataclass
class Detection:
    """Result of `LSTMAnomalyDetector.detect_series`.

    scores : (T,) anomaly score per point (higher is more anomalous; NaN where no window covers)
    labels : (T,) 1 where the score exceeds the threshold
    events : list of dicts, one per run of consecutive anomalous points: ``start``,
        ``end`` (exclusive), ``peak`` (index of the highest score), ``peak_score``,
        ``top_features`` (feature names, most deviant first)
    threshold : the threshold used
    """

    scores: np.ndarray
    labels: np.ndarray
    events: list[dict]
    threshold: float

    def events_frame(self):
        import pandas as pd

        rows = [{**e, "top_features": ",".join(e["top_features"])} for e in self.events]
        return pd.DataFrame(rows, columns=["start", "end", "peak", "peak_score", "top_features"])


class LSTMAnomalyDetector(OutlierMixin, BaseEstimator):
    """Anomaly detector on an LSTM autoencoder's reconstruction errors.

    Parameters
    ----------
    autoencoder : LSTMAutoencoder or None
        The (unfitted) autoencoder to train, any task with a reconstruction decoder,
        any bridge and options; it is cloned in ``fit``. None uses
        `default_autoencoder()`, chosen by measurement (see the docs).
    error_model : {"mean", "mahalanobis"}, default="mean"
        "mean": mean absolute error over features; "mahalanobis": EncDec-AD's Gaussian
        error model (see the module docstring). The default was chosen by measurement.
    threshold : {"contamination", "k-sigma", "max", "f-beta"}, default="k-sigma"
        How ``threshold_`` is set on held-out normal scores: their ``1 - contamination``
        quantile; their mean + ``k_sigma`` standard deviations; their maximum; or the
        threshold maximising F-beta on labelled validation data (``validation_data`` in
        ``fit`` / ``validation_series`` in ``fit_series``).
    contamination : float, default=0.01
    k_sigma : float, default=4.0
    beta : float, default=1.0
        F-beta's beta (EncDec-AD used 0.1, favouring precision).
    holdout : float, default=0.25
        Fraction of the normal training data held out for the error model and threshold.
    window, stride : int or None, default None and 1
        Windowing of long series for ``fit_series`` / ``score_series`` / ``detect_series``.
    random_state : int or None
        Passed to the autoencoder when given.

    Attributes
    ----------
    autoencoder_ : the fitted LSTMAutoencoder
    error_mean_, error_scale_, error_precision_ : mean (F,), standard deviation (F,) and
        inverse shrunk covariance (F, F, Mahalanobis model only) of held-out normal errors
    threshold_ : float
    offset_ : float, ``-threshold_`` (scikit-learn: ``decision_function = score_samples - offset_``)
    level_ : "sequence" or "point": what the threshold was fitted on (fit or fit_series)
    feature_names_ : names of the features (strings)
    """

    def __init__(
        self,
        autoencoder: LSTMAutoencoder | None = None,
        error_model: str = "mean",
        threshold: str = "k-sigma",
        contamination: float = 0.01,
        k_sigma: float = 4.0,
        beta: float = 1.0,
        holdout: float = 0.25,
        window: int | None = None,
        stride: int = 1,
        random_state: int | None = None,
    ) -> None:
        self.autoencoder = autoencoder
        self.error_model = error_model
        self.threshold = threshold
        self.contamination = contamination
        self.k_sigma = k_sigma
        self.beta = beta
        self.holdout = holdout
        self.window = window
        self.stride = stride
        self.random_state = random_state

    # ------------------------------------------------------------------ validation
    def _validate(self) -> None:
        if self.error_model not in ERROR_MODELS:
            raise ValueError(f"error_model={self.error_model!r} is not valid; choose 'mean' or 'mahalanobis'.")
        if self.threshold not in THRESHOLDS:
            raise ValueError(
                f"threshold={self.threshold!r} is not valid; choose one of {', '.join(repr(t) for t in THRESHOLDS)}."
            )
        _check_number("contamination", self.contamination, 0.0, 0.5, low_inclusive=False)
        _check_number("k_sigma", self.k_sigma, 0.0)
        _check_number("beta", self.beta, 0.0, low_inclusive=False)
        _check_number("holdout", self.holdout, 0.0, 1.0, low_inclusive=False)
        _check_number("window", self.window, 1, integer=True, allow_none=True)
        _check_number("stride", self.stride, 1, integer=True)
        if self.autoencoder is not None and not isinstance(self.autoencoder, LSTMAutoencoder):
            raise ValueError(f"autoencoder must be an LSTMAutoencoder or None, got {type(self.autoencoder).__name__}.")

    def _new_autoencoder(self) -> LSTMAutoencoder:
        ae = clone(self.autoencoder) if self.autoencoder is not None else default_autoencoder()
        if ae.task == "predict":
            raise ValueError(
                "the autoencoder has task='predict', which has no reconstruction decoder; anomaly scores need "
                "task='reconstruct' or 'composite'."
            )
        if self.random_state is not None:
            ae.set_params(random_state=self.random_state)
        return ae

    # ------------------------------------------------------------------ error model
    def _fit_error_model(self, vectors: np.ndarray) -> None:
        """Fit on error vectors (M, F) of held-out normal data."""
        self.error_mean_ = vectors.mean(axis=0)
        self.error_scale_ = vectors.std(axis=0) + 1e-12
        if self.error_model == "mahalanobis":
            from sklearn.covariance import LedoitWolf

            cov = LedoitWolf().fit(vectors).covariance_ if len(vectors) > 1 else np.eye(vectors.shape[1])
            # shrinkage keeps cov positive definite; pinv guards the degenerate all-constant case
            self.error_precision_ = np.linalg.pinv(cov + 1e-12 * np.eye(cov.shape[0]))

    def _vector_scores(self, vectors: np.ndarray) -> np.ndarray:
        """Error vectors (..., F) -> scores (...); higher is more anomalous."""
        if self.error_model == "mean":
            return vectors.mean(axis=-1)
        d = vectors - self.error_mean_
        return np.sqrt(np.maximum(np.einsum("...i,ij,...j->...", d, self.error_precision_, d), 0.0))

    def _fit_threshold(self, normal_scores: np.ndarray, val_scores: np.ndarray | None, val_labels) -> None:
        normal_scores = normal_scores[np.isfinite(normal_scores)]
        if self.threshold == "contamination":
            t = np.quantile(normal_scores, 1.0 - self.contamination)
        elif self.threshold == "k-sigma":
            t = normal_scores.mean() + self.k_sigma * normal_scores.std()
        elif self.threshold == "max":
            t = normal_scores.max()
        else:
            if val_scores is None:
                raise ValueError(
                    "threshold='f-beta' needs labelled validation data: pass validation_data=(X_val, y_val) to fit "
                    "or validation_series=..., validation_labels=... to fit_series."
                )
            labels = (np.asarray(val_labels).ravel() > 0).astype(int)
            ok = np.isfinite(val_scores)
            if labels.shape != val_scores.shape:
                raise ValueError(f"{labels.size} validation labels for {val_scores.size} validation scores.")
            if labels[ok].sum() == 0:
                raise ValueError("the validation labels hold no anomaly; F-beta needs at least one labelled anomaly.")
            p, r, thresholds = precision_recall_curve(labels[ok], val_scores[ok])
            b2 = self.beta**2
            f = (1 + b2) * p * r / np.maximum(b2 * p + r, 1e-12)
            t = thresholds[int(np.argmax(f[:-1]))]
            t = np.nextafter(t, -np.inf)  # scores >= the best threshold are flagged: score > t
        self.threshold_ = float(t)
        self.offset_ = -self.threshold_

    # ------------------------------------------------------------------ sequences
    def fit(self, X: Any, y: Any = None, validation_data: tuple | None = None) -> "LSTMAnomalyDetector":
        """Fit on normal sequences X; y is ignored (unsupervised).

        The last ``holdout`` fraction of X is held out: the autoencoder trains on the
        rest, the error model and threshold are fitted on the held-out part.
        ``validation_data=(X_val, y_val)`` (y_val: 1 anomalous, 0 normal per sequence)
        is needed for ``threshold="f-beta"``.
        """
        self._validate()
        padded = to_padded(X)
        n = padded.x.shape[0]
        n_hold = int(round(n * self.holdout))
        if n_hold < 1 or n - n_hold < 1:
            raise ValueError(
                f"holdout={self.holdout} of {n} sequences leaves {n - n_hold} for training and {n_hold} held out; "
                "both need at least one. Give more sequences or change holdout."
            )
        self.autoencoder_ = self._new_autoencoder().fit(_subset(padded, slice(0, n - n_hold)))
        held = _subset(padded, slice(n - n_hold, n))
        hp, residuals = self.autoencoder_._abs_residuals(held)
        self._fit_error_model(residuals[hp.mask()])
        val = None
        if validation_data is not None:
            X_val, y_val = validation_data
            val = (self._sequence_scores(*self.autoencoder_._abs_residuals(X_val)), y_val)
        self._fit_threshold(self._sequence_scores(hp, residuals), *(val or (None, None)))
        self.level_ = "sequence"
        self.n_features_in_ = padded.n_features
        self.feature_names_ = [str(i) for i in range(padded.n_features)]
        return self

    def _sequence_scores(self, padded: Padded, residuals: np.ndarray) -> np.ndarray:
        step = self._vector_scores(residuals)  # (N, L)
        mask = padded.mask()
        return (step * mask).sum(axis=1) / mask.sum(axis=1)

    def error_map(self, X: Any):
        """Absolute residual per step and feature, scaled units: (N, L, F), or a list for a list input."""
        check_is_fitted(self, "threshold_")
        from .data.sequences import restore_layout

        padded, residuals = self.autoencoder_._abs_residuals(X)
        return restore_layout(residuals, padded.lengths, padded.layout)

    def step_scores(self, X: Any):
        """Anomaly score of every step (N, L) (a list of (L_i,) for a list input); higher is more anomalous."""
        check_is_fitted(self, "threshold_")
        padded, residuals = self.autoencoder_._abs_residuals(X)
        step = self._vector_scores(residuals) * padded.mask()
        if padded.layout == "list":
            return [step[i, : int(n)] for i, n in enumerate(padded.lengths)]
        return step

    def anomaly_score(self, X: Any) -> np.ndarray:
        """One score per sequence (N,): mean step score over its valid steps. Higher is more anomalous."""
        check_is_fitted(self, "threshold_")
        padded, residuals = self.autoencoder_._abs_residuals(X)
        return self._sequence_scores(padded, residuals)

    def score_samples(self, X: Any) -> np.ndarray:
        """``-anomaly_score(X)``: higher is more normal (scikit-learn convention)."""
        return -self.anomaly_score(X)

    def decision_function(self, X: Any) -> np.ndarray:
        """``threshold_ - anomaly_score(X)``: negative for outliers."""
        return self.score_samples(X) - self.offset_

    def predict(self, X: Any) -> np.ndarray:
        """+1 for inliers, -1 for outliers (anomaly_score above ``threshold_``)."""
        return np.where(self.decision_function(X) < 0, -1, 1)

    # ------------------------------------------------------------------ long series
    def _series(self, series: Any, name: str = "series") -> np.ndarray:
        if self.window is None:
            raise ValueError("long-series methods need window=...; set LSTMAnomalyDetector(window=64), say.")
        arr = np.asarray(series, dtype=np.float64) if not isinstance(series, np.ndarray) else series
        if arr.ndim == 1:
            arr = arr[:, None]
        if arr.ndim != 2:
            raise ValueError(f"{name} has shape {arr.shape}; a long series is (T,) or (T, F).")
        if arr.shape[0] < self.window:
            raise ValueError(
                f"{name} has {arr.shape[0]} points, fewer than window={self.window}; use a longer series or smaller window."
            )
        if not np.isfinite(arr).all():
            bad = np.argwhere(~np.isfinite(arr))[0]
            raise ValueError(
                f"{name} contains NaN or inf (first at point {bad[0]}, feature {bad[1]}); fill missing values first "
                "(e.g. lstmae.data.windows.fill_missing(series, 'interpolate'))."
            )
        return arr

    def _point_errors(self, series: np.ndarray, progress: bool = False) -> np.ndarray:
        """Per-point error vectors (T, F): residuals averaged over the windows covering each point."""
        fn = lambda w: self.autoencoder_._abs_residuals(w)[1]  # noqa: E731
        return windowed_to_points(fn, series, self.window, self.stride, progress=progress)

    def fit_series(self, series: Any, validation_series: Any = None, validation_labels: Any = None,
                   feature_names: list[str] | None = None) -> "LSTMAnomalyDetector":
        """Fit on one long normal series (T,) or (T, F).

        The autoencoder trains on the windows of the first ``1 - holdout`` of the
        series; the error model and the threshold use the per-point scores of the rest.
        """
        self._validate()
        arr = self._series(series)
        cut = int(round(arr.shape[0] * (1.0 - self.holdout)))
        ae = self._new_autoencoder()
        span = self.window + (ae.horizon if ae.task == "composite" else 0)
        if cut < span or arr.shape[0] - cut < self.window:
            raise ValueError(
                f"the series has {arr.shape[0]} points: with holdout={self.holdout} the training part ({cut}) or the "
                f"held-out part ({arr.shape[0] - cut}) is shorter than one window ({span}); give a longer series."
            )
        self.autoencoder_ = ae.fit(np.ascontiguousarray(sliding_windows(arr[:cut], span, self.stride)))
        vectors = self._point_errors(arr[cut:])
        vectors = vectors[np.isfinite(vectors).all(axis=1)]
        self._fit_error_model(vectors)
        val = None
        if validation_series is not None:
            val_vectors = self._point_errors(self._series(validation_series, "validation_series"))
            val = (self._vector_scores(val_vectors), validation_labels)
        self._fit_threshold(self._vector_scores(vectors), *(val or (None, None)))
        self.level_ = "point"
        self.n_features_in_ = arr.shape[1]
        self.feature_names_ = list(feature_names) if feature_names else [str(i) for i in range(arr.shape[1])]
        return self

    def score_series(self, series: Any, progress: bool = False) -> np.ndarray:
        """One anomaly score per time point (T,), higher is more anomalous (NaN where no window covers)."""
        check_is_fitted(self, "threshold_")
        return self._vector_scores(self._point_errors(self._series(series), progress))

    def detect_series(self, series: Any, progress: bool = False) -> Detection:
        """Scores, 0/1 labels and events (runs of anomalous points with their peak and top features)."""
        check_is_fitted(self, "threshold_")
        vectors = self._point_errors(self._series(series), progress)
        scores = self._vector_scores(vectors)
        labels = (scores > self.threshold_).astype(np.int64)
        events = []
        for start, end in segments(labels):
            peak = start + int(np.nanargmax(scores[start:end]))
            # how far each feature's error is from held-out normal errors, in their standard deviations
            deviation = (np.nanmean(vectors[start:end], axis=0) - self.error_mean_) / self.error_scale_
            order = np.argsort(-deviation)[: min(3, len(deviation))]
            events.append({"start": start, "end": end, "peak": peak, "peak_score": float(scores[peak]),
                           "top_features": [self.feature_names_[i] for i in order]})
        return Detection(scores=scores, labels=labels, events=events, threshold=self.threshold_)

    # ------------------------------------------------------------------ persistence
    def save(self, path: str | os.PathLike) -> None:
        """A model directory like the autoencoder's, plus the error model and threshold in state.json."""
        check_is_fitted(self, "threshold_")
        ae_config, ae_state = self.autoencoder_._payload()
        params = {k: v for k, v in self.get_params(deep=False).items() if k != "autoencoder"}
        config = {"estimator": type(self).__name__, "params": params, "autoencoder": ae_config,
                  "model": ae_config["model"]}
        detector = {
            "error_mean_": self.error_mean_.tolist(), "error_scale_": self.error_scale_.tolist(),
            "threshold_": self.threshold_, "level_": self.level_,
            "n_features_in_": self.n_features_in_, "feature_names_": self.feature_names_,
        }
        if self.error_model == "mahalanobis":
            detector["error_precision_"] = self.error_precision_.tolist()
        save_model_dir(path, config, self.autoencoder_.module_, {**ae_state, "detector": detector})

    @classmethod
    def load(cls, path: str | os.PathLike, device: str = "auto") -> "LSTMAnomalyDetector":
        config, tensors, state = read_model_dir(path, estimator=cls.__name__)
        try:
            ae = LSTMAutoencoder._restore(config["autoencoder"], tensors, state, path, device)
            det = cls(autoencoder=clone(ae), **config["params"])
            d = state["detector"]
            det.autoencoder_ = ae
            det.error_mean_ = np.asarray(d["error_mean_"], dtype=np.float64)
            det.error_scale_ = np.asarray(d["error_scale_"], dtype=np.float64)
            if "error_precision_" in d:
                det.error_precision_ = np.asarray(d["error_precision_"], dtype=np.float64)
            det.threshold_ = float(d["threshold_"])
            det.offset_ = -det.threshold_
            det.level_ = d["level_"]
            det.n_features_in_ = int(d["n_features_in_"])
            det.feature_names_ = list(d["feature_names_"])
        except (KeyError, TypeError, ValueError) as exc:
            if isinstance(exc, ModelFileError):
                raise
            raise ModelFileError(f"the detector state in {path} is invalid ({exc}); save the model again.") from None
        return det

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.three_d_array = True
        return tags


def _subset(padded: Padded, rows: slice):
    """Rows of a padded set, as an array when all have the same length, else a list."""
    x, lengths = padded.x[rows], padded.lengths[rows]
    if (lengths == padded.x.shape[1]).all():
        return x
    return [x[i, : int(n)] for i, n in enumerate(lengths)]
