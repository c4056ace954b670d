"""Codes as features: `pooling` (shapes, padding, parity with single-sequence runs) and `lstmae plot codes`."""
import json

import numpy as np
import pandas as pd
import pytest
import torch
from threadpoolctl import threadpool_limits
from typer.testing import CliRunner

from conftest import FAST, make_sines
from lstmae import LSTMAutoencoder, ModelConfig
from lstmae.cli import app
from lstmae.modules import Encoder
from lstmae.plotting import plot_codes

H = 5


def _sizes(pooling, num_layers, bidirectional, code_size=None):
    d = 2 if bidirectional else 1
    return {"last": code_size or d * H, "mean": d * H, "last_hc": 2 * num_layers * d * H,
            "all": (2 * num_layers + 2) * d * H}[pooling]


@pytest.mark.parametrize("pooling", ["last", "last_hc", "mean", "all"])
@pytest.mark.parametrize("num_layers,bidirectional,code_size", [(1, False, None), (2, True, None), (2, False, 3)])
def test_transform_shape_code_dim_and_feature_names(pooling, num_layers, bidirectional, code_size):
    X = make_sines(20, 9, 2)
    ae = LSTMAutoencoder(**{**FAST, "hidden_size": H, "epochs": 1}, num_layers=num_layers, bidirectional=bidirectional,
                         code_size=code_size, pooling=pooling).fit(X)
    size = _sizes(pooling, num_layers, bidirectional, code_size)
    Z = ae.transform(X)
    assert Z.shape == (20, size) and Z.dtype == np.float32
    assert ae.config_.pooled_dim == size
    assert ae.config_.latent_dim == (code_size or (2 if bidirectional else 1) * H)  # what the decoders read
    names = ae.get_feature_names_out()
    assert len(names) == size and names[0] == "lstmautoencoder0"
    assert np.isfinite(ae.transform([X[0, :4], X[1]])).all()  # variable lengths too


@pytest.mark.parametrize("activation", ["tanh", "relu"])
@pytest.mark.parametrize("pooling", ["last", "last_hc", "mean", "all"])
def test_variable_length_batch_equals_single_sequence_runs(pooling, activation):
    X = make_sines(6, 11, 2, seed=1)
    ae = LSTMAutoencoder(hidden_size=H, num_layers=2, bidirectional=True, pooling=pooling, activation=activation,
                         epochs=1, random_state=0).fit(X)
    seqs = [X[i, : 3 + i] for i in range(6)]  # lengths 3..8
    batch = ae.transform(seqs)
    for i, s in enumerate(seqs):
        np.testing.assert_allclose(batch[i], ae.transform(s[None])[0], atol=1e-5, rtol=0)


def test_mean_pooling_ignores_padding_and_is_the_mean_of_valid_outputs():
    torch.manual_seed(0)
    cfg = ModelConfig(n_features=2, hidden_size=H, num_layers=2, bidirectional=True, pooling="mean")
    enc = Encoder(cfg).eval()
    x = torch.randn(3, 7, 2)
    lengths = torch.tensor([7, 4, 2])
    garbage = x.clone()
    for i, n in enumerate(lengths):
        garbage[i, n:] = 100.0  # whatever sits in the padding must not matter
    pooled = enc.pool(garbage, lengths)
    for i, n in enumerate(lengths.tolist()):
        out = enc(x[i : i + 1, :n])[2][0]  # (n, 2H) of the sequence alone
        torch.testing.assert_close(pooled[i], out.mean(dim=0), atol=1e-6, rtol=0)
    torch.testing.assert_close(enc.pool(x, lengths), pooled, atol=1e-6, rtol=0)


def test_last_and_last_hc_read_each_direction_at_the_right_step():
    """Bidirectional "last": forward state at the sequence's own last step, backward state at its first step."""
    torch.manual_seed(0)
    cfg = ModelConfig(n_features=2, hidden_size=H, num_layers=2, bidirectional=True)
    enc = Encoder(cfg).eval()
    x, lengths = torch.randn(2, 6, 2), torch.tensor([6, 3])
    code = enc.pool(x, lengths, "last")
    hc = enc.pool(x, lengths, "last_hc")
    _, (h_n, c_n), out = enc(x, lengths)
    for i, n in enumerate(lengths.tolist()):
        torch.testing.assert_close(code[i, :H], out[i, n - 1, :H])  # forward, at its own last step
        torch.testing.assert_close(code[i, H:], out[i, 0, H:])  # backward, ends at step 0
        assert not torch.equal(code[i], out[i, -1]) or n == 6  # never output[:, -1] of a padded sequence
    assert hc.shape == (2, 2 * 2 * 2 * H)
    # [h | c], each ordered layer by layer, forward before backward: the top layer's h is the code
    torch.testing.assert_close(hc[:, 2 * H : 4 * H], code)
    torch.testing.assert_close(hc[:, 4 * H :], c_n.transpose(0, 1).reshape(2, -1))


def test_pooling_config_round_trip_old_configs_and_bad_values(tmp_path):
    cfg = ModelConfig(n_features=1, pooling="mean")
    assert ModelConfig.from_dict(json.loads(json.dumps(cfg.to_dict()))) == cfg
    old = cfg.to_dict()
    del old["pooling"]  # written before pooling existed
    assert ModelConfig.from_dict(old).pooling == "last"
    with pytest.raises(ValueError, match="pooling='max' is not valid; choose one of 'last', 'last_hc', 'mean'"):
        LSTMAutoencoder(pooling="max", **FAST).fit(make_sines(8, 5, 1))
    X = make_sines(16, 8, 2)
    ae = LSTMAutoencoder(pooling="last_hc", **FAST).fit(X)
    ae.save(tmp_path / "m")
    loaded = LSTMAutoencoder.load(tmp_path / "m")
    assert loaded.pooling == "last_hc"
    np.testing.assert_array_equal(loaded.transform(X), ae.transform(X))


def test_pooling_leaves_training_alone():
    """Pooling picks what transform returns; the decoders read the same code, so training is identical."""
    X = make_sines(16, 8, 2)
    a = LSTMAutoencoder(**FAST).fit(X)
    b = LSTMAutoencoder(pooling="mean", **FAST).fit(X)
    assert a.history_["train_loss"] == b.history_["train_loss"]
    np.testing.assert_array_equal(a.reconstruct(X), b.reconstruct(X))


# ---------------------------------------------------------------------------- plot codes
def test_plot_codes_function(tmp_path):
    rng = np.random.default_rng(0)
    codes = rng.standard_normal((40, 6))
    for method, labels in (("pca", np.repeat(["a", "b"], 20)), ("tsne", None), ("pca", np.arange(40))):
        with threadpool_limits(1):  # t-SNE's OpenMP threads crawl on a busy 2-core machine
            path = plot_codes(codes, tmp_path / f"{method}.png", labels=labels, method=method)
        assert path.read_bytes()[:4] == b"\x89PNG"
    assert plot_codes(codes[:, :1], tmp_path / "one.png").is_file()  # 1-D codes
    with pytest.raises(ValueError, match="method='umap' is not valid"):
        plot_codes(codes, tmp_path / "x.png", method="umap")
    with pytest.raises(ValueError, match="3 labels for 40 codes"):
        plot_codes(codes, tmp_path / "x.png", labels=[0, 1, 0])


def test_cli_plot_codes_sequences_with_labels_and_a_series(tmp_path):
    runner = CliRunner()
    rows = [{"id": f"s{i}", "step": s, "x": np.sin((0.3 if i % 2 else 0.9) * s + i), "kind": "slow" if i % 2 else "fast"}
            for i in range(24) for s in range(10 + i % 3)]
    path = tmp_path / "seqs.csv"
    pd.DataFrame(rows).to_csv(path, index=False)
    r = runner.invoke(app, ["train", str(path), "--id-column", "id", "--time-column", "step", "--columns", "x",
                            "--epochs", "2", "--hidden-size", "6", "-o", str(tmp_path / "m"), "--quiet"])
    assert r.exit_code == 0, r.output
    for method in ("pca", "tsne"):
        png = tmp_path / f"codes-{method}.png"
        with threadpool_limits(1):
            r = runner.invoke(app, ["plot", "codes", str(tmp_path / "m"), str(path), "--labels", "kind",
                                    "--method", method, "-o", str(png)])
        assert r.exit_code == 0, r.output
        assert f"wrote a {method} map of 24 codes" in r.output and png.read_bytes()[:4] == b"\x89PNG"
    r = runner.invoke(app, ["plot", "codes", str(tmp_path / "m"), str(path), "--method", "umap"])
    assert r.exit_code == 2 and "--method 'umap' is not valid" in r.output
    r = runner.invoke(app, ["plot", "codes", str(tmp_path / "m"), str(path), "--labels", "nope"])
    assert r.exit_code == 2 and "nope" in r.output and "Traceback" not in r.output
    # a long series: one code per window, a window labelled by its last step
    series = tmp_path / "series.csv"
    t = np.arange(300)
    pd.DataFrame({"a": np.sin(t / 5), "label": (t > 200).astype(int)}).to_csv(series, index=False)
    r = runner.invoke(app, ["train", str(series), "--columns", "a", "--window", "12", "--stride", "4", "--epochs", "1",
                            "--hidden-size", "4", "-o", str(tmp_path / "ms"), "--quiet"])
    assert r.exit_code == 0, r.output
    r = runner.invoke(app, ["plot", "codes", str(tmp_path / "ms"), str(series), "--labels", "label",
                            "--max-points", "50", "-o", str(tmp_path / "s.png")])
    assert r.exit_code == 0, r.output
    assert "map of 50 codes" in r.output and (tmp_path / "s.png").is_file()


def test_all_pooling_is_last_hc_mean_and_max_of_the_valid_outputs():
    torch.manual_seed(0)
    cfg = ModelConfig(n_features=2, hidden_size=H, num_layers=2, bidirectional=True, pooling="all")
    assert cfg.pooled_dim == 6 * 2 * H
    enc = Encoder(cfg).eval()
    x = torch.randn(3, 7, 2)
    lengths = torch.tensor([7, 4, 2])
    garbage = x.clone()
    for i, n in enumerate(lengths):
        garbage[i, n:] = 100.0  # padding must not reach the max (nor the mean)
    pooled = enc.pool(garbage, lengths)
    assert pooled.shape == (3, 12 * H)
    torch.testing.assert_close(pooled[:, : 8 * H], enc.pool(x, lengths, "last_hc"), atol=1e-6, rtol=0)
    for i, n in enumerate(lengths.tolist()):
        out = enc(x[i : i + 1, :n])[2][0]  # (n, 2H) of the sequence alone
        torch.testing.assert_close(pooled[i, 8 * H : 10 * H], out.mean(dim=0), atol=1e-6, rtol=0)
        torch.testing.assert_close(pooled[i, 10 * H :], out.max(dim=0).values, atol=1e-6, rtol=0)
    with pytest.raises(ValueError, match="pooling='max' is not valid; choose 'last', 'last_hc', 'mean' or 'all'"):
        enc.pool(x, lengths, "max")
