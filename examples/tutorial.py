"""The four examples of "A Gentle Introduction to LSTM Autoencoders" (Keras), with lstmae.

Data: the sequence [0.1, 0.2, ..., 0.9] as one sample of 9 steps and 1 feature.
Model, as in the tutorial: LSTM(100, relu) -> RepeatVector -> LSTM(100, relu) ->
Dense(1) per step; Adam, MSE, 300 epochs, no scaling, no gradient clipping.

    python examples/tutorial.py
"""
from __future__ import annotations

import time

import numpy as np

from lstmae import LSTMAutoencoder
from lstmae.data.synthetic import load_tutorial

TUTORIAL = dict(hidden_size=100, activation="relu", bridge="repeat", learning_rate=1e-3, loss="mse",
                epochs=300, scale=None, clip_grad_norm=None, random_state=1)


def run_all() -> dict:
    """Fit the four tutorial models; returns their outputs and fit times (seconds)."""
    X = load_tutorial()  # (1, 9, 1)
    y = X[:, 1:]  # the tutorial's prediction target: steps 2..9
    results = {}

    t = time.perf_counter()
    ae = LSTMAutoencoder(task="reconstruct", **TUTORIAL).fit(X)  # (a) reconstruction
    results["reconstruct"] = (ae.reconstruct(X), time.perf_counter() - t)

    t = time.perf_counter()
    ae = LSTMAutoencoder(task="predict", horizon=8, **TUTORIAL).fit(X, y)  # (b) prediction
    results["predict"] = (ae.predict(X), time.perf_counter() - t)

    t = time.perf_counter()
    ae = LSTMAutoencoder(task="composite", horizon=8, **TUTORIAL).fit(X, y)  # (c) composite
    results["composite"] = ((ae.reconstruct(X), ae.predict(X)), time.perf_counter() - t)

    t = time.perf_counter()
    ae = LSTMAutoencoder(task="reconstruct", **TUTORIAL).fit(X)  # (d) standalone encoder
    results["encoder"] = (ae.transform(X), time.perf_counter() - t)
    return results


def main() -> None:
    np.set_printoptions(precision=3, floatmode="fixed")
    r = run_all()
    print(f"(a) reconstruction          {r['reconstruct'][0].ravel()}   fit {r['reconstruct'][1]:.1f} s")
    print(f"(b) prediction              {r['predict'][0].ravel()}   fit {r['predict'][1]:.1f} s")
    rec, fut = r["composite"][0]
    print(f"(c) composite: reconstruct  {rec.ravel()}")
    print(f"               predict      {fut.ravel()}   fit {r['composite'][1]:.1f} s")
    code = r["encoder"][0]
    print(f"(d) encoder: code shape {code.shape}, first values {code.ravel()[:5]}   fit {r['encoder'][1]:.1f} s")


if __name__ == "__main__":
    main()
