"""Tests of lstmae.data.windows (sliding windows, reverse windowing) and lstmae.data.missing (fill policies)."""

from __future__ import annotations

import time

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from lstmae.data.missing import fill_missing
from lstmae.data.windows import (
    count_windows,
    coverage_counts,
    reverse_windowing,
    sliding_windows,
    window_end_values,
    window_starts,
)

FAST = settings(max_examples=60, deadline=None)


# --------------------------------------------------------------------------- sliding_windows
def test_windows_1d_shape_and_contents():
    x = np.arange(10, dtype=np.float32)
    w = sliding_windows(x, 4, stride=3)
    assert w.shape == (3, 4, 1)
    np.testing.assert_array_equal(w[:, :, 0], [[0, 1, 2, 3], [3, 4, 5, 6], [6, 7, 8, 9]])
    assert w.dtype == np.float32


def test_windows_2d_contents_match_slices():
    x = np.arange(30, dtype=np.float64).reshape(15, 2)
    w = sliding_windows(x, 5, stride=2)
    assert w.shape == ((15 - 5) // 2 + 1, 5, 2) == (6, 5, 2)
    for i in range(6):
        np.testing.assert_array_equal(w[i], x[2 * i : 2 * i + 5])


def test_windows_are_readonly_views_sharing_memory():
    x = np.random.default_rng(0).standard_normal((100, 3)).astype(np.float32)
    w = sliding_windows(x, 10, stride=7)
    assert np.shares_memory(w, x)
    assert not w.flags.writeable
    with pytest.raises(ValueError):
        w[0, 0, 0] = 1.0
    inputs, targets = sliding_windows(x, 10, horizon=4)
    assert np.shares_memory(inputs, x) and np.shares_memory(targets, x)
    assert not inputs.flags.writeable and not targets.flags.writeable
    # a view: changing the series shows through
    x[12, 1] = 1234.0
    assert w[1, 5, 1] == 1234.0


def test_windows_with_horizon():
    x = np.arange(12, dtype=np.float32)
    inputs, targets = sliding_windows(x, 4, stride=2, horizon=3)
    n = (12 - 4 - 3) // 2 + 1
    assert inputs.shape == (n, 4, 1) and targets.shape == (n, 3, 1) and n == 3
    np.testing.assert_array_equal(inputs[:, :, 0], [[0, 1, 2, 3], [2, 3, 4, 5], [4, 5, 6, 7]])
    np.testing.assert_array_equal(targets[:, :, 0], [[4, 5, 6], [6, 7, 8], [8, 9, 10]])


def test_windows_exact_fit_and_single_window():
    x = np.arange(5.0)
    assert sliding_windows(x, 5).shape == (1, 5, 1)
    inputs, targets = sliding_windows(x, 3, horizon=2)
    assert inputs.shape == (1, 3, 1) and targets[0, :, 0].tolist() == [3.0, 4.0]
    assert sliding_windows(x, 1).shape == (5, 1, 1)


def test_windows_accept_lists_and_integer_series():
    w = sliding_windows([1, 2, 3, 4], 2, stride=2)
    assert w.shape == (2, 2, 1) and w[:, :, 0].tolist() == [[1, 2], [3, 4]]


@FAST
@given(
    T=st.integers(1, 200),
    F=st.integers(1, 3),
    window=st.integers(1, 40),
    stride=st.integers(1, 12),
    horizon=st.integers(0, 6),
)
def test_windows_count_formula_and_contents(T, F, window, stride, horizon):
    x = np.arange(T * F, dtype=np.float32).reshape(T, F)
    if T < window + horizon:
        with pytest.raises(ValueError, match="too short"):
            sliding_windows(x, window, stride, horizon)
        return
    n = (T - window - horizon) // stride + 1
    assert count_windows(T, window, stride, horizon) == n
    starts = window_starts(T, window, stride, horizon)
    np.testing.assert_array_equal(starts, np.arange(n) * stride)
    out = sliding_windows(x, window, stride, horizon)
    inputs, targets = out if horizon else (out, None)
    assert inputs.shape == (n, window, F)
    # the last window (with its targets) ends inside the series, one more would not
    assert starts[-1] + window + horizon <= T < starts[-1] + stride + window + horizon
    for i in {0, n // 2, n - 1}:
        np.testing.assert_array_equal(inputs[i], x[starts[i] : starts[i] + window])
        if horizon:
            assert targets.shape == (n, horizon, F)
            np.testing.assert_array_equal(
                targets[i], x[starts[i] + window : starts[i] + window + horizon]
            )
    np.testing.assert_array_equal(window_end_values(x[:, 0], window, stride, horizon), inputs[:, -1, 0])


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(window=0), r"window=0 is not valid; it must be an integer >= 1\."),
        (dict(window=3, stride=0), r"stride=0 is not valid; it must be an integer >= 1\."),
        (dict(window=3, horizon=-1), r"horizon=-1 is not valid; it must be an integer >= 0\."),
        (dict(window=2.5), r"window=2.5 is not valid; it must be an integer >= 1\."),
        (dict(window=True), r"window=True is not valid; it must be an integer"),
    ],
)
def test_windows_argument_errors(kwargs, match):
    with pytest.raises(ValueError, match=match):
        sliding_windows(np.zeros(10), **kwargs)


def test_window_end_values_labels_each_window_by_its_last_step():
    labels = np.array(["a", "a", "b", "b", "c", "c", "c"])
    out = window_end_values(labels, 3, stride=2)
    assert out.shape == (3,) and out.dtype == labels.dtype
    assert out.tolist() == ["b", "c", "c"]  # steps 2, 4, 6
    assert window_end_values([0, 0, 1, 1, 0], 2, horizon=2).tolist() == [0, 1]  # steps 1, 2
    with pytest.raises(ValueError, match=r"values must be 1-D \(T,\).*shape \(4, 2\)"):
        window_end_values(np.zeros((4, 2)), 2)
    with pytest.raises(ValueError, match=r"5 time points, too short for window=6"):
        window_end_values(np.zeros(5), 6)
    with pytest.raises(ValueError, match=r"stride=0 is not valid; it must be an integer >= 1\."):
        window_end_values(np.zeros(5), 2, stride=0)


def test_windows_too_short_message_names_everything():
    with pytest.raises(
        ValueError,
        match=r"series has 10 time points, too short for window=8 and horizon=4: "
        r"it needs at least 12 points",
    ):
        sliding_windows(np.zeros(10), 8, horizon=4)
    with pytest.raises(ValueError, match=r"10 time points, too short for window=11: it needs at least 11"):
        sliding_windows(np.zeros(10), 11)


def test_windows_ndim_and_dtype_errors():
    with pytest.raises(ValueError, match=r"1-D \(T,\) or 2-D \(T, F\), got a 3-D array of shape \(2, 5, 1\)"):
        sliding_windows(np.zeros((2, 5, 1)), 2)
    with pytest.raises(ValueError, match="got a 0-D array"):
        sliding_windows(np.float32(1.0), 1)
    with pytest.raises(ValueError, match="numeric"):
        sliding_windows(np.array(["a", "b", "c"]), 2)


def test_windows_of_ten_million_points_cost_no_memory():
    import tracemalloc

    x = np.zeros(10_000_000, dtype=np.float32)
    tracemalloc.start()
    try:
        w = sliding_windows(x, 128)
        inputs, targets = sliding_windows(x, 128, horizon=16)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert w.shape == (10_000_000 - 127, 128, 1)
    assert inputs.shape == (10_000_000 - 143, 128, 1)
    assert peak < 1_000_000  # bytes; the series itself is 40 MB, the windows would be 5 GB
    assert np.shares_memory(w, x)


# --------------------------------------------------------------------------- coverage / reverse
def test_coverage_counts_edges():
    np.testing.assert_array_equal(coverage_counts(10, 4, 1), [1, 2, 3, 4, 4, 4, 4, 3, 2, 1])
    np.testing.assert_array_equal(coverage_counts(10, 4, 2), [1, 1, 2, 2, 2, 2, 2, 2, 1, 1])
    # stride > window leaves gaps; extra trailing points are not covered
    np.testing.assert_array_equal(coverage_counts(12, 2, 3), [1, 1, 0, 1, 1, 0, 1, 1, 0, 1, 1, 0])
    np.testing.assert_array_equal(coverage_counts(6, 3, 1, n_windows=2), [1, 2, 2, 1, 0, 0])


def test_reverse_windowing_per_window_values_spread_over_their_steps():
    # windows of 3 with stride 1 over 5 points: [0..2], [1..3], [2..4]
    v = np.array([1.0, 4.0, 10.0])
    np.testing.assert_allclose(reverse_windowing(v, 3, reduce="mean"), [1, 2.5, 5, 7, 10])
    np.testing.assert_array_equal(reverse_windowing(v, 3, reduce="max"), [1, 4, 10, 10, 10])
    np.testing.assert_array_equal(reverse_windowing(v, 3, reduce="median"), [1, 2.5, 4, 7, 10])


def test_reverse_windowing_per_step_values():
    # values[i, j] belongs to time i*stride + j
    v = np.array([[1.0, 2.0, 3.0], [10.0, 20.0, 30.0]])
    out = reverse_windowing(v, 3, stride=2, reduce="mean")
    np.testing.assert_allclose(out, [1, 2, (3 + 10) / 2, 20, 30])
    np.testing.assert_array_equal(reverse_windowing(v, 3, stride=2, reduce="max"), [1, 2, 10, 20, 30])


def test_reverse_windowing_gaps_and_trailing_points_are_nan():
    v = np.array([1.0, 2.0, 3.0])
    out = reverse_windowing(v, 2, stride=3, n_points=10)
    np.testing.assert_array_equal(np.isnan(out), [0, 0, 1, 0, 0, 1, 0, 0, 1, 1])
    np.testing.assert_array_equal(out[[0, 1, 3, 4, 6, 7]], [1, 1, 2, 2, 3, 3])
    for reduce in ("max", "median"):
        np.testing.assert_array_equal(
            np.isnan(reverse_windowing(v, 2, stride=3, n_points=10, reduce=reduce)), np.isnan(out)
        )


def test_reverse_windowing_3d_gives_time_by_features():
    x = np.arange(20, dtype=np.float32).reshape(10, 2)
    w = sliding_windows(x, 4, stride=2)
    for reduce in ("mean", "max", "median"):
        out = reverse_windowing(w, 4, stride=2, reduce=reduce)
        assert out.shape == (10, 2) and out.dtype == np.float32
        np.testing.assert_array_equal(out, x)


def test_reverse_windowing_nan_propagates():
    v = np.array([[1.0, np.nan], [3.0, 4.0]])
    for reduce in ("mean", "max", "median"):
        out = reverse_windowing(v, 2, reduce=reduce)
        assert out[0] == 1.0 and np.isnan(out[1]) and out[2] == 4.0


def test_reverse_windowing_dtypes():
    assert reverse_windowing(np.ones(3, np.float32), 2).dtype == np.float32
    assert reverse_windowing(np.ones(3, np.float64), 2).dtype == np.float64
    assert reverse_windowing(np.ones(3, np.int64), 2, reduce="max").dtype == np.float64


@pytest.mark.parametrize(
    "args, match",
    [
        ((np.ones((4, 3)), 5), r"values has shape \(4, 3\) but window=5"),
        ((np.ones((2, 2, 2, 2)), 2), r"got shape \(2, 2, 2, 2\)"),
        ((np.ones(0), 2), "no windows"),
        ((np.ones(3), 2, 1, 3), r"n_points=3 is smaller than the 4 points"),
        ((np.ones(3), 0), r"window=0 is not valid; it must be"),
    ],
)
def test_reverse_windowing_errors(args, match):
    with pytest.raises(ValueError, match=match):
        reverse_windowing(*args)
    with pytest.raises(ValueError, match="unknown reduce 'sum'"):
        reverse_windowing(np.ones(3), 2, reduce="sum")


@FAST
@given(
    data=st.data(),
    T=st.integers(1, 80),
    window=st.integers(1, 20),
    stride=st.integers(1, 8),
    reduce=st.sampled_from(["mean", "max", "median"]),
)
def test_reverse_of_windows_is_the_series(data, T, window, stride, reduce):
    """Per-step values taken from the windows come back as the series, exactly."""
    if T < window:
        return
    x = data.draw(
        hnp.arrays(np.float32, (T, 2), elements=st.floats(-1e6, 1e6, width=32))
    )
    w = sliding_windows(x, window, stride)
    out = reverse_windowing(w, window, stride, n_points=T, reduce=reduce)
    covered = coverage_counts(T, window, stride) > 0
    np.testing.assert_array_equal(out[covered], x[covered])
    assert np.isnan(out[~covered]).all()
    # the 2-D (per-step, univariate) path gives the same as the 3-D one
    out1 = reverse_windowing(w[:, :, 0], window, stride, n_points=T, reduce=reduce)
    np.testing.assert_array_equal(out1, out[:, 0])


@FAST
@given(
    data=st.data(),
    n=st.integers(1, 30),
    window=st.integers(1, 12),
    stride=st.integers(1, 6),
    extra=st.integers(0, 5),
)
def test_reverse_windowing_matches_naive_loop(data, n, window, stride, extra):
    v = data.draw(hnp.arrays(np.float64, (n, window), elements=st.floats(-100, 100)))
    T = (n - 1) * stride + window + extra
    cover: list[list[float]] = [[] for _ in range(T)]
    for i in range(n):
        for j in range(window):
            cover[i * stride + j].append(v[i, j])
    counts = coverage_counts(T, window, stride, n)
    assert counts.tolist() == [len(c) for c in cover]
    for reduce, fn in (("mean", np.mean), ("max", np.max), ("median", np.median)):
        expected = np.array([fn(c) if c else np.nan for c in cover])
        np.testing.assert_allclose(
            reverse_windowing(v, window, stride, n_points=T, reduce=reduce), expected, rtol=1e-12, atol=1e-12
        )
    # per-window values: each window's value over its steps
    pw = v[:, 0]
    expected = np.array(
        [np.max([pw[i] for i in range(n) if i * stride <= t < i * stride + window], initial=-np.inf) for t in range(T)]
    )
    expected[counts == 0] = np.nan
    np.testing.assert_array_equal(reverse_windowing(pw, window, stride, n_points=T, reduce="max"), expected)


def test_reverse_windowing_is_fast_on_a_million_points():
    rng = np.random.default_rng(0)
    scores = rng.standard_normal(1_000_000 - 127).astype(np.float32)
    start = time.perf_counter()
    for reduce in ("mean", "max"):
        out = reverse_windowing(scores, 128, reduce=reduce)
    elapsed = time.perf_counter() - start
    assert out.shape == (1_000_000,)
    assert elapsed < 3.0


# --------------------------------------------------------------------------- fill_missing
def test_fill_ffill_backfills_leading_nans():
    a = np.array([[np.nan, 1.0], [2.0, np.nan], [np.nan, np.nan], [4.0, 5.0]], dtype=np.float32)
    out = fill_missing(a, "ffill")
    np.testing.assert_array_equal(out, [[2, 1], [2, 1], [2, 1], [4, 5]])
    assert out.dtype == np.float32
    assert np.isnan(a).sum() == 4  # input untouched


def test_fill_interpolate_linear_with_nearest_edges():
    a = np.array([np.nan, 1.0, np.nan, np.nan, 4.0, np.nan])
    np.testing.assert_allclose(fill_missing(a, "interpolate"), [1, 1, 2, 3, 4, 4])
    b = np.column_stack([a, np.arange(6.0)])
    np.testing.assert_allclose(fill_missing(b, "interpolate")[:, 0], [1, 1, 2, 3, 4, 4])


def test_fill_zero_and_no_missing_returns_input():
    a = np.array([[1.0, np.nan]])
    np.testing.assert_array_equal(fill_missing(a, "zero"), [[1.0, 0.0]])
    clean = np.ones((3, 2))
    assert fill_missing(clean, None) is clean


def test_fill_none_reports_count_and_first_location():
    a = np.zeros((30, 2))
    a[[17, 20, 25], 0] = np.nan
    with pytest.raises(
        ValueError,
        match=r"column 'temp' has 3 missing values \(first at row 17\); "
        r"pass fill='ffill', 'interpolate' or 'zero'",
    ):
        fill_missing(a, None, names=["temp", "rh"])
    a[2, 1] = np.nan
    with pytest.raises(ValueError, match=r"4 missing values in 2 columns: 'temp' has 3 \(first at row 17\), 'rh' has 1 \(first at row 2\)"):
        fill_missing(a, None, names=["temp", "rh"])


def test_fill_errors():
    with pytest.raises(ValueError, match="unknown fill policy 'mean'"):
        fill_missing(np.zeros((2, 2)), "mean")
    all_nan = np.array([[np.nan, 1.0], [np.nan, 2.0]])
    with pytest.raises(ValueError, match="column 0 holds only missing values"):
        fill_missing(all_nan, "ffill")
    np.testing.assert_array_equal(fill_missing(all_nan, "zero"), [[0, 1], [0, 2]])


@FAST
@given(
    hnp.arrays(
        np.float64,
        st.tuples(st.integers(1, 30), st.integers(1, 3)),
        elements=st.one_of(st.just(np.nan), st.floats(-10, 10)),
    ),
    st.sampled_from(["ffill", "interpolate", "zero"]),
)
def test_fill_properties(a, policy):
    has_values = ~np.isnan(a).all(axis=0)
    if policy != "zero" and not has_values.all():
        with pytest.raises(ValueError, match="only missing values"):
            fill_missing(a, policy)
        return
    out = fill_missing(a, policy)
    assert out.shape == a.shape and not np.isnan(out).any()
    known = ~np.isnan(a)
    np.testing.assert_array_equal(out[known], a[known])
    if policy in ("ffill", "interpolate"):  # filled values stay within each column's range
        lo = np.nanmin(a, axis=0)
        hi = np.nanmax(a, axis=0)
        assert ((out >= lo - 1e-9) & (out <= hi + 1e-9)).all()


def test_reverse_windowing_infinities_without_warnings():
    import warnings

    v = np.array([[1.0, np.inf], [-np.inf, 2.0]])  # point 1 is covered by inf and -inf
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        out = {r: reverse_windowing(v, 2, reduce=r) for r in ("mean", "max", "median")}
    assert out["mean"][0] == 1.0 and np.isnan(out["mean"][1]) and out["mean"][2] == 2.0
    assert np.isnan(out["median"][1]) and out["max"].tolist() == [1.0, np.inf, 2.0]
    with np.errstate(invalid="ignore"):
        assert np.isnan(np.median([np.inf, -np.inf]))  # the same as NumPy, minus the warning
