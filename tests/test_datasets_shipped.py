"""The classification sets inside aeon's wheel that have no loader of their own (issue 12), read
offline through aeon's load_classification. Needs aeon (skipped without it)."""
import sys

import numpy as np
import pytest

from lstmae.data.containers import SequenceData
from lstmae.data.datasets import list_datasets, load_real

SHIPPED = {  # name: (n train, n test, length or (min, max) over both splits, classes)
    "acsf1": (100, 100, 1460, 10),
    "arrowhead": (36, 175, 251, 3),
    "osuleaf": (200, 242, 427, 6),
    "pickup-gesture": (50, 50, (29, 361), 10),
    "unit-test": (20, 22, 24, 2),
}


def test_listed_with_what_they_need():
    listed = list_datasets()
    for name in SHIPPED:
        assert name in listed and "needs aeon" in listed[name]


def test_without_aeon_says_how_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "aeon", None)
    monkeypatch.setitem(sys.modules, "aeon.datasets", None)
    with pytest.raises(ImportError, match=r'pip install "lstmae\[datasets\]"'):
        load_real("arrowhead")


@pytest.mark.parametrize("name", list(SHIPPED))
def test_shapes_splits_and_labels(name):
    pytest.importorskip("aeon")
    n_train, n_test, length, classes = SHIPPED[name]
    train, test = load_real(name, split="train"), load_real(name, split="test")
    both = load_real(name.upper().replace("-", "_"))  # names are normalised
    assert isinstance(train, SequenceData) and train.kind == "sequences"
    assert (train.n_sequences, test.n_sequences, both.n_sequences) == (n_train, n_test, n_train + n_test)
    assert train.n_features == 1 and train.sequences[0].dtype == np.float32
    lengths = both.lengths
    assert (lengths.min(), lengths.max()) == (length if isinstance(length, tuple) else (length, length))
    assert len(np.unique(both.labels)) == classes and both.labels.shape == (n_train + n_test,)
    np.testing.assert_array_equal(both.sequences[0], train.sequences[0])
    assert all(np.isfinite(s).all() for s in both.sequences)
