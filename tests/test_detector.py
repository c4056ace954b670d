"""LSTMAnomalyDetector: score orientation, error models, thresholds, long series, save/load."""
import numpy as np
import pytest
from sklearn.base import clone

from conftest import make_sines
from lstmae import LSTMAnomalyDetector, LSTMAutoencoder
from lstmae.data.synthetic import make_sines as make_sine_series
from lstmae.metrics import detection_metrics
from lstmae.scoring import ErrorModel

SMALL = LSTMAutoencoder(hidden_size=24, epochs=25, learning_rate=0.01, batch_size=32, random_state=0)
TINY = LSTMAutoencoder(hidden_size=4, epochs=1, batch_size=64, random_state=0)


@pytest.fixture(scope="module")
def seq_detector():
    X = make_sines(160, 12, 2, seed=0)
    return LSTMAnomalyDetector(autoencoder=SMALL, error_model="mahalanobis", random_state=0).fit(X)


@pytest.fixture(scope="module")
def series_detector():
    data = make_sine_series(n_points=1600, anomaly_fraction=0.0, random_state=3)
    det = LSTMAnomalyDetector(autoencoder=SMALL, error_model="mahalanobis", window=24, stride=2, random_state=0)
    return det.fit_series(data.series, feature_names=data.feature_names), data


def test_score_orientation_follows_scikit_learn(seq_detector):
    X = make_sines(20, 12, 2, seed=5)
    bad = X.copy()
    bad[:10, 4:8, 0] += 3.0
    a = seq_detector.anomaly_score(bad)
    assert a.shape == (20,)
    assert a[:10].min() > a[10:].max(), "corrupted sequences must score higher (more anomalous)"
    np.testing.assert_allclose(seq_detector.score_samples(bad), -a)
    np.testing.assert_allclose(seq_detector.decision_function(bad), seq_detector.threshold_ - a)
    pred = seq_detector.predict(bad)
    assert set(pred) <= {-1, 1}
    assert (pred[:10] == -1).all() and (pred[10:] == 1).mean() >= 0.9
    np.testing.assert_array_equal(pred == -1, a > seq_detector.threshold_)


def test_error_map_points_at_the_corrupted_feature_and_step(seq_detector):
    X = make_sines(6, 12, 2, seed=6)
    X[:, 7, 1] -= 3.0
    emap = seq_detector.error_map(X)
    assert emap.shape == X.shape
    for e in emap:
        assert np.unravel_index(np.argmax(e), e.shape) == (7, 1)
    steps = seq_detector.step_scores([X[0], X[1, :9]])
    assert [s.shape for s in steps] == [(12,), (9,)] and int(np.argmax(steps[0])) == 7


def test_planted_anomaly_found_at_the_right_points_with_its_feature(series_detector):
    det, data = series_detector
    series = data.series.copy()
    series[1200:1215, 2] += 2.5  # level shift on feature 2
    result = det.detect_series(series)
    assert result.scores.shape == (1600,) and result.labels.shape == (1600,)
    hit = result.labels[1200:1215].mean()
    assert hit >= 0.8, f"only {hit:.0%} of the shifted points flagged"
    assert result.labels[:1150].mean() < 0.02
    main = max(result.events, key=lambda e: e["peak_score"])
    assert 1195 <= main["peak"] < 1220
    assert main["top_features"][0] == data.feature_names[2]
    frame = result.events_frame()
    assert list(frame.columns) == ["start", "end", "peak", "peak_score", "top_features"]
    m = detection_metrics((np.arange(1600) >= 1200) & (np.arange(1600) < 1215), result.scores, result.labels)
    assert m["roc_auc"] > 0.95 and m["event_recall"] == 1.0


@pytest.mark.parametrize("error_model", ["mean", "mahalanobis"])
def test_error_models_separate_planted_spikes(error_model):
    data = make_sine_series(n_points=1200, anomaly_fraction=0.0, random_state=4)
    det = LSTMAnomalyDetector(autoencoder=SMALL, error_model=error_model, window=24, stride=3, random_state=0)
    det.fit_series(data.series[:800])
    series = data.series.copy()
    series[[900, 1000, 1100], [0, 1, 2]] += 4.0
    scores = det.score_series(series)
    assert np.nanargmax(scores[850:]) + 850 in (900, 1000, 1100)
    assert min(scores[900], scores[1000], scores[1100]) > np.nanpercentile(scores[:850], 99)


def test_mahalanobis_is_robust_to_a_singular_covariance():
    """A constant and a duplicated error feature make the raw covariance singular: shrinkage copes."""
    rng = np.random.default_rng(0)
    a = np.abs(rng.standard_normal(500))
    vectors = np.stack([a, a, np.full(500, 0.3)], axis=1)
    assert np.linalg.matrix_rank(np.cov(vectors.T)) < 3
    model = ErrorModel("mahalanobis").fit(vectors)
    scores = model.score(np.concatenate([vectors, [[5.0, 5.0, 0.3], [0.5, 0.5, 2.0]]]))
    assert np.isfinite(scores).all()
    assert scores[-2] > scores[:-2].max() and scores[-1] > scores[:-2].max()  # both kinds of deviation stand out
    # end to end, with constant and duplicated input features
    X = make_sines(80, 10, 1, seed=1)
    X = np.concatenate([X, X, np.zeros_like(X)], axis=2)
    fitted = LSTMAnomalyDetector(autoencoder=TINY, error_model="mahalanobis").fit(X)
    assert np.isfinite(fitted.anomaly_score(X)).all() and np.isfinite(fitted.threshold_)


def test_threshold_methods_behave_as_documented():
    X = make_sines(200, 8, 1, seed=2)
    held = X[150:]  # holdout=0.25 of 200: the last 50 sequences
    for method, check in [
        ("contamination", lambda det, s: np.isclose(det.threshold_, np.quantile(s, 0.9))),
        ("k-sigma", lambda det, s: np.isclose(det.threshold_, s.mean() + 2.0 * s.std())),
        ("max", lambda det, s: np.isclose(det.threshold_, s.max()) and (det.predict(held) == 1).all()),
        ("max-sigma", lambda det, s: np.isclose(det.threshold_, s.max() + 0.5 * s.std())),
    ]:
        det = LSTMAnomalyDetector(autoencoder=TINY, threshold=method, contamination=0.1, k_sigma=2.0,
                                  max_sigma=0.5, error_model="mean").fit(X)
        assert check(det, det.anomaly_score(held)), method
    # f-beta: the threshold maximises F-beta on the labelled validation data
    X_val = make_sines(40, 8, 1, seed=3)
    y_val = np.zeros(40, dtype=int)
    X_val[:8, 2:6] += np.linspace(0.5, 3.0, 8)[:, None, None]
    y_val[:8] = 1
    for beta in (1.0, 0.1):
        det = LSTMAnomalyDetector(autoencoder=TINY, threshold="f-beta", beta=beta, error_model="mean")
        det.fit(X, validation_data=(X_val, y_val))
        s = det.anomaly_score(X_val)

        def fbeta(t):
            p = y_val[s > t].mean() if (s > t).any() else 0.0
            r = (s > t)[y_val == 1].mean()
            return (1 + beta**2) * p * r / (beta**2 * p + r) if p + r else 0.0

        best = max(fbeta(t) for t in np.concatenate([[-np.inf], np.sort(s)]))
        assert fbeta(det.threshold_) == pytest.approx(best)


def test_save_load_keeps_error_model_and_threshold(series_detector, tmp_path):
    det, data = series_detector
    det.save(tmp_path / "det")
    loaded = LSTMAnomalyDetector.load(tmp_path / "det")
    assert loaded.threshold_ == det.threshold_ and loaded.level_ == "point"
    np.testing.assert_array_equal(loaded.error_model_.precision_, det.error_model_.precision_)
    np.testing.assert_array_equal(loaded.score_series(data.series[:300]), det.score_series(data.series[:300]))
    assert loaded.feature_names_ == data.feature_names
    assert loaded.get_params()["window"] == 24
    with pytest.raises(ValueError, match="load it with lstmae.LSTMAnomalyDetector.load"):
        LSTMAutoencoder.load(tmp_path / "det")


def test_nested_params_and_clone():
    det = LSTMAnomalyDetector(autoencoder=LSTMAutoencoder(hidden_size=7))
    assert det.get_params()["autoencoder__hidden_size"] == 7
    det.set_params(autoencoder__hidden_size=9, threshold="max")
    c = clone(det)
    assert c.autoencoder.hidden_size == 9 and c.threshold == "max"


@pytest.mark.parametrize(
    "kwargs,call,match",
    [
        ({"error_model": "gauss"}, "fit", r"error_model='gauss' is not valid"),
        ({"threshold": "auto"}, "fit", r"threshold='auto' is not valid"),
        ({"threshold": "f-beta"}, "fit", r"threshold='f-beta' needs labelled validation data"),
        ({"holdout": 0.999}, "fit", r"holdout=0.999 of 40 sample\(s\) leaves 0 for training"),
        ({"autoencoder": LSTMAutoencoder(task="predict")}, "fit", r"task='predict'.*no reconstruction decoder"),
        ({}, "fit_series", r"need window=\.\.\."),
        ({"window": 500}, "fit_series", r"fewer than one window \(500\)"),
    ],
)
def test_bad_settings(kwargs, call, match):
    X = make_sines(40, 8, 1)
    arg = X if call == "fit" else X[:, :, 0].ravel()[:300]
    with pytest.raises(ValueError, match=match):
        getattr(LSTMAnomalyDetector(**{"autoencoder": TINY, **kwargs}), call)(arg)


def test_nan_in_series_is_refused(series_detector):
    det, data = series_detector
    s = data.series[:100].copy()
    s[50, 1] = np.nan
    with pytest.raises(ValueError, match=r"NaN or inf \(first at point 50, feature 1\).*fill_missing"):
        det.score_series(s)


def test_the_default_threshold_rule_is_max_sigma_for_a_series_and_k_sigma_for_sequences():
    """threshold=None: the rule measured for what the threshold is fitted on (docs/benchmarks.md)."""
    X = make_sines(120, 8, 1, seed=2)
    seq = LSTMAnomalyDetector(autoencoder=TINY).fit(X)
    assert seq.threshold_rule == "k-sigma"
    s = seq.anomaly_score(X[90:])
    assert seq.threshold_ == pytest.approx(s.mean() + 4.0 * s.std(), rel=1e-5)
    series = make_sine_series(n_points=600, anomaly_fraction=0.0, random_state=1).series
    det = LSTMAnomalyDetector(autoencoder=TINY, window=16).fit_series(series)
    assert det.threshold_rule == "max-sigma"
    rest = series[450:]  # holdout 0.25: the points the threshold was fitted on
    thresholds = {}
    for rule, extra in (("max-sigma", {}), ("max", {}), ("k-sigma", dict(k_sigma=1.0)), ("k-sigma", dict(k_sigma=0.0))):
        det.set_params(threshold=rule, **extra).refit_threshold_series(rest)
        thresholds[rule + str(extra)] = det.threshold_
    # the maximum + 1 standard deviation of the same held-out scores
    std = thresholds["k-sigma{'k_sigma': 1.0}"] - thresholds["k-sigma{'k_sigma': 0.0}"]
    assert std > 0 and thresholds["max-sigma{}"] == pytest.approx(thresholds["max{}"] + std, rel=1e-6)
    with pytest.raises(ValueError, match="max_sigma"):
        LSTMAnomalyDetector(max_sigma=-1.0).fit_series(series)
