"""One scoring path: the same score whatever the model directory holds, no events on clean data at
the edges, and model directories of lstmae 0.1 still loading and scoring as they did."""
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from lstmae import LSTMAnomalyDetector, LSTMAutoencoder, LSTMClassifier
from lstmae.cli import app
from lstmae.data.synthetic import make_sines
from lstmae.data.windows import sliding_windows
from lstmae.detector import LEGACY_SERIES_OPTIONS
from lstmae.scoring import ResidualStats
from lstmae.serialization import load_model

V01 = Path(__file__).parent / "data" / "v0_1"
AE = dict(hidden_size=16, epochs=12, learning_rate=0.01, batch_size=64, random_state=0)


def run(*args):
    return CliRunner().invoke(app, [str(a) for a in args])


@pytest.fixture(scope="module")
def clean():
    """A clean 3-feature sine series (no anomaly) as a CSV, and its array."""
    data = make_sines(n_points=1200, anomaly_fraction=0.0, random_state=3)
    return data.series, data.feature_names


@pytest.fixture(scope="module")
def fitted(clean, tmp_path_factory):
    """A detector (mean error model, lstmae 0.2's series options) fitted on the clean series, saved twice: as a
    detector, and its autoencoder alone (what `lstmae train` without --detector saves)."""
    series, names = clean
    d = tmp_path_factory.mktemp("scoring")
    pd.DataFrame(series, columns=names).to_csv(d / "clean.csv", index=False)
    # the options of lstmae <= 0.2 (no per-window normalisation): the plain autoencoder alone then scores the same
    det = LSTMAnomalyDetector(autoencoder=LSTMAutoencoder(**AE), window=24, stride=1,
                              **LEGACY_SERIES_OPTIONS).fit_series(series, feature_names=names)
    det.save(d / "detector")
    det.autoencoder_.save(d / "plain")
    return det, d


def test_one_model_one_series_one_score_whatever_the_directory_holds(fitted):
    det, d = fitted
    r1 = run("detect", d / "detector", d / "clean.csv", "-o", d / "s1.csv", "-q")
    r2 = run("detect", d / "plain", d / "clean.csv", "-o", d / "s2.csv", "-q")
    assert r1.exit_code == 0 and r2.exit_code == 0, r1.output + r2.output
    s1, s2 = pd.read_csv(d / "s1.csv"), pd.read_csv(d / "s2.csv")
    np.testing.assert_allclose(s1.score, s2.score, rtol=1e-6)
    # and the same as the Python API, on the scale of absolute residuals (not the squared training loss)
    np.testing.assert_allclose(det.score_series(pd.read_csv(d / "clean.csv").to_numpy()), s1.score, rtol=1e-6)
    wrapped = LSTMAnomalyDetector.from_autoencoder(load_model(d / "plain"))
    np.testing.assert_allclose(wrapped.score_series(pd.read_csv(d / "clean.csv").to_numpy()), s1.score, rtol=1e-6)
    assert 0.01 < np.median(s1.score) < 0.5  # mean |residual| in standard units: a few hundredths on clean sines


def test_residual_profile_flattens_the_position_effect(fitted, clean):
    """The first step of a window is rebuilt worse than the middle; normalised residuals are level."""
    det, _ = fitted
    ae = det.autoencoder_
    windows = np.ascontiguousarray(sliding_windows(clean[0][:600], 24, 1))
    raw = ae.residuals(windows).mean(axis=(0, 2))
    normalized = ae.residuals(windows, normalize=True).mean(axis=(0, 2))
    assert raw[0] > 1.3 * np.median(raw)  # the effect is real...
    assert normalized[0] < 1.15 * np.median(normalized)  # ...and removed
    assert ae.residual_stats_.profile.shape == (24, 3)


@pytest.mark.parametrize("stride", [1, 5])
def test_clean_data_raises_no_event_at_the_edges(fitted, clean, stride, tmp_path):
    det, d = fitted
    series = clean[0]
    result = det.set_params(stride=stride).detect_series(series)
    assert result.events == [], result.events[:5]
    assert np.nanmax(result.scores[:5]) < det.threshold_ and np.nanmax(result.scores[-5:]) < det.threshold_
    # a plain model (from `lstmae train`) on its own training range, cut with that stride
    r = run("train", d / "clean.csv", "--window", 24, "--stride", stride, "--hidden-size", 16, "--epochs", 12,
            "--learning-rate", 0.01, "--batch-size", 64, "-q", "-o", tmp_path / "m")
    assert r.exit_code == 0, r.output
    r = run("detect", tmp_path / "m", d / "clean.csv", "-o", tmp_path / "s.csv", "--events", tmp_path / "e.csv", "-q")
    assert r.exit_code == 0, r.output
    assert len(pd.read_csv(tmp_path / "e.csv")) == 0
    det.set_params(stride=1)


def test_residual_stats_round_trip_and_refuse_a_bad_shape():
    rng = np.random.default_rng(0)
    res = np.abs(rng.standard_normal((50, 10, 2)))
    stats = ResidualStats.fit(res, np.ones((50, 10), bool))
    again = ResidualStats.from_dict(stats.to_dict(), 2)
    np.testing.assert_array_equal(again.profile, stats.profile)
    with pytest.raises(ValueError, match="do not fit 3 features"):
        ResidualStats.from_dict(stats.to_dict(), 3)


def test_refit_threshold_keeps_the_autoencoder(fitted, clean):
    det, _ = fitted
    before = {k: v.clone() for k, v in det.autoencoder_.module_.state_dict().items()}
    refit = LSTMAnomalyDetector(window=24, threshold="max").set_params()
    refit.autoencoder_ = det.autoencoder_
    refit.refit_threshold_series(clean[0][600:])
    assert refit.threshold_ >= np.nanmax(refit.score_series(clean[0][600:])) - 1e-12
    after = det.autoencoder_.module_.state_dict()
    assert all(bool((before[k] == after[k]).all()) for k in before)


# ------------------------------------------------------------------------------ lstmae 0.1 directories
def test_model_directories_of_lstmae_0_1_still_load_and_compute_the_same():
    expected = np.load(V01 / "expected.npz")
    series = pd.read_csv(V01 / "series.csv")[["a", "b"]].to_numpy(np.float32)
    windows = np.ascontiguousarray(sliding_windows(series, 16, 4))[:5]
    ae = load_model(V01 / "autoencoder")
    assert isinstance(ae, LSTMAutoencoder) and ae.data_spec_.window == 16 and ae.data_spec_.stride == 4
    assert ae.data_spec_.time_column == "t" and ae.data_spec_.feature_names == ("a", "b")
    np.testing.assert_allclose(ae.reconstruct(windows), expected["ae_reconstruct"], rtol=1e-6)
    np.testing.assert_allclose(ae.transform(windows), expected["ae_transform"], rtol=1e-6)
    np.testing.assert_allclose(load_model(V01 / "composite").predict(windows), expected["comp_predict"], rtol=1e-6)
    det = load_model(V01 / "detector")
    assert isinstance(det, LSTMAnomalyDetector) and det.error_model_.kind == "mean"
    assert det.threshold_rule == "k-sigma"  # the default rule of its time: a refit keeps it
    assert det.threshold_ == pytest.approx(float(expected["det_threshold"]))
    np.testing.assert_allclose(det.score_series(series), expected["det_scores"], rtol=1e-6)
    clf = load_model(V01 / "classifier")
    assert isinstance(clf, LSTMClassifier)
    X = np.sin(np.arange(12)[None, :, None] * np.linspace(0.2, 0.6, 5)[:, None, None])
    np.testing.assert_allclose(clf.predict_proba(X), expected["clf_proba"], rtol=1e-6)


def test_commands_read_data_as_a_0_1_model_was_trained(tmp_path):
    """data.json of 0.1 became the config's data spec: no --window or --time-column needed."""
    r = run("encode", V01 / "autoencoder", V01 / "series.csv", "-o", tmp_path / "c.csv", "-q")
    assert r.exit_code == 0, r.output
    assert len(pd.read_csv(tmp_path / "c.csv")) == (400 - 16) // 4 + 1
    r = run("detect", V01 / "detector", V01 / "series.csv", "-o", tmp_path / "s.csv", "-q")
    assert r.exit_code == 0, r.output
    # a plain 0.1 autoencoder has no residual statistics: detect asks for a threshold, then works
    r = run("detect", V01 / "autoencoder", V01 / "series.csv", "-o", tmp_path / "s.csv", "-q")
    assert r.exit_code == 2 and "--threshold" in r.output
    r = run("detect", V01 / "autoencoder", V01 / "series.csv", "-o", tmp_path / "s.csv", "--threshold", 5, "-q")
    assert r.exit_code == 0, r.output
