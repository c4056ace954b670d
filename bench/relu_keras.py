"""Keras 3 on issue 12's relu workload, for comparison with lstmae's (docs/benchmarks.md, Initialisation).

A relu LSTM autoencoder (Keras tutorial style: LSTM(64, relu) -> RepeatVector(140) -> LSTM(64, relu,
return_sequences) -> TimeDistributed(Dense(1))), Adam 1e-3, MSE, batch 64, on the 4,096 noisy sines of 140
steps of tests/test_init.py (unscaled: amplitude 1, noise 0.05). Prints the loss of every epoch.

    .venv-bench/bin/python bench/relu_keras.py --seed 0 --epochs 10   # about 5 minutes on one core

``--tutorial`` instead fits the Keras tutorial's model (LSTM(100, relu), one sequence 0.1 ... 0.9, 300
epochs; reconstruction, and prediction of the next 8 steps) with seeds 0-9 and prints the max error of
each, as `bench/relu_clip.py --tutorial` does for lstmae (about 8 minutes).
"""
import argparse
import os

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_NUM_INTEROP_THREADS", "1")
os.environ.setdefault("TF_NUM_INTRAOP_THREADS", "1")

import keras  # noqa: E402
import numpy as np  # noqa: E402


def noisy_sines(n: int = 4096, steps: int = 140, seed: int = 0) -> np.ndarray:
    """The data of tests/test_init.py::_noisy_sines (the same numbers)."""
    rng = np.random.default_rng(seed)
    t = np.arange(steps)
    period, phase = rng.uniform(20, 60, (n, 1)), rng.uniform(0, 2 * np.pi, (n, 1))
    return (np.sin(2 * np.pi * t / period + phase) + 0.05 * rng.standard_normal((n, steps)))[..., None].astype(
        np.float32)


def tutorial(seeds=range(10)) -> None:
    seq = np.linspace(0.1, 0.9, 9)
    x = seq.reshape(1, 9, 1)
    errors = {"reconstruct": [], "predict": []}
    for seed in seeds:
        for task, target in (("reconstruct", seq), ("predict", seq[1:])):
            keras.utils.set_random_seed(seed)
            model = keras.Sequential([
                keras.Input((9, 1)), keras.layers.LSTM(100, activation="relu"), keras.layers.RepeatVector(len(target)),
                keras.layers.LSTM(100, activation="relu", return_sequences=True),
                keras.layers.TimeDistributed(keras.layers.Dense(1)),
            ])
            model.compile(optimizer="adam", loss="mse")
            model.fit(x, target.reshape(1, -1, 1), epochs=300, verbose=0)
            errors[task].append(float(np.abs(model.predict(x, verbose=0).ravel() - target).max()))
    for task, e in errors.items():
        print(f"keras {keras.__version__} tutorial {task}: max error per seed {[round(v, 4) for v in e]}, "
              f"median {np.median(e):.4f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=0, help="Keras's seed (weights and shuffling)")
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--tutorial", action="store_true", help="the tutorial's model over seeds 0-9 instead")
    args = parser.parse_args()
    if args.tutorial:
        tutorial()
        return
    keras.utils.set_random_seed(args.seed)
    x = noisy_sines()
    model = keras.Sequential([
        keras.Input((140, 1)), keras.layers.LSTM(64, activation="relu"), keras.layers.RepeatVector(140),
        keras.layers.LSTM(64, activation="relu", return_sequences=True), keras.layers.TimeDistributed(keras.layers.Dense(1)),
    ])
    model.compile(optimizer=keras.optimizers.Adam(1e-3), loss="mse")
    history = model.fit(x, x, batch_size=64, epochs=args.epochs, verbose=0)
    print(f"keras {keras.__version__} relu, seed {args.seed}: loss per epoch",
          [float(f"{v:.4g}") for v in history.history["loss"]])


if __name__ == "__main__":
    main()
