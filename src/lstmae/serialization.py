"""Model directories: ``config.json`` + ``model.safetensors`` + ``state.json``.

- ``config.json``: format name and version, the estimator class and its constructor
  parameters, and the architecture (`ModelConfig`), enough to rebuild the module;
- ``model.safetensors``: the weights (no pickle: safetensors cannot run code);
- ``state.json``: the rest of the fitted state (scaler, history, versions, ...).

Every file is written atomically (temporary file, then rename), so a crash while
saving leaves the previous file whole. Loading never unpickles anything; missing or
corrupt files, a wrong format version, and weights that do not match the config
raise `ModelFileError` (a `ValueError`) saying which file and what to do.
"""
from __future__ import annotations

import json
import os
import platform
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file
from torch import nn

from ._atomic import atomic_path

FORMAT = "lstmae-model"
FORMAT_VERSION = 1
CONFIG_FILE, WEIGHTS_FILE, STATE_FILE = "config.json", "model.safetensors", "state.json"


class ModelFileError(ValueError):
    """A model directory is missing, incomplete, corrupt or of an unknown format."""


def versions() -> dict[str, str]:
    import numpy
    import sklearn

    from . import __version__

    return {
        "lstmae": __version__,
        "torch": torch.__version__,
        "numpy": numpy.__version__,
        "scikit-learn": sklearn.__version__,
        "python": platform.python_version(),
    }


def _write_json(path: Path, obj: Any) -> None:
    with atomic_path(path) as tmp:
        Path(tmp).write_text(json.dumps(obj, indent=2, allow_nan=True) + "\n", encoding="utf-8")


def save_model_dir(path: str | os.PathLike, config: dict, module: nn.Module, state: dict) -> Path:
    """Write a model directory (created if needed; existing files replaced atomically)."""
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise ModelFileError(f"cannot save the model to {path}: it is a file; give a directory path.")
    path.mkdir(parents=True, exist_ok=True)
    tensors = {k: v.detach().cpu().contiguous() for k, v in module.state_dict().items()}
    with atomic_path(path / WEIGHTS_FILE) as tmp:
        save_file(tensors, str(tmp), metadata={"format": FORMAT, "format_version": str(FORMAT_VERSION)})
    _write_json(path / STATE_FILE, {**state, "versions": versions()})
    # the config goes last: a directory with a config has all its files
    _write_json(path / CONFIG_FILE, {"format": FORMAT, "format_version": FORMAT_VERSION, **config})
    return path


def _read_json(path: Path) -> dict:
    if not path.is_file():
        raise ModelFileError(f"{path.parent} is not a complete lstmae model directory: {path.name} is missing.")
    try:
        obj = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ModelFileError(f"{path} is corrupt (not valid JSON: {exc}); save the model again.") from None
    if not isinstance(obj, dict):
        raise ModelFileError(f"{path} is corrupt (expected a JSON object); save the model again.")
    return obj


def read_model_dir(path: str | os.PathLike) -> tuple[dict, dict[str, torch.Tensor], dict]:
    """Read config, weights and state of a model directory, checking the format."""
    path = Path(path)
    if not path.exists():
        raise ModelFileError(f"no model at {path}: the directory does not exist.")
    if not path.is_dir():
        raise ModelFileError(f"{path} is a file; a model is a directory with {CONFIG_FILE} and {WEIGHTS_FILE}.")
    config = _read_json(path / CONFIG_FILE)
    if config.get("format") != FORMAT:
        raise ModelFileError(f"{path / CONFIG_FILE} is not an lstmae model config (format={config.get('format')!r}).")
    version = config.get("format_version")
    if not isinstance(version, int) or version > FORMAT_VERSION or version < 1:
        raise ModelFileError(
            f"{path} has model format version {version!r}, but this lstmae ({versions()['lstmae']}) reads "
            f"versions 1 to {FORMAT_VERSION}; upgrade lstmae to load it."
        )
    state = _read_json(path / STATE_FILE)
    weights = path / WEIGHTS_FILE
    if not weights.is_file():
        raise ModelFileError(f"{path} is not a complete lstmae model directory: {WEIGHTS_FILE} is missing.")
    try:
        tensors = load_file(str(weights))
    except (SafetensorError, OSError, ValueError) as exc:
        raise ModelFileError(f"{weights} is corrupt ({exc}); save the model again.") from None
    return config, tensors, state


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
