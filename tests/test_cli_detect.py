"""`lstmae train --detector`, `lstmae detect --events`, `lstmae evaluate`."""
import json

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from lstmae.cli import app
from lstmae.data.synthetic import make_sines

runner = CliRunner()


def run(*args):
    return runner.invoke(app, [str(a) for a in args])


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    d = tmp_path_factory.mktemp("det")
    data = make_sines(n_points=1600, anomaly_fraction=0.0, random_state=2)
    series = data.series.copy()
    labels = np.zeros(1600, dtype=int)
    series[1300:1316, 1] += 2.5
    labels[1300:1316] = 1
    frame = pd.DataFrame(series, columns=data.feature_names)
    frame["label"] = labels
    frame.iloc[:1000].to_csv(d / "normal.csv", index=False)
    frame.to_csv(d / "all.csv", index=False)
    r = run("train", d / "normal.csv", "--columns", ",".join(data.feature_names), "--detector", "--window", 24,
            "--stride", 2, "--epochs", 25, "--hidden-size", 24, "--learning-rate", 0.01, "--quiet", "-o", d / "det")
    assert r.exit_code == 0, r.output
    return d, data.feature_names


def test_train_detector_saves_a_detector_with_its_threshold(files):
    d, _ = files
    cfg = json.loads((d / "det" / "config.json").read_text())
    state = json.loads((d / "det" / "state.json").read_text())
    assert cfg["estimator"] == "LSTMAnomalyDetector"
    assert state["detector"]["threshold_"] > 0 and state["detector"]["level_"] == "point"
    r = run("info", d / "det")
    assert r.exit_code == 0 and "hidden_size" in r.output
    assert "(max-sigma, fitted per point)" in r.output  # the default rule for a series


def test_detect_writes_scores_events_and_metrics(files):
    d, names = files
    r = run("detect", d / "det", d / "all.csv", "-o", d / "scores.parquet", "--events", d / "events.csv",
            "--label-column", "label", "--plot", d / "p.png")
    assert r.exit_code == 0, r.output
    scores = pd.read_parquet(d / "scores.parquet")
    assert len(scores) == 1600 and scores.anomaly[1300:1316].mean() >= 0.8
    events = pd.read_csv(d / "events.csv")
    main = events.loc[events.peak_score.idxmax()]
    assert 1290 <= main.peak < 1326 and main.top_features.split(",")[0] == names[1]
    assert "event recall 1.00" in r.output and "roc auc" in r.output
    assert "points are flagged" not in r.output  # a few flagged points: no note about drift
    # evaluate the written scores against the labels of the data file
    r = run("evaluate", d / "scores.parquet", "--truth", d / "all.csv", "-o", d / "metrics.json")
    assert r.exit_code == 0, r.output
    m = json.loads((d / "metrics.json").read_text())
    assert m["roc_auc"] > 0.95 and m["event_recall"] == 1.0
    assert set(m) == {"roc_auc", "pr_auc", "point_precision", "point_recall", "point_f1", "event_precision",
                      "event_recall", "event_f1"}


def test_evaluate_bad_columns_exit_2(files):
    d, _ = files
    r = run("evaluate", d / "all.csv", "--score-column", "nope")
    assert r.exit_code == 2 and "nope" in r.output and "Traceback" not in r.output


def test_many_flagged_points_bring_a_note_on_drift_with_the_options_not_yet_used(files):
    from types import SimpleNamespace

    from lstmae.cli_support import many_flagged_hint

    plain = SimpleNamespace(level_="point", window_norm_=None, adaptive_threshold=None)
    assert many_flagged_hint(plain, 10, 100) is None  # 10 %: not more than MANY_FLAGGED
    note = many_flagged_hint(plain, 39, 100)
    assert note.startswith("note: 39% of the points are flagged") and "drifts out of the range" in note
    assert "--window-norm level-scale" in note and "--adaptive-threshold N" in note
    normalised = SimpleNamespace(level_="point", window_norm_=object(), adaptive_threshold=200)
    note = many_flagged_hint(normalised, 39, 100)
    assert "--window-norm" not in note and "--adaptive-threshold" not in note and "more training data" in note
    assert many_flagged_hint(SimpleNamespace(level_="sequence"), 39, 100) is None  # sequences: no series drift
    # the command prints it: the detector of `files` on its data shifted far out of its training range
    d, names = files
    frame = pd.read_csv(d / "all.csv")
    frame[list(names)] += 5.0
    frame.to_csv(d / "shifted.csv", index=False)
    r = run("detect", d / "det", d / "shifted.csv", "-o", d / "shifted_scores.csv")
    assert r.exit_code == 0, r.output
    assert "points are flagged; a detector trained on normal data flags few" in r.output
