"""`LSTMAnomalyDetector`: anomaly detection from the reconstruction errors of an LSTM autoencoder.

Direction of the scores (stated once, tested):

- ``anomaly_score(X)``, ``score_series(series)``: **higher is more anomalous**;
- ``score_samples(X)`` = ``-anomaly_score(X)``: higher is more normal (scikit-learn);
- ``decision_function(X)`` = ``threshold_ - anomaly_score(X)``: negative for outliers;
- ``predict(X)``: ``+1`` inlier, ``-1`` outlier (scikit-learn's OutlierMixin convention).

Shape legend: N sequences, L time steps, F features, T points of a long series.

The detector composes `lstmae.scoring` (where every step of a score is explained): the
autoencoder's residuals, normalised by their step position's typical level; an error
model (mean or Mahalanobis) fitted on held-out normal data (the last ``holdout``
fraction of the sequences, or of the series, never the windows the autoencoder trained
on); a threshold fitted there too; events on long series.
"""
from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, OutlierMixin, clone
from sklearn.utils.validation import check_is_fitted

from ._base import DataSpecMixin, json_params_of
from ._validation import check_choice, check_number
from .data.sequences import LIST, Padded, to_padded, to_series
from .data.sources import is_source
from .data.spec import DataSpec
from .data.stationarity import AUTO_TREND_SHARE, TRANSFORMS, WINDOW_NORMS, SeriesTransform, WindowNorm, trend_share
from .data.windows import coverage_counts, reverse_windowing, sliding_windows
from .estimators import LSTMAutoencoder
from .scoring import (ERROR_MODELS, THRESHOLDS, Detection, ErrorModel, find_events, fit_threshold,
                      moving_mean, robust_center_spread, rolling_thresholds, sequence_scores,
                      windowed_to_points)
from .serialization import ModelFileError, read_model_dir, register, save_model_dir


# the detector's parameters that, when given, replace the autoencoder's of the same name
AE_SETTINGS = ("hidden_size", "epochs", "learning_rate", "batch_size", "verbose", "random_state", "n_threads")
# the long-series options as lstmae <= 0.2 behaved (a model saved without them loads with these)
LEGACY_SERIES_OPTIONS = {"series_transform": None, "window_norm": None, "level_term": False,
                         "adaptive_threshold": None, "smoothing": None, "event_gap": None}


# "auto" smoothing of teacher-forced point errors, chosen with the default below (docs/benchmarks.md)
AUTO_SMOOTHING = 9
# "auto" event gap, in windows: flagged runs at most this many windows apart are one event (docs/benchmarks.md)
AUTO_EVENT_GAP_WINDOWS = 2


def default_autoencoder(series: bool = True) -> LSTMAutoencoder:
    """The autoencoder a detector uses unless given one, chosen by measurement (docs/benchmarks.md).

    For long series (`fit_series`): a conditional decoder fed the true previous frames when scoring too, so
    each point's error is how well it follows from the window's code and the point before it
    (`bench/anomaly.py`). For sets of sequences (`fit`, ``series=False``), where an anomaly is often a whole
    sequence of the wrong shape that is smooth from point to point, the plain reconstruction (0.3's default;
    one-class detection on four UCR sets: mean ROC-AUC 0.621 against 0.597 teacher-forced)."""
    tf = dict(conditional=True, teacher_forcing="always") if series else {}
    return LSTMAutoencoder(
        task="reconstruct", hidden_size=64, bridge="repeat", learning_rate=3e-3, batch_size=64,
        epochs=40, validation_split=0.1, patience=5, scale="robust", **tf,
    )


@register
class LSTMAnomalyDetector(DataSpecMixin, OutlierMixin, BaseEstimator):
    """Anomaly detector on an LSTM autoencoder's reconstruction errors.

    Parameters
    ----------
    autoencoder : LSTMAutoencoder or None
        The (unfitted) autoencoder to train, any task with a reconstruction decoder,
        any bridge and options; it is cloned in ``fit``. None uses
        `default_autoencoder()`, chosen by measurement (see the docs): teacher-forced for long
        series (`fit_series`), plain reconstruction for sets of sequences (`fit`).
    error_model : {"mean", "mahalanobis"}, default="mean"
        "mean": mean absolute error over features; "mahalanobis": EncDec-AD's Gaussian
        error model (see the module docstring). The default was chosen by measurement.
    threshold : {"contamination", "k-sigma", "max", "max-sigma", "f-beta"} or None, default=None
        How ``threshold_`` is set on held-out normal scores: their ``1 - contamination``
        quantile; their mean + ``k_sigma`` standard deviations; their maximum; their maximum +
        ``max_sigma`` standard deviations; or the threshold maximising F-beta on labelled
        validation data (``validation_data`` in ``fit`` / ``validation_series`` in
        ``fit_series``). None (as in PyOD and scikit-learn): "contamination" when
        `contamination` is given, else "max-sigma" for a long series (``fit_series``, chosen by
        measurement: docs/benchmarks.md) and "k-sigma" for sets of sequences (``fit``).
    contamination : float or None, default=None
        Expected share of anomalies; giving it sets the threshold (see `threshold`); with
        ``threshold="contamination"`` and None, 0.01.
    k_sigma : float, default=4.0
        Standard deviations above the held-out mean, for ``threshold="k-sigma"``.
    max_sigma : float, default=1.0
        Standard deviations above the held-out maximum, for ``threshold="max-sigma"``.
    beta : float, default=1.0
        F-beta's beta (EncDec-AD used 0.1, favouring precision).
    holdout : float, default=0.25
        Fraction of the normal training data held out for the error model and threshold.
    window, stride : int or None, default None and 1
        Windowing of long series for ``fit_series`` / ``score_series`` / ``detect_series``.
    series_transform : {"detrend", "difference", None}, default=None
        Long series only: a linear trend fitted on the training part is subtracted, or the
        series is differenced, before windowing (`lstmae.data.stationarity`).
    window_norm : {"level", "level-scale", "auto", None}, default="auto"
        Long series only: each window minus its own mean (and divided by its own spread with
        "level-scale") before the autoencoder: robust to drift, blind to a window's level.
        "auto": "level-scale" when the normal series given to ``fit_series`` trends (a straight
        line explains at least half its variance: `lstmae.data.stationarity.trend_share`), else
        none; a series streamed from a source is never normalised. ``window_norm_`` holds what
        was fitted.
    level_term : bool, default=True
        With `window_norm`: score, beside the residuals, how far each window's mean (and
        spread) jumps from the window before it, so level shifts are seen again.
    adaptive_threshold : int or None, default=None
        Long series only: the threshold moves with the rolling median of the last
        `adaptive_threshold` scores (`lstmae.scoring.rolling_thresholds`); None: fixed.
    smoothing : int, "auto" or None, default="auto"
        Long series only: each point's error vector is the centred moving mean of the
        per-point error vectors over `smoothing` points (`lstmae.scoring.moving_mean`), for
        the held-out normal points (threshold) and in scoring alike, streamed series too. With a
        teacher-forced decoder (``teacher_forcing="always"``) a point's error is that point's own
        surprise, which the windows covering it do not average out; a short moving mean keeps a
        single noisy point from becoming an event. "auto": 9 points with a teacher-forced
        autoencoder (the default one), else none (the setting measured in docs/benchmarks.md).
        None: no smoothing.
    event_gap : int, "auto" or None, default="auto"
        Long series only (``detect_series``, streams too): runs of flagged points at most
        `event_gap` unflagged points apart are reported as one event (`lstmae.metrics.event_spans`),
        from its first flagged point to its last; the points between keep their own labels (0).
        A detector cannot place an anomaly more finely than its window, and one anomaly often
        crosses the threshold several times. "auto": 2 windows (``2 * window``; the setting
        measured in docs/benchmarks.md). None or 0: every run is its own event.
    hidden_size, epochs, learning_rate, batch_size, verbose : optional
        Autoencoder settings without building an `LSTMAutoencoder` by hand (PyOD style):
        when given, they replace those of `autoencoder` (or of the default one).
    random_state : int or None
        Passed to the autoencoder when given.
    n_threads : int or None
        Passed to the autoencoder when given (CPU threads; see `LSTMAutoencoder`).

    Attributes
    ----------
    autoencoder_ : the fitted LSTMAutoencoder
    error_model_ : lstmae.scoring.ErrorModel
        Fitted on held-out normal errors: their mean and spread per feature (and, for
        "mahalanobis", the inverse shrunk covariance).
    threshold_ : float
    offset_ : float, ``-threshold_`` (scikit-learn: ``decision_function = score_samples - offset_``)
    level_ : "sequence" or "point": what the threshold was fitted on (fit or fit_series)
    feature_names_ : names of the features (strings)
    """

    def __init__(
        self,
        autoencoder: LSTMAutoencoder | None = None,
        error_model: str = "mean",
        threshold: str | None = None,
        contamination: float | None = None,
        k_sigma: float = 4.0,
        max_sigma: float = 1.0,
        beta: float = 1.0,
        holdout: float = 0.25,
        window: int | None = None,
        stride: int = 1,
        series_transform: str | None = None,
        window_norm: str | None = "auto",
        level_term: bool = True,
        adaptive_threshold: int | None = None,
        smoothing: int | str | None = "auto",
        event_gap: int | str | None = "auto",
        hidden_size: int | None = None,
        epochs: int | None = None,
        learning_rate: float | None = None,
        batch_size: int | None = None,
        verbose: Any = None,
        random_state: int | None = None,
        n_threads: int | None = None,
    ) -> None:
        self.autoencoder = autoencoder
        self.error_model = error_model
        self.threshold = threshold
        self.contamination = contamination
        self.k_sigma = k_sigma
        self.max_sigma = max_sigma
        self.beta = beta
        self.holdout = holdout
        self.window = window
        self.stride = stride
        self.series_transform = series_transform
        self.window_norm = window_norm
        self.level_term = level_term
        self.adaptive_threshold = adaptive_threshold
        self.smoothing = smoothing
        self.event_gap = event_gap
        self.hidden_size = hidden_size
        self.epochs = epochs
        self.learning_rate = learning_rate
        self.batch_size = batch_size
        self.verbose = verbose
        self.random_state = random_state
        self.n_threads = n_threads

    # ------------------------------------------------------------------ validation
    def _validate(self) -> None:
        check_choice("error_model", self.error_model, ERROR_MODELS)
        check_choice("threshold", self.threshold, (*THRESHOLDS, None))
        check_number("contamination", self.contamination, 0.0, 0.5, low_inclusive=False, allow_none=True)
        check_number("k_sigma", self.k_sigma, 0.0)
        check_number("max_sigma", self.max_sigma, 0.0)
        check_number("beta", self.beta, 0.0, low_inclusive=False)
        check_number("holdout", self.holdout, 0.0, 1.0, low_inclusive=False)
        check_number("window", self.window, 1, integer=True, allow_none=True)
        check_number("stride", self.stride, 1, integer=True)
        check_choice("series_transform", self.series_transform, TRANSFORMS)
        check_choice("window_norm", self.window_norm, (*WINDOW_NORMS, "auto"))
        if not isinstance(self.level_term, (bool, np.bool_)):
            raise ValueError(f"level_term must be True or False, got {self.level_term!r}.")
        check_number("adaptive_threshold", self.adaptive_threshold, 2, integer=True, allow_none=True)
        for name, low in (("smoothing", 1), ("event_gap", 0)):
            value = getattr(self, name)
            if isinstance(value, str) and value != "auto":
                raise ValueError(f"{name}={value!r} is not valid; it must be 'auto', an integer >= {low} or None.")
            if value != "auto":
                check_number(name, value, low, integer=True, allow_none=True)
        if self.autoencoder is not None and not isinstance(self.autoencoder, LSTMAutoencoder):
            raise ValueError(f"autoencoder must be an LSTMAutoencoder or None, got {type(self.autoencoder).__name__}.")

    def _new_autoencoder(self, series: bool) -> LSTMAutoencoder:
        ae = clone(self.autoencoder) if self.autoencoder is not None else default_autoencoder(series)
        if ae.task == "predict":
            raise ValueError(
                "the autoencoder has task='predict', which has no reconstruction decoder; anomaly scores need "
                "task='reconstruct' or 'composite'."
            )
        ae.set_params(**{k: v for k, v in self.get_params(deep=False).items() if v is not None and k in AE_SETTINGS})
        return ae

    @property
    def threshold_rule(self) -> str:
        """The threshold rule in force: `threshold`, or by default "contamination" when given, else the rule
        chosen by measurement for what the threshold is fitted on (``level_``): "max-sigma" for the points of
        a long series, "k-sigma" for sets of sequences."""
        if self.threshold is not None:
            return self.threshold
        if self.contamination is not None:
            return "contamination"
        return "max-sigma" if getattr(self, "level_", None) == "point" else "k-sigma"

    def _fit_threshold(self, level: str, normal_scores: np.ndarray, val_scores: np.ndarray | None = None,
                       val_labels=None):
        """The threshold on held-out normal scores of `level` ("sequence" or "point"), by `threshold_rule`."""
        self.level_ = level
        contamination = 0.01 if self.contamination is None else self.contamination
        self.set_threshold(fit_threshold(self.threshold_rule, normal_scores, contamination=contamination,
                                         k_sigma=self.k_sigma, max_sigma=self.max_sigma, beta=self.beta,
                                         val_scores=val_scores, val_labels=val_labels))

    def set_threshold(self, threshold: float) -> "LSTMAnomalyDetector":
        """Use `threshold` from now on (``threshold_`` and ``offset_`` together); returns self."""
        check_number("threshold", threshold, -np.inf)
        self.threshold_ = float(threshold)
        self.offset_ = -self.threshold_
        return self

    def _set_features(self, n_features: int, feature_names: list[str] | None) -> None:
        self.n_features_in_ = n_features
        if feature_names is not None and len(feature_names) != n_features:
            raise ValueError(f"{len(feature_names)} feature names for {n_features} features; give one name each.")
        self.feature_names_ = [str(n) for n in feature_names] if feature_names else [str(i) for i in range(n_features)]

    # ------------------------------------------------------------------ sequences
    def fit(self, X: Any, y: Any = None, validation_data: tuple | None = None) -> "LSTMAnomalyDetector":
        """Fit on normal sequences X; y is ignored (unsupervised).

        The last ``holdout`` fraction of X is held out: the autoencoder trains on the
        rest, the error model and threshold are fitted on the held-out part
        (`refit_threshold`). ``validation_data=(X_val, y_val)`` (y_val: 1 anomalous, 0
        normal per sequence) is needed for ``threshold="f-beta"``.
        """
        self._validate()
        padded = to_padded(X)
        n = padded.x.shape[0]
        n_hold = int(round(n * self.holdout))
        if n_hold < 1 or n - n_hold < 1:
            raise ValueError(
                f"holdout={self.holdout} of {n} sample(s) leaves {n - n_hold} for training and {n_hold} held out; "
                "both need at least one. Give more sequences or change holdout."
            )
        self.autoencoder_ = self._new_autoencoder(series=False).fit(_subset(padded, slice(0, n - n_hold)))
        self.data_spec_ = self.transform_ = self.window_norm_ = None
        return self.refit_threshold(_subset(padded, slice(n - n_hold, n)), validation_data=validation_data)

    def refit_threshold(self, X: Any, validation_data: tuple | None = None) -> "LSTMAnomalyDetector":
        """Fit the error model and threshold on normal sequences X, keeping the trained autoencoder.

        For new normal data (a recalibration), or an autoencoder trained elsewhere. Returns self.
        """
        self._validate()
        check_is_fitted(self, "autoencoder_")
        r = self.autoencoder_.normalized_residuals(X)
        self.error_model_ = ErrorModel(self.error_model).fit(r.values[r.mask])
        val = None
        if validation_data is not None:
            X_val, y_val = validation_data
            val = (self._sequence_scores(X_val), y_val)
        self._fit_threshold("sequence", sequence_scores(self.error_model_.score(r.values), r.mask),
                            *(val or (None, None)))
        self._set_features(r.values.shape[2], None)
        return self

    def _sequence_scores(self, X: Any) -> np.ndarray:
        r = self.autoencoder_.normalized_residuals(X)
        return sequence_scores(self.error_model_.score(r.values), r.mask)

    def error_map(self, X: Any):
        """Normalised absolute residual per step and feature, scaled units: (N, L, F), or a list for a list input."""
        check_is_fitted(self, "threshold_")
        return self.autoencoder_.residuals(X, normalize=True)

    def step_scores(self, X: Any):
        """Anomaly score of every step (N, L) (a list of (L_i,) for a list input); higher is more anomalous."""
        check_is_fitted(self, "threshold_")
        r = self.autoencoder_.normalized_residuals(X)
        step = self.error_model_.score(r.values) * r.mask
        if r.form == LIST:
            return [step[i, : int(n)] for i, n in enumerate(r.mask.sum(axis=1))]
        return step

    def anomaly_score(self, X: Any) -> np.ndarray:
        """One score per sequence (N,): mean step score over its valid steps. Higher is more anomalous."""
        check_is_fitted(self, "threshold_")
        return self._sequence_scores(X)

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
        if is_source(series):  # larger than memory: read chunk by chunk (lstmae.data.sources)
            from .data.sources import open_source

            return open_source(series)
        return to_series(series, name, self.window)

    def stationary_options(self) -> bool:
        """Whether a long series is transformed or its windows normalised before the autoencoder (with
        ``window_norm="auto"``: only if fitting finds a trend, see `window_norm_for`)."""
        return self.series_transform is not None or self.window_norm not in (None, "auto")

    def window_norm_for(self, series: Any) -> str | None:
        """The per-window normalisation to fit for the normal `series` given to ``fit_series``: `window_norm`,
        with "auto" resolved ("level-scale" when `series` trends, `trend_share` >= `AUTO_TREND_SHARE`; none for
        a source, which is streamed)."""
        if self.window_norm != "auto":
            return self.window_norm
        if is_source(series):
            return None
        return "level-scale" if trend_share(series) >= AUTO_TREND_SHARE else None

    @property
    def point_smoothing(self) -> int | None:
        """The moving mean's width in force (`smoothing`, "auto" resolved for the fitted autoencoder), or None."""
        if self.smoothing != "auto":
            return self.smoothing
        ae = getattr(self, "autoencoder_", None) or self.autoencoder or default_autoencoder()
        return AUTO_SMOOTHING if ae.conditional and ae.teacher_forcing == "always" else None

    @property
    def event_gap_points(self) -> int:
        """The event gap in force, in points (`event_gap`; "auto": `AUTO_EVENT_GAP_WINDOWS` windows, 0 without a
        window; None: 0)."""
        if self.event_gap == "auto":
            return AUTO_EVENT_GAP_WINDOWS * self.window if self.window else 0
        return int(self.event_gap or 0)

    def _memory_only(self) -> bool:
        """Whether the series must be held in memory: options that transform it or normalise its windows, as
        set or (``window_norm="auto"``) as fitted."""
        return self.stationary_options() or self.series_prepared()

    def _in_memory(self, arr: Any) -> None:
        if is_source(arr) and self._memory_only():
            raise ValueError(self.in_memory_message())

    def in_memory_message(self) -> str:
        """Why this detector cannot read a stream, and the fix."""
        why = ("window_norm='auto' normalised its windows (its normal series trends; window_norm_ is "
               f"{self.window_norm_.kind!r})" if self.window_norm == "auto" and getattr(self, "window_norm_", None)
               else "series_transform and window_norm need the series in memory")
        return (f"{why}: it scores a series held in memory, not a stream; load the series (or a part of it) as an "
                "array, or fit a detector with window_norm=None and series_transform=None to stream.")

    def _level_on(self) -> bool:
        return self.window_norm is not None and bool(self.level_term)

    def series_prepared(self) -> bool:
        """Whether this fitted detector transforms a long series or normalises its windows before the autoencoder."""
        return getattr(self, "transform_", None) is not None or getattr(self, "window_norm_", None) is not None

    def _level_fitted(self) -> bool:
        """Whether the error vectors hold level-term columns after the residuals (a fitted window_norm_ with
        level_term)."""
        return getattr(self, "window_norm_", None) is not None and self._level_on()

    def _column_groups(self) -> list[str]:
        """The groups of columns of the error vectors, one column per feature each, as name suffixes: the
        residuals (""), then with the level term the levels (" (level)") and with "level-scale" the spreads."""
        if not self._level_fitted():
            return [""]
        return ["", " (level)", " (spread)"] if self.window_norm_.scales else ["", " (level)"]

    def column_names(self) -> list[str]:
        """Names of the columns of the error vectors: the features, then (with the level term) their level terms."""
        return [f"{name}{suffix}" for suffix in self._column_groups() for name in self.feature_names_]

    def _prepared_errors(self, series: np.ndarray, start: int = 0, progress: bool = False) -> np.ndarray:
        """`_point_errors` with the series transform, per-window normalisation and level term applied."""
        x = self.transform_.apply(series, start) if self.transform_ is not None else np.asarray(series, np.float64)
        norm = self.window_norm_
        prepare = norm.normalize if norm is not None else (lambda w: w)
        res = windowed_to_points(lambda w: self.autoencoder_.normalized_residuals(prepare(w))[0], x,
                                 self.window, self.stride, progress=progress)
        if not self._level_fitted():
            return res
        level = norm.level_terms(x, self.stride)  # (n, C): one value per window, spread over its points
        points = [reverse_windowing(col, self.window, self.stride, n_points=len(x)) for col in level.T]
        return np.concatenate([res, np.stack(points, axis=1)], axis=1)

    def _point_errors(self, series: np.ndarray, progress: bool = False, start: int = 0) -> np.ndarray:
        """Per-point error vectors (T, F): normalised residuals averaged over the windows covering each point,
        then (``smoothing``) over the points near it."""
        if self.series_prepared():
            self._in_memory(series)
            return moving_mean(self._prepared_errors(series, start, progress), self.point_smoothing)
        if not isinstance(series, np.ndarray):  # a source, scored chunk by chunk
            from .streaming import point_values

            return point_values(lambda w: self.autoencoder_.normalized_residuals(w)[0], series, self.window,
                                self.stride, progress, self.point_smoothing)
        return moving_mean(windowed_to_points(lambda w: self.autoencoder_.normalized_residuals(w)[0], series,
                                              self.window, self.stride, progress=progress), self.point_smoothing)

    def fit_series(self, series: Any, validation_series: Any = None, validation_labels: Any = None,
                   feature_names: list[str] | None = None) -> "LSTMAnomalyDetector":
        """Fit on one long normal series (T,) or (T, F).

        The autoencoder trains on the windows of the first ``1 - holdout`` of the
        series; the error model and the threshold use the per-point scores of the rest
        (`refit_threshold_series`).

        A source too large for memory (a path, `numpy.memmap` or `lstmae.data.sources.Source`)
        is streamed: the autoencoder trains on its first rows, the error model and threshold
        are fitted on the rest in one streaming pass (`lstmae.streaming.stream_errors`).
        """
        self._validate()
        arr = self._series(series)
        self._in_memory(arr)
        cut = int(round(len(arr) * (1.0 - self.holdout)))
        ae = self._new_autoencoder(series=True)
        span = self.window + (ae.horizon if ae.task == "composite" else 0)
        if cut < span or len(arr) - cut < self.window:
            raise ValueError(
                f"the series has {len(arr)} points: with holdout={self.holdout} the training part ({cut}) or the "
                f"held-out part ({len(arr) - cut}) is shorter than one window ({span}); give a longer series."
            )
        head, rest = (arr.rows(0, cut), arr.rows(cut, len(arr))) if is_source(arr) else (arr[:cut], arr[cut:])
        self.transform_ = self.window_norm_ = None
        norm = self.window_norm_for(arr)
        if self.series_transform is None and norm is None:
            self.autoencoder_ = ae.fit_series(head, self.window, self.stride, feature_names=feature_names)
            self.data_spec_ = self.autoencoder_.data_spec_
            return self.refit_threshold_series(rest, validation_series, validation_labels, feature_names)
        self.transform_ = SeriesTransform.fit(self.series_transform, head)
        x = self.transform_.apply(head)
        windows = np.ascontiguousarray(sliding_windows(x, self.window, self.stride))
        if norm is not None:
            self.window_norm_ = WindowNorm.fit(norm, x, self.window, self.stride)
            windows = self.window_norm_.normalize(windows)
        self.autoencoder_ = ae.fit(windows.astype(np.float32))
        names = None if feature_names is None else [str(n) for n in feature_names]
        self.autoencoder_.data_spec_ = DataSpec(kind="series", window=self.window, stride=self.stride,
                                                feature_names=names)
        self.data_spec_ = self.autoencoder_.data_spec_
        ctx = max(cut - self.window, 0)  # the held-out points scored with the windows before them, as in use
        return self._refit_series(arr[ctx:], ctx, validation_series, validation_labels, feature_names, skip=cut - ctx)

    def refit_threshold_series(self, series: Any, validation_series: Any = None, validation_labels: Any = None,
                               feature_names: list[str] | None = None) -> "LSTMAnomalyDetector":
        """Fit the error model and threshold on the points of a normal series, keeping the trained autoencoder."""
        return self._refit_series(series, 0, validation_series, validation_labels, feature_names)

    def _refit_series(self, series: Any, start: int, validation_series: Any = None, validation_labels: Any = None,
                      feature_names: list[str] | None = None, skip: int = 0) -> "LSTMAnomalyDetector":
        """`refit_threshold_series` on a series whose first point has time index `start` (for "detrend"),
        its first `skip` points context only (scored, not used)."""
        self._validate()
        check_is_fitted(self, "autoencoder_")
        if not hasattr(self, "transform_"):
            self.transform_ = self.window_norm_ = None
        if is_source(series) and not self._memory_only():  # one streaming pass (lstmae.data.sources)
            return self._refit_stream(self._series(series), validation_series, validation_labels, feature_names)
        n_features = self.autoencoder_.n_features_in_
        level = self._level_fitted()
        if level:
            self.window_norm_.level_weight = 1.0
        vectors = self._point_errors(self._series(series), start=start)  # NaN rows where no window covers
        if level:  # the level term on the residuals' scale
            res, lev = np.nanmean(vectors[skip:, :n_features]), np.nanmean(vectors[skip:, n_features:])
            weight = float(res / lev) if lev > 0 and res > 0 else 1.0
            self.window_norm_.level_weight = weight
            vectors[:, n_features:] *= weight
        self.error_model_ = ErrorModel(self.error_model).fit(vectors[skip:])
        val = None
        if validation_series is not None:
            val_vectors = self._point_errors(self._series(validation_series, "validation_series"))
            val = (self._score_vectors(val_vectors), validation_labels)
        normal = self._score_vectors(vectors)[skip:]
        self._fit_threshold("point", normal, *(val or (None, None)))
        self.normal_center_, self.normal_spread_ = robust_center_spread(normal)
        self._set_features(n_features, feature_names)
        return self

    def _refit_stream(self, source: Any, validation_series: Any = None, validation_labels: Any = None,
                      feature_names: list[str] | None = None) -> "LSTMAnomalyDetector":
        """`refit_threshold_series` on a stream, one inference pass (`lstmae.streaming.stream_errors`): the error
        model's mean and spread are exact (running moments); with all points in the sample everything is the
        in-memory result; beyond it, the Mahalanobis covariance and the "contamination" quantile come from a
        seeded uniform sample of the points ("k-sigma", "max" and "max-sigma" of the "mean" error model stay
        exact)."""
        from .streaming import stream_errors

        errors = stream_errors(lambda w: self.autoencoder_.normalized_residuals(w)[0], source, self.window,
                               self.stride, smoothing=self.point_smoothing)
        em = self.error_model_ = ErrorModel(self.error_model).fit(errors.sample)
        val = None
        if validation_series is not None:
            val = (em.score(self._point_errors(self._series(validation_series, "validation_series"))),
                   validation_labels)
        if not errors.complete:
            em.mean_, em.scale_ = errors.mean, errors.std + 1e-12
        self.level_ = "point"
        exact = {"k-sigma": errors.point_mean + self.k_sigma * errors.point_std, "max": errors.point_max,
                 "max-sigma": errors.point_max + self.max_sigma * errors.point_std}  # from the running moments
        if not errors.complete and em.kind == "mean" and self.threshold_rule in exact:
            self.set_threshold(exact[self.threshold_rule])
        else:
            self._fit_threshold("point", em.score(errors.sample), *(val or (None, None)))
        self._set_features(source.n_features, feature_names or list(source.feature_names))
        return self

    def _score_vectors(self, vectors: np.ndarray) -> np.ndarray:
        """Scores of per-point error vectors (T, C). With series options, a point covered by fewer windows
        than most (the edges of a series) has its deviation from the normal mean shrunk by the square root
        of its share of coverage: an average of fewer windows varies more, and would flag clean edges."""
        if not self.series_prepared():
            return self.error_model_.score(vectors)
        counts = coverage_counts(len(vectors), self.window, self.stride).astype(np.float64)
        full = max(float(np.median(counts)), 1.0) if len(counts) else 1.0
        shrink = np.sqrt(np.clip(counts / full, 0.0, 1.0))[:, None]
        mean = self.error_model_.mean_
        return self.error_model_.score(mean + (vectors - mean) * shrink)

    def point_thresholds(self, scores: np.ndarray, past: np.ndarray | None = None) -> np.ndarray | None:
        """Per-point thresholds (T,) following slow drift of `scores` (``adaptive_threshold``), else None;
        `past`: the scores before them (a stream's earlier chunks, `lstmae.scoring.rolling_thresholds`)."""
        if self.adaptive_threshold is None:
            return None
        center = getattr(self, "normal_center_", None)
        if center is None:
            raise ValueError("adaptive_threshold needs the robust statistics of normal scores; refit the threshold "
                             "(refit_threshold_series) first.")
        return rolling_thresholds(scores, self.threshold_, center, self.adaptive_threshold, past)

    @classmethod
    def from_autoencoder(cls, autoencoder: LSTMAutoencoder, window: int | None = None, stride: int | None = None,
                         threshold: str = "k-sigma", k_sigma: float = 4.0, contamination: float | None = None,
                         feature_names: list[str] | None = None,
                         threshold_value: float | None = None) -> "LSTMAnomalyDetector":
        """A fitted detector around an already fitted autoencoder, without training or refitting anything.

        It scores exactly as a detector with the "mean" error model (`lstmae.scoring`), and
        sets its threshold from the autoencoder's own residual statistics on its training
        data (``residual_stats_``): per-step scores, so the threshold holds at the edges of
        a series too. `threshold`: "k-sigma" (mean + `k_sigma` std), "contamination" (their
        ``1 - contamination`` quantile) or "max". Window and stride default to the ones the
        autoencoder was trained with (``fit_series``). `threshold_value` sets the threshold
        directly instead (the only way for an autoencoder without residual statistics: one
        saved by lstmae 0.1). `refit_threshold` / `refit_threshold_series` fit a threshold
        on held-out normal data instead.
        """
        if not isinstance(autoencoder, LSTMAutoencoder):
            raise ValueError(f"autoencoder must be a fitted LSTMAutoencoder, got {type(autoencoder).__name__}.")
        check_is_fitted(autoencoder, "module_")
        stats = getattr(autoencoder, "residual_stats_", None)
        if stats is None and threshold_value is None:
            raise ValueError(
                "the autoencoder has no residual statistics to set a threshold from (it was saved by lstmae 0.1, or "
                "has task='predict'); give the threshold (threshold_value=..., --threshold on the command line), "
                "fit one on normal data with refit_threshold, or train a detector."
            )
        spec = getattr(autoencoder, "data_spec_", None)
        if window is None and spec is not None:
            window = spec.window
        if stride is None:
            stride = spec.stride if spec is not None and spec.window else 1
        det = cls(autoencoder=None, error_model="mean", threshold=threshold, k_sigma=k_sigma,
                  contamination=contamination, window=window, stride=stride,
                  **{**LEGACY_SERIES_OPTIONS, "event_gap": "auto"})  # events as a detector's: they change no score
        det._validate()
        check_choice("threshold", threshold, ("k-sigma", "contamination", "max"))
        det.autoencoder_ = autoencoder
        det.error_model_ = ErrorModel("mean")
        n = autoencoder.n_features_in_
        det.error_model_.mean_ = stats.feature_mean.copy() if stats is not None else np.zeros(n)
        det.error_model_.scale_ = stats.feature_std.copy() if stats is not None else np.ones(n)
        if threshold_value is None:
            q = stats.score_quantiles
            share = 0.01 if contamination is None else contamination
            threshold_value = {"k-sigma": stats.score_mean + k_sigma * stats.score_std,
                               "contamination": float(np.interp(1.0 - share, np.linspace(0, 1, len(q)), q)),
                               "max": float(q[-1])}[threshold]
        det.set_threshold(threshold_value)
        det.level_ = "point" if window is not None else "sequence"
        names = feature_names or (list(spec.feature_names) if spec is not None and spec.feature_names else None)
        det._set_features(autoencoder.n_features_in_, names)
        det.data_spec_ = spec
        return det

    @classmethod
    def for_model(cls, model: Any, window: int | None = None, stride: int | None = None, k_sigma: float = 4.0,
                  threshold_value: float | None = None) -> "LSTMAnomalyDetector":
        """A detector for any model with a reconstruction decoder: a detector itself, or a fitted
        `LSTMAutoencoder` wrapped by `from_autoencoder` (`k_sigma`, `threshold_value`). `window` and
        `stride` override the ones it was trained with (None keeps them)."""
        det = model if isinstance(model, cls) else cls.from_autoencoder(model, k_sigma=k_sigma,
                                                                           threshold_value=threshold_value)
        if det.window is not None or window is not None:
            w, s = det.autoencoder_.series_windowing(window or det.window, stride or det.stride)
            det.set_params(window=w, stride=s)
        return det

    def summary(self, n_features: int | None = None, seq_len: int | None = None):
        """The autoencoder's layers, shapes and parameter counts (see `LSTMAutoencoder.summary`)."""
        if hasattr(self, "autoencoder_"):
            return self.autoencoder_.summary(seq_len=seq_len if seq_len is not None else self.window)
        ae = self.autoencoder if self.autoencoder is not None else default_autoencoder()
        return ae.summary(n_features, seq_len if seq_len is not None else self.window)

    def score_series(self, series: Any, progress: bool = False, start: int = 0) -> np.ndarray:
        """One anomaly score per time point (T,), higher is more anomalous (NaN where no window covers).

        `series` may be a source too large for memory (a path, `numpy.memmap` or
        `lstmae.data.sources.Source`): it is read and scored chunk by chunk, to the same numbers
        (only the (T,) result is held; `lstmae.data.sources.DetectionStream` writes it out instead).
        `start`: with ``series_transform="detrend"``, the time index of the series' first point
        counted from the first point of the series given to ``fit_series``.
        """
        check_is_fitted(self, "threshold_")
        return self._score_vectors(self._point_errors(self._series(series), progress, start))

    def detect_series(self, series: Any, threshold: float | None = None, progress: bool = False,
                      start: int = 0) -> Detection:
        """Scores, 0/1 labels and events (runs of anomalous points with their peak and top features).

        `threshold` overrides ``threshold_`` (and ``adaptive_threshold``) for this call. A source is
        read chunk by chunk, as in `score_series`; events spanning two chunks are found as one.
        `start`: as in `score_series`.
        """
        check_is_fitted(self, "threshold_")
        vectors = self._point_errors(self._series(series), progress, start)
        scores = self._score_vectors(vectors)
        n = len(self.feature_names_)
        names = self.feature_names_ * len(self._column_groups())  # the feature of each column
        result = find_events(scores, self.threshold_ if threshold is None else threshold, vectors, self.error_model_,
                             names, thresholds=self.point_thresholds(scores) if threshold is None else None,
                             gap=self.event_gap_points)
        result.errors = vectors[:, :n]  # the error map: the residuals per feature (not the level terms)
        return result

    # ------------------------------------------------------------------ persistence
    def save(self, path) -> None:
        """A model directory like the autoencoder's, plus the error model and threshold in state.json."""
        check_is_fitted(self, "threshold_")
        ae_config, module, ae_state = self.autoencoder_.to_parts()
        params = json_params_of(self, exclude=("autoencoder",))
        config = {"estimator": type(self).__name__, "params": params, "autoencoder": ae_config,
                  "model": ae_config["model"]}
        if getattr(self, "data_spec_", None) is not None:
            config["data"] = self.data_spec_.to_dict()
        detector = {"error_model": self.error_model_.to_dict(), "threshold_": self.threshold_, "level_": self.level_,
                    "n_features_in_": self.n_features_in_, "feature_names_": self.feature_names_}
        if getattr(self, "transform_", None) is not None:
            detector["series_transform"] = self.transform_.to_dict()
        if getattr(self, "window_norm_", None) is not None:
            detector["window_norm"] = self.window_norm_.to_dict()
        if getattr(self, "normal_center_", None) is not None:
            detector["normal_center_"], detector["normal_spread_"] = self.normal_center_, self.normal_spread_
        save_model_dir(path, config, module, {**ae_state, "detector": detector})

    @classmethod
    def from_parts(cls, config: dict, tensors: dict, state: dict, source: Any, device: str = "auto"):
        """A fitted detector from the parts `save` wrote."""
        ae = LSTMAutoencoder.from_parts(config["autoencoder"], tensors, state, source, device)
        try:
            params = {**LEGACY_SERIES_OPTIONS, **config["params"]}
            if "max_sigma" not in params and params.get("threshold") is None and params.get("contamination") is None:
                params["threshold"] = "k-sigma"  # saved by lstmae <= 0.6, whose default rule it was: a refit keeps it
            det = cls(autoencoder=clone(ae), **params)
            d = state["detector"]
            det.autoencoder_ = ae
            n = ae.n_features_in_
            det.transform_ = (SeriesTransform.from_dict(d["series_transform"], n) if "series_transform" in d
                              else None)
            det.window_norm_ = WindowNorm.from_dict(d["window_norm"], n) if "window_norm" in d else None
            if "normal_center_" in d:
                det.normal_center_, det.normal_spread_ = float(d["normal_center_"]), float(d["normal_spread_"])
            det.error_model_ = ErrorModel.from_dict(d["error_model"], n * len(det._column_groups()))
            det.set_threshold(d["threshold_"])
            det.level_ = check_choice("level_", d["level_"], ("sequence", "point"))
            det._set_features(int(d["n_features_in_"]), list(d["feature_names_"]))
            det.data_spec_ = DataSpec.from_dict(config["data"]) if config.get("data") is not None else None
        except (KeyError, TypeError, ValueError) as exc:
            raise ModelFileError(f"the detector state in {source} is invalid ({exc}); save the model again.") from None
        return det

    @classmethod
    def load(cls, path, device: str = "auto") -> "LSTMAnomalyDetector":
        config, tensors, state = read_model_dir(path, estimator=cls.__name__)
        return cls.from_parts(config, tensors, state, path, device)

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
