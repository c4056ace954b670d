"""Several processes, one model (torchrun + DistributedDataParallel on gloo), devices and precision.

The two-process runs start ``python -m torch.distributed.run`` in a subprocess (as a user
would), on a few hundred short windows for 2 epochs; the rest are in-process unit tests.
"""
import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from conftest import make_sines
from lstmae import LSTMAutoencoder
from lstmae import distributed as dist
from lstmae.cli import app
from lstmae.frames import describe
from lstmae.serialization import load_model

runner = CliRunner()
TRAIN = ["--window", "12", "--epochs", "2", "--hidden-size", "8", "--batch-size", "32", "--seed", "0",
         "--validation-split", "0.2"]
CUDA = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")


def _env(**extra):
    # one thread per process (torchrun does the same), and a short collective timeout for the tests
    return {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "LSTMAE_DIST_TIMEOUT": "30",
            "OMP_WAIT_POLICY": "PASSIVE", **extra}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def torchrun(nproc, *args):
    return [sys.executable, "-m", "torch.distributed.run", "--nproc-per-node", str(nproc), "--master-port",
            str(free_port()), "-m", "lstmae.cli", *map(str, args)]


@pytest.fixture(scope="module")
def series(tmp_path_factory):
    """400 points of a 2-feature series: 389 windows of 12 steps."""
    t = np.arange(400)
    values = np.c_[np.sin(t / 5), np.cos(t / 7)]
    path = tmp_path_factory.mktemp("ddp") / "series.csv"
    np.savetxt(path, values, delimiter=",", header="a,b", comments="")
    return path, values


# ------------------------------------------------------------------------------ the pieces, in process
def test_shard_order_splits_every_global_batch_across_the_processes():
    order = torch.randperm(103, generator=torch.Generator().manual_seed(0))
    parts = [dist.shard_order(order, 32, 4, r) for r in range(4)]
    for r, part in enumerate(parts):  # step by step, batches of 32 / 4 = 8: process r's part of global batch i
        steps = part.split(8)
        assert len(steps) == 4  # 3 full global batches and the last one of 7 samples (>= 4 processes)
        for i, step in enumerate(steps):
            assert torch.equal(step, order[i * 32 : (i + 1) * 32].tensor_split(4)[r])
    assert torch.equal(torch.sort(torch.cat(parts)).values, torch.arange(103))  # every sample once
    # a last global batch with fewer samples than processes is left out on every process
    short = torch.arange(66)
    assert all(dist.shard_order(short, 32, 4, r).numel() == 16 for r in range(4))
    assert torch.equal(dist.shard_order(order, 32, 1, 0), order)


def test_split_part_and_reductions_without_processes():
    data = {"x": torch.arange(10.0)[:, None], "y": torch.arange(10)}
    parts = [dist.split_part(data, 3, r) for r in range(3)]
    assert [p["x"].shape[0] for p in parts] == [4, 3, 3]
    assert torch.equal(torch.cat([p["y"] for p in parts]), data["y"])
    assert dist.split_part({"x": torch.zeros(1, 2)}, 2, 1)["x"].shape == (0, 2)


def test_a_batch_size_that_does_not_divide_is_refused():
    world = dist.World(rank=0, size=4)
    assert world.check_batch_size(32) == 8
    with pytest.raises(ValueError, match=r"batch_size=30 does not divide among 4 processes.*multiple of 4 "
                                         r"\(e\.g\. batch_size=28 or 32\)"):
        world.check_batch_size(30)


def test_one_process_is_the_plain_path(monkeypatch):
    monkeypatch.delenv("WORLD_SIZE", raising=False)
    with dist.process_group(torch.device("cpu")) as world:
        assert not world.distributed and world.is_main and world.size == 1
    assert not torch.distributed.is_initialized()
    assert dist.is_main_process()
    monkeypatch.setenv("RANK", "1")
    assert not dist.is_main_process()
    monkeypatch.setenv(dist.TIMEOUT_ENV, "0")
    with pytest.raises(ValueError, match="LSTMAE_DIST_TIMEOUT='0' is not valid"):
        dist.timeout_seconds()


def test_strip_option():
    argv = ["--threads", "1", "train", "d.csv", "--nproc", "2", "--window", "3", "--nproc=4"]
    assert dist.strip_option(argv, "--nproc") == ["--threads", "1", "train", "d.csv", "--window", "3"]


def test_the_model_records_how_it_was_trained():
    ae = LSTMAutoencoder(hidden_size=4, epochs=1, batch_size=16, random_state=0).fit(make_sines(32, 8, 2))
    h = ae.history_
    assert (h["processes"], h["device"], h["precision"]) == (1, "cpu", "fp32")
    rows = dict(describe(ae).itertuples(index=False))
    assert rows["training processes"] == "1" and rows["training device"] == "cpu"
    assert rows["training precision"] == "fp32"


# ------------------------------------------------------------------------------ precision
def test_precision_is_validated():
    with pytest.raises(ValueError, match="precision='fp8' is not valid; choose 'fp32', 'bf16' or 'fp16'"):
        LSTMAutoencoder(precision="fp8", epochs=1).fit(make_sines(8, 6, 1))
    with pytest.raises(ValueError, match="precision='fp16' needs a CUDA device"):
        LSTMAutoencoder(precision="fp16", epochs=1, device="cpu").fit(make_sines(8, 6, 1))
    with pytest.raises(ValueError, match="activation='relu': lstmae's own LSTM cell has no reduced-precision"):
        LSTMAutoencoder(precision="bf16", activation="relu", epochs=1, device="cpu").fit(make_sines(8, 6, 1))


@pytest.mark.usefixtures("one_thread")
def test_bf16_on_cpu_trains_close_to_fp32_or_is_refused_with_the_reason():
    X = make_sines(64, 12, 2)
    p = dict(hidden_size=16, epochs=6, batch_size=16, learning_rate=0.01, random_state=0, device="cpu")
    if not dist.cpu_bf16_lstm_supported():  # this CPU's oneDNN has no bfloat16 LSTM kernel
        with pytest.raises(ValueError, match=r"precision='bf16' on this CPU: PyTorch's LSTM has no bfloat16 "
                                             r"kernel here .* use precision='fp32'"):
            LSTMAutoencoder(precision="bf16", **p).fit(X)
        return
    fp32 = LSTMAutoencoder(**p).fit(X)
    bf16 = LSTMAutoencoder(precision="bf16", **p).fit(X)
    assert bf16.history_["precision"] == "bf16"
    assert bf16.history_["train_loss"][-1] == pytest.approx(fp32.history_["train_loss"][-1], rel=0.1)
    rec = bf16.reconstruct(X)
    assert rec.dtype == np.float32
    np.testing.assert_allclose(rec, fp32.reconstruct(X), atol=0.15)


def test_inference_falls_back_to_fp32_where_the_device_cannot_run_the_precision(tmp_path):
    ae = LSTMAutoencoder(hidden_size=4, epochs=1, batch_size=16, random_state=0).fit(make_sines(16, 6, 1))
    codes = ae.transform(make_sines(16, 6, 1))
    ae.set_params(precision="fp16")  # e.g. a model trained in fp16 on a GPU, used on a CPU
    np.testing.assert_array_equal(ae.transform(make_sines(16, 6, 1)), codes)


@CUDA
@pytest.mark.parametrize("precision", ["fp32", "bf16", "fp16"])
def test_cuda_training_and_inference(precision):
    if precision == "bf16" and not torch.cuda.is_bf16_supported():
        pytest.skip("this GPU has no bfloat16")
    X = make_sines(64, 12, 2)
    p = dict(hidden_size=16, epochs=6, batch_size=16, learning_rate=0.01, random_state=0)
    cpu = LSTMAutoencoder(device="cpu", **p).fit(X)
    gpu = LSTMAutoencoder(device="cuda", precision=precision, **p).fit(X)
    assert gpu.device_.type == "cuda" and next(gpu.module_.parameters()).is_cuda
    assert gpu.history_["device"] == "cuda" and gpu.history_["precision"] == precision
    assert gpu.history_["train_loss"][-1] == pytest.approx(cpu.history_["train_loss"][-1], rel=0.15)
    out = gpu.reconstruct(X)
    assert out.dtype == np.float32 and np.isfinite(out).all()
    np.testing.assert_allclose(out, cpu.reconstruct(X), atol=0.2)


@CUDA
def test_cuda_for_the_classifier_and_the_detector():
    from lstmae import LSTMAnomalyDetector, LSTMClassifier

    X = make_sines(64, 12, 2)
    y = np.arange(64) % 2
    clf = LSTMClassifier(hidden_size=8, epochs=2, batch_size=16, random_state=0, device="cuda",
                         validation_split=0.25).fit(X, y)
    assert clf.predict(X).shape == (64,)
    det = LSTMAnomalyDetector(LSTMAutoencoder(hidden_size=8, epochs=2, batch_size=16, device="cuda",
                                              precision="fp16"), random_state=0).fit(X)
    assert np.isfinite(det.anomaly_score(X)).all()


# ------------------------------------------------------------------------------ two processes
@pytest.mark.slow
@pytest.mark.usefixtures("one_thread")
def test_two_processes_train_one_model_like_one_process_and_resume_with_one(series, tmp_path):
    path, values = series
    out, ck = tmp_path / "model", tmp_path / "ck"
    r = subprocess.run([sys.executable, "-m", "lstmae.cli", "train", path, *TRAIN, "--nproc", "2", "-o", out,
                        "--checkpoint-dir", ck], env=_env(), capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stdout + r.stderr
    # one model directory, written once (rank 0); one summary line (the other rank is silent)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ck", "model"]
    assert sorted(p.name for p in out.iterdir()) == ["config.json", "model.safetensors", "state.json"]
    assert (r.stdout + r.stderr).count("trained in") == 1
    two = load_model(out)
    h2 = two.history_
    assert (h2["processes"], h2["device"], h2["precision"]) == (2, "cpu", "fp32")
    rows = dict(describe(two).itertuples(index=False))
    assert rows["training processes"] == "2"
    info = runner.invoke(app, ["info", str(out)])
    assert info.exit_code == 0 and "training processes" in info.output

    # one process, the same global batch: the same losses up to the order of the sums
    one = LSTMAutoencoder(hidden_size=8, epochs=2, batch_size=32, random_state=0, verbose=False,
                          validation_split=0.2).fit_series(values, 12)
    assert len(h2["train_loss"]) == 2 and h2["train_loss"][1] < h2["train_loss"][0]
    np.testing.assert_allclose(h2["train_loss"], one.history_["train_loss"], rtol=2e-3)
    np.testing.assert_allclose(h2["val_loss"], one.history_["val_loss"], rtol=2e-3)  # validation split and reduced
    np.testing.assert_allclose(two.transform_series(values), one.transform_series(values), atol=5e-3)

    # the checkpoint of 2 processes resumes with 1 (the data order depends on the seed only)
    r = runner.invoke(app, ["train", str(path), *TRAIN[:2], "--epochs", "3", *TRAIN[4:], "--quiet", "-o",
                            str(tmp_path / "more"), "--checkpoint-dir", str(ck), "--resume"])
    assert r.exit_code == 0, r.output
    more = load_model(tmp_path / "more").history_
    assert more["train_loss"][:2] == h2["train_loss"] and len(more["train_loss"]) == 3
    assert more["processes"] == 1


def _children(pid):
    kids = []
    for p in Path("/proc").iterdir():
        if p.name.isdigit():
            try:
                if int((p / "stat").read_text().rsplit(")", 1)[1].split()[1]) == pid:
                    kids.append(int(p.name))
            except (OSError, ValueError, IndexError):
                continue
    return kids


def _rank_of(pid):
    try:
        env = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
    except OSError:
        return None
    return next((int(kv[5:]) for kv in env if kv.startswith(b"RANK=")), None)


@pytest.mark.slow
@pytest.mark.skipif(not Path("/proc/self/environ").exists(), reason="finds the workers through /proc (Linux)")
def test_a_killed_process_fails_the_job_cleanly_and_quickly(series, tmp_path):
    path, _ = series
    ck = tmp_path / "ck"
    proc = subprocess.Popen(torchrun(2, "train", path, *TRAIN[:2], "--epochs", "500", *TRAIN[4:], "-o",
                                     tmp_path / "model", "--checkpoint-dir", ck),
                            env=_env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.monotonic() + 240
        while not (ck / "checkpoint.json").exists() and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        assert proc.poll() is None, "training ended before a process could be killed"
        victim = [pid for pid in _children(proc.pid) if _rank_of(pid) == 1]
        assert len(victim) == 1
        os.kill(victim[0], signal.SIGKILL)
        killed = time.monotonic()
        output, _ = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode != 0
    assert time.monotonic() - killed < 90  # bounded: the survivor's collective fails, torchrun ends the group
    # the survivor says why it stopped: its collective failed (or torchrun's SIGTERM came first)
    errors = [line for line in output.splitlines() if line.startswith(("error: process 0 of 2 stopped",
                                                                        "error: interrupted by SIGTERM"))]
    assert errors, output[-3000:]
    assert not (tmp_path / "model").exists()  # no model from a failed run
    assert json.loads((ck / "checkpoint.json").read_text())["epoch"] >= 1  # the last checkpoint stays whole
