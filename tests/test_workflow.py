"""Your table in, your table out: a plant-sensor CSV (ISO timestamps, four sensors, a label column,
gaps) through every command, as a new user would run them. Every output carries the original
timestamps, the label never reaches the model, and bad input gets one `error:` line naming the flag."""
import json

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from lstmae import LSTMAnomalyDetector, LSTMAutoencoder
from lstmae.cli import app

SENSORS = ["temperature", "pressure", "flow", "vibration"]


def run(*args):
    return CliRunner().invoke(app, [str(a) for a in args])


def plant_frame(n=1400, seed=0):
    rng = np.random.default_rng(seed)
    t = np.arange(n)
    df = pd.DataFrame({
        "timestamp": pd.date_range("2026-03-01 08:00", periods=n, freq="min").strftime("%Y-%m-%dT%H:%M:%S"),
        "temperature": 60 + 10 * np.sin(2 * np.pi * t / 60) + rng.normal(0, 0.3, n),
        "pressure": 0.4 + 0.2 * np.cos(2 * np.pi * t / 40) + rng.normal(0, 0.01, n),
        "flow": 50 + 5 * np.sin(2 * np.pi * t / 30 + 1) + rng.normal(0, 0.2, n),
        "vibration": 0.1 * np.abs(np.sin(2 * np.pi * t / 20)) + rng.normal(0, 0.005, n),
        "label": 0,
    })
    df.loc[[i for i in (90, 400, 1250) if i < n], "flow"] = np.nan  # gaps
    df.loc[1200:1215, "pressure"] += 0.5  # the anomaly, after the training part
    df.loc[1200:1215, "label"] = 1
    return df


@pytest.fixture(scope="module")
def plant(tmp_path_factory):
    d = tmp_path_factory.mktemp("plant")
    df = plant_frame()
    df.to_csv(d / "plant.csv", index=False)
    df.iloc[:1000].to_csv(d / "train.csv", index=False)
    r = run("train", d / "train.csv", "--window", 24, "--stride", 2, "--fill", "interpolate", "--task", "composite",
            "--horizon", 3, "--epochs", 25, "--hidden-size", 24, "--learning-rate", 0.01, "-q", "-o", d / "model")
    assert r.exit_code == 0, r.output
    return d, df


def test_roles_are_recognised_and_stored_and_the_label_never_reaches_the_model(plant):
    d, _ = plant
    spec = json.loads((d / "model" / "config.json").read_text())["data"]
    assert spec["feature_names"] == SENSORS  # not the timestamp, not the label
    assert spec["time_column"] == "timestamp" and spec["label_column"] == "label"
    assert json.loads((d / "model" / "config.json").read_text())["model"]["n_features"] == 4


def test_every_output_carries_the_original_timestamps(plant, tmp_path):
    d, df = plant
    stamps = pd.to_datetime(df.timestamp)
    # encode: window start and end times
    assert run("encode", d / "model", d / "plant.csv", "-o", tmp_path / "codes.csv", "-q").exit_code == 0
    codes = pd.read_csv(tmp_path / "codes.csv", parse_dates=["start", "end"])
    assert codes.start[1] == stamps[2] and codes.end[1] == stamps[2 + 23]
    # reconstruct: one row per original timestamp
    assert run("reconstruct", d / "model", d / "plant.csv", "-o", tmp_path / "rec.parquet", "-q").exit_code == 0
    rec = pd.read_parquet(tmp_path / "rec.parquet")
    assert list(rec.columns) == ["timestamp", *SENSORS] and (rec.timestamp.to_numpy() == stamps.to_numpy()).all()
    # forecast: the next timestamps at the series' frequency (one minute)
    assert run("forecast", d / "model", d / "plant.csv", "-o", tmp_path / "fc.csv", "-q").exit_code == 0
    fc = pd.read_csv(tmp_path / "fc.csv", parse_dates=["timestamp"])
    expected = pd.date_range(stamps.iloc[-1], periods=4, freq="min")[1:]
    assert list(fc.timestamp) == list(expected) and list(fc.columns) == ["timestamp", *SENSORS]


def test_detect_with_events_and_plot_then_evaluate(plant, tmp_path):
    d, df = plant
    r = run("detect", d / "model", d / "plant.csv", "-o", tmp_path / "scores.csv", "--events", tmp_path / "ev.csv",
            "--plot", tmp_path / "scores.png", "-q")
    assert r.exit_code == 0, r.output
    scores = pd.read_csv(tmp_path / "scores.csv", parse_dates=["timestamp"])
    assert list(scores.columns) == ["timestamp", "score", "anomaly", "label"]  # the labels carried along
    assert (scores.timestamp == pd.to_datetime(df.timestamp)).all()
    events = pd.read_csv(tmp_path / "ev.csv", parse_dates=["start", "end", "peak"])
    hit = events[(events.peak >= pd.Timestamp("2026-03-01 08:00") + pd.Timedelta(minutes=1190))
                 & (events.peak <= pd.Timestamp("2026-03-01 08:00") + pd.Timedelta(minutes=1225))]
    assert len(hit) >= 1 and "pressure" in hit.top_features.iloc[0].split(",")[:2]
    assert (tmp_path / "scores.png").read_bytes()[:4] == b"\x89PNG"
    r = run("evaluate", tmp_path / "scores.csv")  # the scores file carries the labels
    assert r.exit_code == 0 and "event_recall     1.0000" in r.output, r.output


@pytest.mark.parametrize("args,flag", [
    (["train", "{d}/train.csv", "--window", 16], "--fill"),  # the gaps
    (["train", "{d}/train.csv", "--window", 16, "--fill", "zero", "--columns", "temperature,nope"], "--columns"),
    (["train", "{d}/train.csv", "--window", 16, "--fill", "zero", "--time-column", "temperature",
      "--columns", "timestamp"], "--columns"),
    (["detect", "{d}/model", "{d}/plant.csv", "-o", "{d}/s.xlsx"], "-o"),
    (["evaluate", "{d}/plant.csv", "--label-column", "temperature", "--score-column", "vibration",
      "--predicted-column", "label"], "--label-column"),
])
def test_bad_input_is_one_error_line_naming_the_flag(plant, args, flag):
    d, _ = plant
    r = run(*[str(a).format(d=d) for a in args])
    lines = r.output.strip().splitlines()
    assert r.exit_code == 2 and len(lines) == 1 and lines[0].startswith("error:"), r.output
    assert flag in lines[0], r.output


def test_a_file_with_an_extra_column_just_works_and_a_missing_one_is_named(plant, tmp_path):
    d, df = plant
    extra = df.assign(operator="ann", humidity=0.5)
    extra.to_csv(tmp_path / "extra.csv", index=False)
    assert run("detect", d / "model", tmp_path / "extra.csv", "-o", tmp_path / "s.csv", "-q").exit_code == 0
    df.drop(columns="flow").to_csv(tmp_path / "less.csv", index=False)
    r = run("detect", d / "model", tmp_path / "less.csv", "-o", tmp_path / "s.csv", "-q")
    assert r.exit_code == 2 and "'flow' not found" in r.output


def test_python_habits_mean_what_they_look_like():
    df = plant_frame(300).drop(columns="label").set_index("timestamp").interpolate()
    df.index = pd.to_datetime(df.index)
    with pytest.raises(ValueError, match=r"one long \(T, F\) series, not sequences. Call fit_series"):
        LSTMAutoencoder(epochs=1).fit(df)
    ae = LSTMAutoencoder(epochs=1, hidden_size=4, random_state=0).fit_series(df, window=16)
    assert ae.data_spec_.feature_names == tuple(SENSORS)
    # PyOD habits: a given contamination sets the threshold; autoencoder settings pass through
    det = LSTMAnomalyDetector(contamination=0.05, epochs=2, hidden_size=4, window=16, random_state=0)
    det.fit_series(df)
    assert det.threshold_rule == "contamination" and det.autoencoder_.epochs == 2
    assert det.autoencoder_.hidden_size == 4
    held = det.score_series(df.to_numpy()[-75:])
    assert 0.0 < np.mean(held > det.threshold_) < 0.2  # about 5 % of held-out normal points flagged
    assert LSTMAnomalyDetector().threshold_rule == "k-sigma"


def test_usage_errors_are_one_line_too_and_there_is_a_version():
    from lstmae import __version__

    for args, flag in ((["train", "x.csv", "--window", "0"], "--window"), (["train"], "data"),
                       (["detect", "m", "d.csv", "--nope"], "--nope")):
        r = run(*args)
        lines = r.output.strip().splitlines()
        assert r.exit_code == 2 and len(lines) == 1 and lines[0].startswith("error:") and flag in lines[0], r.output
    r = run("--version")
    assert r.exit_code == 0 and r.output.strip() == f"lstmae {__version__}"
    assert "<bool>" not in run("train", "--help").output.replace("--help", "")


def test_a_fleet_file_with_an_id_column_round_trips_ids_and_timestamps(tmp_path):
    """Several machines in one file (rows interleaved, ISO timestamps, a label, a gap): one sequence per id."""
    rows = []
    for m in range(12):
        for step in range(40):
            rows.append({"machine": f"M{m:02d}", "timestamp": f"2026-03-01T{8 + step // 60:02d}:{step % 60:02d}:00",
                         "temperature": 60 + 10 * np.sin(0.3 * step + m), "pressure": 0.4 + 0.1 * np.cos(0.2 * step),
                         "label": int(m == 11)})
    df = pd.DataFrame(rows).sample(frac=1, random_state=0)
    df.loc[df.index[5], "pressure"] = np.nan
    df.to_csv(tmp_path / "fleet.csv", index=False)
    r = run("train", tmp_path / "fleet.csv", "--id-column", "machine", "--fill", "interpolate", "--task", "composite",
            "--horizon", 2, "--epochs", 3, "--hidden-size", 8, "-q", "-o", tmp_path / "m")
    assert r.exit_code == 0, r.output
    spec = json.loads((tmp_path / "m" / "config.json").read_text())["data"]
    assert spec["feature_names"] == ["temperature", "pressure"] and spec["id_column"] == "machine"
    assert run("reconstruct", tmp_path / "m", tmp_path / "fleet.csv", "-o", tmp_path / "r.csv", "-q").exit_code == 0
    rec = pd.read_csv(tmp_path / "r.csv")
    assert list(rec.columns) == ["id", "timestamp", "temperature", "pressure"] and len(rec) == 12 * 40
    assert rec.groupby("id").timestamp.first().eq("2026-03-01 08:00:00").all()  # each machine's own times, sorted
    assert run("forecast", tmp_path / "m", tmp_path / "fleet.csv", "-o", tmp_path / "f.csv", "-q").exit_code == 0
    fc = pd.read_csv(tmp_path / "f.csv")
    assert list(fc.columns) == ["id", "timestamp", "temperature", "pressure"]
    assert set(fc.timestamp) == {"2026-03-01 08:40:00", "2026-03-01 08:41:00"}  # each sequence's time continued
    assert run("detect", tmp_path / "m", tmp_path / "fleet.csv", "-o", tmp_path / "s.csv", "-q").exit_code == 0
    scores = pd.read_csv(tmp_path / "s.csv")
    assert list(scores.columns) == ["id", "score", "anomaly", "label"] and sorted(scores.id) == [f"M{m:02d}" for m in range(12)]
