"""The registry of built-in datasets, and the adapters that read real ones from aeon's wheel.

Nothing here downloads anything.

======================  ======================================================================
name                    what :func:`load_dataset` returns
======================  ======================================================================
``tutorial``            ``(1, 9, 1)`` float32 array ``[0.1, ..., 0.9]``
``sines``               :class:`AnomalyDataset`: noisy multivariate sines with labelled anomalies
``moving-digits``       :class:`MovingDigits`: Moving-MNIST-style videos from sklearn's 8x8 digits
``gunpoint``            :class:`SequenceData`, needs aeon (``lstmae[datasets]``)
``italy-power-demand``  :class:`SequenceData`, needs aeon
``basic-motions``       :class:`SequenceData`, needs aeon
``japanese-vowels``     :class:`SequenceData` (variable length), needs aeon
``acsf1``               :class:`SequenceData`, needs aeon
``arrowhead``           :class:`SequenceData`, needs aeon
``osuleaf``             :class:`SequenceData`, needs aeon
``pickup-gesture``      :class:`SequenceData` (variable length), needs aeon
``unit-test``           :class:`SequenceData`, needs aeon
``kdd-tsad-135``        :class:`AnomalyDataset` (real, one labelled anomaly), needs aeon
======================  ======================================================================

The containers are in :mod:`lstmae.data.containers`; the generated datasets are
made by :mod:`lstmae.data.synthetic`.

Shape legend: T time points, F features, N sequences, L sequence length,
S frame side in pixels (a frame is flattened to S*S features).
"""

from __future__ import annotations

import difflib
from collections.abc import Callable
from typing import Any

import numpy as np

from lstmae.data.containers import AnomalyDataset, MovingDigits, SequenceData
from lstmae.data.spec import DataSpec
from lstmae.data.synthetic import load_tutorial, make_moving_digits, make_sines

__all__ = ["list_datasets", "load_dataset", "load_real"]


# --------------------------------------------------------------------------- real (aeon)
_REAL: dict[str, tuple[str, str]] = {
    "gunpoint": (
        "load_gunpoint",
        "GunPoint (UCR): 200 univariate sequences of 150 steps, hand motion, 2 classes",
    ),
    "italy-power-demand": (
        "load_italy_power_demand",
        "ItalyPowerDemand (UCR): 1096 univariate daily load curves of 24 steps, 2 classes",
    ),
    "basic-motions": (
        "load_basic_motions",
        "BasicMotions (UEA): 80 sequences of 100 steps with 6 sensor features, 4 activities",
    ),
    "japanese-vowels": (
        "load_japanese_vowels",
        "JapaneseVowels (UEA): 640 variable-length (7-29 steps) sequences, 12 features, 9 speakers",
    ),
    # no loader of their own: read by aeon's load_classification from the wheel's data folder
    "acsf1": (
        "load_classification:ACSF1",
        "ACSF1 (UCR): 200 univariate power-consumption sequences of 1460 steps, 10 appliance types",
    ),
    "arrowhead": (
        "load_classification:ArrowHead",
        "ArrowHead (UCR): 211 univariate outline sequences of 251 steps, 3 classes (36 for training)",
    ),
    "osuleaf": (
        "load_classification:OSULeaf",
        "OSULeaf (UCR): 442 univariate leaf-outline sequences of 427 steps, 6 species",
    ),
    "pickup-gesture": (
        "load_classification:PickupGestureWiimoteZ",
        "PickupGestureWiimoteZ (UCR): 100 variable-length (29-361 steps) accelerometer sequences, 10 gestures",
    ),
    "unit-test": (
        "load_classification:UnitTest",
        "UnitTest (aeon's test set, a ChinaTown subset): 42 univariate sequences of 24 steps, 2 classes",
    ),
    "kdd-tsad-135": (
        "load_kdd_tsad_135",
        "KDD Cup 2021 TSAD #135: heart-rate series of 7501 points, one labelled anomaly; "
        "the first 1200 points are clean training data",
    ),
}


def _import_aeon_datasets(name: str) -> Any:
    try:
        import aeon.datasets as aeon_datasets
    except ImportError as exc:
        raise ImportError(
            f"dataset {name!r} is read from the optional package aeon, which is not installed "
            f'(or failed to import: {exc}); install it with: pip install "lstmae[datasets]"'
        ) from exc
    return aeon_datasets


def load_real(name: str, split: str | None = None) -> SequenceData | AnomalyDataset:
    """A real labelled dataset shipped inside aeon's wheel (read offline).

    Needs the optional extra: ``pip install "lstmae[datasets]"`` (installs aeon).

    Parameters
    ----------
    name : str
        One of ``gunpoint``, ``italy-power-demand``, ``basic-motions``,
        ``japanese-vowels``, ``acsf1``, ``arrowhead``, ``osuleaf``, ``pickup-gesture``,
        ``unit-test`` (classification: sequences with one label each) or
        ``kdd-tsad-135`` (anomaly detection: one long series).
    split : {None, "train", "test"}, default None
        Classification sets only: the original train or test split, or both
        (train first). Ignored by ``kdd-tsad-135``, which returns the whole
        series with ``train_end=1200``.

    Returns
    -------
    SequenceData or AnomalyDataset
        Classification: ``SequenceData(kind="sequences")`` with ``(L, F)`` float32
        sequences (batch-first, converted from aeon's ``(N, F, L)``) and string
        class ``labels`` of shape ``(N,)``; ``as_array()`` gives ``(N, L, F)``
        except for the variable-length ``japanese-vowels``.
        Anomaly detection: :class:`AnomalyDataset` with a ``(T, 1)`` series.

    Raises
    ------
    ImportError
        If aeon is not installed; the message says how to install it.
    ValueError
        For an unknown name or split.
    """
    key = _normalise(name)
    if key not in _REAL:
        raise ValueError(f"unknown real dataset {name!r}; available: {', '.join(_REAL)}")
    if split is not None and str(split).lower() not in ("train", "test"):
        raise ValueError(f"split must be None, 'train' or 'test', got {split!r}")
    aeon_datasets = _import_aeon_datasets(key)
    loader_name, _, problem = _REAL[key][0].partition(":")
    loader = getattr(aeon_datasets, loader_name, None)
    if loader is None:
        raise ImportError(
            f"the installed aeon has no {loader_name}(); install a version that ships "
            f'{key!r}: pip install "lstmae[datasets]"'
        )
    if problem:
        loader = _shipped_classification(aeon_datasets, loader, problem, key)
    if key == "kdd-tsad-135":
        X, y = loader(split="test")  # the test file is the whole series; its first 1200 points = train
        series = np.asarray(X, dtype=np.float32).reshape(-1, 1)
        labels = np.asarray(y, dtype=np.int64)
        edges = np.flatnonzero(np.diff(np.concatenate([[0], labels, [0]])))
        anomalies = [
            {"start": int(s), "end": int(e), "kind": "labelled", "feature": 0}
            for s, e in zip(edges[::2], edges[1::2])
        ]
        return AnomalyDataset(
            series=series,
            labels=labels,
            anomalies=anomalies,
            train_end=1200,
            feature_names=["heart_rate"],
            description=_REAL[key][1],
            name=key,
        )
    X, y = loader(split=split.upper() if split else None)
    if isinstance(X, np.ndarray):  # (N, F, L) -> (N, L, F)
        arr = np.ascontiguousarray(np.transpose(X, (0, 2, 1)), dtype=np.float32)
        sequences = list(arr)
    else:  # list of (F, L_i)
        sequences = [np.ascontiguousarray(np.asarray(x, dtype=np.float32).T) for x in X]
    n_features = sequences[0].shape[1]
    return SequenceData(
        sequences=sequences,
        feature_names=[str(i) for i in range(n_features)],
        kind="sequences",
        labels=np.asarray(y),
        source=f"aeon:{_REAL[key][0]}",
    )


def _shipped_classification(aeon_datasets: Any, load_classification: Callable, problem: str, key: str) -> Callable:
    """A ``loader(split=...)`` for `problem` read from the data folder inside aeon's wheel (offline)."""
    import os

    folder = os.path.join(os.path.dirname(aeon_datasets.__file__), "data")
    if not os.path.isdir(os.path.join(folder, problem)):
        raise ImportError(
            f"the installed aeon does not ship {problem} (dataset {key!r}) in {folder}; install a version "
            'that does: pip install "lstmae[datasets]"'
        )

    def loader(split: str | None = None) -> Any:
        return load_classification(problem, split=split, extract_path=folder)

    return loader


# --------------------------------------------------------------------------- registry
_GENERATED: dict[str, tuple[Callable[..., Any], str]] = {
    "tutorial": (load_tutorial, "the (1, 9, 1) toy sequence 0.1 ... 0.9 of the LSTM autoencoder tutorial"),
    "sines": (make_sines, "noisy multivariate sines with labelled spikes, level shifts and frequency changes"),
    "moving-digits": (
        make_moving_digits,
        "Moving-MNIST-style videos of bouncing sklearn digits, (N, 20, 32*32) in [0, 1]",
    ),
}


def _normalise(name: str) -> str:
    return str(name).strip().lower().replace("_", "-").replace(" ", "-")


def list_datasets() -> dict[str, str]:
    """Name -> one-line description of every built-in dataset.

    Real datasets (read from aeon's wheel) say so; they need ``lstmae[datasets]``.
    """
    out = {name: desc for name, (_, desc) in _GENERATED.items()}
    out.update({name: f"{desc} [needs aeon: pip install \"lstmae[datasets]\"]" for name, (_, desc) in _REAL.items()})
    return out


def load_dataset(name: str, **kwargs: Any) -> Any:
    """Load a built-in dataset by name; ``kwargs`` go to its loader.

    Parameters
    ----------
    name : str
        See :func:`list_datasets` (case and ``_``/``-`` do not matter).
    **kwargs
        Passed on, e.g. ``load_dataset("sines", n_points=2000, random_state=1)``
        or ``load_dataset("gunpoint", split="train")``.

    Returns
    -------
    numpy.ndarray, AnomalyDataset, MovingDigits or SequenceData
        See the table in the module docstring.

    Raises
    ------
    ValueError
        For an unknown name; the message lists the known ones.
    """
    key = _normalise(name)
    if key in _GENERATED:
        return _GENERATED[key][0](**kwargs)
    if key in _REAL:
        return load_real(key, **kwargs)
    names = list(_GENERATED) + list(_REAL)
    close = difflib.get_close_matches(key, names, n=1)
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    raise ValueError(f"unknown dataset {name!r}{hint}; available: {', '.join(names)}")


def load_sequence_data(name: str) -> SequenceData:
    """A built-in dataset as `SequenceData`, the form the command line reads files in.

    Anomaly series keep their per-point labels; moving digits become one sequence of
    flattened frames per video (features ``px0``, ``px1``, ...); the tutorial array becomes
    its sequences.
    """
    ds = load_dataset(name)
    if isinstance(ds, AnomalyDataset):
        return SequenceData(ds.series, list(ds.feature_names), kind="series", labels=ds.labels,
                            source=f"builtin:{name}")
    if isinstance(ds, MovingDigits):
        return SequenceData(list(ds.frames), [f"px{i}" for i in range(ds.frames.shape[2])], kind="sequences",
                            source=f"builtin:{name}")
    if isinstance(ds, np.ndarray):
        return SequenceData(list(ds), [str(i) for i in range(ds.shape[2])], kind="sequences", source=f"builtin:{name}")
    return ds


def read_data(source: str, spec: DataSpec | None = None, *, columns: list[str] | None = None,
              **roles: Any) -> tuple[SequenceData, DataSpec]:
    """Read a file or ``builtin:NAME`` the way `spec` says (e.g. a model's ``data_spec_``).

    `columns` (feature columns) and `roles` (``time_column``, ``id_column``,
    ``label_column``, ``exclude``, ``layout``, ``fill``; None keeps the spec's) override
    the spec. The model's feature columns are chosen by name, so extra columns in the file
    are ignored; a missing one is an error that names it. A label column is never required
    (a 0/1 column named like labels is recognised, see `read_table`). Returns the data and
    the spec it was read with (kind, feature names and the columns' roles filled in).
    """
    from lstmae.data.tables import read_table

    given = {k: v for k, v in roles.items() if v is not None and k != "exclude"}
    # a model's label column is not required in new data (labels are recognised by name anyway)
    spec = (spec or DataSpec()).replace(label_column=None).replace(**given)
    if columns is not None:
        spec = spec.replace(feature_names=list(columns))
    # in the rows layout the columns are time steps: only columns given here select them
    chosen = spec.feature_names if columns is not None or spec.layout == "long" else None
    if str(source).startswith("builtin:"):
        data = load_sequence_data(str(source)[len("builtin:"):])
    else:
        data = read_table(source, columns=chosen, time_column=spec.time_column, id_column=spec.id_column,
                          layout=spec.layout, fill=spec.fill, label_column=spec.label_column,
                          exclude=roles.get("exclude"))
    found = {k: v for k, v in data.roles.items() if k in ("time_column", "id_column", "label_column")}
    return data, spec.replace(kind=data.kind, feature_names=list(data.feature_names), **found)
