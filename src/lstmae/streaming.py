"""Scoring, codes and outputs over a stream (`lstmae.data.sources`), in bounded memory.

The streamed counterparts of `lstmae.scoring` and `lstmae.frames`: the residual statistics an
autoencoder's anomaly scores are normalised by (`residual_stats`), per-point values over a stream
of windows with partial sums carried between chunks (`iter_points`), codes (`iter_codes`,
`codes_frames`), detection with events followed across chunks (`DetectionStream`), the error
vectors a detector's threshold is fitted on (`stream_errors`), and tables written as they are made
(`write_frames`).
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator

import numpy as np

from .data.sources import (OUTPUT_ROWS, SAMPLE_BYTES, TABLE_EXTENSIONS, Moments, Reservoir, Source, WindowBlock,
                           WindowBuffer, WindowStream, iter_windows, window_plan)


def residual_stats(ae, windows: WindowStream, n_quantiles: int = 1001, sample_bytes: int | None = None):
    """`lstmae.scoring.ResidualStats` of a fitted autoencoder on all the windows of `windows`, in one inference
    pass: the same batches as the in-memory fit, exact sums per step position; with all steps in the sample
    (at most `SAMPLE_BYTES`) it is the in-memory result, otherwise the quantiles come from a seeded uniform
    sample of the steps."""
    from .scoring import PROFILE_PRIOR, ResidualStats

    whole = windows.part(0, windows.total)
    L, F = whole.window, whole.source.n_features
    cap = max(1024, (sample_bytes or SAMPLE_BYTES) // (4 * (F + 1)))
    sample = Reservoir(cap, seed=0)
    s1, s2 = np.zeros((L, F)), np.zeros((L, F))
    cross = np.zeros((L, F, F)) if F <= 64 else None
    n = 0
    bs = int(ae.batch_size)
    size = bs * max(1, 4096 // bs)
    pos = np.arange(L, dtype=np.float32)
    for data in whole.blocks(size):
        out = ae.infer(lambda b: {"reconstruction": ae.module_(b)[0]["reconstruction"]}, data,
                        time_keys=("reconstruction",))["reconstruction"]
        r = np.abs(data["x"].numpy() - out)  # (B, L, F) float32, every step valid
        r64 = r.astype(np.float64)
        s1 += r64.sum(axis=0)
        s2 += (r64**2).sum(axis=0)
        if cross is not None:
            cross += np.einsum("bpf,bpg->pfg", r64, r64)
        n += len(r)
        steps = np.concatenate([r.reshape(-1, F), np.tile(pos, len(r))[:, None]], axis=1)
        sample.add(steps)
    if n == 0:
        raise ValueError("no windows to measure the residuals on")
    if sample.complete:  # every step: the in-memory computation itself
        rows = sample.values()
        res = rows[:, :F].reshape(n, L, F)
        return ResidualStats.fit(res, np.ones((n, L), dtype=bool), n_quantiles)
    counts = np.full((L, 1), float(n))
    overall = s1.sum(axis=0) / (n * L)
    profile = (s1 + PROFILE_PRIOR * overall) / (counts + PROFILE_PRIOR)
    stats = ResidualStats(profile, np.zeros(n_quantiles), 0.0, 0.0, np.zeros(F), np.ones(F))
    rel = stats.relative(L)  # (L, F)
    m = n * L
    fmean = (s1 / rel).sum(axis=0) / m
    fvar = (s2 / rel**2).sum(axis=0) / m - fmean**2
    rows = sample.values()
    vectors = rows[:, :F].astype(np.float64) / rel[rows[:, F].astype(np.int64)]
    steps = vectors.mean(axis=1)
    score_mean = float(fmean.mean())
    if cross is not None:
        e2 = (cross / (rel[:, :, None] * rel[:, None, :])).sum() / (F * F * m)
        score_std = float(np.sqrt(max(e2 - score_mean**2, 0.0)))
    else:
        score_std = float(steps.std())
    stats.score_quantiles = np.quantile(steps, np.linspace(0.0, 1.0, n_quantiles))
    stats.score_mean, stats.score_std = score_mean, score_std
    stats.feature_mean, stats.feature_std = fmean, np.sqrt(np.maximum(fvar, 0.0)) + 1e-12
    return stats


# --------------------------------------------------------------------------- points and codes
@dataclass
class PointBlock:
    """Consecutive points of one sequence: ``values`` (n, F') float64 (NaN where no window covers), ``start`` the
    stream row of the first, ``seq``, and the points' ``time`` and ``labels`` (or None)."""

    values: np.ndarray
    start: int
    seq: Any = None
    time: np.ndarray | None = None
    labels: np.ndarray | None = None
    new_sequence: bool = False


def _total_windows(source: Source, window: int, stride: int) -> int:
    try:
        return window_plan(source, window, stride).total
    except ValueError:
        return 0


def iter_points(fn: Callable[[np.ndarray], np.ndarray], source: Source, window: int, stride: int = 1,
                chunk: int | None = None, progress: bool = False) -> Iterator[PointBlock]:
    """`lstmae.scoring.windowed_to_points` over a stream: `fn` on the windows (in chunks of `chunk` windows
    of a sequence, as the in-memory function cuts them: the same numbers), each point the mean of `fn`'s
    values over the windows that cover it, yielded as soon as no later window covers it. The sums of the
    last ``window - 1`` points are carried from chunk to chunk; sequences are scored separately (the points
    of a sequence shorter than a window are NaN)."""
    from numpy.lib.stride_tricks import sliding_window_view

    from .scoring import DEFAULT_CHUNK, progress_bar
    from .data.windows import coverage_counts, reverse_windowing

    chunk = chunk or DEFAULT_CHUNK
    if source.kind == "series" and len(source) < window:
        raise ValueError(f"{source.name} has {len(source)} points, fewer than one window ({window}); use a longer "
                         "series or a smaller window.")
    need = (chunk - 1) * stride + window
    buf = WindowBuffer(source.n_features)
    st = {"sums": np.zeros((0, 0)), "counts": np.zeros(0), "next": 0, "new": True, "width": None}

    def grow() -> None:
        extra = len(buf.values) - len(st["counts"])
        if extra > 0:
            st["sums"] = np.concatenate([st["sums"], np.zeros((extra, st["sums"].shape[1]))])
            st["counts"] = np.concatenate([st["counts"], np.zeros(extra)])

    def width(w: int) -> None:
        st["width"] = w
        if st["sums"].shape[1] != w:  # nothing summed yet in this sequence
            st["sums"] = np.zeros((len(st["counts"]), w))

    def emit(upto: int | None) -> Iterator[PointBlock]:
        k = len(buf.values) if upto is None else max(0, min(upto - buf.local0, len(buf.values)))
        if not k:
            return
        grow()
        if st["width"] is None:  # no window anywhere yet: ask fn its output width
            probe = np.asarray(fn(np.zeros((1, window, source.n_features), np.float32)))
            width(1 if probe.ndim == 2 else probe.shape[2])
        width(st["width"])
        with np.errstate(invalid="ignore", divide="ignore"):
            vals = st["sums"][:k] / st["counts"][:k, None]
        out = PointBlock(vals, buf.row0, buf.seq, None if buf.time is None else buf.time[:k],
                         None if buf.labels is None else buf.labels[:k], st["new"])
        st["new"] = False
        st["sums"], st["counts"] = st["sums"][k:], st["counts"][k:]
        buf.drop_to(buf.local0 + k)
        yield out

    def run(final: bool) -> Iterator[PointBlock]:
        while True:
            avail = buf.end - st["next"]
            if avail < window or (not final and avail < need):
                return
            m = min(chunk, (avail - window) // stride + 1)
            a = st["next"] - buf.local0
            views = sliding_window_view(buf.values[a: a + (m - 1) * stride + window], window, axis=0)[::stride]
            values = np.asarray(fn(np.ascontiguousarray(views.transpose(0, 2, 1))), dtype=np.float64)
            if values.ndim == 2:
                values = values[:, :, None]
            grow()
            width(values.shape[2])
            local_points = (m - 1) * stride + window
            local_counts = coverage_counts(local_points, window, stride, n_windows=m)
            means = reverse_windowing(values, window, stride, n_points=local_points, reduce="mean")
            covered = local_counts > 0
            sl = slice(a, a + local_points)
            st["sums"][sl][covered] += means[covered] * local_counts[covered, None]
            st["counts"][sl] += local_counts
            st["next"] += m * stride
            if bar:
                bar.update(task, advance=m)
            yield from emit(st["next"])

    def close() -> Iterator[PointBlock]:
        yield from run(final=True)
        yield from emit(None)

    bar = progress_bar("scoring", progress)
    task = bar.add_task("windows", total=_total_windows(source, window, stride)) if bar else None
    if bar:
        bar.start()
    try:
        for c in source.chunks():
            if c.new_sequence:
                yield from close()
                buf.reset(c.start)
                st.update(sums=np.zeros((0, st["sums"].shape[1])), counts=np.zeros(0), next=0, new=True)
            buf.append(c.values, c.time, c.labels)
            buf.seq = c.seq
            yield from run(final=False)
        yield from close()
    finally:
        if bar:
            bar.stop()


def smooth_points(blocks: Iterable[PointBlock], width: int | None) -> Iterator[PointBlock]:
    """`lstmae.scoring.moving_mean` over the points of `blocks`, within each sequence: the same numbers as on
    the sequence held in memory. A point is yielded once the ``(width - 1) // 2`` points after it have arrived
    (or its sequence has ended); the ``width // 2`` points before it are carried over. None or 1: unchanged."""
    from .scoring import moving_mean

    if width is None or width <= 1:
        yield from blocks
        return
    before, after = width // 2, (width - 1) // 2
    context = None  # the last `before` raw values already yielded, of this sequence
    pending: list[PointBlock] = []

    def release(final: bool) -> Iterator[PointBlock]:
        nonlocal context, pending
        if not pending:
            return
        raw = np.concatenate([b.values for b in pending])
        k = len(raw) if final else len(raw) - after
        if k <= 0:
            return
        ctx = context if context is not None else raw[:0]
        smoothed = moving_mean(np.concatenate([ctx, raw]), width)[len(ctx):len(ctx) + k]
        first, last = pending[0], pending[-1]
        time = None if first.time is None else np.concatenate([b.time for b in pending])
        labels = None if first.labels is None else np.concatenate([b.labels for b in pending])
        yield PointBlock(smoothed, first.start, first.seq, None if time is None else time[:k],
                         None if labels is None else labels[:k], first.new_sequence)
        context = np.concatenate([ctx, raw[:k]])[-before:]
        pending = [] if k == len(raw) else [PointBlock(raw[k:], first.start + k, last.seq,
                                                       None if time is None else time[k:],
                                                       None if labels is None else labels[k:])]

    for block in blocks:
        if block.new_sequence:
            yield from release(final=True)
            context = None
        pending.append(block)
        yield from release(final=False)
    yield from release(final=True)


def point_values(fn: Callable[[np.ndarray], np.ndarray], source: Source, window: int, stride: int = 1,
                 progress: bool = False, smoothing: int | None = None) -> np.ndarray:
    """`iter_points` (smoothed over `smoothing` points: `smooth_points`) gathered: (T, F') float64 (the result
    must fit in memory; the input need not)."""
    parts = [b.values for b in smooth_points(iter_points(fn, source, window, stride, progress=progress), smoothing)]
    return np.concatenate(parts)


def iter_codes(ae, source: Source, window: int, stride: int = 1, chunk: int | None = None
               ) -> Iterator[tuple[WindowBlock, np.ndarray]]:
    """(windows, their codes ``ae.transform``) for every window, in chunks of `chunk` windows of a sequence
    (as `LSTMAutoencoder.transform_series` cuts an in-memory series: the same numbers)."""
    from .scoring import DEFAULT_CHUNK

    for wb in iter_windows(source, window, stride, block=chunk or DEFAULT_CHUNK):
        yield wb, ae.transform(wb.windows)


# --------------------------------------------------------------------------- detection
class _Events:
    """Events followed across blocks, as `lstmae.scoring.find_events` finds them in memory: runs of flagged
    points, a run at most `gap` unflagged points after the last one joining its event."""

    def __init__(self, error_model, feature_names: list[str], top: int = 3, gap: int = 0) -> None:
        self.error_model, self.names, self.top, self.gap = error_model, feature_names, top, gap
        self.open: dict | None = None
        self.events: list[dict] = []

    def update(self, labels: np.ndarray, scores: np.ndarray, vectors: np.ndarray, keys: np.ndarray,
               first_index: int) -> None:
        """Follow the runs of one block's 0/1 `labels` (the flags of `scores`)."""
        from .metrics import segments

        for s, e in segments(labels):
            if self.open is not None and first_index + s - self.open["end"] > self.gap:
                self.close()
            seg_scores = scores[s:e]
            p = int(np.nanargmax(seg_scores))
            if self.open is None:
                self.open = {"start": first_index + s, "start_key": keys[s], "peak": first_index + s + p,
                             "peak_key": keys[s + p], "peak_score": float(seg_scores[p]),
                             "sum": np.zeros(vectors.shape[1]), "count": np.zeros(vectors.shape[1])}
            elif float(seg_scores[p]) > self.open["peak_score"]:
                self.open.update(peak=first_index + s + p, peak_key=keys[s + p], peak_score=float(seg_scores[p]))
            v = vectors[s:e]
            ok = ~np.isnan(v)
            self.open["sum"] += np.where(ok, v, 0.0).sum(axis=0)
            self.open["count"] += ok.sum(axis=0)
            self.open["end"], self.open["end_key"] = first_index + e, keys[e - 1]

    def close(self) -> None:
        if self.open is None:
            return
        o, self.open = self.open, None
        with np.errstate(invalid="ignore", divide="ignore"):
            mean = o["sum"] / o["count"]
        deviation = (mean - self.error_model.mean_) / self.error_model.scale_
        order = np.argsort(-deviation)[: min(self.top, len(deviation))]
        self.events.append({"start": o["start"], "end": o["end"], "peak": o["peak"], "peak_score": o["peak_score"],
                            "top_features": [self.names[i] for i in order], "start_key": o["start_key"],
                            "end_key": o["end_key"], "peak_key": o["peak_key"]})


def _keys(source: Source, block) -> tuple[str, np.ndarray]:
    """(name, values) of the time key of a block of points: the time column, else ``t`` = the row number
    (``step``, the position in the sequence, for sequences)."""
    name = source.roles.get("time_column")
    if name is not None and block.time is not None:
        return name, np.asarray(block.time)
    return "t", np.arange(block.start, block.start + len(block.values))


class DetectionStream:
    """`LSTMAnomalyDetector.detect_series` on a source, chunk by chunk: ``frames()`` yields the score tables
    (the time key, ``score``, ``anomaly``, ``label`` with labels; ``id`` first for sequences) as
    `lstmae.frames.detection_frames` makes them; afterwards ``events_frame()``, ``n_points``, ``n_flagged``.
    Events are followed across chunks (and end with their sequence). With the detector's
    ``adaptive_threshold`` (and no `threshold` given) each point has its rolling threshold, carried
    across chunks and restarted with each sequence, as `detect_series` gives it."""

    def __init__(self, det, source: Source, threshold: float | None = None, progress: bool = False) -> None:
        self.det, self.source, self.progress = det, source, progress
        if det.series_prepared():
            raise ValueError(det.in_memory_message())
        self.threshold = det.threshold_ if threshold is None else float(threshold)
        self.rolling = threshold is None and det.adaptive_threshold is not None
        self.n_points = self.n_flagged = 0
        self._events = _Events(det.error_model_, det.feature_names_, gap=det.event_gap_points)

    def blocks(self) -> Iterator[tuple[PointBlock, np.ndarray, np.ndarray, np.ndarray]]:
        """(points, error vectors (n, F), scores (n,), 0/1 labels (n,)) block by block."""
        det = self.det
        fn = lambda w: det.autoencoder_.normalized_residuals(w)[0]  # noqa: E731
        blocks = iter_points(fn, self.source, det.window, det.stride, progress=self.progress)
        past = np.empty(0)
        for block in smooth_points(blocks, det.point_smoothing):
            if block.new_sequence:
                self._events.close()
                past = np.empty(0)
            scores = det.error_model_.score(block.values)
            threshold = self.threshold
            if self.rolling:  # each point's own, from the scores before it (this sequence's earlier blocks too)
                threshold = det.point_thresholds(scores, past)
                past = np.concatenate([past, scores])[-det.adaptive_threshold:]
            labels = (scores > threshold).astype(np.int64)
            self._events.update(labels, scores, block.values, _keys(self.source, block)[1], block.start)
            self.n_points += len(scores)
            self.n_flagged += int(labels.sum())
            yield block, block.values, scores, labels
        self._events.close()

    def frames(self) -> Iterator:
        import pandas as pd

        for block, _, scores, labels in self.blocks():
            name, keys = _keys(self.source, block)
            frame = pd.DataFrame({name: keys, "score": scores, "anomaly": labels})
            if block.labels is not None:
                frame["label"] = np.asarray(block.labels)
            if self.source.kind == "sequences":
                frame.insert(0, "id", np.full(len(frame), block.seq, dtype=object))
            yield frame

    @property
    def events(self) -> list[dict]:
        return self._events.events

    def events_frame(self):
        """``start``, ``end`` (first and last point), ``peak`` (as time keys), ``peak_score``, ``points``,
        ``top_features``, as `lstmae.frames.detection_frames` writes them."""
        import pandas as pd

        rows = [{"start": e["start_key"], "end": e["end_key"], "peak": e["peak_key"], "peak_score": e["peak_score"],
                 "points": e["end"] - e["start"], "top_features": ",".join(e["top_features"])} for e in self.events]
        return pd.DataFrame(rows, columns=["start", "end", "peak", "peak_score", "points", "top_features"])


def codes_frames(ae, source: Source, window: int | None = None, stride: int | None = None) -> Iterator:
    """`lstmae.frames.codes_frame` block by block: ``start``, ``end`` (time keys of each window's first and last
    point), ``label`` (at its last point, with labels), ``code_0``...; ``id`` first for sequences."""
    import pandas as pd

    window, stride = ae.series_windowing(window, stride)
    time_name = source.roles.get("time_column")
    for wb, codes in iter_codes(ae, source, window, stride):
        if time_name is not None and wb.start_time is not None:
            start, end = wb.start_time, wb.end_time
        else:
            start, end = wb.rows, wb.rows + window - 1
        keys = pd.DataFrame({"start": start, "end": end})
        if wb.end_label is not None:
            keys["label"] = np.asarray(wb.end_label)
        if source.kind == "sequences":
            keys.insert(0, "id", np.full(len(keys), wb.seq, dtype=object))
        yield keys.join(pd.DataFrame(codes, columns=[f"code_{i}" for i in range(codes.shape[1])]))


def reconstruction_frames(ae, source: Source, window: int | None = None, stride: int | None = None,
                          progress: bool = False) -> Iterator:
    """`lstmae.frames.reconstruction_frame` block by block: the time key, then the features rebuilt (float32)."""
    import pandas as pd

    window, stride = ae.series_windowing(window, stride)
    ae.require_reconstruction("reconstructions")
    for block in iter_points(ae.reconstruct, source, window, stride, progress=progress):
        frame = pd.DataFrame(block.values.astype(np.float32), columns=list(source.feature_names))
        frame.insert(0, *_keys(source, block))
        if source.kind == "sequences":
            frame.insert(0, "id", np.full(len(frame), block.seq, dtype=object))
        yield frame


def write_frames(path: str | os.PathLike, frames: Iterable, rows_per_group: int = OUTPUT_ROWS
                 ) -> tuple[int, list[str]]:
    """Write DataFrames one after another as one table, in bounded memory: Parquet row groups of about
    `rows_per_group` rows (`pyarrow.parquet.ParquetWriter`), or CSV/TSV rows, into a temporary file that replaces
    `path` once complete (`lstmae._atomic.atomic_path`). Returns (rows written, column names)."""
    import pandas as pd

    from ._atomic import atomic_path

    path = Path(path)
    ext = path.suffix.lower()
    if ext not in TABLE_EXTENSIONS:
        raise ValueError(f"-o {path}: a streamed output is written to a .parquet (.pq) or .csv (.tsv) file, not "
                         f"{ext or '(none)'!r}.")
    rows, columns = 0, []

    def grouped() -> Iterator:
        pending, count = [], 0
        for frame in frames:
            pending.append(frame)
            count += len(frame)
            if count >= rows_per_group:
                yield pd.concat(pending, ignore_index=True) if len(pending) > 1 else pending[0]
                pending, count = [], 0
        if pending:
            yield pd.concat(pending, ignore_index=True) if len(pending) > 1 else pending[0]

    with atomic_path(path) as tmp:
        if TABLE_EXTENSIONS[ext] == "parquet":
            import pyarrow as pa
            import pyarrow.parquet as pq

            writer = None
            try:
                for frame in grouped():
                    table = pa.Table.from_pandas(frame, preserve_index=False)
                    if writer is None:
                        writer, columns = pq.ParquetWriter(str(tmp), table.schema), list(frame.columns)
                    elif not table.schema.equals(writer.schema, check_metadata=False):
                        table = table.cast(writer.schema)
                    writer.write_table(table)
                    rows += len(frame)
            finally:
                if writer is not None:
                    writer.close()
        else:
            with open(tmp, "w", encoding="utf-8", newline="") as fh:
                for frame in grouped():
                    frame.to_csv(fh, sep="\t" if ext == ".tsv" else ",", index=False, header=not rows)
                    rows += len(frame)
                    columns = columns or list(frame.columns)
    return rows, columns


# --------------------------------------------------------------------------- detector threshold
@dataclass
class StreamedErrors:
    """The per-point error vectors of a stream, from one inference pass: a seeded uniform `sample`
    (every vector when `complete`; at most `SAMPLE_BYTES`), the exact per-column `mean` and `std`,
    and the exact mean, standard deviation and maximum of each point's mean error."""

    sample: np.ndarray
    complete: bool
    mean: np.ndarray
    std: np.ndarray
    point_mean: float
    point_std: float
    point_max: float


def stream_errors(fn: Callable[[np.ndarray], np.ndarray], source: Source, window: int, stride: int,
                  sample_bytes: int | None = None, smoothing: int | None = None) -> StreamedErrors:
    """What `LSTMAnomalyDetector.refit_threshold_series` needs of a stream's finite error vectors
    (`fn`: windows -> per-window error vectors, as in `iter_points`; smoothed as `smooth_points` does)."""
    F = source.n_features
    cap = max(1024, (sample_bytes or SAMPLE_BYTES) // (8 * F))
    sample, moments, smoments = Reservoir(cap, seed=0), Moments(F), Moments(1)
    for block in smooth_points(iter_points(fn, source, window, stride), smoothing):
        v = block.values[np.isfinite(block.values).all(axis=1)]
        sample.add(v)
        moments.add(v)
        smoments.add(v.mean(axis=1, keepdims=True))
    if moments.n == 0:
        raise ValueError("no finite error vectors of normal data to fit the error model on; give more data.")
    return StreamedErrors(sample.values(), sample.complete, moments.mean, moments.std, float(smoments.mean[0]),
                          float(smoments.std[0]), float(smoments.max[0]))
