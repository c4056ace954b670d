"""LP-FT with one labelled sequence per class keeps its linear probe (issue 12, target 2)."""
import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.preprocessing import StandardScaler

from lstmae import LSTMAutoencoder, LSTMClassifier
from lstmae.classifier import MIN_FINE_TUNE_PER_CLASS
from lstmae.frames import describe


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(0)
    t = np.arange(40)
    X = np.stack([np.sin(t * (0.2 + 0.1 * (i % 3)) + rng.uniform(0, 6)) for i in range(60)])[..., None]
    y = np.arange(60) % 3
    ae = LSTMAutoencoder(hidden_size=8, epochs=5, pooling="all", random_state=0, verbose=False).fit(X.astype(np.float32))
    return X.astype(np.float32), y, ae


def test_one_label_per_class_keeps_the_probe(data, tmp_path):
    X, y, ae = data
    assert MIN_FINE_TUNE_PER_CLASS == 2
    clf = LSTMClassifier(encoder=ae, epochs=20, patience=3, random_state=0, verbose=False).fit(X[:3], y[:3])
    assert clf.history_["fine_tuned"] is False and clf.history_["train_loss"] == []
    codes = ae.transform(X)  # the probe: scikit-learn's logistic regression on the standardised codes
    scaler = StandardScaler().fit(codes[:3])
    probe = LogisticRegression(C=1.0, max_iter=1000).fit(scaler.transform(codes[:3]), y[:3])
    np.testing.assert_array_equal(clf.predict(X), probe.predict(scaler.transform(codes)))
    clf.save(tmp_path / "c")
    loaded = LSTMClassifier.load(tmp_path / "c")
    np.testing.assert_array_equal(loaded.predict(X), clf.predict(X))
    rows = dict(describe(loaded).itertuples(index=False))
    assert rows["epochs trained"] == "0" and rows["fine-tuned"].startswith("no: the linear probe")


def test_two_labels_per_class_fine_tune_and_joint_always_trains(data):
    X, y, ae = data
    clf = LSTMClassifier(encoder=ae, epochs=4, random_state=0, verbose=False).fit(X[:6], y[:6])
    assert clf.history_["fine_tuned"] is True and len(clf.history_["train_loss"]) == 4
    joint = LSTMClassifier(encoder=ae, epochs=4, fine_tuning="joint", random_state=0, verbose=False).fit(X[:3], y[:3])
    assert "fine_tuned" not in joint.history_ and len(joint.history_["train_loss"]) == 4
    scratch = LSTMClassifier(epochs=3, random_state=0, verbose=False).fit(X[:3], y[:3])  # nothing to keep
    assert len(scratch.history_["train_loss"]) == 3
