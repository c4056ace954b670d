"""The `lstmae` command line: each command parses, makes one library call, and writes.

Data arguments are a file (CSV/TSV, Parquet, .npy, .npz) or ``builtin:NAME``. One long
series is cut into windows (``--window``, ``--stride``); a file of many sequences
(``--id-column`` or ``--layout rows``) is used as is. A model directory records how its
training data was read and cut (`lstmae.data.spec.DataSpec`), so later commands read new
data the same way unless an option says otherwise. Exit codes: 0 success, 2 bad usage or
bad input (a one-line message; the traceback only with ``--debug``).
"""
from __future__ import annotations

import functools
import inspect
import json
import re
import sys
import time
from pathlib import Path
from typing import Annotated, Optional

import numpy as np
import typer

try:  # typer >= 0.29 vendors click
    from typer._click import exceptions as click_exceptions
except ImportError:  # pragma: no cover - older typer
    from click import exceptions as click_exceptions


class HelpFlag:
    """`--help` is a flag: no `<bool>` after it in the help (nor after any other flag: metavar="")."""

    def get_help_option(self, ctx):
        option = super().get_help_option(ctx)
        if option is not None:
            option.metavar = ""
        return option


class Command(HelpFlag, typer.core.TyperCommand):
    pass


class OneLineErrors(HelpFlag, typer.core.TyperGroup):
    """Usage errors (a bad option value, a missing argument) as one `error:` line and exit code 2,
    like every other error, instead of click's boxed usage text."""

    def main(self, *args, standalone_mode: bool = True, **kwargs):
        if not standalone_mode:
            return super().main(*args, standalone_mode=False, **kwargs)
        try:
            code = super().main(*args, standalone_mode=False, **kwargs)
        except click_exceptions.ClickException as exc:
            message = " ".join(exc.format_message().split())
            if message:  # (a group called without a command has printed its help already)
                typer.echo(f"error: {message}", err=True)
            sys.exit(exc.exit_code)
        except typer.Abort:
            typer.echo("error: aborted", err=True)
            sys.exit(1)
        sys.exit(code if isinstance(code, int) else 0)


app = typer.Typer(
    cls=OneLineErrors, add_completion=False, no_args_is_help=True, pretty_exceptions_enable=False,
    help="LSTM autoencoders for sequences: train, encode, reconstruct, forecast, detect anomalies.",
)
_state = {"debug": False}


class UsageError(ValueError):
    """Bad combination of command-line options."""


def in_cli_terms(message: str, names) -> str:
    """A library message in command-line terms: ``fill='zero'`` -> ``--fill zero``, ``columns=[...]`` ->
    ``--columns A,B``, for the option `names` of the command."""
    for name in sorted(names, key=len, reverse=True):
        flag = "--" + name.replace("_", "-")
        message = re.sub(rf"\b{name}=\[\.\.\.\]", f"{flag} A,B", message)
        message = re.sub(rf"\b{name}=(?=\S)", f"{flag} ", message)
    return message


def command(fn):
    """Turn expected errors into a one-line message in command-line terms and exit code 2 (write failures
    included: they name the file and the cause); training stopped by SIGTERM exits with 128 + 15 = 143."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except (ValueError, ImportError, OSError, KeyError) as exc:
            if _state["debug"]:
                raise
            text = str(exc.args[0]) if isinstance(exc, KeyError) and exc.args else str(exc)
            text = in_cli_terms(" ".join(text.split()), inspect.signature(wrapper).parameters)
            typer.echo(f"error: {text or type(exc).__name__}", err=True)
            raise typer.Exit(2) from None
        except Exception as exc:  # TrainingInterrupted (only once lstmae.training is loaded can it be one)
            training = sys.modules.get("lstmae.training")
            if training is None or not isinstance(exc, training.TrainingInterrupted) or _state["debug"]:
                raise
            typer.echo(f"error: {' '.join(exc.message('rerun with --resume').split())}", err=True)
            raise typer.Exit(exc.exit_code) from None

    return wrapper


def _print_version(value: bool) -> None:
    if value:
        from ._version import __version__

        typer.echo(f"lstmae {__version__}")
        raise typer.Exit()


@app.callback()
def _main(ctx: typer.Context,
          debug: Annotated[bool, typer.Option("--debug", metavar="", help="Show full tracebacks on errors.")] = False,
          threads: Annotated[Optional[int], typer.Option(
              "--threads", min=1, help="CPU threads for torch (default: chosen by the work's size and the CPUs "
              "this process may use; see LSTMAE_THREADS).")] = None,
          version: Annotated[bool, typer.Option("--version", metavar="", is_eager=True, callback=_print_version,
                                                help="Print the lstmae version and exit.")] = False) -> None:
    import os

    _state["debug"] = debug
    if threads is not None:  # the library's thread policy reads it (lstmae.threads); restored when the command ends
        before = os.environ.get("LSTMAE_THREADS")
        os.environ["LSTMAE_THREADS"] = str(threads)

        def restore() -> None:
            if before is None:
                os.environ.pop("LSTMAE_THREADS", None)
            else:
                os.environ["LSTMAE_THREADS"] = before

        ctx.call_on_close(restore)


# ---------------------------------------------------------------------------- options
Columns = Annotated[Optional[str], typer.Option("--columns", help="Comma-separated feature columns (default: all).")]
TimeCol = Annotated[Optional[str], typer.Option("--time-column", help="Column that orders rows; not a feature.")]
IdCol = Annotated[Optional[str], typer.Option("--id-column", help="Column grouping rows into sequences (long format).")]
Layout = Annotated[Optional[str], typer.Option(
    "--layout", help="'long': rows are time steps; 'rows': one sequence per row (default: long, or as trained).")]
Fill = Annotated[Optional[str], typer.Option("--fill", help="Missing values: ffill, interpolate or zero (default: error).")]
Window = Annotated[Optional[int], typer.Option("--window", min=1, help="Window length for one long series.")]
Stride = Annotated[Optional[int], typer.Option("--stride", min=1, help="Step between windows (default 1, or as trained).")]
Output = Annotated[Path, typer.Option("-o", "--output", help="Output file (.csv, .parquet, .npy) or model directory.")]
Quiet = Annotated[bool, typer.Option("--quiet", "-q", metavar="", help="No progress bars or summaries.")]
Seed = Annotated[int, typer.Option("--seed", help="Random seed.")]
ModelArg = Annotated[Path, typer.Argument(help="Model directory.")]
DataArg = Annotated[str, typer.Argument(help="Data file or builtin:NAME.")]


LabelCol = Annotated[Optional[str], typer.Option(
    "--label-column", "--labels", help="Column of true labels (0/1 anomalies, or classes): carried into the outputs "
    "and reported against, never trained on (a 0/1 column named label or anomaly is recognised).")]
Exclude = Annotated[Optional[str], typer.Option("--exclude", help="Comma-separated columns that are not features.")]
READ_OPTIONS = {"columns": Columns, "exclude": Exclude, "time_column": TimeCol, "id_column": IdCol,
                "label_column": LabelCol, "layout": Layout, "fill": Fill}


def reads_data(fn):
    """Give a command the options that say how to read its data (`READ_OPTIONS`); it gets them as `read`."""
    sig = inspect.signature(fn, eval_str=True)
    added = [inspect.Parameter(k, inspect.Parameter.KEYWORD_ONLY, default=None, annotation=a)
             for k, a in READ_OPTIONS.items()]

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        return fn(*args, read={k: kwargs.pop(k, None) for k in READ_OPTIONS}, **kwargs)

    wrapper.__signature__ = sig.replace(parameters=[p for p in sig.parameters.values() if p.name != "read"] + added)
    return wrapper


def _split(text: str | None) -> list[str] | None:
    return None if text is None else [c.strip() for c in text.split(",")]


def _read(data: str, spec, read: dict):
    """DATA read the way `spec` (a DataSpec, or None) says, each given option overriding it: (SequenceData, spec)."""
    from .data.datasets import read_data

    if read.get("layout") is not None and read["layout"] not in ("long", "rows"):
        raise UsageError(f"--layout {read['layout']!r} is not valid; use 'long' or 'rows'.")
    if not data.startswith("builtin:") and not Path(data).exists():
        raise UsageError(f"no such file: {data} (give a CSV, Parquet, .npy or .npz file, or builtin:NAME).")
    return read_data(data, spec, columns=_split(read.get("columns")), exclude=_split(read.get("exclude")),
                     **{k: read.get(k) for k in ("time_column", "id_column", "label_column", "layout", "fill")})


def _load(model: Path):
    """(the estimator in MODEL, the estimator holding the network: a detector's autoencoder, else itself)."""
    from .detector import LSTMAnomalyDetector
    from .serialization import load_model

    est = load_model(model)
    return est, (est.autoencoder_ if isinstance(est, LSTMAnomalyDetector) else est)


def _spec(est):
    return getattr(est, "data_spec_", None)


def _check_output(path: Path) -> Path:
    from .data.formats import WRITE_EXTENSIONS

    if path.suffix.lower() not in WRITE_EXTENSIONS:
        raise UsageError(f"-o {path}: unsupported extension {path.suffix or '(none)'!r}; use one of "
                         f"{', '.join(WRITE_EXTENSIONS)}.")
    return path


def _write(path: Path, frame) -> None:
    from .data.formats import write_table

    write_table(path, frame)


def _console(quiet: bool):
    from rich.console import Console

    return Console(stderr=True, quiet=quiet, soft_wrap=True)


# ---------------------------------------------------------------------------- commands
Stream = Annotated[Optional[bool], typer.Option(
    "--stream/--no-stream", metavar="", help="Read DATA chunk by chunk in bounded memory (default: for a directory of Parquet "
    "or CSV files, and a Parquet, CSV or .npy file over 1 GiB); outputs are written as they are made (.parquet "
    "or .csv).")]


@app.command(cls=Command)
@command
@reads_data
def train(
    data: DataArg,
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
    conditional: Annotated[bool, typer.Option(metavar="", help="Feed decoders their previous output.")] = False,
    reverse: Annotated[bool, typer.Option(metavar="", help="Reconstruct in reversed order.")] = False,
    bidirectional: Annotated[bool, typer.Option(metavar="", help="Bidirectional encoder.")] = False,
    dropout: Annotated[float, typer.Option(help="Dropout between stacked layers and on the code (training).")] = 0.0,
    device: Annotated[str, typer.Option(help="auto (CUDA when present), cpu, cuda or cuda:N.")] = "auto",
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
        "--resume", metavar="", help="Continue from the checkpoint in --checkpoint-dir (from scratch if there is none).")] = False,
    detector: Annotated[bool, typer.Option(
        "--detector", metavar="", help="Fit an anomaly detector: the autoencoder, then its error model and threshold "
        "on a held-out part of the (normal) data.")] = False,
    error_model: Annotated[str, typer.Option(help="With --detector: mean or mahalanobis.")] = "mean",
    threshold_method: Annotated[str, typer.Option(
        help="With --detector: k-sigma, contamination or max (f-beta needs labels: Python API).")] = "k-sigma",
    contamination: Annotated[float, typer.Option(help="With --threshold-method contamination.")] = 0.01,
    k_sigma: Annotated[float, typer.Option("--k-sigma", help="With --threshold-method k-sigma.")] = 4.0,
    holdout: Annotated[float, typer.Option(help="With --detector: fraction held out for the threshold.")] = 0.25,
    precision: Annotated[str, typer.Option(
        help="fp32, bf16 or fp16: forward passes under autocast (fp16 needs a GPU).")] = "fp32",
    nproc: Annotated[Optional[int], typer.Option(
        "--nproc", min=1, help="Train one model with N processes on this machine: runs this command under "
        "torchrun (for several machines call torchrun yourself).")] = None,
    init_from: Annotated[Optional[Path], typer.Option(
        "--init-from", help="Continue a saved model: its architecture, weights, scaler and data reading; a fresh "
        "optimiser.")] = None,
    seed: Seed = 0, quiet: Quiet = False, stream: Stream = None, read: dict | None = None,
) -> None:
    """Train an LSTM autoencoder (or, with --detector, an anomaly detector) and save it as a model directory.

    Under torchrun (or with --nproc N) the processes train one model together; rank 0 alone
    prints and writes.

    Example: lstmae train sensors.csv --time-column t --task composite --window 64 --horizon 8 -o model/
    """
    from . import distributed
    from .data.sources import read_stream, should_stream
    from .detector import LSTMAnomalyDetector
    from .estimators import LSTMAutoencoder
    from .frames import fit_data

    if nproc is not None and distributed.env_world_size() > 1:
        raise UsageError("--nproc starts torchrun itself; under torchrun already, leave --nproc out.")
    if nproc is not None and nproc > 1:  # the launcher: this command line again, in N processes
        argv = sys.argv[1:]
        if not any(a == "--nproc" or a.startswith("--nproc=") for a in argv):
            raise UsageError("--nproc relaunches the lstmae command line, which is not this program's; run "
                             "torchrun --nproc-per-node N $(which lstmae) train ... instead.")
        raise typer.Exit(distributed.launch(nproc, distributed.strip_option(argv, "--nproc")))
    main_process = distributed.is_main_process()
    quiet = quiet or not main_process
    base = None
    if init_from is not None:
        if detector:
            raise UsageError("--init-from continues an autoencoder; it cannot be combined with --detector (train "
                             "with --init-from, then detect with the autoencoder).")
        base = _load(init_from)[1]
    if should_stream(data, stream):  # larger than memory: windows cut from the files on the fly
        seqs, spec = read_stream(data, _spec(base), read)
    else:
        seqs, spec = _read(data, _spec(base), read)
    if base is not None and seqs.kind == "series" and _spec(base) is not None:
        window, stride = window or _spec(base).window, stride or _spec(base).stride
    if seqs.kind == "series" and window is None:
        raise UsageError(f"{seqs.source or 'the data'} is one long series; give --window to cut it into windows.")
    if seqs.kind != "series" and window is not None:
        raise UsageError(f"--window cuts one long series, but the data holds {seqs.n_sequences} sequences.")
    if detector and checkpoint_dir is not None:
        raise UsageError("--checkpoint-dir is not supported with --detector; train without --detector to checkpoint.")
    if seqs.kind == "series":
        spec = spec.replace(window=window, stride=stride or 1)
    architecture = dict(task=task, horizon=horizon, hidden_size=hidden_size, num_layers=num_layers,
                        code_size=code_size, bridge=bridge, conditional=conditional, reverse=reverse,
                        bidirectional=bidirectional, activation=activation, loss=loss,
                        scale=None if scale.lower() == "none" else scale)
    training = dict(dropout=dropout, batch_size=batch_size, learning_rate=learning_rate, epochs=epochs,
                    validation_split=validation_split, patience=patience, random_state=seed, verbose=not quiet,
                    device=device, precision=precision)
    if base is None:
        model = LSTMAutoencoder(**architecture, **training)
    else:  # the saved model's architecture; an option that asks for another one is refused
        defaults = inspect.signature(train).parameters
        for name, value in architecture.items():
            default = defaults[name].default
            if value != default and value != base.get_params()[name]:
                raise UsageError(f"--{name.replace('_', '-')} {value}: {init_from} has {name} "
                                 f"{base.get_params()[name]}; --init-from keeps the saved architecture.")
        model = base.set_params(**training, warm_start=True)
    fit = dict(checkpoint_dir=checkpoint_dir, checkpoint_every=checkpoint_every, resume=resume)
    if detector:
        model, fit = LSTMAnomalyDetector(autoencoder=model, window=spec.window, stride=spec.stride, holdout=holdout,
                                         error_model=error_model, threshold=threshold_method, k_sigma=k_sigma,
                                         contamination=contamination, random_state=seed), {}
    console, start = _console(quiet), time.perf_counter()
    if resume and checkpoint_dir is not None:
        from .checkpoint import has_checkpoint

        console.print(f"resuming from the checkpoint in {checkpoint_dir}" if has_checkpoint(checkpoint_dir)
                      else f"no checkpoint in {checkpoint_dir}: training from scratch")
    try:
        fitted = fit_data(model, seqs, spec, **fit)
    except distributed.DistributedError as exc:  # a process of the group died or timed out
        if _state["debug"]:
            raise
        typer.echo(f"error: {' '.join(str(exc).split())}", err=True)
        raise typer.Exit(1) from None
    if not main_process:  # rank 0 alone writes the model
        return
    fitted.save(output)
    h = (fitted.autoencoder_ if detector else fitted).history_
    console.print(f"trained in {time.perf_counter() - start:.1f} s, {len(h['train_loss'])} epochs, final loss "
                  f"{h['train_loss'][-1]:.4g}" + (f", best validation loss {min(h['val_loss']):.4g}"
                                                  if h.get("val_loss") else "")
                  + (f"; {error_model} error model, {threshold_method} threshold {fitted.threshold_:.4g} on held-out "
                     "data" if detector else "") + f"; saved to {output}")


@app.command(cls=Command)
@command
@reads_data
def encode(model: ModelArg, data: DataArg, output: Output = Path("codes.csv"), window: Window = None,
           stride: Stride = None, quiet: Quiet = False, stream: Stream = None, read: dict | None = None) -> None:
    """Write the code vector of every window (long series) or sequence.

    Example: lstmae encode model/ sensors.csv -o codes.parquet
    """
    from .data.sources import codes_frames, read_stream, should_stream, write_frames
    from .frames import codes_frame

    _check_output(output)
    est, ae = _load(model)
    if should_stream(data, stream):  # read, encoded and written chunk by chunk
        n, columns = write_frames(output, codes_frames(ae, read_stream(data, _spec(est), read)[0].sequences, window,
                                                       stride))
        _console(quiet).print(f"wrote {n} codes of size {sum(c.startswith('code_') for c in columns)} to {output}")
        return
    frame = codes_frame(ae, _read(data, _spec(est), read)[0], window, stride)
    _write(output, frame)
    _console(quiet).print(f"wrote {len(frame)} codes of size {frame.filter(like='code_').shape[1]} to {output}")


@app.command(cls=Command)
@command
@reads_data
def reconstruct(model: ModelArg, data: DataArg, output: Output = Path("reconstruction.csv"), window: Window = None,
                stride: Stride = None, quiet: Quiet = False, stream: Stream = None, read: dict | None = None) -> None:
    """Write the reconstruction: one row per time point (series: mean over windows) or per sequence step.

    Example: lstmae reconstruct model/ sensors.csv -o rebuilt.csv
    """
    from .data.sources import read_stream, reconstruction_frames, should_stream, write_frames
    from .frames import reconstruction_frame

    _check_output(output)
    est, ae = _load(model)
    if should_stream(data, stream):  # read, rebuilt and written chunk by chunk
        source = read_stream(data, _spec(est), read)[0].sequences
        n, _ = write_frames(output, reconstruction_frames(ae, source, window, stride, progress=not quiet))
        _console(quiet).print(f"wrote {n} reconstructed rows to {output}")
        return
    seqs, _ = _read(data, _spec(est), read)
    frame = reconstruction_frame(ae, seqs, window, stride, progress=not quiet)
    _write(output, frame)
    _console(quiet).print(f"wrote {len(frame)} reconstructed rows to {output}")


@app.command(cls=Command)
@command
@reads_data
def forecast(model: ModelArg, data: DataArg, output: Output = Path("forecast.csv"), window: Window = None,
             quiet: Quiet = False, read: dict | None = None) -> None:
    """Write the forecast of the next --horizon steps after the series (its last window) or each sequence.

    Example: lstmae forecast model/ sensors.csv -o next.csv
    """
    from .frames import forecast_frame

    _check_output(output)
    est, ae = _load(model)
    if not ae.config_.has_prediction:
        raise UsageError(f"{model} was trained with --task {ae.config_.task}; forecasts need --task predict or "
                         "composite.")
    frame = forecast_frame(ae, _read(data, _spec(est), read)[0], window)
    _write(output, frame)
    _console(quiet).print(f"wrote a forecast ({len(frame)} rows) to {output}")


@app.command(cls=Command)
@command
@reads_data
def detect(
    model: Annotated[Path, typer.Argument(help="Model directory (from train, or train --detector).")],
    data: DataArg,
    output: Output = Path("scores.csv"),
    events: Annotated[Optional[Path], typer.Option(
        "--events", help="Also write the events (runs of anomalous points: start, end, peak, top features).")] = None,
    plot: Annotated[Optional[Path], typer.Option("--plot", help="Also write a PNG of the series and scores.")] = None,
    threshold: Annotated[Optional[float], typer.Option(
        help="Score threshold (default: the detector's, or the autoencoder's training residuals' mean + "
        "--k-sigma std).")] = None,
    k_sigma: Annotated[float, typer.Option("--k-sigma", help="Plain autoencoders: the threshold's k.")] = 4.0,
    window: Window = None, stride: Stride = None, quiet: Quiet = False, stream: Stream = None,
    read: dict | None = None,
) -> None:
    """Score every time point (series) or sequence, flag anomalies, and list the anomalous events.

    Example: lstmae detect model/ sensors.csv -o scores.csv --events events.csv --plot scores.png
    """
    from .data.sources import DetectionStream, read_stream, should_stream, write_frames
    from .detector import LSTMAnomalyDetector
    from .frames import detection_frames
    from .metrics import binary_labels, detection_metrics

    for path in (output, events):
        if path is not None:
            _check_output(path)
    est, ae = _load(model)
    if should_stream(data, stream):  # scored and written chunk by chunk; events followed across chunks
        if plot is not None:
            raise UsageError("--plot draws the whole series, which a stream never holds; plot a part of it without "
                             "--stream.")
        source = read_stream(data, _spec(est), read)[0].sequences
        det = LSTMAnomalyDetector.for_model(est, window, stride, k_sigma=k_sigma, threshold_value=threshold)
        result = DetectionStream(det, source, threshold, progress=not quiet)
        write_frames(output, result.frames())
        console = _console(quiet)
        console.print(f"threshold {result.threshold:.4g}: {result.n_flagged} of {result.n_points} points flagged, "
                      f"{len(result.events)} events; wrote {output}")
        if events is not None:
            _write(events, result.events_frame())
            console.print(f"wrote {events}")
        return
    seqs, _ = _read(data, _spec(est), read)
    if plot is not None and seqs.kind != "series":
        raise UsageError(f"--plot draws one long series; this data holds {seqs.n_sequences} separate sequences.")
    det = LSTMAnomalyDetector.for_model(est, window, stride, k_sigma=k_sigma, threshold_value=threshold)
    frame, table, threshold, errors = detection_frames(det, seqs, threshold, progress=not quiet)
    scores, flagged = frame["score"].to_numpy(), frame["anomaly"].to_numpy()
    _write(output, frame)
    console = _console(quiet)
    console.print(f"threshold {threshold:.4g}: {int(flagged.sum())} of {len(flagged)} "
                  f"{'points' if seqs.kind == 'series' else 'sequences'} flagged, {len(table)} events; wrote {output}")
    if events is not None:
        _write(events, table)
        console.print(f"wrote {events}")
    labels = binary_labels(seqs.labels, "--label-column") if seqs.labels is not None else None
    if labels is not None and labels.shape == flagged.shape:
        m = detection_metrics(labels, scores, flagged)
        console.print("against the true labels: " + ", ".join(f"{k.replace('_', ' ')} {v:.2f}" for k, v in m.items()))
    if plot is not None:
        from .plotting import plot_scores

        plot_scores(seqs.sequences, scores, threshold, plot, labels=labels, predicted=flagged, errors=errors,
                    time=seqs.time, feature_names=list(seqs.feature_names), title=f"Anomaly scores: {data}")
        console.print(f"wrote {plot}")


@app.command("evaluate", cls=Command)
@command
def evaluate_command(
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
    from .data.tables import read_table
    from .metrics import binary_labels, detection_metrics

    values = read_table(scores, columns=[score_column, predicted_column]).sequences
    if truth is not None and truth.startswith("builtin:"):
        labels = _read(truth, None, {})[0].labels
        if labels is None:
            raise UsageError(f"{truth} has no labels.")
    else:
        labels = read_table(truth or scores, columns=[label_column]).sequences[:, 0]
    metrics = detection_metrics(binary_labels(labels, f"--label-column {label_column}"), values[:, 0], values[:, 1])
    for key, value in metrics.items():
        typer.echo(f"{key:16s} {value:.4f}")
    if output is not None:
        with atomic_write(output, "w") as fh:
            json.dump(metrics, fh, indent=2)


@app.command(cls=Command)
@command
def info(model: ModelArg) -> None:
    """Print a model's configuration, training summary, and its layers with shapes and parameter counts.

    Example: lstmae info model/
    """
    from rich.console import Console
    from rich.table import Table

    from .frames import describe

    est = _load(model)[0]
    table = Table(title=f"lstmae model {model}", show_header=False)
    for item, value in describe(est).itertuples(index=False):
        table.add_row(item, value)
    Console().print(table)
    typer.echo(est.summary().to_string())


@app.command(cls=Command)
@command
def datasets() -> None:
    """List the built-in datasets (use them as builtin:NAME).

    Example: lstmae train builtin:sines --window 32 -o model/
    """
    from .data.datasets import list_datasets

    for name, description in list_datasets().items():
        typer.echo(f"{name:22s} {description}")


@app.command(cls=Command)
@command
def demo(output: Output = Path("demo-output"), epochs: Annotated[int, typer.Option(help="Maximum epochs.")] = 40,
         seed: Seed = 0, quiet: Quiet = False) -> None:
    """Train a composite model on built-in sines, report errors and anomaly detection, write plots.

    Example: lstmae demo -o demo-output
    """
    from .demo import run_demo

    run_demo(output, epochs=epochs, seed=seed, verbose=not quiet).print()


plot_app = typer.Typer(cls=OneLineErrors, no_args_is_help=True, help="Plots of what a model makes of the data.")
app.add_typer(plot_app, name="plot")


@plot_app.command("codes", cls=Command)
@command
@reads_data
def plot_codes_command(
    model: ModelArg,
    data: DataArg,
    output: Annotated[Path, typer.Option("-o", "--output", help="PNG file to write.")] = Path("codes.png"),
    method: Annotated[str, typer.Option("--method", help="pca or tsne.")] = "pca",
    max_points: Annotated[int, typer.Option(
        "--max-points", help="Plot at most this many codes (evenly spaced), to keep t-SNE fast.")] = 5000,
    seed: Seed = 0,
    window: Window = None, stride: Stride = None, quiet: Quiet = False, read: dict | None = None,
) -> None:
    """Map the code of every window or sequence to 2-D (PCA or t-SNE) and scatter them, coloured by label.

    --label-column (or --labels): one label per sequence, or per time step of a long series (a
    window takes the label of its last step); built-in datasets bring their own.

    Example: lstmae plot codes model/ fleet.parquet --id-column device --labels kind -o codes.png
    """
    from .frames import codes_frame
    from .plotting import plot_codes

    if method.lower() not in ("pca", "tsne"):
        raise UsageError(f"--method {method!r} is not valid; use 'pca' or 'tsne'.")
    if max_points < 2:
        raise UsageError(f"--max-points {max_points} is not valid; it must be at least 2.")
    est, ae = _load(model)
    seqs, _ = _read(data, _spec(est), read)
    if read["label_column"] is not None and seqs.labels is None:
        raise UsageError(f"{data} has no labels; drop --label-column or give data with a label column.")
    frame = codes_frame(ae, seqs, window, stride)
    codes, point_labels = frame.filter(like="code_").to_numpy(), frame["label"].to_numpy() if "label" in frame else None
    keep = np.unique(np.linspace(0, len(codes) - 1, min(max_points, len(codes))).round().astype(np.int64))
    plot_codes(codes[keep], output, labels=None if point_labels is None else point_labels[keep],
               method=method, random_state=seed)
    _console(quiet).print(f"wrote a {method.lower()} map of {len(keep)} codes to {output}")


@plot_app.command("model", cls=Command)
@command
def plot_model_command(
    model: ModelArg,
    output: Annotated[Path, typer.Option("-o", "--output", help="PNG file to write.")] = Path("model.png"),
    seq_len: Annotated[Optional[int], typer.Option(
        "--seq-len", help="Sequence length on the shapes (default: the training window, else L).")] = None,
    quiet: Quiet = False,
) -> None:
    """Draw the model's architecture (boxes, data and state arrows, shapes), as Keras' plot_model does.

    Example: lstmae plot model model/ -o model.png
    """
    from .plotting import plot_model

    est, ae = _load(model)
    plot_model(ae.module_, output, seq_len=seq_len or getattr(_spec(est), "window", None))
    _console(quiet).print(f"wrote {output}")


def main() -> None:
    app()


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
