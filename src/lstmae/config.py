"""Settings of the model architecture, validated, with a JSON round-trip.

`ModelConfig` holds everything needed to rebuild an `lstmae.modules.Autoencoder`
(the constructor arguments saved beside the weights, as minGPT does). Validation
happens here, once, with messages that name the bad value and the valid choices;
the estimator builds a `ModelConfig` in `fit`, so bad options fail there.
"""
from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from typing import Any

from ._validation import check_bool, check_choice, check_int, check_number

TASKS = ("reconstruct", "predict", "composite")
BRIDGES = ("repeat", "state")
ACTIVATIONS = ("tanh", "relu")
# the bound of a relu cell's state (`cells.LoopLSTM`, `cell_clip`) in new models: measured on
# 4,096 unscaled sines of 140 steps (docs/benchmarks.md, "Initialisation"; bench/relu_clip.py):
# 1 learned with 3 of 3 seeds (loss 0.50 -> 0.20-0.23 in 6 epochs), 3 and 6 with 1 of 3 (the
# others 0.45-0.50), none diverged; unclipped, all 3 seeds ended in NaN by epoch 3
RELU_CELL_CLIP = 1.0
LOSSES = ("mse", "mae", "huber", "bce")
POOLINGS = ("last", "last_hc", "mean", "all")
TEACHER_FORCING = ("train", "always")


def _positive_int(name: str, value: Any, minimum: int = 1) -> None:
    # the architecture takes plain ints only (numpy integers would not survive JSON)
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"{name}={value!r} is not valid; it must be an integer >= {minimum}.")
    check_int(name, value, minimum)


@dataclass(frozen=True)
class ModelConfig:
    """Architecture of an LSTM autoencoder.

    Attributes mirror the estimator's parameters of the same names; see
    `lstmae.LSTMAutoencoder` for their meaning.
    """

    n_features: int
    task: str = "reconstruct"
    horizon: int = 1
    hidden_size: int = 64
    num_layers: int = 1
    bidirectional: bool = False
    dropout: float = 0.0
    input_noise: float = 0.0
    code_size: int | None = None
    bridge: str = "repeat"
    conditional: bool = False
    teacher_forcing: str = "train"
    reverse: bool = False
    activation: str = "tanh"
    cell_clip: float | str | None = "auto"
    loss: str = "mse"
    loss_weights: tuple[float, float] = field(default=(1.0, 1.0))
    pooling: str = "last"

    def __post_init__(self) -> None:
        _positive_int("n_features", self.n_features)
        check_choice("task", self.task, TASKS)
        _positive_int("horizon", self.horizon)
        _positive_int("hidden_size", self.hidden_size)
        _positive_int("num_layers", self.num_layers)
        for name in ("bidirectional", "conditional", "reverse"):
            object.__setattr__(self, name, check_bool(name, getattr(self, name)))
        if isinstance(self.dropout, bool) or not isinstance(self.dropout, (int, float)) or not (
            0.0 <= self.dropout < 1.0
        ):
            raise ValueError(f"dropout={self.dropout!r} is not valid; it must be a number in [0, 1).")
        object.__setattr__(self, "input_noise", float(check_number("input_noise", self.input_noise, 0.0)))
        if self.code_size is not None:
            _positive_int("code_size", self.code_size)
        if self.reverse and self.task == "predict":
            raise ValueError(
                "reverse=True reverses the reconstruction target, but task='predict' has no reconstruction "
                "decoder; use task='reconstruct' or 'composite', or reverse=False."
            )
        check_choice("bridge", self.bridge, BRIDGES)
        check_choice("teacher_forcing", self.teacher_forcing, TEACHER_FORCING)
        if self.teacher_forcing == "always" and not (self.conditional and self.has_reconstruction):
            raise ValueError(
                "teacher_forcing='always' feeds a conditional reconstruction decoder the true previous frames at "
                "inference too, but this model has "
                + ("no conditional decoder; set conditional=True" if not self.conditional
                   else "no reconstruction decoder (task='predict'); use task='reconstruct' or 'composite'")
                + ", or teacher_forcing='train'."
            )
        check_choice("activation", self.activation, ACTIVATIONS)
        clip = self.cell_clip
        if isinstance(clip, str) and clip == "auto":
            clip = RELU_CELL_CLIP if self.activation == "relu" else None
        elif clip is not None:
            if isinstance(clip, bool) or not isinstance(clip, (int, float)) or not 0 < clip < math.inf:
                raise ValueError(f"cell_clip={clip!r} is not valid; give a positive number, 'auto', or None.")
            if self.activation != "relu":
                raise ValueError(
                    f"cell_clip={clip!r} applies to relu cells only (a tanh cell's output is bounded "
                    "already); use activation='relu', or cell_clip=None."
                )
            clip = float(clip)
        object.__setattr__(self, "cell_clip", clip)
        check_choice("loss", self.loss, LOSSES)
        check_choice("pooling", self.pooling, POOLINGS)
        weights = tuple(self.loss_weights)
        if len(weights) != 2 or not all(
            isinstance(w, (int, float)) and not isinstance(w, bool) and math.isfinite(w) and w >= 0
            for w in weights
        ) or sum(weights) == 0:
            raise ValueError(
                f"loss_weights={self.loss_weights!r} is not valid; give two non-negative numbers "
                "(reconstruction weight, prediction weight), not both zero, e.g. (1.0, 0.5)."
            )
        object.__setattr__(self, "loss_weights", (float(weights[0]), float(weights[1])))
        object.__setattr__(self, "dropout", float(self.dropout))

    # --- derived sizes -------------------------------------------------------------------
    @property
    def has_reconstruction(self) -> bool:
        return self.task in ("reconstruct", "composite")

    @property
    def has_prediction(self) -> bool:
        return self.task in ("predict", "composite")

    @property
    def num_directions(self) -> int:
        return 2 if self.bidirectional else 1

    @property
    def latent_dim(self) -> int:
        """Length of the code the decoders read: ``code_size``, else D * ``hidden_size``."""
        return self.code_size if self.code_size is not None else self.num_directions * self.hidden_size

    @property
    def pooled_dim(self) -> int:
        """Length of the vector returned by `transform` (it depends on ``pooling``; the code the
        decoders read has `latent_dim` values).

        "last": the code (`latent_dim`); "mean": D * ``hidden_size`` (mean of the top
        layer's outputs, before any bottleneck); "last_hc": 2 * ``num_layers`` * D *
        ``hidden_size`` (final h and c of every layer and direction, before any bottleneck);
        "all": "last_hc", "mean" and the max over time of the top layer's outputs, concatenated
        ((2 * ``num_layers`` + 2) * D * ``hidden_size``).
        """
        if self.pooling == "mean":
            return self.num_directions * self.hidden_size
        if self.pooling == "last_hc":
            return 2 * self.num_layers * self.num_directions * self.hidden_size
        if self.pooling == "all":
            return (2 * self.num_layers + 2) * self.num_directions * self.hidden_size
        return self.latent_dim

    # --- JSON round-trip -----------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        d["loss_weights"] = list(self.loss_weights)
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "ModelConfig":
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(d) - known)
        if unknown:
            raise ValueError(
                f"model config has unknown keys {unknown}; the file was written by a newer or "
                "different version of lstmae."
            )
        d = dict(d)
        d.setdefault("cell_clip", None)  # written before 0.6: relu cells were not clipped
        if "loss_weights" in d:
            d["loss_weights"] = tuple(d["loss_weights"])
        return cls(**d)
