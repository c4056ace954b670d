"""Making a long series look stationary to a windowed autoencoder, and what each way can still see.

A global scaler fitted on the early part of a trending or drifting series sees the later
part as out of range, so drift scores as anomaly everywhere. Three remedies, all fitted on
the training part only and stored with the model (plain JSON):

- `SeriesTransform` "detrend": a straight line per feature, fitted by least squares on the
  training part, is subtracted from the whole series (time counted from the first point of
  the series given). Removes a linear trend; sees every kind of anomaly on top of it; a
  change of slope later grows without bound, so after a trend change everything scores high.
- `SeriesTransform` "difference": ``x[t] - x[t-1]``. Removes any level and a linear trend; a
  level shift becomes one spike (seen at its step, not while it lasts); a change of slope
  becomes a level shift of the differences (seen); flat lines become zeros (seen when the
  series is never flat).
- `WindowNorm` (per-window normalisation): each window minus its own mean (and, with
  "level-scale", divided by its own standard deviation) before the autoencoder. The
  autoencoder then sees shapes only: robust to any slow drift, blind to the level (and, with
  "level-scale", to the amplitude) of a window. The **level term** brings a level shift back:
  each window's mean (and log standard deviation) is compared with those of the window just
  before it (non-overlapping), standardised by the spread of that difference on training
  data; a jump between two consecutive windows scores high for about two window lengths.
  The windows of the first window length of a series have no window before them: their level
  term is the typical one of training data (they can not show a level shift).

`trend_share` says whether a normal series trends: the share of its variance a straight line
explains (R², the largest over features). The detector's ``window_norm="auto"`` normalises the
windows ("level-scale" with the level term) when it is at least `AUTO_TREND_SHARE`.

Shape legend: T points, F features, W window, n windows.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

TRANSFORMS = ("detrend", "difference", None)
WINDOW_NORMS = ("level", "level-scale", None)
# window_norm="auto": a normal series whose straight line explains at least this share of its variance trends
AUTO_TREND_SHARE = 0.5


def trend_share(series: np.ndarray) -> float:
    """The share of a series' variance (T,) or (T, F) that a least-squares straight line explains (R²), the
    largest over its features (0 for a constant feature or fewer than 3 points)."""
    x = np.asarray(series, dtype=np.float64)
    x = x[:, None] if x.ndim == 1 else x
    if len(x) < 3:
        return 0.0
    t = np.arange(len(x), dtype=np.float64)
    t -= t.mean()
    centred = x - np.nanmean(x, axis=0)
    ok = np.isfinite(centred)
    shares = []
    for f in range(x.shape[1]):
        y, tt = centred[ok[:, f], f], t[ok[:, f]]
        total = float((y**2).sum())
        if len(y) < 3 or total <= 0.0:
            shares.append(0.0)
            continue
        slope = float((tt * y).sum() / max((tt**2).sum(), 1e-300))
        shares.append(1.0 - float(((y - slope * (tt - tt.mean()) - y.mean()) ** 2).sum()) / total)
    return max(shares)


@dataclass
class SeriesTransform:
    """A point-wise transform of a long series (T, F), fitted on its training part."""

    kind: str | None
    slope: np.ndarray | None = None  # (F,) per point ("detrend")
    intercept: np.ndarray | None = None  # (F,)

    @classmethod
    def fit(cls, kind: str | None, series: np.ndarray) -> "SeriesTransform":
        if kind not in TRANSFORMS:
            raise ValueError(f"series_transform={kind!r} is not valid; choose 'detrend', 'difference' or None.")
        if kind != "detrend":
            return cls(kind)
        x = np.asarray(series, dtype=np.float64)
        t = np.arange(len(x), dtype=np.float64)
        tc = t - t.mean()
        denom = float((tc**2).sum()) or 1.0
        slope = (tc @ (x - x.mean(axis=0))) / denom
        return cls(kind, slope, x.mean(axis=0) - slope * t.mean())

    def apply(self, series: np.ndarray, start: int = 0) -> np.ndarray:
        """The transformed series (T, F), float64, point for point (the first difference repeats the second).

        `start`: the time index of the series' first point, counted from the first point of the
        series the trend was fitted on ("detrend" only).
        """
        x = np.asarray(series, dtype=np.float64)
        if self.kind is None:
            return x
        if self.kind == "detrend":
            t = (start + np.arange(len(x), dtype=np.float64))[:, None]
            return x - (self.intercept + self.slope * t)
        d = np.empty_like(x)
        d[1:] = np.diff(x, axis=0)
        d[0] = d[1] if len(x) > 1 else 0.0
        return d

    def to_dict(self) -> dict:
        d: dict = {"kind": self.kind}
        if self.kind == "detrend":
            d.update(slope=self.slope.tolist(), intercept=self.intercept.tolist())
        return d

    @classmethod
    def from_dict(cls, d: dict, n_features: int) -> "SeriesTransform":
        kind = d["kind"]
        if kind not in TRANSFORMS:
            raise ValueError(f"unknown series transform {kind!r}")
        if kind != "detrend":
            return cls(kind)
        out = cls(kind, np.asarray(d["slope"], dtype=np.float64), np.asarray(d["intercept"], dtype=np.float64))
        if out.slope.shape != (n_features,) or out.intercept.shape != (n_features,):
            raise ValueError(f"the trend does not fit {n_features} features")
        return out


def _window_moments(series: np.ndarray, window: int, starts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean and standard deviation (n, F) of ``series[s : s + window]`` for each start s, from cumulative sums."""
    x = np.asarray(series, dtype=np.float64)
    c1 = np.concatenate([np.zeros((1, x.shape[1])), np.cumsum(x, axis=0)])
    c2 = np.concatenate([np.zeros((1, x.shape[1])), np.cumsum(x * x, axis=0)])
    mean = (c1[starts + window] - c1[starts]) / window
    var = (c2[starts + window] - c2[starts]) / window - mean**2
    return mean, np.sqrt(np.maximum(var, 0.0))


@dataclass
class WindowNorm:
    """Per-window normalisation, and the level term that sees what it removes.

    kind "level": each window minus its mean per feature; "level-scale": also divided by its
    standard deviation (floored at ``floor``, a tenth of the training series' spread, so flat
    windows do not blow up). ``level_mean``, ``level_std`` (C,): the mean and spread, on
    training data, of the difference between a window's statistics (mean per feature, and log
    standard deviation with "level-scale": C = F or 2F) and those of the window just before it.
    ``level_weight``: puts the level term on the scale of the residuals (set on held-out data so
    that both have the same mean there).
    """

    kind: str
    window: int
    floor: np.ndarray  # (F,)
    level_mean: np.ndarray = field(default_factory=lambda: np.zeros(0))
    level_std: np.ndarray = field(default_factory=lambda: np.ones(0))
    level_typical: np.ndarray = field(default_factory=lambda: np.zeros(0))
    level_weight: float = 1.0

    @classmethod
    def fit(cls, kind: str, series: np.ndarray, window: int, stride: int = 1) -> "WindowNorm":
        if kind not in WINDOW_NORMS or kind is None:
            raise ValueError(f"window_norm={kind!r} is not valid; choose 'level', 'level-scale' or None.")
        x = np.asarray(series, dtype=np.float64)
        spread = x.std(axis=0)
        norm = cls(kind, int(window), 0.1 * np.where(spread > 0, spread, 1.0))
        diffs = norm.level_differences(x, stride)
        diffs = diffs[np.arange(len(diffs)) * stride >= window] if len(diffs) * stride > window else diffs
        norm.level_mean = diffs.mean(axis=0)
        sd = diffs.std(axis=0)
        norm.level_std = np.where(sd > 1e-12, sd, 1.0)
        norm.level_typical = (np.abs(diffs - norm.level_mean) / norm.level_std).mean(axis=0)
        return norm

    @property
    def scales(self) -> bool:
        return self.kind == "level-scale"

    def normalize(self, windows: np.ndarray) -> np.ndarray:
        """Windows (n, W, F) minus their own mean (and divided by their own spread with "level-scale"), float32."""
        w = np.asarray(windows, dtype=np.float64)
        out = w - w.mean(axis=1, keepdims=True)
        if self.scales:
            out = out / np.maximum(w.std(axis=1, keepdims=True), self.floor)
        return out.astype(np.float32)

    def statistics(self, series: np.ndarray, starts: np.ndarray) -> np.ndarray:
        """(n, C): each window's mean per feature (and log standard deviation with "level-scale")."""
        mean, std = _window_moments(series, self.window, starts)
        return np.concatenate([mean, np.log(np.maximum(std, self.floor))], axis=1) if self.scales else mean

    def level_differences(self, series: np.ndarray, stride: int = 1) -> np.ndarray:
        """(n, C) for the windows every `stride`: statistics minus those of the window just before
        (non-overlapping; windows in the first window length compare with the first window)."""
        n = (len(series) - self.window) // stride + 1
        starts = np.arange(n) * stride
        prev = np.maximum(starts - self.window, 0)
        return self.statistics(series, starts) - self.statistics(series, prev)

    def level_terms(self, series: np.ndarray, stride: int = 1) -> np.ndarray:
        """(n, C): |difference - normal mean| / normal spread, times ``level_weight``: higher is more anomalous.
        Windows starting in the first window length (nothing before them) get the typical training value."""
        z = np.abs(self.level_differences(series, stride) - self.level_mean) / self.level_std
        z[np.arange(len(z)) * stride < self.window] = self.level_typical
        return z * self.level_weight

    def to_dict(self) -> dict:
        return {"kind": self.kind, "window": self.window, "floor": self.floor.tolist(),
                "level_mean": self.level_mean.tolist(), "level_std": self.level_std.tolist(),
                "level_typical": self.level_typical.tolist(), "level_weight": self.level_weight}

    @classmethod
    def from_dict(cls, d: dict, n_features: int) -> "WindowNorm":
        out = cls(d["kind"], int(d["window"]), np.asarray(d["floor"], dtype=np.float64),
                  np.asarray(d["level_mean"], dtype=np.float64), np.asarray(d["level_std"], dtype=np.float64),
                  np.asarray(d["level_typical"], dtype=np.float64), float(d["level_weight"]))
        c = n_features * (2 if out.scales else 1)
        if out.kind not in WINDOW_NORMS or out.floor.shape != (n_features,) or out.level_mean.shape != (c,) \
                or out.level_std.shape != (c,) or out.level_typical.shape != (c,) or not np.isfinite(out.level_weight):
            raise ValueError(f"the window normalisation does not fit {n_features} features")
        return out
