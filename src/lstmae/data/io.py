"""Read and write tables of sequences: CSV / TSV / TXT, Parquet, NumPy ``.npy`` / ``.npz``.

Shape legend
------------
T : time steps of one long series
N : number of sequences
L : length of a sequence (``L_i`` when lengths differ)
F : number of features

Layouts understood by :func:`read_table`
----------------------------------------
``layout="long"`` (default), no ``id_column``
    One long multivariate series: rows are time steps, columns are features,
    ``sequences`` is a ``(T, F)`` float32 array (``kind="series"``). A
    ``time_column`` sorts the rows (stable) and is not a feature.
``layout="long"`` with ``id_column``
    Rows are grouped by id into variable-length sequences (``kind="sequences"``,
    a list of ``(L_i, F)`` arrays) in order of first appearance; within a group
    rows are sorted by ``time_column`` if given. Id and time are not features.
``layout="rows"``
    One univariate sequence per row (the UCR archive layout): columns are time
    steps, ``sequences`` is a list of ``(L_i, 1)`` arrays. Trailing empty cells
    end a shorter sequence; an empty cell inside a row is a missing value.

A 3-D ``.npy`` / ``.npz`` array is read as ``(N, L, F)`` sequences whatever the
layout; time steps at the end of a sequence where every feature is NaN are
padding and make it shorter.

Missing values (NaN, empty cells) raise a ValueError unless ``fill`` is one of
``"ffill"``, ``"interpolate"``, ``"zero"`` (see :func:`lstmae.data.windows.fill_missing`);
they are filled per sequence, never across sequence boundaries. Row numbers in
messages are 0-based data rows (the header is not counted), in file order.
"""

from __future__ import annotations

import csv
import os
import re
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd

from lstmae._atomic import atomic_path
from lstmae.data.windows import _check_policy, _fill_hint, _missing_message, fill_missing

__all__ = [
    "READ_EXTENSIONS",
    "WRITE_EXTENSIONS",
    "SequenceData",
    "read_table",
    "write_table",
]

READ_EXTENSIONS: dict[str, str] = {
    ".csv": "csv",
    ".tsv": "csv",
    ".txt": "csv",
    ".parquet": "parquet",
    ".pq": "parquet",
    ".npy": "npy",
    ".npz": "npz",
}
"""File extensions :func:`read_table` understands, and the reader each one selects."""

WRITE_EXTENSIONS: tuple[str, ...] = (".csv", ".tsv", ".parquet", ".pq", ".npy")
"""File extensions :func:`write_table` can write."""

ColumnSpec = str | int
_UNNAMED = re.compile(r"Unnamed: \d+(_level_\d+)?")
Layout = Literal["long", "rows"]


# --------------------------------------------------------------------------- result
@dataclass
class SequenceData:
    """Sequences read from a file (or a built-in dataset), ready for windowing or fitting.

    Attributes
    ----------
    sequences : numpy.ndarray of shape (T, F), or list of numpy.ndarray of shape (L_i, F)
        float32. One long series (``kind="series"``) or a list of sequences
        (``kind="sequences"``), possibly of different lengths.
    feature_names : list of str
        ``F`` names, one per feature column (``["value"]`` for ``layout="rows"``).
    ids : list or None
        One id per sequence (``id_column`` values, in order of first appearance).
    time : numpy.ndarray of shape (T,), list of arrays of shape (L_i,), or None
        The sorted ``time_column`` (numbers or ``datetime64``) for a series, or
        one array per sequence.
    kind : {"series", "sequences"}
    labels : numpy.ndarray or None
        ``(T,)`` per-step labels for a series, ``(N,)`` one label per sequence.
    source : str or None
        The file the data came from.
    """

    sequences: np.ndarray | list[np.ndarray]
    feature_names: list[str]
    ids: list[Any] | None = None
    time: np.ndarray | list[np.ndarray] | None = None
    kind: Literal["series", "sequences"] = "series"
    labels: np.ndarray | None = None
    source: str | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        if self.kind not in ("series", "sequences"):
            raise ValueError(f"kind must be 'series' or 'sequences', got {self.kind!r}")
        if self.kind == "series":
            if not isinstance(self.sequences, np.ndarray) or self.sequences.ndim != 2:
                raise ValueError("a 'series' holds one (T, F) array")
        elif isinstance(self.sequences, np.ndarray):
            raise ValueError("'sequences' holds a list of (L_i, F) arrays")
        widths = {s.shape[1] for s in self._list()}
        if widths and widths != {len(self.feature_names)}:
            raise ValueError(
                f"{len(self.feature_names)} feature names for sequences with {sorted(widths)} features"
            )

    def _list(self) -> list[np.ndarray]:
        if isinstance(self.sequences, np.ndarray):
            return [self.sequences]
        return list(self.sequences)

    @property
    def n_features(self) -> int:
        """Number of features ``F``."""
        return len(self.feature_names)

    @property
    def n_sequences(self) -> int:
        """Number of sequences ``N`` (1 for a series)."""
        return len(self._list())

    @property
    def lengths(self) -> np.ndarray:
        """Length of every sequence, shape ``(N,)``."""
        return np.array([len(s) for s in self._list()], dtype=np.int64)

    def as_array(self) -> np.ndarray:
        """All sequences stacked into one ``(N, L, F)`` float32 array.

        A series gives ``(1, T, F)`` (a view). Sequences must all have the same
        length; otherwise a ValueError says so (cut them into windows with
        :func:`lstmae.data.windows.sliding_windows`, or pass the list itself to
        the estimators, which accept variable-length sequences).
        """
        if isinstance(self.sequences, np.ndarray):
            return self.sequences[None]
        if not self.sequences:
            return np.empty((0, 0, self.n_features), dtype=np.float32)
        lengths = self.lengths
        if lengths.min() != lengths.max():
            raise ValueError(
                f"the {len(lengths)} sequences have different lengths (from {lengths.min()} "
                f"to {lengths.max()}), they cannot form one (N, L, F) array; use the list "
                "`.sequences` (variable-length input) or cut windows with sliding_windows"
            )
        return np.stack(self.sequences)


# --------------------------------------------------------------------------- errors
def _one_line(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    return " ".join(text.split())


def _columns_text(names: Sequence[str], limit: int = 20) -> str:
    shown = ", ".join(repr(n) for n in names[:limit])
    return shown + (f", ... ({len(names)} in all)" if len(names) > limit else "")


# --------------------------------------------------------------------------- CSV
def _is_number(token: str) -> bool:
    token = token.strip().strip('"').strip("'")
    if token == "":
        return True  # an empty cell says nothing about a header
    try:
        float(token)
    except ValueError:
        return token.lower() in ("nan", "na", "inf", "-inf", "+inf")
    return True


def _sniff(lines: list[str]) -> str:
    """Pick the delimiter that splits every sample line into the same number (> 1) of fields."""
    for delim in ("\t", ";", "|", ","):
        counts = {len(row) for row in csv.reader(lines, delimiter=delim)}
        if len(counts) == 1 and counts.pop() > 1:
            return delim
    ws = [len(line.split()) for line in lines]
    if min(ws) > 1 and not any(d in line for line in lines for d in ("\t", ";", "|", ",")):
        return r"\s+"  # whitespace-separated, possibly ragged (UCR .txt files)
    if all(len(next(csv.reader([line]))) == 1 for line in lines):
        return ","  # a single column
    # Inconsistent lines: take the most frequent candidate and let the parser complain.
    return max(("\t", ";", "|", ","), key=lambda d: sum(line.count(d) for line in lines))


def _read_csv(path: Path, header: bool | None) -> pd.DataFrame:
    with open(path, "rb") as fh:
        sample = fh.read(1 << 16)
        truncated = bool(fh.read(1))
    if not sample.strip():
        raise ValueError(f"'{path}' is empty")
    try:
        text = sample.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        if truncated and exc.start >= len(sample) - 4:  # a character cut by the sample
            text = sample[: exc.start].decode("utf-8-sig")
        else:
            raise ValueError(
                f"'{path}' is not UTF-8 text (byte {sample[exc.start]:#04x} at offset "
                f"{exc.start}); is it really a {path.suffix} table? Re-save it as UTF-8 CSV"
            ) from None
    lines = [line for line in text.splitlines() if line.strip()]
    if truncated and len(lines) > 1:
        lines = lines[:-1]  # the last sampled line may be cut
    lines = lines[:50]
    sep = "\t" if path.suffix.lower() == ".tsv" else _sniff(lines)
    if header is None:
        header = not all(_is_number(tok) for tok in _split(lines[0], sep))
    # index_col=False: never turn a surplus first field into the index (silently shifting
    # every column); pandas warns instead, and we refuse unless the surplus is a trailing
    # delimiter.
    kwargs: dict[str, Any] = dict(
        sep=sep, header=0 if header else None, encoding="utf-8-sig", engine="c", index_col=False
    )
    if sep != r"\s+":
        kwargs["skipinitialspace"] = True
    try:
        try:
            df, warned = _read_csv_checked(path, kwargs)
        except pd.errors.ParserError:
            if header:
                raise
            # A file without header whose rows have different lengths (UCR files of
            # unequal length): name as many columns as the longest row has fields.
            kwargs["names"] = list(range(_max_fields(path, sep)))
            df, warned = _read_csv_checked(path, kwargs)
    except pd.errors.EmptyDataError:
        raise ValueError(f"'{path}' is empty") from None
    except UnicodeDecodeError as exc:
        raise ValueError(
            f"'{path}' is not UTF-8 text ({_one_line(exc)}); re-save it as UTF-8"
        ) from None
    except (pd.errors.ParserError, ValueError) as exc:
        raise ValueError(f"could not parse '{path}' as a table: {_one_line(exc)}") from None
    if warned and not _trailing_delimiters(lines, sep, df.shape[1]):
        raise ValueError(
            f"could not parse '{path}' as a table: some rows have more fields than the "
            f"{df.shape[1]} column names of the header; fix those rows or check the delimiter"
        )
    if not header:
        df.columns = [str(i) for i in range(df.shape[1])]
    else:
        df.columns = [str(c).strip() for c in df.columns]
    return df


def _read_csv_checked(path: Path, kwargs: dict[str, Any]) -> tuple[pd.DataFrame, bool]:
    """read_csv; also report whether pandas warned that rows were longer than the header."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", pd.errors.ParserWarning)
        df = pd.read_csv(path, **kwargs)
    warned = any(issubclass(w.category, pd.errors.ParserWarning) for w in caught)
    return df, warned


def _split(line: str, sep: str) -> list[str]:
    return line.split() if sep == r"\s+" else next(csv.reader([line], delimiter=sep), [])


def _max_fields(path: Path, sep: str) -> int:
    with open(path, encoding="utf-8-sig", errors="replace") as fh:
        return max((len(_split(line, sep)) for line in fh if line.strip()), default=1)


def _trailing_delimiters(lines: list[str], sep: str, n_columns: int) -> bool:
    """True if the sampled rows longer than the header only end with an empty field."""
    for line in lines[1:]:
        fields = _split(line, sep)
        if len(fields) > n_columns and (
            len(fields) > n_columns + 1 or fields[-1].strip() != ""
        ):
            return False
    return True


# --------------------------------------------------------------------------- Parquet / NumPy
def _read_parquet(path: Path) -> pd.DataFrame:
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        df = pq.read_table(path).to_pandas()
    except (pa.ArrowException, OSError, ValueError) as exc:
        raise ValueError(f"could not read '{path}' as Parquet: {_one_line(exc)}") from None
    # A DataFrame saved with a meaningful index (e.g. df.set_index("time").to_parquet())
    # gets it back as columns, so that time_column / id_column can name it.
    if any(name is not None for name in df.index.names):
        df = df.reset_index()
    return df


def _read_numpy(path: Path, kind: str, key: str | None) -> tuple[np.ndarray, np.ndarray | None]:
    """Return (array, labels-or-None) from a .npy or .npz file."""
    labels = None

    def fail(exc: BaseException) -> ValueError:
        return ValueError(
            f"could not read '{path}' as a NumPy {path.suffix} file: {_one_line(exc)}"
        )

    if kind == "npy":
        try:
            arr = np.load(path, allow_pickle=False)
        except Exception as exc:  # ValueError, EOFError, OSError, UnpicklingError, ...
            raise fail(exc) from None
    else:
        try:
            npz = np.load(path, allow_pickle=False)
        except Exception as exc:  # BadZipFile, OSError, ...
            raise fail(exc) from None
        with npz:
            keys = list(npz.files)
            if key is not None:
                if key not in keys:
                    raise ValueError(f"'{path}' has no array {key!r}; it holds {_columns_text(keys)}")
                chosen = key
            elif len(keys) == 1:
                chosen = keys[0]
            elif "X" in keys:
                chosen = "X"
            else:
                raise ValueError(
                    f"'{path}' holds several arrays ({_columns_text(keys)}) and none is called "
                    "'X'; choose one with key=..."
                )
            try:
                arr = npz[chosen]
                if chosen == "X" and "y" in keys:
                    labels = npz["y"]
            except Exception as exc:  # truncated member, pickled object array, ...
                raise fail(exc) from None
    if not (np.issubdtype(arr.dtype, np.number) or arr.dtype == np.bool_):
        raise ValueError(f"'{path}' holds a {arr.dtype} array; only numeric arrays can be read")
    if arr.ndim == 0 or arr.ndim > 3:
        raise ValueError(
            f"'{path}' holds an array of shape {arr.shape}; expected (T,), (T, F) or (N, L, F)"
        )
    if arr.shape[0] == 0:
        raise ValueError(f"'{path}' holds an array of shape {arr.shape}: it has no data rows")
    return arr, labels


# --------------------------------------------------------------------------- columns
def _resolve(spec: ColumnSpec, names: list[str], role: str, path: Path) -> str:
    if isinstance(spec, (int, np.integer)) and not isinstance(spec, bool):
        if not -len(names) <= spec < len(names):
            raise ValueError(
                f"{role} index {spec} is out of range: '{path}' has {len(names)} columns "
                f"({_columns_text(names)})"
            )
        return names[int(spec)]
    spec = str(spec)
    if spec not in names:
        stripped = {n.strip(): n for n in names}
        if spec.strip() in stripped:
            return stripped[spec.strip()]
        raise ValueError(
            f"{role} {spec!r} not found in '{path}'; available columns: {_columns_text(names)}"
        )
    return spec


def _time_values(col: pd.Series, name: str, path: Path) -> np.ndarray:
    if pd.api.types.is_bool_dtype(col) or not (
        pd.api.types.is_numeric_dtype(col) or pd.api.types.is_datetime64_any_dtype(col)
    ):
        parsed = None
        for fmt in ("ISO8601", None):
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", UserWarning)  # "could not infer format"
                    parsed = pd.to_datetime(col, format=fmt)
                break
            except (ValueError, TypeError, OverflowError):
                continue
        if parsed is None:
            raise ValueError(
                f"time column {name!r} in '{path}' holds values that are neither numbers nor "
                f"dates (e.g. {col.iloc[0]!r}); pass time_column=None or fix the column"
            )
        col = parsed
    if isinstance(col.dtype, pd.DatetimeTZDtype):
        col = col.dt.tz_convert("UTC").dt.tz_localize(None)
    missing = col.isna().to_numpy()
    if missing.any():
        raise ValueError(
            f"time column {name!r} in '{path}' has {int(missing.sum())} missing values "
            f"(first at row {int(np.argmax(missing))}); rows without a time cannot be ordered"
        )
    return col.to_numpy()


def _feature_matrix(df: pd.DataFrame, features: list[str], path: Path) -> np.ndarray:
    bad = [
        c
        for c in features
        if not (pd.api.types.is_numeric_dtype(df[c]) or pd.api.types.is_bool_dtype(df[c]))
    ]
    if bad:
        c = bad[0]
        col = df[c]
        coerced = pd.to_numeric(col, errors="coerce")
        junk = np.flatnonzero((coerced.isna() & col.notna()).to_numpy())
        where = f" of column {c!r}" if len(bad) > 1 else ""
        example = f" (e.g. {col.iloc[junk[0]]!r} at row {junk[0]}{where})" if len(junk) else ""
        if len(junk) and re.fullmatch(r"\s*[-+]?\d+,\d+\s*", str(col.iloc[junk[0]])):
            example += "; numbers must use '.' as decimal point, not ','"
        numeric = [f for f in features if f not in bad]
        also = f"; numeric columns: {_columns_text(numeric)}" if numeric else ""
        noun = "column" if len(bad) == 1 else "columns"
        verb = "is" if len(bad) == 1 else "are"
        raise ValueError(
            f"{noun} {_columns_text(bad)} in '{path}' {verb} not numeric{example}; choose the "
            f"feature columns with columns=[...]{also}"
        )
    try:
        X = df[features].to_numpy(dtype=np.float32, na_value=np.nan)
    except (TypeError, ValueError) as exc:  # pragma: no cover - exotic extension dtypes
        raise ValueError(f"could not convert the columns of '{path}' to numbers: {_one_line(exc)}") from None
    # pandas may hand out a read-only view of its own block (copy-on-write): the
    # sequences we return must be ordinary, writeable arrays.
    return X if X.flags.writeable else X.copy()


# --------------------------------------------------------------------------- read
def read_table(
    path: str | os.PathLike[str],
    columns: Sequence[ColumnSpec] | None = None,
    time_column: ColumnSpec | None = None,
    id_column: ColumnSpec | None = None,
    layout: Layout = "long",
    fill: Literal["ffill", "interpolate", "zero"] | None = None,
    *,
    label_column: ColumnSpec | None = None,
    header: bool | None = None,
    key: str | None = None,
) -> SequenceData:
    """Read sequences from a CSV/TSV/TXT, Parquet, ``.npy`` or ``.npz`` file.

    Parameters
    ----------
    path : str or PathLike
        The file; its extension picks the reader (see ``READ_EXTENSIONS``).
        Text files are read as UTF-8; the delimiter (comma, tab, semicolon, pipe
        or whitespace) is detected from the first lines.
    columns : sequence of str or int, optional
        Feature columns, by name or 0-based position; default: every column that
        is not the time, id or label column and has a name (the unnamed index
        column that ``DataFrame.to_csv`` writes is skipped). For ``.npy``/``.npz``
        files the columns are named ``"0"``, ``"1"``, ... (integers select them too).
    time_column : str or int, optional
        Column used to sort rows (stable sort; numbers or dates); not a feature.
    id_column : str or int, optional
        ``layout="long"``: column whose values group rows into sequences.
        ``layout="rows"``: one id per row. Not a feature.
    layout : {"long", "rows"}, default "long"
        See the module docstring.
    fill : {None, "ffill", "interpolate", "zero"}, default None
        Missing-value policy; ``None`` raises a ValueError that counts the missing
        values and gives the first row and column.
    label_column : str or int, optional
        Column of labels, not a feature: per time step for one series (``(T,)``),
        per sequence otherwise (``(N,)``; it must be constant within a sequence).
        For UCR files (class label first, no header) pass ``label_column=0``.
    header : bool, optional
        Text files only: whether the first line holds column names. Default:
        detected: a first line made only of numbers (or empty cells) is data, so
        pass ``header=True`` for a header of numeric names such as years. Columns
        of a file without header are named ``"0"``, ``"1"``, ...
    key : str, optional
        ``.npz`` only: the array to read. Default: the only array, else ``"X"``
        (and then ``"y"``, if present with a matching length, becomes ``labels``).

    Returns
    -------
    SequenceData
        ``kind="series"`` with a ``(T, F)`` float32 array, or ``kind="sequences"``
        with a list of ``(L_i, F)`` float32 arrays.

    Raises
    ------
    FileNotFoundError
        If ``path`` does not exist.
    ValueError
        One line naming the file and the problem: unsupported extension, empty,
        truncated or unparsable file, no data rows, unknown column (the message
        lists the available ones), non-numeric feature columns, missing values
        with ``fill=None``, bad layout/argument combinations.

    Examples
    --------
    >>> data = read_table("sensors.csv", time_column="timestamp")        # doctest: +SKIP
    >>> data.sequences.shape                                              # doctest: +SKIP
    (10000, 3)
    >>> trips = read_table("trips.parquet", id_column="trip", time_column="t")  # doctest: +SKIP
    >>> ucr = read_table("GunPoint_TRAIN.tsv", layout="rows", label_column=0)   # doctest: +SKIP
    """
    path = Path(path)
    ext = path.suffix.lower()
    if ext not in READ_EXTENSIONS:
        raise ValueError(
            f"cannot read '{path}': unsupported extension {path.suffix or '(none)'!r}; "
            f"supported: {', '.join(READ_EXTENSIONS)}"
        )
    if layout not in ("long", "rows"):
        raise ValueError(f"layout must be 'long' or 'rows', got {layout!r}")
    _check_policy(fill)
    if layout == "rows" and time_column is not None:
        raise ValueError(
            "layout='rows' takes no time_column: each row is one sequence and its columns "
            "are the time steps"
        )
    if isinstance(columns, (str, int)):
        columns = [columns]
    if not path.exists():
        raise FileNotFoundError(f"no such file: '{path}'")
    if path.is_dir():
        raise ValueError(f"'{path}' is a directory, not a file")
    if path.stat().st_size == 0:
        raise ValueError(f"'{path}' is empty")

    reader = READ_EXTENSIONS[ext]
    file_labels = None
    if reader == "csv":
        df = _read_csv(path, header)
    elif reader == "parquet":
        df = _read_parquet(path)
    else:
        arr, file_labels = _read_numpy(path, reader, key)
        if arr.ndim == 3:
            if time_column is not None or id_column is not None or label_column is not None:
                raise ValueError(
                    f"'{path}' holds a 3-D (N, L, F) array, which has no time, id or label "
                    "columns; pass only columns= (feature indices) and fill="
                )
            return _from_3d(arr, columns, fill, path, file_labels)
        if arr.ndim == 1:
            arr = arr[:, None]
        df = pd.DataFrame(arr, columns=[str(i) for i in range(arr.shape[1])], copy=False)

    if df.shape[0] == 0:
        raise ValueError(f"'{path}' has column names but no data rows")
    if df.shape[1] == 0:
        raise ValueError(f"'{path}' has no columns")
    data = _from_frame(df, path, columns, time_column, id_column, label_column, layout, fill)
    if file_labels is not None and data.labels is None:
        if len(file_labels) == (len(data.sequences) if data.kind == "series" else data.n_sequences):
            data.labels = np.asarray(file_labels)
    return data


def _from_frame(
    df: pd.DataFrame,
    path: Path,
    columns: Sequence[ColumnSpec] | None,
    time_column: ColumnSpec | None,
    id_column: ColumnSpec | None,
    label_column: ColumnSpec | None,
    layout: Layout,
    fill: str | None,
) -> SequenceData:
    df.columns = [str(c) for c in df.columns]
    names = list(df.columns)
    special: dict[str, str] = {}
    for role, spec in (("time_column", time_column), ("id_column", id_column), ("label_column", label_column)):
        if spec is None:
            continue
        name = _resolve(spec, names, role, path)
        if name in special:
            raise ValueError(f"column {name!r} cannot be both {special[name]} and {role}")
        special[name] = role
    time_name = next((n for n, r in special.items() if r == "time_column"), None)
    id_name = next((n for n, r in special.items() if r == "id_column"), None)
    label_name = next((n for n, r in special.items() if r == "label_column"), None)

    if columns is None:
        # Columns without a name in the header (pandas calls them "Unnamed: i"; e.g. the
        # index that DataFrame.to_csv writes) are not features unless selected.
        features = [n for n in names if n not in special and not _UNNAMED.fullmatch(n)]
    else:
        features = []
        for spec in columns:
            name = _resolve(spec, names, "column", path)
            if name in special:
                raise ValueError(
                    f"column {name!r} is the {special[name]}; it cannot also be a feature"
                )
            if name in features:
                raise ValueError(f"column {name!r} is selected twice in columns=")
            features.append(name)
    if not features:
        raise ValueError(f"'{path}' has no feature columns left besides {_columns_text(list(special))}")

    X = _feature_matrix(df, features, path)
    labels = df[label_name].to_numpy() if label_name is not None else None
    source = str(path)

    if layout == "rows":
        return _rows_layout(X, df, path, id_name, labels, fill, source)

    mask = np.isnan(X)
    if fill is None and mask.any():
        raise ValueError(
            f"'{path}': {_missing_message(mask, features)}; {_fill_hint('the file')}"
        )
    times = _time_values(df[time_name], time_name, path) if time_name is not None else None

    if id_name is None:
        if times is not None and len(times) > 1 and not bool(np.all(times[1:] >= times[:-1])):
            order = np.argsort(times, kind="stable")
            X, times = X[order], times[order]
            labels = labels[order] if labels is not None else None
        if fill is not None:
            X = fill_missing(X, fill, names=features)  # type: ignore[arg-type]
        return SequenceData(X, features, None, times, "series", labels, source)

    id_col = df[id_name]
    if id_col.isna().any():
        first = int(np.argmax(id_col.isna().to_numpy()))
        raise ValueError(
            f"id column {id_name!r} in '{path}' has {int(id_col.isna().sum())} missing values "
            f"(first at row {first}); every row needs the id of its sequence"
        )
    codes, uniques = pd.factorize(id_col, sort=False)
    order = np.lexsort((times, codes)) if times is not None else np.argsort(codes, kind="stable")
    codes_sorted = codes[order]
    X = X[order]
    bounds = np.flatnonzero(np.diff(codes_sorted)) + 1
    sequences = np.split(X, bounds)
    if fill is not None:
        sequences = [fill_missing(s, fill, names=features) for s in sequences]  # type: ignore[arg-type]
    time_list = np.split(times[order], bounds) if times is not None else None
    seq_labels = None
    if labels is not None:
        lab = labels[order]
        starts = np.concatenate([[0], bounds])
        same_group = codes_sorted[1:] == codes_sorted[:-1]
        changed = same_group & (pd.Series(lab[1:]).ne(pd.Series(lab[:-1])).to_numpy())
        if changed.any():
            bad_id = np.asarray(uniques)[codes_sorted[1:][changed][0]].item()
            raise ValueError(
                f"label column {label_name!r} changes within sequence {bad_id!r}; per-sequence "
                "labels must be constant within a sequence"
            )
        seq_labels = lab[starts]
    ids = list(np.asarray(uniques).tolist())
    return SequenceData(sequences, features, ids, time_list, "sequences", seq_labels, source)


def _rows_layout(
    X: np.ndarray,
    df: pd.DataFrame,
    path: Path,
    id_name: str | None,
    labels: np.ndarray | None,
    fill: str | None,
    source: str,
) -> SequenceData:
    n_rows, n_steps = X.shape
    present = ~np.isnan(X)
    lengths = n_steps - np.argmax(present[:, ::-1], axis=1)
    empty = np.flatnonzero(~present.any(axis=1))
    if len(empty):
        raise ValueError(
            f"'{path}': {len(empty)} rows hold no values (first: row {int(empty[0])}); "
            "remove them or the columns they are empty in"
        )
    gaps = ~present & (np.arange(n_steps)[None, :] < lengths[:, None])
    if gaps.any():
        rows = np.flatnonzero(gaps.any(axis=1))
        if fill is None:
            first_row = int(rows[0])
            step = int(np.argmax(gaps[first_row]))
            raise ValueError(
                f"'{path}': {int(gaps.sum())} missing values inside {len(rows)} rows (first at row "
                f"{first_row}, step {step}); trailing empty cells end a shorter sequence, but an "
                f"empty cell inside a row is a missing value: {_fill_hint('the file')}"
            )
        for r in rows:
            X[r, : lengths[r]] = fill_missing(X[r, : lengths[r]], fill)  # type: ignore[arg-type]
    sequences = [X[r, : lengths[r], None] for r in range(n_rows)]
    ids = df[id_name].tolist() if id_name is not None else None
    return SequenceData(sequences, ["value"], ids, None, "sequences", labels, source)


def _from_3d(
    arr: np.ndarray,
    columns: Sequence[ColumnSpec] | None,
    fill: str | None,
    path: Path,
    labels: np.ndarray | None,
) -> SequenceData:
    names = [str(i) for i in range(arr.shape[2])]
    if columns is not None:
        idx = [names.index(_resolve(c, names, "column", path)) for c in columns]
        arr = arr[:, :, idx]
        names = [names[i] for i in idx]
    X = np.asarray(arr, dtype=np.float32)
    n, L, _ = X.shape
    present = ~np.isnan(X).all(axis=2)  # (N, L): steps with at least one value
    lengths = L - np.argmax(present[:, ::-1], axis=1)
    lengths[~present.any(axis=1)] = 0
    if (lengths == 0).any():
        raise ValueError(
            f"'{path}': sequence {int(np.argmax(lengths == 0))} holds only missing values"
        )
    sequences = [X[i, : lengths[i]] for i in range(n)]
    for i, s in enumerate(sequences):
        mask = np.isnan(s)
        if mask.any():
            if fill is None:
                raise ValueError(
                    f"'{path}': sequence {i}: {_missing_message(mask, names)}; {_fill_hint('the file')}"
                )
            sequences[i] = fill_missing(s, fill, names=names)  # type: ignore[arg-type]
    if labels is not None and len(labels) != n:
        labels = None
    return SequenceData(sequences, names, None, None, "sequences", labels, str(path))


# --------------------------------------------------------------------------- write
def _default_names(names: Sequence[Any]) -> bool:
    return [str(c) for c in names] == [str(i) for i in range(len(names))]


def write_table(
    path: str | os.PathLike[str],
    data: np.ndarray | pd.DataFrame,
    columns: Sequence[str] | None = None,
) -> Path:
    """Write a table atomically to CSV, TSV, Parquet or ``.npy`` (chosen by the extension).

    Parameters
    ----------
    path : str or PathLike
        Target file; parent directories are created. The data go to a temporary
        file in the same directory that replaces ``path`` only once complete, so
        a failed write leaves any previous file intact.
    data : numpy.ndarray of shape (T,) or (T, F), or pandas.DataFrame
        The table. ``.npy`` accepts an array of any shape. A DataFrame's named
        index is written as a column.
    columns : sequence of str, optional
        For an array: the ``F`` column names (default ``"0"``, ``"1"``, ...,
        written to CSV without a header line, which :func:`read_table` reads back
        with the same names). For a DataFrame: the columns to write, in order.
        Ignored for ``.npy``.

    Returns
    -------
    pathlib.Path
        ``path``.

    Raises
    ------
    ValueError
        For an unsupported extension, a >2-D array for CSV/Parquet, or a wrong
        number of column names.
    """
    path = Path(path)
    ext = path.suffix.lower()
    if ext not in WRITE_EXTENSIONS:
        raise ValueError(
            f"cannot write '{path}': unsupported extension {path.suffix or '(none)'!r}; "
            f"supported: {', '.join(WRITE_EXTENSIONS)}"
        )
    if ext == ".npy":
        arr = data.to_numpy() if isinstance(data, pd.DataFrame) else np.asarray(data)
        if arr.dtype == object:
            raise ValueError("cannot write an object array to .npy; use .csv or .parquet")
        with atomic_path(path) as tmp:
            np.save(tmp, arr, allow_pickle=False)
        return path

    if isinstance(data, pd.DataFrame):
        df = data
        if df.index.name is not None or any(n is not None for n in df.index.names[1:]):
            df = df.reset_index()
        if columns is not None:
            missing = [c for c in columns if c not in df.columns]
            if missing:
                raise ValueError(
                    f"columns {missing} are not in the DataFrame; it has {_columns_text([str(c) for c in df.columns])}"
                )
            df = df[list(columns)]
    else:
        arr = np.asarray(data)
        if arr.ndim == 1:
            arr = arr[:, None]
        if arr.ndim != 2:
            raise ValueError(
                f"{ext} files hold 2-D tables, got an array of shape {arr.shape}; reshape it to "
                "(N*L, F) with an id column, or save it as .npy"
            )
        if columns is not None and len(columns) != arr.shape[1]:
            raise ValueError(f"{len(columns)} column names for {arr.shape[1]} columns")
        df = pd.DataFrame(arr, columns=list(columns) if columns is not None else None, copy=False)
    header = not _default_names(list(df.columns))
    df = df.set_axis([str(c) for c in df.columns], axis=1)

    with atomic_path(path) as tmp:
        if ext in (".csv", ".tsv"):
            df.to_csv(tmp, sep="\t" if ext == ".tsv" else ",", index=False, header=header)
        else:
            df.to_parquet(tmp, index=False, engine="pyarrow")
    return path
