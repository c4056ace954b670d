"""LSTMClassifier: seeded from an autoencoder's encoder, frozen or fine-tuned, the sklearn contract, save/load."""
import numpy as np
import pytest
import torch
from sklearn.base import clone
from sklearn.model_selection import cross_val_score
from sklearn.utils.estimator_checks import parametrize_with_checks

from lstmae.training import Trainer
from lstmae import LSTMAutoencoder, LSTMClassifier, ModelFileError

# As for LSTMAutoencoder (tests/test_sklearn.py), scikit-learn's common checks feed 2-D
# tabular X, which LSTMClassifier reads as N univariate sequences of length L. Each
# expected failure and why:
EXPECTED_FAILURES = {
    # n_features_in_ is the number of features per time step F (1 for 2-D input), not
    # X.shape[1]: a 2-D X has L time steps, and any L is valid at predict time.
    "check_n_features_in_after_fitting": "n_features_in_ is F, not X.shape[1] (the sequence length)",
    "check_n_features_in": "n_features_in_ is F, not X.shape[1] (the sequence length)",
    # partial_fit with one column fewer: a 2-D X then has L - 1 time steps of the same F = 1 features, valid.
    "check_estimators_partial_fit_n_features": "columns of a 2-D X are time steps; any length is valid",
    # A 2-D X with 0 columns has 0 time steps, and the message says so rather than "0 feature(s)".
    "check_estimators_empty_data_messages": "a 2-D X with 0 columns has 0 time steps, and says so",
    # Bad values in object arrays raise ValueError (our documented contract), not TypeError.
    "check_dtype_object": "non-numeric objects raise ValueError, not TypeError",
    # It trains and predicts fine, but then expects predict(X.T) to fail because the
    # number of columns changed; columns are time steps here and any length is valid.
    "check_classifiers_train": "columns of a 2-D X are time steps; any length is valid at predict",
    "check_classifiers_train(readonly_memmap=True)": "as check_classifiers_train",
    "check_classifiers_train(readonly_memmap=True,X_dtype=float32)": "as check_classifiers_train",
}


# learning_rate=0.05: two epochs are then enough for check_class_weight_classifiers
# (extreme class weights must tip every prediction to class 0)
@parametrize_with_checks(
    [LSTMClassifier(hidden_size=4, epochs=2, batch_size=16, learning_rate=0.05, random_state=0)],
    expected_failed_checks=lambda est: EXPECTED_FAILURES,
)
def test_sklearn_common_checks(estimator, check):
    check(estimator)


# ---------------------------------------------------------------------------- data
def two_class_sines(n=120, length=20, seed=0):
    """Slow vs. fast noisy sines with random phases, (n, length, 1); labels "slow"/"fast", alternating."""
    rng = np.random.default_rng(seed)
    t = np.arange(length)
    fast = np.arange(n) % 2 == 1
    freq = np.where(fast, 0.8, 0.2)
    X = np.sin(freq[:, None] * t + rng.uniform(0, 2 * np.pi, (n, 1))) + 0.05 * rng.standard_normal((n, length))
    return X[:, :, None].astype(np.float32), np.where(fast, "fast", "slow")


CLF = dict(epochs=12, learning_rate=0.01, batch_size=16, random_state=0)


@pytest.fixture(scope="module")
def data():
    return two_class_sines()


@pytest.fixture(scope="module")
def ae(data):
    X, _ = data
    return LSTMAutoencoder(hidden_size=12, epochs=8, learning_rate=0.01, batch_size=16, random_state=0).fit(X)


def encoder_tensors(module):
    return {k: v.detach().clone() for k, v in module.encoder.state_dict().items()}


def assert_same(a, b):
    assert a.keys() == b.keys()
    for k in a:
        assert torch.equal(a[k], b[k]), k


# ---------------------------------------------------------------------------- seeding
def test_seeded_classifier_starts_from_exactly_the_encoder_weights(data, ae, monkeypatch):
    X, y = data
    seen = {}
    real = Trainer.fit

    def spy(trainer, *args, **kwargs):
        seen["start"] = encoder_tensors(trainer.model)  # the weights the training loop starts from
        return real(trainer, *args, **kwargs)

    monkeypatch.setattr(Trainer, "fit", spy)
    clf = LSTMClassifier(encoder=ae, **{**CLF, "epochs": 1}).fit(X, y)
    assert_same(seen["start"], encoder_tensors(ae.module_))
    assert clf.config_.hidden_size == 12 and clf.config_.pooled_dim == 4 * 12  # the encoder's architecture, "all"
    np.testing.assert_array_equal(clf.scaler_.offset, ae.scaler_.offset)  # and its scaler
    # the autoencoder itself is untouched by the classifier's training
    assert not any(p is q for p in clf.module_.parameters() for q in ae.module_.parameters())


def test_freeze_encoder_keeps_the_weights_fine_tuning_changes_them(data, ae):
    X, y = data
    before = encoder_tensors(ae.module_)
    frozen = LSTMClassifier(encoder=ae, freeze_encoder=True, **CLF).fit(X, y)
    assert_same(encoder_tensors(frozen.module_), before)
    tuned = LSTMClassifier(encoder=ae, **CLF).fit(X, y)
    after = encoder_tensors(tuned.module_)
    assert all(not torch.equal(after[k], before[k]) for k in before)
    assert_same(encoder_tensors(ae.module_), before)  # the autoencoder is never changed
    # the frozen encoder's codes are the autoencoder's: a linear probe of transform(X) (with the default
    # pooling "all" the first hidden_size columns are the final h, the autoencoder's code)
    np.testing.assert_allclose(
        frozen.module_.encoder.pool(torch.from_numpy(ae.scaler_.transform(X[:5]))).detach().numpy()[:, :12],
        ae.transform(X[:5]), atol=1e-6,
    )


def test_learns_two_classes_on_held_out_data_with_string_labels(data, ae):
    X, y = data
    for clf in (LSTMClassifier(hidden_size=12, **CLF), LSTMClassifier(encoder=ae, **CLF)):
        clf.fit(X[:80], y[:80])
        assert clf.score(X[80:], y[80:]) >= 0.9
        assert list(clf.classes_) == ["fast", "slow"] and clf.predict(X[:3]).dtype.kind == "U"
        proba = clf.predict_proba(X[80:])
        assert proba.shape == (40, 2) and proba.dtype == np.float64
        np.testing.assert_allclose(proba.sum(axis=1), 1.0, atol=1e-12)
        np.testing.assert_array_equal(clf.classes_[proba.argmax(axis=1)], clf.predict(X[80:]))


def test_integer_labels_and_three_classes():
    rng = np.random.default_rng(1)
    t = np.arange(16)
    k = np.arange(90) % 3
    X = np.sin(np.array([0.2, 0.6, 1.2])[k][:, None] * t + rng.uniform(0, 6.3, (90, 1)))
    y = np.array([10, 20, 30])[k]
    clf = LSTMClassifier(hidden_size=12, **{**CLF, "epochs": 20}).fit(X, y)
    assert list(clf.classes_) == [10, 20, 30] and clf.predict(X).dtype.kind == "i"
    assert clf.score(X, y) >= 0.9


def test_variable_length_input(data, ae):
    X, y = data
    seqs = [X[i, : 12 + i % 9] for i in range(len(X))]  # lengths 12..20
    clf = LSTMClassifier(encoder=ae, **CLF).fit(seqs[:80], y[:80])
    assert clf.score(seqs[80:], y[80:]) >= 0.9
    proba = clf.predict_proba(seqs[80:90])
    for i, s in enumerate(seqs[80:90]):
        np.testing.assert_allclose(clf.predict_proba([s])[0], proba[i], atol=1e-5)


def test_pooling_comes_from_the_encoder_unless_given(data):
    X, y = data
    ae = LSTMAutoencoder(hidden_size=6, num_layers=2, pooling="last_hc", epochs=1, random_state=0).fit(X)
    assert LSTMClassifier(encoder=ae, pooling=None, epochs=1).fit(X, y).module_.head.in_features == 2 * 2 * 6
    assert LSTMClassifier(encoder=ae, pooling="mean", epochs=1).fit(X, y).module_.head.in_features == 6
    # the default, "all": last_hc (2 layers), mean and max
    assert LSTMClassifier(encoder=ae, epochs=1).fit(X, y).module_.head.in_features == (2 * 2 + 2) * 6
    assert LSTMClassifier(hidden_size=5, epochs=1).fit(X, y).module_.head.in_features == 4 * 5


# ---------------------------------------------------------------------------- training options
def test_random_state_determinism_and_clone_keeps_the_encoder(data, ae):
    X, y = data
    a = LSTMClassifier(encoder=ae, **CLF).fit(X[:60], y[:60])
    b = clone(a).fit(X[:60], y[:60])
    assert b.encoder is ae  # a clone of a fitted autoencoder would be unfitted: passed on as is
    np.testing.assert_array_equal(a.predict_proba(X), b.predict_proba(X))
    scores = cross_val_score(LSTMClassifier(encoder=ae, freeze_encoder=True, **{**CLF, "epochs": 3}), X, y, cv=2)
    assert scores.shape == (2,)


def test_early_stopping_on_validation_accuracy(data):
    X, y = data
    clf = LSTMClassifier(hidden_size=8, validation_split=0.25, patience=3, **{**CLF, "epochs": 40}).fit(X, y)
    h = clf.history_
    acc = h["val_accuracy"]
    assert len(acc) == len(h["val_loss"]) == len(h["train_loss"])
    assert h["best_epoch"] == int(np.argmax(acc))  # the first epoch with the best accuracy
    assert h["restored_best"] and (h["stopped_early"] or len(acc) == 40)
    # the restored weights are the best epoch's: the same validation accuracy again
    _, val_idx = clf._split(np.unique(y, return_inverse=True)[1], 0)
    assert clf.score(X[val_idx], y[val_idx]) == pytest.approx(max(acc))
    assert sorted(set(y[val_idx])) == ["fast", "slow"] and len(val_idx) == 30  # stratified random split


def test_class_weight_balanced_and_dict():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((40, 5, 1))
    y = np.array([0] * 30 + [1] * 10)
    clf = LSTMClassifier(hidden_size=4, epochs=1, class_weight="balanced", random_state=0).fit(X, y)
    torch.testing.assert_close(clf.module_.class_weight, torch.tensor([40 / 60, 40 / 20]))
    clf = LSTMClassifier(hidden_size=4, epochs=6, learning_rate=0.05, class_weight={1: 1000.0, 0: 1e-4},
                         random_state=0).fit(X, y)
    assert (clf.predict(X) == 1).mean() > 0.9  # the heavy class wins
    with pytest.raises(ValueError, match=r"class_weight has labels \[2\] that are not in y"):
        LSTMClassifier(epochs=1, class_weight={2: 1.0}).fit(X, y)
    with pytest.raises(ValueError, match="class_weight='heavy' is not valid"):
        LSTMClassifier(epochs=1, class_weight="heavy").fit(X, y)


# ---------------------------------------------------------------------------- save / load
def test_save_load_identical_predictions(data, ae, tmp_path):
    X, y = data
    ae.save(tmp_path / "ae")
    clf = LSTMClassifier(encoder=tmp_path / "ae", class_weight={"fast": 2.0}, **CLF).fit(X[:80], y[:80])
    clf.save(tmp_path / "clf")
    loaded = LSTMClassifier.load(tmp_path / "clf")
    np.testing.assert_array_equal(loaded.predict_proba(X[80:]), clf.predict_proba(X[80:]))
    np.testing.assert_array_equal(loaded.predict(X[80:]), clf.predict(X[80:]))
    assert loaded.classes_.tolist() == ["fast", "slow"] and loaded.classes_.dtype == clf.classes_.dtype
    assert loaded.class_weight == {"fast": 2.0} and loaded.encoder == str(tmp_path / "ae")
    assert loaded.history_ == clf.history_ and loaded.config_ == clf.config_
    import json

    assert json.loads((tmp_path / "clf" / "config.json").read_text())["estimator"] == "LSTMClassifier"
    with pytest.raises(ModelFileError, match="holds a 'LSTMClassifier' model; load it with lstmae.LSTMClassifier"):
        LSTMAutoencoder.load(tmp_path / "clf")
    with pytest.raises(ModelFileError, match="holds a 'LSTMAutoencoder' model"):
        LSTMClassifier.load(tmp_path / "ae")
    # integer and boolean labels keep their type
    yi = (y == "fast").astype(np.int64) * 7
    clf = LSTMClassifier(hidden_size=4, epochs=1, random_state=0).fit(X[:20], yi[:20])
    clf.save(tmp_path / "int")
    assert LSTMClassifier.load(tmp_path / "int").predict(X[:5]).dtype == np.int64


# ---------------------------------------------------------------------------- errors
def test_clear_errors(data, ae):
    X, y = data
    with pytest.raises(ValueError, match="y has 119 labels but X has 120 sequences"):
        LSTMClassifier(epochs=1).fit(X, y[:-1])
    with pytest.raises(ValueError, match="requires y to be passed"):
        LSTMClassifier(epochs=1).fit(X, None)
    with pytest.raises(ValueError, match="y has only one class"):
        LSTMClassifier(epochs=1).fit(X, np.zeros(len(X)))
    with pytest.raises(ValueError, match="Unknown label type"):
        LSTMClassifier(epochs=1).fit(X, np.linspace(0, 1, len(X)))
    with pytest.raises(ValueError, match="X has 2 features, but the encoder was fitted with 1"):
        LSTMClassifier(encoder=ae, epochs=1).fit(np.repeat(X, 2, axis=2), y)
    with pytest.raises(ValueError, match="encoder is an LSTMAutoencoder that is not fitted"):
        LSTMClassifier(encoder=LSTMAutoencoder(), epochs=1).fit(X, y)
    with pytest.raises(ValueError, match="encoder=42 is not valid"):
        LSTMClassifier(encoder=42, epochs=1).fit(X, y)
    with pytest.raises(ModelFileError, match="does not exist"):
        LSTMClassifier(encoder="no/such/model", epochs=1).fit(X, y)
    with pytest.raises(ValueError, match="freeze_encoder='yes' is not valid"):
        LSTMClassifier(freeze_encoder="yes", epochs=1).fit(X, y)
    clf = LSTMClassifier(hidden_size=4, epochs=1, random_state=0).fit(X, y)
    with pytest.raises(ValueError, match=r"y has labels \['medium'\] that the classifier did not see in fit"):
        clf.score(X[:3], ["fast", "medium", "slow"])
    with pytest.raises(ValueError, match="y has 2 labels but X has 3 sequences"):
        clf.score(X[:3], ["fast", "slow"])
    with pytest.raises(ValueError, match="X has 3 features, but the model was fitted with 1"):
        clf.predict(np.zeros((2, 5, 3)))


# ---------------------------------------------------------------------------- LP-FT (issue 12)
def _codes(ae, X, pooling):
    with torch.no_grad():
        return ae.module_.encoder.eval().pool(torch.from_numpy(ae.scaler_.transform(X)), None, pooling).numpy()


def _probe(ae, X_train, y_train, X_test, pooling="all"):
    """The benchmark's linear probe: StandardScaler + LogisticRegression (C=1) on the codes."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=5000)).fit(_codes(ae, X_train, pooling),
                                                                                   y_train)
    return model.predict(_codes(ae, X_test, pooling)), model


def labelled_sines(n, seed, n_classes):
    """`two_class_sines`, or with n_classes=3 the same sequences labelled a, b, c in turn."""
    X, y = two_class_sines(n, seed=seed)
    return X, (y if n_classes == 2 else np.array(["a", "b", "c"])[np.arange(n) % 3])


def when_training_starts(monkeypatch, look):
    """Call look(trainer, train) as the training loop starts: the classifier it starts from."""
    real = Trainer.fit

    def spy(trainer, train, *args, **kwargs):
        look(trainer, train)
        return real(trainer, train, *args, **kwargs)

    monkeypatch.setattr(Trainer, "fit", spy)


@pytest.mark.parametrize("n_classes", [2, 3])
def test_lp_ft_starts_as_the_linear_probe_of_the_codes(ae, n_classes, monkeypatch):
    X, y = labelled_sines(90, 3, n_classes)
    seen = {}

    def look(trainer, train):
        seen["logits"] = trainer.model({"x": torch.from_numpy(ae.scaler_.transform(X[60:]))})[0]["logits"]
        seen["lrs"] = [g["lr"] for g in trainer.optimizer.param_groups]
        seen["groups"] = [len(g["params"]) for g in trainer.optimizer.param_groups]
        seen["penalty"] = trainer.model.head_penalty

    when_training_starts(monkeypatch, look)
    clf = LSTMClassifier(encoder=ae, **{**CLF, "epochs": 1}).fit(X[:60], y[:60])
    pred, model = _probe(ae, X[:60], y[:60], X[60:])
    start = clf.classes_[seen["logits"].argmax(dim=1).numpy()]
    np.testing.assert_array_equal(start, pred)  # LP: exactly the probe's predictions
    proba = torch.softmax(seen["logits"].double(), dim=1).detach().numpy()
    # float32 weights (the standardisation folded in) against float64 scikit-learn
    np.testing.assert_allclose(proba, model.predict_proba(_codes(ae, X[60:], "all")), atol=1e-3)
    # FT: the encoder's parameters (4 of the LSTM) at 0.01 x the learning rate, the head's (2) at it
    assert seen["lrs"] == [pytest.approx(0.0001), pytest.approx(0.01)] and seen["groups"] == [4, 2]
    assert seen["penalty"] is not None and seen["penalty"].shape == (n_classes, 4 * 12)
    assert "epochs_before" not in clf.history_


def test_lp_ft_never_below_its_probe_and_joint_is_the_old_recipe(ae):
    X, y = two_class_sines(160, seed=5)
    X_tr, y_tr, X_te, y_te = X[:40], y[:40], X[40:], y[40:]
    for pooling in ("all", "last"):
        probe_acc = float((_probe(ae, X_tr, y_tr, X_te, pooling)[0] == y_te).mean())
        lpft = LSTMClassifier(encoder=ae, pooling=pooling, **CLF).fit(X_tr, y_tr)
        assert lpft.score(X_te, y_te) >= probe_acc - 0.01
    joint = LSTMClassifier(encoder=ae, fine_tuning="joint", **CLF).fit(X_tr, y_tr)
    assert not np.array_equal(joint.predict_proba(X_te), lpft.predict_proba(X_te))
    assert len(joint.optimizer_state_["param_groups"]) == 1
    # a frozen encoder with LP-FT: the head starts from the probe and only the head trains
    frozen = LSTMClassifier(encoder=ae, freeze_encoder=True, **CLF).fit(X_tr, y_tr)
    assert len(frozen.optimizer_state_["param_groups"]) == 1
    assert_same(encoder_tensors(frozen.module_), encoder_tensors(ae.module_))


def test_lp_ft_continues_with_its_parameter_groups_and_saves_its_settings(data, ae, tmp_path):
    X, y = data
    clf = LSTMClassifier(encoder=ae, encoder_lr_scale=0.5, warm_start=True, **{**CLF, "epochs": 2}).fit(X, y)
    with __import__("warnings").catch_warnings():
        __import__("warnings").simplefilter("error")  # the fitted Adam state fits: no "starts afresh" warning
        clf.fit(X, y)
    assert clf.history_["epochs_before"] == 2
    groups = clf.optimizer_state_["param_groups"]
    assert [g["lr"] for g in groups] == [pytest.approx(0.005), pytest.approx(0.01)]
    clf.save(tmp_path / "clf")
    loaded = LSTMClassifier.load(tmp_path / "clf")
    assert loaded.fine_tuning == "lp-ft" and loaded.encoder_lr_scale == 0.5
    np.testing.assert_array_equal(loaded.predict_proba(X), clf.predict_proba(X))


def test_lp_ft_clear_errors(data, ae):
    X, y = data
    with pytest.raises(ValueError, match=r"fine_tuning='lpft' is not valid"):
        LSTMClassifier(encoder=ae, fine_tuning="lpft", epochs=1).fit(X, y)
    for bad in (0, 1.5, "0.1", None):
        with pytest.raises(ValueError, match=rf"encoder_lr_scale={bad!r} is not valid; it must be a number > 0.0 "
                                             r"and <= 1.0"):
            LSTMClassifier(encoder=ae, encoder_lr_scale=bad, epochs=1).fit(X, y)


@pytest.mark.parametrize("n_classes", [2, 3])
def test_lp_ft_fine_tunes_the_probes_objective(ae, n_classes, monkeypatch):
    # the probe minimises cross-entropy + its L2 penalty; the head starts at that minimum, so with the
    # encoder fixed the gradient of the training loss on the head is ~0 (with a wrong penalty it is not)
    X, y = labelled_sines(60, 4, n_classes)
    seen = {}

    def look(trainer, train):
        model = trainer.model.train()
        _, loss = model(train)
        model.zero_grad()
        loss.backward()
        seen["grad"] = model.head.weight.grad.abs().max().item()
        model.head_penalty = None
        model.zero_grad()
        model(train)[1].backward()
        seen["grad_without_penalty"] = model.head.weight.grad.abs().max().item()

    when_training_starts(monkeypatch, look)
    LSTMClassifier(encoder=ae, freeze_encoder=True, **{**CLF, "epochs": 1}).fit(X, y)
    assert seen["grad"] < 0.02 * seen["grad_without_penalty"]
