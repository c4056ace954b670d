"""Representations benchmark: are LSTM autoencoder codes and pretrained encoders useful for classification?

On UCR/UEA classification sets that ship inside aeon's wheel (read offline through
`lstmae.datasets.load_real`), with the original train/test splits:

1. Linear probe: LogisticRegression on the codes of an `LSTMAutoencoder` trained on the
   training sequences (no labels), and on the codes of one trained on all unlabelled inputs
   (training and test sequences, without labels: the semi-supervised regime of the paper),
   vs. the baselines: LogisticRegression on the raw sequences, 1-NN Euclidean (both on the
   sequences resampled to the median training length and flattened) and 1-NN DTW (aeon,
   full window, on the same resampled sequences; 100 % labels only).
2. Srivastava et al. (2015)'s experiment: `LSTMClassifier` seeded with the autoencoder's
   encoder (default: LP-FT, `fine_tuning="lp-ft"`; and the old "joint" recipe) vs. the same
   classifier from random weights, trained on 10 %, 25 % and 100 % of the training labels
   (the autoencoder always sees all training sequences, unlabelled).

The LSTMs read sequences longer than ``--max-length`` (default 256) linearly resampled to
that length, the same rule for every dataset (an LSTM over 1460 steps is impractical on
CPU); the baselines read the median training length, unshortened.

Every cell is the test accuracy, mean and standard deviation over seeds (each seed: its own
autoencoder, label subset and classifier initialisation).

aeon must not go into the project's .venv; use a separate environment:

    python3 -m venv /tmp/benchvenv
    /tmp/benchvenv/bin/pip install -c constraints.txt torch==2.13.0
    /tmp/benchvenv/bin/pip install -c constraints.txt -e ".[dev,datasets]"
    /tmp/benchvenv/bin/python bench/representations.py            # the full run (~1 h on 2 cores)
    /tmp/benchvenv/bin/python bench/representations.py --quick    # smoke check (< 1 min)
"""
from __future__ import annotations

import argparse
import json
import math
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

DATASETS = ["gunpoint", "italy-power-demand", "basic-motions", "japanese-vowels", "arrowhead", "unit-test",
            "pickup-gesture", "osuleaf", "acsf1"]
FRACTIONS = [0.1, 0.25, 1.0]
POOLINGS = ["last", "last_hc", "mean", "all"]  # "all": [last_hc | mean | max of the outputs]

# one setting for every dataset (no per-dataset tuning)
FULL = dict(hidden_size=32, ae_epochs=150, clf_epochs=100, seeds=3, learning_rate=0.003, batch_size=16,
            max_length=256)
QUICK = dict(hidden_size=8, ae_epochs=3, clf_epochs=3, seeds=1, learning_rate=0.005, batch_size=16, max_length=64)


def load(name: str):
    train, test = load_real(name, split="train"), load_real(name, split="test")
    return list(train.sequences), np.asarray(train.labels), list(test.sequences), np.asarray(test.labels)


def resample_each(seqs: list[np.ndarray], length: int) -> list[np.ndarray]:
    """Each (L_i, F) sequence linearly interpolated to `length` steps: a list of (length, F)."""
    out = []
    for s in seqs:
        grid = np.linspace(0, len(s) - 1, length)
        out.append(np.column_stack([np.interp(grid, np.arange(len(s)), s[:, f]) for f in range(s.shape[1])]))
    return out


def resample(seqs: list[np.ndarray], length: int) -> np.ndarray:
    """Each (L_i, F) sequence resampled to `length` steps and flattened: (N, length * F)."""
    return np.asarray([s.ravel() for s in resample_each(seqs, length)])


def shorten(seqs: list[np.ndarray], max_length: int) -> list[np.ndarray]:
    """Sequences longer than `max_length` resampled to it (float32); shorter ones as they are."""
    return [s if len(s) <= max_length else resample_each([s], max_length)[0].astype(np.float32) for s in seqs]


def codes(ae: LSTMAutoencoder, seqs: list[np.ndarray], how: str) -> np.ndarray:
    """The autoencoder's codes pooled by `how` (any `pooling`), from one fitted model."""
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


def one_nn(flat_train, y_train, flat_test, y_test) -> float:
    """1-NN Euclidean on flattened, resampled sequences."""
    d = ((flat_test ** 2).sum(1)[:, None] - 2 * flat_test @ flat_train.T + (flat_train ** 2).sum(1)[None, :])
    return float((y_train[np.argmin(d, axis=1)] == y_test).mean())


def one_nn_dtw(seqs_train, y_train, seqs_test, y_test) -> float | None:
    """1-NN DTW (aeon, full window) on resampled (L, F) sequences; None without aeon's classifier."""
    try:
        from aeon.classification.distance_based import KNeighborsTimeSeriesClassifier
    except ImportError:
        return None
    as_aeon = lambda seqs: np.ascontiguousarray(np.transpose(np.asarray(seqs), (0, 2, 1)))  # (N, F, L)
    knn = KNeighborsTimeSeriesClassifier(n_neighbors=1, distance="dtw")
    return float((knn.fit(as_aeon(seqs_train), y_train).predict(as_aeon(seqs_test)) == y_test).mean())


def ae_epochs(n_sequences: int, cfg: dict) -> int:
    """The autoencoder's epochs: ``cfg["ae_epochs"]``, raised so that `n_sequences` in batches of
    ``cfg["batch_size"]`` make at least ``cfg["ae_min_steps"]`` optimizer steps (--ae-min-steps)."""
    batches = math.ceil(n_sequences / cfg["batch_size"])
    return max(cfg["ae_epochs"], math.ceil((cfg.get("ae_min_steps") or 0) / batches))


def run_dataset(name: str, cfg: dict, log, dtw: bool = True) -> dict:
    X_tr, y_tr, X_te, y_te = load(name)
    lengths = [len(s) for s in X_tr]
    common = int(np.median(lengths))
    res_tr, res_te = resample_each(X_tr, common), resample_each(X_te, common)
    raw_tr, raw_te = np.asarray([s.ravel() for s in res_tr]), np.asarray([s.ravel() for s in res_te])
    L_tr, L_te = shorten(X_tr, cfg["max_length"]), shorten(X_te, cfg["max_length"])
    results: dict = {"n_train": len(X_tr), "n_test": len(X_te), "length": [min(lengths), max(lengths)],
                     "features": X_tr[0].shape[1], "classes": len(np.unique(y_tr)), "probe": {}, "classifier": {}}
    start = time.perf_counter()
    if dtw:
        t0 = time.perf_counter()
        results["1nn_dtw"] = one_nn_dtw(res_tr, y_tr, res_te, y_te)
        log(f"  {name}: 1-NN DTW {results['1nn_dtw']} [{time.perf_counter() - t0:.1f} s]")
    ae_params = dict(hidden_size=cfg["hidden_size"], learning_rate=cfg["learning_rate"], batch_size=cfg["batch_size"])
    for seed in range(cfg["seeds"]):
        t0 = time.perf_counter()
        ae = LSTMAutoencoder(**ae_params, epochs=ae_epochs(len(L_tr), cfg), random_state=seed).fit(L_tr)
        t1 = time.perf_counter()
        ae_all = LSTMAutoencoder(**ae_params, epochs=ae_epochs(len(L_tr) + len(L_te), cfg),  # every input, no labels
                                 random_state=seed).fit(L_tr + L_te)
        log(f"  {name} seed {seed}: autoencoder {t1 - t0:.1f} s, loss {ae.history_['train_loss'][0]:.3f} -> "
            f"{ae.history_['train_loss'][-1]:.3f}; on all inputs {time.perf_counter() - t1:.1f} s")
        feats = {how: (codes(ae, L_tr, how), codes(ae, L_te, how)) for how in POOLINGS}
        feats_all = {how: (codes(ae_all, L_tr, how), codes(ae_all, L_te, how)) for how in ("last", "all")}
        rng = np.random.default_rng(1000 + seed)
        for fraction in FRACTIONS:
            idx = label_subset(y_tr, fraction, rng)
            key = f"{int(fraction * 100)}%"
            row = results["probe"].setdefault(key, {"n_labels": len(idx)})
            row.setdefault("raw", []).append(probe(raw_tr[idx], y_tr[idx], raw_te, y_te))
            row.setdefault("1nn", []).append(one_nn(raw_tr[idx], y_tr[idx], raw_te, y_te))
            for how, (f_tr, f_te) in feats.items():
                row.setdefault(f"codes ({how})", []).append(probe(f_tr[idx], y_tr[idx], f_te, y_te))
            for how, (f_tr, f_te) in feats_all.items():
                row.setdefault(f"codes, all inputs ({how})", []).append(probe(f_tr[idx], y_tr[idx], f_te, y_te))
            crow = results["classifier"].setdefault(key, {"n_labels": len(idx)})
            common_params = dict(epochs=cfg["clf_epochs"], learning_rate=cfg["learning_rate"],
                                 batch_size=cfg["batch_size"], random_state=seed)
            subset = [L_tr[i] for i in idx]
            t0 = time.perf_counter()
            runs = {"random init, pooling=last": dict(hidden_size=cfg["hidden_size"], pooling="last"),
                    "seeded, pooling=last": dict(encoder=ae, pooling="last"),
                    "random init (default: pooling=all)": dict(hidden_size=cfg["hidden_size"]),
                    "seeded (default: lp-ft, pooling=all)": dict(encoder=ae),
                    "seeded on all inputs (default)": dict(encoder=ae_all)}
            if cfg.get("joint"):
                runs["seeded, joint"] = dict(encoder=ae, fine_tuning="joint", pooling="last")
            for label, params in runs.items():
                clf = LSTMClassifier(**params, **common_params).fit(subset, y_tr[idx])
                crow.setdefault(label, []).append(clf.score(L_te, y_te))
            log(f"  {name} seed {seed} {key} ({len(idx)} labels): " + ", ".join(
                f"{k} {v[-1]:.3f}" for k, v in crow.items() if k != "n_labels") +
                f"; probe codes {row['codes (last)'][-1]:.3f} / raw {row['raw'][-1]:.3f} / 1-NN {row['1nn'][-1]:.3f}"
                f"  [{time.perf_counter() - t0:.1f} s]")
    results["seconds"] = time.perf_counter() - start
    return results


def cell(values: list[float]) -> str:
    v = np.asarray(values)
    return f"{v.mean():.3f} ± {v.std():.3f}" if len(v) > 1 else f"{v.mean():.3f}"


def markdown(all_results: dict, cfg: dict, seconds: float) -> str:
    lines = [
        f"Settings: hidden_size={cfg['hidden_size']}, autoencoder epochs={cfg['ae_epochs']}, classifier "
        f"epochs={cfg['clf_epochs']}, learning_rate={cfg['learning_rate']}, batch_size={cfg['batch_size']}, "
        f"LSTM inputs resampled to at most {cfg['max_length']} steps, {cfg['seeds']} seed(s) (mean ± standard "
        f"deviation of the test accuracy over seeds). Total {seconds / 60:.1f} min.",
        "",
        "| dataset | N train / test | L | F | classes |",
        "| --- | --- | --- | --- | --- |",
    ]
    for name, r in all_results.items():
        length = r["length"][0] if r["length"][0] == r["length"][1] else f"{r['length'][0]}-{r['length'][1]}"
        lines.append(f"| {name} | {r['n_train']} / {r['n_test']} | {length} | {r['features']} | {r['classes']} |")
    pcols = ["raw", "1nn"] + [f"codes ({how})" for how in POOLINGS] + ["codes, all inputs (last)",
                                                                         "codes, all inputs (all)"]
    lines += ["", "Linear probe (standardised features, LogisticRegression) and 1-NN baselines, test accuracy "
              "(1-NN DTW: 100 % labels, deterministic):", "",
              "| dataset | labels (n) | LR raw | 1-NN Euclidean | 1-NN DTW | " +
              " | ".join(pcols[2:]) + " |",
              "|" + " --- |" * (len(pcols) + 3)]
    for name, r in all_results.items():
        for key, row in r["probe"].items():
            dtw = r.get("1nn_dtw") if key == "100%" else None
            lines.append(f"| {name} | {key} ({row['n_labels']}) | " + " | ".join(
                [cell(row["raw"]), cell(row["1nn"]), "-" if dtw is None else f"{dtw:.3f}"] +
                [cell(row[c]) for c in pcols[2:]]) + " |")
    first = next(iter(all_results.values()))["classifier"]
    ccols = [c for c in ["random init, pooling=last", "seeded, joint", "seeded, pooling=last",
                         "random init (default: pooling=all)", "seeded (default: lp-ft, pooling=all)",
                         "seeded on all inputs (default)"] if c in next(iter(first.values()))]
    lines += ["", "LSTMClassifier, test accuracy; its probe: LogisticRegression on the codes it starts from "
              "(pooling last / all); the differences are of the means:", "",
              "| dataset | labels (n) | " + " | ".join(ccols) +
              " | seeded - probe (last) | seeded - random (last) | seeded - probe (all) | seeded - random (all) |",
              "|" + " --- |" * (len(ccols) + 6)]
    for name, r in all_results.items():
        for key, row in r["classifier"].items():
            diffs = []
            for how, seeded, random in (("last", "seeded, pooling=last", "random init, pooling=last"),
                                        ("all", "seeded (default: lp-ft, pooling=all)",
                                         "random init (default: pooling=all)")):
                d = np.mean(row[seeded])
                diffs += [d - np.mean(r["probe"][key][f"codes ({how})"]), d - np.mean(row[random])]
            lines.append(f"| {name} | {key} ({row['n_labels']}) | " + " | ".join(cell(row[c]) for c in ccols) +
                         " | " + " | ".join(f"{v:+.3f}" for v in diffs) + " |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="tiny models, one seed, two datasets: a smoke check")
    parser.add_argument("--datasets", default=None, help=f"comma-separated (default: {','.join(DATASETS)})")
    parser.add_argument("--seeds", type=int, default=None, help="seeds per cell (default 3; 1 with --quick)")
    parser.add_argument("--ae-epochs", type=int, default=None, help="autoencoder epochs")
    parser.add_argument("--ae-min-steps", type=int, default=None, help="raise the autoencoder epochs so that "
                        "training takes at least this many optimizer steps (bench/representations_steps.py)")
    parser.add_argument("--clf-epochs", type=int, default=None, help="classifier epochs")
    parser.add_argument("--learning-rate", type=float, default=None, help="Adam's learning rate (both models)")
    parser.add_argument("--hidden-size", type=int, default=None, help="LSTM units (both models)")
    parser.add_argument("--max-length", type=int, default=None, help="LSTM inputs longer than this are resampled "
                        "to it (default 256)")
    parser.add_argument("--no-dtw", action="store_true", help="skip the 1-NN DTW baseline")
    parser.add_argument("--joint", action="store_true", help="also the old fine-tuning recipe (fine_tuning='joint')")
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads (default 1)")
    parser.add_argument("--json", default=None, help="also write the raw results to this JSON file")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    cfg = dict(QUICK if args.quick else FULL)
    cfg["joint"] = args.joint
    for key in ("seeds", "ae_epochs", "ae_min_steps", "clf_epochs", "learning_rate", "hidden_size", "max_length"):
        if getattr(args, key) is not None:
            cfg[key] = getattr(args, key)
    names = args.datasets.split(",") if args.datasets else (["unit-test", "basic-motions"] if args.quick
                                                             else DATASETS)

    def log(msg: str) -> None:
        print(msg, file=sys.stderr, flush=True)

    start = time.perf_counter()
    all_results = {}
    for name in names:
        log(f"{name} ...")
        all_results[name] = run_dataset(name, cfg, log, dtw=not args.no_dtw)
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
