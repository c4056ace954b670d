import os

# Idle OpenMP threads sleep instead of spinning: on a busy 2-core machine (other test runs,
# other engineers) spinning threads made every LSTM call up to 100x slower. Set before torch
# (and numpy / scikit-learn) load their OpenMP runtime; results are unchanged.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import subprocess  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

torch.set_num_threads(min(2, os.cpu_count() or 1))


def make_sines(n=64, length=12, n_features=2, seed=0):
    """Noisy sines with a random phase and frequency per sample: (n, length, n_features) float32."""
    rng = np.random.default_rng(seed)
    t = np.arange(length)[None, :, None]
    phase = rng.uniform(0, 2 * np.pi, size=(n, 1, n_features))
    freq = rng.uniform(0.3, 0.6, size=(n, 1, n_features))
    x = np.sin(freq * t + phase) + 0.02 * rng.standard_normal((n, length, n_features))
    return x.astype(np.float32)


@pytest.fixture
def sines():
    return make_sines()


# cheap settings for fits whose quality is not under test
FAST = dict(hidden_size=8, epochs=2, batch_size=16, random_state=0)


@pytest.fixture
def one_thread():
    """Tiny models on a shared 2-core machine: one thread is several times faster than two."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


# ------------------------------------------------------------------ helpers shared by several test files
SRC = str(Path(__file__).parents[1] / "src")


def subprocess_env(**extra) -> dict:
    """The environment of an `lstmae` child process: one thread, the package importable, warnings quiet."""
    return {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "PYTHONWARNINGS": "ignore",
            "PYTHONPATH": SRC + os.pathsep + os.environ.get("PYTHONPATH", ""), **extra}


def train_cmd(data, out, *extra) -> list[str]:
    """`lstmae train` on a small series (8 epochs, seed 3), as a child process's argv."""
    return [sys.executable, "-m", "lstmae.cli", "train", str(data), "--window", "12", "--epochs", "8",
            "--hidden-size", "12", "--batch-size", "16", "--seed", "3", "--quiet", "-o", str(out), *extra]


def train_until_checkpoint(tmp_path, **popen) -> tuple[Path, Path, subprocess.Popen]:
    """A small two-feature series (tmp_path/series.csv), trained to the end once (tmp_path/reference),
    then again with checkpoints in tmp_path/ck: (data, ck, that process), once its first checkpoint exists."""
    t = np.arange(400)
    data = tmp_path / "series.csv"
    np.savetxt(data, np.c_[np.sin(t / 5), np.cos(t / 7)], delimiter=",", header="a,b", comments="")
    subprocess.run(train_cmd(data, tmp_path / "reference"), check=True, env=subprocess_env(), timeout=300)
    ck = tmp_path / "ck"
    proc = subprocess.Popen(train_cmd(data, tmp_path / "model", "--checkpoint-dir", ck), env=subprocess_env(), **popen)
    deadline = time.monotonic() + 240
    while not (ck / "checkpoint.json").exists() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.01)
    return data, ck, proc


def resume_to_reference(tmp_path, data, ck) -> None:
    """Resume `train_until_checkpoint`'s run from its checkpoint; its weights must equal the reference's."""
    from safetensors.torch import load_file

    subprocess.run(train_cmd(data, tmp_path / "model", "--checkpoint-dir", ck, "--resume"), check=True,
                   env=subprocess_env(), timeout=300)
    assert_same_weights(load_file(str(tmp_path / "reference" / "model.safetensors")),
                        load_file(str(tmp_path / "model" / "model.safetensors")))


def weights(est) -> dict:
    """A copy of a fitted estimator's weights."""
    return {k: v.clone() for k, v in est.module_.state_dict().items()}


def assert_same_weights(a, b) -> None:
    """Bit-identical weights; `a` and `b` are fitted estimators or weight dicts."""
    a, b = (x if isinstance(x, dict) else weights(x) for x in (a, b))
    assert a.keys() == b.keys()
    for k in a:
        assert torch.equal(a[k], b[k]), f"{k} differs"
