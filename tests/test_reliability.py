"""Nothing lost, nothing trusted blindly: checkpoints and resume, atomic writes,
divergence, safe loading and format versions, determinism, a SIGKILL mid-training."""
import ast
import json
import pickle
import signal
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

import lstmae.checkpoint as ckpt
import lstmae.serialization as ser
from conftest import assert_same_weights, make_sines, resume_to_reference, train_until_checkpoint, weights
from lstmae import LSTMAutoencoder, ModelFileError
from lstmae.checkpoint import CheckpointError, Checkpointer, load_checkpoint
from lstmae.training import TrainingDivergedError

SRC = Path(__file__).parents[1] / "src" / "lstmae"
X = make_sines(n=32, length=8, n_features=2)
TINY = dict(hidden_size=6, epochs=4, batch_size=8, random_state=0)


pytestmark = pytest.mark.usefixtures("one_thread")


def without_times(history):
    return {k: v for k, v in history.items() if k != "epoch_time"}


@pytest.fixture
def crash_after(monkeypatch):
    """Make a checkpointing fit die right after the checkpoint of epoch `n` is written."""

    def arm(n):
        real = Checkpointer.on_epoch_end

        def dying(self, state):
            real(self, state)
            if state.epoch == n:
                raise KeyboardInterrupt(f"simulated crash after epoch {n}")

        monkeypatch.setattr(Checkpointer, "on_epoch_end", dying)
        return lambda: monkeypatch.setattr(Checkpointer, "on_epoch_end", real)

    return arm


# ------------------------------------------------------------------------------ checkpoints and resume
@pytest.mark.parametrize("params,crash", [
    (dict(), 2),
    (dict(activation="relu", dropout=0.3, num_layers=2, validation_split=0.25, patience=2), 1),
    (dict(input_noise=0.3, validation_split=0.25), 2),  # the noise draws resume where they stopped
    (dict(task="composite", horizon=2, bridge="state", dropout=0.2, learning_rate=0.05, validation_split=0.25,
          patience=2, epochs=8), 2),
])
def test_resume_after_a_crash_gives_bit_identical_weights(tmp_path, crash_after, params, crash):
    p = {**TINY, **params}
    reference = LSTMAutoencoder(**p).fit(X)  # no checkpoints at all
    disarm = crash_after(crash)
    with pytest.raises(KeyboardInterrupt):
        LSTMAutoencoder(**p).fit(X, checkpoint_dir=tmp_path / "ck")
    disarm()
    state = load_checkpoint(tmp_path / "ck")
    assert state["epoch"] == crash and len(state["history"]["train_loss"]) == crash
    torch_rng = torch.get_rng_state()
    resumed = LSTMAutoencoder(**{**p, "random_state": 123}).fit(X, checkpoint_dir=tmp_path / "ck", resume=True)
    assert torch.equal(torch.get_rng_state(), torch_rng), "fit must leave the global RNG alone"
    assert_same_weights(resumed, reference)
    assert without_times(resumed.history_) == without_times(reference.history_)
    np.testing.assert_array_equal(resumed.transform(X), reference.transform(X))


def test_resuming_a_finished_run_returns_it_and_more_epochs_continue_it(tmp_path):
    done = LSTMAutoencoder(**{**TINY, "epochs": 2}).fit(X, checkpoint_dir=tmp_path / "ck")
    again = LSTMAutoencoder(**{**TINY, "epochs": 2}).fit(X, checkpoint_dir=tmp_path / "ck", resume=True)
    assert_same_weights(again, done)
    longer = LSTMAutoencoder(**{**TINY, "epochs": 4}).fit(X, checkpoint_dir=tmp_path / "ck", resume=True)
    assert_same_weights(longer, LSTMAutoencoder(**{**TINY, "epochs": 4}).fit(X))
    assert len(longer.history_["train_loss"]) == 4


def test_an_early_stopped_run_resumes_to_the_same_stop(tmp_path):
    p = {**TINY, "epochs": 30, "learning_rate": 0.2, "validation_split": 0.25, "patience": 1}
    reference = LSTMAutoencoder(**p).fit(X)
    assert reference.history_["stopped_early"]
    LSTMAutoencoder(**p).fit(X, checkpoint_dir=tmp_path / "ck")
    resumed = LSTMAutoencoder(**p).fit(X, checkpoint_dir=tmp_path / "ck", resume=True)
    assert_same_weights(resumed, reference)
    assert resumed.history_["stopped_early"] and len(resumed.history_["train_loss"]) == len(
        reference.history_["train_loss"])


def test_resume_without_a_checkpoint_starts_from_scratch(tmp_path):
    ae = LSTMAutoencoder(**TINY).fit(X, checkpoint_dir=tmp_path / "new", resume=True)
    assert_same_weights(ae, LSTMAutoencoder(**TINY).fit(X))
    assert (tmp_path / "new" / "checkpoint.json").is_file()


def test_checkpoint_files_are_json_and_safetensors(tmp_path):
    LSTMAutoencoder(**{**TINY, "epochs": 3}).fit(X, checkpoint_dir=tmp_path / "ck")
    files = sorted(p.name for p in (tmp_path / "ck").iterdir())
    assert files == ["checkpoint-000003.safetensors", "checkpoint.json"]
    meta = json.loads((tmp_path / "ck" / "checkpoint.json").read_text())
    assert meta["format"] == "lstmae-checkpoint" and meta["epoch"] == 3 and meta["format_version"] == 1
    assert meta["fingerprint"]["params"]["hidden_size"] == 6 and "epochs" not in meta["fingerprint"]["params"]
    assert meta["optimizer"]["param_groups"][0]["values"]["betas"] == [0.9, 0.999]
    tensors = load_file(str(tmp_path / "ck" / meta["tensors"]))
    assert tensors["rng.torch"].dtype == torch.uint8 and tensors["rng.generator"].dtype == torch.uint8
    assert any(k.startswith("optimizer.0.exp_avg") for k in tensors)
    assert any(k.startswith("best.") for k in tensors) and any(k.startswith("model.") for k in tensors)


def test_checkpoint_schedule():
    saved = []

    class State:
        def __init__(self, epoch, improved=False, last=False):
            self.epoch, self.improved, self.last = epoch, improved, last

        def capture(self):
            return self.epoch

    cb = Checkpointer("unused", {}, every=3)
    ckpt_save = ckpt.save_checkpoint
    try:
        ckpt.save_checkpoint = lambda d, state, fp: saved.append(state)
        for e in range(1, 9):
            cb.on_epoch_end(State(e, improved=e == 5, last=e == 8))
    finally:
        ckpt.save_checkpoint = ckpt_save
    assert saved == [3, 5, 6, 8]  # every 3 epochs, at a new best, after the last


def test_resume_refuses_a_checkpoint_of_another_run(tmp_path):
    LSTMAutoencoder(**{**TINY, "epochs": 1}).fit(X, checkpoint_dir=tmp_path / "ck")
    with pytest.raises(CheckpointError, match=r"belongs to another run \(params.hidden_size: 6 in the checkpoint, 7"):
        LSTMAutoencoder(**{**TINY, "hidden_size": 7}).fit(X, checkpoint_dir=tmp_path / "ck", resume=True)
    with pytest.raises(CheckpointError, match="the training data differ"):
        LSTMAutoencoder(**TINY).fit(X[::-1], checkpoint_dir=tmp_path / "ck", resume=True)
    with pytest.raises(CheckpointError, match=r"data.shapes.x"):
        LSTMAutoencoder(**TINY).fit(X[:20], checkpoint_dir=tmp_path / "ck", resume=True)
    with pytest.raises(ValueError, match="resume=True needs checkpoint_dir"):
        LSTMAutoencoder(**TINY).fit(X, resume=True)
    with pytest.raises(ValueError, match="checkpoint_every=0 is not valid"):
        LSTMAutoencoder(**TINY).fit(X, checkpoint_dir=tmp_path / "ck", checkpoint_every=0)


def test_damaged_checkpoints_are_refused_and_a_fresh_fit_clears_them(tmp_path):
    ck = tmp_path / "ck"
    LSTMAutoencoder(**{**TINY, "epochs": 1}).fit(X, checkpoint_dir=ck)
    tensors = next(ck.glob("checkpoint-*.safetensors"))
    good = tensors.read_bytes()
    tensors.write_bytes(good[:-1] + bytes([good[-1] ^ 1]))
    with pytest.raises(CheckpointError, match="does not match the SHA-256"):
        LSTMAutoencoder(**TINY).fit(X, checkpoint_dir=ck, resume=True)
    tensors.unlink()
    with pytest.raises(CheckpointError, match="is missing"):
        LSTMAutoencoder(**TINY).fit(X, checkpoint_dir=ck, resume=True)
    (ck / "checkpoint.json").write_text("{")
    with pytest.raises(CheckpointError, match="not valid JSON"):
        LSTMAutoencoder(**TINY).fit(X, checkpoint_dir=ck, resume=True)
    (ck / "checkpoint.json").write_text(json.dumps({"format": "lstmae-checkpoint", "format_version": 1,
                                                    "tensors": "../../etc/passwd"}))
    with pytest.raises(CheckpointError, match="bad tensor file name"):
        LSTMAutoencoder(**TINY).fit(X, checkpoint_dir=ck, resume=True)
    (ck / "notes.txt").write_text("mine")
    LSTMAutoencoder(**{**TINY, "epochs": 1}).fit(X, checkpoint_dir=ck)  # resume=False: starts over
    assert sorted(p.name for p in ck.iterdir()) == ["checkpoint-000001.safetensors", "checkpoint.json", "notes.txt"]


# ------------------------------------------------------------------------------ SIGKILL mid-training
@pytest.mark.slow
def test_sigkill_mid_epoch_then_resume_equals_the_uninterrupted_run(tmp_path):
    data, ck, proc = train_until_checkpoint(tmp_path)
    proc.send_signal(signal.SIGKILL)
    assert proc.wait(timeout=60) == -signal.SIGKILL, "training ended before it could be killed"
    killed_at = json.loads((ck / "checkpoint.json").read_text())["epoch"]
    assert 1 <= killed_at < 8 and not (tmp_path / "model" / "config.json").exists()

    resume_to_reference(tmp_path, data, ck)
    assert (json.loads((tmp_path / "model" / "state.json").read_text())["history"]["train_loss"]
            == json.loads((tmp_path / "reference" / "state.json").read_text())["history"]["train_loss"])


# ------------------------------------------------------------------------------ divergence
def test_a_real_divergence_keeps_finite_best_weights_and_records_it():
    # relu (its own cell, unclipped: unbounded activations) with a learning rate 3,000 times too large:
    # the validation loss explodes within a few epochs and turns inf/NaN (no monkeypatching here)
    ae = LSTMAutoencoder(activation="relu", cell_clip=None, hidden_size=6, epochs=10, batch_size=32,
                         learning_rate=3.0, validation_split=0.25, random_state=0)
    assert ae.clip_grad_norm == 1.0  # clipping is on by default, relu included; it cannot save a step this big
    with pytest.warns(RuntimeWarning, match=r"training diverged: the loss became (nan|inf) at epoch \d+; stopped"):
        ae.fit(X)
    h = ae.history_
    assert h["diverged"] is not None and len(h["train_loss"]) == h["diverged"] + 1 < 10
    assert not np.isfinite(h["val_loss"][-1]) and h["restored_best"] and h["best_epoch"] < h["diverged"]
    assert all(torch.isfinite(v).all() for v in ae.module_.state_dict().values())
    assert np.isfinite(ae.reconstruct(X)).all()


def test_divergence_in_the_first_epoch_is_a_value_error():
    ae = LSTMAutoencoder(activation="relu", cell_clip=None, hidden_size=6, epochs=3, batch_size=4,
                         learning_rate=1e4, random_state=0, clip_grad_norm=None)
    with pytest.raises(TrainingDivergedError, match="diverged in the first epoch") as info:
        ae.fit(X)
    assert isinstance(info.value, ValueError) and isinstance(info.value, RuntimeError)


def test_values_beyond_float32_are_refused():
    with pytest.raises(ValueError, match="too large for float32"):
        LSTMAutoencoder(**TINY).fit(np.full((4, 3, 1), 1e300))
    ae = LSTMAutoencoder(**{**TINY, "epochs": 1}).fit(X)
    with pytest.raises(ValueError, match="overflow float32 once scaled"):
        ae.transform(np.full((2, 8, 2), 3e38))


# ------------------------------------------------------------------------------ determinism
@pytest.mark.parametrize("activation", ["tanh", "relu"])
def test_same_seed_same_data_gives_bit_identical_weights(activation):
    p = dict(TINY, activation=activation, dropout=0.3, num_layers=2, validation_split=0.25, epochs=3)
    before = torch.get_rng_state()
    a, b = LSTMAutoencoder(**p).fit(X), LSTMAutoencoder(**p).fit(X)
    assert torch.equal(torch.get_rng_state(), before)
    assert_same_weights(a, b)
    assert without_times(a.history_) == without_times(b.history_)
    c = LSTMAutoencoder(**{**p, "random_state": 1}).fit(X)
    assert not all(torch.equal(v, weights(c)[k]) for k, v in weights(a).items())


# ------------------------------------------------------------------------------ safe loading
class Payload:
    """Unpickling this writes a marker file: proof that code ran."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (exec, (f"open({self.marker!r}, 'w').write('pwned')",))


@pytest.fixture(scope="module")
def saved_model(tmp_path_factory):
    path = tmp_path_factory.mktemp("saved") / "m"
    LSTMAutoencoder(**{**TINY, "epochs": 1}).fit(X).save(path)
    return path


def _copy(src, dst):
    dst.mkdir()
    for f in src.iterdir():
        (dst / f.name).write_bytes(f.read_bytes())
    return dst


@pytest.mark.parametrize("name", ["model.safetensors", "config.json", "state.json"])
@pytest.mark.parametrize("protocol", [0, 2, pickle.HIGHEST_PROTOCOL])
def test_a_planted_pickle_never_runs_in_a_model_directory(saved_model, tmp_path, name, protocol):
    marker, probe = tmp_path / "marker", tmp_path / "probe"
    pickle.loads(pickle.dumps(Payload(probe), protocol))  # the payload works when unpickled...
    assert probe.exists()
    model = _copy(saved_model, tmp_path / "m")
    (model / name).write_bytes(pickle.dumps(Payload(marker), protocol))
    with pytest.raises(ModelFileError):
        LSTMAutoencoder.load(model)
    assert not marker.exists()


@pytest.mark.parametrize("which", ["checkpoint.json", "tensors"])
def test_a_planted_pickle_never_runs_in_a_checkpoint_directory(tmp_path, which):
    ck = tmp_path / "ck"
    LSTMAutoencoder(**{**TINY, "epochs": 1}).fit(X, checkpoint_dir=ck)
    target = ck / "checkpoint.json" if which == "checkpoint.json" else next(ck.glob("checkpoint-*.safetensors"))
    marker = tmp_path / "marker"
    target.write_bytes(pickle.dumps(Payload(marker)))
    with pytest.raises(CheckpointError):
        LSTMAutoencoder(**TINY).fit(X, checkpoint_dir=ck, resume=True)
    assert not marker.exists()


def test_the_package_never_unpickles():
    for path in SRC.rglob("*.py"):
        text = path.read_text()
        # joblib.load is pickle; joblib itself (its parallel backend, read by lstmae.threads) is not
        for needle in ("import pickle", "torch.load(", "allow_pickle=True", "pd.read_pickle", "joblib.load", "cloudpickle"):
            assert needle not in text, f"{path.name} uses {needle}"


# ------------------------------------------------------------------------------ format versions
def _edit_config(model, **changes):
    cfg = json.loads((model / "config.json").read_text())
    for k, v in changes.items():
        if v is None:
            cfg.pop(k, None)
        else:
            cfg[k] = v
    (model / "config.json").write_text(json.dumps(cfg))


def test_a_config_without_format_version_says_why(saved_model, tmp_path):
    model = _copy(saved_model, tmp_path / "m")
    _edit_config(model, format_version=None)
    with pytest.raises(ModelFileError, match="has no format_version, so its layout is unknown"):
        LSTMAutoencoder.load(model)


def test_a_hypothetical_version_0_says_why(saved_model, tmp_path):
    model = _copy(saved_model, tmp_path / "m")
    _edit_config(model, format_version=0)
    with pytest.raises(ModelFileError, match=r"format version 0, which no lstmae release wrote .*versions 1 to 2"):
        LSTMAutoencoder.load(model)


def test_older_versions_are_upgraded_through_the_migration_table(saved_model, tmp_path, monkeypatch):
    """Pretend the current format is 4 and version 2 models (today's) need two upgrades."""
    model = _copy(saved_model, tmp_path / "m")
    calls = []

    def v2_to_v3(config, state, tensors, directory):
        calls.append(2)
        return config, state, tensors

    def v3_to_v4(config, state, tensors, directory):
        calls.append(3)
        return config, state, tensors

    monkeypatch.setattr(ser, "FORMAT_VERSION", 4)
    monkeypatch.setattr(ser, "MIGRATIONS", {3: v3_to_v4})
    with pytest.raises(ModelFileError, match="cannot upgrade version 2 to 3"):
        LSTMAutoencoder.load(model)
    monkeypatch.setitem(ser.MIGRATIONS, 2, v2_to_v3)
    loaded = LSTMAutoencoder.load(model)
    assert calls == [2, 3]
    np.testing.assert_array_equal(loaded.transform(X), LSTMAutoencoder.load(saved_model).transform(X))


def test_a_directory_mixing_two_saves_is_refused(saved_model, tmp_path):
    """An interrupted save over an older model: new weights, old config. Same shapes, other numbers."""
    model = _copy(saved_model, tmp_path / "m")
    LSTMAutoencoder(**{**TINY, "epochs": 1, "random_state": 9}).fit(X).save(tmp_path / "other")
    (model / "model.safetensors").write_bytes((tmp_path / "other" / "model.safetensors").read_bytes())
    with pytest.raises(ModelFileError, match="mixes files of two saves"):
        LSTMAutoencoder.load(model)
    model2 = _copy(saved_model, tmp_path / "m2")
    state = json.loads((model2 / "state.json").read_text())
    state["scaler"]["offset"] = [0.0]
    (model2 / "state.json").write_text(json.dumps(state))
    with pytest.raises(ModelFileError, match="state.json is not the file config.json was saved with"):
        LSTMAutoencoder.load(model2)
    _edit_config(model2, files=None)  # no checksums (allowed): the state is still checked for consistency
    with pytest.raises(ModelFileError, match="the scaler does not fit 2 features"):
        LSTMAutoencoder.load(model2)


# ------------------------------------------------------------------------------ atomic writes
WRITERS = {"to_csv", "to_parquet", "save", "savefig", "save_file", "write_text", "write_bytes", "dump", "savez",
           "savez_compressed", "tofile", "to_json", "to_feather", "to_hdf"}


def _atomic_blocks(tree):
    """Line ranges of `with atomic_path(...)` / `with atomic_write(...)` bodies."""
    ranges = []
    for node in ast.walk(tree):
        if isinstance(node, ast.With):
            for item in node.items:
                call = item.context_expr
                if isinstance(call, ast.Call) and getattr(call.func, "id", getattr(call.func, "attr", "")) in (
                        "atomic_path", "atomic_write"):
                    ranges.append((node.lineno, node.end_lineno))
    return ranges


def test_every_file_the_package_writes_is_written_atomically():
    """Static audit: every write call in src/lstmae sits inside an atomic_path / atomic_write block."""
    offenders = []
    for path in SRC.rglob("*.py"):
        if path.name == "_atomic.py":
            continue
        tree = ast.parse(path.read_text())
        blocks = _atomic_blocks(tree)
        for node in ast.walk(tree):
            if not isinstance(node, ast.Call):
                continue
            name = getattr(node.func, "attr", getattr(node.func, "id", ""))
            writes = name in WRITERS and name != "save" or (name == "save" and getattr(
                getattr(node.func, "value", None), "id", "") in ("np", "numpy", "torch"))
            if name == "open":
                modes = [a.value for a in node.args[1:2] if isinstance(a, ast.Constant)] + [
                    k.value.value for k in node.keywords if k.arg == "mode" and isinstance(k.value, ast.Constant)]
                writes = any(set(str(m)) & set("wax+") for m in modes)
            if writes and not any(a <= node.lineno <= b for a, b in blocks):
                offenders.append(f"{path.relative_to(SRC)}:{node.lineno} {name}")
    assert not offenders, f"non-atomic writes: {offenders}"
