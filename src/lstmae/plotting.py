"""Matplotlib figures: training history, a reconstruction, anomaly scores, a map of codes.

Every function draws with the non-interactive Agg backend, writes a PNG atomically
and returns its path; nothing here opens a window.
"""
from __future__ import annotations

import functools
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


# --- architecture diagram ----------------------------------------------------------------------
# Drawn in inches (one data unit = one inch, so text in points and boxes in data units agree);
# each box is sized to its measured text.
_FONT = 8.0  # box text, points
_EDGE_FONT = 7.0  # shapes on the arrows
_LINE = _FONT * 1.4 / 72  # line height, inches
_GAP = 0.5  # vertical gap between rows of boxes, inches
_COLORS = {
    "io": "#eeeeee", "encoder": "#d6e6f5", "linear": "#fdf1cc", "code": "#fbd9b6",
    "repeat": "#e6def2", "reconstruction": "#d8efd3", "prediction": "#f8dcdc",
}


@functools.lru_cache(maxsize=1024)
def _text_width(text: str, size: float, bold: bool = False) -> float:
    """Width of one line of text in inches (from the font's metrics, no renderer)."""
    from matplotlib.font_manager import FontProperties
    from matplotlib.textpath import text_to_path

    if not text:
        return 0.0
    prop = FontProperties(size=size, weight="bold" if bold else "normal")
    return text_to_path.get_text_width_height_descent(text, prop, ismath=False)[0] / 72


class _Box:
    """A box: a bold title line and plain lines, centred at (x, y) once its row is placed."""

    def __init__(self, x: float, row: int, title: str, lines: list[str], color: str) -> None:
        self.x, self.row, self.title, self.lines, self.color = x, row, title, lines, color
        self.y = 0.0

    @property
    def w(self) -> float:
        return max([_text_width(self.title, _FONT, bold=True)] + [_text_width(t, _FONT) for t in self.lines]) + 0.3

    @property
    def h(self) -> float:
        return _LINE * (1 + len(self.lines)) + 0.16

    top = property(lambda self: self.y + self.h / 2)
    bottom = property(lambda self: self.y - self.h / 2)
    left = property(lambda self: self.x - self.w / 2)
    right = property(lambda self: self.x + self.w / 2)

    def draw(self, ax) -> None:
        from matplotlib.patches import FancyBboxPatch

        ax.add_patch(FancyBboxPatch(
            (self.left, self.bottom), self.w, self.h, boxstyle="round,pad=0,rounding_size=0.06",
            facecolor=self.color, edgecolor="#555555", linewidth=0.9,
        ))
        y = self.top - 0.08 - _LINE / 2
        ax.text(self.x, y, self.title, ha="center", va="center", fontsize=_FONT, fontweight="bold")
        for line in self.lines:
            y -= _LINE
            ax.text(self.x, y, line, ha="center", va="center", fontsize=_FONT)


def _edge(ax, points, label: str = "", dashed: bool = False, side: str = "right") -> None:
    """An arrow along `points` (the last one gets the head), `label` beside its last segment."""
    from matplotlib.patches import FancyArrowPatch
    from matplotlib.path import Path as MplPath

    ax.add_patch(FancyArrowPatch(
        path=MplPath(points), arrowstyle="-|>,head_length=5,head_width=2.5", linewidth=1.0,
        linestyle=(0, (4, 2.5)) if dashed else "-", color="#333333", shrinkA=0, shrinkB=0,
    ))
    if label:
        (x0, y0), (x1, y1) = points[-2], points[-1]
        if x0 == x1:  # vertical: beside it
            dx = 0.07 if side == "right" else -0.07
            ax.text(x1 + dx, (y0 + y1) / 2, label, ha="left" if side == "right" else "right", va="center",
                    fontsize=_EDGE_FONT, color="#222222")
        else:  # horizontal: above it
            ax.text((x0 + x1) / 2, y1 + 0.05, label, ha="center", va="bottom", fontsize=_EDGE_FONT,
                    color="#222222")


def _down(ax, src: _Box, dst: _Box, label: str = "", dashed: bool = False) -> None:
    """Straight down from `src` to `dst` if they share a column, else out of src's side and down."""
    side = "left" if dst.x < 0 else "right"
    if src.left < dst.x < src.right:
        points = [(dst.x, src.bottom), (dst.x, dst.top)]
    else:
        start = src.left if dst.x < src.x else src.right
        points = [(start, src.y), (dst.x, src.y), (dst.x, dst.top)]
    _edge(ax, points, label, dashed, side)


def _architecture(summary) -> tuple[dict[str, _Box], list[tuple], list[str]]:
    """Boxes, edges (src, dst, label, dashed) and footnotes of the diagram of `summary`."""
    o, s = summary.options, summary.shapes
    row = summary.row
    boxes: dict[str, _Box] = {}
    edges: list[tuple] = []
    foot: list[str] = []
    level = 0

    def box(name, x, title, lines, color):
        boxes[name] = _Box(x, level, title, lines, color)

    box("input", 0.0, "input", [s["input"]], _COLORS["io"])
    level += 1
    frozen = ["frozen (not trained)"] if summary.options.get("freeze_encoder") else []
    box("encoder", 0.0, "encoder", [row("encoder.lstm").layer] + frozen, _COLORS["encoder"])
    edges.append(("input", "encoder", "", False))
    final_h = f"final h {s['encoder.final_h']}"
    copied = summary.copied_state
    # dropout on the code: not shown where the decoders do not read the code (copied state)
    dropout = [f"dropout {o['dropout']:g} (training)"] if o["dropout"] > 0 and not copied else []

    if summary.kind == "classifier":
        last = "encoder"
        if o["pooling"] == "last":
            if row("encoder.bottleneck") is not None:
                level += 1
                box("bottleneck", 0.0, "bottleneck", [row("encoder.bottleneck").layer], _COLORS["linear"])
                edges.append(("encoder", "bottleneck", final_h, False))
                last, label = "bottleneck", s["code"]
            else:
                label = final_h
            level += 1
            box("features", 0.0, "features = code", [s["features"]], _COLORS["code"])
        else:
            if row("encoder.bottleneck") is not None:
                foot.append(f"the bottleneck ({row('encoder.bottleneck').layer}) is not read by pooling "
                            f"{o['pooling']!r}")
            level += 1
            text = {"mean": "mean over the valid steps", "last_hc": "final (h, c) of every layer"}[o["pooling"]]
            box("features", 0.0, f"pooling {o['pooling']!r}", [text, f"features {s['features']}"],
                _COLORS["repeat"])
            label = (f"outputs {s['encoder.lstm.out']}" if o["pooling"] == "mean"
                     else f"(h, c): 2 x {s['encoder.state']}")
        edges.append((last, "features", label, False))
        level += 1
        dropout = [d.replace("dropout", "dropout on the features") for d in dropout]
        box("head", 0.0, "head", [row("head").layer] + dropout, _COLORS["linear"])
        edges.append(("features", "head", s["features"], False))
        level += 1
        box("proba", 0.0, "class probabilities", [s["proba"]], _COLORS["io"])
        edges.append(("head", "proba", "", False))
        return boxes, edges, foot

    decoders = [(dec, out) for dec, out in (("reconstructor", "reconstruction"), ("predictor", "forecast"))
                if row(f"{dec}.lstm") is not None]
    code_lines = [s["code"]] + dropout
    if copied and len(decoders) == 1:
        # the code is not the decoder's input: show it beside the encoder, the state goes straight down
        box("code", 0.0, "code (transform)", code_lines, _COLORS["code"])
        boxes["code"].x = boxes["encoder"].w / 2 + 0.6 + boxes["code"].w / 2
        edges.append(("encoder", "code", "final h", False))
    else:
        if row("encoder.bottleneck") is not None:
            level += 1
            box("bottleneck", 0.0, "bottleneck", [row("encoder.bottleneck").layer], _COLORS["linear"])
            edges.append(("encoder", "bottleneck", final_h, False))
        level += 1
        box("code", 0.0, "code" + (" (transform)" if copied else ""), code_lines, _COLORS["code"])
        edges.append(("bottleneck" if "bottleneck" in boxes else "encoder", "code",
                      s["code"] if "bottleneck" in boxes else final_h, False))

    level += 1
    first = level
    for i, (dec, out) in enumerate(decoders):
        level = first
        x = 0.0 if len(decoders) == 1 else (-1.0 if i == 0 else 1.0)  # spread out below
        kind = "reconstruction" if dec == "reconstructor" else "prediction"
        if o["bridge"] == "repeat":
            box(f"{dec}.bridge", x, row(f"{dec}.repeat").layer, [], _COLORS["repeat"])
            edges.append(("code", f"{dec}.bridge", s[f"{dec}.code"], False))
            level += 1
        elif not copied:
            box(f"{dec}.bridge", x, "init_state", [row(f"{dec}.init_state").layer, "-> (h0, c0), tanh on h0"],
                _COLORS["linear"])
            edges.append(("code", f"{dec}.bridge", s[f"{dec}.code"], False))
            level += 1
        lines = [row(f"{dec}.lstm").layer]
        frame = "previous frame" if o["conditional"] else ""
        if o["bridge"] == "repeat":
            lines.append("input: the repeated code" + (" + " + frame if frame else ""))
        else:
            lines.append("input: " + (frame or "zeros (the state carries the code)"))
        if o["conditional"]:
            lines.append("teacher forcing in training, own output at inference")
        if o["reverse"] and dec == "reconstructor":
            lines.append("target reversed, output back in natural order")
        box(f"{dec}.lstm", x, f"{kind} decoder", lines, _COLORS[kind])
        if o["bridge"] == "repeat":
            edges.append((f"{dec}.bridge", f"{dec}.lstm", s[f"{dec}.lstm.in"], False))
        elif copied:
            edges.append(("encoder", f"{dec}.lstm", f"copied (h, c): 2 x {s['encoder.state']}", True))
        else:
            edges.append((f"{dec}.bridge", f"{dec}.lstm", f"(h0, c0): 2 x {s[f'{dec}.h0']}", True))
        level += 1
        head = row(f"{dec}.head").layer.replace(" + sigmoid", "")
        box(f"{dec}.head", x, "head", [head + " at each step"] + (["sigmoid"] if o["output"] == "sigmoid" else []),
            _COLORS["linear"])
        edges.append((f"{dec}.lstm", f"{dec}.head", s[f"{dec}.lstm.out"], False))
        level += 1
        box(out, x, out, [s[out]], _COLORS["io"])
        edges.append((f"{dec}.head", out, "", False))
    if len(decoders) == 2:  # columns far enough apart for the widest box of each, and their labels
        widths = [max(b.w for n, b in boxes.items() if n.startswith(dec) or n == out) for dec, out in decoders]
        for (dec, out), sign, w in zip(decoders, (-1, 1), widths):
            for n, b in boxes.items():
                if n.startswith(dec) or n == out:
                    b.x = sign * (w / 2 + 0.35)
    return boxes, edges, foot


def _layout(summary) -> tuple[dict[str, _Box], list[tuple], list[str]]:
    """`_architecture` with the rows placed top-down, each as tall as its tallest box."""
    boxes, edges, foot = _architecture(summary)
    y = 0.0
    for r in sorted({b.row for b in boxes.values()}):
        height = max(b.h for b in boxes.values() if b.row == r)
        for b in boxes.values():
            if b.row == r:
                b.y = y - height / 2
        y -= height + _GAP
    return boxes, edges, foot


def plot_model(module, path: str | os.PathLike, seq_len: int | None = None) -> Path:
    """Diagram of an `Autoencoder` or `Classifier` module, Keras ``plot_model(show_shapes=True)`` style.

    Boxes for the input, encoder, bottleneck, code, each decoder (with its bridge: the
    RepeatVector step, or the learned initial-state map), heads and outputs; solid arrows
    for data, dashed ones for LSTM state handed to a decoder; shapes (from
    `lstmae.summary.summarize`, ``L`` when `seq_len` is None) on the arrows. Drawn with
    matplotlib only.
    """
    from matplotlib.lines import Line2D

    from .summary import summarize

    summary = summarize(module, seq_len=seq_len)
    boxes, edges, foot = _layout(summary)
    plt = _pyplot()
    # the limits hug the boxes: labels beside the arrows may stick out, and the saved figure
    # ("tight") grows to take them in
    x0, x1 = min(b.left for b in boxes.values()) - 0.15, max(b.right for b in boxes.values()) + 0.15
    y0, y1 = min(b.bottom for b in boxes.values()) - 0.15, max(b.top for b in boxes.values()) + 0.15
    fig = plt.figure(figsize=(x1 - x0, y1 - y0))
    ax = fig.add_axes((0, 0, 1, 1))
    ax.set_xlim(x0, x1)
    ax.set_ylim(y0, y1)
    ax.axis("off")
    for b in boxes.values():
        b.draw(ax)
    for src, dst, label, dashed in edges:
        a, b = boxes[src], boxes[dst]
        if a.row == b.row:  # beside: a horizontal arrow
            _edge(ax, [(a.right, a.y), (b.left, b.y)], label, dashed)
        else:
            _down(ax, a, b, label, dashed)
    ax.text((x0 + x1) / 2, y1 + 0.12, summary.title() + f"\n{summary.total_params:,} parameters"
            + (f" ({summary.trainable_params:,} trainable)" if summary.non_trainable_params else ""),
            ha="center", va="bottom", fontsize=9)
    if foot:
        ax.text((x0 + x1) / 2, y0 - 0.05, "\n".join(foot), ha="center", va="top", fontsize=_EDGE_FONT)
    if any(e[3] for e in edges):
        legend = [Line2D([], [], color="#333333", lw=1, label="data"),
                  Line2D([], [], color="#333333", lw=1, ls=(0, (4, 2.5)), label="LSTM state (h, c)")]
        ax.legend(handles=legend, loc="upper center", bbox_to_anchor=(0.5, 0), ncol=2, fontsize=_EDGE_FONT,
                  frameon=False)
    return _save(fig, path)
