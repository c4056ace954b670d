"""Streamed data: series larger than memory, read chunk by chunk, windowed on the fly.

Shape legend: T points of a series (rows of the stream), F features, W window, H horizon,
B batch, S shuffle buffer (windows).

Sources
-------
A *source* is data that is never loaded at once. `open_source` makes one from

- a Parquet file, or a directory of Parquet or CSV/TSV files, read with pyarrow's dataset
  API one row group (Parquet) or block (CSV) at a time (`TableSource`). The files of a
  directory are one stream in natural name order (``part-2`` before ``part-10``); hidden
  files (``.x``, ``_SUCCESS``) are skipped;
- a ``.npy`` file (memory-mapped), an `numpy.memmap`, or any array (`ArraySource`).

Columns play the roles `lstmae.data.tables.read_table` gives them (the same rules, applied
to the first rows): feature columns chosen by name (default: all the others), a time column
(given, or recognised: dates, or an increasing number named ``t``, ``time``, ...), a label
column (carried, never a feature) and an id column (rows of one id form one sequence; the
rows of an id must be contiguous). Unlike `read_table`, a stream is not sorted: its rows must
already be in time order, which is checked chunk by chunk (and across chunks): a row that goes
back in time is an error naming the file, the row group and the row. Missing values are
refused, or filled with ``fill="zero"`` or ``"ffill"`` (carried across chunks; leading
missing values of a sequence take its first value of the chunk); ``"interpolate"`` needs the
whole series and is not available. An unreadable file or row group is an error naming it.

`Source.chunks` yields `Chunk` objects of at most ``chunk_rows`` rows (default 65536)
that know their row number in the stream and their sequence; every consumer below carries the
last points of a chunk over to the next, so windows that span two chunks, two row groups or
two files are produced exactly as `lstmae.data.windows.sliding_windows` cuts the whole series.

What is built on sources
------------------------
`WindowStream`
    Training batches (dicts of tensors, like the in-memory ones: ``{"x": (B, W, F)}``, scaled,
    plus ``"future"`` (B, H, F) for predict/composite), windows of ``window + horizon`` every
    ``stride`` cut on the fly and shuffled with a buffer of at most ``shuffle_buffer``
    windows, seeded by the fit's generator. `lstmae.training.Trainer` iterates it
    (``batches(generator)``, ``len()``). A buffer that holds all the training windows gives
    the in-memory order exactly (the fit is then the in-memory fit); a smaller one shuffles
    blocks of windows into a pool of S windows (tf.data-style). ``part(a, b)`` is a range of
    windows: the validation windows are the last ones, read from the end of the stream by
    seeking (row groups before them are skipped, not read).
`fit_scaler`
    `lstmae.data.scaling.SequenceScaler` in one streaming pass, equal to the in-memory fit on
    the windows (each point weighted by the number of windows that hold it).
`residual_stats`
    `lstmae.scoring.ResidualStats` in one inference pass: exact sums per step position; the
    quantiles from a seeded uniform sample of at most ``SAMPLE_BYTES`` of steps (all of them,
    hence exactly the in-memory result, when they fit).
`iter_points`, `iter_codes`
    Per-point values averaged over the windows that cover each point (the streamed
    `lstmae.scoring.windowed_to_points`: the partial sums of the last points are carried
    between chunks; the same chunks of windows, so the same numbers), and the codes of
    every window.
`DetectionStream`, `codes_frames`, `reconstruction_frames`, `write_frames`
    The command line's streamed outputs: tables of bounded size written one after another
    as Parquet row groups (`pyarrow.parquet.ParquetWriter`) or CSV rows into a temporary file
    renamed at the end. Events (runs of anomalous points) are followed across chunks.

Memory: a chunk, the carried points, the shuffle buffer, the sample, and one output block;
none grows with T (a Parquet row group is read whole by pyarrow: keep them to a few million
rows).
"""
from __future__ import annotations

import bisect
import hashlib
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator, Sequence

import numpy as np

from .scaling import check_scaled

__all__ = [
    "ArraySource", "Chunk", "Source", "TableSource", "WindowStream", "fit_scaler", "is_source", "iter_windows",
    "open_for_spec", "open_source", "read_stream", "should_stream", "window_plan",
]

DEFAULT_CHUNK_ROWS = 1 << 16
"""Rows per chunk read from a source."""
STREAM_BYTES = 1 << 30
"""The command line streams a file larger than this (and a directory) unless told otherwise (``--stream``)."""
SHUFFLE_BYTES = 128 << 20
"""Default shuffle buffer: as many windows as fit in this many bytes (at least one batch)."""
SAMPLE_BYTES = 16 << 20
"""Size of the uniform sample that streamed quantiles (residual statistics, thresholds) are taken from."""
OUTPUT_ROWS = 1 << 17
"""Rows per row group (or CSV write) of a streamed output."""
TABLE_EXTENSIONS = {".parquet": "parquet", ".pq": "parquet", ".csv": "csv", ".tsv": "csv"}
_NUMPY = (".npy",)


def _natural(name: str) -> list:
    return [int(p) if p.isdigit() else p.lower() for p in re.split(r"(\d+)", name)]


def _where_text(path: Path, group: int | None) -> str:
    return f"'{path}'" + (f" row group {group}" if group is not None else "")


# --------------------------------------------------------------------------- chunks
@dataclass
class Chunk:
    """Consecutive rows of a source.

    values : (n, F) float32, finite (missing values filled or refused)
    start : row number of ``values[0]`` in the stream (0-based, over all files)
    where : the file (and row group) it came from, for messages
    time, labels : (n,) values of the time and label columns, or None
    seq : the id of its sequence (None for one series)
    new_sequence : True when a sequence starts at ``values[0]`` (the first chunk read, and a new id)
    """

    values: np.ndarray
    start: int
    where: str
    time: np.ndarray | None = None
    labels: np.ndarray | None = None
    seq: Any = None
    new_sequence: bool = False

    def __len__(self) -> int:
        return len(self.values)


@dataclass
class _Raw:
    """What a reader hands to `Source.chunks` before the checks."""

    values: np.ndarray
    start: int  # row in the stream
    path: Path | None
    group: int | None
    file_row: int  # row in the file of values[0]
    time: np.ndarray | None = None
    labels: np.ndarray | None = None
    ids: np.ndarray | None = None

    @property
    def where(self) -> str:
        return _where_text(self.path, self.group) if self.path is not None else "the array"


class Source:
    """Data read chunk by chunk (see the module docstring); subclasses say how (`_raw`).

    Attributes: ``feature_names`` (F names), ``roles`` (``time_column``, ``id_column``,
    ``label_column``), ``fill``, ``chunk_rows``, ``name`` (for messages); ``len()`` is the
    number of rows T.
    """

    feature_names: list[str]
    roles: dict
    fill: str | None = None
    chunk_rows: int = DEFAULT_CHUNK_ROWS
    name: str = "the stream"

    @property
    def n_features(self) -> int:
        return len(self.feature_names)

    @property
    def kind(self) -> str:
        """"series" (one long series) or "sequences" (an id column groups the rows)."""
        return "sequences" if self.roles.get("id_column") else "series"

    def __len__(self) -> int:  # pragma: no cover - every subclass defines it
        raise NotImplementedError

    def _raw(self, start: int, stop: int) -> Iterator[_Raw]:  # pragma: no cover
        raise NotImplementedError

    def fingerprint(self) -> dict:  # pragma: no cover
        raise NotImplementedError

    def spec(self):
        """The `lstmae.data.spec.DataSpec` this source reads (kind "series", its columns and roles)."""
        from .spec import DataSpec

        return DataSpec(kind="series", feature_names=list(self.feature_names), fill=self.fill, layout="long",
                        **{k: self.roles.get(k) for k in ("time_column", "id_column", "label_column")})

    # ------------------------------------------------------------------ reading
    def chunks(self, start: int = 0, stop: int | None = None) -> Iterator[Chunk]:
        """Chunks of rows ``[start, stop)``, checked: finite values, time order, contiguous ids."""
        stop = len(self) if stop is None else min(int(stop), len(self))
        start = max(0, int(start))
        if start >= stop:
            return
        prev_time, prev_id, carry = None, _NO_ID, None
        seen: set = set()
        first = True
        for raw in self._raw(start, stop):
            if raw.ids is None:
                pieces = [(0, len(raw.values), None, first)]
            else:
                pieces = self._split_ids(raw, prev_id, seen, first)
            for a, b, seq, new in pieces:
                if new:
                    prev_time, carry = None, None
                values = raw.values[a:b]
                time = None if raw.time is None else raw.time[a:b]
                values, carry = self._fill(values, carry, raw, a)
                prev_time = self._check_time(time, prev_time, raw, a)
                if raw.ids is not None:
                    prev_id = seq
                yield Chunk(values, raw.start + a, raw.where, time, None if raw.labels is None else raw.labels[a:b],
                            seq, new)
            first = False

    def _split_ids(self, raw: _Raw, prev_id: Any, seen: set, first: bool) -> list:
        ids = raw.ids
        change = np.flatnonzero(ids[1:] != ids[:-1]) + 1
        bounds = [0, *change.tolist(), len(ids)]
        pieces = []
        for a, b in zip(bounds[:-1], bounds[1:]):
            seq = ids[a].item() if hasattr(ids[a], "item") else ids[a]
            new = first and a == 0 or seq != prev_id
            if new and seq in seen:
                raise ValueError(
                    f"{raw.where}: the rows of id {seq!r} (id column {self.roles['id_column']!r}) are not contiguous "
                    f"(it comes back at row {raw.file_row + a} of the file); a stream reads each sequence in one run: "
                    "sort the data by id (then time)."
                )
            if new:
                seen.add(seq)
            pieces.append((a, b, seq, new))
            prev_id, first = seq, False
        return pieces

    def _fill(self, values: np.ndarray, carry: np.ndarray | None, raw: _Raw, offset: int):
        bad = ~np.isfinite(values)
        if not bad.any():
            return values, (values[-1] if len(values) else carry)
        inf = np.isinf(values)
        if inf.any():
            r, c = np.argwhere(inf)[0]
            raise ValueError(f"{raw.where}: column {self.feature_names[c]!r} holds inf (or a value beyond float32) "
                             f"at row {raw.file_row + offset + int(r)} of the file; fix the data.")
        if self.fill is None:
            from .missing import fill_hint, missing_message

            rows = raw.file_row + offset + np.arange(len(values))
            raise ValueError(f"{raw.where}: {missing_message(bad, self.feature_names, rows)}; {fill_hint('the files')}")
        if self.fill == "zero":
            values = np.where(bad, np.float32(0), values)
        else:
            from .missing import fill_missing

            stacked = values if carry is None else np.concatenate([carry[None], values])
            try:
                filled = fill_missing(stacked, "ffill", names=self.feature_names)
            except ValueError as exc:
                raise ValueError(f"{raw.where}: {exc} (in the first rows of a sequence)") from None
            values = filled if carry is None else filled[1:]
        return values, (values[-1] if len(values) else carry)

    def _check_time(self, time: np.ndarray | None, prev: Any, raw: _Raw, offset: int):
        if time is None or len(time) == 0:
            return prev
        seq = time if prev is None else np.concatenate([np.asarray([prev], dtype=time.dtype), time])
        back = np.flatnonzero(seq[1:] < seq[:-1])
        if back.size:
            i = int(back[0])
            row = raw.file_row + offset + i - (0 if prev is None else 1) + 1
            raise ValueError(
                f"{raw.where}: time column {self.roles['time_column']!r} goes back in time at row {row} of the file "
                f"({seq[i]} then {seq[i + 1]}); a stream is read in file and row order and must already be sorted by "
                "time (sort the data, or read it in memory, which sorts it)."
            )
        return time[-1]

    # ------------------------------------------------------------------ structure
    def sequence_lengths(self) -> list[tuple[Any, int, int]]:
        """(id, first row, length) of every sequence, in stream order; one entry (None, 0, T) for a series."""
        if self.kind == "series":
            return [(None, 0, len(self))]
        cached = getattr(self, "_lengths", None)
        if cached is None:
            cached, current = [], None
            for chunk in self.chunks():
                if chunk.new_sequence:
                    current = [chunk.seq, chunk.start, 0]
                    cached.append(current)
                current[2] += len(chunk)
            cached = [tuple(c) for c in cached]
            self._lengths = cached
        return cached

    def rows(self, start: int, stop: int) -> "Source":
        """Rows ``[start, stop)`` of one series, as a source (its rows numbered from 0)."""
        if self.kind != "series":
            raise ValueError(f"{self.name} holds sequences (id column {self.roles['id_column']!r}); a range of rows "
                             "is taken from one long series.")
        return _RowRange(self, start, stop)

    def tail(self, n: int) -> np.ndarray:
        """The last `n` rows (n, F) float32 (of the last sequence)."""
        total = len(self)
        parts = [c for c in self.chunks(max(0, total - n))]
        if self.kind == "sequences":
            last = max((i for i, c in enumerate(parts) if c.new_sequence), default=0)
            parts = parts[last:]
        return np.concatenate([c.values for c in parts])[-n:] if parts else np.empty((0, self.n_features), np.float32)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.name}, {len(self)} rows, features={self.feature_names})"


_NO_ID = object()


class _RowRange(Source):
    def __init__(self, base: Source, start: int, stop: int) -> None:
        self.base, self.start, self.stop = base, max(0, int(start)), min(int(stop), len(base))
        self.feature_names, self.roles, self.fill = base.feature_names, base.roles, base.fill
        self.chunk_rows, self.name = base.chunk_rows, f"{base.name} rows {self.start}-{self.stop}"

    def __len__(self) -> int:
        return max(0, self.stop - self.start)

    def chunks(self, start: int = 0, stop: int | None = None) -> Iterator[Chunk]:
        stop = len(self) if stop is None else min(int(stop), len(self))
        for c in self.base.chunks(self.start + start, self.start + stop):
            c.start -= self.start
            yield c

    def fingerprint(self) -> dict:
        return {**self.base.fingerprint(), "rows": [self.start, self.stop]}


# --------------------------------------------------------------------------- tables (pyarrow)
class TableSource(Source):
    """A Parquet file, or a directory of Parquet or CSV/TSV files, read with pyarrow's dataset API.

    Parameters as `lstmae.data.tables.read_table` (``columns``, ``time_column``, ``id_column``,
    ``label_column``, ``exclude``, ``fill``; no layouts: rows are time steps), plus
    ``chunk_rows``, the most rows per chunk.
    """

    def __init__(self, path: str | os.PathLike, columns: Sequence[str | int] | None = None, *,
                 time_column: str | int | None = None, id_column: str | int | None = None,
                 label_column: str | int | None = None, exclude: Sequence[str | int] | None = None,
                 fill: str | None = None, chunk_rows: int = DEFAULT_CHUNK_ROWS) -> None:
        import pyarrow as pa
        import pyarrow.dataset as ds

        from .formats import one_line
        from .tables import recognised_label, recognised_time, resolve_column, resolve_roles

        self.path = Path(path)
        self.name = f"'{self.path}'"
        self.chunk_rows = _check_rows(chunk_rows)
        self.fill = _check_fill(fill)
        self.files, self.format = _list_files(self.path)
        if isinstance(columns, (str, int)):
            columns = [columns]
        fmt = self._file_format({})
        try:
            first = ds.dataset(str(self.files[0]), format=fmt)
            schema = first.schema
            sample = next(iter(first.to_batches(batch_size=1000)), None)
        except (pa.ArrowException, OSError, ValueError) as exc:
            raise ValueError(f"could not read '{self.files[0]}' as {self.format}: {one_line(exc)}") from None
        names = [n for n in schema.names if not n.startswith("__index_level_")]
        if not names:
            raise ValueError(f"'{self.files[0]}' has no columns")
        import pandas as pd

        frame = sample.to_pandas() if sample is not None and sample.num_rows else pd.DataFrame(columns=names)
        frame = frame[[c for c in frame.columns if c in names]]
        skip = [*(exclude or []), *(columns or [])]
        src = self.files[0]
        if time_column is None and len(frame):
            time_column = recognised_time(frame, skip)
        if label_column is None and len(frame):
            label_column = recognised_label(frame, skip, time_column)
        self.roles = resolve_roles(names, src, time_column=time_column, id_column=id_column,
                                   label_column=label_column)
        special = {name: role for role, name in self.roles.items() if name is not None}
        if columns is None:
            dropped = {resolve_column(c, names, "excluded column", src) for c in (exclude or [])}
            features = [n for n in names if n not in special and n not in dropped
                        and not re.fullmatch(r"Unnamed: \d+(_level_\d+)?", n)]
        else:
            features = []
            for spec in columns:
                name = resolve_column(spec, names, "column", src)
                if name in special:
                    raise ValueError(f"column {name!r} is the {special[name]}; it cannot also be a feature")
                if name in features:
                    raise ValueError(f"column {name!r} is selected twice in columns=")
                features.append(name)
        if not features:
            raise ValueError(f"'{src}' has no feature columns left besides {list(special)}")
        bad = [f for f in features if not _numeric_type(schema.field(f).type)]
        if bad:
            raise ValueError(f"column {bad[0]!r} in '{src}' is not numeric ({schema.field(bad[0]).type}); choose the "
                             "feature columns with columns=[...]")
        self.feature_names = features
        self._read_columns = features + [n for n in special]
        self._fmt = self._file_format({f: pa.float64() for f in features})
        self._counts: list[list[int]] | None = None  # rows per row group (Parquet) or per file (CSV)
        if self.format == "parquet":
            self._row_counts()

    # ------------------------------------------------------------------ files
    def _file_format(self, types: dict):
        import pyarrow.csv as pcsv
        import pyarrow.dataset as ds

        if self.format == "parquet":
            return "parquet"
        tsv = self.files[0].suffix.lower() == ".tsv"
        return ds.CsvFileFormat(parse_options=pcsv.ParseOptions(delimiter="\t" if tsv else ","),
                                convert_options=pcsv.ConvertOptions(column_types=types))

    def _fragments(self, path: Path):
        import pyarrow.dataset as ds

        return next(iter(ds.dataset(str(path), format=self._fmt).get_fragments()))

    def _row_counts(self) -> list[list[int]]:
        import pyarrow as pa

        from .formats import one_line

        if self._counts is None:
            counts = []
            for path in self.files:
                try:
                    if self.format == "parquet":
                        meta = self._fragments(path).metadata
                        counts.append([meta.row_group(i).num_rows for i in range(meta.num_row_groups)])
                    else:
                        frag = self._fragments(path)
                        counts.append([sum(b.num_rows for b in frag.to_batches(columns=[self.feature_names[0]]))])
                except (pa.ArrowException, OSError, ValueError) as exc:
                    raise ValueError(f"could not read '{path}' as {self.format}: {one_line(exc)}") from None
            self._counts = counts
        return self._counts

    def __len__(self) -> int:
        return int(sum(sum(c) for c in self._row_counts()))

    def fingerprint(self) -> dict:
        files = []
        for path, counts in zip(self.files, self._row_counts()):
            st = path.stat()
            files.append({"path": str(path.resolve()), "size": int(st.st_size), "mtime_ns": int(st.st_mtime_ns),
                          "rows": int(sum(counts))})
        return {"source": "table", "files": files, "features": list(self.feature_names),
                "roles": dict(self.roles), "fill": self.fill}

    # ------------------------------------------------------------------ reading
    def _raw(self, start: int, stop: int) -> Iterator[_Raw]:
        import pyarrow as pa

        from .formats import one_line

        row = 0
        for path, counts in zip(self.files, self._row_counts()):
            file_rows = sum(counts)
            if row + file_rows <= start:
                row += file_rows
                continue
            if row >= stop:
                return
            try:
                frag = self._fragments(path)
                parts = frag.split_by_row_group() if self.format == "parquet" else [frag]
            except (pa.ArrowException, OSError, ValueError) as exc:
                raise ValueError(f"could not read '{path}' as {self.format}: {one_line(exc)}") from None
            file_row = 0
            for g, (part, n) in enumerate(zip(parts, counts if self.format == "parquet" else [file_rows])):
                group = g if self.format == "parquet" else None
                if row + n <= start:
                    row, file_row = row + n, file_row + n
                    continue
                if row >= stop:
                    return
                batches = part.to_batches(columns=self._read_columns, batch_size=self.chunk_rows,
                                          batch_readahead=2, fragment_readahead=1)
                while True:
                    try:
                        batch = next(batches, None)
                    except (pa.ArrowException, OSError, ValueError) as exc:
                        raise ValueError(f"could not read {_where_text(path, group)}: {one_line(exc)}") from None
                    if batch is None:
                        break
                    m = batch.num_rows
                    a, b = max(0, start - row), min(m, stop - row)
                    if b > a:
                        yield self._convert(batch.slice(a, b - a), row + a, path, group, file_row + a)
                    row, file_row = row + m, file_row + m
                    if row >= stop:
                        return

    def _convert(self, batch, start: int, path: Path, group: int | None, file_row: int) -> _Raw:
        import pandas as pd

        from .tables import time_values

        n = batch.num_rows
        values = np.empty((n, len(self.feature_names)), dtype=np.float32)
        for j, name in enumerate(self.feature_names):
            col = batch.column(name)
            values[:, j] = col.to_numpy(zero_copy_only=False) if col.null_count == 0 else \
                col.to_pandas().to_numpy(dtype=np.float64, na_value=np.nan)
        raw = _Raw(values, start, path, group, file_row)
        t, i, lab = self.roles["time_column"], self.roles["id_column"], self.roles["label_column"]
        if t is not None:
            try:
                raw.time = time_values(pd.Series(batch.column(t).to_pandas()), t, path)
            except ValueError as exc:
                raise ValueError(f"{raw.where} (rows from {file_row} of the file): {exc}") from None
        if lab is not None:
            raw.labels = batch.column(lab).to_numpy(zero_copy_only=False)
        if i is not None:
            ids = batch.column(i)
            if ids.null_count:
                raise ValueError(f"{raw.where}: id column {i!r} has missing values; every row needs the id of its "
                                 "sequence")
            raw.ids = ids.to_numpy(zero_copy_only=False)
        return raw


def _numeric_type(t) -> bool:
    import pyarrow as pa

    return pa.types.is_integer(t) or pa.types.is_floating(t) or pa.types.is_boolean(t) or pa.types.is_decimal(t) \
        or pa.types.is_null(t)


def _list_files(path: Path) -> tuple[list[Path], str]:
    if not path.exists():
        raise FileNotFoundError(f"no such file or directory: '{path}'")
    if path.is_file():
        kind = TABLE_EXTENSIONS.get(path.suffix.lower())
        if kind is None:
            raise ValueError(f"cannot stream '{path}': use a Parquet (.parquet, .pq), CSV/TSV (.csv, .tsv) or .npy "
                             "file, or a directory of Parquet or CSV files")
        if path.stat().st_size == 0:
            raise ValueError(f"'{path}' is empty")
        return [path], kind
    files = sorted((p for p in path.iterdir() if p.is_file() and not p.name.startswith((".", "_"))
                    and p.suffix.lower() in TABLE_EXTENSIONS), key=lambda p: _natural(p.name))
    if not files:
        raise ValueError(f"'{path}' holds no Parquet (.parquet, .pq) or CSV (.csv, .tsv) files")
    kinds = {TABLE_EXTENSIONS[p.suffix.lower()] for p in files}
    if len(kinds) > 1:
        raise ValueError(f"'{path}' mixes Parquet and CSV files; a directory stream holds files of one format")
    empty = [p for p in files if p.stat().st_size == 0]
    if empty:
        raise ValueError(f"'{empty[0]}' is empty")
    return files, kinds.pop()


def _check_rows(n: Any) -> int:
    from .._validation import check_int

    return check_int("chunk_rows", n, 1)


def _check_fill(fill: Any) -> str | None:
    if fill not in (None, "zero", "ffill"):
        if fill == "interpolate":
            raise ValueError("fill='interpolate' needs the whole series in memory; a stream takes fill='ffill' or "
                             "'zero' (or None to refuse missing values).")
        from .missing import check_fill_policy

        check_fill_policy(fill)
    return fill


# --------------------------------------------------------------------------- arrays (memory maps)
class ArraySource(Source):
    """A series (T,) or (T, F) in a ``.npy`` file (memory-mapped: ``np.load(path, mmap_mode="r")``), an
    `numpy.memmap`, or any array, read ``chunk_rows`` rows at a time. ``columns``: feature indices
    (or their names ``"0"``, ``"1"``, ...)."""

    def __init__(self, data: Any, columns: Sequence[str | int] | None = None, *, fill: str | None = None,
                 chunk_rows: int = DEFAULT_CHUNK_ROWS) -> None:
        from .formats import one_line

        self.chunk_rows = _check_rows(chunk_rows)
        self.fill = _check_fill(fill)
        self.path = None
        if isinstance(data, (str, os.PathLike)):
            self.path = Path(data)
            if self.path.suffix.lower() != ".npy":
                raise ValueError(f"cannot memory-map '{self.path}': only .npy files can be (save the array with "
                                 "np.save, or use Parquet)")
            if not self.path.exists():
                raise FileNotFoundError(f"no such file: '{self.path}'")
            try:
                data = np.load(self.path, mmap_mode="r", allow_pickle=False)
            except Exception as exc:  # ValueError, OSError, ...
                raise ValueError(f"could not read '{self.path}' as a NumPy .npy file: {one_line(exc)}") from None
        elif getattr(data, "filename", None):
            self.path = Path(data.filename)
        arr = data if isinstance(data, np.ndarray) else np.asarray(data)
        where = f"'{self.path}'" if self.path is not None else "the array"
        self.name = where
        if not (np.issubdtype(arr.dtype, np.number) or arr.dtype == np.bool_):
            raise ValueError(f"{where} holds a {arr.dtype} array; only numeric arrays can be streamed")
        if arr.ndim == 1:
            arr = arr[:, None]
        if arr.ndim != 2:
            raise ValueError(f"{where} holds an array of shape {arr.shape}; a stream reads one series (T,) or (T, F)")
        names = [str(i) for i in range(arr.shape[1])]
        if columns is None:
            self._index = list(range(arr.shape[1]))
        else:
            from .tables import resolve_column

            self._index = [names.index(resolve_column(c, names, "column", Path(str(self.path or "array")))) for c in
                           ([columns] if isinstance(columns, (str, int)) else columns)]
        self.array = arr
        self.feature_names = [names[i] for i in self._index]
        self.roles = {"time_column": None, "id_column": None, "label_column": None}

    def __len__(self) -> int:
        return int(self.array.shape[0])

    def _raw(self, start: int, stop: int) -> Iterator[_Raw]:
        every = self._index == list(range(self.array.shape[1]))
        for a in range(start, stop, self.chunk_rows):
            b = min(stop, a + self.chunk_rows)
            block = self.array[a:b] if every else self.array[a:b][:, self._index]
            yield _Raw(np.array(block, dtype=np.float32), a, self.path, None, a)

    def fingerprint(self) -> dict:
        fp = {"source": "array", "shape": list(self.array.shape), "dtype": str(self.array.dtype),
              "features": list(self.feature_names), "fill": self.fill}
        if self.path is not None:
            st = self.path.stat()
            return {**fp, "path": str(self.path.resolve()), "size": int(st.st_size), "mtime_ns": int(st.st_mtime_ns)}
        digest = hashlib.sha256()
        for a in range(0, len(self), self.chunk_rows):
            digest.update(np.ascontiguousarray(self.array[a:a + self.chunk_rows]).tobytes())
        return {**fp, "sha256": digest.hexdigest()}


# --------------------------------------------------------------------------- opening
def is_source(obj: Any) -> bool:
    """True for what the ``*_series`` methods stream: a `Source`, a path (Parquet file or directory, CSV, .npy),
    or a `numpy.memmap`."""
    return isinstance(obj, (Source, str, os.PathLike, np.memmap))


def open_source(obj: Any, **options: Any) -> Source:
    """A `Source` from a path (Parquet file or directory of Parquet/CSV files: `TableSource`; ``.npy``:
    `ArraySource`, memory-mapped), an `numpy.memmap` or array, or a `Source` (returned as is). `options` go to
    the source (columns, time_column, id_column, label_column, exclude, fill, chunk_rows)."""
    if isinstance(obj, Source):
        return obj
    if isinstance(obj, (str, os.PathLike)):
        path = Path(obj)
        if path.suffix.lower() in _NUMPY:
            roles = {k: v for k, v in options.items() if k in ("time_column", "id_column", "label_column", "exclude")
                     and v}
            if roles:
                raise ValueError(f"'{path}' is a NumPy array, which has no {', '.join(roles)}; choose its features "
                                 "with columns= only")
            return ArraySource(path, options.get("columns"), fill=options.get("fill"),
                               chunk_rows=options.get("chunk_rows", DEFAULT_CHUNK_ROWS))
        return TableSource(path, **options)
    if isinstance(obj, np.ndarray):
        return ArraySource(obj, options.get("columns"), fill=options.get("fill"),
                           chunk_rows=options.get("chunk_rows", DEFAULT_CHUNK_ROWS))
    raise ValueError(f"cannot stream a {type(obj).__name__}; give a path (Parquet file or directory, CSV, .npy), "
                     "a numpy.memmap or a lstmae.data.sources.Source.")


def should_stream(data: str, flag: bool | None) -> bool:
    """The command line's choice: `flag` when given (``--stream`` / ``--no-stream``); otherwise stream a
    directory, and a Parquet, CSV/TSV or .npy file larger than `STREAM_BYTES`."""
    if str(data).startswith("builtin:"):
        if flag:
            raise ValueError("--stream reads files; built-in datasets are read in memory (drop --stream).")
        return False
    if flag is not None:
        return bool(flag)
    path = Path(data)
    if path.is_dir():
        return True
    return path.is_file() and (path.suffix.lower() in TABLE_EXTENSIONS or path.suffix.lower() in _NUMPY) \
        and path.stat().st_size > STREAM_BYTES


def open_for_spec(path: str | os.PathLike, spec=None, *, columns: list[str] | None = None,
                  exclude: list[str] | None = None, chunk_rows: int = DEFAULT_CHUNK_ROWS, **roles: Any) -> Source:
    """`path` as a stream read the way `spec` (a model's `lstmae.data.spec.DataSpec`, or None) says, the given
    `columns` and `roles` (``time_column``, ``id_column``, ``label_column``, ``layout``, ``fill``; None keeps the
    spec's) overriding it, as `lstmae.data.datasets.read_data` does for data read in memory."""
    from .spec import DataSpec

    given = {k: v for k, v in roles.items() if v is not None}
    if given.get("layout", "long") != "long":
        raise ValueError("layout='rows' (one sequence per row) is read in memory; a stream's rows are time steps.")
    spec = (spec or DataSpec()).replace(label_column=None).replace(**given)
    if spec.layout != "long":
        raise ValueError("this model reads data with layout='rows', which is read in memory, not streamed.")
    chosen = list(columns) if columns is not None else (list(spec.feature_names) if spec.feature_names else None)
    options = dict(columns=chosen, time_column=spec.time_column, id_column=spec.id_column,
                   label_column=spec.label_column, exclude=exclude, fill=spec.fill, chunk_rows=chunk_rows)
    if Path(path).suffix.lower() in _NUMPY:
        options = {k: v for k, v in options.items() if k in ("columns", "fill", "chunk_rows")}
    return open_source(path, **options)


class StreamedData:
    """A source standing in for `lstmae.data.containers.SequenceData` on the command line: one long series
    (``kind="series"``) whose ``sequences`` is the `Source`, so ``fit_series`` streams it."""

    kind = "series"
    n_sequences = 1
    labels = time = None

    def __init__(self, source: Source, path: Any) -> None:
        self.sequences, self.source = source, str(path)
        self.feature_names, self.roles = list(source.feature_names), dict(source.roles)


def read_stream(path: str | os.PathLike, spec, read: dict) -> tuple[StreamedData, Any]:
    """The command line's `read_data` for a stream: (StreamedData, the DataSpec it is read with). `read`: the
    read options (``columns`` and ``exclude`` as lists of names, roles, ``layout``, ``fill``)."""
    source = open_for_spec(path, spec, **{k: read.get(k) for k in
                                          ("columns", "exclude", "time_column", "id_column", "label_column", "layout", "fill")})
    if source.kind != "series":
        raise ValueError(f"the command line streams one long series; {path} has an id column "
                         f"({source.roles['id_column']}): stream its sequences from Python (lstmae.data.sources), or "
                         "read it in memory (--no-stream).")
    return StreamedData(source, path), source.spec()


# --------------------------------------------------------------------------- windows
@dataclass
class WindowPlan:
    """Where the windows of a source are: per sequence (first row, length, windows, index of its first window)."""

    span: int
    stride: int
    segments: list[tuple[int, int, int, int]]
    total: int

    def locate(self, k: int) -> tuple[int, int]:
        """(sequence number, row of the first point) of window `k`."""
        firsts = [s[3] for s in self.segments]
        i = bisect.bisect_right(firsts, k) - 1
        while self.segments[i][2] == 0 or k - self.segments[i][3] >= self.segments[i][2]:
            i += 1
        return i, self.segments[i][0] + (k - self.segments[i][3]) * self.stride


def window_plan(source: Source, span: int, stride: int) -> WindowPlan:
    """How many windows of `span` points every `stride` the source holds, and where (no window spans two
    sequences; a sequence shorter than `span` has none)."""
    from .windows import count_windows

    segments, index = [], 0
    lengths = source.sequence_lengths()
    if source.kind == "series":
        try:
            n = count_windows(lengths[0][2], span, stride)
        except ValueError as exc:
            raise ValueError(f"{source.name}: {exc}") from None
        return WindowPlan(span, stride, [(0, lengths[0][2], n, 0)], n)
    for _, first, length in lengths:
        n = (length - span) // stride + 1 if length >= span else 0
        segments.append((first, length, n, index))
        index += n
    if index == 0:
        raise ValueError(f"{source.name}: no sequence has the {span} points one window needs; use a smaller window.")
    return WindowPlan(span, stride, segments, index)


class WindowBuffer:
    """The points of one sequence not yet used up: values (and time, labels), and the local position
    (in the sequence, or since the reading started) and stream row of the first one."""

    def __init__(self, n_features: int) -> None:
        self.values = np.empty((0, n_features), np.float32)
        self.time = self.labels = None
        self.local0 = self.row0 = 0
        self.seq = None

    def reset(self, row: int) -> None:
        self.values = self.values[:0]
        self.time = None if self.time is None else self.time[:0]
        self.labels = None if self.labels is None else self.labels[:0]
        self.local0, self.row0 = 0, row

    @property
    def end(self) -> int:
        return self.local0 + len(self.values)

    def append(self, values: np.ndarray, time, labels, skip_to: int | None = None) -> None:
        if skip_to is not None and not len(self.values) and skip_to > self.local0:
            k = min(skip_to - self.local0, len(values))
            values, self.local0, self.row0 = values[k:], self.local0 + k, self.row0 + k
            time = None if time is None else time[k:]
            labels = None if labels is None else labels[k:]
        self.values = np.concatenate([self.values, values]) if len(self.values) else values
        if time is not None:
            self.time = np.concatenate([self.time, time]) if self.time is not None and len(self.time) else time
        if labels is not None:
            self.labels = np.concatenate([self.labels, labels]) if self.labels is not None and len(self.labels) \
                else labels

    def drop_to(self, local: int) -> None:
        k = max(0, min(local - self.local0, len(self.values)))
        if k:
            self.values = self.values[k:]
            self.time = None if self.time is None else self.time[k:]
            self.labels = None if self.labels is None else self.labels[k:]
            self.local0, self.row0 = self.local0 + k, self.row0 + k


@dataclass
class WindowBlock:
    """Consecutive windows of one sequence: ``windows`` (m, span, F) float32 (C-contiguous), ``index`` of the first
    in the whole stream, ``rows`` (m,) the stream row of each window's first point, ``seq`` the sequence's id,
    and (when the source has them) ``start_time`` / ``end_time`` (m,) of their first and last point
    (``end`` = ``window`` - 1 steps later) and ``end_label`` (m,) the label at their last point."""

    windows: np.ndarray
    index: int
    rows: np.ndarray
    seq: Any = None
    start_time: np.ndarray | None = None
    end_time: np.ndarray | None = None
    end_label: np.ndarray | None = None


def iter_windows(source: Source, span: int, stride: int = 1, *, block: int = 4096, first: int = 0,
                 stop: int | None = None, transform: Callable[[np.ndarray, str], np.ndarray] | None = None,
                 window: int | None = None, plan: WindowPlan | None = None) -> Iterator[WindowBlock]:
    """Windows ``first`` to ``stop`` of `span` points every `stride`, in order, in blocks of `block` windows
    of one sequence (fewer at a sequence's end). The points are carried across chunks, so the windows are
    those of `lstmae.data.windows.sliding_windows` on each whole sequence. `transform(values, where)` maps
    the points first (e.g. scaling); `window` is where a window's last point is for ``end_time`` /
    ``end_label`` (default `span`)."""
    plan = plan or window_plan(source, span, stride)
    stop = plan.total if stop is None else min(int(stop), plan.total)
    if first >= stop:
        return
    end_off = (window or span) - 1
    _, start_row = plan.locate(first)
    _, last_row = plan.locate(stop - 1)
    buf = WindowBuffer(source.n_features)
    index, next_local = first, 0
    need = (block - 1) * stride + span
    for chunk in source.chunks(start_row, last_row + span):
        if chunk.new_sequence:
            for out in _cut(buf, next_local, span, stride, end_off, index, stop, block, final=True):
                index += len(out.windows)
                yield out
            buf.reset(chunk.start)
            next_local = 0
        values = chunk.values if transform is None else transform(chunk.values, chunk.where)
        buf.append(values, chunk.time, chunk.labels, skip_to=next_local)
        buf.seq = chunk.seq
        while index < stop and buf.end - next_local >= need:
            out = next(_cut(buf, next_local, span, stride, end_off, index, stop, block, final=False))
            index += len(out.windows)
            next_local += len(out.windows) * stride
            buf.drop_to(next_local)
            yield out
        if index >= stop:
            return
    for out in _cut(buf, next_local, span, stride, end_off, index, stop, block, final=True):
        index += len(out.windows)
        yield out


def _cut(buf: WindowBuffer, next_local: int, span: int, stride: int, end_off: int, index: int, stop: int, block: int,
         final: bool) -> Iterator[WindowBlock]:
    """Blocks of windows starting at `next_local` from the buffer: one full block, or (final) all that fit."""
    from numpy.lib.stride_tricks import sliding_window_view

    avail = buf.end - next_local
    n = (avail - span) // stride + 1 if avail >= span else 0
    n = min(n, stop - index)
    if not final:
        n = min(n, block)
    off = next_local - buf.local0
    done = 0
    while done < n:
        m = min(block, n - done)
        a = off + done * stride
        views = sliding_window_view(buf.values[a: a + (m - 1) * stride + span], span, axis=0)[::stride]
        starts = a + np.arange(m) * stride
        out = WindowBlock(views.transpose(0, 2, 1).copy(), index + done, buf.row0 + starts, buf.seq)
        if buf.time is not None:
            out.start_time, out.end_time = buf.time[starts], buf.time[starts + end_off]
        if buf.labels is not None:
            out.end_label = buf.labels[starts + end_off]
        done += m
        yield out


class _Queue:
    """Tensors of windows in, batches of exactly `size` out (the last one shorter); only the pieces of one
    batch are ever concatenated, so a large tensor pushed in is not copied whole."""

    def __init__(self, size: int) -> None:
        from collections import deque

        self.size, self.parts, self.count = size, deque(), 0

    def _take(self, k: int):
        import torch

        pieces, need = [], k
        while need:
            head = self.parts[0]
            if len(head) <= need:
                pieces.append(self.parts.popleft())
                need -= len(head)
            else:
                pieces.append(head[:need])
                self.parts[0], need = head[need:], 0
        self.count -= k
        return pieces[0] if len(pieces) == 1 else torch.cat(pieces)

    def push(self, t) -> Iterator:
        if len(t):
            self.parts.append(t)
            self.count += len(t)
        while self.count >= self.size:
            yield self._take(self.size)

    def flush(self) -> Iterator:
        if self.count:
            yield self._take(self.count)


def default_shuffle_buffer(span: int, n_features: int, batch_size: int) -> int:
    """Windows in `SHUFFLE_BYTES` (float32), at least one batch."""
    return max(int(batch_size), SHUFFLE_BYTES // max(1, span * n_features * 4))


class WindowStream:
    """Training batches cut from a source on the fly (see the module docstring).

    Parameters
    ----------
    source : Source
    window, stride, horizon : windowing: ``window + horizon`` points every `stride`; the last
        `horizon` points of each are the ``"future"`` targets
    scaler : lstmae.data.scaling.SequenceScaler or None
        Applied to the points (as the in-memory path scales the windows); None: raw values.
    batch_size : int
    shuffle_buffer : int or None
        Most windows held to shuffle; None: `default_shuffle_buffer` (128 MiB of windows).
    bce : bool
        Refuse scaled values outside [0, 1] (loss "bce").
    first, stop : the range of windows (``part`` makes one)
    """

    def __init__(self, source: Source, window: int, stride: int = 1, horizon: int = 0, scaler=None,
                 batch_size: int = 32, *, shuffle_buffer: int | None = None, bce: bool = False, first: int = 0,
                 stop: int | None = None, plan: WindowPlan | None = None) -> None:
        from .._validation import check_int

        self.source, self.window, self.stride, self.horizon = source, int(window), int(stride), int(horizon)
        self.scaler, self.batch_size, self.bce = scaler, int(batch_size), bce
        self.plan = plan or window_plan(source, self.window + self.horizon, self.stride)
        self.first = int(first)
        self.stop = self.plan.total if stop is None else int(stop)
        span = self.window + self.horizon
        self.shuffle_buffer = (default_shuffle_buffer(span, source.n_features, batch_size) if shuffle_buffer is None
                               else check_int("shuffle_buffer", shuffle_buffer, 1))
        self._cache = None

    def __len__(self) -> int:
        return max(0, self.stop - self.first)

    @property
    def total(self) -> int:
        return self.plan.total

    def part(self, first: int, stop: int) -> "WindowStream":
        """Windows ``first`` to ``stop`` (of the whole stream) as a stream of their own."""
        return WindowStream(self.source, self.window, self.stride, self.horizon, self.scaler, self.batch_size,
                            shuffle_buffer=self.shuffle_buffer, bce=self.bce, first=first, stop=stop, plan=self.plan)

    def fingerprint(self, n_val: int) -> dict:
        """What a checkpoint records of the training data: the files (paths, sizes, mtimes, rows), the columns,
        the windowing and the validation size (instead of a hash of the tensors)."""
        return {"stream": self.source.fingerprint(), "window": self.window, "stride": self.stride,
                "horizon": self.horizon, "windows": self.total, "n_val": int(n_val)}

    # ------------------------------------------------------------------ batches
    def _scale(self, values: np.ndarray, where: str) -> np.ndarray:
        if self.scaler is None:
            return values
        x = self.scaler.transform(values)
        check_scaled(x, self.scaler, where)
        if self.bce and len(x) and (float(x.min()) < 0.0 or float(x.max()) > 1.0):
            raise ValueError(f"loss='bce' needs data in [0, 1] after scaling, but {where} spans "
                             f"[{float(x.min()):.3g}, {float(x.max()):.3g}] with scale={self.scaler.method!r}; use "
                             "scale='minmax' (or None for data already in [0, 1]) or another loss.")
        return x

    def _dict(self, w):
        import torch

        w = torch.from_numpy(w) if isinstance(w, np.ndarray) else w
        if not self.horizon:
            return {"x": w}
        return {"x": w[:, : self.window].contiguous(), "future": w[:, self.window:].contiguous()}

    def window_blocks(self, size: int = 4096) -> Iterator[WindowBlock]:
        """The (scaled) windows in order, in blocks of one sequence."""
        return iter_windows(self.source, self.window + self.horizon, self.stride, block=size, first=self.first,
                            stop=self.stop, transform=self._scale, window=self.window, plan=self.plan)

    def blocks(self, size: int) -> Iterator[dict]:
        """Batch dicts of exactly `size` consecutive windows (the last one shorter), in order."""
        import torch

        queue = _Queue(size)
        for wb in self.window_blocks(max(size, min(4096, (4096 // size) * size or size))):
            yield from (self._dict(t) for t in queue.push(torch.from_numpy(wb.windows)))
        yield from (self._dict(t) for t in queue.flush())

    def batches(self, generator=None) -> Iterator[dict]:
        """Batches of ``batch_size`` windows: in order without `generator`, else shuffled with it."""
        if generator is None:
            yield from self.blocks(self.batch_size)
            return
        n = len(self)
        if n <= self.shuffle_buffer:  # all the windows fit: the in-memory order (and batches) exactly
            import torch

            from ..training import iter_batches

            if self._cache is None:
                self._cache = next(self.blocks(n))
            yield from iter_batches(self._cache, self.batch_size, torch.randperm(n, generator=generator))
            return
        yield from self._shuffled(generator)

    def _shuffled(self, generator) -> Iterator[dict]:
        import torch

        size = self.shuffle_buffer
        queue = _Queue(self.batch_size)
        pool, filled = None, 0
        for wb in self.window_blocks(min(size, 4096)):
            block = torch.from_numpy(wb.windows)
            if pool is None:
                pool = torch.empty((size, *block.shape[1:]), dtype=block.dtype)
            take = min(size - filled, len(block))
            if take:
                pool[filled: filled + take] = block[:take]
                filled += take
            rest = block[take:]
            if len(rest):
                slots = torch.randperm(size, generator=generator)[: len(rest)]
                out = pool[slots]
                pool[slots] = rest
                for t in queue.push(out):
                    yield self._dict(t)
        if pool is not None and filled:  # the rest of the pool, in random order, a block at a time
            rest = torch.randperm(filled, generator=generator)
            for a in range(0, filled, 4096):
                for t in queue.push(pool[rest[a: a + 4096]]):
                    yield self._dict(t)
        for t in queue.flush():
            yield self._dict(t)


# --------------------------------------------------------------------------- statistics
def _coverage(local: np.ndarray, window: int, stride: int, n_windows: int) -> np.ndarray:
    """How many of the `n_windows` windows (starts k * stride, `window` points) cover each local position."""
    last = np.minimum(local // stride, n_windows - 1)
    first = np.maximum(0, -((window - 1 - local) // stride))
    return np.maximum(last - first + 1, 0)


def fit_scaler(source: Source, window: int, stride: int, horizon: int, method: str | None, plan=None):
    """`SequenceScaler` of the windows' inputs (the first `window` of every ``window + horizon`` points every
    `stride`) in one pass over the source: each point weighted by the windows holding it, as the in-memory fit
    on the windows."""
    from .scaling import SequenceScaler

    if method is None:
        return SequenceScaler.fit_chunks(iter(()), None, source.n_features)
    plan = plan or window_plan(source, window + horizon, stride)

    def weighted():
        seg, seg_row = -1, 0
        for chunk in source.chunks():
            if chunk.new_sequence:
                seg, seg_row = seg + 1, chunk.start
            n_windows = plan.segments[seg][2]
            if n_windows == 0:
                continue
            local = chunk.start - seg_row + np.arange(len(chunk))
            yield chunk.values, _coverage(local, window, stride, n_windows)

    return SequenceScaler.fit_chunks(weighted(), method, source.n_features)


class Reservoir:
    """A uniform random sample of at most `capacity` rows of a stream (Vitter's algorithm R, vectorised),
    seeded; while all the rows fit, all of them in arrival order (``complete``)."""

    def __init__(self, capacity: int, seed: int = 0) -> None:
        self.capacity, self.seen, self.rows = int(capacity), 0, None
        self.rng = np.random.default_rng(seed)

    @property
    def complete(self) -> bool:
        return self.seen <= self.capacity

    def add(self, rows: np.ndarray) -> None:
        m = len(rows)
        if not m:
            return
        held = min(self.seen, self.capacity)
        if self.rows is None or (held + m > len(self.rows) and len(self.rows) < self.capacity):
            size = min(self.capacity, max(held + m, 2 * (0 if self.rows is None else len(self.rows)), 1024))
            grown = np.empty((size, *rows.shape[1:]), rows.dtype)
            if self.rows is not None:
                grown[:held] = self.rows[:held]
            self.rows = grown
        take = min(self.capacity - held, m)
        if take:
            self.rows[held: held + take] = rows[:take]
        rest = rows[take:]
        if len(rest):
            index = self.seen + take + np.arange(len(rest))
            slot = self.rng.integers(0, index + 1)
            keep = np.flatnonzero(slot < self.capacity)
            slot = slot[keep]
            # a later row replaces an earlier one drawn for the same slot, as one by one
            last = len(slot) - 1 - np.unique(slot[::-1], return_index=True)[1]
            self.rows[slot[last]] = rest[keep[last]]
        self.seen += m

    def values(self) -> np.ndarray:
        if self.rows is None:
            return np.empty((0,))
        return self.rows[: min(self.seen, self.capacity)]


class Moments:
    """Running mean and variance (float64, merged chunk by chunk: Chan et al.), min and max of (n, F) rows."""

    def __init__(self, n_features: int) -> None:
        self.n, self.mean, self.m2 = 0, np.zeros(n_features), np.zeros(n_features)
        self.max = np.full(n_features, -np.inf)

    def add(self, rows: np.ndarray) -> None:
        if not len(rows):
            return
        v = rows.astype(np.float64, copy=False)
        m, mean = len(v), v.mean(axis=0)
        m2 = ((v - mean) ** 2).sum(axis=0)
        total = self.n + m
        delta = mean - self.mean
        self.mean = self.mean + delta * (m / total)
        self.m2 = self.m2 + m2 + delta**2 * (self.n * m / total)
        self.n = total
        self.max = np.maximum(self.max, v.max(axis=0))

    @property
    def std(self) -> np.ndarray:
        return np.sqrt(self.m2 / max(self.n, 1))
