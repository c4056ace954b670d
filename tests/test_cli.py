"""The `lstmae` CLI: CliRunner tests, end to end from a CSV file to a scores file."""
import json
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from lstmae.cli import app

runner = CliRunner()
README = Path(__file__).parents[1] / "README.md"
COMMANDS = sorted(
    [c.name or c.callback.__name__ for c in app.registered_commands]
    # commands of sub-apps (`lstmae plot codes`) as "group command"
    + [f"{g.name} {c.name or c.callback.__name__}" for g in app.registered_groups
       for c in g.typer_instance.registered_commands]
)


def run(*args):
    result = runner.invoke(app, [str(a) for a in args])
    return result


@pytest.fixture(scope="module")
def series_csv(tmp_path_factory):
    """A 3-feature sine series with a time column and a planted level shift on feature 'b'."""
    t = np.arange(1200)
    rng = np.random.default_rng(0)
    df = pd.DataFrame({
        "time": t,
        "a": np.sin(2 * np.pi * t / 40) + 0.03 * rng.standard_normal(1200),
        "b": np.cos(2 * np.pi * t / 25) + 0.03 * rng.standard_normal(1200),
        "note": "ok",
        "label": (t >= 1000) & (t < 1020),
    })
    df.loc[1000:1019, "b"] += 3.0
    path = tmp_path_factory.mktemp("data") / "sensors.csv"
    df.sample(frac=1, random_state=0).to_csv(path, index=False)  # shuffled rows: --time-column sorts them
    return path


@pytest.fixture(scope="module")
def model_dir(series_csv, tmp_path_factory):
    out = tmp_path_factory.mktemp("m") / "model"
    train_part = series_csv.parent / "train.csv"
    df = pd.read_csv(series_csv).sort_values("time")
    df[df.time < 800].to_csv(train_part, index=False)
    r = run("train", train_part, "--time-column", "time", "--columns", "a,b", "--task", "composite", "--window", 24,
            "--stride", 2, "--horizon", 4, "--epochs", 25, "--hidden-size", 32, "--learning-rate", 0.01,
            "--batch-size", 32, "--seed", 0, "--quiet", "-o", out)
    assert r.exit_code == 0, r.output
    return out


def test_train_writes_a_model_directory(model_dir):
    assert {p.name for p in model_dir.iterdir()} == {"config.json", "model.safetensors", "state.json"}
    config = json.loads((model_dir / "config.json").read_text())
    spec = config["data"]  # how the data was read and cut: inside the checksummed, versioned config
    assert spec["window"] == 24 and spec["stride"] == 2 and spec["feature_names"] == ["a", "b"]
    assert spec["kind"] == "series" and spec["time_column"] == "time"
    stats = json.loads((model_dir / "state.json").read_text())["residual_stats"]
    assert len(stats["profile"]) == 24 and stats["score_std"] > 0


def test_detect_end_to_end_finds_the_planted_shift(model_dir, series_csv, tmp_path):
    out, png = tmp_path / "scores.csv", tmp_path / "scores.png"
    r = run("detect", model_dir, series_csv, "-o", out, "--plot", png, "--label-column", "label")
    assert r.exit_code == 0, r.output
    m = re.search(r"point precision (\d\.\d\d), point recall (\d\.\d\d)", r.output)
    assert m and float(m.group(1)) >= 0.3 and float(m.group(2)) >= 0.9, r.output
    scores = pd.read_csv(out)
    # keys round-trip: the user's time column (name and values), and the labels carried along
    assert list(scores.columns) == ["time", "score", "anomaly", "label"] and len(scores) == 1200
    assert (scores.time.to_numpy() == np.arange(1200)).all()
    inside = scores.score[1000:1020].mean()
    normal = scores.score[:800].mean()
    assert inside > 10 * normal
    assert scores.anomaly[1000:1020].mean() > 0.8  # most planted points flagged
    assert scores.anomaly[:800].mean() < 0.02
    # most flags that miss the shift are its neighbours, within one window (24 steps)
    flagged = np.flatnonzero(scores.anomaly)
    assert ((flagged >= 1000 - 24) & (flagged < 1020 + 24)).mean() >= 0.8
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_encode_one_code_per_window(model_dir, series_csv, tmp_path):
    out = tmp_path / "codes.parquet"
    r = run("encode", model_dir, series_csv, "-o", out, "--quiet")
    assert r.exit_code == 0, r.output
    codes = pd.read_parquet(out)
    assert len(codes) == (1200 - 24) // 2 + 1
    assert list(codes.columns[:4]) == ["start", "end", "label", "code_0"] and codes.shape[1] == 3 + 32
    assert list(codes.start[:2]) == [0, 2] and list(codes.end[:2]) == [23, 25]  # first and last time of each window


def test_reconstruct_and_forecast_series(model_dir, series_csv, tmp_path):
    r = run("reconstruct", model_dir, series_csv, "-o", tmp_path / "rec.npy", "--quiet")
    assert r.exit_code == 0, r.output
    rec = np.load(tmp_path / "rec.npy", allow_pickle=False)
    assert rec.shape == (1200, 3)  # time, a, b
    truth = pd.read_csv(series_csv).sort_values("time")[["a", "b"]].to_numpy()
    assert np.abs(rec[:800, 1:] - truth[:800]).mean() < 0.3
    r = run("forecast", model_dir, series_csv, "-o", tmp_path / "fc.csv", "--quiet")
    assert r.exit_code == 0, r.output
    fc = pd.read_csv(tmp_path / "fc.csv")
    assert list(fc.time) == [1200, 1201, 1202, 1203] and list(fc.columns) == ["time", "a", "b"]


def test_sequences_in_long_format_with_id_column(tmp_path):
    rows = [{"id": f"s{i}", "step": s, "x": np.sin(0.5 * s + i), "y": np.cos(0.3 * s + i)}
            for i in range(30) for s in range(8 + i % 5)]
    path = tmp_path / "seqs.parquet"
    pd.DataFrame(rows).sample(frac=1, random_state=0).to_parquet(path)
    r = run("train", path, "--id-column", "id", "--time-column", "step", "--epochs", 3, "--hidden-size", 8,
            "--task", "composite", "--horizon", 2, "-o", tmp_path / "m", "--quiet")
    assert r.exit_code == 0, r.output
    r = run("encode", tmp_path / "m", path, "-o", tmp_path / "c.csv", "--quiet")
    assert r.exit_code == 0, r.output
    codes = pd.read_csv(tmp_path / "c.csv")
    assert len(codes) == 30 and set(codes.id) == {f"s{i}" for i in range(30)}
    r = run("reconstruct", tmp_path / "m", path, "-o", tmp_path / "r.csv", "--quiet")
    rec = pd.read_csv(tmp_path / "r.csv")
    assert len(rec) == len(rows) and list(rec.columns) == ["id", "step", "x", "y"]  # step: the time column
    r = run("detect", tmp_path / "m", path, "-o", tmp_path / "d.csv", "--quiet")
    assert r.exit_code == 0, r.output
    assert len(pd.read_csv(tmp_path / "d.csv")) == 30
    r = run("forecast", tmp_path / "m", path, "-o", tmp_path / "f.csv", "--quiet")
    assert len(pd.read_csv(tmp_path / "f.csv")) == 60


def test_builtin_data_info_and_datasets(tmp_path):
    r = run("train", "builtin:tutorial", "--epochs", 2, "--hidden-size", 4, "-o", tmp_path / "m", "--quiet")
    assert r.exit_code == 0, r.output
    r = run("info", tmp_path / "m")
    assert r.exit_code == 0 and "hidden_size" in r.output and "epochs trained" in r.output
    r = run("datasets")
    assert r.exit_code == 0 and "sines" in r.output and "moving-digits" in r.output


@pytest.mark.parametrize(
    "args,message",
    [
        (["train", "missing.csv"], "no such file: missing.csv"),
        (["train", "builtin:sines", "--epochs", "1"], "one long series; give --window"),
        (["train", "builtin:nope"], "unknown"),
        (["train", "builtin:sines", "--window", "8", "--task", "forecast"], "--task 'forecast' is not valid"),
        (["info", "no-such-model"], "the directory does not exist"),
        (["train", "builtin:sines", "--window", "8", "--layout", "wide"], "--layout 'wide' is not valid"),
    ],
)
def test_bad_input_exits_2_with_one_line(args, message):
    r = run(*args)
    assert r.exit_code == 2, r.output
    assert message in r.output
    assert "Traceback" not in r.output


def test_garbage_file_is_a_clean_error(tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_bytes(b"\x00\xff\x13garbage\n\x00")
    r = run("train", bad, "--window", 4)
    assert r.exit_code == 2 and "Traceback" not in r.output and r.output.startswith("error:")


@pytest.mark.parametrize("name", COMMANDS)
def test_every_command_has_help_with_an_example_and_is_in_the_readme(name):
    r = run(*name.split(), "--help")
    assert r.exit_code == 0 and "Example" in r.output
    assert re.search(rf"lstmae {name}\b", README.read_text()), f"`lstmae {name}` is not documented in the README"


@pytest.mark.slow
def test_demo_runs_and_writes_its_files(tmp_path):
    r = run("demo", "-o", tmp_path / "d", "--epochs", 5, "--quiet")
    assert r.exit_code == 0, r.output
    assert "reconstruction MSE" in r.output and "ROC-AUC" in r.output and "precision / recall" in r.output
    for name in ("history.png", "reconstruction.png", "scores.png", "model.png"):
        assert (tmp_path / "d" / name).read_bytes()[:4] == b"\x89PNG"
    assert (tmp_path / "d" / "model" / "model.safetensors").is_file()


def test_commands_read_data_the_way_the_model_was_trained(tmp_path):
    """A model trained on a UCR-style file (--layout rows) encodes it without repeating --layout."""
    rng = np.random.default_rng(2)
    path = tmp_path / "ucr.csv"
    pd.DataFrame(np.sin(np.linspace(0, 6, 10)[None] + rng.uniform(0, 3, (20, 1)))).to_csv(path, index=False, header=False)
    r = run("train", path, "--layout", "rows", "--epochs", 2, "--hidden-size", 4, "-o", tmp_path / "m", "--quiet")
    assert r.exit_code == 0, r.output
    r = run("encode", tmp_path / "m", path, "-o", tmp_path / "c.csv", "--quiet")
    assert r.exit_code == 0, r.output
    assert len(pd.read_csv(tmp_path / "c.csv")) == 20  # one code per row, not per window of one series


def test_train_detector_defaults_are_the_python_detectors(series_csv, tmp_path):
    """`train --detector` without model options builds `LSTMAnomalyDetector()`'s autoencoder (robust scaling,
    patience 5, learning rate 0.003); options typed on the command line replace those, and the detector's
    own options (--window-norm, --no-level-term) reach it."""
    from lstmae.detector import default_autoencoder
    from lstmae.serialization import load_model

    out = tmp_path / "det"
    r = run("train", series_csv, "--time-column", "time", "--columns", "a,b", "--window", 16, "--stride", 4,
            "--detector", "--epochs", 1, "--hidden-size", 8, "--window-norm", "level", "--no-level-term",
            "--quiet", "-o", out)
    assert r.exit_code == 0, r.output
    det = load_model(out)
    ae, default = det.autoencoder_.get_params(), default_autoencoder().get_params()
    assert (ae["epochs"], ae["hidden_size"]) == (1, 8)
    for name in ("scale", "learning_rate", "patience", "bridge", "batch_size", "validation_split"):
        assert ae[name] == default[name], name
    assert (det.window_norm, det.level_term) == ("level", False)
    assert det.threshold_rule == "max-sigma" and det.contamination is None
    # a given --contamination sets the rule, as contamination= does in Python; --threshold-method names one
    for extra, rule in ((["--contamination", 0.05], "contamination"),
                        (["--threshold-method", "k-sigma", "--k-sigma", 3], "k-sigma"),
                        (["--max-sigma", 2], "max-sigma")):
        r = run("train", series_csv, "--time-column", "time", "--columns", "a,b", "--window", 16, "--stride", 4,
                "--detector", "--epochs", 1, "--hidden-size", 8, *extra, "--quiet", "-o", tmp_path / rule)
        assert r.exit_code == 0, r.output
        det = load_model(tmp_path / rule)
        assert det.threshold_rule == rule, extra
    assert (det.max_sigma, load_model(tmp_path / "k-sigma").k_sigma) == (2.0, 3.0)
    r = run("train", series_csv, "--time-column", "time", "--columns", "a,b", "--window", 16, "--detector",
            "--window-norm", "mean",
            "-o", tmp_path / "bad")
    assert r.exit_code == 2 and "--window-norm" in r.output and "level-scale" in r.output


def test_train_takes_a_cell_clip_for_relu_and_refuses_one_for_tanh_and_takes_input_noise(series_csv, tmp_path):
    common = ("--time-column", "time", "--columns", "a,b", "--window", 24, "--stride", 8, "--epochs", 1,
              "--hidden-size", 8, "--seed", 0, "--quiet")
    r = run("train", series_csv, *common, "--activation", "relu", "--cell-clip", "0.5", "--input-noise", "0.2",
            "-o", tmp_path / "m1")
    assert r.exit_code == 0, r.output
    model = json.loads((tmp_path / "m1" / "config.json").read_text())["model"]
    assert model["cell_clip"] == 0.5 and model["input_noise"] == 0.2
    r = run("train", series_csv, *common, "--activation", "relu", "--cell-clip", "none", "-o", tmp_path / "m2")
    assert r.exit_code == 0, r.output
    assert json.loads((tmp_path / "m2" / "config.json").read_text())["model"]["cell_clip"] is None
    r = run("train", series_csv, *common, "--cell-clip", "2", "-o", tmp_path / "m3")
    assert r.exit_code != 0 and "Traceback" not in r.output
    assert ("applies to relu cells only (a tanh cell's output is bounded already); use --activation 'relu', "
            "or --cell-clip none") in r.output
