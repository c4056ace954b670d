import os

# Idle OpenMP threads sleep instead of spinning: on a busy 2-core machine (other test runs,
# other engineers) spinning threads made every LSTM call up to 100x slower. Set before torch
# (and numpy / scikit-learn) load their OpenMP runtime; results are unchanged.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import sys  # noqa: E402
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


def weights(est) -> dict:
    """A copy of a fitted estimator's weights."""
    return {k: v.clone() for k, v in est.module_.state_dict().items()}


def assert_same_weights(a, b) -> None:
    """Bit-identical weights; `a` and `b` are fitted estimators or weight dicts."""
    a, b = (x if isinstance(x, dict) else weights(x) for x in (a, b))
    assert a.keys() == b.keys()
    for k in a:
        assert torch.equal(a[k], b[k]), f"{k} differs"
