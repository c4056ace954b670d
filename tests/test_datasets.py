"""Tests of lstmae.data.synthetic and lstmae.data.datasets: tutorial, sines with anomalies, moving digits, registry, aeon."""

from __future__ import annotations

import sys
import time

import numpy as np
import pytest

from lstmae.data.containers import AnomalyDataset, MovingDigits, SequenceData
from lstmae.data.datasets import list_datasets, load_dataset, load_real
from lstmae.data.synthetic import load_tutorial, make_moving_digits, make_sines


# --------------------------------------------------------------------------- tutorial
def test_tutorial():
    x = load_tutorial()
    assert x.shape == (1, 9, 1) and x.dtype == np.float32
    np.testing.assert_allclose(x.ravel(), np.arange(1, 10) / 10, rtol=1e-7)
    assert x[0, 0, 0] == np.float32(0.1) and x[0, -1, 0] == np.float32(0.9)


# --------------------------------------------------------------------------- sines
def test_sines_shapes_and_types():
    d = make_sines()
    assert isinstance(d, AnomalyDataset)
    assert d.series.shape == (5000, 3) and d.series.dtype == np.float32
    assert d.labels.shape == (5000,) and set(np.unique(d.labels)) == {0, 1}
    assert d.train_end == 2000 and d.train.shape == (2000, 3)
    assert d.test.shape == (3000, 3) and d.test_labels.sum() == d.labels.sum()
    assert d.feature_names == ["sine_0", "sine_1", "sine_2"]
    assert "anomalies" in d.description


def test_sines_labels_are_exactly_the_anomalies_and_train_is_clean():
    d = make_sines(n_points=8000, n_features=4, anomaly_fraction=0.03, random_state=3)
    expected = np.zeros(8000, dtype=np.int64)
    for a in d.anomalies:
        assert set(a) == {"start", "end", "kind", "feature"}
        assert d.train_end <= a["start"] < a["end"] <= 8000
        assert 0 <= a["feature"] < 4
        assert expected[a["start"] : a["end"]].sum() == 0  # no overlap
        expected[a["start"] : a["end"]] = 1
    np.testing.assert_array_equal(d.labels, expected)
    assert d.labels[: d.train_end].sum() == 0
    # the series differs from the clean one only at labelled points, on the anomaly's feature
    changed = d.series != d.clean
    assert not changed[d.labels == 0].any()
    for a in d.anomalies:
        seg = changed[a["start"] : a["end"]]
        others = np.delete(seg, a["feature"], axis=1)
        assert not others.any()
        if a["kind"] in ("spike", "level_shift"):
            assert seg[:, a["feature"]].all()
        else:  # frequency: phase-continuous, so only the first point may coincide
            assert seg[1:, a["feature"]].all()
    # budget: about anomaly_fraction of the points, all three kinds present
    assert 0.5 * 0.03 * 8000 <= d.labels.sum() <= 0.03 * 8000
    assert {a["kind"] for a in d.anomalies} == {"spike", "level_shift", "frequency"}


def test_sines_anomalies_are_visible():
    d = make_sines(random_state=1)
    for a in d.anomalies:
        f, s, e = a["feature"], a["start"], a["end"]
        diff = np.abs(d.series[s:e, f] - d.clean[s:e, f])
        if a["kind"] == "spike":
            assert diff.min() >= 2.5
        elif a["kind"] == "level_shift":
            assert diff.min() >= 1.0 - 1e-6
    # the clean part is a smooth sine plus small noise: amplitude about 1
    assert np.abs(d.train).max() < 1.4


def test_sines_deterministic_and_seed_dependent():
    a, b = make_sines(random_state=7), make_sines(random_state=7)
    np.testing.assert_array_equal(a.series, b.series)
    assert a.anomalies == b.anomalies
    c = make_sines(random_state=8)
    assert not np.array_equal(a.series, c.series)


def test_sines_options_and_errors():
    clean = make_sines(n_points=1000, n_features=1, anomaly_fraction=0.0)
    assert clean.anomalies == [] and clean.labels.sum() == 0
    assert clean.series.shape == (1000, 1)
    with pytest.raises(ValueError, match=r"anomaly_fraction must be in \[0, 0.5\), got 0.7"):
        make_sines(anomaly_fraction=0.7)
    with pytest.raises(ValueError, match=r"n_points=50 is not valid; it must be an integer >= 200\."):
        make_sines(n_points=50)
    with pytest.raises(ValueError, match="needs more room than the"):
        make_sines(n_points=1000, anomaly_fraction=0.4, train_fraction=0.9)


# --------------------------------------------------------------------------- moving digits
def test_moving_digits_shape_range_and_labels():
    m = make_moving_digits(n_sequences=50, random_state=0)
    assert isinstance(m, MovingDigits)
    assert m.frames.shape == (50, 20, 32 * 32) and m.frames.dtype == np.float32
    assert m.frames.min() >= 0.0 and m.frames.max() <= 1.0 and m.frames.max() == 1.0
    assert m.labels.shape == (50, 2) and set(np.unique(m.labels)) <= set(range(10))
    assert m.positions.shape == (50, 20, 2, 2)
    assert m.n_input_frames == 10 and m.inputs.shape == (50, 10, 1024) and m.future.shape == (50, 10, 1024)
    assert "first 10 frames are the input" in m.description


def test_moving_digits_stay_inside_and_bounce():
    m = make_moving_digits(n_sequences=200, n_digits=1, n_frames=30, random_state=1)
    limit = 32 - 16
    assert m.positions.min() >= 0 and m.positions.max() <= limit
    # one digit, never clipped: every frame holds the whole sprite, so the mass is constant
    mass = m.frames.sum(axis=2)
    np.testing.assert_allclose(mass, mass[:, :1].repeat(30, axis=1), rtol=1e-5)
    assert (mass > 0).all()
    # bouncing: the direction of motion reverses in many videos, and always at a wall
    steps = np.diff(m.positions[:, :, 0, :].astype(float), axis=1)  # (N, 29, 2)
    reversal = steps[:, 1:] * steps[:, :-1] < 0
    assert reversal.any(axis=(1, 2)).mean() > 0.5
    n, t, axis = np.nonzero(reversal)
    at_turn = m.positions[n, t + 1, 0, axis]
    assert np.all((at_turn <= 3) | (at_turn >= limit - 3))
    # the image sits at the recorded position: its bounding box starts there
    frames = m.frames.reshape(200, 30, 32, 32)
    rows, cols = np.nonzero(frames[0, 0])
    r0, c0 = m.positions[0, 0, 0]
    assert rows.min() >= r0 and rows.max() < r0 + 16 and cols.min() >= c0 and cols.max() < c0 + 16


def test_moving_digits_overlap_is_pixelwise_max():
    two = make_moving_digits(n_sequences=30, n_digits=2, random_state=5)
    frames = two.frames.reshape(30, 20, 32, 32)
    # rebuild each digit alone from its own position: the frame is their pixel-wise max
    from sklearn.datasets import load_digits

    bunch = load_digits()  # the digits make_moving_digits draws from, scaled to [0, 1]
    images, targets = (bunch.images / 16.0).astype(np.float32), bunch.target.astype(np.int64)
    rng = np.random.default_rng(5)
    pick = rng.integers(0, len(images), size=(30, 2))
    np.testing.assert_array_equal(targets[pick], two.labels)
    up = np.arange(16) * 8 // 16
    sprites = images[pick][:, :, up][:, :, :, up]
    for n in range(0, 30, 7):
        for t in (0, 19):
            canvas = np.zeros((2, 32, 32), np.float32)
            for d in range(2):
                r, c = two.positions[n, t, d]
                canvas[d, r : r + 16, c : c + 16] = sprites[n, d]
            np.testing.assert_array_equal(frames[n, t], canvas.max(axis=0))


def test_moving_digits_deterministic_fast_and_validated():
    a = make_moving_digits(n_sequences=20, random_state=3)
    b = make_moving_digits(n_sequences=20, random_state=3)
    np.testing.assert_array_equal(a.frames, b.frames)
    assert not np.array_equal(a.frames, make_moving_digits(n_sequences=20, random_state=4).frames)
    make_moving_digits(n_sequences=2)  # warm the digits cache
    start = time.perf_counter()
    big = make_moving_digits(n_sequences=1000)
    assert time.perf_counter() - start < 2.0
    assert big.frames.shape == (1000, 20, 1024)
    small = make_moving_digits(n_sequences=3, frame_size=20, digit_size=20, n_frames=4)
    assert small.positions.max() == 0 and small.frames.shape == (3, 4, 400)
    with pytest.raises(ValueError, match="digit_size=40 does not fit in frame_size=32"):
        make_moving_digits(digit_size=40)


# --------------------------------------------------------------------------- registry
def test_registry_lists_and_dispatches():
    names = list_datasets()
    assert {"tutorial", "sines", "moving-digits", "gunpoint", "kdd-tsad-135"} <= set(names)
    assert all(isinstance(v, str) and "\n" not in v for v in names.values())
    assert "lstmae[datasets]" in names["gunpoint"]
    np.testing.assert_array_equal(load_dataset("tutorial"), load_tutorial())
    s = load_dataset("sines", n_points=1000, random_state=2)
    np.testing.assert_array_equal(s.series, make_sines(n_points=1000, random_state=2).series)
    m = load_dataset("Moving_Digits", n_sequences=3)
    assert m.frames.shape == (3, 20, 1024)
    with pytest.raises(ValueError, match=r"unknown dataset 'sine' \(did you mean 'sines'\?\); available: tutorial, sines, moving-digits"):
        load_dataset("sine")


def test_real_dataset_without_aeon_says_how_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "aeon", None)  # makes `import aeon` fail
    monkeypatch.setitem(sys.modules, "aeon.datasets", None)
    with pytest.raises(ImportError, match=r'pip install "lstmae\[datasets\]"'):
        load_real("gunpoint")
    with pytest.raises(ValueError, match="unknown real dataset 'mnist'"):
        load_real("mnist")
    with pytest.raises(ValueError, match="split must be None, 'train' or 'test'"):
        load_real("gunpoint", split="validation")


# --------------------------------------------------------------------------- real (aeon)
def test_real_gunpoint_and_italy():
    pytest.importorskip("aeon")
    gp = load_dataset("gunpoint")
    assert isinstance(gp, SequenceData) and gp.kind == "sequences"
    X = gp.as_array()
    assert X.shape == (200, 150, 1) and X.dtype == np.float32
    assert gp.labels.shape == (200,) and set(gp.labels.tolist()) == {"1", "2"}
    train = load_real("gunpoint", split="train")
    assert train.as_array().shape == (50, 150, 1)
    np.testing.assert_array_equal(train.as_array(), X[:50])
    assert load_real("italy_power_demand", split="test").as_array().shape == (1029, 24, 1)


def test_real_multivariate_and_variable_length():
    pytest.importorskip("aeon")
    bm = load_real("basic-motions")
    assert bm.as_array().shape == (80, 100, 6)
    jv = load_real("japanese-vowels")
    assert jv.n_sequences == 640 and jv.n_features == 12
    assert jv.lengths.min() == 7 and jv.lengths.max() == 29
    with pytest.raises(ValueError, match="different lengths"):
        jv.as_array()


def test_real_anomaly_series():
    pytest.importorskip("aeon")
    kdd = load_real("kdd-tsad-135")
    assert isinstance(kdd, AnomalyDataset)
    assert kdd.series.shape == (7501, 1) and kdd.train_end == 1200
    assert kdd.labels[: kdd.train_end].sum() == 0 and kdd.labels.sum() > 0
    assert [(a["start"], a["end"]) for a in kdd.anomalies] == [(4187, 4199)]
