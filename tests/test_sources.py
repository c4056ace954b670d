"""Data larger than memory (lstmae.data.sources): chunked reading across files and row groups, windows
on the fly, the bounded shuffle buffer, streaming statistics, streamed fit / score / CLI equal to the
in-memory path, and clear errors naming the file and row group."""
import os

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import torch
from typer.testing import CliRunner

from lstmae import LSTMAnomalyDetector, LSTMAutoencoder
from lstmae.checkpoint import CheckpointError
from lstmae.cli import app
from lstmae.data.scaling import SequenceScaler
from lstmae.data.sources import ArraySource, Reservoir, TableSource, WindowStream, fit_scaler, iter_windows, open_source, should_stream
from lstmae.streaming import DetectionStream, iter_points, residual_stats, write_frames
from lstmae.data.windows import sliding_windows
from lstmae.scoring import windowed_to_points

pytestmark = pytest.mark.usefixtures("one_thread")
TINY = dict(hidden_size=6, epochs=2, batch_size=16, random_state=0)


def make_series(n=1500, seed=0, n_features=3):
    rng = np.random.default_rng(seed)
    t = np.arange(n)
    x = np.stack([np.sin(t * (0.05 + 0.02 * k)) for k in range(n_features)], 1)
    return (x + 0.05 * rng.standard_normal(x.shape)).astype(np.float32)


def write_parquet_dir(path, x, splits=(700,), row_group=250, time=True, labels=None, extra=None):
    """`x` as files part-1, part-2, ... (split at `splits`) with row groups of `row_group` rows."""
    path.mkdir(parents=True, exist_ok=True)
    bounds = [0, *splits, len(x)]
    for i, (a, b) in enumerate(zip(bounds[:-1], bounds[1:])):
        cols = {}
        if time:
            cols["t"] = np.arange(a, b)
        cols.update({f"f{k}": x[a:b, k] for k in range(x.shape[1])})
        if labels is not None:
            cols["label"] = labels[a:b]
        for k, v in (extra or {}).items():
            cols[k] = v[a:b]
        pq.write_table(pa.table(cols), path / f"part-{i + 1}.parquet", row_group_size=row_group)
    return path


@pytest.fixture(scope="module")
def series():
    return make_series()


@pytest.fixture(scope="module")
def pq_dir(series, tmp_path_factory):
    return write_parquet_dir(tmp_path_factory.mktemp("src") / "data", series)


# ------------------------------------------------------------------------------ reading
def test_chunks_cross_files_and_row_groups_in_order(pq_dir, series):
    src = open_source(pq_dir, chunk_rows=96)
    assert isinstance(src, TableSource) and len(src) == len(series)
    assert src.feature_names == ["f0", "f1", "f2"] and src.roles["time_column"] == "t"  # recognised, not a feature
    chunks = list(src.chunks())
    assert max(len(c) for c in chunks) <= 96
    assert [c.start for c in chunks] == list(np.cumsum([0] + [len(c) for c in chunks[:-1]]))
    np.testing.assert_array_equal(np.concatenate([c.values for c in chunks]), series)
    np.testing.assert_array_equal(np.concatenate([c.time for c in chunks]), np.arange(len(series)))
    assert "part-2.parquet' row group 3" in chunks[-1].where and chunks[0].new_sequence
    part = np.concatenate([c.values for c in src.chunks(640, 910)])  # a range that seeks past row groups
    np.testing.assert_array_equal(part, series[640:910])


def test_a_directory_of_csv_files_reads_like_parquet(tmp_path, series):
    d = tmp_path / "csv"
    d.mkdir()
    labels = (np.arange(len(series)) % 100 == 0).astype(int)
    for i, (a, b) in enumerate([(0, 600), (600, 1500)]):
        pd.DataFrame({"time": np.arange(a, b), "x": series[a:b, 0], "y": series[a:b, 1],
                      "label": labels[a:b]}).to_csv(d / f"p{i}.csv", index=False)
    src = open_source(d, chunk_rows=128)
    assert src.feature_names == ["x", "y"] and src.roles == {"time_column": "time", "id_column": None,
                                                          "label_column": "label"}
    chunks = list(src.chunks())
    np.testing.assert_allclose(np.concatenate([c.values for c in chunks]), series[:, :2], rtol=1e-6)
    np.testing.assert_array_equal(np.concatenate([c.labels for c in chunks]), labels)


def test_files_are_read_in_natural_name_order(tmp_path):
    d = tmp_path / "d"
    d.mkdir()
    for i in (1, 2, 10):  # lexicographic order would read part-10 before part-2
        pq.write_table(pa.table({"v": np.full(3, float(i), np.float32)}), d / f"part-{i}.parquet")
    (d / "_SUCCESS").write_text("")
    values = np.concatenate([c.values for c in open_source(d).chunks()])[:, 0]
    np.testing.assert_array_equal(values, [1, 1, 1, 2, 2, 2, 10, 10, 10])


def test_features_by_name_and_label_carried_never_a_feature(tmp_path, series):
    labels = np.zeros(len(series), int)
    d = write_parquet_dir(tmp_path / "d", series, labels=labels)
    src = open_source(d, columns=["f2", "f0"])
    assert src.feature_names == ["f2", "f0"] and src.roles["label_column"] == "label"
    np.testing.assert_array_equal(np.concatenate([c.values for c in src.chunks()]), series[:, [2, 0]])
    with pytest.raises(ValueError, match="'nope' not found"):
        open_source(d, columns=["nope"])
    with pytest.raises(ValueError, match="label_column; it cannot also be a feature"):
        open_source(d, columns=["f0", "label"], label_column="label")
    assert open_source(d, columns=["f0", "label"]).roles["label_column"] is None  # chosen as a feature: as read_table


def test_memmap_and_npy_sources(tmp_path, series):
    path = tmp_path / "x.npy"
    np.save(path, series)
    src = open_source(str(path), chunk_rows=100)
    assert isinstance(src, ArraySource) and isinstance(src.array, np.memmap) and len(src) == len(series)
    np.testing.assert_array_equal(np.concatenate([c.values for c in src.chunks()]), series)
    mm = np.memmap(tmp_path / "raw.f32", dtype=np.float32, mode="w+", shape=series.shape)
    mm[:] = series
    mm.flush()
    src = open_source(np.memmap(tmp_path / "raw.f32", dtype=np.float32, mode="r", shape=series.shape))
    np.testing.assert_array_equal(np.concatenate([c.values for c in src.chunks()]), series)
    assert src.fingerprint()["path"].endswith("raw.f32")


# ------------------------------------------------------------------------------ errors naming the file
def test_a_file_out_of_time_order_names_the_file_row_group_and_row(tmp_path, series):
    d = write_parquet_dir(tmp_path / "d", series)
    t = np.arange(700, 1500)
    t[420] = 3  # inside part-2, row group 1 (rows 250-499 of the file)
    pq.write_table(pa.table({"t": t, **{f"f{k}": series[700:, k] for k in range(3)}}), d / "part-2.parquet",
                   row_group_size=250)
    with pytest.raises(ValueError, match=r"part-2\.parquet' row group 1: time column 't' goes back in time at row "
                                         r"420 of the file"):
        list(open_source(d, chunk_rows=64).chunks())


def test_time_order_is_checked_across_files(tmp_path, series):
    d = write_parquet_dir(tmp_path / "d", series)
    os.rename(d / "part-1.parquet", d / "part-3.parquet")  # now read after part-2: time goes back
    with pytest.raises(ValueError, match=r"part-3\.parquet' row group 0: time column 't' goes back in time at row 0"):
        list(open_source(d).chunks())


def test_a_corrupt_file_or_row_group_mid_stream_names_it(tmp_path, series):
    d = write_parquet_dir(tmp_path / "d", series)
    pq.write_table(pa.table({"t": np.arange(1500, 2500), **{f"f{k}": np.zeros(1000, np.float32) for k in range(3)}}),
                   d / "part-3.parquet", row_group_size=250, compression="snappy", use_dictionary=False)
    src = open_source(d)
    raw = bytearray((d / "part-3.parquet").read_bytes())
    meta = pq.ParquetFile(d / "part-3.parquet").metadata
    col = meta.row_group(2).column(1)
    start = col.data_page_offset
    raw[start: start + 64] = b"\xff" * 64  # the page header of row group 2's first feature
    (d / "part-3.parquet").write_bytes(bytes(raw))
    with pytest.raises(ValueError, match=r"part-3\.parquet' row group 2"):
        list(src.chunks())
    (d / "part-4.parquet").write_bytes(b"PAR1 this is not parquet at all PAR1")
    with pytest.raises(ValueError, match=r"part-4\.parquet"):
        open_source(d)


def test_missing_values_are_refused_with_the_place_or_filled(tmp_path, series):
    x = series.copy()
    x[900, 1] = np.nan
    d = write_parquet_dir(tmp_path / "d", x)
    with pytest.raises(ValueError, match=r"part-2\.parquet' row group 0: column 'f1' has 1 missing value \(first at "
                                         r"row 200\)"):
        list(open_source(d).chunks())
    filled = np.concatenate([c.values for c in open_source(d, fill="ffill", chunk_rows=200).chunks()])
    assert filled[900, 1] == x[899, 1]  # carried over a chunk boundary (row 900 starts a chunk)
    with pytest.raises(ValueError, match="interpolate"):
        open_source(d, fill="interpolate")


def test_sequences_by_id_must_be_contiguous(tmp_path, series):
    ids = np.repeat(["a", "b", "c"], 500)
    d = write_parquet_dir(tmp_path / "d", series, extra={"dev": ids}, time=False)
    src = open_source(d, id_column="dev", chunk_rows=128)
    assert src.kind == "sequences" and src.sequence_lengths() == [("a", 0, 500), ("b", 500, 500), ("c", 1000, 500)]
    w = np.concatenate([b.windows for b in iter_windows(src, 40, 7)])
    ref = np.concatenate([sliding_windows(series[a:a + 500], 40, 7) for a in (0, 500, 1000)])
    np.testing.assert_array_equal(w, ref)  # no window spans two sequences
    bad = write_parquet_dir(tmp_path / "bad", series, extra={"dev": np.tile(np.repeat(["a", "b"], 250), 3)},
                            time=False)
    with pytest.raises(ValueError, match="rows of id 'a'.*not contiguous"):
        list(open_source(bad, id_column="dev").chunks())


# ------------------------------------------------------------------------------ windows
@pytest.mark.parametrize("window,stride,horizon,block", [(50, 1, 0, 64), (64, 5, 3, 7), (10, 37, 0, 4096),
                                                         (1, 1, 0, 1000)])
def test_windows_spanning_chunks_equal_sliding_windows(pq_dir, series, window, stride, horizon, block):
    src = open_source(pq_dir, chunk_rows=33)
    blocks = list(iter_windows(src, window + horizon, stride, block=block))
    got = np.concatenate([b.windows for b in blocks])
    ref = sliding_windows(series, window + horizon, stride)
    np.testing.assert_array_equal(got, ref)
    assert [b.index for b in blocks] == list(np.cumsum([0] + [len(b.windows) for b in blocks[:-1]]))
    np.testing.assert_array_equal(np.concatenate([b.rows for b in blocks]), np.arange(len(ref)) * stride)
    tail = np.concatenate([b.windows for b in iter_windows(src, window + horizon, stride, first=len(ref) // 2)])
    np.testing.assert_array_equal(tail, ref[len(ref) // 2:])  # read from the middle: seeks, same windows


def index_stream(n, **kw):
    """A stream whose window i holds the value i (window 1, stride 1, no scaling)."""
    return WindowStream(ArraySource(np.arange(n, dtype=np.float32), chunk_rows=13), 1, 1, 0, None, **kw)


def order(stream, seed):
    return np.concatenate([b["x"][:, 0, 0].numpy() for b in stream.batches(torch.Generator().manual_seed(seed))])


def test_the_shuffle_buffer_is_a_seeded_permutation():
    stream = index_stream(500, batch_size=7, shuffle_buffer=40)
    a, b, c = order(stream, 1), order(stream, 1), order(stream, 2)
    assert sorted(a.tolist()) == list(range(500))  # every window once
    np.testing.assert_array_equal(a, b)  # repeatable per seed
    assert not np.array_equal(a, c) and not np.array_equal(a, np.arange(500))
    sizes = [len(x["x"]) for x in stream.batches(torch.Generator().manual_seed(1))]
    assert set(sizes[:-1]) == {7} and sum(sizes) == 500
    assert np.abs(np.argsort(a) - np.arange(500)).max() < 200  # a bounded buffer only shuffles locally


def test_a_buffer_holding_every_window_gives_the_in_memory_order():
    stream = index_stream(300, batch_size=8, shuffle_buffer=300)
    np.testing.assert_array_equal(order(stream, 5), torch.randperm(300, generator=torch.Generator().manual_seed(5)))
    in_order = np.concatenate([b["x"][:, 0, 0].numpy() for b in stream.batches(None)])
    np.testing.assert_array_equal(in_order, np.arange(300))


def test_validation_part_is_the_last_windows_read_by_seeking(pq_dir, series):
    src = open_source(pq_dir, chunk_rows=50)
    ws = WindowStream(src, 20, 3, 2, None, batch_size=16)
    val = ws.part(ws.total - 30, ws.total)
    got = np.concatenate([torch.cat([b["x"], b["future"]], 1).numpy() for b in val.batches(None)])
    np.testing.assert_array_equal(got, sliding_windows(series, 22, 3)[-30:])


# ------------------------------------------------------------------------------ statistics
@pytest.mark.parametrize("method", ["standard", "minmax"])
@pytest.mark.parametrize("window,stride,horizon", [(30, 1, 0), (25, 4, 3), (10, 40, 0)])
def test_the_streaming_scaler_equals_the_in_memory_fit(pq_dir, series, method, window, stride, horizon):
    src = open_source(pq_dir, chunk_rows=71)
    got = fit_scaler(src, window, stride, horizon, method)
    windows = sliding_windows(series, window + horizon, stride)[:, :window]
    ref = SequenceScaler.fit(windows, np.ones(windows.shape[:2], bool), method)
    np.testing.assert_allclose(got.offset, ref.offset, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(got.scale, ref.scale, rtol=1e-12)


def test_the_reservoir_is_exact_while_it_fits_and_uniform_beyond():
    r = Reservoir(1000, seed=0)
    for a in range(0, 800, 90):
        r.add(np.arange(a, min(a + 90, 800)))
    assert r.complete and np.array_equal(r.values(), np.arange(800))
    r = Reservoir(1000, seed=0)
    for a in range(0, 100_000, 4096):
        r.add(np.arange(a, min(a + 4096, 100_000)))
    v = r.values()
    assert not r.complete and len(v) == 1000 and len(np.unique(v)) == 1000
    assert abs(v.mean() - 50_000) < 3_000  # uniform over the stream, not its start


# ------------------------------------------------------------------------------ fit and score
@pytest.fixture(scope="module")
def fitted_pair(pq_dir, series):
    """The same autoencoder fitted in memory and streamed from the Parquet directory."""
    params = dict(TINY, validation_split=0.2)
    mem = LSTMAutoencoder(**params).fit_series(series, 24, 3)
    streamed = LSTMAutoencoder(**params).fit_series(open_source(pq_dir, chunk_rows=100), 24, 3)
    return mem, streamed


def test_a_streamed_fit_equals_the_in_memory_fit(fitted_pair):
    mem, streamed = fitted_pair
    for k, v in mem.module_.state_dict().items():
        torch.testing.assert_close(streamed.module_.state_dict()[k], v)
    assert streamed.history_["train_loss"] == pytest.approx(mem.history_["train_loss"], rel=1e-6)
    assert streamed.history_["val_loss"] == pytest.approx(mem.history_["val_loss"], rel=1e-6)
    a, b = mem.residual_stats_, streamed.residual_stats_
    np.testing.assert_allclose(b.profile, a.profile, rtol=1e-6)
    np.testing.assert_allclose(b.score_quantiles, a.score_quantiles, rtol=1e-5)
    assert streamed.data_spec_.feature_names == ("f0", "f1", "f2") and streamed.data_spec_.window == 24


def test_residual_statistics_from_a_sample_stay_close(fitted_pair, pq_dir):
    _, ae = fitted_pair
    ws = WindowStream(open_source(pq_dir), 24, 3, 0, ae.scaler_, ae.batch_size)
    exact = residual_stats(ae, ws)
    sampled = residual_stats(ae, ws, sample_bytes=1 << 14)  # about 800 of the 11k steps
    np.testing.assert_allclose(sampled.profile, exact.profile, rtol=1e-9)
    np.testing.assert_allclose(sampled.feature_mean, exact.feature_mean, rtol=1e-9)
    np.testing.assert_allclose(sampled.feature_std, exact.feature_std, rtol=1e-6)
    assert sampled.score_mean == pytest.approx(exact.score_mean, rel=1e-9)
    assert sampled.score_std == pytest.approx(exact.score_std, rel=1e-6)
    q = np.linspace(0, 1, len(exact.score_quantiles))
    mid = (q > 0.05) & (q < 0.95)
    np.testing.assert_allclose(sampled.score_quantiles[mid], exact.score_quantiles[mid], rtol=0.1)


def test_a_small_shuffle_buffer_trains_and_is_repeatable(pq_dir):
    fit = lambda: LSTMAutoencoder(**TINY).fit_series(open_source(pq_dir, chunk_rows=100), 24, 3,  # noqa: E731
                                                     shuffle_buffer=64)
    a, b = fit(), fit()
    assert np.isfinite(a.history_["train_loss"]).all()
    for k, v in a.module_.state_dict().items():
        assert torch.equal(b.module_.state_dict()[k], v)


def test_streamed_scoring_equals_the_in_memory_path(fitted_pair, pq_dir, series):
    ae = fitted_pair[0]
    src = open_source(pq_dir, chunk_rows=77)
    np.testing.assert_array_equal(ae.transform_series(src), ae.transform_series(series))
    np.testing.assert_array_equal(ae.reconstruct_series(src, stride=5), ae.reconstruct_series(series, stride=5))
    fn = lambda w: ae.residuals(w)  # noqa: E731
    ref = windowed_to_points(fn, series, 24, 5, chunk=50)  # points carried over chunks of windows and of rows
    got = np.concatenate([b.values for b in iter_points(fn, src, 24, 5, chunk=50)])
    np.testing.assert_array_equal(got, ref)
    assert np.isnan(got[-1]).all() and not np.isnan(got[:-1]).any()  # (1500 - 24) % 5 = 1: the last point is uncovered


def test_a_memmap_fit_equals_the_array_fit(tmp_path, series):
    np.save(tmp_path / "x.npy", series)
    a = LSTMAutoencoder(**TINY).fit_series(series, 16, 4)
    b = LSTMAutoencoder(**TINY).fit_series(str(tmp_path / "x.npy"), 16, 4)
    c = LSTMAutoencoder(**TINY).fit_series(np.load(tmp_path / "x.npy", mmap_mode="r"), 16, 4)
    for k, v in a.module_.state_dict().items():
        torch.testing.assert_close(b.module_.state_dict()[k], v)
        torch.testing.assert_close(c.module_.state_dict()[k], v)


def test_events_across_chunk_boundaries_equal_detect_series(tmp_path):
    x = make_series(2000, seed=3)
    x[1190:1240, 1] += 4.0  # crosses the row group at 1200 and chunk boundaries
    det = LSTMAnomalyDetector(window=20, stride=2, holdout=0.3, **TINY).fit_series(x[:1000])
    d = write_parquet_dir(tmp_path / "d", x, splits=(1000,), row_group=200)
    ref = det.detect_series(x)
    stream = DetectionStream(det, open_source(d, chunk_rows=64), threshold=None)
    frames = pd.concat(list(stream.frames()), ignore_index=True)
    np.testing.assert_array_equal(frames["score"].to_numpy(), ref.scores)
    np.testing.assert_array_equal(frames["anomaly"].to_numpy(), ref.labels)
    assert len(ref.events) >= 1
    assert [(e["start"], e["end"], e["peak"], e["top_features"]) for e in stream.events] == \
        [(e["start"], e["end"], e["peak"], e["top_features"]) for e in ref.events]
    np.testing.assert_array_equal(det.score_series(str(d)), ref.scores)


@pytest.mark.parametrize("rule", ["k-sigma", "max", "max-sigma"])
def test_a_streamed_threshold_beyond_the_sample_is_the_in_memory_one(tmp_path, monkeypatch, rule):
    """More held-out points than the sample holds: the "mean" error model's k-sigma, max and max-sigma
    thresholds come from the running moments, exactly."""
    import lstmae.streaming

    x = make_series(3000, seed=5)
    d = write_parquet_dir(tmp_path / "d", x, time=False)
    params = dict(window=16, stride=4, holdout=0.6, threshold=rule, **TINY)
    a = LSTMAnomalyDetector(**params).fit_series(x)
    monkeypatch.setattr(lstmae.streaming, "SAMPLE_BYTES", 1)  # a sample of 1024 of the 1800 held-out points
    b = LSTMAnomalyDetector(**params).fit_series(str(d))
    assert b.threshold_rule == rule and b.threshold_ == pytest.approx(a.threshold_, rel=1e-5)


def test_a_stream_applies_the_rolling_threshold_across_chunks_as_detect_series(tmp_path):
    x = make_series(2000, seed=3)
    x[1000:, 0] += np.linspace(0.0, 3.0, 1000)  # drift after the training part
    x[1500:1510, 1] += 4.0
    det = LSTMAnomalyDetector(window=20, stride=2, holdout=0.3, adaptive_threshold=120, **TINY).fit_series(x[:1000])
    d = write_parquet_dir(tmp_path / "d", x, splits=(1000,), row_group=200)
    ref = det.detect_series(x)
    assert ref.labels.sum() < (ref.scores > det.threshold_).sum()  # the threshold moved
    stream = DetectionStream(det, open_source(d, chunk_rows=64))
    frames = pd.concat(list(stream.frames()), ignore_index=True)
    np.testing.assert_array_equal(frames["anomaly"].to_numpy(), ref.labels)
    assert [(e["start"], e["end"], e["peak"]) for e in stream.events] == [(e["start"], e["end"], e["peak"])
                                                                         for e in ref.events]
    fixed = DetectionStream(det, open_source(d, chunk_rows=64), threshold=det.threshold_)  # a given one is fixed
    flags = pd.concat(list(fixed.frames()), ignore_index=True)["anomaly"].to_numpy()
    np.testing.assert_array_equal(flags, (ref.scores > det.threshold_).astype(int))


def test_a_streamed_detector_fit_equals_the_in_memory_one(tmp_path, series):
    d = write_parquet_dir(tmp_path / "d", series, time=False)
    params = dict(window=20, stride=4, holdout=0.3, **TINY)
    a = LSTMAnomalyDetector(**params).fit_series(series)
    b = LSTMAnomalyDetector(**params).fit_series(str(d))
    assert b.threshold_ == pytest.approx(a.threshold_, rel=1e-6)
    np.testing.assert_allclose(b.error_model_.mean_, a.error_model_.mean_, rtol=1e-6)
    assert b.feature_names_ == ["f0", "f1", "f2"]


# ------------------------------------------------------------------------------ checkpoints
def test_stream_checkpoints_fingerprint_the_files_and_resume_bit_identically(tmp_path, series):
    d = write_parquet_dir(tmp_path / "d", series)
    full = LSTMAutoencoder(**dict(TINY, epochs=3)).fit_series(str(d), 24, 6)
    ck = tmp_path / "ck"
    LSTMAutoencoder(**TINY).fit_series(str(d), 24, 6, checkpoint_dir=ck)
    resumed = LSTMAutoencoder(**dict(TINY, epochs=3)).fit_series(str(d), 24, 6, checkpoint_dir=ck, resume=True)
    for k, v in full.module_.state_dict().items():
        assert torch.equal(resumed.module_.state_dict()[k], v)
    stat = os.stat(d / "part-2.parquet")
    os.utime(d / "part-2.parquet", ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))  # the data changed
    with pytest.raises(CheckpointError, match="stream.files"):
        LSTMAutoencoder(**dict(TINY, epochs=4)).fit_series(str(d), 24, 6, checkpoint_dir=ck, resume=True)


# ------------------------------------------------------------------------------ output and command line
def test_write_frames_writes_row_groups_atomically(tmp_path):
    frames = [pd.DataFrame({"t": np.arange(a, a + 10), "v": np.arange(a, a + 10) * 0.5}) for a in range(0, 50, 10)]
    n, cols = write_frames(tmp_path / "o.parquet", iter(frames), rows_per_group=20)
    assert n == 50 and cols == ["t", "v"] and pq.ParquetFile(tmp_path / "o.parquet").metadata.num_row_groups == 3
    pd.testing.assert_frame_equal(pd.read_parquet(tmp_path / "o.parquet"), pd.concat(frames, ignore_index=True))
    write_frames(tmp_path / "o.csv", iter(frames))
    pd.testing.assert_frame_equal(pd.read_csv(tmp_path / "o.csv"), pd.concat(frames, ignore_index=True))

    def broken():
        yield frames[0]
        raise RuntimeError("disk gone")

    with pytest.raises(RuntimeError):
        write_frames(tmp_path / "p.parquet", broken())
    assert not (tmp_path / "p.parquet").exists() and not list(tmp_path.glob(".tmp*"))
    with pytest.raises(ValueError, match=r"\.parquet .* or \.csv"):
        write_frames(tmp_path / "o.npy", iter(frames))


def test_should_stream_chooses_directories_and_large_files(tmp_path, pq_dir, monkeypatch):
    import lstmae.data.sources as sources

    small = next(pq_dir.iterdir())
    assert should_stream(str(pq_dir), None) and not should_stream(str(small), None)
    monkeypatch.setattr(sources, "STREAM_BYTES", 10)
    assert should_stream(str(small), None) and not should_stream(str(small), False)
    assert not should_stream("builtin:sines", None)


def test_cli_streams_train_and_detect_to_the_in_memory_results(tmp_path):
    """200k points: train and detect with --stream give the in-memory model and outputs (to float tolerance)."""
    n = 200_000
    t = np.arange(n)
    rng = np.random.default_rng(0)
    x = np.stack([np.sin(t * 0.05), np.cos(t * 0.031)], 1) + 0.05 * rng.standard_normal((n, 2))
    x[150_000:150_030] += 3
    labels = np.zeros(n, np.int64)
    labels[150_000:150_030] = 1
    path = tmp_path / "big.parquet"
    pq.write_table(pa.table({"t": t, "a": x[:, 0].astype(np.float32), "b": x[:, 1].astype(np.float32),
                             "label": labels}), path, row_group_size=30_000)
    run = lambda *a: CliRunner().invoke(app, [str(v) for v in a])  # noqa: E731
    train = ("train", path, "--window", 32, "--stride", 32, "--epochs", 1, "--hidden-size", 4, "--batch-size", 256,
             "--quiet")
    r1, r2 = run(*train, "-o", tmp_path / "mem"), run(*train, "-o", tmp_path / "str", "--stream")
    assert r1.exit_code == 0 and r2.exit_code == 0, r1.output + r2.output
    mem, streamed = LSTMAutoencoder.load(tmp_path / "mem"), LSTMAutoencoder.load(tmp_path / "str")
    for k, v in mem.module_.state_dict().items():
        torch.testing.assert_close(streamed.module_.state_dict()[k], v)
    assert streamed.data_spec_ == mem.data_spec_
    r1 = run("detect", tmp_path / "mem", path, "-o", tmp_path / "s1.parquet", "--events", tmp_path / "e1.csv", "-q")
    r2 = run("detect", tmp_path / "mem", path, "-o", tmp_path / "s2.parquet", "--events", tmp_path / "e2.csv",
             "--stream", "-q")
    assert r1.exit_code == 0 and r2.exit_code == 0, r1.output + r2.output
    a, b = pd.read_parquet(tmp_path / "s1.parquet"), pd.read_parquet(tmp_path / "s2.parquet")
    assert list(b.columns) == ["t", "score", "anomaly", "label"] and len(b) == n
    assert pq.ParquetFile(tmp_path / "s2.parquet").metadata.num_row_groups > 1  # written as it went
    pd.testing.assert_frame_equal(a, b)
    pd.testing.assert_frame_equal(pd.read_csv(tmp_path / "e1.csv"), pd.read_csv(tmp_path / "e2.csv"))
    r = run("detect", tmp_path / "mem", path, "-o", tmp_path / "s.npy", "--stream", "-q")
    assert r.exit_code == 2 and "streamed output" in r.output
