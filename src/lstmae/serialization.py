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

`load_model(path)` returns the estimator the directory holds (`LSTMAutoencoder`,
`LSTMClassifier` or `LSTMAnomalyDetector`); each class registers itself with `register`.
"""
from __future__ import annotations

import hashlib
import json
import os
import platform
from pathlib import Path
from typing import Any, Callable

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file
from torch import nn

from ._atomic import atomic_path

FORMAT = "lstmae-model"
FORMAT_VERSION = 2
FIRST_FORMAT_VERSION = 1  # the oldest version any lstmae release wrote
CONFIG_FILE, WEIGHTS_FILE, STATE_FILE = "config.json", "model.safetensors", "state.json"
LEGACY_DATA_FILE = "data.json"  # version 1: the command line's data settings


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


def _write_json(path: Path, obj: Any) -> str:
    """Write `obj` as JSON atomically; return the file's SHA-256."""
    data = (json.dumps(obj, indent=2, allow_nan=True) + "\n").encode("utf-8")
    with atomic_path(path) as tmp:
        Path(tmp).write_bytes(data)
    return hashlib.sha256(data).hexdigest()


def save_model_dir(path: str | os.PathLike, config: dict, module: nn.Module, state: dict) -> Path:
    """Write a model directory (created if needed; existing files replaced atomically)."""
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise ModelFileError(f"cannot save the model to {path}: it is a file; give a directory path.")
    path.mkdir(parents=True, exist_ok=True)
    tensors = {k: v.detach().cpu().contiguous() for k, v in module.state_dict().items()}
    with atomic_path(path / WEIGHTS_FILE) as tmp:
        save_file(tensors, str(tmp), metadata={"format": FORMAT, "format_version": str(FORMAT_VERSION)})
        weights_sha = sha256_file(tmp)
    state_sha = _write_json(path / STATE_FILE, {**state, "versions": versions()})
    # the config goes last: a directory with a config has all its files, and their checksums
    files = {WEIGHTS_FILE: {"sha256": weights_sha}, STATE_FILE: {"sha256": state_sha}}
    _write_json(path / CONFIG_FILE, {"format": FORMAT, "format_version": FORMAT_VERSION, **config, "files": files})
    return path


def _read_json(path: Path) -> dict:
    if not path.is_file():
        raise ModelFileError(f"{path.parent} is not a complete lstmae model directory: {path.name} is missing.")
    try:
        obj = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError, RecursionError) as exc:
        raise ModelFileError(f"{path} is corrupt (not valid JSON: {exc}); save the model again.") from None
    if not isinstance(obj, dict):
        raise ModelFileError(f"{path} is corrupt (expected a JSON object); save the model again.")
    return obj


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
    weights = path / WEIGHTS_FILE
    if not weights.is_file():
        raise ModelFileError(f"{path} is not a complete lstmae model directory: {WEIGHTS_FILE} is missing.")
    try:
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
