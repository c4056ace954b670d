"""The data containers: what the readers and the built-in datasets hand out.

:class:`SequenceData`
    Sequences read from a file (:func:`lstmae.data.tables.read_table`) or a real
    dataset (:func:`lstmae.data.datasets.load_real`).
:class:`AnomalyDataset`
    One long series with point-wise anomaly labels
    (:func:`lstmae.data.synthetic.make_sines`, ``kdd-tsad-135``).
:class:`MovingDigits`
    Moving-MNIST-style videos (:func:`lstmae.data.synthetic.make_moving_digits`).

Shape legend
------------
T : time steps of one long series
N : number of sequences
L : length of a sequence (``L_i`` when lengths differ)
F : number of features
S : frame side in pixels (a frame is flattened to ``S*S`` features)
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np

__all__ = ["AnomalyDataset", "MovingDigits", "SequenceData"]


@dataclass
class SequenceData:
    """Sequences read from a file (or a built-in dataset), ready for windowing or fitting.

    Attributes
    ----------
    sequences : numpy.ndarray of shape (T, F), or list of numpy.ndarray of shape (L_i, F)
        float32. One long series (``kind="series"``) or a list of sequences
        (``kind="sequences"``), possibly of different lengths.
    feature_names : list of str
        ``F`` names, one per feature column (``["value"]`` for ``layout="rows"``).
    ids : list or None
        One id per sequence (``id_column`` values, in order of first appearance).
    time : numpy.ndarray of shape (T,), list of arrays of shape (L_i,), or None
        The sorted ``time_column`` (numbers or ``datetime64``) for a series, or
        one array per sequence.
    kind : {"series", "sequences"}
    labels : numpy.ndarray or None
        ``(T,)`` per-step labels for a series, ``(N,)`` one label per sequence.
    source : str or None
        The file the data came from.
    roles : dict
        The columns that played a role: ``time_column``, ``id_column``, ``label_column``
        (None when absent), whether given or recognised (see `lstmae.data.tables.read_table`).
    """

    sequences: np.ndarray | list[np.ndarray]
    feature_names: list[str]
    ids: list[Any] | None = None
    time: np.ndarray | list[np.ndarray] | None = None
    kind: Literal["series", "sequences"] = "series"
    labels: np.ndarray | None = None
    source: str | None = field(default=None, repr=False)
    roles: dict[str, str | None] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        if self.kind not in ("series", "sequences"):
            raise ValueError(f"kind must be 'series' or 'sequences', got {self.kind!r}")
        if self.kind == "series":
            if not isinstance(self.sequences, np.ndarray) or self.sequences.ndim != 2:
                raise ValueError("a 'series' holds one (T, F) array")
        elif isinstance(self.sequences, np.ndarray):
            raise ValueError("'sequences' holds a list of (L_i, F) arrays")
        widths = {s.shape[1] for s in self._list()}
        if widths and widths != {len(self.feature_names)}:
            raise ValueError(
                f"{len(self.feature_names)} feature names for sequences with {sorted(widths)} features"
            )

    def _list(self) -> list[np.ndarray]:
        if isinstance(self.sequences, np.ndarray):
            return [self.sequences]
        return list(self.sequences)

    @property
    def n_features(self) -> int:
        """Number of features ``F``."""
        return len(self.feature_names)

    @property
    def n_sequences(self) -> int:
        """Number of sequences ``N`` (1 for a series)."""
        return len(self._list())

    @property
    def lengths(self) -> np.ndarray:
        """Length of every sequence, shape ``(N,)``."""
        return np.array([len(s) for s in self._list()], dtype=np.int64)

    def as_array(self) -> np.ndarray:
        """All sequences stacked into one ``(N, L, F)`` float32 array.

        A series gives ``(1, T, F)`` (a view). Sequences must all have the same
        length; otherwise a ValueError says so (cut them into windows with
        :func:`lstmae.data.windows.sliding_windows`, or pass the list itself to
        the estimators, which accept variable-length sequences).
        """
        if isinstance(self.sequences, np.ndarray):
            return self.sequences[None]
        if not self.sequences:
            return np.empty((0, 0, self.n_features), dtype=np.float32)
        lengths = self.lengths
        if lengths.min() != lengths.max():
            raise ValueError(
                f"the {len(lengths)} sequences have different lengths (from {lengths.min()} "
                f"to {lengths.max()}), they cannot form one (N, L, F) array; use the list "
                "`.sequences` (variable-length input) or cut windows with sliding_windows"
            )
        return np.stack(self.sequences)


@dataclass
class AnomalyDataset:
    """One long series with point-wise anomaly labels.

    Attributes
    ----------
    series : numpy.ndarray, shape (T, F), float32
    labels : numpy.ndarray, shape (T,), int64
        1 at anomalous time points, 0 elsewhere.
    anomalies : list of dict
        One dict per anomaly: ``start``, ``end`` (exclusive, so the anomaly is
        ``series[start:end]``), ``kind`` and ``feature`` (column index, or None
        when unknown).
    train_end : int
        ``series[:train_end]`` holds no anomaly: fit on it, score the whole series
        (or ``series[train_end:]``).
    feature_names : list of str
    description : str
    name : str
    clean : numpy.ndarray of shape (T, F) or None
        Generated data only: the series before the anomalies were injected.
    """

    series: np.ndarray
    labels: np.ndarray
    anomalies: list[dict[str, Any]]
    train_end: int
    feature_names: list[str]
    description: str
    name: str = ""
    clean: np.ndarray | None = field(default=None, repr=False)

    @property
    def train(self) -> np.ndarray:
        """The clean training part ``series[:train_end]``, shape ``(train_end, F)``."""
        return self.series[: self.train_end]

    @property
    def test(self) -> np.ndarray:
        """The part that holds the anomalies, ``series[train_end:]``."""
        return self.series[self.train_end :]

    @property
    def test_labels(self) -> np.ndarray:
        """Labels of :attr:`test`, ``labels[train_end:]``."""
        return self.labels[self.train_end :]


@dataclass
class MovingDigits:
    """Moving-MNIST-style videos.

    Attributes
    ----------
    frames : numpy.ndarray, shape (N, n_frames, S*S), float32 in [0, 1]
        Flattened frames; ``frames.reshape(N, n_frames, S, S)`` gives images.
    labels : numpy.ndarray, shape (N, n_digits), int64
        The class (0-9) of every digit in each video.
    positions : numpy.ndarray, shape (N, n_frames, n_digits, 2), int64
        Top-left (row, column) pixel of every digit in every frame.
    frame_size : int
        S.
    n_input_frames : int
        Frames ``[:n_input_frames]`` are the input, the rest the future to
        predict (10 and 10 for the default 20 frames, as in Srivastava et al.).
    description : str
    """

    frames: np.ndarray
    labels: np.ndarray
    positions: np.ndarray
    frame_size: int
    n_input_frames: int
    description: str

    @property
    def inputs(self) -> np.ndarray:
        """``frames[:, :n_input_frames]``."""
        return self.frames[:, : self.n_input_frames]

    @property
    def future(self) -> np.ndarray:
        """``frames[:, n_input_frames:]``."""
        return self.frames[:, self.n_input_frames :]

