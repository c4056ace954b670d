"""The `lstmae` command line: thin commands over the Python API.

Data arguments are a file (CSV/TSV, Parquet, .npy, .npz) or ``builtin:NAME``. One long
series is cut into windows (``--window``, ``--stride``); a file of many sequences
(``--id-column`` or ``--layout rows``) is used as is. Exit codes: 0 success, 2 bad
usage or bad input (a one-line message; the traceback only with ``--debug``).
"""
from __future__ import annotations

import functools
import json
import sys
import time
from pathlib import Path
from typing import Annotated, Any, Optional

import numpy as np
import typer

app = typer.Typer(
    add_completion=False, no_args_is_help=True, pretty_exceptions_enable=False,
    help="LSTM autoencoders for sequences: train, encode, reconstruct, forecast, detect anomalies.",
)
DATA_FILE = "data.json"  # how the CLI cut the training data, stored in the model directory
_state = {"debug": False}


class UsageError(ValueError):
    """Bad combination of command-line options."""


def _err(message: str) -> None:
    typer.echo(f"error: {message}", err=True)


def command(fn):
    """Turn expected errors into a one-line message and exit code 2."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except (ValueError, ImportError, OSError, KeyError) as exc:
            if _state["debug"]:
                raise
            text = str(exc.args[0]) if isinstance(exc, KeyError) and exc.args else str(exc)
            _err(" ".join(text.split()) or type(exc).__name__)
            raise typer.Exit(2) from None

    return wrapper


@app.callback()
def _main(debug: Annotated[bool, typer.Option("--debug", help="Show full tracebacks on errors.")] = False) -> None:
    _state["debug"] = debug


# ---------------------------------------------------------------------------- options
Columns = Annotated[Optional[str], typer.Option("--columns", help="Comma-separated feature columns (default: all).")]
TimeCol = Annotated[Optional[str], typer.Option("--time-column", help="Column that orders rows; not a feature.")]
IdCol = Annotated[Optional[str], typer.Option("--id-column", help="Column grouping rows into sequences (long format).")]
Layout = Annotated[str, typer.Option("--layout", help="'long': rows are time steps; 'rows': one sequence per row.")]
LayoutAsTrained = Annotated[Optional[str], typer.Option(
    "--layout", help="'long' or 'rows' (default: as the model's training data).")]
Fill = Annotated[Optional[str], typer.Option("--fill", help="Missing values: ffill, interpolate or zero (default: error).")]
Window = Annotated[Optional[int], typer.Option("--window", help="Window length for one long series.")]
Stride = Annotated[Optional[int], typer.Option("--stride", help="Step between windows (default 1).")]
Output = Annotated[Path, typer.Option("-o", "--output", help="Output file (.csv, .parquet, .npy) or model directory.")]
Quiet = Annotated[bool, typer.Option("--quiet", "-q", help="No progress bars or summaries.")]
Seed = Annotated[int, typer.Option("--seed", help="Random seed.")]


def _read(data: str, columns: str | None, time_column: str | None, id_column: str | None, layout: str,
          fill: str | None, label_column: str | None = None):
    """A file or builtin:NAME as SequenceData (series labels kept when known)."""
    from .data.io import SequenceData, read_table

    if layout not in ("long", "rows"):
        raise UsageError(f"--layout {layout!r} is not valid; use 'long' or 'rows'.")
    if data.startswith("builtin:"):
        from .datasets import AnomalyDataset, MovingDigits, load_dataset

        ds = load_dataset(data[len("builtin:"):])
        if isinstance(ds, AnomalyDataset):
            return SequenceData(ds.series, list(ds.feature_names), kind="series", labels=ds.labels, source=data)
        if isinstance(ds, MovingDigits):
            return SequenceData(list(ds.frames), [f"px{i}" for i in range(ds.frames.shape[2])], kind="sequences",
                                source=data)
        if isinstance(ds, np.ndarray):
            return SequenceData(list(ds), [str(i) for i in range(ds.shape[2])], kind="sequences", source=data)
        return ds
    cols = [c.strip() for c in columns.split(",")] if columns else None
    if not Path(data).exists():
        raise UsageError(f"no such file: {data} (give a CSV, Parquet, .npy or .npz file, or builtin:NAME).")
    return read_table(data, columns=cols, time_column=time_column, id_column=id_column, layout=layout, fill=fill,
                      label_column=label_column)


def _read_as_trained(data: str, settings: dict, columns: str | None, time_column: str | None,
                     id_column: str | None, layout: str | None, fill: str | None, label_column: str | None = None):
    """Read DATA the way the model's training data was read (data.json), unless an option overrides it."""
    return _read(data, columns or settings.get("columns"), time_column or settings.get("time_column"),
                 id_column or settings.get("id_column"), layout or settings.get("layout") or "long",
                 fill or settings.get("fill"), label_column)


def _write(path: Path, frame) -> None:
    from .data.io import write_table

    write_table(path, frame)


def _load_any(model: Path):
    """(detector or None, autoencoder, data settings) of a model directory of either kind."""
    from .estimators import LSTMAutoencoder

    config_file = Path(model) / "config.json"
    try:
        kind = json.loads(config_file.read_text()).get("estimator") if config_file.is_file() else None
    except (ValueError, OSError, AttributeError, RecursionError):
        kind = None  # the loader below gives the precise error
    if kind == "LSTMAnomalyDetector":
        from .detector import LSTMAnomalyDetector

        det = LSTMAnomalyDetector.load(model)
        ae = det.autoencoder_
    else:
        det, ae = None, LSTMAutoencoder.load(model)
    return det, ae, _read_settings(model)


def _read_settings(model: Path) -> dict:
    settings_file = Path(model) / DATA_FILE
    if not settings_file.is_file():
        return {}
    try:
        settings = json.loads(settings_file.read_text(encoding="utf-8"))
    except (ValueError, RecursionError) as exc:
        raise ValueError(f"{settings_file} is corrupt (not valid JSON: {exc}); train the model again.") from None
    if not isinstance(settings, dict):
        raise ValueError(f"{settings_file} is corrupt (expected a JSON object); train the model again.")
    for key, ok in _DATA_CHECKS.items():
        if key in settings and settings[key] is not None and not ok(settings[key]):
            raise ValueError(f"{settings_file} is corrupt ({key}={settings[key]!r}); train the model again.")
    return settings


def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool) and v >= 1


def _is_number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and np.isfinite(v)


def _is_text(v: Any) -> bool:
    return isinstance(v, str)


# data.json is read back by every command: a hand-edited or corrupt value is refused up front
_DATA_CHECKS = {
    "window": _is_int, "stride": _is_int, "score_mean": _is_number, "score_std": _is_number,
    "columns": _is_text, "time_column": _is_text, "id_column": _is_text, "layout": _is_text, "fill": _is_text,
    "kind": _is_text,
    "feature_names": lambda v: isinstance(v, list) and all(isinstance(x, str) for x in v),
}


def _load_model(model: Path):
    """(autoencoder, data settings) of a model directory (a detector's autoencoder too)."""
    _, ae, settings = _load_any(model)
    return ae, settings


def _windowing(data, settings: dict, window: int | None, stride: int | None) -> tuple[int, int]:
    window = window or settings.get("window")
    stride = stride or settings.get("stride") or 1
    if window is None:
        raise UsageError(f"{data.source or 'the data'} is one long series; give --window to cut it into windows.")
    return int(window), int(stride)


def _console(quiet: bool):
    from rich.console import Console

    return Console(stderr=True, quiet=quiet, soft_wrap=True)


# ---------------------------------------------------------------------------- commands
@app.command()
@command
def train(
    data: Annotated[str, typer.Argument(help="Data file or builtin:NAME.")],
    output: Output = Path("model"),
    task: Annotated[str, typer.Option(help="reconstruct, predict or composite.")] = "reconstruct",
    window: Window = None,
    stride: Stride = None,
    horizon: Annotated[int, typer.Option(help="Future steps predicted (predict/composite).")] = 1,
    epochs: Annotated[int, typer.Option(help="Maximum epochs.")] = 50,
    hidden_size: Annotated[int, typer.Option(help="LSTM units.")] = 64,
    num_layers: Annotated[int, typer.Option(help="Stacked LSTM layers.")] = 1,
    code_size: Annotated[Optional[int], typer.Option(help="Linear bottleneck size.")] = None,
    bridge: Annotated[str, typer.Option(help="repeat or state.")] = "repeat",
    conditional: Annotated[bool, typer.Option(help="Feed decoders their previous output.")] = False,
    reverse: Annotated[bool, typer.Option(help="Reconstruct in reversed order.")] = False,
    bidirectional: Annotated[bool, typer.Option(help="Bidirectional encoder.")] = False,
    activation: Annotated[str, typer.Option(help="tanh or relu.")] = "tanh",
    loss: Annotated[str, typer.Option(help="mse, mae, huber or bce.")] = "mse",
    scale: Annotated[str, typer.Option(help="standard, minmax or none.")] = "standard",
    batch_size: Annotated[int, typer.Option(help="Batch size.")] = 32,
    learning_rate: Annotated[float, typer.Option(help="Adam learning rate.")] = 1e-3,
    validation_split: Annotated[float, typer.Option(help="Fraction held out (the last samples).")] = 0.0,
    patience: Annotated[Optional[int], typer.Option(help="Early-stopping patience.")] = None,
    checkpoint_dir: Annotated[Optional[Path], typer.Option(
        "--checkpoint-dir", help="Save training checkpoints here (every --checkpoint-every epochs and at the best loss).")] = None,
    checkpoint_every: Annotated[int, typer.Option("--checkpoint-every", help="Epochs between checkpoints.")] = 1,
    resume: Annotated[bool, typer.Option(
        "--resume", help="Continue from the checkpoint in --checkpoint-dir (from scratch if there is none).")] = False,
    detector: Annotated[bool, typer.Option(
        "--detector", help="Fit an anomaly detector: the autoencoder, then its error model and threshold "
        "on a held-out part of the (normal) data.")] = False,
    error_model: Annotated[str, typer.Option(help="With --detector: mean or mahalanobis.")] = "mean",
    threshold_method: Annotated[str, typer.Option(
        help="With --detector: k-sigma, contamination or max (f-beta needs labels: Python API).")] = "k-sigma",
    contamination: Annotated[float, typer.Option(help="With --threshold-method contamination.")] = 0.01,
    k_sigma: Annotated[float, typer.Option("--k-sigma", help="With --threshold-method k-sigma.")] = 4.0,
    holdout: Annotated[float, typer.Option(help="With --detector: fraction held out for the threshold.")] = 0.25,
    seed: Seed = 0,
    columns: Columns = None,
    time_column: TimeCol = None,
    id_column: IdCol = None,
    layout: Layout = "long",
    fill: Fill = None,
    quiet: Quiet = False,
) -> None:
    """Train an LSTM autoencoder (or, with --detector, an anomaly detector) and save it as a model directory.

    Example: lstmae train sensors.csv --time-column t --task composite --window 64 --horizon 8 -o model/
    """
    from .data.windows import sliding_windows
    from .estimators import LSTMAutoencoder
    from .scoring import series_scores

    console = _console(quiet)
    seqs = _read(data, columns, time_column, id_column, layout, fill)
    ae = LSTMAutoencoder(
        task=task, horizon=horizon, hidden_size=hidden_size, num_layers=num_layers, code_size=code_size,
        bridge=bridge, conditional=conditional, reverse=reverse, bidirectional=bidirectional,
        activation=activation, loss=loss, scale=None if scale.lower() == "none" else scale, batch_size=batch_size,
        learning_rate=learning_rate, epochs=epochs, validation_split=validation_split, patience=patience,
        random_state=seed, verbose=not quiet,
    )
    settings: dict[str, Any] = {
        "kind": seqs.kind, "feature_names": list(seqs.feature_names), "columns": columns,
        "time_column": time_column, "id_column": id_column, "layout": layout, "fill": fill,
    }
    if seqs.kind == "series":
        window, stride = _windowing(seqs, {}, window, stride)
        span = window + (horizon if task in ("predict", "composite") else 0)
        X = np.ascontiguousarray(sliding_windows(seqs.sequences, span, stride))
        settings.update(window=window, stride=stride)
    else:
        if window is not None:
            raise UsageError(f"--window cuts one long series, but the data holds {seqs.n_sequences} sequences.")
        X = seqs.sequences
    if detector:
        _train_detector(ae, seqs, X, settings, output, console, error_model=error_model, threshold=threshold_method,
                        contamination=contamination, k_sigma=k_sigma, holdout=holdout, seed=seed,
                        checkpointing=checkpoint_dir is not None)
        return
    if resume and checkpoint_dir is not None and not quiet:
        from .checkpoint import has_checkpoint

        console.print(f"resuming from the checkpoint in {checkpoint_dir}" if has_checkpoint(checkpoint_dir)
                      else f"no checkpoint in {checkpoint_dir}: training from scratch")
    start = time.perf_counter()
    ae.fit(X, checkpoint_dir=checkpoint_dir, checkpoint_every=checkpoint_every, resume=resume)
    seconds = time.perf_counter() - start
    if ae.config_.has_reconstruction:  # normal-score statistics for `detect`'s default threshold
        scores = (series_scores(ae, seqs.sequences, window, stride) if seqs.kind == "series"
                  else _sequence_scores(ae, X))
        scores = scores[np.isfinite(scores)]
        settings.update(score_mean=float(scores.mean()), score_std=float(scores.std()))
    ae.save(output)
    from ._atomic import atomic_write

    with atomic_write(Path(output) / DATA_FILE, "w") as fh:
        json.dump(settings, fh, indent=2)
    h = ae.history_
    console.print(
        f"trained on {len(X)} {'windows' if seqs.kind == 'series' else 'sequences'} in {seconds:.1f} s, "
        f"{len(h['train_loss'])} epochs, final loss {h['train_loss'][-1]:.4g}"
        + (f", best validation loss {min(h['val_loss']):.4g}" if h.get("val_loss") else "")
        + f"; saved to {output}"
    )


def _train_detector(ae, seqs, X, settings: dict, output: Path, console, *, checkpointing: bool, **params) -> None:
    """`train --detector`: fit an LSTMAnomalyDetector around `ae` and save it with the data settings."""
    from ._atomic import atomic_write
    from .detector import LSTMAnomalyDetector

    if checkpointing:
        raise UsageError("--checkpoint-dir is not supported with --detector; train without --detector to checkpoint.")
    series = seqs.kind == "series"
    det = LSTMAnomalyDetector(autoencoder=ae, window=settings.get("window"), stride=settings.get("stride", 1),
                              error_model=params["error_model"], threshold=params["threshold"],
                              contamination=params["contamination"], k_sigma=params["k_sigma"],
                              holdout=params["holdout"], random_state=params["seed"])
    start = time.perf_counter()
    if series:
        det.fit_series(seqs.sequences, feature_names=seqs.feature_names)
    else:
        det.fit(X)
    det.save(output)
    with atomic_write(Path(output) / DATA_FILE, "w") as fh:
        json.dump(settings, fh, indent=2)
    console.print(
        f"fitted an anomaly detector in {time.perf_counter() - start:.1f} s ({params['error_model']} error model, "
        f"{params['threshold']} threshold {det.threshold_:.4g} on held-out {'points' if series else 'sequences'}); "
        f"saved to {output}"
    )


def _sequence_scores(ae, X) -> np.ndarray:
    """Mean reconstruction error of each sequence (over its valid steps and features)."""
    return np.array([float(np.mean(e)) for e in ae.reconstruction_errors(X)])


def _codes(ae, seqs, settings: dict, window: int | None, stride: int | None):
    """Codes of every window of a long series or of every sequence: (codes, window starts, window).

    Starts and window are None for sequences. Windows are encoded in chunks (bounded memory).
    """
    from .scoring import iter_window_chunks

    if seqs.kind != "series":
        return ae.transform(seqs.sequences), None, None
    window, stride = _windowing(seqs, settings, window, stride)
    codes = np.concatenate([ae.transform(w) for _, w in iter_window_chunks(seqs.sequences, window, stride)])
    return codes, np.arange(len(codes)) * stride, window


def _id_frame(ids, n: int):
    import pandas as pd

    return pd.Series(ids if ids is not None else np.arange(n), name="id")


@app.command()
@command
def encode(
    model: Annotated[Path, typer.Argument(help="Model directory.")],
    data: Annotated[str, typer.Argument(help="Data file or builtin:NAME.")],
    output: Output = Path("codes.csv"),
    window: Window = None, stride: Stride = None, columns: Columns = None, time_column: TimeCol = None,
    id_column: IdCol = None, layout: LayoutAsTrained = None, fill: Fill = None, quiet: Quiet = False,
) -> None:
    """Write the code vector of every window (long series) or sequence.

    Example: lstmae encode model/ sensors.csv -o codes.parquet
    """
    import pandas as pd

    ae, settings = _load_model(model)
    seqs = _read_as_trained(data, settings, columns, time_column, id_column, layout, fill)
    names = [f"code_{i}" for i in range(ae.config_.code_dim)]
    codes, starts, window = _codes(ae, seqs, settings, window, stride)
    frame = pd.DataFrame(codes, columns=names)
    if starts is not None:
        frame.insert(0, "end", starts + window)
        frame.insert(0, "start", starts)
    else:
        frame.insert(0, "id", _id_frame(seqs.ids, len(codes)))
    _write(output, frame)
    _console(quiet).print(f"wrote {len(frame)} codes of size {len(names)} to {output}")


@app.command()
@command
def reconstruct(
    model: Annotated[Path, typer.Argument(help="Model directory.")],
    data: Annotated[str, typer.Argument(help="Data file or builtin:NAME.")],
    output: Output = Path("reconstruction.csv"),
    window: Window = None, stride: Stride = None, columns: Columns = None, time_column: TimeCol = None,
    id_column: IdCol = None, layout: LayoutAsTrained = None, fill: Fill = None, quiet: Quiet = False,
) -> None:
    """Write the reconstruction: one row per time point (series: mean over windows) or per sequence step.

    Example: lstmae reconstruct model/ sensors.csv -o rebuilt.csv
    """
    import pandas as pd

    from .scoring import windowed_to_points

    ae, settings = _load_model(model)
    seqs = _read_as_trained(data, settings, columns, time_column, id_column, layout, fill)
    if seqs.kind == "series":
        window, stride = _windowing(seqs, settings, window, stride)
        rec = windowed_to_points(ae.reconstruct, seqs.sequences, window, stride, progress=not quiet)
        frame = pd.DataFrame(rec, columns=seqs.feature_names)
        frame.insert(0, "t", np.arange(len(rec)))
    else:
        parts = ae.reconstruct(seqs.sequences)
        ids = seqs.ids if seqs.ids is not None else list(range(len(parts)))
        frame = pd.concat(
            [pd.DataFrame({"id": [i] * len(p), "step": np.arange(len(p))}).join(pd.DataFrame(p, columns=seqs.feature_names))
             for i, p in zip(ids, parts)], ignore_index=True)
    _write(output, frame)
    _console(quiet).print(f"wrote {len(frame)} reconstructed rows to {output}")


@app.command()
@command
def forecast(
    model: Annotated[Path, typer.Argument(help="Model directory.")],
    data: Annotated[str, typer.Argument(help="Data file or builtin:NAME.")],
    output: Output = Path("forecast.csv"),
    window: Window = None, columns: Columns = None, time_column: TimeCol = None,
    id_column: IdCol = None, layout: LayoutAsTrained = None, fill: Fill = None, quiet: Quiet = False,
) -> None:
    """Write the forecast of the next --horizon steps after the series (its last window) or each sequence.

    Example: lstmae forecast model/ sensors.csv -o next.csv
    """
    import pandas as pd

    ae, settings = _load_model(model)
    if not ae.config_.has_prediction:
        raise UsageError(f"{model} was trained with --task {ae.config_.task}; forecasts need --task predict or composite.")
    seqs = _read_as_trained(data, settings, columns, time_column, id_column, layout, fill)
    k = ae.config_.horizon
    if seqs.kind == "series":
        window, _ = _windowing(seqs, settings, window, 1)
        if len(seqs.sequences) < window:
            raise UsageError(f"the series has {len(seqs.sequences)} points, fewer than the window ({window}).")
        fc = ae.predict(seqs.sequences[None, -window:])[0]
        frame = pd.DataFrame(fc, columns=seqs.feature_names)
        frame.insert(0, "t", np.arange(len(seqs.sequences), len(seqs.sequences) + k))
    else:
        fc = ae.predict(seqs.sequences)
        ids = seqs.ids if seqs.ids is not None else list(range(len(fc)))
        frame = pd.DataFrame(fc.reshape(-1, fc.shape[2]), columns=seqs.feature_names)
        frame.insert(0, "step", np.tile(np.arange(k), len(fc)))
        frame.insert(0, "id", np.repeat(np.asarray(ids, dtype=object), k))
    _write(output, frame)
    _console(quiet).print(f"wrote a {k}-step forecast ({len(frame)} rows) to {output}")


@app.command()
@command
def detect(
    model: Annotated[Path, typer.Argument(help="Model directory (from train, or train --detector).")],
    data: Annotated[str, typer.Argument(help="Data file or builtin:NAME.")],
    output: Output = Path("scores.csv"),
    events: Annotated[Optional[Path], typer.Option(
        "--events", help="Also write the events (runs of anomalous points: start, end, peak, top features).")] = None,
    plot: Annotated[Optional[Path], typer.Option("--plot", help="Also write a PNG of the series and scores.")] = None,
    threshold: Annotated[Optional[float], typer.Option(
        help="Score threshold (default: the detector's, or training mean + k-sigma std for a plain model).")] = None,
    k_sigma: Annotated[float, typer.Option("--k-sigma", help="Plain models: mean + k * std of training scores.")] = 4.0,
    label_column: Annotated[Optional[str], typer.Option(
        "--label-column", help="Column of true 0/1 labels: report the metrics and shade them in the plot.")] = None,
    window: Window = None, stride: Stride = None, columns: Columns = None, time_column: TimeCol = None,
    id_column: IdCol = None, layout: LayoutAsTrained = None, fill: Fill = None, quiet: Quiet = False,
) -> None:
    """Score every time point (series) or sequence, flag anomalies, and list the anomalous events.

    Example: lstmae detect model/ sensors.csv -o scores.csv --events events.csv --plot scores.png
    """
    import pandas as pd

    from .metrics import evaluate, segments
    from .scoring import series_scores

    det, ae, settings = _load_any(model)
    if not ae.config_.has_reconstruction:
        raise UsageError(f"{model} was trained with --task predict; detection needs --task reconstruct or composite.")
    seqs = _read_as_trained(data, settings, columns, time_column, id_column, layout, fill, label_column)
    if threshold is None:
        if det is not None:
            threshold = det.threshold_
        elif "score_mean" in settings:
            threshold = settings["score_mean"] + k_sigma * settings["score_std"]
        else:
            raise UsageError(f"{model} has no training score statistics; pass --threshold.")
    table = None
    if seqs.kind == "series":
        window, stride = _windowing(seqs, settings, window, stride)
        if det is not None:
            det.set_params(window=window, stride=stride)
            det.threshold_ = threshold
            result = det.detect_series(seqs.sequences, progress=not quiet)
            scores, table = result.scores, result.events_frame()
        else:
            scores = series_scores(ae, seqs.sequences, window, stride, progress=not quiet)
        frame = pd.DataFrame({"t": np.arange(len(scores)), "score": scores})
    else:
        scores = det.anomaly_score(seqs.sequences) if det is not None else _sequence_scores(ae, seqs.sequences)
        frame = pd.DataFrame({"id": _id_frame(seqs.ids, len(scores)), "score": scores})
    flagged = (scores > threshold).astype(np.int64)
    frame["anomaly"] = flagged
    if table is None:  # events without per-feature attribution
        rows = []
        for start, end in segments(flagged):
            peak = start + int(np.nanargmax(scores[start:end]))
            rows.append({"start": start, "end": end, "peak": peak, "peak_score": float(scores[peak]),
                         "top_features": ""})
        table = pd.DataFrame(rows, columns=["start", "end", "peak", "peak_score", "top_features"])
    _write(output, frame)
    console = _console(quiet)
    unit = "points" if seqs.kind == "series" else "sequences"
    console.print(f"threshold {threshold:.4g}: {int(flagged.sum())} of {len(flagged)} {unit} flagged, "
                  f"{len(table)} events; wrote {output}")
    if events is not None:
        _write(events, table)
        console.print(f"wrote {events}")
    labels = (np.asarray(seqs.labels) > 0).astype(np.int64) if seqs.labels is not None else None
    if labels is not None and labels.shape == flagged.shape:
        m = evaluate(labels, scores, flagged)
        console.print("against the true labels: " + ", ".join(
            f"{k.replace('_', ' ')} {v:.2f}" for k, v in m.items()))
    if plot is not None:
        if seqs.kind != "series":
            raise UsageError("--plot draws a long series; this data holds separate sequences.")
        from .plotting import plot_scores

        plot_scores(seqs.sequences, scores, threshold, plot, labels=labels, predicted=flagged)
        console.print(f"wrote {plot}")


@app.command()
@command
def evaluate(
    scores: Annotated[Path, typer.Argument(help="Scores file written by `lstmae detect` (or any table).")],
    truth: Annotated[Optional[str], typer.Option(
        "--truth", help="File or builtin:NAME with the true labels (default: the scores file).")] = None,
    label_column: Annotated[str, typer.Option("--label-column", help="Column of true 0/1 labels.")] = "label",
    score_column: Annotated[str, typer.Option("--score-column", help="Column of anomaly scores.")] = "score",
    predicted_column: Annotated[str, typer.Option(
        "--predicted-column", help="Column of 0/1 flags (point- and event-wise metrics).")] = "anomaly",
    output: Annotated[Optional[Path], typer.Option("-o", "--output", help="Also write the metrics as JSON.")] = None,
) -> None:
    """Point-wise and event-wise precision/recall/F1 (no point adjustment), ROC-AUC and PR-AUC.

    Example: lstmae evaluate scores.csv --truth sensors.csv --label-column label
    """
    from ._atomic import atomic_write
    from .data.io import read_table
    from .metrics import evaluate as compute

    table = read_table(scores, columns=[score_column, predicted_column])
    values = table.sequences
    if truth is not None and truth.startswith("builtin:"):
        labels = _read(truth, None, None, None, "long", None).labels
        if labels is None:
            raise UsageError(f"{truth} has no labels.")
    else:
        labels = read_table(truth or scores, columns=[label_column]).sequences[:, 0]
    metrics = compute(labels, values[:, 0], values[:, 1])
    for key, value in metrics.items():
        typer.echo(f"{key:16s} {value:.4f}")
    if output is not None:
        with atomic_write(output, "w") as fh:
            json.dump(metrics, fh, indent=2)


@app.command()
@command
def info(model: Annotated[Path, typer.Argument(help="Model directory.")]) -> None:
    """Print a model's configuration and training summary.

    Example: lstmae info model/
    """
    from rich.console import Console
    from rich.table import Table

    ae, settings = _load_model(model)
    state = json.loads((Path(model) / "state.json").read_text())
    table = Table(title=f"lstmae model {model}", show_header=False)
    for key, value in ae.config_.to_dict().items():
        table.add_row(key, str(value))
    h = ae.history_
    table.add_row("epochs trained", str(len(h["train_loss"])))
    table.add_row("final train loss", f"{h['train_loss'][-1]:.5g}")
    if h.get("val_loss"):
        table.add_row("best validation loss", f"{min(h['val_loss']):.5g} (epoch {h['best_epoch'] + 1})")
    table.add_row("training time", f"{sum(h['epoch_time']):.1f} s")
    for key in ("window", "stride", "kind"):
        if key in settings:
            table.add_row(f"data {key}", str(settings[key]))
    table.add_row("saved with", ", ".join(f"{k} {v}" for k, v in state.get("versions", {}).items()))
    Console().print(table)


@app.command()
@command
def datasets() -> None:
    """List the built-in datasets (use them as builtin:NAME).

    Example: lstmae train builtin:sines --window 32 -o model/
    """
    from .datasets import list_datasets

    for name, description in list_datasets().items():
        typer.echo(f"{name:22s} {description}")


@app.command()
@command
def demo(
    output: Output = Path("demo-output"),
    epochs: Annotated[int, typer.Option(help="Maximum epochs.")] = 40,
    seed: Seed = 0,
    quiet: Quiet = False,
) -> None:
    """Train a composite model on built-in sines, report errors and anomaly detection, write plots.

    Example: lstmae demo -o demo-output
    """
    from rich.console import Console
    from rich.table import Table

    from .demo import run_demo

    result = run_demo(output, epochs=epochs, seed=seed, verbose=not quiet)
    table = Table(title="lstmae demo: composite LSTM autoencoder on builtin:sines")
    table.add_column("measure")
    table.add_column("lstmae", justify="right")
    table.add_column("naive baseline", justify="right")
    for row in result.rows:
        table.add_row(*row)
    console = Console()
    console.print(table)
    console.print("wrote " + ", ".join(str(f) for f in result.files) + f"  (total {result.seconds:.1f} s)")


plot_app = typer.Typer(no_args_is_help=True, help="Plots of what a model makes of the data.")
app.add_typer(plot_app, name="plot")


@plot_app.command("codes")
@command
def plot_codes_command(
    model: Annotated[Path, typer.Argument(help="Model directory.")],
    data: Annotated[str, typer.Argument(help="Data file or builtin:NAME.")],
    output: Annotated[Path, typer.Option("-o", "--output", help="PNG file to write.")] = Path("codes.png"),
    labels: Annotated[Optional[str], typer.Option(
        "--labels", help="Label column that colours the points: one label per sequence, or per time step of a "
        "long series (a window takes the label of its last step). Built-in datasets bring their own.")] = None,
    method: Annotated[str, typer.Option("--method", help="pca or tsne.")] = "pca",
    max_points: Annotated[int, typer.Option(
        "--max-points", help="Plot at most this many codes (evenly spaced), to keep t-SNE fast.")] = 5000,
    seed: Seed = 0,
    window: Window = None, stride: Stride = None, columns: Columns = None, time_column: TimeCol = None,
    id_column: IdCol = None, layout: LayoutAsTrained = None, fill: Fill = None, quiet: Quiet = False,
) -> None:
    """Map the code of every window or sequence to 2-D (PCA or t-SNE) and scatter them, coloured by label.

    Example: lstmae plot codes model/ fleet.parquet --id-column device --labels kind -o codes.png
    """
    from .plotting import plot_codes

    if method.lower() not in ("pca", "tsne"):
        raise UsageError(f"--method {method!r} is not valid; use 'pca' or 'tsne'.")
    if max_points < 2:
        raise UsageError(f"--max-points {max_points} is not valid; it must be at least 2.")
    ae, settings = _load_model(model)
    seqs = _read_as_trained(data, settings, columns, time_column, id_column, layout, fill, labels)
    if labels is not None and seqs.labels is None:
        raise UsageError(f"{data} has no labels; drop --labels or give data with a label column.")
    codes, starts, window = _codes(ae, seqs, settings, window, stride)
    point_labels = seqs.labels
    if point_labels is not None and starts is not None:  # per time step -> the last step of each window
        point_labels = np.asarray(point_labels)[starts + window - 1]
    keep = np.unique(np.linspace(0, len(codes) - 1, min(max_points, len(codes))).round().astype(np.int64))
    plot_codes(codes[keep], output, labels=None if point_labels is None else np.asarray(point_labels)[keep],
               method=method, random_state=seed)
    _console(quiet).print(f"wrote a {method.lower()} map of {len(keep)} codes to {output}")


def main() -> None:
    app()


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
