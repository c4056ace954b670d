"""Generated datasets, deterministic per seed; nothing here downloads anything.

:func:`load_tutorial`
    The ``(1, 9, 1)`` float32 toy sequence ``[0.1, ..., 0.9]``.
:func:`make_sines`
    :class:`~lstmae.data.containers.AnomalyDataset`: noisy multivariate sines
    with labelled anomalies of the kinds in :data:`ANOMALY_KINDS`.
:func:`make_moving_digits`
    :class:`~lstmae.data.containers.MovingDigits`: Moving-MNIST-style videos from
    sklearn's 8x8 digits.

Shape legend: T time points, F features, N sequences, S frame side in pixels
(a frame is flattened to S*S features).
"""

from __future__ import annotations

import functools
from typing import Any

import numpy as np

from lstmae._validation import check_int
from lstmae.data.containers import AnomalyDataset, MovingDigits

__all__ = [
    "ANOMALY_KINDS",
    "load_tutorial",
    "make_moving_digits",
    "make_sines",
]

ANOMALY_KINDS: tuple[str, ...] = ("spike", "level_shift", "frequency")


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
    n_points = check_int("n_points", n_points, 200)
    n_features = check_int("n_features", n_features, 1)
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
    n_sequences = check_int("n_sequences", n_sequences, 1)
    frame_size = check_int("frame_size", frame_size, 1)
    n_frames = check_int("n_frames", n_frames, 1)
    n_digits = check_int("n_digits", n_digits, 1)
    digit_size = check_int("digit_size", digit_size, 1)
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
