"""The command line's machinery, apart from its commands (`lstmae.cli`).

- errors: every error, usage errors included, is one `error:` line in command-line terms
  (``--fill zero``, not ``fill='zero'``) with exit code 2 (`OneLineErrors`, `command`);
- options that several commands share, declared once (`READ_OPTIONS` and `reads_data`: how a
  data file is read), and the model options of `lstmae train` generated from the estimator's own
  signature and docstring (`estimator_options`), so the command line and the Python API never
  drift apart;
- small helpers the commands share: read data as a model was trained, load a model, check an
  output path, write a table, a console for summaries.
"""
from __future__ import annotations

import functools
import inspect
import re
import sys
from pathlib import Path
from typing import Annotated, Any, Optional

import typer

try:  # typer >= 0.29 vendors click
    from typer._click import exceptions as click_exceptions
    from typer._click.core import ParameterSource
    from typer._click.globals import get_current_context
except ImportError:  # pragma: no cover - older typer
    from click import exceptions as click_exceptions
    from click import get_current_context
    from click.core import ParameterSource

STATE = {"debug": False}  # set by the app's callback (--debug)


class UsageError(ValueError):
    """Bad combination of command-line options."""


# ---------------------------------------------------------------------------- errors
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


def in_cli_terms(message: str, names) -> str:
    """A library message in command-line terms: ``fill='zero'`` -> ``--fill zero``, ``columns=[...]`` ->
    ``--columns A,B``, for the option `names` of the command."""
    for name in sorted(names, key=len, reverse=True):
        flag = "--" + name.replace("_", "-")
        message = re.sub(rf"\b{name}=\[\.\.\.\]", f"{flag} A,B", message)
        message = re.sub(rf"\b{name}=True\b", flag, message)  # boolean options are flags
        message = re.sub(rf"\b{name}=False\b", "--no-" + name.replace("_", "-"), message)
        message = re.sub(rf"\b{name}=(?=\S)", f"{flag} ", message)
        message = re.sub(rf"{flag} None\b", f"{flag} none", message)
    return re.sub(r"\bor None\b", "or none", message)  # a parameter's None is typed "none" on the command line


def command(fn):
    """Turn expected errors into a one-line message in command-line terms and exit code 2 (write failures
    included: they name the file and the cause); training stopped by SIGTERM exits with 128 + 15 = 143."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except (ValueError, ImportError, OSError, KeyError) as exc:
            if STATE["debug"]:
                raise
            text = str(exc.args[0]) if isinstance(exc, KeyError) and exc.args else str(exc)
            text = in_cli_terms(" ".join(text.split()), inspect.signature(wrapper).parameters)
            typer.echo(f"error: {text or type(exc).__name__}", err=True)
            raise typer.Exit(2) from None
        except Exception as exc:  # TrainingInterrupted, DistributedError (only once their modules are loaded)
            training, distributed = sys.modules.get("lstmae.training"), sys.modules.get("lstmae.distributed")
            if STATE["debug"]:
                raise
            if training is not None and isinstance(exc, training.TrainingInterrupted):
                typer.echo(f"error: {' '.join(exc.message('rerun with --resume').split())}", err=True)
                raise typer.Exit(exc.exit_code) from None
            if distributed is not None and isinstance(exc, distributed.DistributedError):  # a process died
                typer.echo(f"error: {' '.join(str(exc).split())}", err=True)
                raise typer.Exit(1) from None
            raise

    return wrapper


def print_version(value: bool) -> None:
    if value:
        from ._version import __version__

        typer.echo(f"lstmae {__version__}")
        raise typer.Exit()


# ---------------------------------------------------------------------------- shared options
Columns = Annotated[Optional[str], typer.Option("--columns", help="Comma-separated feature columns (default: all).")]
TimeCol = Annotated[Optional[str], typer.Option("--time-column", help="Column that orders rows; not a feature.")]
IdCol = Annotated[Optional[str], typer.Option("--id-column", help="Column grouping rows into sequences (long format).")]
Layout = Annotated[Optional[str], typer.Option(
    "--layout", help="'long': rows are time steps; 'rows': one sequence per row (default: long, or as trained).")]
Fill = Annotated[Optional[str], typer.Option("--fill", help="Missing values: ffill, interpolate or zero (default: error).")]
LabelCol = Annotated[Optional[str], typer.Option(
    "--label-column", "--labels", help="Column of true labels (0/1 anomalies, or classes): carried into the outputs "
    "and reported against, never trained on (a 0/1 column named label or anomaly is recognised).")]
Exclude = Annotated[Optional[str], typer.Option("--exclude", help="Comma-separated columns that are not features.")]
Window = Annotated[Optional[int], typer.Option("--window", min=1, help="Window length for one long series.")]
Stride = Annotated[Optional[int], typer.Option("--stride", min=1, help="Step between windows (default 1, or as trained).")]
Output = Annotated[Path, typer.Option("-o", "--output", help="Output file (.csv, .parquet, .npy) or model directory.")]
Quiet = Annotated[bool, typer.Option("--quiet", "-q", metavar="", help="No progress bars or summaries.")]
Seed = Annotated[int, typer.Option("--seed", help="Random seed.")]
ModelArg = Annotated[Path, typer.Argument(help="Model directory.")]
DataArg = Annotated[str, typer.Argument(help="Data file or builtin:NAME.")]
Stream = Annotated[Optional[bool], typer.Option(
    "--stream/--no-stream", metavar="", help="Read DATA chunk by chunk in bounded memory (default: for a directory of "
    "Parquet or CSV files, and a Parquet, CSV or .npy file over 1 GiB); outputs are written as they are made "
    "(.parquet or .csv).")]
READ_OPTIONS = {"columns": Columns, "exclude": Exclude, "time_column": TimeCol, "id_column": IdCol,
                "label_column": LabelCol, "layout": Layout, "fill": Fill}


def _with_options(fn, name: str, options: dict[str, Any], convert=lambda values: values):
    """`fn` with keyword options `options` (name -> annotation, or (annotation, default)) added to its
    signature; it receives their values as one dict argument `name`."""
    sig = inspect.signature(fn, eval_str=True)
    added = [inspect.Parameter(k, inspect.Parameter.KEYWORD_ONLY, annotation=a[0] if isinstance(a, tuple) else a,
                               default=a[1] if isinstance(a, tuple) else None) for k, a in options.items()]

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        return fn(*args, **{name: convert({k: kwargs.pop(k) for k in options if k in kwargs})}, **kwargs)

    wrapper.__signature__ = sig.replace(parameters=[p for p in sig.parameters.values() if p.name != name] + added)
    return wrapper


def reads_data(fn):
    """Give a command the options that say how to read its data (`READ_OPTIONS`); it gets them as `read`."""
    return _with_options(fn, "read", READ_OPTIONS)


def parameter_docs(cls: type) -> dict[str, tuple[str, str]]:
    """name -> (type line, first sentence of the description) from a numpydoc "Parameters" section."""
    section = (cls.__doc__ or "").split("Parameters\n    ----------\n", 1)[-1].split("\n    Attributes\n", 1)[0]
    docs = {}
    for names, kind, text in re.findall(r"^    (\w+(?:, \w+)*) : ([^\n]*)\n((?:        [^\n]*\n|\n)*)", section, re.M):
        sentence = re.split(r"(?<=\.)(?<!al\.)\s", " ".join(text.split()), maxsplit=1)[0].replace("``", "")
        for name in names.split(", "):
            docs[name] = (kind, sentence)
    return docs


def estimator_options(cls: type, names: tuple[str, ...], into: str = "params", help_prefix: str = ""):
    """Options ``--name`` for the constructor parameters `names` of `cls`: the type and the default from
    its signature, the help (after `help_prefix`) from its docstring. The command gets them as the dict
    argument `into` (every value; the text "none" means None for a parameter that may be None)."""
    sig = inspect.signature(cls.__init__, eval_str=True)
    docs = parameter_docs(cls)
    options, nullable = {}, {}
    for name in names:
        param = sig.parameters[name]
        kind, sentence = docs.get(name, ("", ""))
        types = [t for t in getattr(param.annotation, "__args__", (param.annotation,)) if t is not type(None)]
        base = types[0] if types and types[0] in (int, float, str, bool) else str
        if type(None) in getattr(param.annotation, "__args__", ()) and param.default is not None:
            nullable[name] = (base, str in types)  # the value is text, so that "none" (and "auto") get through
            base = str
        choices = kind.split("}")[0] + "}" if kind.startswith("{") else ""
        help_text = help_prefix + " ".join(x for x in (sentence, choices.replace('"', "")) if x)
        flag = "--" + name.replace("_", "-")
        decls = (f"{flag}/--no-{name.replace('_', '-')}",) if base is bool else (flag,)
        option = typer.Option(*decls, help=help_text, **({"metavar": ""} if base is bool else {}))
        annotation = Annotated[Optional[base] if param.default is None else base, option]
        options[name] = (annotation, None if param.default is None else param.default)

    def value(name: str, v: Any) -> Any:
        if name not in nullable or v is None:
            return v
        if str(v).lower() == "none":
            return None
        kind, words = nullable[name]
        try:
            return kind(v)
        except ValueError:
            if words:  # a parameter that takes words too ("auto"): the estimator checks them
                return v
            raise UsageError(f"--{name.replace('_', '-')} {v!r} is not valid; give a number or none.") from None

    def convert(values: dict) -> dict:
        return {k: value(k, v) for k, v in values.items()}

    return lambda fn: _with_options(fn, into, options, convert)


# ---------------------------------------------------------------------------- helpers of the commands
def given_on_command_line(values: dict) -> dict:
    """The entries of `values` (option name -> value) that the user typed, not left at their default."""
    ctx = get_current_context()
    return {k: v for k, v in values.items() if ctx.get_parameter_source(k) not in (ParameterSource.DEFAULT, None)}


def split_list(text: str | None) -> list[str] | None:
    return None if text is None else [c.strip() for c in text.split(",")]


def read_kwargs(options: dict) -> dict:
    """The read options of the command line as the data layer takes them (``--columns A,B`` as a list)."""
    return {**{k: options.get(k) for k in ("time_column", "id_column", "label_column", "layout", "fill")},
            "columns": split_list(options.get("columns")), "exclude": split_list(options.get("exclude"))}


def read(data: str, spec, options: dict):
    """DATA read the way `spec` (a DataSpec, or None) says, each given option overriding it: (SequenceData, spec)."""
    from .data.datasets import read_data

    if options.get("layout") is not None and options["layout"] not in ("long", "rows"):
        raise UsageError(f"--layout {options['layout']!r} is not valid; use 'long' or 'rows'.")
    if not data.startswith("builtin:") and not Path(data).exists():
        raise UsageError(f"no such file: {data} (give a CSV, Parquet, .npy or .npz file, or builtin:NAME).")
    return read_data(data, spec, **read_kwargs(options))


def load(model: Path):
    """(the estimator in MODEL, the estimator holding the network: a detector's autoencoder, else itself)."""
    from .detector import LSTMAnomalyDetector
    from .serialization import load_model

    est = load_model(model)
    return est, (est.autoencoder_ if isinstance(est, LSTMAnomalyDetector) else est)


def spec_of(est):
    """How `est`'s training data was read and cut (its DataSpec), or None."""
    return getattr(est, "data_spec_", None)


def check_output(path: Path) -> Path:
    """Refuse an output file lstmae cannot write, before any work."""
    from .data.formats import WRITE_EXTENSIONS

    if path.suffix.lower() not in WRITE_EXTENSIONS:
        raise UsageError(f"-o {path}: unsupported extension {path.suffix or '(none)'!r}; use one of "
                         f"{', '.join(WRITE_EXTENSIONS)}.")
    return path


def write(path: Path, frame) -> None:
    from .data.formats import write_table

    write_table(path, frame)


def console(quiet: bool):
    from rich.console import Console

    return Console(stderr=True, quiet=quiet, soft_wrap=True)


def thread_option(ctx, threads: int | None) -> None:
    """`--threads N`: the library's thread policy reads LSTMAE_THREADS (`lstmae.threads`); set for this
    command only, restored when it ends."""
    import os

    if threads is None:
        return
    before = os.environ.get("LSTMAE_THREADS")
    os.environ["LSTMAE_THREADS"] = str(threads)

    def restore() -> None:
        if before is None:
            os.environ.pop("LSTMAE_THREADS", None)
        else:
            os.environ["LSTMAE_THREADS"] = before

    ctx.call_on_close(restore)


def relaunch(nproc: int | None) -> None:
    """`--nproc N`: run this same command line under torchrun in N processes (exits with its code)."""
    from . import distributed

    if nproc is not None and distributed.env_world_size() > 1:
        raise UsageError("--nproc starts torchrun itself; under torchrun already, leave --nproc out.")
    if nproc is not None and nproc > 1:
        argv = sys.argv[1:]
        if not any(a == "--nproc" or a.startswith("--nproc=") for a in argv):
            raise UsageError("--nproc relaunches the lstmae command line, which is not this program's; run "
                             "torchrun --nproc-per-node N $(which lstmae) train ... instead.")
        raise typer.Exit(distributed.launch(nproc, distributed.strip_option(argv, "--nproc")))


def read_input(data: str, spec, options: dict, stream: bool | None):
    """(data, spec): read in memory (SequenceData), or opened as a stream (`lstmae.data.sources`) when
    `stream` (``--stream``) says so or the input is large."""
    from .data.sources import read_stream, should_stream

    return read_stream(data, spec, read_kwargs(options)) if should_stream(data, stream) else read(data, spec, options)


def is_stream(data) -> bool:
    from .data.containers import SequenceData

    return not isinstance(data, SequenceData)


def write_tables(path: Path, tables) -> int:
    """Write one DataFrame, or an iterator of them (a stream, written as it is made); returns the rows."""
    import pandas as pd

    if isinstance(tables, pd.DataFrame):
        write(path, tables)
        return len(tables)
    from .streaming import write_frames

    return write_frames(path, tables)[0]


def continue_from(init_from: Path, params: dict, architecture: tuple[str, ...], **settings):
    """The saved model in `init_from`, set to continue training (`warm_start`) with the given settings;
    an option that asks for another architecture than the saved one is refused."""
    from .estimators import LSTMAutoencoder

    base = load(init_from)[1]
    defaults = LSTMAutoencoder().get_params()
    for name in architecture:
        if params[name] != defaults[name] and params[name] != base.get_params()[name]:
            raise UsageError(f"--{name.replace('_', '-')} {params[name]}: {init_from} has {name} "
                             f"{base.get_params()[name]}; --init-from keeps the saved architecture.")
    return base.set_params(**{k: v for k, v in params.items() if k not in architecture}, **settings, warm_start=True)


def training_summary(fitted, seconds: float, output: Path) -> str:
    """One line about a finished training run (and a detector's threshold)."""
    ae = getattr(fitted, "autoencoder_", fitted)
    h = ae.history_
    text = (f"trained in {seconds:.1f} s, {len(h['train_loss'])} epochs, final loss {h['train_loss'][-1]:.4g}"
            + (f", best validation loss {min(h['val_loss']):.4g}" if h.get("val_loss") else ""))
    if fitted is not ae:
        text += (f"; {fitted.error_model} error model, {fitted.threshold_rule} threshold {fitted.threshold_:.4g} on "
                 "held-out data")
    return text + f"; saved to {output}"


# a detector fitted on normal data flags few of its points; above this share, `detect` says why it may not
MANY_FLAGGED = 0.1


def many_flagged_hint(det, n_flagged: int, n_points: int) -> str | None:
    """A note when a long series has more than `MANY_FLAGGED` of its points flagged: the usual cause is a
    series that drifts out of the range the detector was trained on, and the options that answer it."""
    if det.level_ != "point" or n_points == 0 or n_flagged <= MANY_FLAGGED * n_points:
        return None
    options = []
    if getattr(det, "window_norm_", None) is None:
        options.append("--window-norm level-scale (each window on its own level and scale)")
    if det.adaptive_threshold is None:
        options.append("--adaptive-threshold N (a threshold that follows slow drift over N points)")
    options.append("more training data that covers the new range")
    return (f"note: {n_flagged / n_points:.0%} of the points are flagged; a detector trained on normal data "
            "flags few. If the series drifts out of the range it was trained on (a trend, a new level), the "
            "drift itself scores as anomalous: train with " + ", or ".join(options) + ".")


def read_labels(truth: str | None, scores: Path, label_column: str):
    """True labels for `lstmae evaluate`: a column of TRUTH (a file or builtin:NAME), else of the scores file."""
    from .data.tables import read_table

    if truth is not None and truth.startswith("builtin:"):
        labels = read(truth, None, {})[0].labels
        if labels is None:
            raise UsageError(f"{truth} has no labels.")
        return labels
    return read_table(truth or scores, columns=[label_column]).sequences[:, 0]


def print_rows(title: str, rows) -> None:
    """(item, value) rows as a two-column table on standard output."""
    from rich.console import Console
    from rich.table import Table

    table = Table(title=title, show_header=False)
    for item, value in rows:
        table.add_row(item, value)
    Console().print(table)
