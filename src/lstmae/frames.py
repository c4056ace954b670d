"""Results as tables whose rows carry the data's keys, for data read from files (`SequenceData`).

What the command line writes, and what a Python user gets from the same call: one long
series gives one row per time point (``t``) or per window (``start``, ``end``); a set of
sequences gives one row per sequence (``id``) or per sequence step (``id``, ``step``).
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from .data.containers import SequenceData
from .data.spec import DataSpec
from .data.windows import window_end_values, window_starts
from .detector import LSTMAnomalyDetector
from .estimators import LSTMAutoencoder
from .metrics import segments


def _ids(data: SequenceData, n: int) -> np.ndarray:
    return np.asarray(data.ids if data.ids is not None else np.arange(n), dtype=object)


def _per_step(data: SequenceData, parts: list[np.ndarray], names: list[str]) -> pd.DataFrame:
    frame = pd.DataFrame(np.concatenate(parts), columns=names)
    frame.insert(0, "step", np.concatenate([np.arange(len(p)) for p in parts]))
    frame.insert(0, "id", np.repeat(_ids(data, len(parts)), [len(p) for p in parts]))
    return frame


def codes_frame(ae: LSTMAutoencoder, data: SequenceData, window: int | None = None,
                stride: int | None = None) -> pd.DataFrame:
    """The code of every window (``start``, ``end``, ``code_0``...) or sequence (``id``, ``code_0``...).

    With labels in the data, a ``label`` column: each sequence's, or for a window the label of
    its last step.
    """
    labels = None if data.labels is None else np.asarray(data.labels)
    if data.kind == "series":
        window, stride = ae.series_windowing(window, stride)
        codes = ae.transform_series(data.sequences, window, stride)
        starts = window_starts(len(data.sequences), window, stride)
        keys = pd.DataFrame({"start": starts, "end": starts + window})
        labels = None if labels is None else window_end_values(labels, window, stride)
    else:
        codes = ae.transform(data.sequences)
        keys = pd.DataFrame({"id": _ids(data, len(codes))})
    if labels is not None:
        keys["label"] = labels
    return keys.join(pd.DataFrame(codes, columns=[f"code_{i}" for i in range(codes.shape[1])]))


def reconstruction_frame(ae: LSTMAutoencoder, data: SequenceData, window: int | None = None,
                         stride: int | None = None, progress: bool = False) -> pd.DataFrame:
    """The reconstruction: one row per time point (``t``: the mean over its windows) or per sequence step."""
    if data.kind != "series":
        return _per_step(data, ae.reconstruct(data.sequences), list(data.feature_names))
    rec = ae.reconstruct_series(data.sequences, window, stride, progress=progress)
    frame = pd.DataFrame(rec, columns=list(data.feature_names))
    frame.insert(0, "t", np.arange(len(rec)))
    return frame


def forecast_frame(ae: LSTMAutoencoder, data: SequenceData, window: int | None = None) -> pd.DataFrame:
    """The ``horizon`` steps after the series (``t`` continues its points) or after each sequence (``id``, ``step``)."""
    if data.kind == "series":
        fc = ae.predict_series(data.sequences, window)
        frame = pd.DataFrame(fc, columns=list(data.feature_names))
        frame.insert(0, "t", np.arange(len(data.sequences), len(data.sequences) + len(fc)))
        return frame
    if not ae.config_.has_prediction:
        raise ValueError(f"this model was fitted with task={ae.config_.task!r}, which has no prediction decoder; "
                         "forecasts need task='predict' or 'composite'.")
    fc = ae.predict(data.sequences)
    return _per_step(data, list(fc), list(data.feature_names))


def detection_frames(det: LSTMAnomalyDetector, data: SequenceData, threshold: float | None = None,
                     progress: bool = False) -> tuple[pd.DataFrame, pd.DataFrame, float]:
    """(scores, events, threshold used): ``score`` and 0/1 ``anomaly`` per time point (``t``) or sequence
    (``id``); events are runs of flagged points (start, end, peak, peak_score, top_features) or sequences."""
    threshold = det.threshold_ if threshold is None else float(threshold)
    if data.kind == "series":
        result = det.detect_series(data.sequences, threshold=threshold, progress=progress)
        scores = pd.DataFrame({"t": np.arange(len(result.scores)), "score": result.scores, "anomaly": result.labels})
        return scores, result.events_frame(), threshold
    values = det.anomaly_score(data.sequences)
    flagged = (values > threshold).astype(np.int64)
    scores = pd.DataFrame({"id": _ids(data, len(values)), "score": values, "anomaly": flagged})
    events = pd.DataFrame([{"start": s, "end": e} for s, e in segments(flagged)], columns=["start", "end"])
    return scores, events, threshold


def fit_data(model: LSTMAutoencoder | LSTMAnomalyDetector, data: SequenceData, spec: DataSpec,
             **fit_params) -> LSTMAutoencoder | LSTMAnomalyDetector:
    """Fit an autoencoder or a detector on data read from a file, and record how it was read (`spec`).

    A long series is cut into windows of ``spec.window`` every ``spec.stride`` steps (a
    detector uses its own ``window`` and ``stride``); a set of sequences is used as is.
    `fit_params` go to the autoencoder's ``fit`` (checkpointing).
    """
    if data.kind == "series" and spec.window is None and not isinstance(model, LSTMAnomalyDetector):
        raise ValueError(f"{data.source or 'the data'} is one long series; give a window to cut it into windows.")
    if isinstance(model, LSTMAnomalyDetector):
        fitted = (model.fit_series(data.sequences, feature_names=data.feature_names) if data.kind == "series"
                  else model.fit(data.sequences))
    else:
        fitted = (model.fit_series(data.sequences, spec.window, spec.stride, data.feature_names, **fit_params)
                  if data.kind == "series" else model.fit(data.sequences, **fit_params))
    return fitted.with_data_spec(spec)


def describe(model) -> pd.DataFrame:
    """What a model is and learned, as rows of (``item``, ``value``) text: its architecture, training,
    how its data was read, and a detector's error model and threshold (what `lstmae info` prints)."""
    ae = model.autoencoder_ if isinstance(model, LSTMAnomalyDetector) else model
    rows = [("kind", type(model).__name__)] + [(k, str(v)) for k, v in ae.config_.to_dict().items()]
    h = ae.history_
    rows += [("epochs trained", str(len(h["train_loss"]))), ("final train loss", f"{h['train_loss'][-1]:.5g}")]
    if h.get("val_loss"):
        rows.append(("best validation loss", f"{min(h['val_loss']):.5g} (epoch {h['best_epoch'] + 1})"))
    rows.append(("training time", f"{sum(h['epoch_time']):.1f} s"))
    spec = getattr(model, "data_spec_", None)
    for key, value in (spec.to_dict().items() if spec is not None else ()):
        if value is not None:
            rows.append((f"data {key}", ", ".join(value) if isinstance(value, list) else str(value)))
    if isinstance(model, LSTMAnomalyDetector):
        rows += [("error model", model.error_model_.kind),
                 ("threshold", f"{model.threshold_:.5g} ({model.threshold}, fitted per {model.level_})")]
    return pd.DataFrame(rows, columns=["item", "value"])
