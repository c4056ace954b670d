"""LSTMAutoencoder: every model option learns, variable lengths, determinism, save/load."""
import itertools

import numpy as np
import pytest
import torch

from conftest import FAST, make_sines
from lstmae import LSTMAutoencoder

HORIZON = 3
COMBOS = [
    c for c in itertools.product(["reconstruct", "predict", "composite"], ["repeat", "state"], [False, True],
                                 [False, True], ["tanh", "relu"])
    if not (c[0] == "predict" and c[3])  # reverse only applies to a reconstruction decoder
]


@pytest.mark.slow
@pytest.mark.parametrize("task,bridge,conditional,reverse,activation", COMBOS)
def test_every_option_combination_beats_the_mean_baseline(task, bridge, conditional, reverse, activation):
    X, X_test = make_sines(96, 12, 2, seed=0), make_sines(64, 12, 2, seed=1)
    ae = LSTMAutoencoder(task=task, horizon=HORIZON, bridge=bridge, conditional=conditional, reverse=reverse,
                         activation=activation, hidden_size=32, epochs=30, batch_size=16, learning_rate=0.01,
                         random_state=0).fit(X)
    mean = X.mean(axis=(0, 1))
    inputs, future = X_test[:, :-HORIZON], X_test[:, -HORIZON:]
    if task != "predict":
        # composite with y=None trained its reconstruction on the first L - horizon steps
        target = X_test if task == "reconstruct" else inputs
        rec = ae.reconstruct(target)
        assert rec.shape == target.shape
        ratio = ((rec - target) ** 2).mean() / ((target - mean) ** 2).mean()
        assert ratio < 0.5, f"reconstruction MSE is {ratio:.2f} x the mean baseline's"
    if task != "reconstruct":
        fut = ae.predict(inputs)
        assert fut.shape == future.shape
        ratio = ((fut - future) ** 2).mean() / ((future - mean) ** 2).mean()
        assert ratio < 0.5, f"forecast MSE is {ratio:.2f} x the mean baseline's"


def test_transform_shapes_with_bottleneck_and_bidirectional(sines):
    assert LSTMAutoencoder(**FAST).fit(sines).transform(sines).shape == (64, 8)
    assert LSTMAutoencoder(**FAST, bidirectional=True).fit(sines).transform(sines).shape == (64, 16)
    ae = LSTMAutoencoder(**FAST, bidirectional=True, code_size=3, num_layers=2, bridge="state").fit(sines)
    codes = ae.transform(sines)
    assert codes.shape == (64, 3) and codes.dtype == np.float32
    assert list(ae.get_feature_names_out()) == ["lstmautoencoder0", "lstmautoencoder1", "lstmautoencoder2"]


def test_univariate_2d_input_gives_2d_output(sines):
    X2 = sines[:, :, 0]
    ae = LSTMAutoencoder(**FAST).fit(X2)
    assert ae.n_features_in_ == 1
    assert ae.reconstruct(X2).shape == X2.shape
    ae = LSTMAutoencoder(**FAST, task="predict", horizon=4).fit(X2)
    assert ae.predict(X2).shape == (64, 4)


def test_variable_length_outputs_have_the_input_lengths_and_match_single_runs():
    rng = np.random.default_rng(0)
    seqs = [rng.standard_normal((n, 2)).astype(np.float32) for n in [5, 12, 3, 8, 12, 1]]
    ae = LSTMAutoencoder(**FAST, reverse=True, conditional=True, task="composite", horizon=1).fit(seqs[:5] + [seqs[1]])
    rec = ae.reconstruct(seqs)
    assert isinstance(rec, list) and [r.shape for r in rec] == [s.shape for s in seqs]
    codes = ae.transform(seqs)
    for i, s in enumerate(seqs):  # the padded batch gives the same codes and outputs as each alone
        np.testing.assert_allclose(codes[i], ae.transform(s[None])[0], atol=1e-5)
        np.testing.assert_allclose(rec[i], ae.reconstruct(s[None])[0], atol=1e-5)
    assert ae.predict(seqs).shape == (6, 1, 2)


def test_dataframe_with_multiindex_is_a_set_of_sequences():
    pd = pytest.importorskip("pandas")
    rng = np.random.default_rng(1)
    frames = []
    for sid, n in [("a", 4), ("b", 7)]:
        idx = pd.MultiIndex.from_product([[sid], range(n)], names=["id", "t"])
        frames.append(pd.DataFrame(rng.standard_normal((n, 2)), index=idx, columns=["u", "v"]))
    df = pd.concat(frames)
    ae = LSTMAutoencoder(**FAST).fit(df)
    rec = ae.reconstruct(df)
    assert [r.shape for r in rec] == [(4, 2), (7, 2)]
    np.testing.assert_allclose(ae.transform(df)[1], ae.transform(df.loc["b"].to_numpy()[None])[0], atol=1e-5)


def test_scaling_is_learned_stored_and_undone():
    X = make_sines(64, 10, 2) * np.array([100.0, 0.01], dtype=np.float32) + np.array([1000.0, -5.0], dtype=np.float32)
    ae = LSTMAutoencoder(hidden_size=32, epochs=40, learning_rate=0.01, batch_size=16, random_state=0).fit(X)
    np.testing.assert_allclose(ae.scaler_.offset, X.reshape(-1, 2).mean(0), rtol=1e-5)
    rec = ae.reconstruct(X)
    # errors come back in the data's own units, per feature
    err = np.abs(rec - X).mean(axis=(0, 1)) / X.std(axis=(0, 1))
    assert np.all(err < 0.5), err
    assert abs(rec[..., 0].mean() - 1000) < 20


def test_minmax_scale_with_bce_loss_for_data_in_unit_interval():
    X = (make_sines(48, 8, 3) + 1.2) / 2.4
    ae = LSTMAutoencoder(hidden_size=32, epochs=60, batch_size=16, learning_rate=0.01, loss="bce", scale="minmax",
                         random_state=0).fit(X)
    rec = ae.reconstruct(X)
    assert rec.min() >= 0.0 and rec.max() <= 1.0  # sigmoid outputs
    assert np.abs(rec - X).mean() < 0.5 * np.abs(X - X.mean()).mean()


@pytest.mark.parametrize("loss", ["mae", "huber"])
def test_other_losses_train(loss, sines):
    ae = LSTMAutoencoder(hidden_size=32, epochs=30, batch_size=16, learning_rate=0.01, loss=loss,
                         random_state=0).fit(sines)
    assert ae.history_["train_loss"][-1] < 0.4 * ae.history_["train_loss"][0]


def test_same_seed_same_history_and_weights_and_global_rng_untouched(sines):
    torch.manual_seed(123)
    before = torch.rand(1)
    torch.manual_seed(123)
    params = dict(hidden_size=8, epochs=3, dropout=0.2, num_layers=2, batch_size=16, validation_split=0.25)
    a = LSTMAutoencoder(**params, random_state=7).fit(sines)
    assert torch.rand(1) == before, "fit must not consume the global torch RNG"
    b = LSTMAutoencoder(**params, random_state=7).fit(sines)
    c = LSTMAutoencoder(**params, random_state=8).fit(sines)
    assert a.history_["train_loss"] == b.history_["train_loss"]
    assert a.history_["val_loss"] == b.history_["val_loss"]
    for (k, va), vb in zip(a.module_.state_dict().items(), b.module_.state_dict().values()):
        assert torch.equal(va, vb), k
    assert a.history_["train_loss"] != c.history_["train_loss"]


def test_history_validation_and_early_stopping_restore_best(sines):
    ae = LSTMAutoencoder(hidden_size=8, epochs=200, learning_rate=0.05, validation_split=0.25, patience=3,
                         random_state=0).fit(sines)
    h = ae.history_
    n = len(h["train_loss"])
    assert len(h["val_loss"]) == len(h["epoch_time"]) == n
    assert h["stopped_early"] and n < 200
    assert h["best_epoch"] == int(np.argmin(h["val_loss"])) == n - 4
    assert h["restored_best"]
    # the restored weights are the best epoch's: their validation score is the best validation loss
    assert ae.score(sines[48:]) == pytest.approx(-min(h["val_loss"]), rel=1e-5)


def test_score_is_negative_loss_and_ranks_models(sines):
    good = LSTMAutoencoder(hidden_size=32, epochs=30, learning_rate=0.01, random_state=0).fit(sines)
    bad = LSTMAutoencoder(hidden_size=2, epochs=1, random_state=0).fit(sines)
    assert good.score(sines) < 0 and good.score(sines) > bad.score(sines)
    assert good.score(sines) == pytest.approx(-(((good.reconstruct(sines) - sines) / good.scaler_.scale) ** 2).mean(), rel=1e-4)


def test_predict_with_explicit_targets(sines):
    X, y = sines[:, :8], sines[:, 8:]
    ae = LSTMAutoencoder(task="predict", horizon=4, hidden_size=32, epochs=30, learning_rate=0.01, random_state=0).fit(X, y)
    assert ae.predict(X).shape == (64, 4, 2)
    assert ae.score(X, y) > -0.5


def test_divergence_stops_with_a_clear_warning_and_keeps_best_weights(sines, monkeypatch):
    import lstmae.training as training

    real_evaluate = training.mean_loss
    calls = {"n": 0}

    def flaky(*args, **kwargs):
        calls["n"] += 1
        return float("nan") if calls["n"] == 3 else real_evaluate(*args, **kwargs)

    monkeypatch.setattr(training, "mean_loss", flaky)
    with pytest.warns(RuntimeWarning, match="diverged.*epoch 3"):
        ae = LSTMAutoencoder(**{**FAST, "epochs": 10}, validation_split=0.25).fit(sines)
    assert ae.history_["diverged"] == 2 and len(ae.history_["train_loss"]) == 3
    assert ae.history_["restored_best"] and ae.history_["best_epoch"] in (0, 1)
    assert np.isfinite(ae.transform(sines)).all()


def test_reconstruction_errors_point_at_the_corrupted_feature_and_step(sines):
    ae = LSTMAutoencoder(hidden_size=32, epochs=30, batch_size=16, learning_rate=0.01, random_state=0).fit(sines)
    bad = sines[:4].copy()
    bad[:, 6, 1] += 4.0
    errors = ae.reconstruction_errors(bad)
    assert errors.shape == bad.shape
    for e in errors:
        assert np.unravel_index(np.argmax(e), e.shape) == (6, 1)
    clean = ae.reconstruction_errors([sines[0], sines[1, :5]])
    assert [c.shape for c in clean] == [(12, 2), (5, 2)]
    assert errors[:, 6, 1].min() > 10 * clean[0].mean()
