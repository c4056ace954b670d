"""Model directories: ``config.json`` + ``model.safetensors`` + ``state.json``.

- ``config.json``: format name and version, the estimator class and its constructor
  parameters, and the architecture (`ModelConfig`), enough to rebuild the module;
- ``model.safetensors``: the weights (no pickle: safetensors cannot run code);
- ``state.json``: the rest of the fitted state (scaler, history, versions, ...).

Every file is written atomically (temporary file, then rename), so a crash while
saving leaves the previous file whole; ``config.json`` goes last and records the
SHA-256 of the other two, so a directory that mixes files of two saves (a save over
an older model, interrupted) is refused rather than loaded. Loading never unpickles
anything; missing or corrupt files, an unknown format version, and weights that do
not match the config raise `ModelFileError` (a `ValueError`) saying which file and
what to do.

Format versions
---------------
``FORMAT_VERSION`` is what `save_model_dir` writes. A directory of an older version is
upgraded in memory on load by the chain ``MIGRATIONS[v]`` (version v to v + 1, on
config, state and tensors); a version without a migration, a newer version, or a
config without a version is refused with a message that says why.

- 1 (lstmae 0.1): config.json + model.safetensors + state.json (``files`` checksums
  in config.json are optional: checked when present); the command line kept how it cut
  the data in a fourth file, ``data.json``, outside the checksums.
- 2: how the data was read and cut (`lstmae.data.spec.DataSpec`) is the ``data`` section
  of config.json; a detector's error model is one ``error_model`` object in state.json; an
  autoencoder may hold ``residual_stats`` (its typical residuals, `lstmae.scoring`).
  Migration from 1: ``data.json`` becomes the ``data`` section (its score statistics, on
  another scale, are dropped), the detector's ``error_mean_`` / ``error_scale_`` /
  ``error_precision_`` become ``error_model``.

Hostile directories
-------------------
config.json records the checksums of the other files but not its own, so anyone can
edit it (and then the others). Loading therefore trusts no size in it: config.json and
state.json are read only up to `MAX_CONFIG_BYTES` / `MAX_STATE_BYTES` (and
`MAX_JSON_CONTAINERS` arrays and objects); sizes in state.json are bounded
(`check_state_sizes`); and the module the config describes is first built on torch's
``meta`` device (no memory) and its tensor names and shapes compared with those of the
weights file (`check_weights`), so a config that says ``hidden_size=100000`` over a
64-unit model is a `ModelFileError` naming the field, not a 160 GB allocation.

Writers
-------
`save_model_dir` holds the directory's lock (`lstmae._atomic.directory_lock`) while it
writes, stages the three files and renames them together (`lstmae._atomic.AtomicGroup`):
a failed write (no space, read-only, no permission) raises `lstmae._atomic.WriteError`
naming the file and the cause, leaves the previous model whole, and removes the
directory again if this save created it.

`load_model(path)` returns the estimator the directory holds (`LSTMAutoencoder`,
`LSTMClassifier` or `LSTMAnomalyDetector`); each class registers itself with `register`.
"""
from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import json
import os
import platform
import struct
from pathlib import Path
from typing import Any, Callable

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file
from torch import nn

from ._atomic import AtomicGroup, atomic_path, directory_lock, make_dirs, remove_made_dirs

FORMAT = "lstmae-model"
FORMAT_VERSION = 2
FIRST_FORMAT_VERSION = 1  # the oldest version any lstmae release wrote
CONFIG_FILE, WEIGHTS_FILE, STATE_FILE = "config.json", "model.safetensors", "state.json"
LEGACY_DATA_FILE = "data.json"  # version 1: the command line's data settings

# What loading reads at most (raise them for a legitimately bigger model): a hostile file must
# not make the loader allocate without bound.
MAX_CONFIG_BYTES = 16 << 20  # config.json (parameters, architecture, data spec with feature names)
MAX_STATE_BYTES = 64 << 20  # state.json (scaler, history, residual profile, error model, labels)
MAX_JSON_CONTAINERS = 4_000_000  # arrays + objects in one JSON file (each costs ~60 bytes once parsed)
MAX_HEADER_BYTES = 16 << 20  # the JSON header of model.safetensors
MAX_STEPS = 1_000_000  # time steps: rows of residual_stats.profile, model.horizon, data.window
MAX_THREADS = 4096  # params.n_threads
MAX_LAYERS = 100  # model.num_layers (building even an empty module loops over the layers)


def _migrate_1(config: dict, state: dict, tensors: dict, directory: Path) -> tuple[dict, dict, dict]:
    """Version 1 -> 2: data.json into config["data"]; the detector's error model as one object."""
    data_file = directory / LEGACY_DATA_FILE
    if data_file.is_file() and "data" not in config:
        settings = _read_json(data_file)
        keys = ("kind", "window", "stride", "feature_names", "time_column", "id_column", "layout", "fill")
        spec = {k: settings[k] for k in keys if settings.get(k) is not None}
        spec.setdefault("stride", 1)
        config = {**config, "data": spec}
    detector = state.get("detector")
    if isinstance(detector, dict) and "error_mean_" in detector:
        model = {"kind": config.get("params", {}).get("error_model", "mean"), "mean": detector["error_mean_"],
                 "scale": detector["error_scale_"]}
        if "error_precision_" in detector:
            model["precision"] = detector["error_precision_"]
        rest = {k: v for k, v in detector.items() if not k.startswith("error_")}
        state = {**state, "detector": {**rest, "error_model": model}}
    return config, state, tensors


# MIGRATIONS[v](config, state, tensors, directory) -> (config, state, tensors) of version v + 1.
# Add one whenever FORMAT_VERSION goes up; never remove one.
Migration = Callable[[dict, dict, dict, Path], tuple[dict, dict, dict]]
MIGRATIONS: dict[int, Migration] = {1: _migrate_1}

# estimator class name -> class, filled by `register` (the estimator modules import this one)
ESTIMATORS: dict[str, type] = {}


def register(cls: type) -> type:
    """Class decorator: `load_model` can then rebuild `cls` (which has ``from_parts``) by its name."""
    ESTIMATORS[cls.__name__] = cls
    return cls


class ModelFileError(ValueError):
    """A model directory is missing, incomplete, corrupt or of an unknown format."""


def versions() -> dict[str, str]:
    import numpy
    import sklearn

    from ._version import __version__

    return {
        "lstmae": __version__,
        "torch": torch.__version__,
        "numpy": numpy.__version__,
        "scikit-learn": sklearn.__version__,
        "python": platform.python_version(),
    }


def sha256_file(path: Path) -> str:
    """Hex SHA-256 of a file, read in 1 MiB blocks (model and checkpoint checksums)."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _write_json(path: Path, obj: Any, group: AtomicGroup | None = None) -> str:
    """Write `obj` as JSON atomically (staged in `group` when given); return the file's SHA-256."""
    data = (json.dumps(obj, indent=2, allow_nan=True) + "\n").encode("utf-8")
    with atomic_path(path, group=group) as tmp:
        Path(tmp).write_bytes(data)
    return hashlib.sha256(data).hexdigest()


def save_model_dir(path: str | os.PathLike, config: dict, module: nn.Module, state: dict) -> Path:
    """Write a model directory (created if needed; existing files replaced together, atomically).

    Holds the directory's write lock (another writer waits, up to
    `lstmae._atomic.lock_timeout()` seconds, then gets `lstmae._atomic.DirectoryBusyError`).
    A failed write raises `lstmae._atomic.WriteError` (an OSError naming the file and the
    cause); the previous files are then untouched and a directory this call created is
    removed again.
    """
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise ModelFileError(f"cannot save the model to {path}: it is a file; give a directory path.")
    tensors = {k: v.detach().cpu().contiguous() for k, v in module.state_dict().items()}
    made = make_dirs(path)
    try:
        with directory_lock(path), AtomicGroup() as group:
            _remove_strays(path)
            with atomic_path(path / WEIGHTS_FILE, group=group) as tmp:
                save_file(tensors, str(tmp), metadata={"format": FORMAT, "format_version": str(FORMAT_VERSION)})
                weights_sha = sha256_file(tmp)
            state_sha = _write_json(path / STATE_FILE, {**state, "versions": versions()}, group)
            # the config is renamed last: a directory with a config has all its files, and their checksums
            files = {WEIGHTS_FILE: {"sha256": weights_sha}, STATE_FILE: {"sha256": state_sha}}
            _write_json(path / CONFIG_FILE, {"format": FORMAT, "format_version": FORMAT_VERSION, **config,
                                             "files": files}, group)
    except BaseException:
        remove_made_dirs(made)  # only what this call created, and only if empty
        raise
    return path


def _remove_strays(path: Path) -> None:
    """Temporary files and rollback links of a writer that was killed (only with the lock held: then no
    other writer has any)."""
    names = (CONFIG_FILE, STATE_FILE, WEIGHTS_FILE)
    for p in path.iterdir():
        if p.name.startswith((".tmp-", ".bak-")) and p.name.endswith(names) and p.is_file():
            with contextlib.suppress(OSError):
                p.unlink()


def _read_json(path: Path, limit: int | None = None) -> dict:
    """A JSON object from `path`, refusing files over `limit` bytes (or too many containers) before parsing."""
    if limit is None:
        limit = MAX_STATE_BYTES if path.name == STATE_FILE else MAX_CONFIG_BYTES
    if not path.is_file():
        raise ModelFileError(f"{path.parent} is not a complete lstmae model directory: {path.name} is missing.")
    try:
        with open(path, "rb") as fh:  # (read(n) reserves n bytes first: never ask for more than the file has)
            raw = fh.read(min(os.fstat(fh.fileno()).st_size, limit) + 1)
    except OSError as exc:
        raise ModelFileError(f"cannot read {path}: {exc.strerror or exc}.") from None
    if len(raw) > limit:
        raise ModelFileError(
            f"{path} is larger than lstmae reads ({limit >> 20} MiB): it was not written by lstmae's save() or "
            f"was edited. If the model is genuine, raise lstmae.serialization."
            f"{'MAX_STATE_BYTES' if path.name == STATE_FILE else 'MAX_CONFIG_BYTES'}."
        )
    containers = raw.count(b"[") + raw.count(b"{")
    if containers > MAX_JSON_CONTAINERS:
        raise ModelFileError(
            f"{path} holds {containers} JSON arrays and objects, more than lstmae reads ({MAX_JSON_CONTAINERS}); "
            "it was not written by lstmae's save() or was edited."
        )
    try:
        obj = json.loads(raw.decode("utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError, RecursionError) as exc:
        raise ModelFileError(f"{path} is corrupt (not valid JSON: {exc}); save the model again.") from None
    except MemoryError:
        raise ModelFileError(f"{path} is too large to read in the memory available; it was not written by "
                             "lstmae's save() or was edited.") from None
    if not isinstance(obj, dict):
        raise ModelFileError(f"{path} is corrupt (expected a JSON object); save the model again.")
    return obj


def weights_header(path: str | os.PathLike) -> dict[str, tuple[str, tuple[int, ...]]]:
    """Tensor name -> (dtype, shape) from a safetensors file's header, without reading the tensors.

    Checks that the header is well formed and that the tensors it declares fit in the file;
    raises `ModelFileError` otherwise.
    """
    path = Path(path)
    size = path.stat().st_size
    with open(path, "rb") as fh:
        head = fh.read(8)
        if len(head) < 8:
            raise ModelFileError(f"{path} is corrupt (shorter than a safetensors header); save the model again.")
        (n,) = struct.unpack("<Q", head)
        if n > min(MAX_HEADER_BYTES, size - 8):
            raise ModelFileError(f"{path} is corrupt (its header claims {n} bytes); save the model again.")
        raw = fh.read(n)
    try:
        header = json.loads(raw.decode("utf-8"))
    except (ValueError, UnicodeDecodeError, RecursionError) as exc:
        raise ModelFileError(f"{path} is corrupt (its header is not valid JSON: {exc}); save the model again.") from None
    if not isinstance(header, dict):
        raise ModelFileError(f"{path} is corrupt (its header is not an object); save the model again.")
    shapes = {}
    data = size - 8 - n
    for name, entry in header.items():
        if name == "__metadata__":
            continue
        try:
            dtype, shape, (begin, end) = entry["dtype"], tuple(entry["shape"]), entry["data_offsets"]
            if not (isinstance(dtype, str) and all(isinstance(d, int) and d >= 0 for d in shape)
                    and isinstance(begin, int) and isinstance(end, int) and 0 <= begin <= end <= data):
                raise ValueError
        except (KeyError, TypeError, ValueError):
            raise ModelFileError(f"{path} is corrupt (bad header entry for {name!r}); save the model again.") from None
        shapes[name] = (dtype, shape)
    return shapes


def read_model_dir(path: str | os.PathLike, estimator: str | None = None) -> tuple[dict, dict[str, torch.Tensor], dict]:
    """Read config, weights and state of a model directory, checking the format.

    With `estimator` (a class name), a directory saved by another estimator class is
    refused with a message naming the class to load it with.
    """
    path = Path(path)
    if not path.exists():
        raise ModelFileError(f"no model at {path}: the directory does not exist.")
    if not path.is_dir():
        raise ModelFileError(f"{path} is a file; a model is a directory with {CONFIG_FILE} and {WEIGHTS_FILE}.")
    config = _read_json(path / CONFIG_FILE)
    if config.get("format") != FORMAT:
        raise ModelFileError(f"{path / CONFIG_FILE} is not an lstmae model config (format={config.get('format')!r}).")
    version = _check_version(path, config)
    if estimator is not None and config.get("estimator") != estimator:
        raise ModelFileError(
            f"{path} holds a {config.get('estimator')!r} model; load it with lstmae.{config.get('estimator')}.load."
        )
    state = _read_json(path / STATE_FILE)
    check_state_sizes(config, state, path)
    weights = path / WEIGHTS_FILE
    if not weights.is_file():
        raise ModelFileError(f"{path} is not a complete lstmae model directory: {WEIGHTS_FILE} is missing.")
    try:
        weights_header(weights)  # well formed, before any tensor is read
        tensors = load_file(str(weights))
    except (SafetensorError, OSError, ValueError) as exc:
        raise ModelFileError(f"{weights} is corrupt ({exc}); save the model again.") from None
    _check_files(path, config)
    while version < FORMAT_VERSION:
        try:
            config, state, tensors = MIGRATIONS[version](config, state, tensors, path)
        except (KeyError, TypeError, AttributeError) as exc:
            raise ModelFileError(f"{path} (format version {version}) could not be upgraded ({exc}); it is damaged "
                                 "or was edited. Save the model again.") from None
        version += 1
        config["format_version"] = version
    return config, tensors, state


def _check_version(path: Path, config: dict) -> int:
    """The config's format version, if this lstmae can read it (directly or through MIGRATIONS)."""
    if "format_version" not in config:
        raise ModelFileError(
            f"{path / CONFIG_FILE} has no format_version, so its layout is unknown: it was not written by "
            "lstmae's save() or was edited. Save the model again with lstmae."
        )
    version = config["format_version"]
    mine = f"this lstmae ({versions()['lstmae']}) reads model format versions {FIRST_FORMAT_VERSION} to {FORMAT_VERSION}"
    if isinstance(version, bool) or not isinstance(version, int):
        raise ModelFileError(f"{path / CONFIG_FILE} has format_version {version!r}, not an integer; save the model again.")
    if version > FORMAT_VERSION:
        raise ModelFileError(
            f"{path} has model format version {version}, but {mine}; upgrade lstmae to load it."
        )
    if version < FIRST_FORMAT_VERSION:
        raise ModelFileError(
            f"{path} has model format version {version}, which no lstmae release wrote ({mine}); the config "
            "is damaged or not from lstmae. Save the model again."
        )
    missing = [v for v in range(version, FORMAT_VERSION) if v not in MIGRATIONS]
    if missing:
        raise ModelFileError(
            f"{path} has model format version {version}, and {mine} but cannot upgrade version {missing[0]} "
            f"to {missing[0] + 1}; load it with the lstmae release that saved it "
            f"({config.get('lstmae_version', 'see state.json')}) and export the weights, or train again."
        )
    return version


def _check_files(path: Path, config: dict) -> None:
    """Compare the other files with the checksums that config.json recorded (when it did)."""
    files = config.get("files")
    if files is None:
        return
    if not isinstance(files, dict):
        raise ModelFileError(f"{path / CONFIG_FILE} is corrupt (files is not an object); save the model again.")
    for name in (WEIGHTS_FILE, STATE_FILE):
        expected = files.get(name, {}).get("sha256") if isinstance(files.get(name), dict) else None
        if expected is not None and sha256_file(path / name) != expected:
            raise ModelFileError(
                f"{path / name} is not the file {CONFIG_FILE} was saved with (its SHA-256 differs): the "
                "directory mixes files of two saves (an interrupted save?) or the file was changed. "
                "Save the model again."
            )


def check_state_sizes(config: dict, state: dict, path: Path) -> None:
    """Refuse sizes in config.json / state.json that no lstmae model has (before anything is built from them)."""
    import numpy as np

    def refuse(where: str, what: str) -> None:
        raise ModelFileError(f"{path / where}: {what}; it was not written by lstmae's save() or was edited.")

    def integer(section: Any, key: str) -> int | None:
        value = section.get(key) if isinstance(section, dict) else None
        return value if isinstance(value, int) and not isinstance(value, bool) else None

    nested = config.get("autoencoder")  # a detector: its autoencoder's config
    for prefix, cfg in (("", config), ("autoencoder.", nested if isinstance(nested, dict) else {})):
        for section, key in (("model", "horizon"), ("data", "window")):
            value = integer(cfg.get(section), key)
            if value is not None and value > MAX_STEPS:
                refuse(CONFIG_FILE, f"{prefix}{section}.{key}={value} is more time steps than lstmae handles "
                                    f"({MAX_STEPS})")
        layers = integer(cfg.get("model"), "num_layers")
        if layers is not None and layers > MAX_LAYERS:
            refuse(CONFIG_FILE, f"{prefix}model.num_layers={layers} is more layers than lstmae builds ({MAX_LAYERS})")
        threads = integer(cfg.get("params"), "n_threads")
        if threads is not None and not 1 <= threads <= MAX_THREADS:
            refuse(CONFIG_FILE, f"{prefix}params.n_threads={threads} is not between 1 and {MAX_THREADS}")
    stats = state.get("residual_stats")
    if isinstance(stats, dict) and isinstance(stats.get("profile"), list) and len(stats["profile"]) > MAX_STEPS:
        refuse(STATE_FILE, f"residual_stats.profile has {len(stats['profile'])} step positions, more than lstmae "
                           f"keeps ({MAX_STEPS})")
    classes, dtype = state.get("classes"), state.get("classes_dtype")
    if isinstance(classes, list) and isinstance(dtype, str):
        try:
            dt = np.dtype(dtype)
        except (TypeError, ValueError):
            refuse(STATE_FILE, f"classes_dtype={dtype!r} is not a numpy dtype")
        if dt.kind in "USV":
            longest = max((len(str(c)) for c in classes), default=0)
            need = longest * (4 if dt.kind == "U" else 1)
            if dt.itemsize > max(need, 64):
                refuse(STATE_FILE, f"classes_dtype={dtype!r} takes {dt.itemsize} bytes per label, but its longest "
                                   f"label has {longest} characters")


def check_weights(build: Callable[[Any], nn.Module], config: Any, tensors: dict, source: Any) -> None:
    """Refuse weights whose names or shapes differ from the module `build(config)` would make, BEFORE building it.

    `config` is a `lstmae.config.ModelConfig` (a frozen dataclass); the module is built on
    torch's ``meta`` device (shapes without memory). `tensors` maps names to tensors (or to
    anything with a ``shape``). On a mismatch, one field of the config that explains it is
    looked for (``hidden_size``, ``num_layers``, ...) and named in the `ModelFileError`:
    ``the weights in m do not match its config (shape mismatch for encoder.lstm.weight_hh_l0:
    file (256, 64), config (400000, 100000)): m/config.json: model.hidden_size=100000 does not
    match model.safetensors (hidden_size 64); ...``.
    """
    have = {k: tuple(v.shape) for k, v in tensors.items()}
    where = Path(source) / CONFIG_FILE if isinstance(source, (str, os.PathLike)) else CONFIG_FILE
    expected = _meta_shapes(build, config)
    if expected is None:
        raise ModelFileError(f"{where}: the architecture (model) cannot be built: a size is out of range; the "
                             "config was edited. Save the model again.")
    if expected == have:
        return
    missing, unexpected = sorted(set(expected) - set(have)), sorted(set(have) - set(expected))
    wrong = [k for k in expected if k in have and expected[k] != have[k]]
    details = []
    if missing:
        details.append(f"missing tensors {missing[:5]}")
    if unexpected:
        details.append(f"unexpected tensors {unexpected[:5]}")
    explained = _explain(build, config, have, expected)
    if wrong:
        k = wrong[0] if explained is None else explained[2]
        details.append(f"shape mismatch for {k}: file {have[k]}, config {expected[k]}")
    text = f"the weights in {source} do not match its config ({'; '.join(details)})"
    if explained is not None:
        field, value, _ = explained
        text += (f": {where}: model.{field}={getattr(config, field)!r} does not match {WEIGHTS_FILE} "
                 f"({field} {value!r})")
    raise ModelFileError(f"{text}; the config was edited or the files come from different models. "
                         "Save the model again.")


def _meta_shapes(build: Callable[[Any], nn.Module], config: Any) -> dict[str, tuple] | None:
    try:
        with torch.device("meta"):
            module = build(config)
        return {k: tuple(v.shape) for k, v in module.state_dict().items()}
    except (RuntimeError, ValueError, TypeError, OverflowError, MemoryError):
        return None


def _explain(build, config, have: dict, expected: dict, budget: float = 2.0) -> tuple[str, Any, str] | None:
    """(field, value in the weights, the evidence) for one config field whose change makes the shapes match
    (None when none does, or when `budget` seconds of looking found none)."""
    import time

    deadline = time.monotonic() + budget
    dims = {d for shape in have.values() for d in shape}
    numbers = sorted({v for d in dims for v in (d, d // 2, d // 4, d // 8) if v >= 1} | set(range(1, 9)))[:64]
    fields = {f.name: f for f in dataclasses.fields(config)}
    for name in ("hidden_size", "n_features", "num_layers", "code_size", "horizon", "bidirectional", "task",
                 "bridge", "conditional", "pooling"):
        if name not in fields:
            continue
        current = getattr(config, name)
        if isinstance(current, bool):
            candidates = [not current]
        elif name in ("task", "bridge", "pooling"):
            from . import config as cfgmod

            candidates = [c for c in {"task": cfgmod.TASKS, "bridge": cfgmod.BRIDGES,
                                      "pooling": cfgmod.POOLINGS}[name] if c != current]
        else:
            candidates = [v for v in numbers if v != current] + ([None] if name == "code_size" else [])
        for value in candidates:
            if time.monotonic() > deadline:
                return None
            try:
                other = dataclasses.replace(config, **{name: value})
            except (ValueError, TypeError):
                continue
            if _meta_shapes(build, other) == have:
                return name, value, _evidence(have, expected, value)
    return None


def _evidence(have: dict, expected: dict, value: Any) -> str | None:
    """A tensor whose shape differs, preferring one that shows `value` (None when only names differ)."""
    differ = [k for k in expected if k in have and expected[k] != have[k]]
    return min(differ, key=lambda k: value not in have[k], default=None)


def load_weights(module: nn.Module, tensors: dict[str, torch.Tensor], source: str | os.PathLike) -> None:
    """Load `tensors` into `module` strictly, with a clear message on any mismatch."""
    expected = module.state_dict()
    missing = sorted(set(expected) - set(tensors))
    unexpected = sorted(set(tensors) - set(expected))
    wrong = sorted(k for k in set(expected) & set(tensors) if tuple(expected[k].shape) != tuple(tensors[k].shape))
    if missing or unexpected or wrong:
        details = []
        if missing:
            details.append(f"missing tensors {missing[:5]}")
        if unexpected:
            details.append(f"unexpected tensors {unexpected[:5]}")
        if wrong:
            k = wrong[0]
            details.append(
                f"shape mismatch for {k}: file {tuple(tensors[k].shape)}, config {tuple(expected[k].shape)}"
            )
        raise ModelFileError(
            f"the weights in {source} do not match its config ({'; '.join(details)}); the files come "
            "from different models or were edited. Save the model again."
        )
    module.load_state_dict(tensors, strict=True)


def load_model(path: str | os.PathLike, device: str = "auto") -> Any:
    """Load whatever estimator a model directory holds (autoencoder, classifier or detector)."""
    config, tensors, state = read_model_dir(path)
    cls = ESTIMATORS.get(config.get("estimator"))
    if cls is None:
        raise ModelFileError(
            f"{path} holds a model of kind {config.get('estimator')!r}, which this lstmae does not know; "
            f"it knows {', '.join(sorted(ESTIMATORS))}."
        )
    return cls.from_parts(config, tensors, state, Path(path), device)
