"""Bad input raises ValueError / NotFittedError naming the problem and the fix."""
import numpy as np
import pytest
from sklearn.exceptions import NotFittedError

from conftest import FAST
from lstmae import LSTMAutoencoder

X = np.random.default_rng(0).standard_normal((8, 6, 2)).astype(np.float32)


@pytest.fixture(scope="module")
def fitted():
    return LSTMAutoencoder(**FAST).fit(X)


@pytest.mark.parametrize(
    "data,match",
    [
        (np.where(np.arange(96).reshape(8, 6, 2) == 13, np.nan, X), r"NaN or inf .*first is NaN at index \(1, 0, 1\).*Fill or drop"),
        (np.where(np.arange(96).reshape(8, 6, 2) == 5, np.inf, X), r"NaN or inf .*first is inf"),
        (X[0, :, 0], r"1-D.*X.reshape\(1, -1, 1\).*sliding_windows"),
        (X[None], r"4-D.*flatten each frame"),
        (X[:0], r"0 samples"),
        (X[:, :0], r"0 time steps"),
        ([], r"0 sequences"),
        ([X[0], X[1, :0]], r"X\[1\] is empty"),
        ([X[0], X[1, :, :1]], r"different feature counts \[1, 2\]"),
        (np.array([["a", "b"], ["c", "d"]]), r"dtype <U1; lstmae needs numbers"),
        ([X[0], [[1, "x"]]], r"X\[1\] could not be read as numbers"),
    ],
)
def test_bad_X_in_fit(data, match):
    with pytest.raises(ValueError, match=match):
        LSTMAutoencoder(**FAST).fit(data)


@pytest.mark.parametrize(
    "params,match",
    [
        ({"task": "forecast"}, r"task='forecast' is not valid; choose one of 'reconstruct', 'predict', 'composite'"),
        ({"bridge": "copy"}, r"bridge='copy' is not valid"),
        ({"activation": "gelu"}, r"activation='gelu' is not valid; choose one of 'tanh', 'relu'"),
        ({"loss": "l2"}, r"loss='l2' is not valid"),
        ({"hidden_size": 0}, r"hidden_size=0 is not valid; it must be an integer >= 1"),
        ({"hidden_size": 2.5}, r"hidden_size=2.5 is not valid"),
        ({"num_layers": True}, r"num_layers=True is not valid"),
        ({"dropout": 1.0}, r"dropout=1.0 is not valid; it must be a number in \[0, 1\)"),
        ({"code_size": -1}, r"code_size=-1 is not valid"),
        ({"conditional": "yes"}, r"conditional='yes' is not valid; it must be True or False"),
        ({"task": "predict", "reverse": True}, r"reverse=True .* task='predict' has no reconstruction decoder"),
        ({"teacher_forcing": "eval"}, r"teacher_forcing='eval' is not valid; choose one of 'train', 'always'"),
        ({"teacher_forcing": "always"}, r"teacher_forcing='always' .* no conditional decoder; set conditional=True"),
        ({"task": "predict", "conditional": True, "teacher_forcing": "always"},
         r"teacher_forcing='always' .* no reconstruction decoder \(task='predict'\)"),
        ({"loss_weights": (1.0, -1.0)}, r"loss_weights=\(1.0, -1.0\) is not valid"),
        ({"scale": "quantile"}, r"scale='quantile' is not valid; choose 'standard', 'minmax', 'robust' or None"),
        ({"learning_rate": 0}, r"learning_rate=0 is not valid; it must be a number > 0.0"),
        ({"batch_size": 0}, r"batch_size=0 is not valid"),
        ({"epochs": 1.5}, r"epochs=1.5 is not valid; it must be an integer >= 1"),
        ({"validation_split": 1.0}, r"validation_split=1.0 is not valid"),
        ({"validation_split": 0.01}, r"validation_split=0.01 leaves 8 training and 0 validation"),
        ({"patience": 0}, r"patience=0 is not valid; it must be an integer >= 1 or None"),
        ({"clip_grad_norm": -1.0}, r"clip_grad_norm=-1.0 is not valid"),
        ({"device": "tpu"}, r"device='tpu' is not valid; use 'auto', 'cpu', 'cuda'"),
        ({"random_state": "seed"}, r"random_state='seed' is not valid"),
        ({"loss": "bce"}, r"loss='bce' needs data in \[0, 1\] after scaling.*scale='minmax'"),
    ],
)
def test_invalid_options_fail_in_fit_with_the_valid_choices(params, match):
    est = LSTMAutoencoder(**{**FAST, **params})  # __init__ never validates (sklearn contract)
    with pytest.raises(ValueError, match=match):
        est.fit(X)


def test_cuda_requested_without_cuda():
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    with pytest.raises(ValueError, match=r"device='cuda' but CUDA is not available.*device='auto'"):
        LSTMAutoencoder(**FAST, device="cuda").fit(X)


def test_sequence_too_short_for_the_horizon():
    with pytest.raises(ValueError, match=r"sequence 1 has 3 steps, but task='predict' with horizon=3 and y=None "
                                         r"needs at least 4.*Lower horizon, pass the targets as y"):
        LSTMAutoencoder(**FAST, task="predict", horizon=3).fit([X[0], X[1, :3]])


@pytest.mark.parametrize(
    "y,match",
    [
        (X[:, :2, :1], r"y has 1 features but X has 2"),
        (X[:4, :2], r"y has 4 samples but X has 8"),
        (X[:, :3], r"y has 3 steps but horizon=2; set horizon=3"),
        (X[:, 0, 0], r"y has shape \(8,\); for task='predict' it must be the future steps"),
        (np.full((8, 2, 2), np.nan), r"y contains NaN or inf"),
    ],
)
def test_bad_targets(y, match):
    with pytest.raises(ValueError, match=match):
        LSTMAutoencoder(**FAST, task="predict", horizon=2).fit(X, y)


def test_methods_before_fit_raise_not_fitted():
    ae = LSTMAutoencoder()
    for method in (ae.transform, ae.reconstruct, ae.predict, ae.score):
        with pytest.raises(NotFittedError, match="not fitted yet"):
            method(X)
    with pytest.raises(NotFittedError):
        ae.save("/tmp/never-written")


def test_feature_count_differs_from_fit(fitted):
    with pytest.raises(ValueError, match=r"X has 3 features, but the model was fitted with 2 features"):
        fitted.transform(np.zeros((2, 6, 3)))
    with pytest.raises(ValueError, match=r"NaN or inf"):
        fitted.reconstruct(np.full((2, 6, 2), np.nan))


def test_reconstruct_on_a_predict_model(tmp_path):
    ae = LSTMAutoencoder(**FAST, task="predict").fit(X)
    with pytest.raises(ValueError, match=r"task='predict', which has no reconstruction decoder"):
        ae.reconstruct(X)
