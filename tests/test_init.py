"""Keras's LSTM initialisation (issue 12): Glorot-uniform input weights, orthogonal recurrent
weights, forget-gate bias 1 (in ``bias_ih`` only) for every LSTM; relu models also get Keras's
output layers and a clipped cell."""
import json
import math

import numpy as np
import pytest
import torch

from lstmae import LSTMAutoencoder, LSTMClassifier
from lstmae.cells import LoopLSTM
from lstmae.frames import describe
from lstmae.modules import init_lstm_, make_lstm


def _check_keras_init(lstm, input_size, hidden):
    seen = set()
    for name, p in lstm.named_parameters():
        kind = name.rsplit("_l", 1)[0]
        seen.add(kind)
        if kind == "weight_ih":
            fan_in = p.shape[1]
            assert p.shape[0] == 4 * hidden and fan_in in (input_size, hidden, 2 * hidden)
            assert p.abs().max() <= math.sqrt(6.0 / (fan_in + 4 * hidden)) + 1e-7
            assert p.std() > 0.3 * math.sqrt(2.0 / (fan_in + 4 * hidden))  # uniform over the range, not tiny
        elif kind == "weight_hh":
            torch.testing.assert_close(p.t() @ p, torch.eye(hidden), atol=1e-5, rtol=0)  # orthonormal columns
        elif kind == "bias_ih":
            expected = torch.zeros(4 * hidden)
            expected[hidden : 2 * hidden] = 1.0  # gates i, f, g, o: the forget gate
            assert torch.equal(p.detach(), expected)
        else:
            assert kind == "bias_hh" and torch.equal(p.detach(), torch.zeros(4 * hidden))
    assert seen == {"weight_ih", "weight_hh", "bias_ih", "bias_hh"}


@pytest.mark.parametrize("num_layers,bidirectional", [(1, False), (2, True)])
def test_make_lstm_uses_keras_initialisation_for_tanh_and_relu(num_layers, bidirectional):
    torch.manual_seed(0)
    lstm = make_lstm(3, 16, num_layers, bidirectional, 0.0, "tanh")
    assert isinstance(lstm, torch.nn.LSTM)
    _check_keras_init(lstm, 3, 16)
    relu = make_lstm(3, 16, num_layers, bidirectional, 0.0, "relu", cell_clip=1.0)
    assert isinstance(relu, LoopLSTM) and relu.cell_clip == 1.0
    _check_keras_init(relu, 3, 16)
    with pytest.raises(ValueError, match="cell_clip applies to relu LSTMs only"):
        make_lstm(3, 16, num_layers, bidirectional, 0.0, "tanh", cell_clip=1.0)


def test_relu_models_get_keras_output_layers_and_a_clipped_cell_tanh_models_pytorchs_layers():
    torch.manual_seed(0)
    relu = LSTMAutoencoder(hidden_size=16, activation="relu", code_size=4).unfitted_module(3)
    assert relu.cfg.cell_clip == 1.0
    assert [m.cell_clip for m in relu.modules() if isinstance(m, LoopLSTM)] == [1.0, 1.0]
    for layer in (relu.encoder.bottleneck, relu.reconstructor.head):  # Keras's Dense: Glorot-uniform, zero bias
        bound = math.sqrt(6.0 / (layer.in_features + layer.out_features))
        assert layer.weight.abs().max() <= bound and layer.weight.abs().max() > 0.8 * bound
        assert torch.equal(layer.bias.detach(), torch.zeros_like(layer.bias))
    tanh = LSTMAutoencoder(hidden_size=16, code_size=4).unfitted_module(3)
    assert tanh.cfg.cell_clip is None
    head = tanh.reconstructor.head  # PyTorch's: uniform(+-1/sqrt(fan_in)), bias too
    assert head.weight.abs().max() <= 1 / math.sqrt(16) and head.bias.abs().max() > 0
    clf = LSTMClassifier(hidden_size=8, activation="relu").unfitted_module(2, 3)
    assert torch.equal(clf.head.bias.detach(), torch.zeros(3)) and clf.encoder.lstm.cell_clip == 1.0


def test_every_lstm_of_the_estimators_is_initialised_so():
    torch.manual_seed(0)
    module = LSTMAutoencoder(hidden_size=8, num_layers=2, task="composite").unfitted_module(2)
    lstms = [m for m in module.modules() if isinstance(m, torch.nn.LSTM)]
    assert len(lstms) == 3  # encoder, reconstructor, predictor
    for lstm in lstms:
        _check_keras_init(lstm, lstm.input_size, 8)
    clf = LSTMClassifier(hidden_size=8).unfitted_module(2)
    _check_keras_init(clf.encoder.lstm, 2, 8)


def test_init_is_seeded_and_returns_the_module():
    torch.manual_seed(1)
    a = make_lstm(2, 8, 1, False, 0.0, "tanh")
    torch.manual_seed(1)
    b = make_lstm(2, 8, 1, False, 0.0, "tanh")
    assert all(torch.equal(p, q) for p, q in zip(a.parameters(), b.parameters()))
    lstm = torch.nn.LSTM(2, 8)
    assert init_lstm_(lstm) is lstm


def _noisy_sines(n=4096, steps=140, seed=0):
    rng = np.random.default_rng(seed)
    t = np.arange(steps)
    period, phase = rng.uniform(20, 60, (n, 1)), rng.uniform(0, 2 * np.pi, (n, 1))
    return (np.sin(2 * np.pi * t / period + phase) + 0.05 * rng.standard_normal((n, steps)))[..., None].astype(
        np.float32)


@pytest.mark.slow
def test_relu_autoencoder_trains_on_4096_unscaled_sines():
    """The issue's workload: it used to diverge (loss 0.50, then NaN or 25,291 in epoch 2), with
    PyTorch's initialisation and with Keras's, as Keras 3 itself does. With a clipped cell and
    Keras's initialisation it learns (measured, seeds 0-2: 0.23 / 0.20 / 0.22 after 6 epochs;
    a tanh model 0.34)."""
    ae = LSTMAutoencoder(hidden_size=64, batch_size=64, learning_rate=1e-3, scale=None, activation="relu",
                         epochs=5, random_state=0)
    h = ae.fit(_noisy_sines()).history_
    assert h["diverged"] is None and all(math.isfinite(v) for v in h["train_loss"])
    assert h["train_loss"][-1] < 0.7 * h["train_loss"][0]  # it learns, not merely stays finite: 0.50 -> 0.26


def test_cell_clip_options_are_checked_saved_and_old_relu_files_load_unclipped(tmp_path):
    x = _noisy_sines(n=16, steps=12)
    with pytest.raises(ValueError, match=r"cell_clip=2\.0 applies to relu cells only .* or cell_clip=None"):
        LSTMAutoencoder(cell_clip=2.0, epochs=1).fit(x)
    with pytest.raises(ValueError, match="cell_clip=-1 is not valid; give a positive number, 'auto', or None"):
        LSTMAutoencoder(activation="relu", cell_clip=-1, epochs=1).fit(x)
    ae = LSTMAutoencoder(hidden_size=8, activation="relu", cell_clip=0.5, epochs=1, random_state=0).fit(x)
    assert ae.config_.cell_clip == 0.5 and ae.module_.encoder.lstm.cell_clip == 0.5
    ae.save(tmp_path / "new")
    again = LSTMAutoencoder.load(tmp_path / "new")
    assert again.config_.cell_clip == 0.5 and again.cell_clip == 0.5
    np.testing.assert_allclose(again.reconstruct(x), ae.reconstruct(x), atol=1e-6)
    assert "relu, cell clip 0.5" in str(ae.summary(12))
    assert dict(describe(ae).itertuples(index=False))["cell_clip"] == "0.5"  # lstmae info
    assert "cell_clip" not in dict(describe(LSTMAutoencoder(epochs=1).fit(x)).itertuples(index=False))
    # a relu model saved by lstmae <= 0.5 (no cell_clip anywhere) loads, fits on and saves unclipped
    ae = LSTMAutoencoder(hidden_size=8, activation="relu", cell_clip=None, epochs=1, random_state=0).fit(x)
    ae.save(tmp_path / "old")
    config = json.loads((tmp_path / "old" / "config.json").read_text())
    del config["params"]["cell_clip"], config["model"]["cell_clip"]
    (tmp_path / "old" / "config.json").write_text(json.dumps(config))
    old = LSTMAutoencoder.load(tmp_path / "old")
    assert old.config_.cell_clip is None and old.cell_clip is None and old.module_.encoder.lstm.cell_clip is None
    np.testing.assert_allclose(old.reconstruct(x), ae.reconstruct(x), atol=1e-6)
    old.set_params(warm_start=True).fit(x)
    assert old.config_.cell_clip is None
    # a classifier seeded with it keeps the encoder's (absent) clip
    clf = LSTMClassifier(encoder=old, epochs=1, random_state=0).fit(x, np.arange(16) % 2)
    assert clf.config_.cell_clip is None and clf.config_.activation == "relu"
