"""Turning what users hold into padded batches, and back.

Accepted forms of ``X`` (shape legend: N samples, L time steps, F features):

- a NumPy array ``(N, L, F)``;
- a NumPy array ``(N, L)``: N univariate sequences;
- a list (or tuple) of arrays ``(L_i, F)`` or ``(L_i,)``: sequences of different lengths;
- a pandas DataFrame with a two-level MultiIndex ``(sequence id, time)``: one
  sequence per id, rows in time order, columns are features (variable length);
- a flat pandas DataFrame: rows are sequences and columns time steps, as ``(N, L)``.

`to_padded` validates and pads; `restore_form` hands results back in the user's
form (the same lengths for lists, the same dimensions for arrays).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

ARRAY3D, ARRAY2D, LIST = "array3d", "array2d", "list"  # the forms a user gives sequences in


@dataclass
class Padded:
    """Sequences zero-padded to a common length.

    Attributes
    ----------
    x : float32 array (N, L_max, F)
    lengths : int64 array (N,)
    form : "array3d", "array2d" or "list": how the user gave them (results come back in it)
    """

    x: np.ndarray
    lengths: np.ndarray
    form: str

    @property
    def n_features(self) -> int:
        return self.x.shape[2]

    @property
    def equal_length(self) -> bool:
        return bool((self.lengths == self.x.shape[1]).all())

    def mask(self) -> np.ndarray:
        """Boolean (N, L_max), True at valid steps."""
        return np.arange(self.x.shape[1])[None, :] < self.lengths[:, None]


def as_numeric(a: Any, name: str, what: str) -> np.ndarray:
    if hasattr(a, "dtype") and getattr(a.dtype, "kind", "f") == "c":
        raise ValueError(
            f"Complex data not supported: {name}{what} has dtype {a.dtype}; pass real parts and "
            "imaginary parts as separate features."
        )
    if hasattr(a, "dtype") and getattr(a.dtype, "kind", "f") in "SUmMV":
        raise ValueError(
            f"{name}{what} has dtype {a.dtype}; lstmae needs numbers. Convert text or dates to "
            "numeric features first."
        )
    try:
        arr = np.asarray(a, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise ValueError(
            f"{name}{what} could not be read as numbers ({exc}); pass numeric arrays, e.g. "
            "np.asarray(X, dtype=float)."
        ) from None
    return arr


def check_finite(arr: np.ndarray, name: str, where: str = "") -> None:
    bad = ~np.isfinite(arr)
    if bad.any():
        first = tuple(int(i) for i in np.argwhere(bad)[0])
        kind = "NaN" if np.isnan(arr[first]) else "inf"
        raise ValueError(
            f"{name}{where} contains NaN or inf values ({int(bad.sum())} in all; the first is {kind} "
            f"at index {first}). Fill or drop missing values before calling lstmae "
            "(e.g. the readers' fill='ffill'|'interpolate'|'zero')."
        )


_FLOAT32_MAX = float(np.finfo(np.float32).max)


def check_float32(arr: np.ndarray, name: str, where: str = "") -> None:
    """Finite values beyond float32's range would silently become inf in the model."""
    big = np.abs(arr) > _FLOAT32_MAX
    if big.any():
        first = tuple(int(i) for i in np.argwhere(big)[0])
        raise ValueError(
            f"{name}{where} holds values too large for float32 ({int(big.sum())} beyond +-3.4e38; the first is "
            f"{arr[first]:.3g} at index {first}); lstmae computes in float32: rescale the data (e.g. divide by "
            "a power of ten) first."
        )


def _frame_to_sequences(df, name: str):
    import pandas as pd

    if isinstance(df.index, pd.MultiIndex):
        non_numeric = [c for c in df.columns if not pd.api.types.is_numeric_dtype(df[c])]
        if non_numeric:
            raise ValueError(f"{name} has non-numeric columns {non_numeric}; drop them or select numeric columns.")
        if df.index.nlevels != 2:
            raise ValueError(
                f"{name} has a MultiIndex with {df.index.nlevels} levels; use two: (sequence id, time)."
            )
        df = df.sort_index(level=1, sort_remaining=False, kind="stable")
        groups = df.groupby(level=0, sort=False)
        return [g.to_numpy(dtype=np.float64) for _, g in groups], LIST
    if is_series_frame(df):
        raise ValueError(
            f"{name} is a table of {df.shape[0]} rows and {df.shape[1]} named columns "
            f"({', '.join(map(str, list(df.columns)[:5]))}{', ...' if df.shape[1] > 5 else ''}){_time_hint(df)}: "
            "one long (T, F) series, not sequences. Call fit_series(X, window=...) (transform_series, "
            "detect_series, ...) to cut it into windows; for one sequence per row name the columns by "
            "time step (0, 1, ...) or pass X.to_numpy()."
        )
    non_numeric = [c for c in df.columns if not pd.api.types.is_numeric_dtype(df[c])]
    if non_numeric:
        raise ValueError(f"{name} has non-numeric columns {non_numeric}; drop them or select numeric columns.")
    return df.to_numpy(dtype=np.float64), None


def _time_hint(df) -> str:
    import pandas as pd

    if isinstance(df.index, pd.DatetimeIndex):
        return " indexed by time"
    dates = [str(c) for c in df.columns if pd.api.types.is_datetime64_any_dtype(df[c])]
    return f" with the time column {dates[0]!r}" if dates else ""


def is_series_frame(df) -> bool:
    """Does a flat DataFrame look like one long (T, F) series rather than (N, L) sequences?

    Yes when it is indexed by time, has a datetime column, or its columns have names that
    are not time steps (not integers such as 0, 1, ... or "0", "1", ...).
    """
    import pandas as pd

    if isinstance(df.index, pd.DatetimeIndex) or any(pd.api.types.is_datetime64_any_dtype(df[c]) for c in df.columns):
        return True
    return not all(isinstance(c, (int, np.integer)) or str(c).strip().lstrip("-").isdigit() for c in df.columns)


def frame_to_series(df) -> tuple[np.ndarray, list[str], np.ndarray | None]:
    """A (T, F) DataFrame as (values, feature names, time values or None): a DatetimeIndex or
    one datetime column is the time axis; the other columns must be numeric."""
    import pandas as pd

    time = df.index.to_numpy() if isinstance(df.index, pd.DatetimeIndex) else None
    dates = [c for c in df.columns if pd.api.types.is_datetime64_any_dtype(df[c])]
    if time is None and len(dates) == 1:
        time = df[dates[0]].to_numpy()
    features = [c for c in df.columns if c not in dates]
    non_numeric = [c for c in features if not (pd.api.types.is_numeric_dtype(df[c]) or pd.api.types.is_bool_dtype(df[c]))]
    if non_numeric or len(dates) > 1:
        raise ValueError(
            f"the series has non-numeric columns {[str(c) for c in non_numeric + dates[1:]]}; keep the numeric "
            "feature columns (and at most one time column), e.g. df[['a', 'b']]."
        )
    return df[features].to_numpy(dtype=np.float64), [str(c) for c in features], time


def to_padded(X: Any, name: str = "X", n_features: int | None = None) -> Padded:
    """Validate `X` (any accepted form, see the module docstring) and pad it.

    Raises `ValueError` naming the problem and the fix for: non-numeric data, NaN or
    inf, a wrong number of dimensions, zero samples, empty sequences, sequences with
    different feature counts, and a feature count other than `n_features` (when given,
    i.e. after fit).
    """
    form = None
    if hasattr(X, "tocsr") or type(X).__module__.startswith("scipy.sparse"):
        raise ValueError(
            f"Sparse data was passed for {name}, but dense sequences are required; convert it with "
            f"{name}.toarray()."
        )
    try:
        import pandas as pd
    except ImportError:  # pragma: no cover - pandas is a dependency
        pd = None
    if pd is not None and isinstance(X, pd.DataFrame):
        X, form = _frame_to_sequences(X, name)
    elif pd is not None and isinstance(X, pd.Series):
        raise ValueError(
            f"{name} is a pandas Series; give one sequence as a 2-D array X[None, :, None] or a long "
            "series cut into windows with lstmae.data.windows.sliding_windows."
        )

    if isinstance(X, (list, tuple)) and form is None:
        form = LIST
    if form == LIST:
        if len(X) == 0:
            raise ValueError(f"{name} has 0 sequences; at least one is needed.")
        seqs = []
        for i, s in enumerate(X):
            a = as_numeric(s, name, f"[{i}]")
            if a.ndim == 1:
                a = a[:, None]
            if a.ndim != 2:
                raise ValueError(
                    f"{name}[{i}] has shape {a.shape}; each sequence of a list must be (L_i, F) or (L_i,)."
                )
            if a.shape[0] == 0:
                raise ValueError(f"{name}[{i}] is empty (0 time steps); drop empty sequences.")
            check_finite(a, name, f"[{i}]")
            check_float32(a, name, f"[{i}]")
            seqs.append(a)
        feats = {a.shape[1] for a in seqs}
        if len(feats) > 1:
            raise ValueError(
                f"the sequences of {name} have different feature counts {sorted(feats)}; all must have the same F."
            )
        lengths = np.array([a.shape[0] for a in seqs], dtype=np.int64)
        x = np.zeros((len(seqs), int(lengths.max()), seqs[0].shape[1]), dtype=np.float32)
        for i, a in enumerate(seqs):
            x[i, : a.shape[0]] = a
    else:
        arr = as_numeric(X, name, "")
        if arr.ndim == 2:
            form = ARRAY2D
            arr = arr[:, :, None]
        elif arr.ndim == 3:
            form = ARRAY3D
        elif arr.ndim < 2:
            raise ValueError(
                f"{name} has shape {arr.shape} ({arr.ndim}-D); lstmae needs (N, L, F) sequences or (N, L) "
                "univariate ones. Reshape your data: for one sequence use X.reshape(1, -1, 1); to cut a long series into "
                "windows use lstmae.data.windows.sliding_windows(series, window)."
            )
        else:
            raise ValueError(
                f"{name} has shape {arr.shape} ({arr.ndim}-D); lstmae needs (N, L, F). For video or "
                "images flatten each frame: X.reshape(N, L, -1)."
            )
        if arr.shape[0] == 0:
            raise ValueError(f"{name} has 0 samples (shape {arr.shape}); at least one sequence is needed.")
        if arr.shape[1] == 0:
            raise ValueError(f"{name} has 0 time steps (shape {arr.shape}); sequences need at least one step.")
        if arr.shape[2] == 0:
            raise ValueError(f"{name} has 0 features (shape {arr.shape}); at least one is needed.")
        check_finite(arr, name)
        check_float32(arr, name)
        x = arr.astype(np.float32)
        lengths = np.full(x.shape[0], x.shape[1], dtype=np.int64)
    if n_features is not None and x.shape[2] != n_features:
        raise ValueError(
            f"{name} has {x.shape[2]} features, but the model was fitted with {n_features} features; "
            f"pass data with the same {n_features} features (columns) in the same order."
        )
    return Padded(x=x, lengths=lengths, form=form)


def restore_form(values: np.ndarray, lengths: np.ndarray | None, form: str):
    """Hand per-step results ``(N, L_max, F)`` back in the form the user gave the input in.

    With `lengths` (per-step outputs aligned with the input) a list input gets a list
    of ``(L_i, F)`` arrays; without (e.g. forecasts of a fixed horizon) it gets one
    array. A 2-D input gets 2-D output ``(N, L)`` when F is 1.
    """
    if form == LIST and lengths is not None:
        return [values[i, : int(n)] for i, n in enumerate(lengths)]
    if form == ARRAY2D and values.shape[2] == 1:
        return values[:, :, 0]
    return values


def to_series(series: Any, name: str = "series", min_length: int = 1) -> np.ndarray:
    """Validate one long series (T,) or (T, F) (array, list, or DataFrame: see `frame_to_series`): (T, F) floats.

    Raises `ValueError` for the wrong number of dimensions, fewer than `min_length` points
    (e.g. one window), NaN or inf (naming the first), non-numeric data or values beyond float32.
    """
    import pandas as pd

    if isinstance(series, pd.DataFrame):
        series = frame_to_series(series)[0]
    # a float array is used as is (no copy of a long series)
    arr = series if isinstance(series, np.ndarray) and series.dtype.kind == "f" else as_numeric(series, name, "")
    if arr.ndim == 1:
        arr = arr[:, None]
    if arr.ndim != 2:
        raise ValueError(f"{name} has shape {arr.shape}; a long series is (T,) or (T, F).")
    if arr.shape[0] < min_length:
        raise ValueError(
            f"{name} has {arr.shape[0]} points, fewer than one window ({min_length}); use a longer series or a "
            "smaller window."
        )
    if arr.shape[1] == 0:
        raise ValueError(f"{name} has 0 features (shape {arr.shape}); at least one is needed.")
    if not np.isfinite(arr).all():
        bad = np.argwhere(~np.isfinite(arr))[0]
        raise ValueError(
            f"{name} contains NaN or inf (first at point {bad[0]}, feature {bad[1]}); fill missing values first "
            "(lstmae.data.missing.fill_missing(series, 'interpolate'), or fill= when reading a file)."
        )
    check_float32(arr, name)
    return arr
