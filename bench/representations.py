"""Representations benchmark: are LSTM autoencoder codes and pretrained encoders useful for classification?

On UCR/UEA classification sets that ship inside aeon's wheel (read offline through
`lstmae.datasets.load_real`), with the original train/test splits:

1. Linear probe: LogisticRegression on the codes of an `LSTMAutoencoder` trained on the
   training sequences (no labels), vs. LogisticRegression on the raw sequences
   (resampled to a common length and flattened).
2. Srivastava et al. (2015)'s experiment: `LSTMClassifier` seeded with the autoencoder's
   encoder vs. the same classifier from random weights, trained on 10 %, 25 % and 100 % of
   the training labels (the autoencoder always sees all training sequences, unlabelled).

Every cell is the test accuracy, mean and standard deviation over seeds (each seed: its own
autoencoder, label subset and classifier initialisation).

aeon must not go into the project's .venv; use a separate environment:

    python3 -m venv /tmp/benchvenv
    /tmp/benchvenv/bin/pip install -c constraints.txt torch==2.13.0
    /tmp/benchvenv/bin/pip install -c constraints.txt -e ".[dev,datasets]"
    /tmp/benchvenv/bin/python bench/representations.py            # the full run (~10 min on 2 cores)
    /tmp/benchvenv/bin/python bench/representations.py --quick    # smoke check (< 1 min)
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time

# idle OpenMP threads sleep instead of spinning (set before torch loads): on a busy
# 2-core machine spinning threads slow every LSTM call down many times over
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import numpy as np  # noqa: E402
import torch  # noqa: E402
from sklearn.linear_model import LogisticRegression  # noqa: E402
from sklearn.pipeline import make_pipeline  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402

from lstmae import LSTMAutoencoder, LSTMClassifier  # noqa: E402
from lstmae.data.sequences import to_padded  # noqa: E402
from lstmae.data.datasets import load_real  # noqa: E402
from lstmae.estimators import scaled_batch  # noqa: E402

DATASETS = ["gunpoint", "italy-power-demand", "basic-motions", "japanese-vowels"]
FRACTIONS = [0.1, 0.25, 1.0]

# one setting for every dataset (no per-dataset tuning): small, so the whole run stays short
FULL = dict(hidden_size=32, ae_epochs=150, clf_epochs=100, seeds=3, learning_rate=0.003, batch_size=16)
QUICK = dict(hidden_size=8, ae_epochs=3, clf_epochs=3, seeds=1, learning_rate=0.005, batch_size=16)


def load(name: str):
    train, test = load_real(name, split="train"), load_real(name, split="test")
    return list(train.sequences), np.asarray(train.labels), list(test.sequences), np.asarray(test.labels)


def resample(seqs: list[np.ndarray], length: int) -> np.ndarray:
    """Each (L_i, F) sequence linearly interpolated to `length` steps and flattened: (N, length * F)."""
    out = []
    for s in seqs:
        grid = np.linspace(0, len(s) - 1, length)
        out.append(np.column_stack([np.interp(grid, np.arange(len(s)), s[:, f]) for f in range(s.shape[1])]).ravel())
    return np.asarray(out)


def codes(ae: LSTMAutoencoder, seqs: list[np.ndarray], how: str) -> np.ndarray:
    """The autoencoder's codes pooled by `how` ("last" or "mean"), from one fitted model."""
    data = scaled_batch(to_padded(seqs), ae.scaler_)
    with torch.no_grad():
        return ae.module_.encoder.pool(data["x"], data.get("lengths"), how).numpy()


def label_subset(y: np.ndarray, fraction: float, rng: np.random.Generator) -> np.ndarray:
    """Indices of a stratified random subset: round(fraction * n_c) of every class c, at least one."""
    if fraction >= 1.0:
        return np.arange(len(y))
    picked = []
    for c in np.unique(y):
        members = np.flatnonzero(y == c)
        picked.append(rng.choice(members, size=max(1, int(round(fraction * len(members)))), replace=False))
    return np.sort(np.concatenate(picked))


def probe(features_train, y_train, features_test, y_test) -> float:
    model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=5000))
    return float(model.fit(features_train, y_train).score(features_test, y_test))


def run_dataset(name: str, cfg: dict, log) -> dict:
    X_tr, y_tr, X_te, y_te = load(name)
    lengths = [len(s) for s in X_tr]
    common = int(np.median(lengths))
    raw_tr, raw_te = resample(X_tr, common), resample(X_te, common)
    results: dict = {"n_train": len(X_tr), "n_test": len(X_te), "length": [min(lengths), max(lengths)],
                     "features": X_tr[0].shape[1], "classes": len(np.unique(y_tr)), "probe": {}, "classifier": {}}
    start = time.perf_counter()
    for seed in range(cfg["seeds"]):
        t0 = time.perf_counter()
        ae = LSTMAutoencoder(hidden_size=cfg["hidden_size"], epochs=cfg["ae_epochs"], learning_rate=cfg["learning_rate"],
                             batch_size=cfg["batch_size"], random_state=seed).fit(X_tr)
        log(f"  {name} seed {seed}: autoencoder {time.perf_counter() - t0:.1f} s, "
            f"loss {ae.history_['train_loss'][0]:.3f} -> {ae.history_['train_loss'][-1]:.3f}")
        feats = {how: (codes(ae, X_tr, how), codes(ae, X_te, how)) for how in ("last", "mean")}
        rng = np.random.default_rng(1000 + seed)
        for fraction in FRACTIONS:
            idx = label_subset(y_tr, fraction, rng)
            key = f"{int(fraction * 100)}%"
            row = results["probe"].setdefault(key, {"raw": [], "codes (last)": [], "codes (mean)": []})
            row["raw"].append(probe(raw_tr[idx], y_tr[idx], raw_te, y_te))
            for how, (f_tr, f_te) in feats.items():
                row[f"codes ({how})"].append(probe(f_tr[idx], y_tr[idx], f_te, y_te))
            crow = results["classifier"].setdefault(key, {"random init": [], "seeded": [], "n_labels": len(idx)})
            common_params = dict(epochs=cfg["clf_epochs"], learning_rate=cfg["learning_rate"],
                                 batch_size=cfg["batch_size"], random_state=seed)
            t0 = time.perf_counter()
            seeded = LSTMClassifier(encoder=ae, **common_params).fit([X_tr[i] for i in idx], y_tr[idx])
            crow["seeded"].append(seeded.score(X_te, y_te))
            scratch = LSTMClassifier(hidden_size=cfg["hidden_size"], **common_params).fit([X_tr[i] for i in idx], y_tr[idx])
            crow["random init"].append(scratch.score(X_te, y_te))
            log(f"  {name} seed {seed} {key} ({len(idx)} labels): seeded {crow['seeded'][-1]:.3f}, "
                f"random {crow['random init'][-1]:.3f}, probe codes {row['codes (last)'][-1]:.3f} / raw "
                f"{row['raw'][-1]:.3f}  [{time.perf_counter() - t0:.1f} s]")
    results["seconds"] = time.perf_counter() - start
    return results


def cell(values: list[float]) -> str:
    v = np.asarray(values)
    return f"{v.mean():.3f} ± {v.std():.3f}" if len(v) > 1 else f"{v.mean():.3f}"


def markdown(all_results: dict, cfg: dict, seconds: float) -> str:
    lines = [
        f"Settings: hidden_size={cfg['hidden_size']}, autoencoder epochs={cfg['ae_epochs']}, classifier "
        f"epochs={cfg['clf_epochs']}, learning_rate={cfg['learning_rate']}, batch_size={cfg['batch_size']}, "
        f"{cfg['seeds']} seeds (mean ± standard deviation of the test accuracy). Total {seconds / 60:.1f} min.",
        "",
        "| dataset | N train / test | L | F | classes |",
        "| --- | --- | --- | --- | --- |",
    ]
    for name, r in all_results.items():
        length = r["length"][0] if r["length"][0] == r["length"][1] else f"{r['length'][0]}-{r['length'][1]}"
        lines.append(f"| {name} | {r['n_train']} / {r['n_test']} | {length} | {r['features']} | {r['classes']} |")
    lines += ["", "Linear probe (standardised features, LogisticRegression), test accuracy:", "",
              "| dataset | labels | raw (resampled, flattened) | codes, pooling=last | codes, pooling=mean |",
              "| --- | --- | --- | --- | --- |"]
    for name, r in all_results.items():
        for key, row in r["probe"].items():
            lines.append(f"| {name} | {key} | {cell(row['raw'])} | {cell(row['codes (last)'])} | "
                         f"{cell(row['codes (mean)'])} |")
    lines += ["", "LSTMClassifier (fine-tuned), test accuracy:", "",
              "| dataset | labels (n) | random init | seeded from the autoencoder | difference |",
              "| --- | --- | --- | --- | --- |"]
    for name, r in all_results.items():
        for key, row in r["classifier"].items():
            diff = np.mean(row["seeded"]) - np.mean(row["random init"])
            lines.append(f"| {name} | {key} ({row['n_labels']}) | {cell(row['random init'])} | {cell(row['seeded'])} "
                         f"| {diff:+.3f} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="tiny models, one seed, two datasets: a smoke check")
    parser.add_argument("--datasets", default=None, help=f"comma-separated (default: {','.join(DATASETS)})")
    parser.add_argument("--seeds", type=int, default=None, help="seeds per cell (default 3; 1 with --quick)")
    parser.add_argument("--ae-epochs", type=int, default=None, help="autoencoder epochs")
    parser.add_argument("--clf-epochs", type=int, default=None, help="classifier epochs")
    parser.add_argument("--learning-rate", type=float, default=None, help="Adam's learning rate (both models)")
    parser.add_argument("--hidden-size", type=int, default=None, help="LSTM units (both models)")
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads (default 1)")
    parser.add_argument("--json", default=None, help="also write the raw results to this JSON file")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    cfg = dict(QUICK if args.quick else FULL)
    for key in ("seeds", "ae_epochs", "clf_epochs", "learning_rate", "hidden_size"):
        if getattr(args, key) is not None:
            cfg[key] = getattr(args, key)
    names = args.datasets.split(",") if args.datasets else (["italy-power-demand", "basic-motions"] if args.quick
                                                             else DATASETS)

    def log(msg: str) -> None:
        print(msg, file=sys.stderr, flush=True)

    start = time.perf_counter()
    all_results = {}
    for name in names:
        log(f"{name} ...")
        all_results[name] = run_dataset(name, cfg, log)
        log(f"{name}: {all_results[name]['seconds']:.0f} s")
    seconds = time.perf_counter() - start
    print(markdown(all_results, cfg, seconds))
    if args.json:
        with open(args.json, "w", encoding="utf-8") as fh:
            json.dump({"settings": cfg, "seconds": seconds, "results": all_results, "torch": torch.__version__}, fh,
                      indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
