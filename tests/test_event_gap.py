"""Events as a user counts them: flagged runs a short gap apart are one event (``event_gap``, issue 18)."""
import copy
import json

import numpy as np
import pandas as pd
import pytest

from lstmae import LSTMAnomalyDetector, LSTMAutoencoder
from lstmae.data.sources import open_source
from lstmae.metrics import event_spans
from lstmae.scoring import ErrorModel, find_events
from lstmae.streaming import DetectionStream, _Events

TINY = dict(hidden_size=6, epochs=2, batch_size=16, random_state=0, verbose=False)


def test_event_spans_group_runs_at_most_gap_points_apart():
    labels = np.array([1, 1, 0, 0, 1, 0, 0, 0, 1, 0])
    assert event_spans(labels, 0) == [[(0, 2)], [(4, 5)], [(8, 9)]]
    assert event_spans(labels, 2) == [[(0, 2), (4, 5)], [(8, 9)]]  # 2 points between, then 3
    assert event_spans(labels, 3) == [[(0, 2), (4, 5), (8, 9)]]
    assert event_spans(np.zeros(5), 10) == []


def test_find_events_with_a_gap_keeps_the_labels_and_describes_the_flagged_points():
    scores = np.array([0, 5, 6, 0, 0, 9, 0, 0, 0, 0, 4, 0], dtype=float)
    vectors = np.zeros((12, 2))
    vectors[[1, 2, 5], 0] = 3.0  # the flagged points' errors are in feature a
    vectors[3:5, 1] = 100.0  # the unflagged points between are not part of what the event says
    em = ErrorModel("mean")
    em.mean_, em.scale_ = np.zeros(2), np.ones(2)
    plain = find_events(scores, 1.0, vectors, em, ["a", "b"])
    grouped = find_events(scores, 1.0, vectors, em, ["a", "b"], gap=2)
    np.testing.assert_array_equal(grouped.labels, plain.labels)  # labels stay per point
    assert [(e["start"], e["end"], e["peak"]) for e in plain.events] == [(1, 3, 2), (5, 6, 5), (10, 11, 10)]
    assert [(e["start"], e["end"], e["peak"], e["peak_score"]) for e in grouped.events] == [(1, 6, 5, 9.0),
                                                                                           (10, 11, 10, 4.0)]
    assert grouped.events[0]["top_features"] == ["a", "b"]


def test_the_streamed_events_follow_the_same_rule_across_blocks():
    rng = np.random.default_rng(0)
    scores = np.where(rng.random(400) < 0.06, 5.0, 0.0) * rng.random(400) + rng.random(400)
    vectors = rng.random((400, 3))
    em = ErrorModel("mean")
    em.mean_, em.scale_ = np.zeros(3), np.ones(3)
    for gap in (0, 3, 12):
        ref = find_events(scores, 1.2, vectors, em, ["a", "b", "c"], gap=gap).events
        ev = _Events(em, ["a", "b", "c"], gap=gap)
        for start in range(0, 400, 37):  # blocks that cut runs and gaps
            block = slice(start, start + 37)
            ev.update((scores[block] > 1.2).astype(int), scores[block], vectors[block],
                      np.arange(start, start + 37)[:37], start)
        ev.close()
        assert len(ref) > 3
        assert [(e["start"], e["end"], e["peak"], e["top_features"]) for e in ev.events] == \
            [(e["start"], e["end"], e["peak"], e["top_features"]) for e in ref]


@pytest.fixture(scope="module")
def fitted():
    rng = np.random.default_rng(1)
    t = np.arange(1600)
    x = np.stack([np.sin(t * 0.11), np.cos(t * 0.07)], 1) + 0.05 * rng.standard_normal((1600, 2))
    det = LSTMAnomalyDetector(autoencoder=LSTMAutoencoder(**TINY), window=20, holdout=0.3).fit_series(x[:800])
    x = x.copy()
    x[1000:1004, 0] += 3.0  # one anomaly in two parts, 12 points apart
    x[1016:1020, 0] += 3.0
    x[1300, 1] += 4.0
    return det, x.astype(np.float32)


def test_the_default_gap_is_two_windows_and_groups_one_anomaly_into_one_event(fitted):
    det, x = fitted
    assert det.event_gap == "auto" and det.event_gap_points == 40
    assert LSTMAnomalyDetector().event_gap_points == 0  # no window: nothing to measure the gap in
    assert LSTMAnomalyDetector(window=10, event_gap=7).event_gap_points == 7
    grouped = det.detect_series(x)
    runs = copy.deepcopy(det).set_params(event_gap=None).detect_series(x)
    np.testing.assert_array_equal(grouped.labels, runs.labels)
    assert len(runs.events) > len(grouped.events)
    near = [e for e in grouped.events if e["start"] <= 1019 and e["end"] >= 1000]
    assert len(near) == 1 and near[0]["start"] <= 1000 and near[0]["end"] >= 1020
    assert any(e["start"] <= 1300 < e["end"] for e in grouped.events)


def test_a_streamed_series_has_the_in_memory_events(fitted, tmp_path):
    det, x = fitted
    np.save(tmp_path / "x.npy", x)
    ref = det.detect_series(x)
    stream = DetectionStream(det, open_source(tmp_path / "x.npy", chunk_rows=50))
    frames = pd.concat(list(stream.frames()), ignore_index=True)
    np.testing.assert_array_equal(frames["anomaly"].to_numpy(), ref.labels)
    assert [(e["start"], e["end"], e["peak"]) for e in stream.events] == \
        [(e["start"], e["end"], e["peak"]) for e in ref.events]


def test_events_never_span_two_sequences(fitted, tmp_path):
    det, x = fitted
    ids = np.repeat(["a", "b"], 800)
    x = x.copy()
    x[795:800, 0] += 3.0  # the end of sequence a and the start of b: 5 points apart, far below the gap
    x[800:803, 0] += 3.0
    pd.DataFrame({"id": ids, "f0": x[:, 0], "f1": x[:, 1]}).to_parquet(tmp_path / "s.parquet")
    stream = DetectionStream(det, open_source(tmp_path / "s.parquet", id_column="id", chunk_rows=64))
    list(stream.frames())
    assert not any(e["start"] < 800 < e["end"] for e in stream.events)
    assert any(e["end"] == 800 for e in stream.events) and any(e["start"] == 800 for e in stream.events)


@pytest.mark.parametrize("value,match", [("wide", r"event_gap='wide' is not valid; it must be 'auto', an integer >= 0"),
                                         (-1, r"event_gap=-1 is not valid"), (2.5, r"event_gap=2.5 is not valid")])
def test_bad_event_gap(value, match):
    with pytest.raises(ValueError, match=match):
        LSTMAnomalyDetector(window=10, event_gap=value).fit_series(np.zeros((200, 1)))


def test_a_detector_saved_before_event_gap_loads_with_one_event_per_run(fitted, tmp_path):
    det, x = fitted
    det.save(tmp_path / "d")
    config = json.loads((tmp_path / "d" / "config.json").read_text())
    assert config["params"]["event_gap"] == "auto"
    del config["params"]["event_gap"]
    (tmp_path / "d" / "config.json").write_text(json.dumps(config))
    old = LSTMAnomalyDetector.load(tmp_path / "d")
    assert old.event_gap is None and old.event_gap_points == 0


def test_command_line_event_gap(tmp_path):
    from typer.testing import CliRunner

    from lstmae.cli import app

    rng = np.random.default_rng(0)
    t = np.arange(600)
    pd.DataFrame({"a": np.sin(t * 0.1) + 0.05 * rng.standard_normal(600)}).to_csv(tmp_path / "s.csv", index=False)
    args = ["train", tmp_path / "s.csv", "--detector", "--window", 16, "--epochs", 8, "--hidden-size", 8, "-q",
            "--event-gap", 5, "-o", tmp_path / "det"]
    r = CliRunner().invoke(app, [str(a) for a in args])
    assert r.exit_code == 0, r.output
    assert json.loads((tmp_path / "det" / "config.json").read_text())["params"]["event_gap"] == 5
    r = CliRunner().invoke(app, ["info", str(tmp_path / "det")])
    assert r.exit_code == 0 and "event gap" in r.output and "5 points" in r.output, r.output
    x = np.sin(t * 0.1)
    x[400:404] += 4.0  # two bumps, 9 points apart: flagged as runs 396-406 and 409-419 (measured)
    x[413:417] += 4.0
    pd.DataFrame({"a": x}).to_csv(tmp_path / "new.csv", index=False)
    counts = {}
    for gap in (None, 0, 20):
        extra = [] if gap is None else ["--event-gap", str(gap)]
        r = CliRunner().invoke(app, ["detect", str(tmp_path / "det"), str(tmp_path / "new.csv"), "-q", "-o",
                                     str(tmp_path / "s.csv"), "--events", str(tmp_path / "e.csv"), *extra])
        assert r.exit_code == 0, r.output
        ev = pd.read_csv(tmp_path / "e.csv")
        counts[gap] = len(ev[(ev["end"] >= 400) & (ev["start"] <= 416)])
    assert counts == {None: 1, 0: 2, 20: 1}  # the saved gap (5) joins the two runs, 0 keeps them apart
    r = CliRunner().invoke(app, ["detect", str(tmp_path / "det"), str(tmp_path / "new.csv"), "--event-gap", "-1"])
    assert r.exit_code == 2 and "--event-gap" in r.output
    r = CliRunner().invoke(app, [str(a) for a in args[:-2]] + ["--event-gap", "wide", "-o", str(tmp_path / "d2")])
    assert r.exit_code == 2
    assert "--event-gap 'wide' is not valid; it must be 'auto', an integer >= 0 or none" in r.output


def test_event_wise_metrics_count_events_as_the_detector_reports_them():
    from lstmae.metrics import detection_metrics, eventwise_prf

    labels = np.zeros(60, dtype=int)
    labels[10:20] = 1  # one true anomaly
    flags = np.zeros(60, dtype=int)
    flags[[8, 12, 16]] = 1  # three runs on it (8 is just before it)
    flags[40] = flags[44] = 1  # two false runs, 3 points apart
    assert eventwise_prf(labels, flags) == pytest.approx((2 / 5, 1.0, 2 * 0.4 / 1.4))
    assert eventwise_prf(labels, flags, event_gap=3) == pytest.approx((1 / 2, 1.0, 2 * 0.5 / 1.5))
    assert eventwise_prf(labels, flags, event_gap=30) == pytest.approx((1.0, 1.0, 1.0))  # one event, 8-45
    gap0 = detection_metrics(labels, flags.astype(float), flags)
    gap3 = detection_metrics(labels, flags.astype(float), flags, event_gap=3)
    assert gap3["point_f1"] == gap0["point_f1"] and gap3["event_precision"] == 0.5 and gap0["event_precision"] == 0.4


def test_command_line_evaluate_with_the_detectors_event_gap(tmp_path):
    from typer.testing import CliRunner

    from lstmae.cli import app

    labels = np.zeros(60, dtype=int)
    labels[10:20] = 1
    flags = np.zeros(60, dtype=int)
    flags[[8, 12, 16, 40, 44]] = 1
    pd.DataFrame({"score": flags * 1.0, "anomaly": flags, "label": labels}).to_csv(tmp_path / "s.csv", index=False)
    out = {}
    for gap in ("0", "3"):
        r = CliRunner().invoke(app, ["evaluate", str(tmp_path / "s.csv"), "--event-gap", gap, "-o",
                                     str(tmp_path / f"m{gap}.json")])
        assert r.exit_code == 0, r.output
        out[gap] = json.loads((tmp_path / f"m{gap}.json").read_text())
    assert out["0"]["event_precision"] == 0.4 and out["3"]["event_precision"] == 0.5
    assert out["0"]["point_f1"] == out["3"]["point_f1"]
