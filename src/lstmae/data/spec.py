"""`DataSpec`: how a model's training data was read and cut, stored in the model directory.

Every command that uses a model again reads its data the same way (the same feature
columns, time / id / label columns, layout, fill policy, window and stride), unless told
otherwise. The spec goes into ``config.json`` (checksummed and versioned with the rest).
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

KINDS = ("series", "sequences")
LAYOUTS = ("long", "rows")


def _text(name: str, value: Any) -> None:
    if value is not None and not isinstance(value, str):
        raise ValueError(f"{name}={value!r} is not valid; it must be a column name (text) or null.")


@dataclass(frozen=True)
class DataSpec:
    """How the training data was read and cut.

    kind : "series" (one long (T, F) series cut into windows) or "sequences"
    window, stride : windowing of a series (None for sequences)
    feature_names : the feature columns, in the model's order
    time_column, id_column, label_column : column roles (never features)
    layout : "long" (rows are time steps) or "rows" (one sequence per row)
    fill : missing-value policy (None refuses missing values)
    """

    kind: str = "sequences"
    window: int | None = None
    stride: int = 1
    feature_names: tuple[str, ...] | None = None
    time_column: str | None = None
    id_column: str | None = None
    label_column: str | None = None
    layout: str = "long"
    fill: str | None = None

    def __post_init__(self) -> None:
        from .._validation import check_choice, check_int

        check_choice("kind", self.kind, KINDS)
        check_choice("layout", self.layout, LAYOUTS)
        check_int("window", self.window, 1, allow_none=True)
        check_int("stride", self.stride, 1)
        if self.feature_names is not None:
            names = self.feature_names
            if isinstance(names, str) or not all(isinstance(n, str) for n in names):
                raise ValueError(f"feature_names={names!r} is not valid; it must be a list of column names.")
            object.__setattr__(self, "feature_names", tuple(names))
        for name in ("time_column", "id_column", "label_column", "fill"):
            _text(name, getattr(self, name))

    def to_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        d["feature_names"] = None if self.feature_names is None else list(self.feature_names)
        return d

    @classmethod
    def from_dict(cls, d: Any) -> "DataSpec":
        if not isinstance(d, dict):
            raise ValueError(f"the data spec is not an object ({type(d).__name__})")
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(d) - known)
        if unknown:
            raise ValueError(f"the data spec has unknown keys {unknown}")
        return cls(**d)

    def replace(self, **changes: Any) -> "DataSpec":
        return dataclasses.replace(self, **changes)
