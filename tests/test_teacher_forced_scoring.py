"""Teacher-forced reconstruction (``teacher_forcing="always"``) as an anomaly score, and the moving mean of the
point errors (``smoothing``) that keeps its per-point noise from raising events (issue 18)."""
import json

import numpy as np
import pytest

from lstmae import LSTMAnomalyDetector, LSTMAutoencoder
from lstmae.data.synthetic import make_sines
from lstmae.scoring import moving_mean

W = 24


def tf_autoencoder(**kw):
    return LSTMAutoencoder(hidden_size=16, epochs=12, learning_rate=0.01, batch_size=64, random_state=0,
                           conditional=True, teacher_forcing="always", verbose=False, **kw)


@pytest.fixture(scope="module")
def clean():
    return make_sines(n_points=1200, anomaly_fraction=0.0, random_state=3).series


@pytest.fixture(scope="module")
def tf_detector(clean):
    return LSTMAnomalyDetector(autoencoder=tf_autoencoder(), window=W, smoothing=9).fit_series(clean)


def test_moving_mean_numbers():
    x = np.array([1.0, 2.0, np.nan, 4.0, 5.0])
    np.testing.assert_allclose(moving_mean(x, 3), [1.5, 1.5, 3.0, 4.5, 4.5])  # NaN-aware, fewer at the ends
    np.testing.assert_allclose(moving_mean(x[:, None], 2)[:, 0], [1.0, 1.5, 2.0, 4.0, 4.5])  # the point before
    assert np.isnan(moving_mean(np.array([np.nan, np.nan]), 3)).all()
    assert moving_mean(x, None) is x and moving_mean(x, 1) is x
    y = np.random.default_rng(0).standard_normal((50, 3))
    np.testing.assert_allclose(moving_mean(y, 5)[2:-2], np.stack([y[i - 2:i + 3].mean(0) for i in range(2, 48)]))
    np.testing.assert_array_equal(moving_mean(y, 5, chunk=7), moving_mean(y, 5))  # in pieces: the same bits


def test_smoothing_is_the_moving_mean_of_the_point_errors(tf_detector, clean):
    smoothed = tf_detector.detect_series(clean)
    raw = LSTMAnomalyDetector(autoencoder=tf_autoencoder(), window=W, smoothing=None)
    raw.autoencoder_, raw.error_model_, raw.feature_names_ = (tf_detector.autoencoder_, tf_detector.error_model_,
                                                             tf_detector.feature_names_)
    raw.set_threshold(tf_detector.threshold_)
    errors = raw.detect_series(clean).errors
    np.testing.assert_allclose(smoothed.errors, moving_mean(errors, 9), rtol=1e-10)
    np.testing.assert_allclose(smoothed.scores, tf_detector.error_model_.score(moving_mean(errors, 9)), rtol=1e-10)
    # the per-point noise the windows do not average out: smoothing narrows the spread of the scores
    assert np.nanstd(smoothed.scores) < 0.6 * np.nanstd(raw.detect_series(clean).scores)


@pytest.mark.parametrize("stride", [1, 5])
def test_teacher_forced_smoothed_scores_raise_no_event_on_clean_data(clean, stride):
    det = LSTMAnomalyDetector(autoencoder=tf_autoencoder(), window=W, stride=stride, smoothing=9).fit_series(clean)
    assert det.detect_series(clean).events == []


def test_teacher_forced_scoring_finds_a_spike_at_its_point(tf_detector, clean):
    x = clean.copy()
    x[1000, 1] += 3.0
    found = tf_detector.detect_series(x)
    assert len(found.events) == 1, found.events
    event = found.events[0]
    assert event["start"] <= 1000 <= event["end"] and event["end"] - event["start"] <= 12
    assert event["top_features"][0] == "1"
    assert found.scores[1000] > 2 * tf_detector.threshold_  # the point itself, not only the windows around it


def test_teacher_forcing_and_smoothing_round_trip(tf_detector, clean, tmp_path):
    tf_detector.save(tmp_path / "det")
    loaded = LSTMAnomalyDetector.load(tmp_path / "det")
    assert loaded.smoothing == 9 and loaded.autoencoder_.teacher_forcing == "always"
    np.testing.assert_allclose(loaded.score_series(clean), tf_detector.score_series(clean), rtol=1e-6)


@pytest.mark.parametrize("width", [2, 5, 9])
def test_smooth_points_across_blocks_and_sequences_equals_the_moving_mean_in_memory(width):
    from lstmae.streaming import PointBlock, smooth_points

    rng = np.random.default_rng(1)
    seqs = [rng.standard_normal((n, 2)) for n in (23, 3, 17)]
    seqs[0][5] = np.nan
    blocks, start = [], 0
    for seq in seqs:  # blocks of 1-6 points, the first of each sequence marked
        i = 0
        while i < len(seq):
            n = int(rng.integers(1, 7))
            blocks.append(PointBlock(seq[i:i + n], start + i, labels=np.arange(start + i, start + i + len(seq[i:i + n])),
                                     new_sequence=i == 0))
            i += n
        start += len(seq)
    out = list(smooth_points(iter(blocks), width))
    np.testing.assert_array_equal(np.concatenate([b.values for b in out]),
                                  np.concatenate([moving_mean(seq, width) for seq in seqs]))  # to the last bit
    np.testing.assert_array_equal(np.concatenate([b.labels for b in out]), np.arange(start))
    assert [b.start for b in out if b.new_sequence] == [0, 23, 26]
    assert all(b.start == (b.labels[0]) for b in out)


def test_a_streamed_series_is_smoothed_as_in_memory(tf_detector, clean, tmp_path):
    from lstmae.data.sources import open_source
    from lstmae.streaming import DetectionStream

    x = clean.copy()
    x[1000, 1] += 3.0
    path = tmp_path / "s.npy"
    np.save(path, x.astype(np.float32))
    in_memory = tf_detector.detect_series(x.astype(np.float32))
    np.testing.assert_array_equal(tf_detector.score_series(path), in_memory.scores)
    stream = DetectionStream(tf_detector, open_source(path))
    scores = np.concatenate([s for _, _, s, _ in stream.blocks()])
    np.testing.assert_array_equal(scores, in_memory.scores)
    assert [(e["start"], e["end"]) for e in stream.events] == [(e["start"], e["end"]) for e in in_memory.events]
    # the threshold fitted on a stream (one pass, exact moments) is the in-memory one
    np.save(tmp_path / "clean.npy", clean.astype(np.float32))
    streamed = LSTMAnomalyDetector(autoencoder=tf_autoencoder(), window=W, smoothing=9).fit_series(
        tmp_path / "clean.npy")
    assert streamed.threshold_ == pytest.approx(tf_detector.threshold_, rel=1e-5)


@pytest.mark.parametrize("kwargs,match", [({"smoothing": 0}, r"smoothing"), ({"smoothing": 2.5}, r"smoothing")])
def test_bad_smoothing(kwargs, match, clean):
    with pytest.raises(ValueError, match=match):
        LSTMAnomalyDetector(autoencoder=tf_autoencoder(), window=W, **kwargs).fit_series(clean[:300])


def test_command_line_teacher_forcing_and_smoothing(clean, tmp_path):
    import pandas as pd
    from typer.testing import CliRunner

    from lstmae.cli import app

    pd.DataFrame(clean, columns=["a", "b", "c"]).to_csv(tmp_path / "s.csv", index=False)
    args = ["train", tmp_path / "s.csv", "--detector", "--window", W, "--epochs", 2, "--hidden-size", 8, "-q",
            "--conditional", "--teacher-forcing", "always", "--smoothing", 5, "-o", tmp_path / "det"]
    r = CliRunner().invoke(app, [str(a) for a in args])
    assert r.exit_code == 0, r.output
    config = json.loads((tmp_path / "det" / "config.json").read_text())
    assert config["params"]["smoothing"] == 5 and config["model"]["teacher_forcing"] == "always"
    r = CliRunner().invoke(app, ["info", str(tmp_path / "det")])
    assert r.exit_code == 0 and "teacher_forcing" in r.output and "5 points" in r.output, r.output
    r = CliRunner().invoke(app, ["train", str(tmp_path / "s.csv"), "--window", "24", "--teacher-forcing", "always", "-q",
                                 "-o", str(tmp_path / "m")])
    assert r.exit_code == 2 and "no conditional decoder; set --conditional, or --teacher-forcing" in r.output


def test_the_default_detector_scores_teacher_forced_and_smooths_over_9_points(tf_detector, clean, tmp_path):
    from lstmae.detector import default_autoencoder

    ae = default_autoencoder()
    assert (ae.conditional, ae.teacher_forcing, ae.scale) == (True, "always", "robust")
    plain = default_autoencoder(series=False)  # sets of sequences: the plain reconstruction (measured better)
    assert (plain.conditional, plain.teacher_forcing, plain.scale) == (False, "train", "robust")
    assert LSTMAnomalyDetector().smoothing == "auto" and LSTMAnomalyDetector().point_smoothing == 9
    plain = LSTMAutoencoder(hidden_size=8)
    assert LSTMAnomalyDetector(autoencoder=plain).point_smoothing is None  # "auto": only with teacher forcing
    assert LSTMAnomalyDetector(autoencoder=plain, smoothing=4).point_smoothing == 4
    # a detector saved before `smoothing` existed loads without it, and scores as it did
    tf_detector.save(tmp_path / "old")
    config = json.loads((tmp_path / "old" / "config.json").read_text())
    del config["params"]["smoothing"]
    (tmp_path / "old" / "config.json").write_text(json.dumps(config))
    old = LSTMAnomalyDetector.load(tmp_path / "old")
    assert old.smoothing is None and old.point_smoothing is None
    unsmoothed = LSTMAnomalyDetector.load(tmp_path / "old").set_params(smoothing=None).score_series(clean)
    np.testing.assert_array_equal(old.score_series(clean), unsmoothed)


def test_the_default_detector_picks_its_autoencoder_by_what_it_fits(clean):
    from lstmae.data.windows import sliding_windows

    small = dict(hidden_size=8, epochs=2, random_state=0)
    on_series = LSTMAnomalyDetector(window=W, **small).fit_series(clean[:600])
    on_sequences = LSTMAnomalyDetector(**small).fit(sliding_windows(clean[:600], W, stride=8))
    assert on_series.autoencoder_.teacher_forcing == "always" and on_series.point_smoothing == 9
    assert not on_sequences.autoencoder_.conditional and on_sequences.point_smoothing is None
