"""The demo (`lstmae demo`, `make demo`): the main job on built-in data, end to end.

1. Generate `sines` (3 noisy sines with injected spikes, level shifts and frequency
   changes); train a composite LSTM autoencoder on windows of the clean first part.
2. Measure reconstruction and forecast errors on clean windows of the later part
   against naive baselines (the training mean; the last value repeated).
3. Score every time point of the whole series by reconstruction error, set the
   threshold on held-out normal data, and report precision / recall against the
   injected anomalies' labels.
4. Write the model directory and PNG plots into the output folder.
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .data.windows import sliding_windows
from .datasets import make_sines
from .estimators import LSTMAutoencoder
from .plotting import plot_history, plot_reconstruction, plot_scores
from .scoring import series_scores

WINDOW, HORIZON = 32, 8


@dataclass
class DemoResult:
    rows: list[tuple[str, str, str]]  # (measure, lstmae, baseline)
    files: list[Path]
    seconds: float


def _event_recall(labels: np.ndarray, predicted: np.ndarray) -> tuple[int, int]:
    """Anomalous segments with at least one detected point, and the number of segments."""
    edges = np.flatnonzero(np.diff(np.concatenate([[0], labels, [0]])))
    segments = list(zip(edges[::2], edges[1::2]))
    found = sum(bool(predicted[s:e].any()) for s, e in segments)
    return found, len(segments)


def run_demo(output: str | Path = "demo-output", epochs: int = 40, seed: int = 0, verbose: bool = True) -> DemoResult:
    start = time.perf_counter()
    output = Path(output)
    data = make_sines(random_state=seed)
    train_end = data.train_end
    fit_end = int(train_end * 0.8)  # the rest of the clean part calibrates the threshold

    ae = LSTMAutoencoder(
        task="composite", horizon=HORIZON, reverse=True, hidden_size=48, batch_size=64, learning_rate=3e-3, epochs=epochs,
        validation_split=0.2, patience=5, random_state=seed, verbose=verbose,
    )
    t0 = time.perf_counter()
    ae.fit(np.ascontiguousarray(sliding_windows(data.series[:fit_end], WINDOW + HORIZON, stride=2)))
    fit_seconds = time.perf_counter() - t0

    # errors on clean windows of the later part (the series before anomalies were injected)
    clean = data.clean if data.clean is not None else data.series
    inputs, future = sliding_windows(clean[train_end:], WINDOW, stride=WINDOW, horizon=HORIZON)
    inputs, future = np.ascontiguousarray(inputs), np.ascontiguousarray(future)
    rec, fc = ae.reconstruct(inputs), ae.predict(inputs)
    mean = data.series[:fit_end].mean(axis=0)
    rec_mse, rec_base = float(((rec - inputs) ** 2).mean()), float(((inputs - mean) ** 2).mean())
    fc_mse = float(((fc - future) ** 2).mean())
    fc_last = float(((inputs[:, -1:, :] - future) ** 2).mean())

    # anomaly detection on the whole series; threshold from held-out normal points
    scores = series_scores(ae, data.series, WINDOW)
    calibration = scores[fit_end + WINDOW : train_end]
    threshold = float(calibration.mean() + 4 * calibration.std())
    predicted = (scores > threshold).astype(np.int64)
    labels = data.labels
    test = slice(train_end, None)
    tp = int((predicted[test] & labels[test]).sum())
    precision = tp / max(int(predicted[test].sum()), 1)
    recall = tp / max(int(labels[test].sum()), 1)
    found, n_events = _event_recall(labels[test], predicted[test])

    model_dir = output / "model"
    ae.save(model_dir)
    files = [
        model_dir,
        plot_history(ae.history_, output / "history.png"),
        plot_reconstruction(inputs[3], rec[3], output / "reconstruction.png", forecast=fc[3], future=future[3],
                            feature_names=data.feature_names),
        plot_scores(data.series, scores, threshold, output / "scores.png", labels=labels, predicted=predicted),
    ]
    rows = [
        ("reconstruction MSE (clean test windows)", f"{rec_mse:.4f}", f"{rec_base:.4f} (training mean)"),
        (f"forecast MSE, {HORIZON} steps ahead", f"{fc_mse:.4f}", f"{fc_last:.4f} (last value repeated)"),
        ("anomaly precision (point-wise)", f"{precision:.2f}", f"{labels[test].mean():.2f} (flag everything)"),
        ("anomaly recall (point-wise)", f"{recall:.2f}", "1.00 (flag everything)"),
        ("anomalies with a detected point", f"{found} / {n_events}", ""),
        ("training time", f"{fit_seconds:.1f} s ({len(ae.history_['train_loss'])} epochs)", ""),
    ]
    return DemoResult(rows=rows, files=files, seconds=time.perf_counter() - start)
