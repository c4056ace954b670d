"""Save/load: a directory of JSON + safetensors, identical outputs, clear errors, no pickle."""
import json
import pickle

import numpy as np
import pytest

from lstmae.serialization import FORMAT_VERSION

from conftest import FAST
from lstmae import LSTMAutoencoder, ModelFileError

rng = np.random.default_rng(0)
X = rng.standard_normal((16, 7, 3)).astype(np.float32)


@pytest.mark.parametrize(
    "params",
    [
        dict(task="composite", horizon=2, bridge="state", conditional=True, reverse=True, num_layers=2),
        dict(activation="relu", bidirectional=True, code_size=4, scale="minmax"),
    ],
)
def test_save_load_gives_identical_outputs(tmp_path, params):
    ae = LSTMAutoencoder(**FAST, **params).fit(X)
    ae.save(tmp_path / "m")
    assert sorted(p.name for p in (tmp_path / "m").iterdir()) == ["config.json", "model.safetensors", "state.json"]
    loaded = LSTMAutoencoder.load(tmp_path / "m")
    assert loaded.get_params() == {**ae.get_params(), "device": "auto"}
    assert not loaded.module_.training
    np.testing.assert_array_equal(loaded.transform(X), ae.transform(X))
    np.testing.assert_array_equal(loaded.predict(X), ae.predict(X))
    seqs = [X[0], X[1, :3]]
    for a, b in zip(loaded.reconstruct(seqs), ae.reconstruct(seqs)):
        np.testing.assert_array_equal(a, b)
    assert loaded.history_ == ae.history_
    assert loaded.score(X) == ae.score(X)


def test_config_is_readable_json(tmp_path):
    LSTMAutoencoder(**{**FAST, "hidden_size": 5}).fit(X).save(tmp_path / "m")
    cfg = json.loads((tmp_path / "m" / "config.json").read_text())
    assert cfg["format"] == "lstmae-model" and cfg["format_version"] == FORMAT_VERSION == 2
    assert cfg["estimator"] == "LSTMAutoencoder"
    assert cfg["model"]["hidden_size"] == 5 and cfg["model"]["n_features"] == 3
    state = json.loads((tmp_path / "m" / "state.json").read_text())
    assert set(state["versions"]) >= {"lstmae", "torch", "numpy"}
    assert len(state["history"]["train_loss"]) == 2


@pytest.fixture
def saved(tmp_path):
    LSTMAutoencoder(**FAST).fit(X).save(tmp_path / "m")
    return tmp_path / "m"


def test_missing_directory_and_files(tmp_path, saved):
    with pytest.raises(ModelFileError, match="the directory does not exist"):
        LSTMAutoencoder.load(tmp_path / "nope")
    (saved / "state.json").unlink()
    with pytest.raises(ModelFileError, match="state.json is missing"):
        LSTMAutoencoder.load(saved)


def test_corrupt_files(saved):
    (saved / "model.safetensors").write_bytes(b"\x00garbage" * 10)
    with pytest.raises(ModelFileError, match=r"model.safetensors is corrupt.*save the model again"):
        LSTMAutoencoder.load(saved)
    (saved / "config.json").write_text("{not json")
    with pytest.raises(ModelFileError, match=r"config.json is corrupt \(not valid JSON"):
        LSTMAutoencoder.load(saved)


def test_newer_format_version_is_refused(saved):
    cfg = json.loads((saved / "config.json").read_text())
    cfg["format_version"] = 99
    (saved / "config.json").write_text(json.dumps(cfg))
    with pytest.raises(ModelFileError, match=r"format version 99.*upgrade lstmae"):
        LSTMAutoencoder.load(saved)


def test_weights_that_do_not_match_the_config(saved):
    cfg = json.loads((saved / "config.json").read_text())
    cfg["model"]["hidden_size"] = 9
    (saved / "config.json").write_text(json.dumps(cfg))
    with pytest.raises(ModelFileError, match=r"do not match its config \(shape mismatch for encoder"):
        LSTMAutoencoder.load(saved)


def test_loading_never_unpickles(saved, tmp_path):
    """A malicious pickle under the weights' name must not run: loading fails cleanly instead."""
    marker = tmp_path / "pwned"

    class Evil:
        def __reduce__(self):
            return (open, (str(marker), "w"))

    (saved / "model.safetensors").write_bytes(pickle.dumps(Evil()))
    with pytest.raises(ModelFileError):
        LSTMAutoencoder.load(saved)
    assert not marker.exists()


def test_save_over_a_file_and_wrong_estimator(tmp_path, saved):
    f = tmp_path / "file"
    f.write_text("x")
    with pytest.raises(ModelFileError, match="it is a file"):
        LSTMAutoencoder(**FAST).fit(X).save(f)
    cfg = json.loads((saved / "config.json").read_text())
    cfg["estimator"] = "LSTMClassifier"
    (saved / "config.json").write_text(json.dumps(cfg))
    with pytest.raises(ModelFileError, match="load it with lstmae.LSTMClassifier.load"):
        LSTMAutoencoder.load(saved)


def test_resave_replaces_files_atomically(saved):
    before = (saved / "model.safetensors").read_bytes()
    LSTMAutoencoder(**{**FAST, "random_state": 1}).fit(X).save(saved)
    assert (saved / "model.safetensors").read_bytes() != before
    assert not [p for p in saved.iterdir() if p.name.startswith(".tmp")]
