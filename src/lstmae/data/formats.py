"""File formats: read one file into a pandas DataFrame or a NumPy array, write a table back.

``.csv`` ``.tsv`` ``.txt``
    :func:`read_csv_frame`: a DataFrame; UTF-8, delimiter and header detected
    from the first lines.
``.parquet`` ``.pq``
    :func:`read_parquet_frame`: a DataFrame; a named index comes back as columns.
``.npy`` ``.npz``
    :func:`read_numpy_array`: a numeric array (T,), (T, F) or (N, L, F), and the
    labels an ``.npz`` may hold.

:func:`write_table` writes CSV, TSV, Parquet or ``.npy`` atomically. Turning what
a reader gives into sequences (column roles, layouts, missing values) is
:func:`lstmae.data.tables.read_table`'s job.

Every problem with a file is one ValueError naming the file.
"""

from __future__ import annotations

import csv
import os
import warnings
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from lstmae._atomic import atomic_path

__all__ = [
    "READ_EXTENSIONS",
    "WRITE_EXTENSIONS",
    "check_extension",
    "columns_text",
    "one_line",
    "read_csv_frame",
    "read_numpy_array",
    "read_parquet_frame",
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
"""File extensions :func:`lstmae.data.tables.read_table` understands, and the reader each one selects."""

WRITE_EXTENSIONS: tuple[str, ...] = (".csv", ".tsv", ".parquet", ".pq", ".npy")
"""File extensions :func:`write_table` can write."""


# --------------------------------------------------------------------------- messages
def one_line(exc: BaseException) -> str:
    """The message of ``exc`` on one line (whitespace collapsed), or its type name if empty."""
    text = str(exc).strip() or type(exc).__name__
    return " ".join(text.split())


def columns_text(names: Sequence[str], limit: int = 20) -> str:
    """``'a', 'b', ...`` for a message: the first ``limit`` names, then how many in all."""
    shown = ", ".join(repr(n) for n in names[:limit])
    return shown + (f", ... ({len(names)} in all)" if len(names) > limit else "")


def check_extension(path: Path, supported: Iterable[str], action: str) -> str:
    """The lower-case extension of ``path`` if it is ``supported``, else a ValueError listing them.

    ``action`` ("read", "write") starts the message: ``cannot read 'x.xlsx': ...``.
    """
    ext = path.suffix.lower()
    if ext not in supported:
        raise ValueError(
            f"cannot {action} '{path}': unsupported extension {path.suffix or '(none)'!r}; "
            f"supported: {', '.join(supported)}"
        )
    return ext

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


def read_csv_frame(path: str | os.PathLike[str], header: bool | None = None) -> pd.DataFrame:
    """Read a CSV / TSV / TXT file as UTF-8 into a DataFrame with string column names.

    The delimiter (tab for ``.tsv``; otherwise tab, semicolon, pipe, comma or
    whitespace) is detected from the first lines. ``header=None`` detects the
    header too: a first line made only of numbers (or empty cells) is data, and
    the columns of a file without header are named ``"0"``, ``"1"``, ... Rows of
    different lengths without header (UCR files) are padded with NaN; a row longer
    than the header is refused unless the surplus is one trailing delimiter.
    """
    path = Path(path)
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
            f"'{path}' is not UTF-8 text ({one_line(exc)}); re-save it as UTF-8"
        ) from None
    except (pd.errors.ParserError, ValueError) as exc:
        raise ValueError(f"could not parse '{path}' as a table: {one_line(exc)}") from None
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
def read_parquet_frame(path: str | os.PathLike[str]) -> pd.DataFrame:
    """Read a Parquet file into a DataFrame; a named index comes back as columns."""
    path = Path(path)
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        df = pq.read_table(path).to_pandas()
    except (pa.ArrowException, OSError, ValueError) as exc:
        raise ValueError(f"could not read '{path}' as Parquet: {one_line(exc)}") from None
    # A DataFrame saved with a meaningful index (e.g. df.set_index("time").to_parquet())
    # gets it back as columns, so that time_column / id_column can name it.
    if any(name is not None for name in df.index.names):
        df = df.reset_index()
    return df


def read_numpy_array(
    path: str | os.PathLike[str], key: str | None = None
) -> tuple[np.ndarray, np.ndarray | None]:
    """Return (array, labels-or-None) from a .npy or .npz file.

    The array is numeric, of shape (T,), (T, F) or (N, L, F), with at least one row.
    ``.npz`` only: ``key`` chooses the array; default the only one, else ``"X"``
    (with ``"y"``, if present, as the labels).
    """
    path = Path(path)
    labels = None

    def fail(exc: BaseException) -> ValueError:
        return ValueError(
            f"could not read '{path}' as a NumPy {path.suffix} file: {one_line(exc)}"
        )

    if path.suffix.lower() != ".npz":
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
                    raise ValueError(f"'{path}' has no array {key!r}; it holds {columns_text(keys)}")
                chosen = key
            elif len(keys) == 1:
                chosen = keys[0]
            elif "X" in keys:
                chosen = "X"
            else:
                raise ValueError(
                    f"'{path}' holds several arrays ({columns_text(keys)}) and none is called "
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
        written to CSV without a header line, which :func:`lstmae.data.tables.read_table` reads back
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
    ext = check_extension(path, WRITE_EXTENSIONS, "write")
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
                    f"columns {missing} are not in the DataFrame; it has {columns_text([str(c) for c in df.columns])}"
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
