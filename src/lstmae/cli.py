"""The `lstmae` command line: each command parses, makes one library call, and writes.

Data arguments are a file (CSV/TSV, Parquet, .npy, .npz) or ``builtin:NAME``. One long
series is cut into windows (``--window``, ``--stride``); a file of many sequences
(``--id-column`` or ``--layout rows``) is used as is. A model directory records how its
training data was read and cut (`lstmae.data.spec.DataSpec`), so later commands read new
data the same way unless an option says otherwise. Exit codes: 0 success, 2 bad usage or
bad input (a one-line message; the traceback only with ``--debug``).
"""
from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Annotated, Optional

import numpy as np
import typer

from . import cli_support as cs
from .detector import LSTMAnomalyDetector, default_autoencoder
from .estimators import LSTMAutoencoder
from .cli_support import (Command, DataArg, ModelArg, OneLineErrors, Output, Quiet, Seed, Stream, Stride, UsageError,
                          Window, command, estimator_options, reads_data)

app = typer.Typer(
    cls=OneLineErrors, add_completion=False, no_args_is_help=True, pretty_exceptions_enable=False,
    help="LSTM autoencoders for sequences: train, encode, reconstruct, forecast, detect anomalies.",
)


@app.callback()
def _main(ctx: typer.Context,
          debug: Annotated[bool, typer.Option("--debug", metavar="", help="Show full tracebacks on errors.")] = False,
          threads: Annotated[Optional[int], typer.Option(
              "--threads", min=1, help="CPU threads for torch (default: chosen by the work's size and the CPUs "
              "this process may use; see LSTMAE_THREADS).")] = None,
          version: Annotated[bool, typer.Option("--version", metavar="", is_eager=True, callback=cs.print_version,
                                                help="Print the lstmae version and exit.")] = False) -> None:
    cs.STATE["debug"] = debug
    cs.thread_option(ctx, threads)


# ---------------------------------------------------------------------------- commands
MODEL_OPTIONS = ("task", "horizon", "hidden_size", "num_layers", "bidirectional", "code_size", "pooling", "bridge",
                 "conditional", "teacher_forcing", "reverse", "activation", "cell_clip", "loss", "scale", "dropout",
                 "input_noise", "learning_rate", "batch_size", "epochs", "validation_split", "patience", "clip_grad_norm",
                 "device", "precision")
ARCHITECTURE = MODEL_OPTIONS[:MODEL_OPTIONS.index("loss")]  # what --init-from keeps
DETECTOR_OPTIONS = ("error_model", "holdout", "series_transform", "window_norm", "level_term", "adaptive_threshold",
                    "smoothing", "event_gap")


@app.command(cls=Command)
@command
@reads_data
@estimator_options(LSTMAutoencoder, MODEL_OPTIONS)
@estimator_options(LSTMAnomalyDetector, DETECTOR_OPTIONS, into="detect", help_prefix="With --detector: ")
def train(
    data: DataArg,
    output: Output = Path("model"),
    window: Window = None,
    stride: Stride = None,
    checkpoint_dir: Annotated[Optional[Path], typer.Option(
        "--checkpoint-dir", help="Save training checkpoints here (every --checkpoint-every epochs and at the best loss).")] = None,
    checkpoint_every: Annotated[int, typer.Option("--checkpoint-every", help="Epochs between checkpoints.")] = 1,
    resume: Annotated[bool, typer.Option(
        "--resume", metavar="", help="Continue from the checkpoint in --checkpoint-dir (from scratch if there is none).")] = False,
    detector: Annotated[bool, typer.Option(
        "--detector", metavar="", help="Fit an anomaly detector: the autoencoder, then its error model and threshold "
        "on a held-out part of the (normal) data.")] = False,
    threshold_method: Annotated[Optional[str], typer.Option(
        help="With --detector: max-sigma, k-sigma, contamination or max (f-beta needs labels: Python API). "
        "Default: contamination when --contamination is given, else max-sigma for a long series, k-sigma "
        "for sequences.")] = None,
    contamination: Annotated[Optional[float], typer.Option(
        help="Expected share of anomalies: the threshold is that quantile of the held-out scores (0.01 with "
        "--threshold-method contamination).")] = None,
    k_sigma: Annotated[float, typer.Option("--k-sigma", help="With --threshold-method k-sigma.")] = 4.0,
    max_sigma: Annotated[float, typer.Option("--max-sigma", help="With --threshold-method max-sigma.")] = 1.0,
    nproc: Annotated[Optional[int], typer.Option(
        "--nproc", min=1, help="Train one model with N processes on this machine: runs this command under "
        "torchrun (for several machines call torchrun yourself).")] = None,
    init_from: Annotated[Optional[Path], typer.Option(
        "--init-from", help="Continue a saved model: its architecture, weights, scaler and data reading; a fresh "
        "optimiser.")] = None,
    seed: Seed = 0, quiet: Quiet = False, stream: Stream = None, read: dict | None = None, params: dict | None = None,
    detect: dict | None = None,
) -> None:
    """Train an LSTM autoencoder (or, with --detector, an anomaly detector) and save it as a model directory.

    Under torchrun (or with --nproc N) the processes train one model together; rank 0 alone
    prints and writes.

    Example: lstmae train sensors.csv --time-column t --task composite --window 64 --horizon 8 -o model/
    """
    from .distributed import is_main_process
    from .frames import fit_data

    cs.relaunch(nproc)
    quiet = quiet or not is_main_process()  # rank 0 alone prints and writes
    if init_from is not None and detector:
        raise UsageError("--init-from continues an autoencoder; it cannot be combined with --detector (train with "
                         "--init-from, then detect with the autoencoder).")
    base = cs.load(init_from)[1] if init_from is not None else None
    seqs, spec = cs.read_input(data, cs.spec_of(base), read, stream)
    if base is not None and seqs.kind == "series" and cs.spec_of(base) is not None:
        window, stride = window or cs.spec_of(base).window, stride or cs.spec_of(base).stride
    if seqs.kind == "series" and window is None:
        raise UsageError(f"{seqs.source or 'the data'} is one long series; give --window to cut it into windows.")
    if seqs.kind != "series" and window is not None:
        raise UsageError(f"--window cuts one long series, but the data holds {seqs.n_sequences} sequences.")
    if detector and checkpoint_dir is not None:
        raise UsageError("--checkpoint-dir is not supported with --detector; train without --detector to checkpoint.")
    if seqs.kind == "series":
        spec = spec.replace(window=window, stride=stride or 1)
    settings = dict(random_state=seed, verbose=not quiet)
    if detector:  # model options not given are the detector's default autoencoder's, as in Python
        defaults = default_autoencoder(series=seqs.kind == "series").get_params()
        params = {**{k: v for k, v in defaults.items() if k in params},
                  **cs.given_on_command_line(params)}
    model = (cs.continue_from(init_from, params, ARCHITECTURE, **settings) if init_from is not None
             else LSTMAutoencoder(**params, **settings))
    fit = dict(checkpoint_dir=checkpoint_dir, checkpoint_every=checkpoint_every, resume=resume)
    if detector:
        model, fit = LSTMAnomalyDetector(autoencoder=model, window=spec.window, stride=spec.stride, **detect,
                                         threshold=threshold_method, k_sigma=k_sigma, max_sigma=max_sigma,
                                         contamination=contamination,
                                         random_state=seed), {}
    console, start = cs.console(quiet), time.perf_counter()
    if resume and checkpoint_dir is not None:
        from .checkpoint import has_checkpoint

        console.print(f"resuming from the checkpoint in {checkpoint_dir}" if has_checkpoint(checkpoint_dir)
                      else f"no checkpoint in {checkpoint_dir}: training from scratch")
    fitted = fit_data(model, seqs, spec, **fit)
    if is_main_process():
        fitted.save(output)
        console.print(cs.training_summary(fitted, time.perf_counter() - start, output))


@app.command(cls=Command)
@command
@reads_data
def encode(model: ModelArg, data: DataArg, output: Output = Path("codes.csv"), window: Window = None,
           stride: Stride = None, quiet: Quiet = False, stream: Stream = None, read: dict | None = None) -> None:
    """Write the code vector of every window (long series) or sequence.

    Example: lstmae encode model/ sensors.csv -o codes.parquet
    """
    from .frames import codes_frame
    from .streaming import codes_frames

    cs.check_output(output)
    est, ae = cs.load(model)
    seqs, _ = cs.read_input(data, cs.spec_of(est), read, stream)  # a stream is encoded and written chunk by chunk
    tables = (codes_frames(ae, seqs.sequences, window, stride) if cs.is_stream(seqs)
              else codes_frame(ae, seqs, window, stride))
    cs.console(quiet).print(f"wrote {cs.write_tables(output, tables)} codes to {output}")


@app.command(cls=Command)
@command
@reads_data
def reconstruct(model: ModelArg, data: DataArg, output: Output = Path("reconstruction.csv"), window: Window = None,
                stride: Stride = None, quiet: Quiet = False, stream: Stream = None, read: dict | None = None) -> None:
    """Write the reconstruction: one row per time point (series: mean over windows) or per sequence step.

    Example: lstmae reconstruct model/ sensors.csv -o rebuilt.csv
    """
    from .frames import reconstruction_frame
    from .streaming import reconstruction_frames

    cs.check_output(output)
    est, ae = cs.load(model)
    seqs, _ = cs.read_input(data, cs.spec_of(est), read, stream)  # a stream is rebuilt and written chunk by chunk
    tables = (reconstruction_frames if cs.is_stream(seqs) else reconstruction_frame)(
        ae, seqs.sequences if cs.is_stream(seqs) else seqs, window, stride, progress=not quiet)
    cs.console(quiet).print(f"wrote {cs.write_tables(output, tables)} reconstructed rows to {output}")


@app.command(cls=Command)
@command
@reads_data
def forecast(model: ModelArg, data: DataArg, output: Output = Path("forecast.csv"), window: Window = None,
             quiet: Quiet = False, read: dict | None = None) -> None:
    """Write the forecast of the next --horizon steps after the series (its last window) or each sequence.

    Example: lstmae forecast model/ sensors.csv -o next.csv
    """
    from .frames import forecast_frame

    cs.check_output(output)
    est, ae = cs.load(model)
    if not ae.config_.has_prediction:
        raise UsageError(f"{model} was trained with --task {ae.config_.task}; forecasts need --task predict or "
                         "composite.")
    frame = forecast_frame(ae, cs.read(data, cs.spec_of(est), read)[0], window)
    cs.write(output, frame)
    cs.console(quiet).print(f"wrote a forecast ({len(frame)} rows) to {output}")


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
    event_gap: Annotated[Optional[int], typer.Option(
        "--event-gap", min=0, help="Flagged runs at most this many points apart are one event (default: the "
        "detector's; two windows for a plain autoencoder; 0: every run its own event).")] = None,
    window: Window = None, stride: Stride = None, quiet: Quiet = False, stream: Stream = None,
    read: dict | None = None,
) -> None:
    """Score every time point (series) or sequence, flag anomalies, and list the anomalous events.

    Example: lstmae detect model/ sensors.csv -o scores.csv --events events.csv --plot scores.png
    """
    from .frames import detection_frames
    from .metrics import binary_labels, detection_metrics
    from .streaming import DetectionStream

    for path in (output, events):
        if path is not None:
            cs.check_output(path)
    est, ae = cs.load(model)
    seqs, _ = cs.read_input(data, cs.spec_of(est), read, stream)
    if plot is not None and (cs.is_stream(seqs) or seqs.kind != "series"):
        raise UsageError("--plot draws one whole long series; this data is a stream or holds separate sequences.")
    det = LSTMAnomalyDetector.for_model(est, window, stride, k_sigma=k_sigma, threshold_value=threshold)
    if event_gap is not None:
        det.set_params(event_gap=event_gap)
    given_threshold = threshold
    if cs.is_stream(seqs):  # scored and written chunk by chunk; events followed across chunks
        result = DetectionStream(det, seqs.sequences, threshold, progress=not quiet)
        n_rows = cs.write_tables(output, result.frames())
        summary, table, threshold = f"{result.n_flagged} of {n_rows} points", result.events_frame(), result.threshold
    else:
        frame, table, threshold, errors = detection_frames(det, seqs, threshold, progress=not quiet)
        scores, flagged = frame["score"].to_numpy(), frame["anomaly"].to_numpy()
        cs.write(output, frame)
        summary = f"{int(flagged.sum())} of {len(flagged)} {'points' if seqs.kind == 'series' else 'sequences'}"
    console = cs.console(quiet)
    rolling = given_threshold is None and det.adaptive_threshold is not None and seqs.kind == "series"
    moving = f" (moving with the median of the last {det.adaptive_threshold} scores)" if rolling else ""
    console.print(f"threshold {threshold:.4g}{moving}: {summary} flagged, {len(table)} events; wrote {output}")
    hint = cs.many_flagged_hint(det, *((result.n_flagged, result.n_points) if cs.is_stream(seqs)
                                       else (int(flagged.sum()), len(flagged))))
    if hint is not None:
        console.print(hint)
    if events is not None:
        cs.write(events, table)
        console.print(f"wrote {events}")
    if cs.is_stream(seqs):
        return
    labels = binary_labels(seqs.labels, "--label-column") if seqs.labels is not None else None
    if labels is not None and labels.shape == flagged.shape:
        m = detection_metrics(labels, scores, flagged, det.event_gap_points if seqs.kind == "series" else 0)
        console.print("against the true labels: " + ", ".join(f"{k.replace('_', ' ')} {v:.2f}" for k, v in m.items()))
    if plot is not None:
        from .plotting import plot_scores

        drawn = det.point_thresholds(scores) if rolling else threshold  # the rolling one, point by point
        plot_scores(seqs.sequences, scores, drawn, plot, labels=labels, predicted=flagged, errors=errors,
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
    event_gap: Annotated[int, typer.Option(
        "--event-gap", min=0, help="Flagged runs at most this many points apart count as one event, as "
        "`lstmae detect` reports them (the detector's gap: `lstmae info MODEL`, 'event gap'); 0: every run.")] = 0,
    output: Annotated[Optional[Path], typer.Option("-o", "--output", help="Also write the metrics as JSON.")] = None,
) -> None:
    """Point-wise and event-wise precision/recall/F1 (no point adjustment), ROC-AUC and PR-AUC.

    Example: lstmae evaluate scores.csv --truth sensors.csv --label-column label
    """
    from ._atomic import atomic_write
    from .data.tables import read_table
    from .metrics import binary_labels, detection_metrics

    values = read_table(scores, columns=[score_column, predicted_column]).sequences
    labels = cs.read_labels(truth, scores, label_column)
    metrics = detection_metrics(binary_labels(labels, f"--label-column {label_column}"), values[:, 0], values[:, 1],
                                event_gap)
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
    from .frames import describe

    est = cs.load(model)[0]
    cs.print_rows(f"lstmae model {model}", describe(est).itertuples(index=False))
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
        "--max-points", min=2, help="Plot at most this many codes (evenly spaced), to keep t-SNE fast.")] = 5000,
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
    est, ae = cs.load(model)
    seqs, _ = cs.read(data, cs.spec_of(est), read)
    if read["label_column"] is not None and seqs.labels is None:
        raise UsageError(f"{data} has no labels; drop --label-column or give data with a label column.")
    frame = codes_frame(ae, seqs, window, stride)
    codes, point_labels = frame.filter(like="code_").to_numpy(), frame["label"].to_numpy() if "label" in frame else None
    keep = np.unique(np.linspace(0, len(codes) - 1, min(max_points, len(codes))).round().astype(np.int64))
    plot_codes(codes[keep], output, labels=None if point_labels is None else point_labels[keep],
               method=method, random_state=seed)
    cs.console(quiet).print(f"wrote a {method.lower()} map of {len(keep)} codes to {output}")


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

    est, ae = cs.load(model)
    plot_model(ae.module_, output, seq_len=seq_len or getattr(cs.spec_of(est), "window", None))
    cs.console(quiet).print(f"wrote {output}")


def main() -> None:
    app()


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
