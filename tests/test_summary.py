"""summarize() and plot_model(): parameter counts and shapes against the modules themselves."""
import itertools

import pytest
import torch

from lstmae.config import ModelConfig
from lstmae.modules import Autoencoder, Classifier
from lstmae.plotting import _layout, plot_model
from lstmae.summary import ModelSummary, summarize

F, K, L, H = 3, 4, 6, 4  # features, horizon, concrete sequence length, hidden size (tiny: fast)

COMBOS = [
    dict(task=task, bridge=bridge, conditional=cond, reverse=rev, activation=act, bidirectional=bidir, code_size=code)
    for task, bridge, cond, rev, act, bidir, code in itertools.product(
        ("reconstruct", "predict", "composite"), ("repeat", "state"), (False, True), (False, True),
        ("tanh", "relu"), (False, True), (None, 3),
    )
    if not (rev and task == "predict")
]
DEEP = [  # two layers, with dropout, other losses and poolings
    dict(task="composite", bridge="state", num_layers=2, dropout=0.1),
    dict(task="composite", bridge="state", num_layers=2, bidirectional=True, conditional=True, loss="bce"),
    dict(task="reconstruct", bridge="repeat", num_layers=2, code_size=2, reverse=True, pooling="last_hc"),
    dict(task="predict", bridge="repeat", num_layers=2, activation="relu", conditional=True, pooling="mean"),
]


def _cfg(**kw) -> ModelConfig:
    return ModelConfig(**{"n_features": F, "horizon": K, "hidden_size": H, **kw})


def _shape(t: torch.Tensor) -> str:
    """A real tensor's shape written as the summary writes it (batch dimension N)."""
    return "(" + ", ".join(["N"] + [str(d) for d in t.shape[1:]]) + ")"


@pytest.fixture(autouse=True)
def _one_thread(one_thread):
    yield


def _run(module, n=5, steps=L):
    module.eval()
    with torch.no_grad():
        return module({"x": torch.randn(n, steps, F)})[0]


def _check_autoencoder(module: Autoencoder, s: ModelSummary) -> None:
    cfg = module.cfg
    total = sum(p.numel() for p in module.parameters())
    assert sum(r.params for r in s.rows) == total == s.total_params == s.trainable_params
    assert all(r.frozen_params == 0 for r in s.rows)
    names = [r.name for r in s.rows]
    assert names[0] == "encoder.lstm"
    assert ("encoder.bottleneck" in names) == (cfg.code_size is not None)
    assert ("code_dropout" in names) == (cfg.dropout > 0)
    # the real forward pass, in eval mode (conditional decoders free-running), another batch size
    out = _run(module)
    code_row = s.row("encoder.bottleneck") or s.row("encoder.final_h")
    assert code_row.output_shape == _shape(out["code"]) == f"(N, {cfg.latent_dim})"
    assert s.shapes["features"] == _shape(out["features"])
    assert s.row("encoder.lstm").input_shape == f"(N, {L}, {F})"
    for dec, key in (("reconstructor", "reconstruction"), ("predictor", "forecast")):
        present = getattr(module, dec) is not None
        assert (key in out) == present == (f"{dec}.lstm" in names)
        if not present:
            continue
        steps = L if key == "reconstruction" else K
        assert s.row(f"{dec}.head").output_shape == _shape(out[key]) == f"(N, {steps}, {F})"
        assert s.row(f"{dec}.lstm").output_shape == s.row(f"{dec}.head").input_shape == f"(N, {steps}, {H})"
        assert (f"{dec}.repeat" in names) == (cfg.bridge == "repeat")
        mapped = cfg.bridge == "state" and (cfg.code_size is not None or cfg.bidirectional)
        assert (f"{dec}.init_state" in names) == mapped
        if cfg.bridge == "repeat":
            assert s.row(f"{dec}.repeat").output_shape == f"(N, {steps}, {cfg.latent_dim})"
            frame = F if cfg.conditional else 0
            assert s.row(f"{dec}.lstm").input_shape == f"(N, {steps}, {cfg.latent_dim + frame})"
        # every row's module accounts for its own parameters
        for part in ("lstm", "head", "init_state"):
            row, sub = s.row(f"{dec}.{part}"), getattr(getattr(module, dec), part)
            if row is not None:
                assert row.params == sum(p.numel() for p in sub.parameters())


@pytest.mark.parametrize("kw", COMBOS, ids=lambda kw: "-".join(str(v) for v in kw.values()))
def test_every_combination(kw):
    module = Autoencoder(_cfg(**kw))
    _check_autoencoder(module, summarize(module, seq_len=L))


@pytest.mark.parametrize("kw", DEEP, ids=lambda kw: "-".join(str(v) for v in kw.values()))
def test_deeper_models(kw):
    module = Autoencoder(_cfg(**kw))
    s = summarize(module, seq_len=L)
    _check_autoencoder(module, s)
    assert "2 layers" in s.row("encoder.lstm").layer
    assert s.row("encoder.final_h").input_shape == f"({2 * module.cfg.num_directions}, N, {H})"  # h_n


def test_symbolic_length_and_dimensions_equal_to_the_batch_size():
    # n_features 2 and D * layers 2 equal the dummy batch size: still told apart from N
    module = Autoencoder(ModelConfig(n_features=2, task="composite", horizon=2, hidden_size=5, bidirectional=True,
                                     bridge="state", conditional=True))
    s = summarize(module)
    assert s.seq_len is None
    assert s.shapes["input"] == "(N, L, 2)"
    assert s.row("encoder.lstm").output_shape == "(N, L, 10)"
    assert s.row("encoder.final_h").input_shape == "(2, N, 5)"
    assert s.shapes["reconstruction"] == "(N, L, 2)"
    assert s.shapes["forecast"] == "(N, 2, 2)"  # K stays concrete
    assert s.row("predictor.lstm").input_shape == "(N, 2, 2)"
    assert "L = sequence length" in s.to_string()
    s2 = summarize(module, seq_len=2)
    assert s2.shapes["reconstruction"] == "(N, 2, 2)"
    assert [r.params for r in s2.rows] == [r.params for r in s.rows]


def test_tutorial_model_matches_keras_layout():
    s = summarize(Autoencoder(ModelConfig(n_features=1, hidden_size=100, activation="relu")), seq_len=9)
    assert [(r.name, r.output_shape) for r in s.rows] == [
        ("encoder.lstm", "(N, 9, 100)"), ("encoder.final_h", "(N, 100)"), ("reconstructor.repeat", "(N, 9, 100)"),
        ("reconstructor.lstm", "(N, 9, 100)"), ("reconstructor.head", "(N, 9, 1)"),
    ]
    assert s.row("reconstructor.repeat").layer == "RepeatVector(9)"
    # PyTorch LSTMs carry two bias vectors: Keras' 40,800 + 400
    assert s.row("encoder.lstm").params == 41_200 and s.total_params == 122_101


def test_text_frame_and_notes():
    module = Autoencoder(_cfg(task="composite", bridge="state", reverse=True, conditional=True, dropout=0.2))
    s = summarize(module, seq_len=L)
    text = s.to_string()
    assert str(s) == text == repr(s)
    for expected in ("Layer", "Output shape", "Param #", "encoder.lstm", "predictor.head", "Total params: ",
                     "Trainable params: ", "Options: task=composite", "reversed", "teacher forcing",
                     "final (h, c)"):
        assert expected in text
    assert f"Total params: {sum(p.numel() for p in module.parameters()):,}" in text
    frame = s.to_frame()
    assert list(frame.columns) == ["name", "layer", "input_shape", "output_shape", "params", "frozen_params"]
    assert len(frame) == len(s.rows) and frame["params"].sum() == s.total_params
    repeat = summarize(Autoencoder(_cfg()), seq_len=L)
    assert any("RepeatVector" in n for n in repeat.notes)
    assert repeat.options["bridge"] == "repeat" and repeat.options["latent_dim"] == H


@pytest.mark.parametrize("pooling", ["last", "last_hc", "mean"])
@pytest.mark.parametrize("code_size", [None, 2])
def test_classifier(pooling, code_size):
    cfg = _cfg(pooling=pooling, code_size=code_size, dropout=0.1, num_layers=2)
    module = Classifier(cfg, n_classes=4, freeze_encoder=True)
    s = summarize(module, seq_len=L)
    trainable = sum(p.numel() for p in module.parameters() if p.requires_grad)
    assert s.kind == "classifier"
    assert sum(r.params for r in s.rows) == s.trainable_params == trainable == 4 * cfg.pooled_dim + 4
    assert s.trainable_params < s.total_params == sum(p.numel() for p in module.parameters())
    assert sum(r.frozen_params for r in s.rows) == s.non_trainable_params
    assert s.row("encoder.lstm").params == 0 and s.row("encoder.lstm").frozen_params > 0
    out = _run(module)
    assert s.row("head").output_shape == _shape(out["proba"]) == "(N, 4)"
    assert s.row("head").input_shape == _shape(out["features"]) == f"(N, {cfg.pooled_dim})"
    assert s.rows[-1].name == "head" and ("pooling" in [r.name for r in s.rows]) == (pooling != "last")
    assert "frozen" in s.to_string()
    unfrozen = summarize(Classifier(cfg, n_classes=4), seq_len=L)
    assert unfrozen.trainable_params == unfrozen.total_params == s.total_params


def test_leaves_mode_weights_and_random_state_alone():
    module = Autoencoder(_cfg(task="composite", conditional=True, dropout=0.5))
    module.eval()
    before = {k: v.clone() for k, v in module.state_dict().items()}
    rng = torch.random.get_rng_state()
    summarize(module)
    assert not any(m.training for m in module.modules())
    assert torch.equal(torch.random.get_rng_state(), rng)
    assert all(torch.equal(before[k], v) for k, v in module.state_dict().items())
    clf = Classifier(_cfg(dropout=0.3), n_classes=2, freeze_encoder=True)
    clf.train()
    summarize(clf)
    assert clf.training and clf.head.training and not clf.encoder.training


def test_bad_arguments():
    with pytest.raises(TypeError, match="Autoencoder or Classifier"):
        summarize(torch.nn.Linear(2, 2))
    with pytest.raises(ValueError, match="seq_len"):
        summarize(Autoencoder(_cfg()), seq_len=0)


@pytest.mark.parametrize("task", ["reconstruct", "predict", "composite"])
@pytest.mark.parametrize("bridge", ["repeat", "state"])
def test_plot_model_writes_a_png(tmp_path, task, bridge):
    module = Autoencoder(_cfg(task=task, bridge=bridge, reverse=task != "predict", conditional=bridge == "state"))
    path = plot_model(module, tmp_path / "model.png", seq_len=L)
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 5_000
    assert not list(tmp_path.glob("*.tmp*"))  # written atomically


def test_plot_model_classifier(tmp_path):
    module = Classifier(_cfg(pooling="mean", code_size=2), n_classes=3, freeze_encoder=True)
    data = plot_model(module, tmp_path / "clf.png").read_bytes()
    assert data[:4] == b"\x89PNG" and len(data) > 5_000


@pytest.mark.parametrize("task", ["reconstruct", "predict", "composite"])
def test_diagram_layout_has_no_overlapping_boxes(task):
    """Every task x bridge x conditional x bidirectional x code_size lays out: no two boxes overlap,
    every arrow joins two boxes, and the decoders carry their marks."""
    for bridge, cond, bidir, code in itertools.product(("repeat", "state"), (False, True), (False, True), (None, 3)):
        cfg = _cfg(task=task, bridge=bridge, conditional=cond, bidirectional=bidir, code_size=code,
                   reverse=task != "predict")
        boxes, edges, _ = _layout(summarize(Autoencoder(cfg)))
        for a, b in itertools.combinations(boxes.values(), 2):
            apart = a.right <= b.left or b.right <= a.left or a.top <= b.bottom or b.top <= a.bottom
            assert apart, (cfg, a.title, b.title)
        assert all(src in boxes and dst in boxes for src, dst, *_ in edges)
        assert any(dashed for *_, dashed in edges) == (bridge == "state")
        decoders = [b for b in boxes.values() if b.title.endswith("decoder")]
        assert len(decoders) == (2 if task == "composite" else 1)
        for box in decoders:
            assert any("teacher forcing" in t for t in box.lines) == cond
            assert any("reversed" in t for t in box.lines) == (box.title.startswith("reconstruction"))


# ------------------------------------------------------------------ the estimators' summary and the CLI
def test_estimator_summary_before_and_after_fit_and_cli(tmp_path):
    import numpy as np
    from typer.testing import CliRunner

    from lstmae import LSTMAnomalyDetector, LSTMAutoencoder, LSTMClassifier
    from lstmae.cli import app

    ae = LSTMAutoencoder(task="composite", horizon=2, hidden_size=6, epochs=1, random_state=0)
    before = ae.summary(n_features=2, seq_len=7)
    X = np.random.default_rng(0).standard_normal((16, 9, 2)).astype("float32")
    ae.fit(X)
    after = ae.summary(seq_len=7)
    assert before.total_params == after.total_params == sum(p.numel() for p in ae.module_.parameters())
    assert after.row("reconstructor.head").output_shape == "(N, 7, 2)"
    with pytest.raises(ValueError, match="give n_features"):
        LSTMAutoencoder().summary()
    clf = LSTMClassifier(encoder=ae, freeze_encoder=True, epochs=1).fit(X, np.arange(16) % 2)
    s = clf.summary()
    assert s.trainable_params < s.total_params == sum(p.numel() for p in clf.module_.parameters())
    assert LSTMAnomalyDetector(window=8).summary(n_features=3).row("encoder.lstm").input_shape == "(N, 8, 3)"
    ae.save(tmp_path / "m")
    runner = CliRunner()
    r = runner.invoke(app, ["info", str(tmp_path / "m")])
    assert r.exit_code == 0 and f"Total params: {after.total_params:,}" in r.output, r.output
    r = runner.invoke(app, ["plot", "model", str(tmp_path / "m"), "-o", str(tmp_path / "m.png")])
    assert r.exit_code == 0, r.output
    assert (tmp_path / "m.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
