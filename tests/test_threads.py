"""The thread policy (`lstmae.threads`): budget, work size, joblib nesting, overrides, no leaks, determinism."""
import json
import os
import threading

import numpy as np
import pytest
import torch
from joblib import Parallel, delayed
from typer.testing import CliRunner

from conftest import FAST, make_sines
from lstmae import LSTMAnomalyDetector, LSTMAutoencoder, LSTMClassifier
from lstmae import _base, threads
from lstmae.cli import app

HUGE = 10**12  # multiply-adds per step: asks for as many threads as allowed


@pytest.fixture(autouse=True)
def clean_env(monkeypatch):
    for var in (threads.ENV, "OMP_NUM_THREADS"):
        monkeypatch.delenv(var, raising=False)


@pytest.fixture
def keep_torch_threads():
    before = torch.get_num_threads()
    yield
    torch.set_num_threads(before)


def budget(monkeypatch, affinity, quota=None):
    monkeypatch.setattr(threads, "affinity_cpus", lambda: affinity)
    monkeypatch.setattr(threads, "cgroup_cpus", lambda: quota)


@pytest.mark.parametrize("affinity, quota, omp, expected", [
    (8, None, None, 8), (8, 2.5, None, 3), (8, 0.5, None, 1), (2, 16.0, None, 2), (16, 6.0, "4", 4), (4, None, "x", 4),
])
def test_budget_is_the_smallest_of_affinity_quota_and_omp_num_threads(monkeypatch, affinity, quota, omp, expected):
    budget(monkeypatch, affinity, quota)
    if omp is not None:
        monkeypatch.setenv("OMP_NUM_THREADS", omp)
    assert threads.cpu_budget() == expected
    for work in (0, 10**6, 10**7, HUGE):
        assert 1 <= threads.auto_threads(work) <= expected


def test_tiny_work_gets_one_thread_and_big_work_at_most_half_the_budget(monkeypatch):
    budget(monkeypatch, 16)
    assert threads.auto_threads(1000) == 1
    assert threads.auto_threads(threads.WORK_PER_THREAD * 3) == 3
    assert threads.auto_threads(HUGE) == 8
    budget(monkeypatch, 2)
    assert threads.auto_threads(HUGE) == 1


def test_cgroup_quota_files_v2_and_v1(monkeypatch, tmp_path):
    monkeypatch.setattr(threads, "_CGROUP_ROOT", tmp_path)
    assert threads.cgroup_cpus() is None
    (tmp_path / "cpu.max").write_text("max 100000\n")
    assert threads.cgroup_cpus() is None
    (tmp_path / "cpu.max").write_text("150000 100000\n")
    assert threads.cgroup_cpus() == 1.5
    (tmp_path / "cpu.max").unlink()
    (tmp_path / "cpu").mkdir()
    (tmp_path / "cpu" / "cpu.cfs_quota_us").write_text("-1\n")
    (tmp_path / "cpu" / "cpu.cfs_period_us").write_text("100000\n")
    assert threads.cgroup_cpus() is None
    (tmp_path / "cpu" / "cpu.cfs_quota_us").write_text("300000\n")
    assert threads.cgroup_cpus() == 3.0


def test_one_thread_inside_a_joblib_worker(monkeypatch):
    budget(monkeypatch, 16)
    assert threads.auto_threads(HUGE) == 8 and not threads.in_parallel_worker()
    inside = Parallel(n_jobs=2, backend="threading")(delayed(threads.auto_threads)(HUGE) for _ in range(2))
    assert inside == [1, 1]
    sequential = Parallel(n_jobs=1)(delayed(threads.auto_threads)(HUGE) for _ in range(2))
    assert sequential == [8, 8]  # n_jobs=1 runs in this process: no nesting


def test_n_threads_and_the_environment_override_the_policy(sines, monkeypatch, keep_torch_threads):
    assert LSTMAutoencoder(**FAST).fit(sines).history_["threads"] == 1  # tiny work
    assert LSTMAutoencoder(**FAST, n_threads=2).fit(sines).history_["threads"] == 2
    monkeypatch.setenv(threads.ENV, "3")
    assert LSTMAutoencoder(**FAST).fit(sines).history_["threads"] == 3
    assert LSTMAutoencoder(**FAST, n_threads=1).fit(sines).history_["threads"] == 1
    monkeypatch.setenv(threads.ENV, "torch")  # the policy off: torch's own setting
    torch.set_num_threads(2)
    assert LSTMAutoencoder(**FAST).fit(sines).history_["threads"] == 2
    monkeypatch.setenv(threads.ENV, "two")
    with pytest.raises(ValueError, match="LSTMAE_THREADS='two' is not valid"):
        LSTMAutoencoder(**FAST).fit(sines)


def test_the_callers_thread_count_is_restored_after_fit_and_transform(sines, monkeypatch, keep_torch_threads):
    seen = []
    real_infer = _base.infer

    def spy(*args, **kwargs):
        seen.append(torch.get_num_threads())
        return real_infer(*args, **kwargs)

    monkeypatch.setattr(_base, "infer", spy)
    torch.set_num_threads(3)
    ae = LSTMAutoencoder(**FAST).fit(sines)
    assert ae.history_["threads"] == 1 and torch.get_num_threads() == 3
    ae.transform(sines)
    ae.reconstruct(sines)
    assert torch.get_num_threads() == 3
    assert seen and set(seen) == {1}  # residual statistics in fit, transform, reconstruct: all on 1 thread
    with pytest.raises(RuntimeError):  # an error inside the block restores it too
        with threads.use_threads(1):
            raise RuntimeError
    assert torch.get_num_threads() == 3


def test_overlapping_blocks_in_two_threads_restore_the_first_count(keep_torch_threads):
    torch.set_num_threads(3)
    a_in, b_in, a_out = threading.Event(), threading.Event(), threading.Event()

    def a():
        with threads.use_threads(1):
            a_in.set()
            b_in.wait(5)
        a_out.set()

    def b():
        a_in.wait(5)
        with threads.use_threads(2):  # enters while a's block holds 1, leaves after a's block ended
            b_in.set()
            a_out.wait(5)

    workers = [threading.Thread(target=f) for f in (a, b)]
    for w in workers:
        w.start()
    for w in workers:
        w.join(10)
    assert torch.get_num_threads() == 3


def test_same_data_params_and_seed_give_bit_identical_weights(sines):
    a, b = (LSTMAutoencoder(**FAST).fit(sines) for _ in range(2))
    assert a.history_["threads"] == b.history_["threads"]
    for (name, x), (_, y) in zip(a.module_.state_dict().items(), b.module_.state_dict().items()):
        assert torch.equal(x, y), name


def test_threads_are_saved_with_the_model(sines, tmp_path):
    ae = LSTMAutoencoder(**FAST, n_threads=2).fit(sines)
    ae.save(tmp_path / "m")
    loaded = LSTMAutoencoder.load(tmp_path / "m")
    assert loaded.history_["threads"] == 2 and loaded.n_threads == 2


@pytest.mark.parametrize("n", [1, 2])
def test_cli_threads_flag(n, tmp_path):
    x = make_sines(n=1, length=300, n_features=1)[0, :, 0]
    np.savetxt(tmp_path / "s.csv", x, header="a", comments="", delimiter=",")
    result = CliRunner().invoke(app, ["--threads", str(n), "train", str(tmp_path / "s.csv"), "--window", "12",
                                      "--epochs", "1", "--hidden-size", "4", "--quiet", "-o", str(tmp_path / "m")])
    assert result.exit_code == 0, result.output
    assert json.loads((tmp_path / "m" / "state.json").read_text())["history"]["threads"] == n
    assert threads.ENV not in os.environ  # set for the command only
    bad = CliRunner().invoke(app, ["--threads", "0", "train", str(tmp_path / "s.csv"), "-o", str(tmp_path / "x")])
    assert bad.exit_code == 2 and "--threads" in bad.output


@pytest.mark.parametrize("value", [0, -1, 1.5, "x", True])
@pytest.mark.parametrize("make", [
    lambda n: LSTMAutoencoder(**FAST, n_threads=n),
    lambda n: LSTMClassifier(hidden_size=8, epochs=1, random_state=0, n_threads=n),
    lambda n: LSTMAnomalyDetector(LSTMAutoencoder(**FAST), n_threads=n),
], ids=["autoencoder", "classifier", "detector"])
def test_invalid_n_threads_is_a_clear_error(make, value, sines):
    est = make(value)
    with pytest.raises(ValueError, match=r"n_threads=.* is not valid; it must be an integer >= 1"):
        if isinstance(est, LSTMClassifier):
            est.fit(sines, np.arange(len(sines)) % 2)
        else:
            est.fit(sines)
