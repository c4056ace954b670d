"""`input_noise`: a denoising autoencoder (noisy input to the encoder in training, clean targets)."""
import json

import numpy as np
import pytest
import torch

from lstmae import LSTMAutoencoder
from lstmae.config import ModelConfig
from lstmae.modules import Autoencoder


def _sines(n, rng, steps=30):
    t = np.arange(steps)
    period, phase = rng.uniform(8, 16, (n, 1)), rng.uniform(0, 2 * np.pi, (n, 1))
    return np.sin(2 * np.pi * t / period + phase)[..., None].astype(np.float32)


def test_noise_only_in_training_and_the_loss_compares_with_the_clean_input():
    torch.manual_seed(0)
    model = Autoencoder(ModelConfig(n_features=2, hidden_size=8, input_noise=0.5))
    x = torch.randn(4, 10, 2)
    model.train()
    (a, loss), (b, _) = model({"x": x}), model({"x": x})
    assert not torch.equal(a["code"], b["code"])  # a new draw of noise each pass
    torch.testing.assert_close(loss, ((a["reconstruction"] - x) ** 2).mean())  # the target is the clean x
    model.eval()
    (c, _), (d, _) = model({"x": x}), model({"x": x})
    assert torch.equal(c["code"], d["code"])
    quiet = Autoencoder(ModelConfig(n_features=2, hidden_size=8))
    quiet.load_state_dict(model.state_dict())
    torch.testing.assert_close(quiet.eval()({"x": x})[0]["code"], c["code"])  # inference reads x as it is


def test_input_noise_is_checked_saved_and_absent_from_old_files(tmp_path):
    x = _sines(16, np.random.default_rng(0), steps=12)
    with pytest.raises(ValueError, match=r"input_noise=-0\.1 is not valid; it must be a number >= 0"):
        LSTMAutoencoder(input_noise=-0.1, epochs=1).fit(x)
    ae = LSTMAutoencoder(hidden_size=8, input_noise=0.2, epochs=1, random_state=0).fit(x)
    assert "input_noise=0.2" in str(ae.summary(12))
    ae.save(tmp_path / "m")
    assert LSTMAutoencoder.load(tmp_path / "m").config_.input_noise == 0.2
    config = json.loads((tmp_path / "m" / "config.json").read_text())
    del config["params"]["input_noise"], config["model"]["input_noise"]  # as lstmae <= 0.5 wrote it
    (tmp_path / "m" / "config.json").write_text(json.dumps(config))
    old = LSTMAutoencoder.load(tmp_path / "m")
    assert old.config_.input_noise == 0.0 and old.input_noise == 0.0


@pytest.mark.slow
def test_a_denoising_autoencoder_rebuilds_noisy_sines_closer_to_the_clean_ones():
    rng = np.random.default_rng(1)
    clean, clean_test = _sines(256, rng), _sines(64, rng)
    noisy_test = clean_test + 0.3 * rng.standard_normal(clean_test.shape).astype(np.float32)
    input_error = float(((noisy_test - clean_test) ** 2).mean())  # 0.09
    errors = {}
    for noise in (0.0, 0.3):
        ae = LSTMAutoencoder(hidden_size=32, epochs=150, learning_rate=0.01, input_noise=noise, random_state=0)
        errors[noise] = float(((ae.fit(clean).reconstruct(noisy_test) - clean_test) ** 2).mean())
    # measured: 0.125 without noise in training (further from the clean sines than the noisy input is),
    # 0.054 with it (over 4 data seeds and learning rates the ratio was 0.37-0.78)
    assert errors[0.3] < 0.7 * errors[0.0] and errors[0.3] < input_error
