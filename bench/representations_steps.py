"""Issue 12, target 1: are the codes held back by too few optimizer steps on the small sets?

Probe only (no classifiers): for each dataset of `bench/representations.py`, an autoencoder with that
benchmark's settings (`FULL`: hidden 32, 150 epochs, learning rate 0.003, batch 16) and one trained for at least
`--min-steps` optimizer steps (the epochs raised to ceil(min_steps / batches per epoch), never lowered), both
seed 0 (`--seed`); LogisticRegression on the codes pooled "all" against 1-NN Euclidean and LogisticRegression on the raw
sequences, at 10 %, 25 % and 100 % of the training labels (the same subsets as `representations.py`'s seed of that number).

    .venv-bench/bin/python bench/representations_steps.py               # about 15 minutes on 2 cores
    .venv-bench/bin/python bench/representations_steps.py --datasets arrowhead,acsf1 --min-steps 4500

``--per-sequence`` measures another of the issue's ideas the same way instead: per-sequence normalisation.
Each sequence (the autoencoder's input only; the baselines read the sequences as before) is z-normalised per
feature over its own steps before the autoencoder is fitted and read, so the codes describe shape alone; a
third row appends each sequence's own mean and standard deviation per feature to those codes (the level and
scale the normalisation took away, as the detector's level term does). 150 epochs throughout.
``--input-noise 0.1 0.3`` measures denoising autoencoders (`LSTMAutoencoder(input_noise=...)`: the encoder
reads the scaled input plus Gaussian noise of that standard deviation in training) the same way.
"""
from __future__ import annotations

import argparse
import math
import os
import time
import warnings

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import numpy as np  # noqa: E402
import torch  # noqa: E402

import sys  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import representations as R  # noqa: E402

from lstmae import LSTMAutoencoder  # noqa: E402


def per_sequence(seqs: list[np.ndarray]) -> tuple[list[np.ndarray], np.ndarray]:
    """Each (L, F) sequence z-normalised per feature over its own steps, and the (N, 2F) means and stds removed."""
    out, stats = [], []
    for s in seqs:
        mean, std = s.mean(axis=0), s.std(axis=0)
        out.append(((s - mean) / np.where(std > 0, std, 1.0)).astype(np.float32))
        stats.append(np.concatenate([mean, std]))
    return out, np.asarray(stats)


def _cells(f_tr, f_te, y_tr, y_te, raw_tr, raw_te, seed):
    rng = np.random.default_rng(1000 + seed)
    cells = {}
    for fraction in R.FRACTIONS:
        idx = R.label_subset(y_tr, fraction, rng)
        cells[f"{int(fraction * 100)}%"] = (R.probe(f_tr[idx], y_tr[idx], f_te, y_te),
                                            R.one_nn(raw_tr[idx], y_tr[idx], raw_te, y_te),
                                            R.probe(raw_tr[idx], y_tr[idx], raw_te, y_te))
    return cells


def run(name: str, variants: list[tuple[str, int | None, bool, dict]], seed: int = 0) -> dict:
    """Autoencoders with the benchmark's settings (`FULL`) plus each variant's: (label, minimum optimizer steps
    or None for the plain 150 epochs, per-sequence normalised input, extra LSTMAutoencoder parameters)."""
    cfg = R.FULL
    X_tr, y_tr, X_te, y_te = R.load(name)
    common = int(np.median([len(s) for s in X_tr]))
    res_tr, res_te = R.resample_each(X_tr, common), R.resample_each(X_te, common)
    raw_tr, raw_te = np.asarray([s.ravel() for s in res_tr]), np.asarray([s.ravel() for s in res_te])
    L_tr, L_te = R.shorten(X_tr, cfg["max_length"]), R.shorten(X_te, cfg["max_length"])
    (N_tr, s_tr), (N_te, s_te) = per_sequence(L_tr), per_sequence(L_te)
    batches = math.ceil(len(L_tr) / cfg["batch_size"])
    out = {}
    for label, min_steps, normalised, extra in variants:
        epochs = R.ae_epochs(len(L_tr), {**cfg, "ae_min_steps": min_steps})
        A_tr, A_te = (N_tr, N_te) if normalised else (L_tr, L_te)
        t = time.perf_counter()
        ae = LSTMAutoencoder(hidden_size=cfg["hidden_size"], epochs=epochs, learning_rate=cfg["learning_rate"],
                             batch_size=cfg["batch_size"], random_state=seed, verbose=False, **extra).fit(A_tr)
        f_tr, f_te = R.codes(ae, A_tr, "all"), R.codes(ae, A_te, "all")
        row = {"epochs": epochs, "steps": epochs * batches, "loss": ae.history_["train_loss"][-1],
               "seconds": time.perf_counter() - t}
        out[label] = {**row, "cells": _cells(f_tr, f_te, y_tr, y_te, raw_tr, raw_te, seed)}
        if normalised:
            out[label + " + level, scale"] = {**row, "cells": _cells(np.hstack([f_tr, s_tr]), np.hstack([f_te, s_te]),
                                                                      y_tr, y_te, raw_tr, raw_te, seed)}
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", default=",".join(R.DATASETS))
    parser.add_argument("--min-steps", type=int, default=4500)
    parser.add_argument("--seed", type=int, default=0, help="autoencoder seed and label subsets (as representations.py)")
    parser.add_argument("--per-sequence", action="store_true", help="per-sequence normalisation instead (above)")
    parser.add_argument("--input-noise", type=float, nargs="+", help="denoising autoencoders instead (above): "
                        "the input_noise values to measure")
    args = parser.parse_args()
    variants = [("150 epochs", None, False, {})]
    if args.per_sequence:
        variants.append(("per-sequence z-norm", None, True, {}))
    variants += [(f"input noise {v:g}", None, False, {"input_noise": v}) for v in args.input_noise or ()]
    if len(variants) == 1:
        variants.append((f">= {args.min_steps} steps", args.min_steps, False, {}))
    warnings.filterwarnings("ignore")
    torch.set_num_threads(1)
    met = {}
    print("| set | training | epochs (steps) | final loss | codes / 1-NN / raw at 10 % | 25 % | 100 % |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    for name in args.datasets.split(","):
        for label, r in run(name, variants, args.seed).items():
            cells = [f"{c:.3f} / {n:.3f} / {w:.3f}" + (" ✓" if c >= max(n, w) else "") for c, n, w in r["cells"].values()]
            met[label] = met.get(label, 0) + sum(c >= max(n, w) for c, n, w in r["cells"].values())
            print(f"| {name} | {label} | {r['epochs']} ({r['steps']}) | {r['loss']:.4f} | " + " | ".join(cells) + " |",
                  flush=True)
    print("\ncells where the codes are at least as good as both baselines:", met)


if __name__ == "__main__":
    main()
