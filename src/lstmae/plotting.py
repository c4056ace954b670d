"""Matplotlib figures: training history, a reconstruction, anomaly scores, a map of codes.

Every function draws with the non-interactive Agg backend, writes a PNG atomically
and returns its path; nothing here opens a window.
"""
from __future__ import annotations

import functools
import os
from pathlib import Path

import numpy as np

from ._atomic import atomic_path


def _pyplot():
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    return plt


def _save(fig, path: str | os.PathLike) -> Path:
    plt = _pyplot()
    path = Path(path)
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=110, bbox_inches="tight")
    plt.close(fig)
    return path


def plot_history(history: dict, path: str | os.PathLike) -> Path:
    """Training (and validation) loss per epoch, log scale."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6, 3.5))
    epochs = np.arange(1, len(history["train_loss"]) + 1)
    ax.plot(epochs, history["train_loss"], label="train")
    if history.get("val_loss"):
        ax.plot(epochs, history["val_loss"], label="validation")
    if history.get("best_epoch") is not None:
        ax.axvline(history["best_epoch"] + 1, color="grey", ls=":", label="best epoch")
    ax.set_xlabel("epoch")
    ax.set_ylabel("loss")
    ax.set_yscale("log")
    ax.set_title("Training history")
    ax.legend()
    return _save(fig, path)


_DATE_STEP_NS = 1_000_000_000  # step assumed around a single datetime point (one second)


class _TimeAxis:
    """x values of the points, their kind ("index", "number", "seconds", "date"), time zone, axis label."""

    def __init__(self, x: np.ndarray, kind: str, tz=None, label: str = "point") -> None:
        self.x, self.kind, self.tz, self.label = x, kind, tz, label

    @property
    def is_date(self) -> bool:
        return self.kind == "date"

    def edges(self) -> np.ndarray:
        """Cell edges: halfway between neighbouring points, half a step beyond the ends (len + 1)."""
        if self.is_date:
            v = self.x.astype("datetime64[ns]").astype(np.int64)
            d = np.diff(v) if len(v) > 1 else np.array([_DATE_STEP_NS], dtype=np.int64)
            half = d // 2
            e = np.concatenate([[v[0] - half[0]], v[:-1] + half, [v[-1] + (d[-1] - half[-1])]])
            return e.astype("datetime64[ns]")
        v = np.asarray(self.x, dtype=np.float64)
        d = np.diff(v) if len(v) > 1 else np.array([1.0])
        return np.concatenate([[v[0] - d[0] / 2], v[:-1] + d / 2, [v[-1] + d[-1] / 2]])

    def format(self, ax) -> None:
        """Dates on the x-axis: matplotlib's concise date labels (in the data's time zone)."""
        if self.is_date:
            import matplotlib.dates as mdates

            class Locator(mdates.AutoDateLocator):  # across a clock change two ticks can fall together
                def __call__(self):
                    return np.unique(super().__call__())

            locator = Locator(tz=self.tz)
            ax.xaxis.set_major_locator(locator)
            ax.xaxis.set_major_formatter(mdates.ConciseDateFormatter(locator, tz=self.tz))
        ax.set_xlabel(self.label)


def _time_axis(time, n: int, what: str = "points") -> _TimeAxis:
    """The x-axis of `n` points: `time` (datetimes, timestamps, timedeltas or numbers) or the point index."""
    if time is None:
        return _TimeAxis(np.arange(n, dtype=np.float64), "index", label="point")
    import pandas as pd

    try:
        idx = time if isinstance(time, pd.Index) else pd.Index(np.asarray(time) if np.ndim(time) else [time])
    except (TypeError, ValueError) as exc:
        raise ValueError(f"time must be one-dimensional (datetimes or numbers): {exc}") from None
    if idx.ndim != 1 or len(idx) != n:
        raise ValueError(f"time has {len(idx)} values for {n} {what}; give one time per point.")
    if isinstance(idx, pd.PeriodIndex):
        idx = idx.to_timestamp()
    if idx.dtype == object or idx.dtype.kind in "OSU":
        try:
            idx = pd.DatetimeIndex(pd.to_datetime(idx))
        except (TypeError, ValueError) as exc:
            raise ValueError(f"time holds values that are neither datetimes nor numbers: {exc}") from None
    if idx.hasnans:
        raise ValueError("time holds missing values (NaN / NaT); give a time for every point.")
    if not idx.is_monotonic_increasing:
        raise ValueError("time must not decrease from one point to the next.")
    if isinstance(idx, pd.DatetimeIndex):
        tz = idx.tz
        if tz is not None:  # plotted in UTC (monotone across clock changes), labelled in the data's zone
            idx = idx.tz_convert("UTC").tz_localize(None)
        return _TimeAxis(idx.to_numpy(dtype="datetime64[ns]"), "date", tz=tz, label="time")
    if isinstance(idx, pd.TimedeltaIndex):
        return _TimeAxis(idx.total_seconds().to_numpy(dtype=np.float64), "seconds", label="time (s)")
    if idx.dtype.kind not in "iufb":
        raise ValueError(f"time of dtype {idx.dtype} is neither datetimes nor numbers.")
    return _TimeAxis(idx.to_numpy(dtype=np.float64), "number", label="time")


def plot_reconstruction(
    original: np.ndarray, reconstruction: np.ndarray, path: str | os.PathLike,
    forecast: np.ndarray | None = None, future: np.ndarray | None = None, feature_names: list[str] | None = None,
    time=None,
) -> Path:
    """One sequence (L, F) and its reconstruction, and optionally forecast vs. true future (K, F).

    `time`: the x values of the window (L, or L + K to place the forecast too; datetimes or
    numbers); None: the time step.
    """
    plt = _pyplot()
    original, reconstruction = np.asarray(original), np.asarray(reconstruction)
    length, n_features = original.shape
    k = 0 if forecast is None else np.asarray(forecast).shape[0]
    t = None
    if time is not None:
        n = len(time)
        t = _time_axis(time, n if n in (length, length + k) else length, what="steps of the window")
        x = t.x
        if k and len(x) == length:  # the forecast continues one step after another
            step = x[-1] - x[-2] if length > 1 else (np.timedelta64(_DATE_STEP_NS, "ns") if t.is_date else 1.0)
            x = np.concatenate([x, x[-1] + step * np.arange(1, k + 1)])
        steps, ahead = x[:length], x[length:length + k]
    else:
        steps, ahead = np.arange(length), np.arange(length, length + k)
    fig, axes = plt.subplots(n_features, 1, figsize=(7, 1.8 * n_features + 0.6), sharex=True, squeeze=False)
    for f, ax in enumerate(axes[:, 0]):
        ax.plot(steps, original[:, f], color="black", lw=1.2, label="input")
        ax.plot(steps, reconstruction[:, f], color="tab:blue", ls="--", label="reconstruction")
        if forecast is not None:
            if future is not None:
                ax.plot(ahead, future[:, f], color="black", lw=1.2, alpha=0.5, label="true future")
            ax.plot(ahead, forecast[:, f], color="tab:orange", ls="--", label="forecast")
        ax.set_ylabel(feature_names[f] if feature_names else f"feature {f}")
    axes[0, 0].legend(loc="upper right", fontsize="small", ncol=4)
    if t is None:
        axes[-1, 0].set_xlabel("time step")
    else:
        t.format(axes[-1, 0])
    fig.suptitle("Reconstruction and forecast of one window")
    return _save(fig, path)


_MAX_PANELS = 8  # more features than this: one panel of z-scores instead of one panel each
_MAX_MAP_COLUMNS = 3000  # longer error maps: neighbouring points merged (their maximum) to this many columns


def _flags(values, n: int, name: str) -> np.ndarray | None:
    """0/1 flags (T,) as booleans; NaN counts as 0."""
    if values is None:
        return None
    v = np.asarray(values)
    if v.ndim != 1 or len(v) != n:
        raise ValueError(f"{name} has shape {v.shape} for {n} points; give one 0/1 flag per point.")
    if v.dtype == bool:
        return v
    return np.nan_to_num(v.astype(np.float64), nan=0.0) > 0


def _shade(ax, edges: np.ndarray, labels, predicted, legend: bool) -> None:
    """True anomalies in red over the whole height, detected points as a dark band at the bottom.

    Each flagged point covers its own cell (halfway to its neighbours), so a single flagged
    point shows as well as a long event; x in data units (numbers or dates), y in axes units.
    """
    if labels is None and predicted is None:
        return
    ax.autoscale_view()
    ylim = ax.get_ylim()  # a shading must not move the autoscaled y-limits (y is in axes units)
    xs = np.repeat(edges, 2)[1:-1]  # [e0, e1, e1, e2, ...]: point i spans (e_i, e_i+1)
    transform = ax.get_xaxis_transform()
    if labels is not None:
        ax.fill_between(xs, 0, 1, where=np.repeat(labels, 2), color="red", alpha=0.15, lw=0,
                        transform=transform, label="true anomaly" if legend else None)
    if predicted is not None:
        ax.fill_between(xs, 0, 0.06, where=np.repeat(predicted, 2), color="black", alpha=0.65, lw=0,
                        transform=transform, label="detected" if legend else None)
    ax.set_ylim(ylim)


def _zscores(series: np.ndarray) -> np.ndarray:
    """Each column centred on its mean and divided by its standard deviation (constant columns: by 1)."""
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN columns
        mean, std = np.nanmean(series, axis=0), np.nanstd(series, axis=0)
    std = np.where(np.isfinite(std) & (std > 0), std, 1.0)
    return (series - mean) / std


def _short(name: str, width: int = 22) -> str:
    """A y-label that fits beside a short panel: long names wrapped on two lines, then cut."""
    import textwrap

    if len(name) <= width:
        return name
    lines = textwrap.wrap(name, width)
    return "\n".join(lines[:2]) + ("…" if len(lines) > 2 else "")


def _error_map(ax, edges: np.ndarray, errors: np.ndarray, names: list[str]):
    """Per-feature errors as a features x time heatmap on the shared time axis, its colorbar beside it."""
    n, n_features = errors.shape
    values = errors
    if n > _MAX_MAP_COLUMNS:  # merge neighbours (keep their largest error): fewer cells, peaks kept
        k = -(-n // _MAX_MAP_COLUMNS)
        starts = np.arange(0, n, k)
        values = np.fmax.reduceat(errors, starts, axis=0)
        edges = np.append(edges[starts], edges[-1])
    values = np.ma.masked_invalid(values)
    finite = errors[np.isfinite(errors)]
    vmin = float(min(finite.min(), 0.0)) if finite.size else 0.0
    vmax = float(np.percentile(finite, 99.5)) if finite.size else 1.0
    if not vmax > vmin:
        vmax = float(finite.max()) if finite.size and finite.max() > vmin else vmin + 1.0
    clipped = bool(finite.size and finite.max() > vmax)
    mesh = ax.pcolormesh(edges, np.arange(n_features + 1), values.T, cmap="magma", vmin=vmin, vmax=vmax,
                         shading="flat", rasterized=True)
    ax.set_ylim(n_features, 0)  # feature 0 at the top, as in the panels above
    step = max(1, -(-n_features // 20))  # at most about 20 names
    ticks = np.arange(0, n_features, step)
    ax.set_yticks(ticks + 0.5, [names[i] for i in ticks], fontsize="small" if n_features <= 12 else "x-small")
    ax.tick_params(axis="y", length=0)
    ax.set_ylabel("error per\nfeature", fontsize="small")
    cax = ax.inset_axes((1.01, 0.0, 0.012, 1.0))  # beside, not taken from the heatmap: x stays aligned
    bar = ax.figure.colorbar(mesh, cax=cax, extend="max" if clipped else "neither")
    bar.set_label("error", fontsize="small")
    bar.ax.tick_params(labelsize="x-small")
    return mesh


def _scores_figure(
    series: np.ndarray, scores: np.ndarray, threshold: float, labels: np.ndarray | None = None,
    predicted: np.ndarray | None = None, *, time=None, feature_names: list[str] | None = None,
    errors: np.ndarray | None = None, title: str | None = None,
):
    """The figure of `plot_scores`, not saved: feature panels, error map, score panel (top to bottom)."""
    series = np.asarray(series, dtype=np.float64)
    if series.ndim == 3 and series.shape[0] == 1:  # one series as a batch of one
        series = series[0]
    if series.ndim == 1:
        series = series[:, None]
    if series.ndim != 2 or series.shape[0] == 0:
        raise ValueError(f"series must be shaped (T,) or (T, F) with T >= 1, got shape {series.shape}.")
    n, n_features = series.shape
    scores = np.asarray(scores, dtype=np.float64).reshape(-1)
    if len(scores) != n:
        raise ValueError(f"{len(scores)} scores for a series of {n} points; give one score per point.")
    names = [str(s) for s in feature_names] if feature_names is not None else [f"feature {f}" for f in range(n_features)]
    if len(names) != n_features:
        raise ValueError(f"{len(names)} feature names for {n_features} features.")
    if errors is not None:
        errors = np.asarray(errors, dtype=np.float64)
        if errors.ndim == 1 and n_features == 1:
            errors = errors[:, None]
        if errors.shape != (n, n_features):
            raise ValueError(f"errors has shape {errors.shape}; give one error per point and feature, "
                             f"shape {(n, n_features)}.")
    labels, predicted = _flags(labels, n, "labels"), _flags(predicted, n, "predicted")
    t = _time_axis(time, n)
    edges = t.edges()

    plt = _pyplot()
    normalised = n_features > _MAX_PANELS
    heights = [3.2] if normalised else [1.35] * n_features
    if errors is not None:
        heights.append(min(max(1.1, 0.2 * n_features + 0.5), 4.5))
    heights.append(2.0)
    fig, axes = plt.subplots(len(heights), 1, figsize=(11, sum(heights) + 0.9), sharex=True,
                             height_ratios=heights, squeeze=False)
    axes = list(axes[:, 0])
    feature_axes = axes[:1] if normalised else axes[:n_features]
    map_ax = axes[-2] if errors is not None else None
    score_ax = axes[-1]

    if normalised:
        ax = feature_axes[0]
        z = _zscores(series)
        if n_features <= 20:  # the ten strong colours first, then their light partners
            colors = plt.get_cmap("tab20").colors[0::2] + plt.get_cmap("tab20").colors[1::2]
        else:
            colors = plt.get_cmap("turbo")(np.linspace(0.05, 0.95, n_features))
        for f in range(n_features):
            ax.plot(t.x, z[:, f], lw=0.7, color=colors[f % len(colors)], label=names[f])
        ax.set_ylabel("features, normalised\n(z-score)", fontsize="small")
        ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize="x-small", frameon=False,
                  ncol=-(-n_features // 16), handlelength=1.2, borderaxespad=0.0)
    else:
        for f, ax in enumerate(feature_axes):
            ax.plot(t.x, series[:, f], lw=0.8, color=f"C{f % 10}")
            ax.set_ylabel(_short(names[f]), fontsize="small")
    for ax in feature_axes:
        ax.tick_params(axis="y", labelsize="x-small")
        ax.margins(x=0)

    if errors is not None:
        _error_map(map_ax, edges, errors, names)

    ax = score_ax
    ax.plot(t.x, scores, color="tab:purple", lw=0.8, label="anomaly score")
    finite = scores[np.isfinite(scores)]
    log = bool(finite.size and finite.min() > 0 and finite.max() / finite.min() > 100)
    if log:
        ax.set_yscale("log")
    if threshold is not None and np.ndim(threshold) == 1:  # per-point thresholds (adaptive_threshold)
        thresholds = np.asarray(threshold, dtype=np.float64)
        if len(thresholds) != n:
            raise ValueError(f"{len(thresholds)} thresholds for a series of {n} points; give one or one per point.")
        ax.plot(t.x, thresholds, color="tab:red", ls="--", lw=1, label="rolling threshold")
    elif threshold is not None and np.isfinite(threshold) and (threshold > 0 or not log):
        ax.axhline(threshold, color="tab:red", ls="--", lw=1, label=f"threshold {threshold:.3g}")
    ax.set_ylabel("anomaly score" + (" (log)" if log else ""), fontsize="small")
    ax.tick_params(axis="y", labelsize="x-small")

    for ax in axes:
        _shade(ax, edges, labels, predicted, legend=ax is score_ax)
    score_ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize="x-small", frameon=False,
                    borderaxespad=0.0)
    score_ax.set_xlim(edges[0], edges[-1])  # shared by every panel: the error map's cells fill it
    t.format(score_ax)
    score_ax.tick_params(axis="x", labelsize="small")
    axes[0].set_title(title if title is not None else "Anomaly scores")
    fig.align_ylabels([a for a in axes if a is not map_ax])  # the map's names stand further out
    fig.tight_layout(h_pad=0.4)
    return fig


def plot_scores(
    series: np.ndarray, scores: np.ndarray, threshold: float, path: str | os.PathLike,
    labels: np.ndarray | None = None, predicted: np.ndarray | None = None, *, time=None,
    feature_names: list[str] | None = None, errors: np.ndarray | None = None, title: str | None = None,
) -> Path:
    """The series, its per-feature errors and the anomaly scores on one time axis; a PNG at `path`.

    Top to bottom, all sharing the x-axis (`time`: datetimes, timestamps or numbers; None:
    the point index):

    * one panel per feature (its own y-scale, its name as y-label); more than 8 features are
      drawn as z-scores on a single panel with a legend;
    * with `errors` (T, F), the error map: each feature's error at each point as a heatmap;
    * the anomaly score (NaN where no window covers a point), log scale when positive scores
      span more than two decades, the `threshold` as a dashed line (a float, or one per point:
      a rolling threshold, `LSTMAnomalyDetector.point_thresholds`).

    True anomalies (`labels`, 0/1 per point) are shaded red and detected points (`predicted`)
    marked by a dark band at the bottom of every panel.
    """
    fig = _scores_figure(series, scores, threshold, labels, predicted, time=time, feature_names=feature_names,
                         errors=errors, title=title)
    return _save(fig, path)


def plot_codes(
    codes: np.ndarray, path: str | os.PathLike, labels: np.ndarray | None = None, method: str = "pca",
    random_state: int = 0, title: str | None = None,
) -> Path:
    """Codes (N, C) mapped to 2-D by PCA (default) or t-SNE, one point per code, coloured by label.

    Up to 20 distinct labels (or any non-numeric ones) get a colour each and a legend;
    more numeric labels a continuous colour scale.
    """
    codes = np.asarray(codes, dtype=np.float64)
    if codes.ndim != 2 or codes.shape[0] < 2:
        raise ValueError(f"plot_codes needs codes shaped (N, C) with N >= 2, got shape {codes.shape}.")
    if labels is not None:
        labels = np.asarray(labels)
        if len(labels) != len(codes):
            raise ValueError(f"{len(labels)} labels for {len(codes)} codes; give one label per code.")
    method = str(method).lower()
    n = codes.shape[0]
    if method == "pca":
        from sklearn.decomposition import PCA

        k = min(2, codes.shape[1])
        pca = PCA(n_components=k, random_state=random_state).fit(codes)
        xy = pca.transform(codes)
        share = np.nan_to_num(pca.explained_variance_ratio_)
        if k < 2:  # one-dimensional codes: spread along x only
            xy, share = np.column_stack([xy, np.zeros(n)]), np.append(share, 0.0)
        axis_names = [f"PC{i + 1} ({100 * share[i]:.0f}% of variance)" for i in range(2)]
    elif method == "tsne":
        from sklearn.manifold import TSNE

        perplexity = float(min(30.0, max(1.0, (n - 1) / 3)))
        xy = TSNE(n_components=2, perplexity=perplexity, init="pca", random_state=random_state).fit_transform(codes)
        axis_names = ["t-SNE 1", "t-SNE 2"]
    else:
        raise ValueError(f"method={method!r} is not valid; use 'pca' or 'tsne'.")
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6.5, 5))
    if labels is None:
        ax.scatter(xy[:, 0], xy[:, 1], s=12, alpha=0.7)
    else:
        classes = np.unique(labels)
        numeric = labels.dtype.kind in "iufb"
        if len(classes) <= 20 or not numeric:
            cmap = plt.get_cmap("tab10" if len(classes) <= 10 else "tab20")
            for i, c in enumerate(classes):
                at = labels == c
                ax.scatter(xy[at, 0], xy[at, 1], s=12, alpha=0.7, color=cmap(i % cmap.N), label=str(c))
            if len(classes) <= 20:
                ax.legend(title="label", fontsize="small", markerscale=1.5, loc="best")
        else:
            points = ax.scatter(xy[:, 0], xy[:, 1], s=12, alpha=0.7, c=labels.astype(float), cmap="viridis")
            fig.colorbar(points, ax=ax, label="label")
    ax.set_xlabel(axis_names[0])
    ax.set_ylabel(axis_names[1])
    ax.set_title(title or f"Codes ({'PCA' if method == 'pca' else 't-SNE'}, {n} points)")
    return _save(fig, path)


# --- architecture diagram ----------------------------------------------------------------------
# Drawn in inches (one data unit = one inch, so text in points and boxes in data units agree);
# each box is sized to its measured text.
_FONT = 8.0  # box text, points
_EDGE_FONT = 7.0  # shapes on the arrows
_LINE = _FONT * 1.4 / 72  # line height, inches
_GAP = 0.5  # vertical gap between rows of boxes, inches
_COLORS = {
    "io": "#eeeeee", "encoder": "#d6e6f5", "linear": "#fdf1cc", "code": "#fbd9b6",
    "repeat": "#e6def2", "reconstruction": "#d8efd3", "prediction": "#f8dcdc",
}


@functools.lru_cache(maxsize=1024)
def _text_width(text: str, size: float, bold: bool = False) -> float:
    """Width of one line of text in inches (from the font's metrics, no renderer)."""
    from matplotlib.font_manager import FontProperties
    from matplotlib.textpath import text_to_path

    if not text:
        return 0.0
    prop = FontProperties(size=size, weight="bold" if bold else "normal")
    return text_to_path.get_text_width_height_descent(text, prop, ismath=False)[0] / 72


class _Box:
    """A box: a bold title line and plain lines, centred at (x, y) once its row is placed."""

    def __init__(self, x: float, row: int, title: str, lines: list[str], color: str) -> None:
        self.x, self.row, self.title, self.lines, self.color = x, row, title, lines, color
        self.y = 0.0

    @property
    def w(self) -> float:
        return max([_text_width(self.title, _FONT, bold=True)] + [_text_width(t, _FONT) for t in self.lines]) + 0.3

    @property
    def h(self) -> float:
        return _LINE * (1 + len(self.lines)) + 0.16

    top = property(lambda self: self.y + self.h / 2)
    bottom = property(lambda self: self.y - self.h / 2)
    left = property(lambda self: self.x - self.w / 2)
    right = property(lambda self: self.x + self.w / 2)

    def draw(self, ax) -> None:
        from matplotlib.patches import FancyBboxPatch

        ax.add_patch(FancyBboxPatch(
            (self.left, self.bottom), self.w, self.h, boxstyle="round,pad=0,rounding_size=0.06",
            facecolor=self.color, edgecolor="#555555", linewidth=0.9,
        ))
        y = self.top - 0.08 - _LINE / 2
        ax.text(self.x, y, self.title, ha="center", va="center", fontsize=_FONT, fontweight="bold")
        for line in self.lines:
            y -= _LINE
            ax.text(self.x, y, line, ha="center", va="center", fontsize=_FONT)


def _edge(ax, points, label: str = "", dashed: bool = False, side: str = "right") -> None:
    """An arrow along `points` (the last one gets the head), `label` beside its last segment."""
    from matplotlib.patches import FancyArrowPatch
    from matplotlib.path import Path as MplPath

    ax.add_patch(FancyArrowPatch(
        path=MplPath(points), arrowstyle="-|>,head_length=5,head_width=2.5", linewidth=1.0,
        linestyle=(0, (4, 2.5)) if dashed else "-", color="#333333", shrinkA=0, shrinkB=0,
    ))
    if label:
        (x0, y0), (x1, y1) = points[-2], points[-1]
        if x0 == x1:  # vertical: beside it
            dx = 0.07 if side == "right" else -0.07
            ax.text(x1 + dx, (y0 + y1) / 2, label, ha="left" if side == "right" else "right", va="center",
                    fontsize=_EDGE_FONT, color="#222222")
        else:  # horizontal: above it
            ax.text((x0 + x1) / 2, y1 + 0.05, label, ha="center", va="bottom", fontsize=_EDGE_FONT,
                    color="#222222")


def _down(ax, src: _Box, dst: _Box, label: str = "", dashed: bool = False) -> None:
    """Straight down from `src` to `dst` if they share a column, else out of src's side and down."""
    side = "left" if dst.x < 0 else "right"
    if src.left < dst.x < src.right:
        points = [(dst.x, src.bottom), (dst.x, dst.top)]
    else:
        start = src.left if dst.x < src.x else src.right
        points = [(start, src.y), (dst.x, src.y), (dst.x, dst.top)]
    _edge(ax, points, label, dashed, side)


def _architecture(summary) -> tuple[dict[str, _Box], list[tuple], list[str]]:
    """Boxes, edges (src, dst, label, dashed) and footnotes of the diagram of `summary`."""
    o, s = summary.options, summary.shapes
    row = summary.row
    boxes: dict[str, _Box] = {}
    edges: list[tuple] = []
    foot: list[str] = []
    level = 0

    def box(name, x, title, lines, color):
        boxes[name] = _Box(x, level, title, lines, color)

    box("input", 0.0, "input", [s["input"]], _COLORS["io"])
    level += 1
    frozen = ["frozen (not trained)"] if summary.options.get("freeze_encoder") else []
    box("encoder", 0.0, "encoder", [row("encoder.lstm").layer] + frozen, _COLORS["encoder"])
    edges.append(("input", "encoder", "", False))
    final_h = f"final h {s['encoder.final_h']}"
    copied = summary.copied_state
    # dropout on the code: not shown where the decoders do not read the code (copied state)
    dropout = [f"dropout {o['dropout']:g} (training)"] if o["dropout"] > 0 and not copied else []

    if summary.kind == "classifier":
        last = "encoder"
        if o["pooling"] == "last":
            if row("encoder.bottleneck") is not None:
                level += 1
                box("bottleneck", 0.0, "bottleneck", [row("encoder.bottleneck").layer], _COLORS["linear"])
                edges.append(("encoder", "bottleneck", final_h, False))
                last, label = "bottleneck", s["code"]
            else:
                label = final_h
            level += 1
            box("features", 0.0, "features = code", [s["features"]], _COLORS["code"])
        else:
            if row("encoder.bottleneck") is not None:
                foot.append(f"the bottleneck ({row('encoder.bottleneck').layer}) is not read by pooling "
                            f"{o['pooling']!r}")
            level += 1
            text = {"mean": "mean over the valid steps", "last_hc": "final (h, c) of every layer",
                    "all": "(h, c) of every layer, mean, max"}[o["pooling"]]
            box("features", 0.0, f"pooling {o['pooling']!r}", [text, f"features {s['features']}"],
                _COLORS["repeat"])
            label = (f"outputs {s['encoder.lstm.out']}" if o["pooling"] == "mean"
                     else f"(h, c): 2 x {s['encoder.state']}")
        edges.append((last, "features", label, False))
        level += 1
        dropout = [d.replace("dropout", "dropout on the features") for d in dropout]
        box("head", 0.0, "head", [row("head").layer] + dropout, _COLORS["linear"])
        edges.append(("features", "head", s["features"], False))
        level += 1
        box("proba", 0.0, "class probabilities", [s["proba"]], _COLORS["io"])
        edges.append(("head", "proba", "", False))
        return boxes, edges, foot

    decoders = [(dec, out) for dec, out in (("reconstructor", "reconstruction"), ("predictor", "forecast"))
                if row(f"{dec}.lstm") is not None]
    code_lines = [s["code"]] + dropout
    if copied and len(decoders) == 1:
        # the code is not the decoder's input: show it beside the encoder, the state goes straight down
        box("code", 0.0, "code (transform)", code_lines, _COLORS["code"])
        boxes["code"].x = boxes["encoder"].w / 2 + 0.6 + boxes["code"].w / 2
        edges.append(("encoder", "code", "final h", False))
    else:
        if row("encoder.bottleneck") is not None:
            level += 1
            box("bottleneck", 0.0, "bottleneck", [row("encoder.bottleneck").layer], _COLORS["linear"])
            edges.append(("encoder", "bottleneck", final_h, False))
        level += 1
        box("code", 0.0, "code" + (" (transform)" if copied else ""), code_lines, _COLORS["code"])
        edges.append(("bottleneck" if "bottleneck" in boxes else "encoder", "code",
                      s["code"] if "bottleneck" in boxes else final_h, False))

    level += 1
    first = level
    for i, (dec, out) in enumerate(decoders):
        level = first
        x = 0.0 if len(decoders) == 1 else (-1.0 if i == 0 else 1.0)  # spread out below
        kind = "reconstruction" if dec == "reconstructor" else "prediction"
        if o["bridge"] == "repeat":
            box(f"{dec}.bridge", x, row(f"{dec}.repeat").layer, [], _COLORS["repeat"])
            edges.append(("code", f"{dec}.bridge", s[f"{dec}.code"], False))
            level += 1
        elif not copied:
            box(f"{dec}.bridge", x, "init_state", [row(f"{dec}.init_state").layer, "-> (h0, c0), tanh on h0"],
                _COLORS["linear"])
            edges.append(("code", f"{dec}.bridge", s[f"{dec}.code"], False))
            level += 1
        lines = [row(f"{dec}.lstm").layer]
        frame = "previous frame" if o["conditional"] else ""
        if o["bridge"] == "repeat":
            lines.append("input: the repeated code" + (" + " + frame if frame else ""))
        else:
            lines.append("input: " + (frame or "zeros (the state carries the code)"))
        if o["conditional"]:
            lines.append("true previous frame, also at inference" if o.get("teacher_forcing") == "always"
                         and dec == "reconstructor" else "teacher forcing in training, own output at inference")
        if o["reverse"] and dec == "reconstructor":
            lines.append("target reversed, output back in natural order")
        box(f"{dec}.lstm", x, f"{kind} decoder", lines, _COLORS[kind])
        if o["bridge"] == "repeat":
            edges.append((f"{dec}.bridge", f"{dec}.lstm", s[f"{dec}.lstm.in"], False))
        elif copied:
            edges.append(("encoder", f"{dec}.lstm", f"copied (h, c): 2 x {s['encoder.state']}", True))
        else:
            edges.append((f"{dec}.bridge", f"{dec}.lstm", f"(h0, c0): 2 x {s[f'{dec}.h0']}", True))
        level += 1
        head = row(f"{dec}.head").layer.replace(" + sigmoid", "")
        box(f"{dec}.head", x, "head", [head + " at each step"] + (["sigmoid"] if o["output"] == "sigmoid" else []),
            _COLORS["linear"])
        edges.append((f"{dec}.lstm", f"{dec}.head", s[f"{dec}.lstm.out"], False))
        level += 1
        box(out, x, out, [s[out]], _COLORS["io"])
        edges.append((f"{dec}.head", out, "", False))
    if len(decoders) == 2:  # columns far enough apart for the widest box of each, and their labels
        widths = [max(b.w for n, b in boxes.items() if n.startswith(dec) or n == out) for dec, out in decoders]
        for (dec, out), sign, w in zip(decoders, (-1, 1), widths):
            for n, b in boxes.items():
                if n.startswith(dec) or n == out:
                    b.x = sign * (w / 2 + 0.35)
    return boxes, edges, foot


def _layout(summary) -> tuple[dict[str, _Box], list[tuple], list[str]]:
    """`_architecture` with the rows placed top-down, each as tall as its tallest box."""
    boxes, edges, foot = _architecture(summary)
    y = 0.0
    for r in sorted({b.row for b in boxes.values()}):
        height = max(b.h for b in boxes.values() if b.row == r)
        for b in boxes.values():
            if b.row == r:
                b.y = y - height / 2
        y -= height + _GAP
    return boxes, edges, foot


def plot_model(module, path: str | os.PathLike, seq_len: int | None = None) -> Path:
    """Diagram of an `Autoencoder` or `Classifier` module, Keras ``plot_model(show_shapes=True)`` style.

    Boxes for the input, encoder, bottleneck, code, each decoder (with its bridge: the
    RepeatVector step, or the learned initial-state map), heads and outputs; solid arrows
    for data, dashed ones for LSTM state handed to a decoder; shapes (from
    `lstmae.summary.summarize`, ``L`` when `seq_len` is None) on the arrows. Drawn with
    matplotlib only.
    """
    from matplotlib.lines import Line2D

    from .summary import summarize

    summary = summarize(module, seq_len=seq_len)
    boxes, edges, foot = _layout(summary)
    plt = _pyplot()
    # the limits hug the boxes: labels beside the arrows may stick out, and the saved figure
    # ("tight") grows to take them in
    x0, x1 = min(b.left for b in boxes.values()) - 0.15, max(b.right for b in boxes.values()) + 0.15
    y0, y1 = min(b.bottom for b in boxes.values()) - 0.15, max(b.top for b in boxes.values()) + 0.15
    fig = plt.figure(figsize=(x1 - x0, y1 - y0))
    ax = fig.add_axes((0, 0, 1, 1))
    ax.set_xlim(x0, x1)
    ax.set_ylim(y0, y1)
    ax.axis("off")
    for b in boxes.values():
        b.draw(ax)
    for src, dst, label, dashed in edges:
        a, b = boxes[src], boxes[dst]
        if a.row == b.row:  # beside: a horizontal arrow
            _edge(ax, [(a.right, a.y), (b.left, b.y)], label, dashed)
        else:
            _down(ax, a, b, label, dashed)
    ax.text((x0 + x1) / 2, y1 + 0.12, summary.title() + f"\n{summary.total_params:,} parameters"
            + (f" ({summary.trainable_params:,} trainable)" if summary.non_trainable_params else ""),
            ha="center", va="bottom", fontsize=9)
    if foot:
        ax.text((x0 + x1) / 2, y0 - 0.05, "\n".join(foot), ha="center", va="top", fontsize=_EDGE_FONT)
    if any(e[3] for e in edges):
        legend = [Line2D([], [], color="#333333", lw=1, label="data"),
                  Line2D([], [], color="#333333", lw=1, ls=(0, (4, 2.5)), label="LSTM state (h, c)")]
        ax.legend(handles=legend, loc="upper center", bbox_to_anchor=(0.5, 0), ncol=2, fontsize=_EDGE_FONT,
                  frameon=False)
    return _save(fig, path)


def _frame_shape(frame_size, n_pixels: int, name: str) -> tuple[int, int]:
    if frame_size is None:
        side = int(round(np.sqrt(n_pixels)))
        if side * side != n_pixels:
            raise ValueError(
                f"row {name!r} has frames of {n_pixels} pixels, not a square; give frame_size=(height, width)."
            )
        return side, side
    h, w = (frame_size, frame_size) if np.isscalar(frame_size) else tuple(frame_size)
    if int(h) * int(w) != n_pixels:
        raise ValueError(f"row {name!r} has frames of {n_pixels} pixels, which frame_size={frame_size!r} does not give.")
    return int(h), int(w)


def plot_frames(
    rows: dict,
    path: str | os.PathLike,
    frame_size: int | tuple[int, int] | None = None,
    title: str | None = None,
    vmin: float = 0.0,
    vmax: float = 1.0,
) -> Path:
    """Sequences of image frames as rows of thumbnails, one labelled row per sequence.

    `rows` maps a label to a sequence of frames: (T, S*S) flattened frames (as
    `make_moving_digits` and the autoencoders' outputs give them) or (T, H, W) images. Rows
    may differ in length; frame t of every row sits in column t. `frame_size`: S, or
    (H, W) for flattened non-square frames (None: square, from the pixel count). Grey
    scale from `vmin` (black) to `vmax` (white). Reading a video model at a glance:
    e.g. ``{"input": x, "reconstruction": ae.reconstruct(x[None])[0], "future": y,
    "predicted": ae.predict(x[None])[0]}``.
    """
    if not rows:
        raise ValueError("rows is empty; give at least one sequence of frames, e.g. {'input': frames}.")
    plt = _pyplot()
    images = []
    for name, seq in rows.items():
        a = np.asarray(seq, dtype=np.float64)
        if a.ndim == 2:
            a = a.reshape(a.shape[0], *_frame_shape(frame_size, a.shape[1], name))
        elif a.ndim != 3:
            raise ValueError(f"row {name!r} has shape {a.shape}; give frames (T, S*S) or images (T, H, W).")
        if a.shape[0] == 0:
            raise ValueError(f"row {name!r} has no frames.")
        images.append((str(name), a))
    shapes = {a.shape[1:] for _, a in images}
    if len(shapes) > 1:
        raise ValueError(f"the rows' frames have different sizes {sorted(shapes)}; give frames of one size.")
    (h, w), n_cols = shapes.pop(), max(a.shape[0] for _, a in images)
    gap = max(1, w // 8)
    width = n_cols * w + (n_cols - 1) * gap
    cell = max(0.35, min(0.9, 6.0 / n_cols))  # inches per frame
    row_w, row_h = cell * width / w, cell * h / w  # inches
    pad, head, foot = 0.06, (0.35 if title else 0.05), 0.45  # inches between rows, above, below (tick labels)
    fig_h = head + len(images) * row_h + (len(images) - 1) * pad + foot
    fig = plt.figure(figsize=(row_w, fig_h))  # the row labels sit left of it: saving with "tight" takes them in
    cmap = plt.get_cmap("gray").with_extremes(bad="white")  # the gaps between frames
    axes = fig.subplots(len(images), 1, squeeze=False, gridspec_kw=dict(hspace=pad / row_h))[:, 0]
    fig.subplots_adjust(left=0, right=1, top=1 - head / fig_h, bottom=foot / fig_h)
    for ax, (name, a) in zip(axes, images):
        mosaic = np.full((h, width), np.nan)
        for t, frame in enumerate(a):
            mosaic[:, t * (w + gap): t * (w + gap) + w] = frame
        ax.imshow(mosaic, cmap=cmap, vmin=vmin, vmax=vmax, interpolation="nearest", aspect="equal")
        ax.set_xticks([])
        ax.set_yticks([])
        for s in ax.spines.values():
            s.set_visible(False)
        ax.set_ylabel(name, rotation=0, ha="right", va="center", fontsize=8)
    axes[-1].set_xticks([t * (w + gap) + (w - 1) / 2 for t in range(n_cols)])
    axes[-1].set_xticklabels([str(t + 1) for t in range(n_cols)], fontsize=7)
    axes[-1].tick_params(length=0)
    axes[-1].set_xlabel("frame", fontsize=8)
    if title:
        fig.suptitle(title, fontsize=9, y=1 - 0.05 / fig_h, va="top")
    return _save(fig, path)
