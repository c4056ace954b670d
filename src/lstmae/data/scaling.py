"""Per-feature scaling of padded sequences, learned on valid steps only.

Statistics are learned in ``fit``, stored with the model (``to_dict`` / ``from_dict``,
plain JSON), applied to every input and undone on every output.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

SCALES = ("standard", "minmax", "robust", None)
IQR_PER_SD = 1.349  # the interquartile range of a normal law, in standard deviations
ROBUST_ROWS = 2_000_000  # rows a streamed "robust" fit keeps; a longer stream is thinned at random (seeded) to this


def check_scale(method) -> None:
    """A ValueError naming the valid scalings unless `method` is one of `SCALES`."""
    if method not in SCALES:
        valid = ", ".join(repr(m) for m in SCALES if m is not None)
        raise ValueError(f"scale={method!r} is not valid; choose {valid} or None.")


def _quartiles(values: np.ndarray, weights: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """25 %, 50 % and 75 % quantiles (F,) of rows (n, F), each counted `weights` (n,) times: exactly
    `np.quantile` of the repeated rows when that is small enough, else by cumulative weight."""
    counts = np.rint(weights).astype(np.int64)
    if np.allclose(weights, counts) and counts.sum() * values.shape[1] <= 20_000_000:
        return tuple(np.quantile(np.repeat(values, counts, axis=0), [0.25, 0.5, 0.75], axis=0))
    out = []
    for q in (0.25, 0.5, 0.75):
        col = []
        for f in range(values.shape[1]):
            order = np.argsort(values[:, f], kind="stable")
            cum = np.cumsum(weights[order])
            col.append(values[order[min(int(np.searchsorted(cum, q * cum[-1])), len(order) - 1)], f])
        out.append(np.asarray(col))
    return tuple(out)


@dataclass
class SequenceScaler:
    """``x_scaled = (x - offset) / scale`` per feature.

    method "standard": offset = mean, scale = standard deviation; "minmax": offset =
    min, scale = max - min (data mapped to [0, 1]); "robust": offset = median, scale =
    interquartile range / 1.349 (the standard deviation for Gaussian data, but not moved by a
    few outliers in the training data); None: identity. Constant features
    get scale 1 (as scikit-learn's scalers do), so they do not blow up.
    """

    method: str | None
    offset: np.ndarray
    scale: np.ndarray

    @classmethod
    def fitted(cls, method: str, offset: np.ndarray, scale: np.ndarray) -> "SequenceScaler":
        """The scaler with these statistics, a constant feature's scale (at float64 rounding of its offset) set to 1."""
        tiny = 10 * np.finfo(np.float64).eps * np.maximum(np.abs(offset), 1.0)
        return cls(method, offset, np.where(scale <= tiny, 1.0, scale))

    @classmethod
    def fit(cls, x: np.ndarray, mask: np.ndarray, method: str | None) -> "SequenceScaler":
        """Learn from x (N, L, F) at the steps where mask (N, L) is True."""
        check_scale(method)
        n_features = x.shape[2]
        if method is None:
            return cls(None, np.zeros(n_features), np.ones(n_features))
        valid = x[mask].astype(np.float64)  # (n_valid_steps, F)
        if method == "standard":
            offset, scale = valid.mean(axis=0), valid.std(axis=0)
        elif method == "robust":
            q25, offset, q75 = np.quantile(valid, [0.25, 0.5, 0.75], axis=0)
            scale = (q75 - q25) / IQR_PER_SD
        else:
            offset = valid.min(axis=0)
            scale = valid.max(axis=0) - offset
        return cls.fitted(method, offset, scale)

    @classmethod
    def fit_chunks(cls, chunks, method: str | None, n_features: int) -> "SequenceScaler":
        """`fit` in one streaming pass over ``(values (n, F), weights (n,) or None)`` chunks: each row counted
        `weight` times (e.g. the number of windows holding a point of a series). Float64 weighted moments merged
        chunk by chunk (Chan et al.), min/max for "minmax": `fit` on the same steps, to float precision."""
        check_scale(method)
        if method is None:
            return cls(None, np.zeros(n_features), np.ones(n_features))
        if method == "robust":
            return cls._fit_robust_chunks(chunks, n_features)
        count, mean, m2 = 0.0, np.zeros(n_features), np.zeros(n_features)
        lo, hi = np.full(n_features, np.inf), np.full(n_features, -np.inf)
        for values, weights in chunks:
            v = np.asarray(values, dtype=np.float64)
            w = np.ones(len(v)) if weights is None else np.asarray(weights, dtype=np.float64)
            v, w = v[w > 0], w[w > 0]
            if not len(v):
                continue
            if method == "minmax":
                lo, hi = np.minimum(lo, v.min(axis=0)), np.maximum(hi, v.max(axis=0))
                count += 1
                continue
            n = w.sum()
            cm = (w @ v) / n
            cm2 = w @ (v - cm) ** 2
            delta, total = cm - mean, count + n
            mean, m2, count = mean + delta * (n / total), m2 + cm2 + delta**2 * (count * n / total), total
        if count == 0:
            raise ValueError("no data to fit the scaler on.")
        offset, scale = (mean, np.sqrt(m2 / count)) if method == "standard" else (lo, hi - lo)
        return cls.fitted(method, offset, scale)

    @classmethod
    def _fit_robust_chunks(cls, chunks, n_features: int) -> "SequenceScaler":
        """"robust" in one pass: the weighted rows are kept (thinned at random, seeded, beyond `ROBUST_ROWS`)."""
        rng, keep, kept, n_kept = np.random.default_rng(0), 1.0, [], 0
        for values, weights in chunks:
            v = np.asarray(values, dtype=np.float64)
            w = np.ones(len(v)) if weights is None else np.asarray(weights, dtype=np.float64)
            v, w = v[w > 0], w[w > 0]
            if keep < 1.0:
                sel = rng.random(len(v)) < keep
                v, w = v[sel], w[sel]
            kept.append((v, w))
            n_kept += len(v)
            if n_kept > ROBUST_ROWS:  # halve what is kept, and keep half of what comes
                v, w = np.concatenate([a for a, _ in kept]), np.concatenate([b for _, b in kept])
                sel = rng.random(len(v)) < 0.5
                kept, n_kept, keep = [(v[sel], w[sel])], int(sel.sum()), keep / 2
        if n_kept == 0:
            raise ValueError("no data to fit the scaler on.")
        v, w = np.concatenate([a for a, _ in kept]), np.concatenate([b for _, b in kept])
        q25, offset, q75 = _quartiles(v, w)
        scale = (q75 - q25) / IQR_PER_SD
        return cls.fitted("robust", offset, scale)

    def transform(self, x: np.ndarray) -> np.ndarray:
        return ((x - self.offset) / self.scale).astype(np.float32)

    def inverse_transform(self, x: np.ndarray) -> np.ndarray:
        return (x * self.scale + self.offset).astype(np.float32)

    def to_dict(self) -> dict:
        return {"method": self.method, "offset": self.offset.tolist(), "scale": self.scale.tolist()}

    @classmethod
    def from_dict(cls, d: dict) -> "SequenceScaler":
        return cls(d["method"], np.asarray(d["offset"], dtype=np.float64), np.asarray(d["scale"], dtype=np.float64))


def check_scaled(x: np.ndarray, scaler: SequenceScaler, name: str) -> None:
    """Refuse scaled values that overflowed float32 (far outside the range seen in fit)."""
    if not np.isfinite(x).all():
        raise ValueError(
            f"{name} holds values that overflow float32 once scaled (scale={scaler.method!r}); they are far "
            "outside the range seen in fit. Rescale the data."
        )
