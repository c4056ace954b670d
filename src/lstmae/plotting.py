"""Matplotlib figures: training history, a reconstruction, anomaly scores, a map of codes.

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


def plot_codes(
    codes: np.ndarray, path: str | os.PathLike, labels: np.ndarray | None = None, method: str = "pca",
    random_state: int = 0, title: str | None = None,
) -> Path:
    """Codes (N, C) mapped to 2-D by PCA (default) or t-SNE, one point per code, coloured by label.

    Up to 20 distinct labels (or any non-numeric ones) get a colour each and a legend;
    more numeric labels a continuous colour scale.
    """
    codes = np.asarray(codes, dtype=np.float64)
    if codes.ndim != 2 or codes.shape[0] < 2:
        raise ValueError(f"plot_codes needs codes shaped (N, C) with N >= 2, got shape {codes.shape}.")
    if labels is not None:
        labels = np.asarray(labels)
        if len(labels) != len(codes):
            raise ValueError(f"{len(labels)} labels for {len(codes)} codes; give one label per code.")
    method = str(method).lower()
    n = codes.shape[0]
    if method == "pca":
        from sklearn.decomposition import PCA

        k = min(2, codes.shape[1])
        pca = PCA(n_components=k, random_state=random_state).fit(codes)
        xy = pca.transform(codes)
        share = np.nan_to_num(pca.explained_variance_ratio_)
        if k < 2:  # one-dimensional codes: spread along x only
            xy, share = np.column_stack([xy, np.zeros(n)]), np.append(share, 0.0)
        axis_names = [f"PC{i + 1} ({100 * share[i]:.0f}% of variance)" for i in range(2)]
    elif method == "tsne":
        from sklearn.manifold import TSNE

        perplexity = float(min(30.0, max(1.0, (n - 1) / 3)))
        xy = TSNE(n_components=2, perplexity=perplexity, init="pca", random_state=random_state).fit_transform(codes)
        axis_names = ["t-SNE 1", "t-SNE 2"]
    else:
        raise ValueError(f"method={method!r} is not valid; use 'pca' or 'tsne'.")
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6.5, 5))
    if labels is None:
        ax.scatter(xy[:, 0], xy[:, 1], s=12, alpha=0.7)
    else:
        classes = np.unique(labels)
        numeric = labels.dtype.kind in "iufb"
        if len(classes) <= 20 or not numeric:
            cmap = plt.get_cmap("tab10" if len(classes) <= 10 else "tab20")
            for i, c in enumerate(classes):
                at = labels == c
                ax.scatter(xy[at, 0], xy[at, 1], s=12, alpha=0.7, color=cmap(i % cmap.N), label=str(c))
            if len(classes) <= 20:
                ax.legend(title="label", fontsize="small", markerscale=1.5, loc="best")
        else:
            points = ax.scatter(xy[:, 0], xy[:, 1], s=12, alpha=0.7, c=labels.astype(float), cmap="viridis")
            fig.colorbar(points, ax=ax, label="label")
    ax.set_xlabel(axis_names[0])
    ax.set_ylabel(axis_names[1])
    ax.set_title(title or f"Codes ({'PCA' if method == 'pca' else 't-SNE'}, {n} points)")
    return _save(fig, path)
