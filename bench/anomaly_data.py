"""Real series for bench/anomaly.py: labelled ones as shipped, unlabelled ones with injected anomalies.

Every series comes from aeon's wheel (read offline; aeon is in the bench environment), except half D
(`load_statsmodels`), read from statsmodels' wheel.

Injection procedure (seeded, `inject`): the first 40 % of a series is the training part
(normal data, never touched); the rest is cut into k equal slots (k = 3 for series shorter
than 500 points, else 6), and one anomaly is placed at a random position inside each slot,
at least half a window from its edges, on a random feature. Kinds, in a seeded random order
(k = 6: each kind once; k = 3: three of the six), with ``sd`` the standard deviation of that
feature's training part after removing its least-squares line, ``L`` = the window length:

- spike: one point moved by 4 sd (random sign);
- level shift: L points moved by 2 sd (random sign);
- trend change: L points plus a ramp from 0 to 3 sd (random sign);
- seasonality change: L points replaced by the next 2L points taken every second point
  (twice the frequency, re-centred on the segment's own mean); time-mirrored where the series
  has no room after the segment;
- noise burst: L points plus Gaussian noise of 1.5 sd;
- flat line: L points held at the segment's first value.

The labels are 1 exactly on the modified points.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

KINDS = ("spike", "level shift", "trend change", "seasonality change", "noise burst", "flat line")
TRAIN_SHARE = 0.4


@dataclass
class BenchSeries:
    name: str
    series: np.ndarray  # (T, F) float64
    labels: np.ndarray  # (T,) 0/1
    train_end: int  # points before it are normal training data
    window: int
    kinds: tuple[str, ...] = ()  # injected kinds, in order of position (empty: real labels)


def window_for(n_points: int) -> int:
    """32 for series of 1000 points or more; else a twelfth of the length, at least 8."""
    return 32 if n_points >= 1000 else max(8, n_points // 12)


def _aeon_dir() -> Path:
    import aeon.datasets

    return Path(aeon.datasets.__file__).parent / "data"


def _linear_residual_std(x: np.ndarray) -> float:
    t = np.arange(len(x))
    coef = np.polyfit(t, x, 1)
    sd = float(np.std(x - np.polyval(coef, t)))
    return sd if sd > 0 else float(np.std(x)) or 1.0


def inject(name: str, series: np.ndarray, seed: int) -> BenchSeries:
    """`series` (T,) or (T, F) with anomalies injected after its first 40 % (see the module docstring)."""
    x = np.asarray(series, dtype=np.float64)
    x = (x[:, None] if x.ndim == 1 else x).copy()
    n, n_features = x.shape
    window = window_for(n)
    end = int(round(n * TRAIN_SHARE))
    rng = np.random.default_rng(seed)
    k = 3 if n < 500 else 6
    kinds = [KINDS[i] for i in rng.permutation(len(KINDS))[:k]]
    labels = np.zeros(n, dtype=np.int64)
    slot = (n - end) // k
    length, margin = window, window // 2
    for i, kind in enumerate(kinds):
        span = 1 if kind == "spike" else length
        lo, hi = end + i * slot + margin, end + (i + 1) * slot - span - margin
        t0 = int(rng.integers(lo, max(hi, lo + 1)))
        f = int(rng.integers(n_features))
        sd = _linear_residual_std(x[:end, f])
        sign = rng.choice([-1.0, 1.0])
        seg = slice(t0, t0 + span)
        if kind == "spike":
            x[t0, f] += sign * 4.0 * sd
        elif kind == "level shift":
            x[seg, f] += sign * 2.0 * sd
        elif kind == "trend change":
            x[seg, f] += sign * np.linspace(0.0, 3.0 * sd, span)
        elif kind == "seasonality change":
            own = x[seg, f].copy()
            if t0 + 2 * span <= n:
                fast = x[t0 : t0 + 2 * span : 2, f]
                x[seg, f] = fast - fast.mean() + own.mean()
            else:
                x[seg, f] = own[::-1]
        elif kind == "noise burst":
            x[seg, f] += rng.normal(0.0, 1.5 * sd, span)
        else:  # flat line
            x[seg, f] = x[t0, f]
        labels[seg] = 1
    return BenchSeries(name, x, labels, end, window, tuple(kinds))


def _csv_column(path: Path, column) -> np.ndarray:
    frame = pd.read_csv(path)
    return frame.iloc[:, column].to_numpy(np.float64) if isinstance(column, int) else frame[column].to_numpy(
        np.float64)


def _headerless(path: Path) -> np.ndarray:
    return pd.read_csv(path, header=None).iloc[:, 1].to_numpy(np.float64)


def load_all(seed: int = 0) -> list[BenchSeries]:
    """The benchmark's series: one real labelled series, nine real series with injected anomalies."""
    d = _aeon_dir()
    out = []
    from lstmae.data.datasets import load_real

    kdd = load_real("kdd-tsad-135")
    out.append(BenchSeries("kdd-tsad-135 (real labels)", kdd.series.astype(np.float64).reshape(len(kdd.series), -1),
                           np.asarray(kdd.labels), kdd.train_end, 32))
    raw = [
        ("airline", _csv_column(d / "Airline" / "Airline.csv", "Passengers")),
        ("lynx", _csv_column(d / "Lynx" / "Lynx.csv", 1)),
        ("pbs", _csv_column(d / "PBS_dataset" / "PBS_dataset.csv", "Scripts")),
        ("solar", _csv_column(d / "solar" / "solar.csv", "solar_gen")),
        ("uschange (5 features)", pd.read_csv(d / "Uschange" / "Uschange.csv").iloc[:, 2:].to_numpy(np.float64)),
        ("gunpoint-segmentation", _headerless(d / "segmentation" / "GunPoint.csv")),
        ("electric-devices 0-3000", _headerless(d / "segmentation" / "ElectricDevices.csv")[:3000]),
        ("electric-devices 6000-9000", _headerless(d / "segmentation" / "ElectricDevices.csv")[6000:9000]),
        ("daphnet s06r02e0 0-3000 (9 features)",
         pd.read_csv(d / "Daphnet_S06R02E0" / "S06R02E0.csv").iloc[:3000, 1:10].to_numpy(np.float64)),
    ]
    for i, (name, values) in enumerate(raw):
        out.append(inject(name, values, seed + i))
    return out


def load_fresh(seed: int = 100) -> list[BenchSeries]:
    """Half C, added in lstmae 0.4 after the default was chosen and never looked at before it was run once:
    aeon's labelled `ecg-diff-count-3` (its UnitTest folder: a synthetic ECG with labelled anomalies, the
    normal TRAIN_NA file as training part, then the labelled TEST file), and three more stretches of the
    real series above with anomalies injected as for the others (seeds from 100)."""
    d = _aeon_dir()
    ecg = [pd.read_csv(d / "UnitTest" / f"ecg-diff-count-3_{part}.csv") for part in ("TRAIN_NA", "TEST")]
    series = np.concatenate([e["value-0"].to_numpy(np.float64) for e in ecg])[:, None]
    labels = np.concatenate([e["is_anomaly"].to_numpy(np.int64) for e in ecg])
    out = [BenchSeries("ecg-diff-count-3 (synthetic labels)", series, labels, len(ecg[0]), window_for(len(series)))]
    devices = _headerless(d / "segmentation" / "ElectricDevices.csv")
    raw = [
        ("electric-devices 3000-6000", devices[3000:6000]),
        ("electric-devices 9000-end", devices[9000:]),
        ("daphnet s06r02e0 3000-6000 (9 features)",
         pd.read_csv(d / "Daphnet_S06R02E0" / "S06R02E0.csv").iloc[3000:6000, 1:10].to_numpy(np.float64)),
    ]
    for i, (name, values) in enumerate(raw):
        out.append(inject(name, values, seed + i))
    return out


def load_statsmodels(seed: int = 200) -> list[BenchSeries]:
    """Half D, added in lstmae 0.5 after the default was chosen and run once: the real time series that
    ship inside statsmodels' wheel and are long enough for windows (100 points or more), none looked at
    before, with anomalies injected as for the others (seeds from 200). Chosen and ordered before any run:
    Mauna Loa CO2 (weekly 1958-2001, 2284 points, trend and seasonality; its 59 missing weeks linearly
    interpolated), El Nino sea surface temperature (monthly 1950-2010, 732 points), yearly sunspots (309),
    US macro data (203 quarters: real GDP, consumption, investment, CPI, unemployment), interest and
    inflation (107 quarters, 2 features), the Nile's yearly volume (100)."""
    from statsmodels import datasets as d

    co2 = d.co2.load_pandas().data["co2"].interpolate(limit_direction="both").to_numpy(np.float64)
    months = ["JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"]
    elnino = d.elnino.load_pandas().data[months].to_numpy(np.float64).ravel()
    macro = d.macrodata.load_pandas().data[["realgdp", "realcons", "realinv", "cpi", "unemp"]].to_numpy(np.float64)
    raw = [
        ("co2 (weekly)", co2),
        ("elnino (monthly)", elnino),
        ("sunspots (yearly)", d.sunspots.load_pandas().data["SUNACTIVITY"].to_numpy(np.float64)),
        ("macrodata (5 features)", macro),
        ("interest-inflation (2 features)", d.interest_inflation.load_pandas().data[["Dp", "R"]].to_numpy(np.float64)),
        ("nile (yearly)", d.nile.load_pandas().data["volume"].to_numpy(np.float64)),
    ]
    return [inject(name, values, seed + i) for i, (name, values) in enumerate(raw)]
