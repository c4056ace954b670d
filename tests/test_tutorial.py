"""The Keras tutorial "A Gentle Introduction to LSTM Autoencoders", reproduced (examples/tutorial.py)."""
import importlib.util
from pathlib import Path

import numpy as np
import pytest

SEQ = np.linspace(0.1, 0.9, 9)


@pytest.fixture(scope="module")
def results():
    path = Path(__file__).parents[1] / "examples" / "tutorial.py"
    spec = importlib.util.spec_from_file_location("tutorial", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod.run_all()


@pytest.mark.slow
def test_a_reconstruction_at_least_as_good_as_keras(results):
    rec = results["reconstruct"][0]
    assert rec.shape == (1, 9, 1)
    # Keras printed [0.104 0.200 0.299 0.399 0.499 0.600 0.700 0.800 0.900]: max error 0.004
    assert np.abs(rec.ravel() - SEQ).max() < 0.02


@pytest.mark.slow
def test_b_prediction_at_least_as_good_as_keras(results):
    fut = results["predict"][0]
    assert fut.shape == (1, 8, 1)
    # Keras printed [0.166 0.289 0.403 0.510 0.610 0.707 0.800 0.890]: max error 0.034
    assert np.abs(fut.ravel() - SEQ[1:]).max() < 0.08


@pytest.mark.slow
def test_c_composite_both_decoders(results):
    rec, fut = results["composite"][0]
    assert np.abs(rec.ravel() - SEQ).max() < 0.02
    assert np.abs(fut.ravel() - SEQ[1:]).max() < 0.08


@pytest.mark.slow
def test_d_standalone_encoder_gives_a_100_vector(results):
    code = results["encoder"][0]
    assert code.shape == (1, 100) and np.isfinite(code).all()
    assert (code >= 0).all()  # relu: the encoder's final hidden state is o * relu(c) >= 0
