"""``window_norm="auto"``: per-window normalisation where the training part trends, nowhere else (issue 18)."""
import json

import numpy as np
import pytest

from lstmae import LSTMAnomalyDetector, LSTMAutoencoder
from lstmae.data.stationarity import AUTO_TREND_SHARE, trend_share

T = np.arange(3000)
RNG = np.random.default_rng(0)
NOISE = 0.05 * RNG.standard_normal(3000)


def small(**kw):
    return LSTMAnomalyDetector(autoencoder=LSTMAutoencoder(hidden_size=16, epochs=12, learning_rate=0.01, batch_size=64,
                                                           random_state=0, verbose=False), window=50, **kw)


def test_trend_share_is_the_r2_of_a_line():
    assert trend_share(T) == pytest.approx(1.0)
    assert trend_share(np.sin(T / 10)) < 0.01
    both = np.c_[np.sin(T / 10), T / 1000 + np.sin(T / 5)]  # the largest share over features
    assert trend_share(both) == pytest.approx(trend_share(both[:, 1])) and 0.5 < trend_share(both) < 0.7
    assert trend_share(np.ones(50)) == 0.0 and trend_share(np.arange(2)) == 0.0
    gappy = (T / 100.0).copy()
    gappy[::7] = np.nan
    assert trend_share(gappy) == pytest.approx(1.0)
    assert AUTO_TREND_SHARE == 0.5


@pytest.fixture(scope="module")
def rising():
    x = (T / 300 + np.sin(2 * np.pi * T / 50) + NOISE)[:, None]  # training part: a line explains ~0.7
    x[2400] += 2.0
    return x


def test_auto_normalises_the_windows_of_a_trending_series_and_finds_the_spike_alone(rising):
    auto = small().fit_series(rising[:1500])
    assert auto.window_norm == "auto" and auto.window_norm_.kind == "level-scale"
    found = auto.detect_series(rising)
    after = [e for e in found.events if e["end"] > 1500]  # after the normal part it was fitted on
    assert [e["start"] <= 2400 < e["end"] for e in after] == [True]
    plain = small(window_norm=None).fit_series(rising[:1500])
    flagged = plain.detect_series(rising).labels
    assert flagged[1600:2300].mean() > 0.3  # without it the drift out of the training range is flagged


def test_auto_leaves_a_series_without_trend_alone(tmp_path):
    flat = (np.sin(2 * np.pi * T / 50) + NOISE)[:, None]
    det = small().fit_series(flat[:1500])
    assert det.window_norm_ is None and not det.series_prepared()
    np.save(tmp_path / "flat.npy", flat.astype(np.float32))
    np.testing.assert_allclose(det.score_series(tmp_path / "flat.npy"), det.score_series(flat.astype(np.float32)),
                               rtol=1e-5, atol=1e-6)  # so it still streams


def test_a_streamed_fit_is_never_normalised(rising, tmp_path):
    np.save(tmp_path / "rising.npy", rising[:1500].astype(np.float32))
    det = small().fit_series(tmp_path / "rising.npy")  # "auto" on a source: no normalisation, no error
    assert det.window_norm_ is None


def test_auto_round_trips_and_shows_what_it_chose(rising, tmp_path):
    from typer.testing import CliRunner

    from lstmae.cli import app

    det = small().fit_series(rising[:1500])
    det.save(tmp_path / "d")
    loaded = LSTMAnomalyDetector.load(tmp_path / "d")
    assert loaded.window_norm == "auto" and loaded.window_norm_.kind == "level-scale"
    np.testing.assert_array_equal(loaded.score_series(rising), det.score_series(rising))
    assert json.loads((tmp_path / "d" / "config.json").read_text())["params"]["window_norm"] == "auto"
    r = CliRunner().invoke(app, ["info", str(tmp_path / "d")])
    assert r.exit_code == 0 and "level-scale (auto)" in r.output, r.output


def test_a_detector_normalised_by_auto_refuses_a_stream_with_the_fix(rising, tmp_path):
    from lstmae.data.sources import open_source
    from lstmae.streaming import DetectionStream

    det = small().fit_series(rising[:1500])
    np.save(tmp_path / "x.npy", rising.astype(np.float32))
    fix = r"window_norm='auto' normalised its windows .*'level-scale'.* fit a detector with window_norm=None"
    with pytest.raises(ValueError, match=fix):
        det.score_series(tmp_path / "x.npy")
    with pytest.raises(ValueError, match=fix):
        det.refit_threshold_series(tmp_path / "x.npy")
    with pytest.raises(ValueError, match=fix):
        DetectionStream(det, open_source(tmp_path / "x.npy"))
