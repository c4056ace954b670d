"""Matplotlib figures: training history, a reconstruction, anomaly scores.

Every function draws with the non-interactive Agg backend, writes a PNG atomically
and returns its path; nothing here opens a window.
"""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from ._atomic import atomic_path


def _pyplot():
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    return plt


def _save(fig, path: str | os.PathLike) -> Path:
    plt = _pyplot()
    path = Path(path)
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=110, bbox_inches="tight")
    plt.close(fig)
    return path


def plot_history(history: dict, path: str | os.PathLike) -> Path:
    """Training (and validation) loss per epoch, log scale."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6, 3.5))
    epochs = np.arange(1, len(history["train_loss"]) + 1)
    ax.plot(epochs, history["train_loss"], label="train")
    if history.get("val_loss"):
        ax.plot(epochs, history["val_loss"], label="validation")
    if history.get("best_epoch") is not None:
        ax.axvline(history["best_epoch"] + 1, color="grey", ls=":", label="best epoch")
    ax.set_xlabel("epoch")
    ax.set_ylabel("loss")
    ax.set_yscale("log")
    ax.set_title("Training history")
    ax.legend()
    return _save(fig, path)


def plot_reconstruction(
    original: np.ndarray, reconstruction: np.ndarray, path: str | os.PathLike,
    forecast: np.ndarray | None = None, future: np.ndarray | None = None, feature_names: list[str] | None = None,
) -> Path:
    """One sequence (L, F) and its reconstruction, and optionally forecast vs. true future (K, F)."""
    plt = _pyplot()
    original, reconstruction = np.asarray(original), np.asarray(reconstruction)
    n_features = original.shape[1]
    fig, axes = plt.subplots(n_features, 1, figsize=(7, 1.8 * n_features + 0.6), sharex=True, squeeze=False)
    steps = np.arange(original.shape[0])
    for f, ax in enumerate(axes[:, 0]):
        ax.plot(steps, original[:, f], color="black", lw=1.2, label="input")
        ax.plot(steps, reconstruction[:, f], color="tab:blue", ls="--", label="reconstruction")
        if forecast is not None:
            ahead = np.arange(original.shape[0], original.shape[0] + forecast.shape[0])
            if future is not None:
                ax.plot(ahead, future[:, f], color="black", lw=1.2, alpha=0.5, label="true future")
            ax.plot(ahead, forecast[:, f], color="tab:orange", ls="--", label="forecast")
        ax.set_ylabel(feature_names[f] if feature_names else f"feature {f}")
    axes[0, 0].legend(loc="upper right", fontsize="small", ncol=4)
    axes[-1, 0].set_xlabel("time step")
    fig.suptitle("Reconstruction and forecast of one window")
    return _save(fig, path)


def plot_scores(
    series: np.ndarray, scores: np.ndarray, threshold: float, path: str | os.PathLike,
    labels: np.ndarray | None = None, predicted: np.ndarray | None = None,
) -> Path:
    """The series, the per-point anomaly scores with the threshold, true labels shaded in red."""
    plt = _pyplot()
    series = np.asarray(series)
    if series.ndim == 1:
        series = series[:, None]
    t = np.arange(series.shape[0])
    fig, (ax1, ax2) = plt.subplots(2, 1, figsize=(10, 5), sharex=True, height_ratios=[2, 1])
    for f in range(series.shape[1]):
        ax1.plot(t, series[:, f], lw=0.7)
    ax1.set_ylabel("series")
    ax2.plot(t, scores, color="tab:purple", lw=0.8, label="anomaly score")
    ax2.axhline(threshold, color="tab:red", ls="--", lw=1, label="threshold")
    for ax in (ax1, ax2):
        if labels is not None:
            ax.fill_between(t, 0, 1, where=np.asarray(labels) > 0, color="red", alpha=0.15,
                            transform=ax.get_xaxis_transform(), label="true anomaly" if ax is ax2 else None)
        if predicted is not None:
            ax.fill_between(t, 0, 0.08, where=np.asarray(predicted) > 0, color="black", alpha=0.6,
                            transform=ax.get_xaxis_transform(), label="detected" if ax is ax2 else None)
    ax2.set_yscale("log")
    ax2.set_xlabel("time")
    ax2.legend(loc="upper left", fontsize="small", ncol=4)
    ax1.set_title("Anomaly scores")
    return _save(fig, path)
