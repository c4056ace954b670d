"""The relu LSTM's cell clip and initialisation, measured (docs/benchmarks.md, "Initialisation").

Two workloads:
- issue 12's: a relu autoencoder (hidden 64, batch 64, Adam 1e-3, no scaling) on the 4,096 noisy sines of
  140 steps of tests/test_init.py, for ``--epochs`` epochs, with each ``--clips`` value (``none`` = no clip)
  and each seed; prints the training loss per epoch (0.50 is the data's variance: no learning);
- ``--tutorial``: the Keras tutorial's model (examples/tutorial.py: LSTM(100, relu), one sequence 0.1 ... 0.9,
  300 epochs, no scaling, no gradient clipping) with seeds 0-9: the max error of the reconstruction and of
  the prediction of the next 8 steps (Keras's own: `bench/relu_keras.py --tutorial`).

``--init pytorch`` runs both with the initialisation of lstmae <= 0.5 for relu models (PyTorch's uniform
LSTM and linear layers) instead of Keras's (``keras``, the default), and ``--init keras-lstm`` with
Keras's LSTMs but PyTorch's linear layers, for comparison.

    .venv/bin/python bench/relu_clip.py --seeds 0 1 2 --clips 1 3 6 none   # ~6 minutes on one core
    .venv/bin/python bench/relu_clip.py --tutorial                          # ~1 minute
"""
import argparse
import os
import sys
import time
import warnings

import numpy as np
import torch
from torch import nn

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "tests"))
from test_init import _noisy_sines  # noqa: E402  (the test's data, the same numbers)

from lstmae import LSTMAutoencoder, modules  # noqa: E402


def use_init(kind: str) -> None:
    """New relu models' initialisation: "keras" (lstmae's), "pytorch" (lstmae <= 0.5's: PyTorch's defaults
    for LSTMs and linear layers) or "keras-lstm" (Keras's LSTMs, PyTorch's linear layers)."""
    keras_lstm = modules.init_lstm_
    if kind == "pytorch":
        modules.init_lstm_ = lambda lstm: keras_lstm(lstm) if isinstance(lstm, nn.LSTM) else lstm
    if kind in ("pytorch", "keras-lstm"):
        modules.make_linear = lambda i, o, activation: nn.Linear(i, o)


def workload(seeds, clips, epochs) -> None:
    x = _noisy_sines()
    for clip in clips:
        for seed in seeds:
            ae = LSTMAutoencoder(hidden_size=64, batch_size=64, learning_rate=1e-3, scale=None, activation="relu",
                                 cell_clip=clip, epochs=epochs, random_state=seed)
            t0 = time.perf_counter()
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)
                try:
                    h = ae.fit(x).history_
                    result = f"loss per epoch {[float(f'{v:.4g}') for v in h['train_loss']]}, diverged {h['diverged']}"
                except Exception as exc:  # noqa: BLE001 - TrainingDivergedError in epoch 1 is a result too
                    result = f"{type(exc).__name__}: {str(exc)[:120]}"
            print(f"cell_clip {clip}, seed {seed}: {result} ({time.perf_counter() - t0:.0f} s)", flush=True)


def tutorial(seeds=range(10)) -> None:
    seq = np.linspace(0.1, 0.9, 9)
    x = seq.reshape(1, 9, 1).astype(np.float32)
    errors = {"reconstruct": [], "predict": []}
    for seed in seeds:
        common = dict(hidden_size=100, activation="relu", epochs=300, scale=None, clip_grad_norm=None,
                      random_state=seed)
        ae = LSTMAutoencoder(task="reconstruct", **common).fit(x)
        errors["reconstruct"].append(float(np.abs(ae.reconstruct(x).ravel() - seq).max()))
        ae = LSTMAutoencoder(task="predict", horizon=8, **common).fit(x, seq[1:].reshape(1, 8, 1).astype(np.float32))
        errors["predict"].append(float(np.abs(ae.predict(x).ravel() - seq[1:]).max()))
    for task, e in errors.items():
        print(f"lstmae tutorial {task}: max error per seed {[round(v, 4) for v in e]}, median {np.median(e):.4f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--clips", nargs="+", default=["1", "3", "6", "none"])
    parser.add_argument("--epochs", type=int, default=6)
    parser.add_argument("--tutorial", action="store_true")
    parser.add_argument("--init", choices=["keras", "pytorch", "keras-lstm"], default="keras",
                        help="the initialisation of relu models (see above)")
    args = parser.parse_args()
    torch.set_num_threads(1)
    use_init(args.init)
    if args.tutorial:
        tutorial()
    else:
        workload(args.seeds, [None if c == "none" else float(c) for c in args.clips], args.epochs)


if __name__ == "__main__":
    main()
