"""Honest evaluation of anomaly detection on time series.

- **Point-wise** precision / recall / F1: every time point counts once, no adjustment.
- **Event-wise** (range) precision / recall / F1: a true anomaly (a run of consecutive
  labelled points) is found when at least one predicted point falls inside it; a
  predicted event (a run of consecutive flagged points; with ``event_gap``, runs at most that
  many points apart, spanning from the first flagged point to the last, as the detector
  reports its events) is correct when it overlaps a true anomaly. Recall counts true events,
  precision counts predicted events.
- **ROC-AUC** and **PR-AUC** (average precision) of the raw scores, free of any threshold.

Why point-adjusted F1 is not reported as a headline: "point adjustment" marks a whole
true segment as detected as soon as one of its points is flagged. On data with long
anomalous segments, a detector that flags random points then reaches high F1 (Kim et
al. 2022, "Towards a Rigorous Evaluation of Time-series Anomaly Detection", show random
scores beating published methods under it). Point-wise and event-wise scores, with
threshold-free AUCs beside them, cannot be gamed that way.
"""
from __future__ import annotations

import numpy as np
from sklearn.metrics import average_precision_score, roc_auc_score


def segments(labels: np.ndarray) -> list[tuple[int, int]]:
    """Runs of consecutive nonzero values as (start, end) pairs, end exclusive."""
    labels = (np.asarray(labels).ravel() > 0).astype(np.int8)
    edges = np.flatnonzero(np.diff(np.concatenate([[0], labels, [0]])))
    return [(int(s), int(e)) for s, e in zip(edges[::2], edges[1::2])]


def event_spans(labels: np.ndarray, gap: int = 0) -> list[list[tuple[int, int]]]:
    """The runs of flagged points (`segments`), grouped into events: a run that starts at most `gap`
    unflagged points after the previous one ends joins its event (``gap=0``: every run is its own
    event). Returns one list of (start, end) runs per event, end exclusive."""
    groups: list[list[tuple[int, int]]] = []
    for start, end in segments(labels):
        if groups and start - groups[-1][-1][1] <= gap:
            groups[-1].append((start, end))
        else:
            groups.append([(start, end)])
    return groups


def event_mask(predicted: np.ndarray, gap: int = 0) -> np.ndarray:
    """0/1 over every predicted event (`event_spans`), from its first flagged point to its last: its
    runs and the gaps between them; with ``gap=0`` the flags themselves."""
    mask = np.zeros(len(np.asarray(predicted).ravel()), dtype=np.int64)
    for runs in event_spans(predicted, gap):
        mask[runs[0][0] : runs[-1][1]] = 1
    return mask


def _prf(tp_p: float, n_p: float, tp_r: float, n_r: float) -> tuple[float, float, float]:
    precision = tp_p / n_p if n_p else 0.0
    recall = tp_r / n_r if n_r else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return precision, recall, f1


def binary_labels(labels, name: str = "labels") -> np.ndarray:
    """0/1 labels as int8, refusing anything else (a column of temperatures is not a label column)."""
    raw = np.asarray(labels).ravel()
    if raw.dtype == bool:
        return raw.astype(np.int8)
    try:
        values = raw.astype(np.float64)
    except (TypeError, ValueError):
        values = None
    if values is None or not np.isin(values[~np.isnan(values)], (0.0, 1.0)).all() or np.isnan(values).any():
        shown = ", ".join(map(repr, list(dict.fromkeys(raw.tolist()))[:4]))
        raise ValueError(
            f"{name} must be 0/1 (1 = anomaly), but they hold other values (e.g. {shown}); give the column of "
            "true anomaly labels."
        )
    return values.astype(np.int8)


def _check(labels, predicted) -> tuple[np.ndarray, np.ndarray]:
    labels = binary_labels(labels)
    predicted = (np.asarray(predicted).ravel() > 0).astype(np.int8)
    if labels.shape != predicted.shape:
        raise ValueError(f"labels have {labels.size} points but predictions {predicted.size}; they must align.")
    return labels, predicted


def pointwise_prf(labels, predicted) -> tuple[float, float, float]:
    """Point-wise precision, recall, F1 (no point adjustment)."""
    labels, predicted = _check(labels, predicted)
    tp = float((labels & predicted).sum())
    return _prf(tp, float(predicted.sum()), tp, float(labels.sum()))


def eventwise_prf(labels, predicted, event_gap: int = 0) -> tuple[float, float, float]:
    """Event-wise precision, recall, F1 (see the module docstring); predicted events are the runs of
    `predicted` at most `event_gap` points apart (`event_spans`), each from its first flagged point to
    its last."""
    labels, predicted = _check(labels, predicted)
    covered = event_mask(predicted, event_gap)  # events never touch: its runs are the predicted events
    true_events, pred_events = segments(labels), segments(covered)
    found = sum(bool(covered[s:e].any()) for s, e in true_events)
    correct = sum(bool(labels[s:e].any()) for s, e in pred_events)
    return _prf(correct, len(pred_events), found, len(true_events))


def detection_metrics(labels, scores, predicted=None, event_gap: int = 0) -> dict[str, float]:
    """All metrics at once: ROC-AUC, PR-AUC of `scores` (higher = more anomalous) and,
    when `predicted` flags are given, point-wise and event-wise precision/recall/F1 (predicted
    events: runs at most `event_gap` points apart, as `LSTMAnomalyDetector` reports them with the
    same ``event_gap``).

    NaN scores (points no window covered) are left out of the AUCs. Labels must be 0/1.
    """
    labels = binary_labels(labels)
    scores = np.asarray(scores, dtype=np.float64).ravel()
    if labels.shape != scores.shape:
        raise ValueError(f"labels have {labels.size} points but scores {scores.size}; they must align.")
    ok = np.isfinite(scores)
    out: dict[str, float] = {}
    if 0 < labels[ok].sum() < ok.sum():
        out["roc_auc"] = float(roc_auc_score(labels[ok], scores[ok]))
        out["pr_auc"] = float(average_precision_score(labels[ok], scores[ok]))
    else:
        out["roc_auc"] = out["pr_auc"] = float("nan")
    if predicted is not None:
        p, r, f = pointwise_prf(labels, predicted)
        out.update(point_precision=p, point_recall=r, point_f1=f)
        p, r, f = eventwise_prf(labels, predicted, event_gap)
        out.update(event_precision=p, event_recall=r, event_f1=f)
    return out


def frame_cross_entropy(targets, probabilities, eps: float = 1e-7) -> np.ndarray:
    """Bernoulli cross-entropy of every frame: ``-sum(t log p + (1 - t) log(1 - p))`` over its pixels.

    The measure Srivastava et al. (2015) rank video models by. `targets` are frames in [0, 1]
    (grey levels allowed: the minimum is then the targets' own entropy, not 0), `probabilities`
    a model's outputs in [0, 1] (e.g. `LSTMAutoencoder(loss="bce").predict`), both shaped
    ``(..., F)`` with the F pixels of a frame last, e.g. (N, T, S*S) (probabilities may also
    broadcast to the targets' shape: one frame (F,) for every frame). Probabilities are clipped
    to ``[eps, 1 - eps]``, so a confident miss costs ``-log(eps)`` per pixel, not infinity.

    Returns float64 ``(...)``: one value per frame, e.g. (N, T); ``.mean()`` is the
    cross-entropy per frame, ``.mean(axis=0)`` its curve over the horizon. Lower is better.
    """
    t = np.asarray(targets, dtype=np.float64)
    p = np.asarray(probabilities, dtype=np.float64)
    try:
        fits = np.broadcast_shapes(t.shape, p.shape) == t.shape
    except ValueError:
        fits = False
    if not fits:
        raise ValueError(
            f"targets have shape {t.shape} but probabilities {p.shape}; they must match (or broadcast to the "
            "targets' shape, e.g. one mean frame (F,) for all)."
        )
    if t.ndim < 1:
        raise ValueError("targets must have at least one axis (the pixels of a frame).")
    if not 0.0 < float(eps) < 0.5:
        raise ValueError(f"eps must be in (0, 0.5), got {eps!r}")
    for name, a in (("targets", t), ("probabilities", p)):
        if a.size and not (np.isfinite(a).all() and a.min() >= 0.0 and a.max() <= 1.0):
            raise ValueError(f"{name} must be finite and in [0, 1] (frames and probabilities).")
    p = np.clip(p, eps, 1.0 - eps)
    return -(t * np.log(p) + (1.0 - t) * np.log1p(-p)).sum(axis=-1)
