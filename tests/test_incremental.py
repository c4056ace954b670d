"""Incremental fits: partial_fit, warm_start and `lstmae train --init-from` continue, they do not restart."""
import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from conftest import make_sines, weights
from lstmae import LSTMAutoencoder, LSTMClassifier
from lstmae.cli import app
from lstmae.frames import describe
from lstmae.serialization import load_model

pytestmark = pytest.mark.usefixtures("one_thread")
runner = CliRunner()
X = make_sines(64, 10, 2)
P = dict(hidden_size=8, batch_size=16, learning_rate=0.01, random_state=0, verbose=False)


def steps(est):
    return int(est.optimizer_state_["state"][0]["step"])


def test_warm_start_continues_weights_scaler_and_optimiser():
    fresh_first_loss = LSTMAutoencoder(**P, epochs=1).fit(X).history_["train_loss"][0]
    ae = LSTMAutoencoder(**P, epochs=10, warm_start=True).fit(X)
    first = ae.history_["train_loss"]
    scaler = ae.scaler_.to_dict()
    assert steps(ae) == 10 * 4  # 64 samples in batches of 16
    ae.set_params(epochs=2).fit(X)
    second = ae.history_["train_loss"]
    # the second fit starts where the first ended, not where a fresh model starts
    assert abs(second[0] - first[-1]) < 0.25 * (fresh_first_loss - first[-1])
    assert steps(ae) == 12 * 4  # Adam's step count (and moments) went on
    assert ae.history_["epochs_before"] == 10 and len(second) == 2
    ae.fit(X + 0.5)  # shifted data: a refit scaler would move; a continued one stays
    assert ae.scaler_.to_dict() == scaler and ae.history_["epochs_before"] == 12


def test_without_warm_start_a_second_fit_restarts():
    ae = LSTMAutoencoder(**P, epochs=3)
    a = weights(ae.fit(X))
    b = weights(ae.fit(X))
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert steps(ae) == 3 * 4 and "epochs_before" not in ae.history_


def test_partial_fit_starts_like_fit_then_makes_one_pass_each_call():
    ae = LSTMAutoencoder(**P, epochs=50, validation_split=0.25, patience=2)
    ae.partial_fit(X)  # unfitted: one epoch on all of X, like fit with epochs=1 and no validation
    ref = LSTMAutoencoder(**P, epochs=1).fit(X)
    assert all(torch.equal(v, weights(ref)[k]) for k, v in weights(ae).items())
    assert ae.get_params()["epochs"] == 50 and ae.validation_split == 0.25 and not ae.warm_start  # restored
    losses = [ae.history_["train_loss"][0]]
    for i in range(5):
        ae.partial_fit(X)
        losses.append(ae.history_["train_loss"][0])
        assert ae.history_["epochs_before"] == i + 1 and len(ae.history_["train_loss"]) == 1
    assert steps(ae) == 6 * 4
    assert losses[-1] < losses[0]
    # six passes of partial_fit are six epochs of one fit (same batches, same optimiser)
    six = LSTMAutoencoder(**P, epochs=6).fit(X)
    assert ae.history_["train_loss"][0] == pytest.approx(six.history_["train_loss"][-1], rel=0.05)


def test_continued_fits_refuse_other_features_or_architectures():
    ae = LSTMAutoencoder(**P, epochs=1, warm_start=True).fit(X)
    with pytest.raises(ValueError, match="X has 3 features, but this LSTMAutoencoder was fitted with 2"):
        ae.partial_fit(make_sines(16, 10, 3))
    with pytest.raises(ValueError, match="warm_start: the fitted weights do not fit the model"):
        ae.set_params(hidden_size=9).fit(X)
    with pytest.raises(ValueError, match="warm_start=1 is not valid"):
        LSTMAutoencoder(warm_start=1).fit(X)


def test_a_new_learning_rate_applies_to_the_continued_optimiser():
    ae = LSTMAutoencoder(**P, epochs=1, warm_start=True).fit(X)
    ae.set_params(learning_rate=1e-9).fit(X)
    assert ae.optimizer_state_["param_groups"][0]["lr"] == 1e-9


def test_a_loaded_model_continues_with_a_fresh_optimiser(tmp_path):
    ae = LSTMAutoencoder(**P, epochs=8).fit(X)
    ae.save(tmp_path / "m")
    loaded = LSTMAutoencoder.load(tmp_path / "m")
    assert not hasattr(loaded, "optimizer_state_")  # model directories hold no optimiser state
    loaded.partial_fit(X)
    assert steps(loaded) == 4 and loaded.history_["epochs_before"] == 8
    assert loaded.history_["train_loss"][0] < LSTMAutoencoder(**P, epochs=1).fit(X).history_["train_loss"][0]


def test_classifier_partial_fit_and_warm_start():
    y = np.where(np.arange(64) % 2 == 0, "slow", "fast")
    clf = LSTMClassifier(**P, epochs=5)
    clf.partial_fit(X[:16], np.array(["slow"] * 16), classes=["fast", "slow"])  # one class in the first part
    assert clf.classes_.tolist() == ["fast", "slow"]
    clf.partial_fit(X, y)
    assert clf.history_["epochs_before"] == 1 and steps(clf) == 1 + 4
    with pytest.raises(ValueError, match=r"labels \['medium'\] that are not among the classes"):
        clf.partial_fit(X[:4], np.array(["medium"] * 4))
    with pytest.raises(ValueError, match="differ from the classes of the first partial_fit"):
        clf.partial_fit(X[:4], y[:4], classes=["a", "b"])
    clf.set_params(warm_start=True).fit(X, y)
    assert clf.history_["epochs_before"] == 2 and steps(clf) == 5 + 5 * 4


# ------------------------------------------------------------------------------ the command line
@pytest.fixture(scope="module")
def series_csv(tmp_path_factory):
    t = np.arange(300)
    path = tmp_path_factory.mktemp("inc") / "series.csv"
    np.savetxt(path, np.c_[np.sin(t / 5), np.cos(t / 7)], delimiter=",", header="a,b", comments="")
    return path


def test_cli_init_from_continues_a_saved_model(series_csv, tmp_path):
    common = ["--hidden-size", "8", "--batch-size", "16", "--learning-rate", "0.01", "--seed", "0", "--quiet"]
    r = runner.invoke(app, ["train", str(series_csv), "--window", "10", "--epochs", "6", *common,
                            "-o", str(tmp_path / "first")])
    assert r.exit_code == 0, r.output
    first = load_model(tmp_path / "first").history_
    # the window, the architecture and the scaler come from the model; a fresh optimiser
    r = runner.invoke(app, ["train", str(series_csv), "--init-from", str(tmp_path / "first"), "--epochs", "2",
                            "--batch-size", "16", "--learning-rate", "0.01", "--quiet", "-o", str(tmp_path / "next")])
    assert r.exit_code == 0, r.output
    nxt = load_model(tmp_path / "next")
    assert nxt.history_["epochs_before"] == 6 and len(nxt.history_["train_loss"]) == 2
    assert nxt.data_spec_.window == 10 and nxt.hidden_size == 8
    fresh = runner.invoke(app, ["train", str(series_csv), "--window", "10", "--epochs", "1", *common,
                                "-o", str(tmp_path / "fresh")])
    assert fresh.exit_code == 0, fresh.output
    fresh_loss = load_model(tmp_path / "fresh").history_["train_loss"][0]
    assert abs(nxt.history_["train_loss"][0] - first["train_loss"][-1]) < 0.25 * (fresh_loss - first["train_loss"][-1])
    assert dict(describe(nxt).itertuples(index=False))["continued after"] == "6 earlier epochs"
    # another architecture is refused, with the reason
    r = runner.invoke(app, ["train", str(series_csv), "--init-from", str(tmp_path / "first"), "--hidden-size", "5",
                            "--quiet", "-o", str(tmp_path / "bad")])
    assert r.exit_code == 2 and "--hidden-size 5" in r.output and "keeps the saved architecture" in r.output
    r = runner.invoke(app, ["train", str(series_csv), "--init-from", str(tmp_path / "first"), "--detector",
                            "--quiet", "-o", str(tmp_path / "bad")])
    assert r.exit_code == 2 and "cannot be combined with --detector" in r.output
