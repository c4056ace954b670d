"""Built-in datasets: generated on the fly (deterministic per seed) or read from aeon's wheel.

Nothing here downloads anything.

======================  ======================================================================
name                    what :func:`load_dataset` returns
======================  ======================================================================
``tutorial``            ``(1, 9, 1)`` float32 array ``[0.1, ..., 0.9]``
``sines``               :class:`AnomalyDataset`: noisy multivariate sines with labelled anomalies
``moving-digits``       :class:`MovingDigits`: Moving-MNIST-style videos from sklearn's 8x8 digits
``gunpoint``            :class:`~lstmae.data.io.SequenceData`, needs aeon (``lstmae[datasets]``)
``italy-power-demand``  :class:`~lstmae.data.io.SequenceData`, needs aeon
``basic-motions``       :class:`~lstmae.data.io.SequenceData`, needs aeon
``japanese-vowels``     :class:`~lstmae.data.io.SequenceData` (variable length), needs aeon
``kdd-tsad-135``        :class:`AnomalyDataset` (real, one labelled anomaly), needs aeon
======================  ======================================================================

Shape legend: T time points, F features, N sequences, L sequence length,
S frame side in pixels (a frame is flattened to S*S features).
"""

from __future__ import annotations

import difflib
import functools
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from lstmae.data.io import SequenceData

__all__ = [
    "AnomalyDataset",
    "MovingDigits",
    "list_datasets",
    "load_dataset",
    "load_real",
    "load_tutorial",
    "make_moving_digits",
    "make_sines",
]

ANOMALY_KINDS: tuple[str, ...] = ("spike", "level_shift", "frequency")


# --------------------------------------------------------------------------- containers
@dataclass
class AnomalyDataset:
    """One long series with point-wise anomaly labels.

    Attributes
    ----------
    series : numpy.ndarray, shape (T, F), float32
    labels : numpy.ndarray, shape (T,), int64
        1 at anomalous time points, 0 elsewhere.
    anomalies : list of dict
        One dict per anomaly: ``start``, ``end`` (exclusive, so the anomaly is
        ``series[start:end]``), ``kind`` and ``feature`` (column index, or None
        when unknown).
    train_end : int
        ``series[:train_end]`` holds no anomaly: fit on it, score the whole series
        (or ``series[train_end:]``).
    feature_names : list of str
    description : str
    name : str
    clean : numpy.ndarray of shape (T, F) or None
        Generated data only: the series before the anomalies were injected.
    """

    series: np.ndarray
    labels: np.ndarray
    anomalies: list[dict[str, Any]]
    train_end: int
    feature_names: list[str]
    description: str
    name: str = ""
    clean: np.ndarray | None = field(default=None, repr=False)

    @property
    def train(self) -> np.ndarray:
        """The clean training part ``series[:train_end]``, shape ``(train_end, F)``."""
        return self.series[: self.train_end]

    @property
    def test(self) -> np.ndarray:
        """The part that holds the anomalies, ``series[train_end:]``."""
        return self.series[self.train_end :]

    @property
    def test_labels(self) -> np.ndarray:
        """Labels of :attr:`test`, ``labels[train_end:]``."""
        return self.labels[self.train_end :]


@dataclass
class MovingDigits:
    """Moving-MNIST-style videos.

    Attributes
    ----------
    frames : numpy.ndarray, shape (N, n_frames, S*S), float32 in [0, 1]
        Flattened frames; ``frames.reshape(N, n_frames, S, S)`` gives images.
    labels : numpy.ndarray, shape (N, n_digits), int64
        The class (0-9) of every digit in each video.
    positions : numpy.ndarray, shape (N, n_frames, n_digits, 2), int64
        Top-left (row, column) pixel of every digit in every frame.
    frame_size : int
        S.
    n_input_frames : int
        Frames ``[:n_input_frames]`` are the input, the rest the future to
        predict (10 and 10 for the default 20 frames, as in Srivastava et al.).
    description : str
    """

    frames: np.ndarray
    labels: np.ndarray
    positions: np.ndarray
    frame_size: int
    n_input_frames: int
    description: str

    @property
    def inputs(self) -> np.ndarray:
        """``frames[:, :n_input_frames]``."""
        return self.frames[:, : self.n_input_frames]

    @property
    def future(self) -> np.ndarray:
        """``frames[:, n_input_frames:]``."""
        return self.frames[:, self.n_input_frames :]


# --------------------------------------------------------------------------- tutorial
def load_tutorial() -> np.ndarray:
    """The nine-step toy sequence of the LSTM autoencoder tutorial.

    Returns
    -------
    numpy.ndarray, shape (1, 9, 1), float32
        ``[0.1, 0.2, ..., 0.9]``: one sequence of nine steps with one feature.
    """
    return np.array([0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9], dtype=np.float32).reshape(1, 9, 1)


# --------------------------------------------------------------------------- sines
def _check_int(value: object, name: str, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")
    return int(value)


def make_sines(
    n_points: int = 5000,
    n_features: int = 3,
    anomaly_fraction: float = 0.02,
    random_state: int | None = 0,
    *,
    train_fraction: float = 0.4,
    noise: float = 0.05,
) -> AnomalyDataset:
    """Noisy multivariate sines with injected, labelled anomalies.

    Each feature ``f`` is ``sin(2*pi*t / period_f + phase_f) + noise * N(0, 1)``
    with its own period and phase. The periods are drawn from the divisors of 200
    between 20 and 100 (20, 25, 40, 50, 100), so the joint pattern of all features
    repeats every 200 steps and the clean training part shows every normal
    combination of phases several times. After ``train_end`` the
    generator injects anomalies, each on one feature, cycling through three kinds:

    ``spike``
        1 to 3 points pushed up or down by 2.5 to 4.
    ``level_shift``
        a segment offset by 1 to 2 (either sign).
    ``frequency``
        a segment where the sine runs 2.5 to 3.5 times faster (phase-continuous
        at the start of the segment, fresh noise).

    Segments last ``max(8, n_points // 200)`` steps; anomalies never overlap and
    are separated by at least a segment length.

    Parameters
    ----------
    n_points : int, default 5000
        T, the length of the series (>= 200).
    n_features : int, default 3
        F.
    anomaly_fraction : float, default 0.02
        Target fraction of anomalous points; anomalies are added while they fit
        in this budget (at least one when it is > 0). 0 gives a clean series.
    random_state : int or None, default 0
        Seed; the same seed gives the same data.
    train_fraction : float, default 0.4
        ``train_end = round(train_fraction * n_points)``; no anomaly before it.
    noise : float, default 0.05
        Standard deviation of the gaussian noise.

    Returns
    -------
    AnomalyDataset
        ``series`` (T, F) float32, ``labels`` (T,) 0/1 marking exactly the
        anomalous segments, ``anomalies`` (sorted by start), ``train_end``,
        ``clean`` (the series before injection).
    """
    n_points = _check_int(n_points, "n_points", 200)
    n_features = _check_int(n_features, "n_features", 1)
    if not 0.0 <= float(anomaly_fraction) < 0.5:
        raise ValueError(f"anomaly_fraction must be in [0, 0.5), got {anomaly_fraction!r}")
    if not 0.0 < float(train_fraction) < 1.0:
        raise ValueError(f"train_fraction must be in (0, 1), got {train_fraction!r}")
    if float(noise) < 0:
        raise ValueError(f"noise must be >= 0, got {noise!r}")
    rng = np.random.default_rng(random_state)

    t = np.arange(n_points, dtype=np.float64)
    periods = rng.choice(np.array([20.0, 25.0, 40.0, 50.0, 100.0]), size=n_features, replace=n_features > 5)
    phases = rng.uniform(0.0, 2 * np.pi, n_features)
    clean = np.sin(2 * np.pi * t[:, None] / periods + phases) + noise * rng.standard_normal(
        (n_points, n_features)
    )
    series = clean.copy()
    train_end = int(round(float(train_fraction) * n_points))
    seg = max(8, n_points // 200)

    # Choose kinds and lengths within the budget, cycling through the kinds.
    budget = int(round(float(anomaly_fraction) * n_points))
    order = list(rng.permutation(len(ANOMALY_KINDS)))
    plan: list[tuple[str, int]] = []
    used = 0
    while budget > 0:
        kind = ANOMALY_KINDS[order[len(plan) % len(order)]]
        length = int(rng.integers(1, 4)) if kind == "spike" else seg
        if plan and used + length > budget:
            break
        plan.append((kind, length))
        used += length
    margin = seg
    test_len = n_points - train_end
    free = test_len - used - margin * (len(plan) + 1)
    if free < 0:
        raise ValueError(
            f"anomaly_fraction={anomaly_fraction} needs more room than the {test_len} points after "
            f"train_end; lower anomaly_fraction or train_fraction, or raise n_points"
        )

    anomalies: list[dict[str, Any]] = []
    labels = np.zeros(n_points, dtype=np.int64)
    if plan:
        cuts = np.sort(rng.integers(0, free + 1, len(plan)))
        extras = np.diff(np.concatenate([[0], cuts]))  # extra gap before each anomaly
        pos = train_end
        for (kind, length), extra in zip(plan, extras):
            start = pos + margin + int(extra)
            end = start + length
            pos = end
            f = int(rng.integers(n_features))
            if kind == "spike":
                sign = rng.choice([-1.0, 1.0], size=length)
                series[start:end, f] += sign * rng.uniform(2.5, 4.0, size=length)
            elif kind == "level_shift":
                series[start:end, f] += rng.choice([-1.0, 1.0]) * rng.uniform(1.0, 2.0)
            else:
                factor = rng.uniform(2.5, 3.5)
                new_period = periods[f] / factor
                phase0 = 2 * np.pi * start / periods[f] + phases[f]
                tt = t[start:end] - start
                series[start:end, f] = np.sin(2 * np.pi * tt / new_period + phase0) + (
                    noise * rng.standard_normal(length)
                )
            labels[start:end] = 1
            anomalies.append({"start": start, "end": end, "kind": kind, "feature": f})

    counts = {k: sum(a["kind"] == k for a in anomalies) for k in ANOMALY_KINDS}
    description = (
        f"{n_features} noisy sines (periods {', '.join(f'{p:.0f}' for p in periods)}), "
        f"{n_points} points; {len(anomalies)} anomalies after train_end={train_end} "
        f"({', '.join(f'{v} {k}' for k, v in counts.items())}), "
        f"{int(labels.sum())} anomalous points"
    )
    return AnomalyDataset(
        series=series.astype(np.float32),
        labels=labels,
        anomalies=anomalies,
        train_end=train_end,
        feature_names=[f"sine_{i}" for i in range(n_features)],
        description=description,
        name="sines",
        clean=clean.astype(np.float32),
    )


# --------------------------------------------------------------------------- moving digits
@functools.lru_cache(maxsize=1)
def _digits() -> tuple[np.ndarray, np.ndarray]:
    from sklearn.datasets import load_digits

    bunch = load_digits()
    return (bunch.images / 16.0).astype(np.float32), bunch.target.astype(np.int64)


def _bounce(x: np.ndarray, limit: float) -> np.ndarray:
    """Fold positions into [0, limit] as if reflected by walls at 0 and limit."""
    if limit == 0:
        return np.zeros_like(x)
    y = np.mod(x, 2 * limit)
    return limit - np.abs(limit - y)


def make_moving_digits(
    n_sequences: int = 1000,
    frame_size: int = 32,
    n_frames: int = 20,
    n_digits: int = 2,
    digit_size: int = 16,
    random_state: int | None = 0,
    *,
    speed: tuple[float, float] = (1.0, 3.0),
) -> MovingDigits:
    """Videos of digits bouncing in a box, after the Moving MNIST recipe.

    Follows Srivastava, Mansimov & Salakhutdinov (2015), "Unsupervised Learning of
    Video Representations using LSTMs", with scikit-learn's bundled 8x8 digits
    (no download) upscaled to ``digit_size`` by nearest neighbour and scaled to
    [0, 1]. Each digit starts at a random position with a random direction and a
    constant speed, bounces off the walls (its position is reflected), and
    overlapping digits combine by pixel-wise maximum. The first ``n_frames // 2``
    frames (10 of the default 20) are the input, the rest the future.

    Parameters
    ----------
    n_sequences : int, default 1000
        N.
    frame_size : int, default 32
        S, the side of a square frame in pixels.
    n_frames : int, default 20
        Frames per video.
    n_digits : int, default 2
        Digits per video.
    digit_size : int, default 16
        Side of a digit in pixels (<= frame_size).
    random_state : int or None, default 0
        Seed; the same seed gives the same videos.
    speed : (float, float), default (1.0, 3.0)
        Range of speeds in pixels per frame.

    Returns
    -------
    MovingDigits
        ``frames`` (N, n_frames, S*S) float32 in [0, 1], ``labels`` (N, n_digits),
        ``positions`` (N, n_frames, n_digits, 2).
    """
    n_sequences = _check_int(n_sequences, "n_sequences", 1)
    frame_size = _check_int(frame_size, "frame_size", 1)
    n_frames = _check_int(n_frames, "n_frames", 1)
    n_digits = _check_int(n_digits, "n_digits", 1)
    digit_size = _check_int(digit_size, "digit_size", 1)
    if digit_size > frame_size:
        raise ValueError(f"digit_size={digit_size} does not fit in frame_size={frame_size}")
    lo_speed, hi_speed = (float(s) for s in speed)
    if not 0 <= lo_speed <= hi_speed:
        raise ValueError(f"speed must be a range (low, high) with 0 <= low <= high, got {speed!r}")
    rng = np.random.default_rng(random_state)

    images, targets = _digits()
    pick = rng.integers(0, len(images), size=(n_sequences, n_digits))
    up = np.arange(digit_size) * images.shape[1] // digit_size  # nearest-neighbour upscaling
    sprites = images[pick][:, :, up][:, :, :, up]  # (N, D, ds, ds)

    limit = frame_size - digit_size
    start = rng.uniform(0, limit, size=(n_sequences, n_digits, 2))
    theta = rng.uniform(0, 2 * np.pi, size=(n_sequences, n_digits))
    velocity = rng.uniform(lo_speed, hi_speed, size=(n_sequences, n_digits))[..., None] * np.stack(
        [np.sin(theta), np.cos(theta)], axis=-1
    )
    steps = np.arange(n_frames, dtype=np.float64)[None, :, None, None]
    raw = start[:, None] + velocity[:, None] * steps  # (N, T, D, 2)
    positions = np.rint(_bounce(raw, float(limit))).astype(np.int64)
    np.clip(positions, 0, limit, out=positions)

    frames = np.zeros((n_sequences, n_frames, frame_size, frame_size), dtype=np.float32)
    n_idx = np.arange(n_sequences)[:, None, None, None]
    t_idx = np.arange(n_frames)[None, :, None, None]
    offs = np.arange(digit_size)
    for d in range(n_digits):
        rows = (positions[:, :, d, 0][..., None] + offs)[..., :, None]  # (N, T, ds, 1)
        cols = (positions[:, :, d, 1][..., None] + offs)[..., None, :]  # (N, T, 1, ds)
        sprite = sprites[:, d][:, None]  # (N, 1, ds, ds)
        index = (n_idx, t_idx, rows, cols)
        if d == 0:
            frames[index] = sprite
        else:  # one digit never covers a pixel twice: gather, max, scatter is exact
            frames[index] = np.maximum(frames[index], sprite)

    n_in = n_frames // 2
    description = (
        f"{n_sequences} videos of {n_frames} frames {frame_size}x{frame_size} with {n_digits} "
        f"bouncing {digit_size}x{digit_size} digits (sklearn 8x8 digits upscaled); frames are "
        f"flattened to {frame_size * frame_size} features; the first {n_in} frames are the "
        f"input, the next {n_frames - n_in} the future"
    )
    return MovingDigits(
        frames=frames.reshape(n_sequences, n_frames, frame_size * frame_size),
        labels=targets[pick],
        positions=positions,
        frame_size=frame_size,
        n_input_frames=n_in,
        description=description,
    )


# --------------------------------------------------------------------------- real (aeon)
_REAL: dict[str, tuple[str, str]] = {
    "gunpoint": (
        "load_gunpoint",
        "GunPoint (UCR): 200 univariate sequences of 150 steps, hand motion, 2 classes",
    ),
    "italy-power-demand": (
        "load_italy_power_demand",
        "ItalyPowerDemand (UCR): 1096 univariate daily load curves of 24 steps, 2 classes",
    ),
    "basic-motions": (
        "load_basic_motions",
        "BasicMotions (UEA): 80 sequences of 100 steps with 6 sensor features, 4 activities",
    ),
    "japanese-vowels": (
        "load_japanese_vowels",
        "JapaneseVowels (UEA): 640 variable-length (7-29 steps) sequences, 12 features, 9 speakers",
    ),
    "kdd-tsad-135": (
        "load_kdd_tsad_135",
        "KDD Cup 2021 TSAD #135: heart-rate series of 7501 points, one labelled anomaly; "
        "the first 1200 points are clean training data",
    ),
}


def _import_aeon_datasets(name: str) -> Any:
    try:
        import aeon.datasets as aeon_datasets
    except ImportError as exc:
        raise ImportError(
            f"dataset {name!r} is read from the optional package aeon, which is not installed "
            f'(or failed to import: {exc}); install it with: pip install "lstmae[datasets]"'
        ) from exc
    return aeon_datasets


def load_real(name: str, split: str | None = None) -> SequenceData | AnomalyDataset:
    """A real labelled dataset shipped inside aeon's wheel (read offline).

    Needs the optional extra: ``pip install "lstmae[datasets]"`` (installs aeon).

    Parameters
    ----------
    name : str
        One of ``gunpoint``, ``italy-power-demand``, ``basic-motions``,
        ``japanese-vowels`` (classification: sequences with one label each) or
        ``kdd-tsad-135`` (anomaly detection: one long series).
    split : {None, "train", "test"}, default None
        Classification sets only: the original train or test split, or both
        (train first). Ignored by ``kdd-tsad-135``, which returns the whole
        series with ``train_end=1200``.

    Returns
    -------
    SequenceData or AnomalyDataset
        Classification: ``SequenceData(kind="sequences")`` with ``(L, F)`` float32
        sequences (batch-first, converted from aeon's ``(N, F, L)``) and string
        class ``labels`` of shape ``(N,)``; ``as_array()`` gives ``(N, L, F)``
        except for the variable-length ``japanese-vowels``.
        Anomaly detection: :class:`AnomalyDataset` with a ``(T, 1)`` series.

    Raises
    ------
    ImportError
        If aeon is not installed; the message says how to install it.
    ValueError
        For an unknown name or split.
    """
    key = _normalise(name)
    if key not in _REAL:
        raise ValueError(f"unknown real dataset {name!r}; available: {', '.join(_REAL)}")
    if split is not None and str(split).lower() not in ("train", "test"):
        raise ValueError(f"split must be None, 'train' or 'test', got {split!r}")
    aeon_datasets = _import_aeon_datasets(key)
    loader = getattr(aeon_datasets, _REAL[key][0], None)
    if loader is None:
        raise ImportError(
            f"the installed aeon has no {_REAL[key][0]}(); install a version that ships "
            f'{key!r}: pip install "lstmae[datasets]"'
        )
    if key == "kdd-tsad-135":
        X, y = loader(split="test")  # the test file is the whole series; its first 1200 points = train
        series = np.asarray(X, dtype=np.float32).reshape(-1, 1)
        labels = np.asarray(y, dtype=np.int64)
        edges = np.flatnonzero(np.diff(np.concatenate([[0], labels, [0]])))
        anomalies = [
            {"start": int(s), "end": int(e), "kind": "labelled", "feature": 0}
            for s, e in zip(edges[::2], edges[1::2])
        ]
        return AnomalyDataset(
            series=series,
            labels=labels,
            anomalies=anomalies,
            train_end=1200,
            feature_names=["heart_rate"],
            description=_REAL[key][1],
            name=key,
        )
    X, y = loader(split=split.upper() if split else None)
    if isinstance(X, np.ndarray):  # (N, F, L) -> (N, L, F)
        arr = np.ascontiguousarray(np.transpose(X, (0, 2, 1)), dtype=np.float32)
        sequences = list(arr)
    else:  # list of (F, L_i)
        sequences = [np.ascontiguousarray(np.asarray(x, dtype=np.float32).T) for x in X]
    n_features = sequences[0].shape[1]
    return SequenceData(
        sequences=sequences,
        feature_names=[str(i) for i in range(n_features)],
        kind="sequences",
        labels=np.asarray(y),
        source=f"aeon:{_REAL[key][0]}",
    )


# --------------------------------------------------------------------------- registry
_GENERATED: dict[str, tuple[Callable[..., Any], str]] = {
    "tutorial": (load_tutorial, "the (1, 9, 1) toy sequence 0.1 ... 0.9 of the LSTM autoencoder tutorial"),
    "sines": (make_sines, "noisy multivariate sines with labelled spikes, level shifts and frequency changes"),
    "moving-digits": (
        make_moving_digits,
        "Moving-MNIST-style videos of bouncing sklearn digits, (N, 20, 32*32) in [0, 1]",
    ),
}


def _normalise(name: str) -> str:
    return str(name).strip().lower().replace("_", "-").replace(" ", "-")


def list_datasets() -> dict[str, str]:
    """Name -> one-line description of every built-in dataset.

    Real datasets (read from aeon's wheel) say so; they need ``lstmae[datasets]``.
    """
    out = {name: desc for name, (_, desc) in _GENERATED.items()}
    out.update({name: f"{desc} [needs aeon: pip install \"lstmae[datasets]\"]" for name, (_, desc) in _REAL.items()})
    return out


def load_dataset(name: str, **kwargs: Any) -> Any:
    """Load a built-in dataset by name; ``kwargs`` go to its loader.

    Parameters
    ----------
    name : str
        See :func:`list_datasets` (case and ``_``/``-`` do not matter).
    **kwargs
        Passed on, e.g. ``load_dataset("sines", n_points=2000, random_state=1)``
        or ``load_dataset("gunpoint", split="train")``.

    Returns
    -------
    numpy.ndarray, AnomalyDataset, MovingDigits or SequenceData
        See the table in the module docstring.

    Raises
    ------
    ValueError
        For an unknown name; the message lists the known ones.
    """
    key = _normalise(name)
    if key in _GENERATED:
        return _GENERATED[key][0](**kwargs)
    if key in _REAL:
        return load_real(key, **kwargs)
    names = list(_GENERATED) + list(_REAL)
    close = difflib.get_close_matches(key, names, n=1)
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    raise ValueError(f"unknown dataset {name!r}{hint}; available: {', '.join(names)}")
