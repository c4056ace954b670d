"""Sliding windows over a time series, and the way back from windows to time points.

Shape legend
------------
T : number of time points of the series (``n_points``)
F : number of features
W : window length (``window``)
H : forecast horizon (``horizon``), the steps right after each window
N : number of windows, ``N = (T - W - H) // stride + 1``

Window ``i`` starts at time ``i * stride`` and covers ``[i*stride, i*stride + W)``;
its targets (``horizon > 0``) cover ``[i*stride + W, i*stride + W + H)``.
:func:`window_starts` gives the start indices, :func:`window_end_values` the
value of a per-time-point array (e.g. labels) at the last step of every window,
:func:`coverage_counts` how many windows cover each time point, and
:func:`reverse_windowing` maps per-window results (e.g. reconstruction errors)
back onto the time axis.

Everything here is pure NumPy; windows are read-only views of the series (no
copy), so windowing a 10-million-point series costs no memory beyond the series.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal, overload

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from lstmae._validation import check_int

__all__ = [
    "REDUCTIONS",
    "count_windows",
    "coverage_counts",
    "reverse_windowing",
    "sliding_windows",
    "window_end_values",
    "window_starts",
]

REDUCTIONS: tuple[str, ...] = ("mean", "max", "median")
"""Accepted values of ``reduce`` in :func:`reverse_windowing`."""

Reduction = Literal["mean", "max", "median"]

# Median: at most this many buffered values per block of time points.
_MEDIAN_BLOCK_VALUES = 1 << 22
# Mean / max: values per chunk of windows (about 1 MiB of float32, cache-sized).
_CHUNK_VALUES = 1 << 18


# --------------------------------------------------------------------------- windows
def count_windows(n_points: int, window: int, stride: int = 1, horizon: int = 0) -> int:
    """Number of windows, ``(n_points - window - horizon) // stride + 1``.

    Parameters
    ----------
    n_points : int
        Length ``T`` of the series.
    window : int
        Window length ``W`` (>= 1).
    stride : int, default 1
        Step between window starts (>= 1).
    horizon : int, default 0
        Steps after each window that must also lie inside the series (>= 0).

    Returns
    -------
    int
        ``N >= 1``.

    Raises
    ------
    ValueError
        If an argument is out of range or the series is shorter than
        ``window + horizon``.
    """
    n_points = check_int("n_points", n_points, 0)
    window = check_int("window", window, 1)
    stride = check_int("stride", stride, 1)
    horizon = check_int("horizon", horizon, 0)
    needed = window + horizon
    if n_points < needed:
        what = f"window={window}" + (f" and horizon={horizon}" if horizon else "")
        need = "window + horizon" if horizon else "window"
        raise ValueError(
            f"series has {n_points} time points, too short for {what}: it needs at least "
            f"{needed} points ({need}); use a smaller window or a longer series"
        )
    return (n_points - needed) // stride + 1


def window_starts(n_points: int, window: int, stride: int = 1, horizon: int = 0) -> np.ndarray:
    """Start index of every window in the series.

    Parameters
    ----------
    n_points, window, stride, horizon : int
        As in :func:`sliding_windows`.

    Returns
    -------
    numpy.ndarray of int64, shape (N,)
        ``starts[i] = i * stride``; window ``i`` covers ``[starts[i], starts[i] + W)``
        and its targets ``[starts[i] + W, starts[i] + W + H)``.
    """
    n = count_windows(n_points, window, stride, horizon)
    return np.arange(n, dtype=np.int64) * int(stride)


def window_end_values(
    values: np.ndarray | Sequence[object], window: int, stride: int = 1, horizon: int = 0
) -> np.ndarray:
    """The value at the last step of every window, for values given per time point.

    E.g. the label of each window of a labelled series, to label the window's code
    or score.

    Parameters
    ----------
    values : array_like, shape (T,)
        One value per time point of the series (numbers, strings, ...).
    window, stride, horizon : int
        As in :func:`sliding_windows`.

    Returns
    -------
    numpy.ndarray, shape (N,)
        ``out[i] == values[i*stride + W - 1]``, with the dtype of ``values``.

    Raises
    ------
    ValueError
        If ``values`` is not 1-D, an argument is out of range, or ``values`` is
        shorter than ``window + horizon``.

    Examples
    --------
    >>> window_end_values(np.array([0, 0, 1, 1, 0, 0]), 3, stride=2)
    array([1, 0])
    """
    v = np.asarray(values)
    if v.ndim != 1:
        raise ValueError(
            f"values must be 1-D (T,), one value per time point, got an array of shape {v.shape}"
        )
    starts = window_starts(len(v), window, stride, horizon)
    return v[starts + (int(window) - 1)]


@overload
def sliding_windows(
    series: np.ndarray, window: int, stride: int = ..., horizon: Literal[0] = ...
) -> np.ndarray: ...
@overload
def sliding_windows(
    series: np.ndarray, window: int, stride: int = ..., horizon: int = ...
) -> np.ndarray | tuple[np.ndarray, np.ndarray]: ...
def sliding_windows(
    series: np.ndarray | Sequence[float],
    window: int,
    stride: int = 1,
    horizon: int = 0,
) -> np.ndarray | tuple[np.ndarray, np.ndarray]:
    """Cut a series into (overlapping) windows, as read-only views without copying.

    Parameters
    ----------
    series : array_like, shape (T,) or (T, F)
        The series; a 1-D series is treated as one feature (``F = 1``).
    window : int
        Window length ``W`` (>= 1).
    stride : int, default 1
        Step between the starts of consecutive windows (>= 1).
    horizon : int, default 0
        If > 0, also return the ``H`` steps right after each window (forecast
        targets).

    Returns
    -------
    windows : numpy.ndarray, shape (N, W, F)
        When ``horizon == 0``. ``windows[i] == series[i*stride : i*stride + W]``.
    (inputs, targets) : tuple of numpy.ndarray, shapes (N, W, F) and (N, H, F)
        When ``horizon > 0``; ``targets[i] == series[i*stride + W : i*stride + W + H]``.

    where ``N = (T - W - H) // stride + 1``. The result is always 3-D.

    Notes
    -----
    The windows are built with :func:`numpy.lib.stride_tricks.sliding_window_view`:
    they share memory with ``series`` (``np.shares_memory`` is True when ``series``
    is already an ndarray), are read-only, and cost no memory however many
    windows overlap. Call ``np.ascontiguousarray`` on a batch (not on all windows
    at once) when a copy is needed, e.g. before ``torch.from_numpy``.

    Raises
    ------
    ValueError
        If ``window < 1``, ``stride < 1``, ``horizon < 0``, the series is not 1-D
        or 2-D or not numeric, or it is shorter than ``window + horizon``.

    Examples
    --------
    >>> x = np.arange(6.0)
    >>> sliding_windows(x, 3, stride=2)[:, :, 0]
    array([[0., 1., 2.],
           [2., 3., 4.]])
    >>> inputs, targets = sliding_windows(x, 3, horizon=1)
    >>> inputs.shape, targets[:, :, 0].ravel()
    ((3, 3, 1), array([3., 4., 5.]))
    """
    arr = np.asarray(series)
    if arr.ndim not in (1, 2):
        raise ValueError(
            f"series must be 1-D (T,) or 2-D (T, F), got a {arr.ndim}-D array of shape "
            f"{arr.shape}; window each sequence of a batch separately"
        )
    if not (np.issubdtype(arr.dtype, np.number) or arr.dtype == np.bool_):
        raise ValueError(f"series must be numeric, got dtype {arr.dtype}")
    if arr.ndim == 1:
        arr = arr[:, None]
    n = count_windows(arr.shape[0], window, stride, horizon)
    span = window + horizon
    # (T - span + 1, F, span) -> every stride-th start -> (N, span, F); all views.
    views = sliding_window_view(arr, span, axis=0)
    views = views[: (n - 1) * stride + 1 : stride].transpose(0, 2, 1)
    if horizon == 0:
        return views
    return views[:, :window], views[:, window:]


# --------------------------------------------------------------------------- way back
def coverage_counts(
    n_points: int, window: int, stride: int = 1, n_windows: int | None = None
) -> np.ndarray:
    """How many windows cover each time point.

    Parameters
    ----------
    n_points : int
        Length ``T`` of the time axis.
    window, stride : int
        Window length and stride.
    n_windows : int, optional
        Number of windows; by default as many as fit, ``(T - W) // stride + 1``.

    Returns
    -------
    numpy.ndarray of int64, shape (T,)
        0 for points no window covers (gaps when ``stride > window``, trailing
        points), at most ``ceil(W / stride)``; smaller at the edges.
    """
    n_points = check_int("n_points", n_points, 0)
    window = check_int("window", window, 1)
    stride = check_int("stride", stride, 1)
    if n_windows is None:
        n_windows = count_windows(n_points, window, stride) if n_points >= window else 0
    n_windows = check_int("n_windows", n_windows, 0)
    t = np.arange(n_points, dtype=np.int64)
    # windows i with i*stride <= t < i*stride + W, clipped to [0, n_windows)
    last = np.minimum(t // stride, n_windows - 1)
    first = np.maximum(0, -((window - 1 - t) // stride))  # ceil((t - W + 1) / stride)
    return np.maximum(last - first + 1, 0)


def reverse_windowing(
    values: np.ndarray,
    window: int,
    stride: int = 1,
    n_points: int | None = None,
    reduce: Reduction = "mean",
) -> np.ndarray:
    """Map per-window (or per-window-step) values back to one value per time point.

    Every time point gets the ``reduce`` of all values that cover it: for
    per-window values, each window's value is spread over all of its ``W`` steps;
    for per-step values, ``values[i, j]`` belongs to time ``i*stride + j``.

    Parameters
    ----------
    values : array_like, shape (N,), (N, W) or (N, W, F)
        Per-window values (e.g. one anomaly score per window), per-window-step
        values (e.g. reconstruction errors), or per-step per-feature values.
    window : int
        Window length ``W`` used to cut the windows.
    stride : int, default 1
        Stride used to cut the windows.
    n_points : int, optional
        Length ``T`` of the output; default ``(N - 1) * stride + W``, the span the
        windows cover. Pass the original series length to get trailing points
        (not covered by any window) as NaN.
    reduce : {"mean", "max", "median"}, default "mean"
        How the values covering one point are combined.

    Returns
    -------
    numpy.ndarray, shape (T,) or (T, F)
        ``(T, F)`` for 3-D ``values``, ``(T,)`` otherwise. Float: float32 for
        float32 (or small integer) input, float64 otherwise. Points covered by no
        window are **NaN**: gaps between windows when ``stride > window``, and
        trailing points when ``n_points`` exceeds the covered span. A NaN among
        the values covering a point makes that point NaN.

    Notes
    -----
    Edge points are covered by fewer windows (see :func:`coverage_counts`) and are
    reduced over those only. ``mean`` (accumulated in float64) and ``max`` loop
    over the ``W`` window offsets with strided slices, each pass vectorised over
    a cache-sized chunk of windows: no Python loop per window, extra memory
    ``O(T * F)``; about 0.1-0.4 s for 1e6 points and ``W = 128``. ``median``
    fills a ``(points, ceil(W / stride), F)`` buffer block by block and
    partitions it: a few seconds for the same size, like ``np.median`` itself.
    For values taken from the windows themselves, every reduction returns the
    original series (``mean`` exactly for float32 input, up to rounding for
    float64).

    Raises
    ------
    ValueError
        If ``values`` has the wrong shape for ``window``, no windows, or
        ``n_points`` is smaller than the span the windows cover.

    Examples
    --------
    >>> reverse_windowing(np.array([1.0, 3.0]), window=2, stride=1)
    array([1., 2., 3.])
    """
    window = check_int("window", window, 1)
    stride = check_int("stride", stride, 1)
    if reduce not in REDUCTIONS:
        raise ValueError(f"unknown reduce {reduce!r}; use 'mean', 'max' or 'median'")
    v = np.asarray(values)
    if not (np.issubdtype(v.dtype, np.number) or v.dtype == np.bool_):
        raise ValueError(f"values must be numeric, got dtype {v.dtype}")
    if v.ndim == 1:
        v3 = np.broadcast_to(v[:, None, None], (v.shape[0], window, 1))
    elif v.ndim in (2, 3):
        if v.shape[1] != window:
            raise ValueError(
                f"values has shape {v.shape} but window={window}: per-step values must be "
                f"(n_windows, window) or (n_windows, window, n_features); per-window values (n_windows,)"
            )
        v3 = v[:, :, None] if v.ndim == 2 else v
    else:
        raise ValueError(
            f"values must be (n_windows,), (n_windows, window) or "
            f"(n_windows, window, n_features), got shape {v.shape}"
        )
    n = v3.shape[0]
    if n == 0:
        raise ValueError("values holds no windows (first dimension is 0)")
    span = (n - 1) * stride + window
    if n_points is None:
        n_points = span
    n_points = check_int("n_points", n_points, 1)
    if n_points < span:
        raise ValueError(
            f"n_points={n_points} is smaller than the {span} points that {n} windows of "
            f"length {window} with stride {stride} cover; pass n_points >= {span} or None"
        )
    counts = coverage_counts(n_points, window, stride, n)
    # inf - inf and overflow give NaN / inf as in NumPy's own reductions, without warnings
    with np.errstate(invalid="ignore", over="ignore"):
        out = _reverse(v3, window, stride, n_points, counts, reduce, per_window=v.ndim == 1)
    return out if v.ndim == 3 else out[:, 0]


def _reverse(
    v3: np.ndarray,
    window: int,
    stride: int,
    n_points: int,
    counts: np.ndarray,
    reduce: str,
    per_window: bool,
) -> np.ndarray:
    n, _, n_features = v3.shape
    out_dtype = np.result_type(v3.dtype, np.float32)
    covered = counts > 0

    # Windows are processed in chunks that fit in cache (reading column j of a large
    # C-ordered (N, W) array jumps W items per step); per-window values are a
    # zero-stride broadcast and need no chunking.
    chunk = n if per_window else max(1, _CHUNK_VALUES // max(window * n_features, 1))
    if reduce == "mean":
        acc = np.zeros((n_points, n_features), dtype=np.float64)
        for c0 in range(0, n, chunk):
            vc = v3[c0 : c0 + chunk]
            base, stop = c0 * stride, (len(vc) - 1) * stride + 1
            for j in range(window):
                acc[base + j : base + j + stop : stride] += vc[:, j]
        out = np.full((n_points, n_features), np.nan, dtype=np.float64)
        np.divide(acc, counts[:, None], out=out, where=covered[:, None])
        out = out.astype(out_dtype, copy=False)
    elif reduce == "max":
        out = np.full((n_points, n_features), -np.inf, dtype=out_dtype)
        for c0 in range(0, n, chunk):
            vc = v3[c0 : c0 + chunk]
            base, stop = c0 * stride, (len(vc) - 1) * stride + 1
            for j in range(window):
                part = out[base + j : base + j + stop : stride]
                np.maximum(part, vc[:, j], out=part)
        out[~covered] = np.nan
    else:
        out = _median_reverse(v3, window, stride, n_points, counts, out_dtype)
    return out


def _median_reverse(
    v3: np.ndarray,
    window: int,
    stride: int,
    n_points: int,
    counts: np.ndarray,
    out_dtype: np.dtype,
) -> np.ndarray:
    """Median of the values covering each point; ``v3`` is (N, W, F)."""
    n, _, n_features = v3.shape
    k = -(-window // stride)  # at most k windows cover a point
    out = np.full((n_points, n_features), np.nan, dtype=out_dtype)
    span = (n - 1) * stride + window
    block = max(1, _MEDIAN_BLOCK_VALUES // max(k * n_features, 1))
    for a in range(0, span, block):
        b = min(a + block, span)
        # buf[t - a, slot, f]: the values covering t; window offset j goes to slot j // stride
        # (the offsets covering one point differ by multiples of stride). Empty slots: +inf,
        # which sorts after every real value.
        buf = np.full((b - a, k, n_features), np.inf, dtype=out_dtype)
        for j in range(window):
            i0 = max(0, -((j - a) // stride))  # first window i with i*stride + j >= a
            i1 = min(n, -((j - b) // stride))  # first window i with i*stride + j >= b
            if i1 <= i0:
                continue
            t0 = i0 * stride + j - a
            buf[t0 : t0 + (i1 - i0 - 1) * stride + 1 : stride, j // stride] = v3[i0:i1, j]
        c = counts[a:b]
        for cv in np.unique(c):
            if cv == 0:
                continue
            rows = np.flatnonzero(c == cv)
            sub = buf[rows]
            lo, hi = (int(cv) - 1) // 2, int(cv) // 2
            part = np.partition(sub, sorted({lo, hi}), axis=1)
            if lo == hi:
                med = part[:, lo]
            else:  # halves first: no overflow for huge values
                med = 0.5 * part[:, lo].astype(np.float64) + 0.5 * part[:, hi].astype(np.float64)
            has_nan = np.isnan(sub).any(axis=1)
            med[has_nan] = np.nan
            out[a + rows] = med
    return out
