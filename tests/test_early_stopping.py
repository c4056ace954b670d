"""Early stopping does not end training before the model has learned (issue 12).

The validation-loss curve below is the one the EncDec-AD configuration of
bench/anomaly.py (state bridge, conditional decoder, reversed target, patience 5)
produced on the kdd-tsad-135 series: in validation the conditional decoder runs on its
own outputs, so the loss first rises while the teacher-forced training loss falls. With
patience alone training stopped after 6 epochs and restored epoch 0's (untrained)
weights; with the minimum number of epochs it trains on and keeps the learned ones.
"""
import math

import numpy as np
import pytest
import torch
from torch import nn

from lstmae import LSTMAutoencoder
from lstmae.training import TrainSettings, Trainer

# epochs 0-26 of that run (PyTorch's default initialisation, rounded)
ENCDEC_VAL = [0.5813, 0.6313, 0.8118, 0.8349, 1.1783, 0.9495, 0.7262, 0.7457, 0.7369, 0.3243, 0.2323, 0.1209,
              0.0345, 0.0236, 0.0986, 0.0809, 0.0141, 0.0171, 0.0251, 0.0214, 0.0185, 0.0121, 0.0338, 0.013,
              0.054, 0.0286, 0.0549]


class Tiny(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.w = nn.Parameter(torch.zeros(1))

    def forward(self, batch):
        return {}, ((batch["x"] - self.w) ** 2).mean()


def run(curve, **settings):
    """Train `Tiny` with `curve` as the monitored validation score; returns the history."""
    it = iter(curve)
    s = TrainSettings(**{"epochs": len(curve), "batch_size": 4, "learning_rate": 0.01, "patience": 5, **settings})
    trainer = Trainer(Tiny(), s, torch.Generator().manual_seed(0), torch.device("cpu"),
                      monitor=lambda model, val: next(it))
    data = {"x": torch.ones(8, 1)}
    return trainer.fit(data, data)


def test_min_epochs_default_keeps_training_through_an_early_rise():
    assert TrainSettings(epochs=1, batch_size=1, learning_rate=0.1).min_epochs == 10
    h = run(ENCDEC_VAL)
    assert len(h["train_loss"]) == 27 and h["stopped_early"]  # 5 epochs without a better score after epoch 21
    assert h["best_epoch"] == 21 and h["val_monitor"][21] == pytest.approx(0.0121)
    assert h["restored_best"]


def test_without_min_epochs_patience_alone_stops_untrained():
    h = run(ENCDEC_VAL, min_epochs=0)  # the old behaviour: what the benchmark hit
    assert len(h["train_loss"]) == 6 and h["stopped_early"] and h["best_epoch"] == 0


def test_min_epochs_never_delays_a_stop_past_it():
    # best at epoch 0, never improved: stops exactly at min_epochs (not later), keeps epoch 0
    h = run([1.0] + [2.0] * 29, min_epochs=10, patience=3)
    assert len(h["train_loss"]) == 10 and h["stopped_early"] and h["best_epoch"] == 0
    # fewer epochs than min_epochs: patience never stops, the best epoch is still restored
    h = run([1.0, 2.0, 3.0, 4.0, 5.0, 6.0], patience=2)
    assert len(h["train_loss"]) == 6 and not h["stopped_early"] and h["best_epoch"] == 0 and h["restored_best"]


def test_encdec_autoencoder_with_patience_trains_past_min_epochs():
    # the estimator path: EncDec-AD settings (state bridge, conditional, reversed) on a small series
    rng = np.random.default_rng(0)
    t = np.arange(1200)
    series = np.sin(2 * np.pi * t / 40)[:, None] + 0.05 * rng.standard_normal((1200, 1))
    windows = np.lib.stride_tricks.sliding_window_view(series, 32, axis=0).transpose(0, 2, 1)[::4]
    ae = LSTMAutoencoder(bridge="state", conditional=True, reverse=True, hidden_size=16, epochs=40,
                         learning_rate=3e-3, batch_size=64, validation_split=0.1, patience=2, random_state=0)
    h = ae.fit(windows).history_
    assert len(h["train_loss"]) >= 10  # never stopped before min_epochs
    assert math.isfinite(h["val_loss"][h["best_epoch"]])
    assert h["val_loss"][h["best_epoch"]] < 0.5 * h["val_loss"][0]  # the kept weights learned
