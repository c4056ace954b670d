"""Keras's LSTM initialisation (issue 12): Glorot-uniform input weights, orthogonal recurrent
weights, forget-gate bias 1 (in ``bias_ih`` only) for tanh LSTMs; relu LSTMs keep PyTorch's."""
import math
import warnings

import numpy as np
import pytest
import torch

from lstmae import LSTMAutoencoder, LSTMClassifier
from lstmae.cells import LoopLSTM
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
def test_make_lstm_uses_keras_initialisation_for_tanh_and_pytorchs_for_relu(num_layers, bidirectional):
    torch.manual_seed(0)
    lstm = make_lstm(3, 16, num_layers, bidirectional, 0.0, "tanh")
    assert isinstance(lstm, torch.nn.LSTM)
    _check_keras_init(lstm, 3, 16)
    relu = make_lstm(3, 16, num_layers, bidirectional, 0.0, "relu")
    assert isinstance(relu, LoopLSTM)
    for name, p in relu.named_parameters():  # uniform(+-1/sqrt(H)), biases included
        assert p.abs().max() <= 0.25 and p.abs().max() > 0.2, name
    # the same function initialises a LoopLSTM when asked (same parameter names and gate order)
    _check_keras_init(init_lstm_(relu), 3, 16)


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
@pytest.mark.xfail(reason="issue 12, open: the relu LSTM (unbounded cell) diverges on this workload with "
                          "PyTorch's initialisation and with Keras's (the loss explodes in the second "
                          "epoch), and so does Keras 3 itself (2.9e10 in epoch 3 with seed 0, NaN from "
                          "epoch 4 with seed 1, no learning); see docs/benchmarks.md, Initialisation",
                   strict=False)
def test_relu_autoencoder_trains_on_4096_unscaled_sines():
    ae = LSTMAutoencoder(hidden_size=64, batch_size=64, learning_rate=1e-3, scale=None, activation="relu",
                         epochs=2, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # "training diverged ... restored the best epoch"
        h = ae.fit(_noisy_sines()).history_
    # measured: epoch 1 0.502 with either initialisation; epoch 2 NaN (PyTorch's) or 25,291 (Keras's),
    # then 8e25 and NaN
    assert h["diverged"] is None and all(math.isfinite(v) for v in h["train_loss"])
    assert h["train_loss"][-1] < 0.9 * h["train_loss"][0]  # it learns, not merely stays finite
