"""Read a table of sequences (CSV / TSV / TXT, Parquet, NumPy ``.npy`` / ``.npz``) into :class:`SequenceData`.

Shapes: T time steps of one long series, N sequences, L_i the length of
sequence i, F features (the legend of :mod:`lstmae.data.containers`).

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
``"ffill"``, ``"interpolate"``, ``"zero"`` (see :func:`lstmae.data.missing.fill_missing`);
they are filled per sequence, never across sequence boundaries. Row numbers in
messages are 0-based data rows (the header is not counted), in file order.

The file formats themselves (delimiter and header sniffing, Parquet, NumPy) are
:mod:`lstmae.data.formats`; :func:`lstmae.data.formats.write_table` writes tables back.
"""

from __future__ import annotations

import os
import re
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd

from lstmae.data.containers import SequenceData
from lstmae.data.formats import (
    READ_EXTENSIONS,
    check_extension,
    columns_text,
    one_line,
    read_csv_frame,
    read_numpy_array,
    read_parquet_frame,
)
from lstmae.data.missing import check_fill_policy, fill_hint, fill_missing, missing_message

__all__ = ["read_table"]

ColumnSpec = str | int
_UNNAMED = re.compile(r"Unnamed: \d+(_level_\d+)?")
Layout = Literal["long", "rows"]


# --------------------------------------------------------------------------- columns
def resolve_column(spec: ColumnSpec, names: list[str], role: str, path: Path) -> str:
    if isinstance(spec, (int, np.integer)) and not isinstance(spec, bool):
        if not -len(names) <= spec < len(names):
            raise ValueError(
                f"{role} index {spec} is out of range: '{path}' has {len(names)} columns "
                f"({columns_text(names)})"
            )
        return names[int(spec)]
    spec = str(spec)
    if spec not in names:
        stripped = {n.strip(): n for n in names}
        if spec.strip() in stripped:
            return stripped[spec.strip()]
        param = {"column": "columns", "excluded column": "exclude"}.get(role, role)
        raise ValueError(
            f"{role} {spec!r} not found in '{path}' ({param}={spec!r}); available columns: {columns_text(names)}"
        )
    return spec


def time_values(col: pd.Series, name: str, path: Path) -> np.ndarray:
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
        also = f"; numeric columns: {columns_text(numeric)}" if numeric else ""
        noun = "column" if len(bad) == 1 else "columns"
        verb = "is" if len(bad) == 1 else "are"
        raise ValueError(
            f"{noun} {columns_text(bad)} in '{path}' {verb} not numeric{example}; choose the "
            f"feature columns with columns=[...]{also}"
        )
    try:
        X = df[features].to_numpy(dtype=np.float32, na_value=np.nan)
    except (TypeError, ValueError) as exc:  # pragma: no cover - exotic extension dtypes
        raise ValueError(f"could not convert the columns of '{path}' to numbers: {one_line(exc)}") from None
    # pandas may hand out a read-only view of its own block (copy-on-write): the
    # sequences we return must be ordinary, writeable arrays.
    return X if X.flags.writeable else X.copy()


# --------------------------------------------------------------------------- roles
TIME_NAMES = ("t", "time", "timestamp", "date", "datetime", "ds")
LABEL_NAMES = ("label", "labels", "anomaly", "is_anomaly")


def _parses_as_dates(col: pd.Series) -> bool:
    sample = col.dropna().head(50)
    if sample.empty or not (pd.api.types.is_object_dtype(sample) or pd.api.types.is_string_dtype(sample)):
        return False
    if not sample.map(lambda v: isinstance(v, str) and any(ch.isdigit() for ch in v)).all():
        return False
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            pd.to_datetime(sample, format="ISO8601")
    except (ValueError, TypeError, OverflowError):
        return False
    return True


def recognised_time(df: pd.DataFrame, exclude: Sequence[ColumnSpec] | None) -> str | None:
    """The column that is obviously a time axis (dates, or an increasing column named like time), or None."""
    skip = {str(c) for c in (exclude or [])}
    dates = [str(c) for c in df.columns if str(c) not in skip and (
        pd.api.types.is_datetime64_any_dtype(df[c]) or _parses_as_dates(df[c]))]
    if len(dates) == 1:
        return dates[0]
    if dates:
        return None  # several date columns: the user must say which
    for c in df.columns:
        col = df[c]
        if str(c).strip().lower() in TIME_NAMES and str(c) not in skip and pd.api.types.is_numeric_dtype(col) \
                and not pd.api.types.is_bool_dtype(col) and col.notna().all() and col.is_monotonic_increasing:
            return str(c)
    return None


def recognised_label(df: pd.DataFrame, exclude: Sequence[ColumnSpec] | None, time_column) -> str | None:
    """A 0/1 column named like labels (label, anomaly, ...), or None."""
    skip = {str(c) for c in (exclude or [])} | {str(time_column)}
    for c in df.columns:
        if str(c).strip().lower() in LABEL_NAMES and str(c) not in skip:
            values = set(pd.unique(df[c].dropna()).tolist())
            if values <= {0, 1, True, False}:
                return str(c)
    return None


def resolve_roles(names: list[str], path: Path, **specs: ColumnSpec | None) -> dict[str, str | None]:
    """The columns named by ``time_column``, ``id_column``, ``label_column`` (names or positions),
    each resolved against `names`; one column cannot play two roles."""
    roles: dict[str, str | None] = {}
    for role in ("time_column", "id_column", "label_column"):
        spec = specs.get(role)
        name = None if spec is None else resolve_column(spec, names, role, path)
        taken = next((r for r, n in roles.items() if n is not None and n == name), None)
        if taken is not None:
            raise ValueError(f"column {name!r} cannot be both {taken} and {role}")
        roles[role] = name
    return roles


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
    exclude: Sequence[ColumnSpec] | None = None,
    header: bool | None = None,
    key: str | None = None,
) -> SequenceData:
    """Read sequences from a CSV/TSV/TXT, Parquet, ``.npy`` or ``.npz`` file.

    Parameters
    ----------
    path : str or PathLike
        The file; its extension picks the reader (see :data:`lstmae.data.formats.READ_EXTENSIONS`).
        Text files are read as UTF-8; the delimiter (comma, tab, semicolon, pipe
        or whitespace) is detected from the first lines.
    columns : sequence of str or int, optional
        Feature columns, by name or 0-based position; default: every column that
        is not the time, id or label column and has a name (the unnamed index
        column that ``DataFrame.to_csv`` writes is skipped). For ``.npy``/``.npz``
        files the columns are named ``"0"``, ``"1"``, ... (integers select them too).
    time_column : str or int, optional
        Column used to sort rows (stable sort; numbers or dates); not a feature. When
        omitted (and `columns` is not given), a column of dates (a datetime column, or
        text that parses as timestamps such as ISO 8601) is recognised as the time
        column, and so is an increasing numeric column named ``t``, ``time``,
        ``timestamp``, ``date``, ``datetime`` or ``ds``: a time axis is never a feature.
        ``roles`` of the result says which columns played which role.
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
        For UCR files (class label first, no header) pass ``label_column=0``. When
        omitted, a 0/1 column (not chosen in `columns`) named ``label``, ``labels``,
        ``anomaly`` or ``is_anomaly`` is recognised as the label column: labels are
        carried, never trained on.
    exclude : sequence of str or int, optional
        Columns that are not features (with the default `columns`).
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
    ext = check_extension(path, READ_EXTENSIONS, "read")
    if layout not in ("long", "rows"):
        raise ValueError(f"layout must be 'long' or 'rows', got {layout!r}")
    check_fill_policy(fill)
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
        df = read_csv_frame(path, header)
    elif reader == "parquet":
        df = read_parquet_frame(path)
    else:
        arr, file_labels = read_numpy_array(path, key)
        if arr.ndim == 3:
            if time_column is not None or id_column is not None or label_column is not None:
                raise ValueError(
                    f"'{path}' holds a 3-D (N, L, F) array, which has no time, id or label "
                    "columns; pass only columns= (feature indices) and fill="
                )
            if exclude:
                raise ValueError(f"'{path}' holds a 3-D (N, L, F) array; choose its features with columns=, not exclude=")
            return _from_3d(arr, columns, fill, path, file_labels)
        if arr.ndim == 1:
            arr = arr[:, None]
        df = pd.DataFrame(arr, columns=[str(i) for i in range(arr.shape[1])], copy=False)

    if df.shape[0] == 0:
        raise ValueError(f"'{path}' has column names but no data rows")
    if df.shape[1] == 0:
        raise ValueError(f"'{path}' has no columns")
    if layout == "long":  # recognise the obvious roles among the columns not chosen as features
        skip = [*(exclude or []), *(columns or [])]
        time_column = time_column if time_column is not None else recognised_time(df, skip)
        label_column = label_column if label_column is not None else recognised_label(df, skip, time_column)
    data = _from_frame(df, path, columns, time_column, id_column, label_column, layout, fill, exclude)
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
    exclude: Sequence[ColumnSpec] | None = None,
) -> SequenceData:
    df.columns = [str(c) for c in df.columns]
    names = list(df.columns)
    roles = resolve_roles(names, path, time_column=time_column, id_column=id_column, label_column=label_column)
    special = {name: role for role, name in roles.items() if name is not None}
    time_name, id_name, label_name = roles["time_column"], roles["id_column"], roles["label_column"]

    if columns is None:
        # Columns without a name in the header (pandas calls them "Unnamed: i"; e.g. the
        # index that DataFrame.to_csv writes) are not features unless selected.
        dropped = {resolve_column(c, names, "excluded column", path) for c in (exclude or [])}
        features = [n for n in names if n not in special and n not in dropped and not _UNNAMED.fullmatch(n)]
    else:
        features = []
        for spec in columns:
            name = resolve_column(spec, names, "column", path)
            if name in special:
                raise ValueError(
                    f"column {name!r} is the {special[name]}; it cannot also be a feature"
                )
            if name in features:
                raise ValueError(f"column {name!r} is selected twice in columns=")
            features.append(name)
    if not features:
        raise ValueError(f"'{path}' has no feature columns left besides {columns_text(list(special))}")

    X = _feature_matrix(df, features, path)
    labels = df[label_name].to_numpy() if label_name is not None else None
    source = str(path)

    if layout == "rows":
        data = _rows_layout(X, df, path, id_name, labels, fill, source)
        data.roles = {"time_column": None, "id_column": id_name, "label_column": label_name}
        return data

    mask = np.isnan(X)
    if fill is None and mask.any():
        raise ValueError(
            f"'{path}': {missing_message(mask, features)}; {fill_hint('the file')}"
        )
    times = time_values(df[time_name], time_name, path) if time_name is not None else None

    if id_name is None:
        if times is not None and len(times) > 1 and not bool(np.all(times[1:] >= times[:-1])):
            order = np.argsort(times, kind="stable")
            X, times = X[order], times[order]
            labels = labels[order] if labels is not None else None
        if fill is not None:
            X = fill_missing(X, fill, names=features)  # type: ignore[arg-type]
        return SequenceData(X, features, None, times, "series", labels, source,
                            roles={"time_column": time_name, "id_column": None, "label_column": label_name})

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
    ids = list(np.asarray(uniques).tolist())
    seq_labels = None
    if labels is not None:
        lab = labels[order]
        starts = np.concatenate([[0], bounds])
        same_group = codes_sorted[1:] == codes_sorted[:-1]
        changed = same_group & (pd.Series(lab[1:]).ne(pd.Series(lab[:-1])).to_numpy())
        if changed.any():
            bad_id = ids[int(codes_sorted[1:][changed][0])]
            raise ValueError(
                f"label column {label_name!r} changes within sequence {bad_id!r}; per-sequence "
                "labels must be constant within a sequence"
            )
        seq_labels = lab[starts]
    return SequenceData(sequences, features, ids, time_list, "sequences", seq_labels, source,
                        roles={"time_column": time_name, "id_column": id_name, "label_column": label_name})


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
                f"empty cell inside a row is a missing value: {fill_hint('the file')}"
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
        idx = [names.index(resolve_column(c, names, "column", path)) for c in columns]
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
                    f"'{path}': sequence {i}: {missing_message(mask, names)}; {fill_hint('the file')}"
                )
            sequences[i] = fill_missing(s, fill, names=names)  # type: ignore[arg-type]
    if labels is not None and len(labels) != n:
        labels = None
    return SequenceData(sequences, names, None, None, "sequences", labels, str(path))

