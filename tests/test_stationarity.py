"""Long series that trend and drift: series transforms, per-window normalisation and its level term,
robust scaling, the rolling threshold; saved and loaded with the detector."""
import numpy as np
import pytest

from lstmae import LSTMAnomalyDetector, LSTMAutoencoder
from lstmae.data.scaling import SequenceScaler
from lstmae.data.stationarity import SeriesTransform, WindowNorm
from lstmae.detector import LEGACY_SERIES_OPTIONS
from lstmae.scoring import robust_center_spread, rolling_thresholds

W = 24
AE = LSTMAutoencoder(hidden_size=16, epochs=15, learning_rate=0.01, batch_size=32, random_state=0, verbose=False)


def trending(n=1400, seed=0):
    """A daily-like sine on a rising line with noise: a global scaler fitted on the first half sees the
    second half as out of range."""
    rng = np.random.default_rng(seed)
    t = np.arange(n)
    return np.sin(2 * np.pi * t / 24) + 0.003 * t + 0.1 * rng.standard_normal(n)


@pytest.fixture(scope="module")
def base():
    return trending()


@pytest.fixture(scope="module")
def level_detector(base):
    return LSTMAnomalyDetector(autoencoder=AE, window=W, window_norm="level-scale").fit_series(base[:700])


def events_after(result, start):
    return [(e["start"], e["end"]) for e in result.events if e["end"] > start]


def test_trend_spike_found_without_false_events_where_a_global_scaler_flags_drift(base, level_detector):
    spiked = base.copy()
    spiked[1100] += 2.5
    found = level_detector.detect_series(spiked)
    events = events_after(found, 700)
    assert events, "the spike is missed"
    # every event lies where the spike reaches: the windows holding it, and (level term) the ones just after
    assert all(1100 - W <= s and e <= 1100 + 2 * W for s, e in events), events
    assert int(np.nanargmax(found.scores[700:])) + 700 == 1100
    legacy = LSTMAnomalyDetector(autoencoder=AE, window=W, **LEGACY_SERIES_OPTIONS).fit_series(base[:700])
    drifted = events_after(legacy.detect_series(spiked), 700)
    assert sum(not (1100 - W <= s and e <= 1100 + 2 * W) for s, e in drifted) >= 5, drifted  # drift flagged


def test_the_level_term_brings_a_level_shift_back(base, level_detector):
    shifted = base.copy()
    shifted[1000:1200] += 1.0
    near = slice(1000 - W, 1000 + W)
    with_level = np.nanmax(level_detector.score_series(shifted)[near]) / level_detector.threshold_
    without = LSTMAnomalyDetector(autoencoder=AE, window=W, window_norm="level-scale", level_term=False).fit_series(
        base[:700])
    without_level = np.nanmax(without.score_series(shifted)[near]) / without.threshold_
    assert with_level > 3.0 and with_level > 1.5 * without_level, (with_level, without_level)
    assert level_detector.column_names() == ["0", "0 (level)", "0 (spread)"]
    top = max(level_detector.detect_series(shifted).events, key=lambda e: e["peak_score"])
    assert min(abs(top["peak"] - 1000), abs(top["peak"] - 1200)) < 2 * W  # at a jump: the start or the end
    assert top["top_features"] == ["0"]  # feature names, once each (the level term is the feature's column too)


def test_transforms_fitted_on_the_training_part():
    t = np.arange(200.0)
    x = np.stack([3.0 + 0.5 * t, -2.0 * t], axis=1)
    tr = SeriesTransform.fit("detrend", x[:100])
    np.testing.assert_allclose(tr.apply(x), 0.0, atol=1e-9)  # extrapolated beyond the training part
    np.testing.assert_allclose(tr.apply(x[150:], start=150), 0.0, atol=1e-9)
    d = SeriesTransform.fit("difference", x).apply(x)
    np.testing.assert_allclose(d, np.tile([0.5, -2.0], (200, 1)))
    again = SeriesTransform.from_dict(tr.to_dict(), 2)
    np.testing.assert_array_equal(again.slope, tr.slope)
    with pytest.raises(ValueError, match="does not fit 3 features"):
        SeriesTransform.from_dict(tr.to_dict(), 3)


def test_window_norm_and_level_term_numbers():
    rng = np.random.default_rng(1)
    x = rng.standard_normal((600, 1))
    norm = WindowNorm.fit("level-scale", x[:300], 20)
    w = norm.normalize(np.stack([x[i:i + 20] for i in range(0, 100, 10)]) * 5 + 7)
    np.testing.assert_allclose(w.mean(axis=1), 0.0, atol=1e-5)
    np.testing.assert_allclose(w.std(axis=1), 1.0, atol=1e-4)  # level and amplitude both removed
    step = x.copy()
    step[400:] += 3.0
    terms = norm.level_terms(step)  # (n, 2): the mean's and the log spread's jump, in normal spreads
    assert terms.shape == (581, 2)
    assert int(np.argmax(terms[:, 0])) == 400 and terms[400, 0] > 8 and np.median(terms[:300, 0]) < 1.0
    again = WindowNorm.from_dict(norm.to_dict(), 1)
    np.testing.assert_array_equal(again.level_terms(step), terms)


def test_rolling_threshold_follows_drift_but_not_a_spike():
    rng = np.random.default_rng(2)
    scores = np.linspace(0.0, 3.0, 2000) + 0.1 * rng.standard_normal(2000)
    scores[1500] += 2.0
    center, spread = robust_center_spread(scores[:200])
    fixed = center + 6 * spread
    thr = rolling_thresholds(scores, fixed, center, 200)
    assert thr[:50].tolist() == [fixed] * 50  # too few past scores: the fixed threshold holds
    flagged = np.flatnonzero(scores > thr)
    assert 1500 in flagged and len(flagged) < 20
    assert (scores > fixed).sum() > 1000  # the fixed one flags the drift
    # in chunks, each given the scores before it (a stream): the same thresholds as the whole series
    pieces, past = [], np.empty(0)
    for a, b in ((0, 30), (30, 700), (700, 701), (701, 2000)):
        pieces.append(rolling_thresholds(scores[a:b], fixed, center, 200, past=past))
        past = np.concatenate([past, scores[a:b]])
    np.testing.assert_array_equal(np.concatenate(pieces), thr)


def test_robust_scaling_ignores_outliers_in_training_data():
    rng = np.random.default_rng(3)
    x = rng.standard_normal((1, 5000, 1))
    x[0, :25] = 1e4
    mask = np.ones((1, 5000), bool)
    robust = SequenceScaler.fit(x, mask, "robust")
    standard = SequenceScaler.fit(x, mask, "standard")
    assert abs(robust.offset[0]) < 0.1 and 0.9 < robust.scale[0] < 1.1
    assert standard.scale[0] > 500
    streamed = SequenceScaler.fit_chunks([(x[0, :3000], None), (x[0, 3000:], None)], "robust", 1)  # one pass
    np.testing.assert_allclose([streamed.offset, streamed.scale], [robust.offset, robust.scale], rtol=1e-12)


def test_new_options_round_trip_through_save_and_load(base, tmp_path):
    det = LSTMAnomalyDetector(autoencoder=AE, window=W, series_transform="detrend", window_norm="level-scale",
                              adaptive_threshold=200).fit_series(base[:700], feature_names=["x"])
    det.save(tmp_path / "det")
    loaded = LSTMAnomalyDetector.load(tmp_path / "det")
    params = loaded.get_params()
    assert (params["series_transform"], params["window_norm"], params["level_term"], params["adaptive_threshold"]) == (
        "detrend", "level-scale", True, 200)
    a, b = det.detect_series(base), loaded.detect_series(base)
    np.testing.assert_allclose(b.scores, a.scores, rtol=1e-6)
    np.testing.assert_array_equal(b.labels, a.labels)
    np.testing.assert_allclose(b.thresholds, a.thresholds, rtol=1e-6)
    assert loaded.column_names() == ["x", "x (level)", "x (spread)"]


@pytest.mark.parametrize("kwargs,match", [
    ({"series_transform": "log"}, r"series_transform='log' is not valid"),
    ({"window_norm": "zscore"}, r"window_norm='zscore' is not valid"),
    ({"level_term": "yes"}, r"level_term must be True or False"),
    ({"adaptive_threshold": 1}, r"adaptive_threshold"),
])
def test_bad_options(kwargs, match, base):
    with pytest.raises(ValueError, match=match):
        LSTMAnomalyDetector(autoencoder=AE, window=W, **kwargs).fit_series(base[:300])


def test_a_stream_is_refused_with_stationarity_options(base, tmp_path):
    path = tmp_path / "s.npy"
    np.save(path, base[:600, None].astype(np.float32))
    with pytest.raises(ValueError, match="need the series in memory"):
        LSTMAnomalyDetector(autoencoder=AE, window=W, window_norm="level").fit_series(path)


def test_command_line_options_reach_the_saved_detector(base, tmp_path):
    import json

    import pandas as pd
    from typer.testing import CliRunner

    from lstmae.cli import app

    pd.DataFrame({"x": base}).to_csv(tmp_path / "s.csv", index=False)
    args = ["train", tmp_path / "s.csv", "--detector", "--window", W, "--epochs", 2, "--hidden-size", 8, "-q",
            "--series-transform", "difference", "--window-norm", "level-scale", "--adaptive-threshold", 150,
            "-o", tmp_path / "det"]
    r = CliRunner().invoke(app, [str(a) for a in args])
    assert r.exit_code == 0, r.output
    params = json.loads((tmp_path / "det" / "config.json").read_text())["params"]
    assert (params["series_transform"], params["window_norm"], params["adaptive_threshold"]) == (
        "difference", "level-scale", 150)
    drifted = np.concatenate([base, trending(600, seed=4)[-600:] + 1.5])  # more drift: the threshold must move
    pd.DataFrame({"x": drifted}).to_csv(tmp_path / "d.csv", index=False)
    r = CliRunner().invoke(app, [str(a) for a in ["detect", tmp_path / "det", tmp_path / "d.csv",
                                                   "-o", tmp_path / "scores.csv", "--plot", tmp_path / "p.png"]])
    assert r.exit_code == 0, r.output
    assert "moving with the median of the last 150 scores" in r.output
    scores = pd.read_csv(tmp_path / "scores.csv")
    assert np.isfinite(scores.score).all()
    # the command's flags are the detector's own, rolling threshold included (0.6's command used the fixed one)
    from lstmae.serialization import load_model

    det = load_model(tmp_path / "det")
    moving = det.detect_series(drifted[:, None])
    np.testing.assert_array_equal(scores.anomaly.to_numpy(), moving.labels)
    assert moving.labels.sum() < (moving.scores > det.threshold_).sum()


@pytest.mark.parametrize("stride", [1, 5])
def test_window_level_and_level_term_raise_no_event_on_clean_data_at_the_edges(stride):
    from lstmae.data.synthetic import make_sines

    series = make_sines(n_points=1200, anomaly_fraction=0.0, random_state=3).series
    ae = LSTMAutoencoder(hidden_size=16, epochs=12, learning_rate=0.01, batch_size=64, random_state=0)
    det = LSTMAnomalyDetector(autoencoder=ae, window=24, stride=stride, window_norm="level").fit_series(series)
    assert det.column_names() == ["0", "1", "2", "0 (level)", "1 (level)", "2 (level)"]
    result = det.detect_series(series)
    assert result.events == [], result.events[:5]


def test_the_default_autoencoder_scales_robustly():
    from lstmae.detector import default_autoencoder

    det = LSTMAnomalyDetector()
    assert default_autoencoder().scale == "robust" and det.window_norm == "auto" and det.series_transform is None
