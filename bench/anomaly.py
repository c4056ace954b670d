"""Anomaly-detection benchmark: lstmae's detector vs. simple baselines, measured in one run.

    python bench/anomaly.py            # full run (a few minutes on 2 cores)
    python bench/anomaly.py --quick    # smoke run (small models)

Every method trains on normal data only (the first part of each series, before any
labelled anomaly), sets its threshold the same way (mean + 4 std of its scores on the
last 25 % of that normal part, held out from training), and is scored on the rest of
the series. Metrics (lstmae.metrics): ROC-AUC and PR-AUC of the per-point scores,
point-wise and event-wise precision / recall / F1 of the flags (no point adjustment).

Datasets: the built-in `sines` (3 features; spikes, level shifts, frequency changes) for
two seeds, and, when aeon is installed (`pip install "lstmae[datasets]"`), the real
`kdd-tsad-135` heart-rate series shipped in aeon's wheel.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
from sklearn.decomposition import PCA
from sklearn.ensemble import IsolationForest

from lstmae import LSTMAnomalyDetector, LSTMAutoencoder
from lstmae.data.windows import reverse_windowing, sliding_windows
from lstmae.data.synthetic import make_sines
from lstmae.metrics import detection_metrics

WINDOW, HOLDOUT, K = 32, 0.25, 4.0


def lstm_configs(epochs: int, hidden: int) -> dict[str, LSTMAnomalyDetector]:
    common = dict(hidden_size=hidden, epochs=epochs, learning_rate=3e-3, batch_size=64, validation_split=0.1,
                  patience=5, random_state=0)
    return {
        "lstmae repeat, reversed; Mahalanobis": LSTMAnomalyDetector(
            autoencoder=LSTMAutoencoder(reverse=True, **common), error_model="mahalanobis"),
        "lstmae repeat, reversed; mean error": LSTMAnomalyDetector(
            autoencoder=LSTMAutoencoder(reverse=True, **common), error_model="mean"),
        "lstmae repeat, natural order; Mahalanobis": LSTMAnomalyDetector(
            autoencoder=LSTMAutoencoder(**common), error_model="mahalanobis"),
        "lstmae repeat, natural order; mean error (default)": LSTMAnomalyDetector(
            autoencoder=LSTMAutoencoder(**common), error_model="mean"),
        "EncDec-AD (state, conditional, reversed; Mahalanobis)": LSTMAnomalyDetector(
            autoencoder=LSTMAutoencoder(bridge="state", conditional=True, reverse=True, **common),
            error_model="mahalanobis"),
    }


def _standardise(train: np.ndarray, *others: np.ndarray):
    mean, std = train.mean(axis=0), train.std(axis=0) + 1e-8
    return [(a - mean) / std for a in (train, *others)]


def pca_scores(fit_part: np.ndarray, series: np.ndarray) -> np.ndarray:
    """Per-point squared PCA reconstruction error of the windows (95 % of the variance kept)."""
    f, s = _standardise(fit_part, series)
    train_w = sliding_windows(f, WINDOW).reshape(-1, WINDOW * f.shape[1])
    pca = PCA(n_components=0.95, random_state=0).fit(train_w)
    w = sliding_windows(s, WINDOW)
    flat = w.reshape(len(w), -1)
    rec = pca.inverse_transform(pca.transform(flat))
    errors = ((flat - rec) ** 2).reshape(len(w), WINDOW, -1).mean(axis=2)
    return reverse_windowing(errors, WINDOW, 1, n_points=len(s))


def iforest_scores(fit_part: np.ndarray, series: np.ndarray) -> np.ndarray:
    """Per-point mean IsolationForest anomaly score of the windows covering each point."""
    f, s = _standardise(fit_part, series)
    forest = IsolationForest(n_estimators=200, random_state=0).fit(sliding_windows(f, WINDOW).reshape(-1, WINDOW * f.shape[1]))
    w = sliding_windows(s, WINDOW)
    per_window = -forest.score_samples(w.reshape(len(w), -1))
    return reverse_windowing(per_window, WINDOW, 1, n_points=len(s))


def datasets(quick: bool):
    out = [("sines (seed 0)", make_sines(random_state=0))]
    if not quick:
        out.append(("sines (seed 1)", make_sines(random_state=1)))
        try:
            from lstmae.data.datasets import load_real

            out.append(("kdd-tsad-135 (aeon, real ECG heart rate)", load_real("kdd-tsad-135")))
        except ImportError as exc:
            print(f"skipping kdd-tsad-135: {exc}", file=sys.stderr)
    return out


def run(quick: bool) -> list[dict]:
    rows = []
    epochs, hidden = (3, 16) if quick else (40, 64)
    for name, data in datasets(quick):
        series, end = data.series.astype(np.float64), data.train_end
        cut = int(round(end * (1 - HOLDOUT)))
        test = slice(end, None)
        labels = data.labels[test]

        def record(method: str, scores: np.ndarray, threshold: float, seconds: float) -> None:
            m = detection_metrics(labels, scores[test], scores[test] > threshold)
            rows.append({"dataset": name, "method": method, "seconds": round(seconds, 1),
                         **{k: round(v, 3) for k, v in m.items()}})
            print(f"{name:42s} {method:55s} ROC {m['roc_auc']:.3f}  PR {m['pr_auc']:.3f}  "
                  f"point F1 {m['point_f1']:.3f}  event F1 {m['event_f1']:.3f}  ({seconds:.0f} s)", flush=True)

        for method, det in lstm_configs(epochs, hidden).items():
            t = time.perf_counter()
            det.set_params(window=WINDOW, holdout=HOLDOUT, threshold="k-sigma", k_sigma=K)
            det.fit_series(series[:end])
            scores = det.score_series(series)
            record(method, scores, det.threshold_, time.perf_counter() - t)

        for method, fn in [("PCA reconstruction error (same windows)", pca_scores),
                           ("IsolationForest (same windows)", iforest_scores)]:
            t = time.perf_counter()
            scores = fn(series[:cut], series)
            normal = scores[cut + WINDOW : end]  # held-out normal points, as for the detector
            record(method, scores, normal.mean() + K * normal.std(), time.perf_counter() - t)
    return rows


def markdown(rows: list[dict]) -> str:
    cols = ["roc_auc", "pr_auc", "point_precision", "point_recall", "point_f1", "event_precision",
            "event_recall", "event_f1", "seconds"]
    head = "| dataset | method | " + " | ".join(c.replace("_", " ") for c in cols) + " |"
    lines = [head, "|" + " --- |" * (len(cols) + 2)]
    for r in rows:
        lines.append(f"| {r['dataset']} | {r['method']} | " + " | ".join(str(r[c]) for c in cols) + " |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small models, one dataset: a smoke run")
    parser.add_argument("--json", type=Path, default=Path("bench/results/anomaly.json"))
    args = parser.parse_args()
    start = time.perf_counter()
    rows = run(args.quick)
    print()
    print(markdown(rows))
    print(f"\ntotal {time.perf_counter() - start:.0f} s")
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(rows, indent=2))


if __name__ == "__main__":
    main()
