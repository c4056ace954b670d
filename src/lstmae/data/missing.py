"""Missing values (NaN) in a series: the fill policies, and messages that count and locate them.

A policy is ``None`` (refuse missing values: a ValueError that says how many
there are and where the first ones are) or one of :data:`FILL_POLICIES`
(see :func:`fill_missing`). The readers apply it per sequence, never across
sequence boundaries.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import numpy as np

__all__ = [
    "FILL_POLICIES",
    "check_fill_policy",
    "fill_hint",
    "fill_missing",
    "missing_message",
]

FILL_POLICIES: tuple[str, ...] = ("ffill", "interpolate", "zero")
"""Accepted values of ``fill`` besides ``None`` (which refuses missing values)."""

FillPolicy = Literal["ffill", "interpolate", "zero"] | None


def fill_hint(where: str = "the data") -> str:
    """The advice that ends a missing-value error: which ``fill=`` to pass, or clean ``where``."""
    return f"pass fill='ffill', 'interpolate' or 'zero', or clean {where}"


def check_fill_policy(policy: object) -> None:
    """Raise a ValueError unless ``policy`` is None or one of :data:`FILL_POLICIES`."""
    if policy is not None and policy not in FILL_POLICIES:
        raise ValueError(
            f"unknown fill policy {policy!r}; use None (refuse missing values), "
            "'ffill', 'interpolate' or 'zero'"
        )


def missing_message(
    mask: np.ndarray,
    names: Sequence[str] | None = None,
    row_labels: np.ndarray | None = None,
    max_columns: int = 3,
) -> str:
    """Describe the NaNs of a ``(T, F)`` boolean mask: how many, where the first ones are.

    ``row_labels[r]`` is the row number reported for row ``r`` (e.g. the row in the
    file before sorting); by default the row index itself.
    """
    per_column = mask.sum(axis=0)
    columns = np.flatnonzero(per_column)
    total = int(per_column.sum())

    def label(j: int) -> str:
        return repr(str(names[j])) if names is not None else str(j)

    def first_row(j: int) -> int:
        rows = np.flatnonzero(mask[:, j])
        if row_labels is not None:
            return int(np.min(np.asarray(row_labels)[rows]))
        return int(rows[0])

    if len(columns) == 1:
        j = int(columns[0])
        noun = "value" if total == 1 else "values"
        return f"column {label(j)} has {total} missing {noun} (first at row {first_row(j)})"
    parts = [
        f"{label(int(j))} has {int(per_column[j])} (first at row {first_row(int(j))})"
        for j in columns[:max_columns]
    ]
    more = f", and {len(columns) - max_columns} more columns" if len(columns) > max_columns else ""
    return f"{total} missing values in {len(columns)} columns: " + ", ".join(parts) + more


def fill_missing(
    array: np.ndarray,
    policy: FillPolicy,
    *,
    names: Sequence[str] | None = None,
) -> np.ndarray:
    """Fill the NaNs of a series column by column, or refuse them.

    Parameters
    ----------
    array : numpy.ndarray, shape (T, F) or (T,)
        Float series; rows are time steps.
    policy : {None, "ffill", "interpolate", "zero"}
        ``None``: raise if there is any NaN. ``"ffill"``: carry the last seen
        value forward; leading NaNs take the first value (back-fill).
        ``"interpolate"``: linear in the row index, per column; leading/trailing
        NaNs take the nearest value. ``"zero"``: replace by 0.
    names : sequence of str, optional
        Column names, used in error messages.

    Returns
    -------
    numpy.ndarray, same shape and dtype as ``array``
        A new array if anything was filled; ``array`` itself when it has no NaN.

    Raises
    ------
    ValueError
        With ``policy=None`` and NaNs present (the message gives their count and
        the first row and column), an unknown policy, a non-2-D array, or a column
        that is entirely NaN for "ffill"/"interpolate" (there is nothing to fill from).
    """
    check_fill_policy(policy)
    arr = np.asarray(array)
    if arr.ndim == 1:
        return fill_missing(arr[:, None], policy, names=names)[:, 0]
    if arr.ndim != 2:
        raise ValueError(f"fill_missing expects a (T, F) or (T,) array, got shape {arr.shape}")
    if not np.issubdtype(arr.dtype, np.floating):
        return arr  # integer/bool arrays cannot hold NaN
    mask = np.isnan(arr)
    if not mask.any():
        return arr
    if policy is None:
        raise ValueError(f"{missing_message(mask, names)}; {fill_hint()}")
    if policy == "zero":
        return np.where(mask, np.zeros((), dtype=arr.dtype), arr)

    empty = np.flatnonzero(mask.all(axis=0))
    if len(empty):
        which = ", ".join(repr(str(names[j])) if names is not None else str(j) for j in empty[:5])
        raise ValueError(
            f"column {which} holds only missing values, there is nothing to {policy} from; "
            "drop the column (columns=[...]) or use fill='zero'"
        )
    n_rows = arr.shape[0]
    if policy == "ffill":
        rows = np.arange(n_rows)[:, None]
        idx = np.where(mask, -1, rows)
        np.maximum.accumulate(idx, axis=0, out=idx)
        first_valid = np.argmax(~mask, axis=0)
        idx = np.where(idx < 0, first_valid[None, :], idx)
        return np.take_along_axis(arr, idx, axis=0)
    # interpolate
    out = arr.copy()
    t = np.arange(n_rows, dtype=np.float64)
    for j in np.flatnonzero(mask.any(axis=0)):
        miss = mask[:, j]
        out[miss, j] = np.interp(t[miss], t[~miss], arr[~miss, j].astype(np.float64))
    return out
