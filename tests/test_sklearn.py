"""The scikit-learn estimator contract: clone, params, Pipeline, GridSearchCV, the common checks."""
import numpy as np
from sklearn.base import clone
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils.estimator_checks import parametrize_with_checks

from conftest import make_sines
from lstmae import LSTMAnomalyDetector, LSTMAutoencoder

# scikit-learn's common checks feed 2-D tabular X. LSTMAutoencoder reads a 2-D X as N
# univariate sequences of length L, so some checks test assumptions that do not hold
# for sequence models. Each expected failure and why:
EXPECTED_FAILURES = {
    # n_features_in_ is the number of features per time step F (1 for 2-D input), not
    # X.shape[1]: a 2-D X has L time steps, and any L is valid at transform time.
    "check_n_features_in_after_fitting": "n_features_in_ is F, not X.shape[1] (the sequence length)",
    # Column names of a flat DataFrame are time steps, not features; no feature_names_in_.
    "check_dataframe_column_names_consistency": "flat DataFrame columns are time steps, not features",
    # A 2-D X with 0 columns has 0 time steps, and the message says so rather than
    # "0 feature(s)".
    "check_estimators_empty_data_messages": "a 2-D X with 0 columns has 0 time steps, and says so",
    # The number of columns of a 2-D X is the sequence length, and any length is valid
    # after fit (LSTMs read sequences of any length), so no error is raised.
    "check_transformer_general": "columns of a 2-D X are time steps; any length is valid at transform",
    "check_transformer_general(readonly_memmap=True)": "as check_transformer_general",
    "check_n_features_in": "n_features_in_ is F, not X.shape[1] (the sequence length)",
    # Bad values in object arrays raise ValueError (our documented contract), not TypeError.
    "check_dtype_object": "non-numeric objects raise ValueError, not TypeError",
    # Output dtype is float32 (the network's precision), whatever the input dtype.
    "check_transformer_preserve_dtypes": "outputs are float32, the network's precision",
}


@parametrize_with_checks(
    [LSTMAutoencoder(hidden_size=4, epochs=2, batch_size=16, random_state=0)],
    expected_failed_checks=lambda est: EXPECTED_FAILURES,
)
def test_sklearn_common_checks(estimator, check):
    check(estimator)


def test_clone_and_params_roundtrip():
    ae = LSTMAutoencoder(task="composite", horizon=4, hidden_size=12, loss_weights=(1.0, 0.5), random_state=3)
    c = clone(ae)
    assert c is not ae and c.get_params() == ae.get_params()
    c.set_params(hidden_size=7, bridge="state")
    assert c.hidden_size == 7 and c.bridge == "state" and ae.hidden_size == 12


def test_pipeline_autoencoder_codes_into_a_classifier():
    """Two classes of sequences (slow vs. fast sines): codes separate them."""
    rng = np.random.default_rng(0)
    t = np.arange(20)
    freq = np.where(np.arange(120) % 2 == 0, 0.2, 0.8)
    X = np.sin(freq[:, None] * t + rng.uniform(0, 6.3, (120, 1))) + 0.05 * rng.standard_normal((120, 20))
    y = (freq > 0.5).astype(int)
    pipe = make_pipeline(
        LSTMAutoencoder(hidden_size=16, epochs=15, learning_rate=0.01, batch_size=16, random_state=0),
        StandardScaler(), LogisticRegression(),
    )
    pipe.fit(X[:80], y[:80])
    assert pipe.score(X[80:], y[80:]) >= 0.9


def test_grid_search_selects_by_score():
    X = make_sines(48, 10, 1)
    grid = GridSearchCV(
        LSTMAutoencoder(epochs=15, learning_rate=0.01, batch_size=16, random_state=0),
        {"hidden_size": [1, 24]}, cv=2,
    ).fit(X)
    assert grid.best_params_ == {"hidden_size": 24}
    assert grid.best_estimator_.transform(X).shape == (48, 24)


# The detector's expected failures: the sequence-model ones above, and those of an outlier
# detector whose fit holds out part of X (see `holdout`) to set its threshold.
DETECTOR_EXPECTED_FAILURES = {
    "check_n_features_in_after_fitting": EXPECTED_FAILURES["check_n_features_in_after_fitting"],
    "check_n_features_in": EXPECTED_FAILURES["check_n_features_in"],
    "check_estimators_empty_data_messages": EXPECTED_FAILURES["check_estimators_empty_data_messages"],
    "check_dtype_object": EXPECTED_FAILURES["check_dtype_object"],
    "check_dataframe_column_names_consistency": EXPECTED_FAILURES["check_dataframe_column_names_consistency"],
    # The default threshold (k-sigma on held-out normal scores) flags nothing on clean training
    # data; these checks expect a share of the training samples flagged, as a contamination rule does.
    "check_outliers_train": "k-sigma threshold: no training sample need be flagged",
    "check_outliers_train(readonly_memmap=True)": "k-sigma threshold: no training sample need be flagged",
    "check_outliers_fit_predict": "k-sigma threshold: no training sample need be flagged",
}


@parametrize_with_checks(
    [LSTMAnomalyDetector(autoencoder=LSTMAutoencoder(hidden_size=4, epochs=2, batch_size=16), random_state=0)],
    expected_failed_checks=lambda est: DETECTOR_EXPECTED_FAILURES,
)
def test_detector_sklearn_common_checks(estimator, check):
    check(estimator)
