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


def _write(path: Path, frame) -> None:
    from .data.io import write_table

    write_table(path, frame)


def _load_model(model: Path):
    from .estimators import LSTMAutoencoder

    ae = LSTMAutoencoder.load(model)
    settings_file = Path(model) / DATA_FILE
    settings = json.loads(settings_file.read_text()) if settings_file.is_file() else {}
    return ae, settings


def _windowing(data, settings: dict, window: int | None, stride: int | None) -> tuple[int, int]:
    window = window or settings.get("window")
    stride = stride or settings.get("stride") or 1
    if window is None:
        raise UsageError(f"{data.source or 'the data'} is one long series; give --window to cut it into windows.")
    return int(window), int(stride)


def _console(quiet: bool):
    from rich.console import Console

    return Console(stderr=True, quiet=quiet)


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
    seed: Seed = 0,
    columns: Columns = None,
    time_column: TimeCol = None,
    id_column: IdCol = None,
    layout: Layout = "long",
    fill: Fill = None,
    quiet: Quiet = False,
) -> None:
    """Train an LSTM autoencoder and save it as a model directory.

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
    start = time.perf_counter()
    ae.fit(X)
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


def _sequence_scores(ae, X) -> np.ndarray:
    """Mean reconstruction error of each sequence (over its valid steps and features)."""
    return np.array([float(np.mean(e)) for e in ae.reconstruction_errors(X)])


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
    id_column: IdCol = None, layout: Layout = "long", fill: Fill = None, quiet: Quiet = False,
) -> None:
    """Write the code vector of every window (long series) or sequence.

    Example: lstmae encode model/ sensors.csv -o codes.parquet
    """
    import pandas as pd

    from .scoring import iter_window_chunks

    ae, settings = _load_model(model)
    seqs = _read(data, columns or settings.get("columns"), time_column or settings.get("time_column"),
                 id_column or settings.get("id_column"), layout, fill or settings.get("fill"))
    names = [f"code_{i}" for i in range(ae.config_.code_dim)]
    if seqs.kind == "series":
        window, stride = _windowing(seqs, settings, window, stride)
        codes = np.concatenate([ae.transform(w) for _, w in iter_window_chunks(seqs.sequences, window, stride)])
        starts = np.arange(len(codes)) * stride
        frame = pd.DataFrame(codes, columns=names)
        frame.insert(0, "end", starts + window)
        frame.insert(0, "start", starts)
    else:
        codes = ae.transform(seqs.sequences)
        frame = pd.DataFrame(codes, columns=names)
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
    id_column: IdCol = None, layout: Layout = "long", fill: Fill = None, quiet: Quiet = False,
) -> None:
    """Write the reconstruction: one row per time point (series: mean over windows) or per sequence step.

    Example: lstmae reconstruct model/ sensors.csv -o rebuilt.csv
    """
    import pandas as pd

    from .scoring import windowed_to_points

    ae, settings = _load_model(model)
    seqs = _read(data, columns or settings.get("columns"), time_column or settings.get("time_column"),
                 id_column or settings.get("id_column"), layout, fill or settings.get("fill"))
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
    id_column: IdCol = None, layout: Layout = "long", fill: Fill = None, quiet: Quiet = False,
) -> None:
    """Write the forecast of the next --horizon steps after the series (its last window) or each sequence.

    Example: lstmae forecast model/ sensors.csv -o next.csv
    """
    import pandas as pd

    ae, settings = _load_model(model)
    if not ae.config_.has_prediction:
        raise UsageError(f"{model} was trained with --task {ae.config_.task}; forecasts need --task predict or composite.")
    seqs = _read(data, columns or settings.get("columns"), time_column or settings.get("time_column"),
                 id_column or settings.get("id_column"), layout, fill or settings.get("fill"))
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
    model: Annotated[Path, typer.Argument(help="Model directory.")],
    data: Annotated[str, typer.Argument(help="Data file or builtin:NAME.")],
    output: Output = Path("scores.csv"),
    plot: Annotated[Optional[Path], typer.Option("--plot", help="Also write a PNG of the series and scores.")] = None,
    threshold: Annotated[Optional[float], typer.Option(help="Score threshold (default: training mean + k-sigma std).")] = None,
    k_sigma: Annotated[float, typer.Option("--k-sigma", help="Threshold = mean + k * std of the training scores.")] = 4.0,
    label_column: Annotated[Optional[str], typer.Option(
        "--label-column", help="Column of true 0/1 labels: report precision/recall and shade them in the plot.")] = None,
    window: Window = None, stride: Stride = None, columns: Columns = None, time_column: TimeCol = None,
    id_column: IdCol = None, layout: Layout = "long", fill: Fill = None, quiet: Quiet = False,
) -> None:
    """Score every time point (series) or sequence by reconstruction error and flag anomalies.

    Example: lstmae detect model/ sensors.csv -o scores.csv --plot scores.png
    """
    import pandas as pd

    from .scoring import series_scores

    ae, settings = _load_model(model)
    if not ae.config_.has_reconstruction:
        raise UsageError(f"{model} was trained with --task predict; detection needs --task reconstruct or composite.")
    seqs = _read(data, columns or settings.get("columns"), time_column or settings.get("time_column"),
                 id_column or settings.get("id_column"), layout, fill or settings.get("fill"), label_column)
    if threshold is None:
        if "score_mean" not in settings:
            raise UsageError(f"{model} has no training score statistics; pass --threshold.")
        threshold = settings["score_mean"] + k_sigma * settings["score_std"]
    if seqs.kind == "series":
        window, stride = _windowing(seqs, settings, window, stride)
        scores = series_scores(ae, seqs.sequences, window, stride, progress=not quiet)
        frame = pd.DataFrame({"t": np.arange(len(scores)), "score": scores})
    else:
        scores = _sequence_scores(ae, seqs.sequences)
        frame = pd.DataFrame({"id": _id_frame(seqs.ids, len(scores)), "score": scores})
    flagged = (scores > threshold).astype(np.int64)
    frame["anomaly"] = flagged
    _write(output, frame)
    console = _console(quiet)
    console.print(f"threshold {threshold:.4g}: {int(flagged.sum())} of {len(flagged)} flagged; wrote {output}")
    labels = seqs.labels if seqs.kind == "series" and seqs.labels is not None else None
    if labels is not None:
        labels = (np.asarray(labels) > 0).astype(np.int64)
        tp = int((flagged & labels).sum())
        console.print(f"against the true labels: precision {tp / max(flagged.sum(), 1):.2f}, "
                      f"recall {tp / max(labels.sum(), 1):.2f}")
    if plot is not None:
        if seqs.kind != "series":
            raise UsageError("--plot draws a long series; this data holds separate sequences.")
        from .plotting import plot_scores

        plot_scores(seqs.sequences, scores, threshold, plot, labels=labels, predicted=flagged)
        console.print(f"wrote {plot}")


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


def main() -> None:
    app()


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
