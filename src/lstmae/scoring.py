"""From windows of a long series back to one value per time point.

A long series ``(T, F)`` is cut into windows (`lstmae.data.windows`), a fitted model
maps each window to per-step values (reconstructions, reconstruction errors), and
those are averaged back onto the time axis: every time point gets the mean over all
windows that cover it (fewer at the edges). Windows are processed in chunks, so
memory stays bounded by the chunk, not by the number of windows.
"""
from __future__ import annotations

from typing import Callable, Iterator

import numpy as np

from .data.windows import count_windows, coverage_counts, reverse_windowing, sliding_windows

DEFAULT_CHUNK = 4096


def iter_window_chunks(
    series: np.ndarray, window: int, stride: int = 1, chunk: int = DEFAULT_CHUNK
) -> Iterator[tuple[int, np.ndarray]]:
    """Yield ``(first window index, windows)`` with at most `chunk` contiguous windows each."""
    views = sliding_windows(series, window, stride)
    for first in range(0, views.shape[0], chunk):
        yield first, np.ascontiguousarray(views[first : first + chunk])


def _progress(total: int, label: str, enabled: bool):
    if not enabled:
        return None
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    progress = Progress(TextColumn(f"[bold]{label}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    return progress


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
    bar = _progress(n_windows, "scoring", progress)
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


def series_scores(model, series: np.ndarray, window: int, stride: int = 1, chunk: int = DEFAULT_CHUNK,
                  progress: bool = False) -> np.ndarray:
    """One anomaly score per time point: mean reconstruction error (over features and covering windows).

    `model` is a fitted `LSTMAutoencoder` with a reconstruction decoder. Higher is more
    anomalous. Returns (T,) float64.
    """
    per_feature = windowed_to_points(model.reconstruction_errors, series, window, stride, chunk, progress)
    return per_feature.mean(axis=1)
