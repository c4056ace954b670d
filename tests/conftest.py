import os

# Idle OpenMP threads sleep instead of spinning: on a busy 2-core machine (other test runs,
# other engineers) spinning threads made every LSTM call up to 100x slower. Set before torch
# (and numpy / scikit-learn) load their OpenMP runtime; results are unchanged.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

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
