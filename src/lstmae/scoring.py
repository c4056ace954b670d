"""All anomaly scoring: residuals, their normal profile, error models, thresholds, window -> point, events.

Shape legend: N sequences, L time steps, F features, T points of a long series, W window.

How a score is made, for every model kind (one path, one scale):

1. **Residuals**: ``|x - x_hat|`` per step and feature, in the model's scaled units
   (`LSTMAutoencoder.residuals`).
2. **Normal profile** (`ResidualStats`): an autoencoder rebuilds some steps of a sequence
   worse than others even on normal data (typically the first steps of a window, about
   twice the error of the middle). At the end of ``fit`` the autoencoder measures the mean
   residual of every step position and feature on its training data; each residual is
   divided by its position's relative level (``profile / mean over positions``). A point is
   then scored the same whichever position of a window it sits at, so scores do not depend on
   how many windows cover a point (the edges of a series, or a stride > 1) and clean data
   raises no events at the edges.
3. **Error model** (`ErrorModel`): each step's error vector (F values) becomes one number:
   "mean" (the mean over features) or "mahalanobis" (EncDec-AD, Malhotra et al. 2016: the
   Mahalanobis distance from the mean error of normal data, with a Ledoit-Wolf shrunk
   covariance).
4. **Sequences** score the mean over their valid steps (`sequence_scores`); **long series**
   score each time point from the error vectors averaged over all windows that cover it
   (`windowed_to_points`, in chunks: bounded memory).
5. **Threshold** (`fit_threshold`) on scores of normal data; **events** (`find_events`): runs
   of points above it, with their peak and the features that deviate most. On long series the
   threshold may follow slow drift of the scores (`rolling_thresholds`): the fixed threshold,
   moved by as much as the rolling median of the scores just before each point has moved from
   the median of the held-out normal scores.

Higher scores are more anomalous everywhere in this module.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Iterator, NamedTuple

import numpy as np

from ._validation import check_choice, check_number
from .data.scaling import IQR_PER_SD
from .data.windows import count_windows, coverage_counts, reverse_windowing, sliding_windows
from .metrics import event_spans

ERROR_MODELS = ("mean", "mahalanobis")
THRESHOLDS = ("contamination", "k-sigma", "max", "max-sigma", "f-beta")
DEFAULT_CHUNK = 4096
PROFILE_PRIOR = 8.0  # positions seen fewer times than this lean towards the feature's overall level


# --------------------------------------------------------------------------- residuals
class Residuals(NamedTuple):
    """Residuals of N sequences: ``values`` (N, L, F) zero at padded steps, ``mask`` (N, L) True at
    valid steps, ``form``: how the sequences were given (`lstmae.data.sequences.restore_form`)."""

    values: np.ndarray
    mask: np.ndarray
    form: str


# --------------------------------------------------------------------------- normal profile
@dataclass
class ResidualStats:
    """Typical residuals of an autoencoder on its (normal) training data.

    profile : (L, F) mean residual at each step position (0 = first step of a sequence) and
        feature, shrunk towards the feature's overall mean where a position was seen rarely
        (variable-length data).
    score_quantiles : (Q,) quantiles (evenly spaced from 0 to 1) of the per-step "mean" scores
        of the normalised residuals; ``score_mean`` and ``score_std`` their mean and spread;
        ``feature_mean`` and ``feature_std`` (F,) those of the normalised residuals per feature.
        `LSTMAnomalyDetector.from_autoencoder` sets a threshold and names the deviating features
        of an event from them without refitting anything.
    """

    profile: np.ndarray
    score_quantiles: np.ndarray
    score_mean: float
    score_std: float
    feature_mean: np.ndarray
    feature_std: np.ndarray

    @classmethod
    def fit(cls, residuals: np.ndarray, mask: np.ndarray, n_quantiles: int = 1001) -> "ResidualStats":
        """From residuals (N, L, F) at the steps where mask (N, L) is True."""
        m = mask[:, :, None].astype(np.float64)
        sums = (residuals * m).sum(axis=0)  # (L, F)
        counts = m.sum(axis=0)  # (L, 1)
        overall = sums.sum(axis=0) / max(counts.sum(), 1.0)  # (F,)
        profile = (sums + PROFILE_PRIOR * overall) / (counts + PROFILE_PRIOR)
        stats = cls(profile, np.zeros(n_quantiles), 0.0, 0.0, np.zeros(profile.shape[1]),
                    np.ones(profile.shape[1]))
        vectors = stats.normalize(residuals)[mask]  # (M, F)
        steps = vectors.mean(axis=1)
        stats.score_quantiles = np.quantile(steps, np.linspace(0.0, 1.0, n_quantiles))
        stats.score_mean, stats.score_std = float(steps.mean()), float(steps.std())
        stats.feature_mean, stats.feature_std = vectors.mean(axis=0), vectors.std(axis=0) + 1e-12
        return stats

    def relative(self, steps: int) -> np.ndarray:
        """(steps, F): each position's level relative to the feature's mean level (1 beyond the profile)."""
        level = self.profile.mean(axis=0)
        rel = np.ones((steps, self.profile.shape[1]))
        k = min(steps, self.profile.shape[0])
        rel[:k] = self.profile[:k] / np.where(level > 0, level, 1.0)
        return np.where(rel > 0, rel, 1.0)

    def normalize(self, residuals: np.ndarray) -> np.ndarray:
        """Residuals (N, L, F) divided by their positions' relative levels."""
        return residuals / self.relative(residuals.shape[1])[None]

    def to_dict(self) -> dict:
        return {"profile": self.profile.tolist(), "score_quantiles": self.score_quantiles.tolist(),
                "score_mean": self.score_mean, "score_std": self.score_std,
                "feature_mean": self.feature_mean.tolist(), "feature_std": self.feature_std.tolist()}

    @classmethod
    def from_dict(cls, d: dict, n_features: int) -> "ResidualStats":
        stats = cls(np.asarray(d["profile"], dtype=np.float64), np.asarray(d["score_quantiles"], dtype=np.float64),
                    float(d["score_mean"]), float(d["score_std"]),
                    np.asarray(d["feature_mean"], dtype=np.float64), np.asarray(d["feature_std"], dtype=np.float64))
        arrays = (stats.profile, stats.score_quantiles, stats.feature_mean, stats.feature_std)
        if stats.profile.ndim != 2 or stats.profile.shape[1] != n_features or stats.feature_mean.shape != (
                n_features,) or stats.feature_std.shape != (n_features,) or stats.score_quantiles.ndim != 1 \
                or not all(np.isfinite(a).all() for a in arrays) or (stats.profile < 0).any():
            raise ValueError(f"the residual statistics do not fit {n_features} features or are not finite")
        return stats


# --------------------------------------------------------------------------- error models
class ErrorModel:
    """Error vectors (..., F) -> one score each (higher is more anomalous).

    kind "mean": the mean over features. kind "mahalanobis": the Mahalanobis distance from
    ``mean_`` under a Ledoit-Wolf shrunk covariance (its pseudo-inverse ``precision_``).
    ``mean_`` and ``scale_`` (F,) (the mean and spread of normal errors per feature) also
    rank the features of an event (`deviation`).
    """

    def __init__(self, kind: str = "mean") -> None:
        self.kind = check_choice("error_model", kind, ERROR_MODELS)
        self.mean_: np.ndarray | None = None
        self.scale_: np.ndarray | None = None
        self.precision_: np.ndarray | None = None

    def fit(self, vectors: np.ndarray) -> "ErrorModel":
        """Fit on error vectors (M, F) of normal data."""
        vectors = vectors[np.isfinite(vectors).all(axis=1)]
        if len(vectors) == 0:
            raise ValueError("no finite error vectors of normal data to fit the error model on; give more data.")
        self.mean_ = vectors.mean(axis=0)
        self.scale_ = vectors.std(axis=0) + 1e-12
        if self.kind == "mahalanobis":
            from sklearn.covariance import LedoitWolf

            cov = LedoitWolf().fit(vectors).covariance_ if len(vectors) > 1 else np.eye(vectors.shape[1])
            # shrinkage keeps cov positive definite; pinv guards the degenerate all-constant case
            self.precision_ = np.linalg.pinv(cov + 1e-12 * np.eye(cov.shape[0]))
        return self

    def score(self, vectors: np.ndarray) -> np.ndarray:
        if self.kind == "mean":
            return vectors.mean(axis=-1)
        d = vectors - self.mean_
        return np.sqrt(np.maximum(np.einsum("...i,ij,...j->...", d, self.precision_, d), 0.0))

    def deviation(self, vectors: np.ndarray) -> np.ndarray:
        """How far the mean of error vectors (M, F) lies from normal, per feature, in normal spreads."""
        return (np.nanmean(vectors, axis=0) - self.mean_) / self.scale_

    def to_dict(self) -> dict:
        d = {"kind": self.kind, "mean": self.mean_.tolist(), "scale": self.scale_.tolist()}
        if self.precision_ is not None:
            d["precision"] = self.precision_.tolist()
        return d

    @classmethod
    def from_dict(cls, d: dict, n_features: int) -> "ErrorModel":
        model = cls(d["kind"])
        model.mean_ = np.asarray(d["mean"], dtype=np.float64)
        model.scale_ = np.asarray(d["scale"], dtype=np.float64)
        if model.mean_.shape != (n_features,) or model.scale_.shape != (n_features,):
            raise ValueError(f"the error model does not fit {n_features} features")
        if model.kind == "mahalanobis":
            model.precision_ = np.asarray(d["precision"], dtype=np.float64)
            if model.precision_.shape != (n_features, n_features):
                raise ValueError(f"the error model's precision matrix is not {n_features} x {n_features}")
        return model


def sequence_scores(step_scores: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """One score per sequence (N,): the mean of its step scores (N, L) over its valid steps."""
    return (step_scores * mask).sum(axis=1) / mask.sum(axis=1)


# --------------------------------------------------------------------------- thresholds
def fit_threshold(method: str, normal_scores: np.ndarray, *, contamination: float = 0.01, k_sigma: float = 4.0,
                  max_sigma: float = 1.0, beta: float = 1.0, val_scores: np.ndarray | None = None,
                  val_labels: Any = None) -> float:
    """A threshold on scores (higher is more anomalous) by `method`.

    "contamination": the ``1 - contamination`` quantile of `normal_scores`; "k-sigma": their
    mean + `k_sigma` standard deviations; "max": their maximum; "max-sigma": their maximum +
    `max_sigma` standard deviations (the maximum grows with the number of held-out scores and with
    a heavy tail, where a fixed k-sigma does not); "f-beta": the threshold that maximises F-beta
    on labelled validation scores (`val_scores`, `val_labels` 1 = anomaly).
    """
    check_choice("threshold", method, THRESHOLDS)
    normal_scores = np.asarray(normal_scores, dtype=np.float64)
    normal_scores = normal_scores[np.isfinite(normal_scores)]
    if method != "f-beta" and normal_scores.size == 0:
        raise ValueError("no finite scores of normal data to set the threshold on; give more data.")
    if method == "contamination":
        return float(np.quantile(normal_scores, 1.0 - contamination))
    if method == "k-sigma":
        return float(normal_scores.mean() + k_sigma * normal_scores.std())
    if method == "max":
        return float(normal_scores.max())
    if method == "max-sigma":
        return float(normal_scores.max() + max_sigma * normal_scores.std())
    if val_scores is None:
        raise ValueError(
            "threshold='f-beta' needs labelled validation data: pass validation_data=(X_val, y_val) to fit "
            "or validation_series=..., validation_labels=... to fit_series."
        )
    from sklearn.metrics import precision_recall_curve

    val_scores = np.asarray(val_scores, dtype=np.float64)
    labels = (np.asarray(val_labels).ravel() > 0).astype(int)
    if labels.shape != val_scores.shape:
        raise ValueError(f"{labels.size} validation labels for {val_scores.size} validation scores.")
    ok = np.isfinite(val_scores)
    if labels[ok].sum() == 0:
        raise ValueError("the validation labels hold no anomaly; F-beta needs at least one labelled anomaly.")
    p, r, thresholds = precision_recall_curve(labels[ok], val_scores[ok])
    b2 = beta**2
    f = (1 + b2) * p * r / np.maximum(b2 * p + r, 1e-12)
    t = thresholds[int(np.argmax(f[:-1]))]
    return float(np.nextafter(t, -np.inf))  # scores >= the best threshold are flagged: score > t


def robust_center_spread(scores: np.ndarray) -> tuple[float, float]:
    """Median and interquartile spread (IQR / 1.349: the standard deviation of a normal law) of finite scores."""
    s = np.asarray(scores, dtype=np.float64)
    s = s[np.isfinite(s)]
    if s.size == 0:
        raise ValueError("no finite scores of normal data to take robust statistics of; give more data.")
    q25, q50, q75 = np.quantile(s, [0.25, 0.5, 0.75])
    return float(q50), float(max((q75 - q25) / IQR_PER_SD, 1e-12))


def moving_mean(values: np.ndarray, width: int | None, chunk: int = 65536) -> np.ndarray:
    """Centred moving mean over time (axis 0) of per-point values (T,) or (T, C), over `width` points
    (``width // 2`` before and ``(width - 1) // 2`` after each point; fewer at the ends), NaN-aware: a
    point's mean is over the finite values near it, NaN where there are none. None or 1: unchanged.
    Each point's mean is summed from its own neighbours alone, in `chunk` rows at a time, so a series
    smoothed in pieces (`lstmae.streaming.smooth_points`) gives the same numbers to the last bit."""
    from numpy.lib.stride_tricks import sliding_window_view

    if width is None or width <= 1 or len(values) == 0:
        return values
    v = np.asarray(values, dtype=np.float64)
    before, after = width // 2, (width - 1) // 2
    pad = np.full((before + len(v) + after, *v.shape[1:]), np.nan)
    pad[before:before + len(v)] = v
    out = np.empty_like(v)
    for i in range(0, len(v), chunk):
        windows = sliding_window_view(pad[i:i + min(chunk, len(v) - i) + width - 1], width, axis=0)
        finite = np.isfinite(windows)
        n = finite.sum(axis=-1)
        with np.errstate(invalid="ignore", divide="ignore"):
            out[i:i + len(n)] = np.where(n > 0, np.where(finite, windows, 0.0).sum(axis=-1) / np.maximum(n, 1), np.nan)
    return out


def rolling_thresholds(scores: np.ndarray, threshold: float, center: float, window: int,
                       past: np.ndarray | None = None) -> np.ndarray:
    """Per-point thresholds (T,) that follow slow drift of `scores` (higher is more anomalous).

    Each point's threshold is the fixed `threshold` moved by as much as the median of the
    `window` scores before it has moved from `center` (the median of the held-out normal
    scores, `robust_center_spread`). Until a quarter of a window of past scores exists, the
    fixed threshold holds. A slow rise (or fall) of all scores, as drift brings, moves the
    threshold with it; an anomaly longer than half a `window` is absorbed into the median and
    stops being flagged after that long.

    `past`: the scores just before `scores` (a stream's earlier chunks; the last `window` are
    enough): the thresholds are then those of the whole series at these points.
    """
    import pandas as pd

    check_number("window", window, 2, integer=True)
    scores = np.asarray(scores, dtype=np.float64)
    before = np.empty(0) if past is None else np.asarray(past, dtype=np.float64)[-window:]
    rolled = pd.Series(np.concatenate([before, scores])).shift(1).rolling(window, min_periods=max(window // 4, 1))
    out = threshold + (rolled.median().to_numpy()[len(before):] - center)
    return np.where(np.isfinite(out), out, threshold)


# --------------------------------------------------------------------------- window -> point
def iter_window_chunks(
    series: np.ndarray, window: int, stride: int = 1, chunk: int = DEFAULT_CHUNK
) -> Iterator[tuple[int, np.ndarray]]:
    """Yield ``(first window index, windows)`` with at most `chunk` contiguous windows each."""
    views = sliding_windows(series, window, stride)
    for first in range(0, views.shape[0], chunk):
        yield first, np.ascontiguousarray(views[first : first + chunk])


def progress_bar(label: str, enabled: bool):
    """A rich progress bar (started by the caller), or None when not `enabled`."""
    if not enabled:
        return None
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    return Progress(TextColumn(f"[bold]{label}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())


def windowed_to_points(
    fn: Callable[[np.ndarray], np.ndarray],
    series: np.ndarray,
    window: int,
    stride: int = 1,
    chunk: int = DEFAULT_CHUNK,
    progress: bool = False,
) -> np.ndarray:
    """Apply `fn` to the windows of `series` and average its per-step output per time point.

    Parameters
    ----------
    fn : callable mapping windows (n, W, F) to per-step values (n, W, F')
    series : (T,) or (T, F)
    window, stride : windowing of the series

    Returns
    -------
    (T, F') float64: for each time point, the mean of `fn`'s values at that point over
    all windows that cover it; NaN where no window does (only when ``stride > window``
    or at the end when ``(T - window) % stride != 0``).
    """
    series = np.asarray(series)
    n_points = series.shape[0]
    n_windows = count_windows(n_points, window, stride)
    sums = counts = None
    bar = progress_bar("scoring", progress)
    task = bar.add_task("windows", total=n_windows) if bar else None
    if bar:
        bar.start()
    try:
        for first, windows in iter_window_chunks(series, window, stride, chunk):
            values = np.asarray(fn(windows), dtype=np.float64)
            if values.ndim == 2:
                values = values[:, :, None]
            if sums is None:
                sums = np.zeros((n_points, values.shape[2]))
                counts = np.zeros(n_points)
            start = first * stride
            local_points = (values.shape[0] - 1) * stride + window
            local_counts = coverage_counts(local_points, window, stride, n_windows=values.shape[0])
            means = reverse_windowing(values, window, stride, n_points=local_points, reduce="mean")
            covered = local_counts > 0
            sl = slice(start, start + local_points)
            sums[sl][covered] += means[covered] * local_counts[covered, None]
            counts[sl] += local_counts
            if bar:
                bar.update(task, advance=values.shape[0])
    finally:
        if bar:
            bar.stop()
    with np.errstate(invalid="ignore", divide="ignore"):
        return sums / counts[:, None]


# --------------------------------------------------------------------------- events
@dataclass
class Detection:
    """Result of `LSTMAnomalyDetector.detect_series`.

    scores : (T,) anomaly score per point (higher is more anomalous; NaN where no window covers)
    labels : (T,) 1 where the score exceeds the threshold
    events : list of dicts, one per run of consecutive anomalous points (runs at most the
        detector's ``event_gap`` points apart are one event: `event_spans`): ``start``,
        ``end`` (exclusive; from the first flagged point to the last), ``peak`` (index of the
        highest score), ``peak_score``, ``top_features`` (feature names, most deviant first,
        from the flagged points' errors)
    threshold : the (fixed) threshold used
    errors : (T, F) the error vector of every point (the error map behind the scores), or None
    thresholds : (T,) the threshold of every point when it follows drift (`rolling_thresholds`), else None
    """

    scores: np.ndarray
    labels: np.ndarray
    events: list[dict]
    threshold: float
    errors: np.ndarray | None = None
    thresholds: np.ndarray | None = None

    def events_frame(self):
        import pandas as pd

        rows = [{**e, "top_features": ",".join(e["top_features"])} for e in self.events]
        return pd.DataFrame(rows, columns=["start", "end", "peak", "peak_score", "top_features"])


def find_events(scores: np.ndarray, threshold: float, vectors: np.ndarray, error_model: ErrorModel,
                feature_names: list[str], top: int = 3, thresholds: np.ndarray | None = None,
                gap: int = 0) -> Detection:
    """Flag the points above `threshold` (or, when given, above their own `thresholds` (T,)) and
    describe each event: a run of them, or runs at most `gap` unflagged points apart (`event_spans`;
    see `Detection`).

    `vectors` (T, C) are the error vectors behind `scores`, `feature_names` (C,) the feature of each
    column (a feature may own several: its residual and its level term); an event's top features
    are those with a column whose mean error over the event's flagged points lies furthest above
    normal (`ErrorModel.deviation`).
    """
    check_number("threshold", threshold, -np.inf)
    labels = (scores > (threshold if thresholds is None else thresholds)).astype(np.int64)
    events = []
    for runs in event_spans(labels, gap):
        start, end = runs[0][0], runs[-1][1]
        flagged = np.concatenate([np.arange(s, e) for s, e in runs])
        peak = int(flagged[np.nanargmax(scores[flagged])])
        order = np.argsort(-error_model.deviation(vectors[flagged]))
        names = list(dict.fromkeys(feature_names[i] for i in order))[:top]  # a name once (several columns each)
        events.append({"start": start, "end": end, "peak": peak, "peak_score": float(scores[peak]),
                       "top_features": names})
    return Detection(scores=scores, labels=labels, events=events, threshold=float(threshold), errors=vectors,
                     thresholds=thresholds)
