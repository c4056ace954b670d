"""Srivastava et al. (2015), "Unsupervised Learning of Video Representations using LSTMs", at laptop scale.

One command reproduces the paper's two findings on moving-digit videos (`make_moving_digits`:
sklearn's 8x8 digits upscaled and bouncing in a box, Moving-MNIST style):

1. **Future prediction (their Table 1).** Five models with the same encoder and decoder sizes,
   epochs and loss (Bernoulli cross-entropy, sigmoid outputs, `loss="bce"`, `scale=None`),
   10 input frames, 10 future frames, the decoders started from the encoder's final state
   (`bridge="state"`): the autoencoder (reversed reconstruction target), the future
   predictor, the composite model, the conditional future predictor and the composite model
   with a conditional future predictor; beside two baselines without a network (repeat the
   last input frame; the training set's mean frame). Cross-entropy per frame on held-out
   videos, mean and spread over seeds, next to the paper's ranking and numbers; videos with
   one and three digits (the models saw two) as out-of-domain tests; a figure of inputs,
   reconstructions, true and predicted futures.
2. **Pretraining helps when labels are few.** The composite model (with conditional future
   predictor), trained on the unlabelled videos above, seeds an `LSTMClassifier`
   (fine-tuned, or a linear probe with the encoder frozen) against the same classifier from
   random weights, with 1 %, 10 % and 100 % of a small labelled set. The label needs the
   whole video: do the digits move mostly left/right or up/down (summed over both digits
   and the 10 input frames, from `positions`)?

    python bench/paper.py                  # default size: 6 min of CPU time (16 min wall measured on
                                           # 2 cores shared with other jobs)
    python bench/paper.py --tiny           # seconds (the test suite runs it)
    python bench/paper.py --full --device cuda   # the paper's 64x64 frames, 20,000 videos (not measured)

Prints the tables; writes ``results.json``, ``paper.png`` (input / reconstruction / future /
prediction rows, in-domain and out-of-domain) and ``paper_models.png`` (every model's
prediction of the same videos) into ``--output-dir`` (default ``bench/results/paper``).
See docs/paper.md for the measured numbers and their reading.
"""
from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time
from pathlib import Path

# idle OpenMP threads sleep instead of spinning (before torch loads): on a busy 2-core machine
# spinning threads slow every LSTM call down many times over
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import numpy as np  # noqa: E402

from lstmae import LSTMAutoencoder, LSTMClassifier  # noqa: E402
from lstmae.data.synthetic import make_moving_digits  # noqa: E402
from lstmae.metrics import frame_cross_entropy  # noqa: E402
from lstmae.plotting import plot_frames  # noqa: E402

N_IN, N_FUTURE = 10, 10

# The five models of the paper's Table 1 (plus the plain autoencoder, for reconstruction).
# Every one: bridge="state", loss="bce", scale=None, the same sizes and training settings.
MODELS = {
    "autoencoder": dict(task="reconstruct", reverse=True),
    "future predictor": dict(task="predict"),
    "composite": dict(task="composite", reverse=True),
    "conditional future predictor": dict(task="predict", conditional=True),
    "composite + conditional future predictor": dict(task="composite", reverse=True, conditional=True),
}
# Their Table 1 (Moving MNIST, 64x64 frames, 2048 units): future cross-entropy, lower is better.
PAPER = {
    "future predictor": 363.1,
    "composite": 349.5,
    "conditional future predictor": 343.5,
    "composite + conditional future predictor": 341.2,
}
PAPER_RANK = {name: i + 1 for i, name in enumerate(sorted(PAPER, key=PAPER.get))}
PRETRAINED = "composite + conditional future predictor"  # the encoder that seeds the classifiers
FIGURE_MODEL = "composite"
FRACTIONS = (0.01, 0.1, 1.0)

# speed: the range of the digits' speeds in pixels per frame; the generator's default (1, 3) is
# meant for 32x32 frames, so it is scaled with the frame side (the tiny size moves slowly: it
# must learn something in seconds).
SIZES = {
    # the test suite: ~15 s of one core; slow digits, small batches and a high learning rate, so that
    # every model beats the mean frame after 5 epochs
    "tiny": dict(frame_size=8, digit_size=4, speed=(0.0, 0.3), n_train=512, n_test=48, hidden_size=64, epochs=5,
                 learning_rate=0.01, batch_size=8, seeds=1, n_labelled=100, n_clf_test=60, clf_steps=20),
    # 6 min of CPU time; 16 min wall measured on 2 cores shared with other jobs (docs/paper.md)
    "default": dict(frame_size=16, digit_size=8, speed=(0.5, 1.5), n_train=8000, n_test=500, hidden_size=128,
                    epochs=5, learning_rate=0.003, batch_size=64, seeds=3, n_labelled=1000, n_clf_test=1000,
                    clf_steps=300),
    # the paper's geometry and pretraining set (64x64 frames, 2048 units, 20,000 videos): a GPU job,
    # never run here (no GPU); the frames alone take ~6.5 GB of memory
    "full": dict(frame_size=64, digit_size=28, speed=(2.0, 6.0), n_train=20000, n_test=2000, hidden_size=2048, epochs=30,
                 learning_rate=0.001, batch_size=64, seeds=3, n_labelled=1000, n_clf_test=2000,
                 clf_steps=1000),
}


# ----------------------------------------------------------------------------- data
def videos(n: int, cfg: dict, seed: int, n_digits: int = 2):
    return make_moving_digits(n, frame_size=cfg["frame_size"], n_frames=N_IN + N_FUTURE, n_digits=n_digits,
                              digit_size=cfg["digit_size"], random_state=seed, speed=tuple(cfg["speed"]))


def direction_labels(positions: np.ndarray, clear: float = 2.0) -> np.ndarray:
    """'left/right', 'up/down' or '' (unclear) per video, from the digits' paths over the input frames.

    ``positions`` (N, T, D, 2) are (row, column). A digit moves "mostly left/right" when it
    travels ``clear`` times farther along columns than along rows (bounces included), and
    "mostly up/down" the other way round; a video has a label when all its digits agree.
    """
    travel = np.abs(np.diff(positions[:, :N_IN], axis=1)).sum(axis=1)  # (N, D, 2): rows, columns
    across = (travel[..., 1] > clear * travel[..., 0]).all(axis=1)
    along = (travel[..., 0] > clear * travel[..., 1]).all(axis=1)
    return np.where(across, "left/right", np.where(along, "up/down", ""))


def labelled_videos(n: int, cfg: dict, seed: int):
    """``n`` 2-digit videos whose direction label is clear (see `direction_labels`): frames, labels."""
    frames, labels, drawn = [], [], 0
    while drawn < n:
        v = videos(4 * n, cfg, seed=seed)
        y = direction_labels(v.positions)
        keep = np.flatnonzero(y != "")[: n - drawn]
        frames.append(v.frames[keep, :N_IN])
        labels.append(y[keep])
        drawn += len(keep)
        seed += 1000
    return np.concatenate(frames), np.concatenate(labels)


def label_subset(y: np.ndarray, fraction: float, rng: np.random.Generator) -> np.ndarray:
    """A stratified random subset of ``fraction`` of the indices, at least one per class."""
    picked = []
    for c in np.unique(y):
        idx = np.flatnonzero(y == c)
        k = max(1, int(round(fraction * len(idx))))
        picked.append(rng.choice(idx, size=k, replace=False))
    return np.sort(np.concatenate(picked))


# ----------------------------------------------------------------------------- models
def autoencoder(name: str, cfg: dict, seed: int, device: str) -> LSTMAutoencoder:
    return LSTMAutoencoder(horizon=N_FUTURE, hidden_size=cfg["hidden_size"], bridge="state", loss="bce",
                           scale=None, learning_rate=cfg["learning_rate"], batch_size=cfg["batch_size"],
                           epochs=cfg["epochs"], random_state=seed, device=device, verbose=False,
                           **MODELS[name])


def evaluate(ae: LSTMAutoencoder, X: np.ndarray, Y: np.ndarray) -> dict:
    """Future and reconstruction cross-entropy per frame (None where the model has no such decoder)."""
    out = {"future": None, "reconstruction": None, "future_curve": None}
    if ae.config_.has_prediction:
        ce = frame_cross_entropy(Y, ae.predict(X))  # (N, 10)
        out["future"], out["future_curve"] = float(ce.mean()), ce.mean(axis=0).tolist()
    if ae.config_.has_reconstruction:
        out["reconstruction"] = float(frame_cross_entropy(X, ae.reconstruct(X)).mean())
    return out


def baselines(train_frames: np.ndarray, sets: dict) -> dict:
    """The two networks-free baselines on every evaluation set: {baseline: {set: metrics}}.

    mean frame: every frame predicted as the training set's mean frame. last frame: the last
    input frame repeated, as is ("raw": a moved digit is a confident miss) and blended with the
    mean frame, ``(1 - a) * last + a * mean``, ``a`` chosen on the training videos.
    """
    mean = train_frames.mean(axis=(0, 1))
    Xtr, Ytr = train_frames[:, :N_IN], train_frames[:, N_IN:]
    grid = np.linspace(0.05, 0.95, 19)
    a = float(grid[np.argmin([frame_cross_entropy(Ytr, (1 - g) * Xtr[:, -1:] + g * mean).mean() for g in grid])])
    preds = {  # f(inputs, shape of the frames to predict) -> probabilities
        "mean frame": lambda x, shape: np.broadcast_to(mean, shape),
        "last input frame (raw)": lambda x, shape: np.broadcast_to(x[:, -1:], shape),
        f"last input frame (blended, a={a:.2f})":
            lambda x, shape: (1 - a) * np.broadcast_to(x[:, -1:], shape) + a * mean,
    }
    out = {}
    for name, f in preds.items():
        out[name] = {}
        for set_name, (X, Y) in sets.items():
            fc = frame_cross_entropy(Y, f(X, Y.shape))  # (N, 10)
            out[name][set_name] = {"future": float(fc.mean()), "future_curve": fc.mean(axis=0).tolist(),
                                   "reconstruction": float(frame_cross_entropy(X, f(X, X.shape)).mean())}
    return out


def classifier(kind: str, ae: LSTMAutoencoder, cfg: dict, n: int, seed: int, device: str) -> LSTMClassifier:
    """The three classifiers, the same architecture and training (a fixed number of gradient steps)."""
    batch = min(32, n)
    epochs = max(1, math.ceil(cfg["clf_steps"] / math.ceil(n / batch)))
    common = dict(learning_rate=cfg["learning_rate"], batch_size=batch, epochs=epochs, random_state=seed,
                  device=device, verbose=False)
    if kind == "fine-tuned":
        return LSTMClassifier(encoder=ae, **common)
    if kind == "linear probe":
        return LSTMClassifier(encoder=ae, freeze_encoder=True, **common)
    return LSTMClassifier(encoder=None, hidden_size=cfg["hidden_size"], scale=None, **common)


CLASSIFIERS = ("fine-tuned", "linear probe", "random init")


# ----------------------------------------------------------------------------- the run
def run(size: str = "default", device: str = "cpu", output_dir: str | os.PathLike = "bench/results/paper",
        log=print, **overrides) -> dict:
    """Train, evaluate, draw; returns the results (also written to ``output_dir/results.json``)."""
    cfg = dict(SIZES[size], **{k: v for k, v in overrides.items() if v is not None})
    out_dir = Path(output_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    t_start, cpu_start = time.perf_counter(), time.process_time()
    train = videos(cfg["n_train"], cfg, seed=1)
    sets = {}
    for set_name, n_digits, seed in (("test", 2, 2), ("1 digit", 1, 3), ("3 digits", 3, 4)):
        v = videos(cfg["n_test"], cfg, seed=seed, n_digits=n_digits)
        sets[set_name] = (v.frames[:, :N_IN], v.frames[:, N_IN:])
    Xtr, Ytr = train.frames[:, :N_IN], train.frames[:, N_IN:]
    log(f"{size} size: {cfg['n_train']} training videos, {cfg['n_test']} held-out per test set, "
        f"{cfg['frame_size']}x{cfg['frame_size']} frames, {cfg['digit_size']}x{cfg['digit_size']} digits, "
        f"hidden {cfg['hidden_size']}, {cfg['epochs']} epochs, {cfg['seeds']} seed(s), device {device}")

    results = {"size": size, "config": cfg, "device": device, "models": {}, "baselines": baselines(train.frames, sets)}
    fitted = {}  # (model, seed) -> estimator, for the figures and the few-label experiment
    t0 = time.perf_counter()
    for seed in range(cfg["seeds"]):
        for name in MODELS:
            t = time.perf_counter()
            ae = autoencoder(name, cfg, seed, device).fit(Xtr, Ytr if MODELS[name]["task"] != "reconstruct" else None)
            fit_s = time.perf_counter() - t
            res = {set_name: evaluate(ae, X, Y) for set_name, (X, Y) in sets.items()}
            res["fit_seconds"] = fit_s
            res["final_train_loss"] = float(ae.history_["train_loss"][-1])
            results["models"].setdefault(name, []).append(res)
            log(f"  seed {seed} {name:<42} fit {fit_s:6.1f} s  future "
                + (f"{res['test']['future']:8.2f}" if res["test"]["future"] is not None else "       -")
                + "  reconstruction "
                + (f"{res['test']['reconstruction']:8.2f}" if res["test"]["reconstruction"] is not None else "  -"))
            if name in (PRETRAINED, FIGURE_MODEL) or seed == 0:
                fitted[name, seed] = ae
    results["seconds_autoencoders"] = time.perf_counter() - t0

    results["figures"] = figures(fitted, sets, cfg, out_dir)
    t0 = time.perf_counter()
    results["few_labels"] = few_labels(fitted, cfg, device, log)
    results["seconds_few_labels"] = time.perf_counter() - t0
    results["seconds_total"] = time.perf_counter() - t_start
    results["cpu_seconds_total"] = time.process_time() - cpu_start  # all threads: what the work costs alone
    with open(out_dir / "results.json", "w") as f:
        json.dump(results, f, indent=1, default=str)
    return results


def figures(fitted: dict, sets: dict, cfg: dict, out_dir: Path) -> dict:
    """paper.png: one model's inputs, reconstructions, true and predicted futures; paper_models.png: every model."""
    ae = fitted[FIGURE_MODEL, 0]
    rows, shapes = {}, {}
    for set_name, picks in (("test", (0, 1, 2)), ("1 digit", (0,)), ("3 digits", (0,))):
        X, Y = sets[set_name]
        x, y = X[list(picks)], Y[list(picks)]
        rec, pred = ae.reconstruct(x), ae.predict(x)
        shapes[set_name] = {"reconstruction": list(rec.shape), "prediction": list(pred.shape)}
        for j, i in enumerate(picks):
            tag = f"{set_name} #{i + 1}" if set_name == "test" else f"{set_name} (out of domain)"
            rows[f"{tag}: input"] = x[j]
            rows[f"{tag}: reconstruction"] = rec[j]
            rows[f"{tag}: future (truth)"] = y[j]
            rows[f"{tag}: future (predicted)"] = pred[j]
    s = cfg["frame_size"]
    paper_png = plot_frames(rows, out_dir / "paper.png", frame_size=s,
                            title=f"{FIGURE_MODEL}, trained on 2-digit videos ({s}x{s}); held-out videos")
    X, Y = sets["test"]
    rows = {}
    for i in (0, 1):
        rows[f"#{i + 1}: input"] = X[i]
        rows[f"#{i + 1}: future (truth)"] = Y[i]
        for name in MODELS:
            if MODELS[name]["task"] != "reconstruct":
                rows[f"#{i + 1}: {name}"] = fitted[name, 0].predict(X[i:i + 1])[0]
    models_png = plot_frames(rows, out_dir / "paper_models.png", frame_size=s,
                             title="predicted futures of every model (seed 0), held-out videos")
    return {"paper": str(paper_png), "models": str(models_png), "shapes": shapes}


def few_labels(fitted: dict, cfg: dict, device: str, log=print) -> dict:
    """Test accuracy of the three classifiers per label fraction and seed, and the majority-class rate."""
    X, y = labelled_videos(cfg["n_labelled"], cfg, seed=5)
    Xt, yt = labelled_videos(cfg["n_clf_test"], cfg, seed=6)
    classes, counts = np.unique(y, return_counts=True)
    majority = float(np.mean(yt == classes[np.argmax(counts)]))
    out = {"task": "do the digits move mostly left/right or up/down (both digits, clearly)", "n_labelled": int(len(y)), "n_test": int(len(yt)),
           "class_balance_test": {c: float(np.mean(yt == c)) for c in np.unique(yt)},
           "majority_accuracy": majority, "accuracy": {}}
    for fraction in FRACTIONS:
        key = f"{fraction:.0%}"
        out["accuracy"][key] = {k: [] for k in CLASSIFIERS}
        for seed in range(cfg["seeds"]):
            idx = label_subset(y, fraction, np.random.default_rng(100 + seed))
            ae = fitted[PRETRAINED, seed]
            for kind in CLASSIFIERS:
                t = time.perf_counter()
                clf = classifier(kind, ae, cfg, len(idx), seed, device).fit(X[idx], y[idx])
                acc = float(clf.score(Xt, yt))
                out["accuracy"][key][kind].append(acc)
                log(f"  labels {key:>4} ({len(idx):4d})  seed {seed}  {kind:<12}  accuracy {acc:.3f}  "
                    f"({time.perf_counter() - t:.1f} s)")
        out["accuracy"][key]["n"] = int(len(idx))
    return out


# ----------------------------------------------------------------------------- report
def _ms(values) -> str:
    v = np.asarray([x for x in values if x is not None], dtype=float)
    if v.size == 0:
        return "-"
    return f"{v.mean():.2f} ± {v.std():.2f}" if v.size > 1 else f"{v.mean():.2f}"


def table(results: dict) -> str:
    """The Markdown tables: Table 1 with the paper beside it, out-of-domain, few labels."""
    cfg = results["config"]
    s = cfg["frame_size"]
    lines = [f"Future prediction on held-out 2-digit videos ({cfg['n_test']} videos, {s}x{s} frames): "
             f"cross-entropy per frame (summed over {s * s} pixels), mean ± std over {cfg['seeds']} seed(s); "
             "lower is better", "",
             "| model | future CE / frame | our rank | reconstruction CE / frame | paper's rank | "
             "paper's future CE (theirs: 64x64, summed over the future frames' pixels) |",
             "| --- | --- | --- | --- | --- | --- |"]
    means = {name: np.mean([r["test"]["future"] for r in runs]) for name, runs in results["models"].items()
             if runs[0]["test"]["future"] is not None}
    ours = {name: i + 1 for i, name in enumerate(sorted((n for n in means if n in PAPER), key=means.get))}
    for name, runs in results["models"].items():
        lines.append(f"| {name} | {_ms(r['test']['future'] for r in runs)} | {ours.get(name, '-')} | "
                     f"{_ms(r['test']['reconstruction'] for r in runs)} | {PAPER_RANK.get(name, '-')} | "
                     f"{PAPER.get(name, '-')} |")
    for name, res in results["baselines"].items():
        lines.append(f"| baseline: {name} | {res['test']['future']:.2f} | - | {res['test']['reconstruction']:.2f} "
                     "| - | - |")
    steps = [k for k in (1, 2, 5, 10) if k <= N_FUTURE]
    lines += ["", "Future CE per frame by how far ahead (held-out 2-digit videos; mean over seeds)", "",
              "| model | " + " | ".join(f"frame +{k}" for k in steps) + " |", "| --- |" + " --- |" * len(steps)]
    curves = {name: np.mean([r["test"]["future_curve"] for r in runs], axis=0)
              for name, runs in results["models"].items() if runs[0]["test"]["future"] is not None}
    curves.update({f"baseline: {name}": np.asarray(res["test"]["future_curve"])
                   for name, res in results["baselines"].items()})
    for name, curve in curves.items():
        lines.append(f"| {name} | " + " | ".join(f"{curve[k - 1]:.2f}" for k in steps) + " |")
    lines += ["", "Out of domain (the same models, trained on 2 digits): future CE / frame on videos with 1 and "
              "3 digits (and 2, in domain)", "",
              "| model | 1 digit | 2 digits | 3 digits |", "| --- | --- | --- | --- |"]
    for name, runs in results["models"].items():
        if runs[0]["test"]["future"] is not None:
            lines.append(f"| {name} | " + " | ".join(_ms(r[k]["future"] for r in runs)
                                                   for k in ("1 digit", "test", "3 digits")) + " |")
    for name, res in results["baselines"].items():
        lines.append(f"| baseline: {name} | " + " | ".join(f"{res[k]['future']:.2f}"
                                                           for k in ("1 digit", "test", "3 digits")) + " |")
    fl = results["few_labels"]
    lines += ["", f"Few labels: {fl['task']} from the 10 input frames; test accuracy on {fl['n_test']} videos "
              f"(majority class: {fl['majority_accuracy']:.3f}), mean ± std over {cfg['seeds']} seed(s); "
              f"encoder pretrained as the {PRETRAINED} on the {cfg['n_train']} unlabelled training videos", "",
              "| labels (n) | pretrained, fine-tuned | pretrained, linear probe | random init | "
              "fine-tuned - random |", "| --- | --- | --- | --- | --- |"]
    for key, acc in fl["accuracy"].items():
        diff = np.mean(acc["fine-tuned"]) - np.mean(acc["random init"])
        lines.append(f"| {key} ({acc['n']}) | " + " | ".join(
            f"{np.mean(acc[k]):.3f} ± {np.std(acc[k]):.3f}" for k in CLASSIFIERS) + f" | {diff:+.3f} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawTextHelpFormatter)
    g = p.add_mutually_exclusive_group()
    g.add_argument("--tiny", action="store_true", help="seconds: the test suite's size")
    g.add_argument("--full", action="store_true", help="the paper's geometry: 64x64 frames, 20,000 videos (GPU)")
    p.add_argument("--device", default="cpu", help="cpu (default), cuda, auto")
    p.add_argument("--output-dir", default="bench/results/paper")
    p.add_argument("--seeds", type=int, help="override the size's number of seeds")
    p.add_argument("--epochs", type=int, help="override the size's epochs")
    p.add_argument("--n-train", type=int, help="override the size's number of training videos")
    p.add_argument("--hidden-size", type=int, help="override the size's LSTM units")
    args = p.parse_args(argv)
    size = "tiny" if args.tiny else "full" if args.full else "default"
    results = run(size, args.device, args.output_dir, seeds=args.seeds, epochs=args.epochs,
                  n_train=args.n_train, hidden_size=args.hidden_size)
    print()
    print(table(results))
    print()
    print(f"figures: {results['figures']['paper']}, {results['figures']['models']}")
    print(f"time: {results['seconds_total']:.0f} s wall in all (autoencoders {results['seconds_autoencoders']:.0f} s, "
          f"few labels {results['seconds_few_labels']:.0f} s), {results['cpu_seconds_total']:.0f} s of CPU time, "
          f"{os.cpu_count()} CPU core(s)" + (f" and {args.device}" if args.device != "cpu" else "")
          + "; other work on the machine stretches the wall time")
    return results


if __name__ == "__main__":
    sys.exit(0 if main() else 1)
