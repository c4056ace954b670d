"""Results as tables whose rows carry the data's keys, for data read from files (`SequenceData`).

What the command line writes, and what a Python user gets from the same call, so results
join back to the data. Keys: the user's time column (its own name and values, timestamps
included; ``t``, the point number, when the data has none) and id column (``id``):

- one long series: one row per time point (the time column), or per window (``start``,
  ``end``: the times of its first and last point); forecasts continue the time column at the
  series' frequency;
- a set of sequences: one row per sequence (``id``) or per step (``id`` and the time column,
  or ``step``).

Labels read with the data (a label column) are carried into the rows (``label``).
"""
from __future__ import annotations

import warnings
from typing import NamedTuple

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


def time_key(data: SequenceData) -> tuple[str, np.ndarray]:
    """(name, values) of a series' time axis: its time column, or ``t`` = 0, 1, ... without one."""
    if data.time is not None and data.kind == "series":
        return data.roles.get("time_column") or "time", np.asarray(data.time)
    return "t", np.arange(len(data.sequences) if data.kind == "series" else 0)


def future_times(times: np.ndarray, k: int) -> np.ndarray:
    """The `k` times after `times` at its frequency (dates: pandas' inferred frequency, else the
    median step; numbers: the median step)."""
    times = np.asarray(times)
    if np.issubdtype(times.dtype, np.datetime64):
        recent = pd.DatetimeIndex(times[-200:])
        with warnings.catch_warnings():  # pandas 3 announces an offset instead of a string: both work below
            warnings.simplefilter("ignore")
            freq = pd.infer_freq(recent) if len(recent) >= 3 else None
        if freq is not None:
            return pd.date_range(recent[-1], periods=k + 1, freq=freq)[1:].to_numpy()
    if len(times) < 2:
        raise ValueError("a forecast's times need at least two time points to find the frequency.")
    step = np.median(np.diff(times[-200:]))
    if np.issubdtype(times.dtype, np.integer) and float(step).is_integer():
        step = int(step)  # integer times stay integers
    return times[-1] + step * np.arange(1, k + 1)


def _with_labels(frame: pd.DataFrame, labels) -> pd.DataFrame:
    if labels is not None and len(labels) == len(frame):
        frame["label"] = np.asarray(labels)
    return frame


def _per_step(data: SequenceData, parts: list[np.ndarray], names: list[str],
              times: list[np.ndarray] | None = None) -> pd.DataFrame:
    """One row per step of every sequence: ``id``, the time column (`times`, one array per
    sequence; default: the data's own) or ``step`` without one, then the values."""
    frame = pd.DataFrame(np.concatenate(parts), columns=names)
    times = times if times is not None else data.time
    if times is not None:
        frame.insert(0, data.roles.get("time_column") or "time", np.concatenate([np.asarray(t) for t in times]))
    else:
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
        _, times = time_key(data)
        keys = pd.DataFrame({"start": times[starts], "end": times[starts + window - 1]})
        labels = None if labels is None else window_end_values(labels, window, stride)
    else:
        codes = ae.transform(data.sequences)
        keys = pd.DataFrame({"id": _ids(data, len(codes))})
    keys = _with_labels(keys, labels)
    return keys.join(pd.DataFrame(codes, columns=[f"code_{i}" for i in range(codes.shape[1])]))


def reconstruction_frame(ae: LSTMAutoencoder, data: SequenceData, window: int | None = None,
                         stride: int | None = None, progress: bool = False) -> pd.DataFrame:
    """The reconstruction: one row per time point (``t``: the mean over its windows) or per sequence step."""
    if data.kind != "series":
        return _per_step(data, ae.reconstruct(data.sequences), list(data.feature_names))
    rec = ae.reconstruct_series(data.sequences, window, stride, progress=progress)
    frame = pd.DataFrame(rec, columns=list(data.feature_names))
    frame.insert(0, *time_key(data))
    return frame


def forecast_frame(ae: LSTMAutoencoder, data: SequenceData, window: int | None = None) -> pd.DataFrame:
    """The ``horizon`` steps after the series (``t`` continues its points) or after each sequence (``id``, ``step``)."""
    if data.kind == "series":
        fc = ae.predict_series(data.sequences, window)
        frame = pd.DataFrame(fc, columns=list(data.feature_names))
        name, times = time_key(data)
        frame.insert(0, name, future_times(times, len(fc)) if data.time is not None
                     else np.arange(len(times), len(times) + len(fc)))
        return frame
    if not ae.config_.has_prediction:
        raise ValueError(f"this model was fitted with task={ae.config_.task!r}, which has no prediction decoder; "
                         "forecasts need task='predict' or 'composite'.")
    fc = ae.predict(data.sequences)
    times = None if data.time is None else [future_times(t, fc.shape[1]) for t in data.time]  # each one continued
    return _per_step(data, list(fc), list(data.feature_names), times)


class DetectionTables(NamedTuple):
    scores: pd.DataFrame
    events: pd.DataFrame
    threshold: float
    errors: np.ndarray | None  # (T, F) per-point errors of a series (the error map), else None


def detection_frames(det: LSTMAnomalyDetector, data: SequenceData, threshold: float | None = None,
                     progress: bool = False) -> DetectionTables:
    """(scores, events, threshold used, errors): ``score`` and 0/1 ``anomaly`` per time point or sequence
    (``id``); events are runs of flagged points, runs at most the detector's ``event_gap`` apart joined
    (``start``, ``end``: first and last flagged point, ``peak``, as times; ``peak_score``, ``points``: the
    points from start to end, ``top_features``: the features that deviate most) or of consecutive flagged
    sequences. `threshold` overrides the detector's (its ``adaptive_threshold`` too, as in `detect_series`)."""
    used = det.threshold_ if threshold is None else float(threshold)  # the fixed one a rolling threshold moves from
    if data.kind == "series":
        result = det.detect_series(data.sequences, threshold=threshold, progress=progress)
        name, times = time_key(data)
        scores = pd.DataFrame({name: times, "score": result.scores, "anomaly": result.labels})
        events = pd.DataFrame(
            [{"start": times[e["start"]], "end": times[e["end"] - 1], "peak": times[e["peak"]],
              "peak_score": e["peak_score"], "points": e["end"] - e["start"], "top_features": ",".join(e["top_features"])}
             for e in result.events], columns=["start", "end", "peak", "peak_score", "points", "top_features"])
        return DetectionTables(_with_labels(scores, data.labels), events, used, result.errors)
    values = det.anomaly_score(data.sequences)
    flagged = (values > used).astype(np.int64)
    ids = _ids(data, len(values))
    scores = pd.DataFrame({"id": ids, "score": values, "anomaly": flagged})
    events = pd.DataFrame([{"start": ids[s], "end": ids[e - 1], "sequences": e - s} for s, e in segments(flagged)],
                          columns=["start", "end", "sequences"])
    return DetectionTables(_with_labels(scores, data.labels), events, used, None)


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
    rows = [("kind", type(model).__name__)] + [(k, str(v)) for k, v in ae.config_.to_dict().items()
                                               if k != "cell_clip" or ae.config_.activation == "relu"]
    h = ae.history_
    rows += [("epochs trained", str(len(h["train_loss"]))), ("final train loss", f"{h['train_loss'][-1]:.5g}"
                                                             if h["train_loss"] else "-")]
    if "fine_tuned" in h:
        rows.append(("fine-tuned", "yes" if h["fine_tuned"] else "no: the linear probe, kept (under 2 labels per class)"))
    if h.get("val_loss"):
        rows.append(("best validation loss", f"{min(h['val_loss']):.5g} (epoch {h['best_epoch'] + 1})"))
    rows.append(("training time", f"{sum(h['epoch_time']):.1f} s"))
    if h.get("epochs_before"):  # a continued fit (warm_start, partial_fit, --init-from)
        rows.append(("continued after", f"{h['epochs_before']} earlier epochs"))
    if "processes" in h:  # how it was trained (lstmae.distributed); older models do not say
        rows += [("training processes", str(h["processes"])), ("training device", str(h.get("device"))),
                 ("training precision", str(h.get("precision")))]
    spec = getattr(model, "data_spec_", None)
    for key, value in (spec.to_dict().items() if spec is not None else ()):
        if value is not None:
            rows.append((f"data {key}", ", ".join(value) if isinstance(value, list) else str(value)))
    if isinstance(model, LSTMAnomalyDetector):
        rows += [("error model", model.error_model_.kind),
                 ("threshold", f"{model.threshold_:.5g} ({model.threshold_rule}, fitted per {model.level_})"),
                 ("feature names", ", ".join(model.feature_names_))]
        if model.level_ == "point":  # the long-series options, as fitted ("auto" resolved)
            fitted_norm = getattr(model, "window_norm_", None)
            norm = fitted_norm.kind if fitted_norm is not None else None
            auto = lambda name: " (auto)" if getattr(model, name) == "auto" else ""  # noqa: E731
            series = {"series transform": model.series_transform,
                      "window norm": (norm or "none") + auto("window_norm") if norm or auto("window_norm") else None,
                      "level term": model.level_term if norm is not None else None,
                      "adaptive threshold": model.adaptive_threshold,
                      "smoothing": model.point_smoothing and f"{model.point_smoothing} points" + auto("smoothing"),
                      "event gap": f"{model.event_gap_points} points" + auto("event_gap")
                      + ("" if model.event_gap_points else ": one event per run")}
            rows += [(key, str(value)) for key, value in series.items() if value is not None]
    return pd.DataFrame(rows, columns=["item", "value"])
