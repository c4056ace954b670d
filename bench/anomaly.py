"""Anomaly-detection benchmark on real series: lstmae's detector options vs. PCA, IsolationForest and
PyOD's LSTMAD, measured in one run, with a leave-half-out choice of the default.

    python bench/anomaly.py            # full run (about 15 minutes on 2 cores)
    python bench/anomaly.py --quick    # smoke run (small models, three series)
    python bench/anomaly.py --fresh    # half C: the chosen default on four series kept back (about 5 minutes)
    python bench/anomaly.py --half-d   # half D: the same on six statsmodels series (pip install statsmodels)

Series (`bench/anomaly_data.py`): aeon's real labelled KDD-TSAD 135 series, and nine real
unlabelled series from aeon's wheel with anomalies injected by a documented, seeded procedure
(spike, level shift, trend change, seasonality change, noise burst, flat line).

Protocol, the same for every method: windows of `window_for(T)` points (32 for long series),
stride 1; training on the normal part only (before the first anomaly: ``train_end``); its last
25 % held out, where the threshold is set (mean + 4 std of the method's held-out scores; the
detector uses its own rule, k-sigma 4, fixed or rolling; and, in rows "; max-sigma threshold" for every
method alike, their maximum + 1 std, the detector's default since 0.7); metrics on the rest of the series:
ROC-AUC, PR-AUC, VUS-PR (TSB-AD's definition, `TSB_AD.evaluation.basic_metrics.generate_curve`
with the method's window as sliding window), point and event F1 (`lstmae.metrics`), runtime. Every
method is also reported with its events grouped as the detector's ``event_gap`` groups them (runs at
most one or two windows apart are one event: "; events within 1 window", "; events within 2 windows";
the same scores and flags, so only the event F1 changes).

Leave-half-out: the series are split in two halves fixed before any run (alternately by
length); among the detector configurations that raise no event on clean data (`clean_events`:
the clean 3-feature sines of tests/test_scoring.py, stride 1 and 5), the one with the best mean
PR-AUC + event F1 on half A is reported on half B against the baselines.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
import warnings
from pathlib import Path

import numpy as np
from sklearn.decomposition import PCA
from sklearn.ensemble import IsolationForest

sys.path.insert(0, str(Path(__file__).parent))
from anomaly_data import BenchSeries, load_all, load_fresh, load_statsmodels  # noqa: E402

from lstmae import LSTMAnomalyDetector, LSTMAutoencoder  # noqa: E402
from lstmae.data.windows import reverse_windowing, sliding_windows  # noqa: E402
from lstmae.metrics import detection_metrics, event_mask, eventwise_prf, segments  # noqa: E402

HOLDOUT, K = 0.25, 4.0
# half A (choice) and half B (report): alternately by length, fixed before any run
HALF_A = ("lynx", "uschange (5 features)", "solar", "electric-devices 0-3000", "daphnet s06r02e0 0-3000 (9 features)")
BASELINES = ("PCA", "IsolationForest", "PyOD LSTMAD")


def detector_configs(quick: bool) -> dict[str, dict]:
    """Detector options measured: name -> (autoencoder scale, detector parameters)."""
    return {
        "global standard scaling (lstmae 0.2 default)": dict(scale="standard"),
        "robust scaling": dict(scale="robust"),
        "detrend": dict(series_transform="detrend"),
        "difference": dict(series_transform="difference"),
        "window level, no level term": dict(window_norm="level", level_term=False),
        "window level + level term": dict(window_norm="level", level_term=True),
        "window level-scale + level term": dict(window_norm="level-scale", level_term=True),
        "detrend + window level + level term": dict(series_transform="detrend", window_norm="level"),
        "window level + level term; Mahalanobis": dict(window_norm="level", error_model="mahalanobis"),
        "window level-scale + level term; Mahalanobis": dict(window_norm="level-scale", error_model="mahalanobis"),
        # added in 0.4 (robust scaling, the 0.3 default, kept): the conditional decoder, run on its own outputs as
        # in the paper, or fed the true previous frames when scoring too (teacher_forcing="always")
        "conditional decoder": dict(scale="robust", conditional=True),
        "teacher-forced scoring": dict(scale="robust", conditional=True, teacher_forcing="always"),
        "teacher-forced scoring + window level-scale + level term": dict(
            scale="robust", conditional=True, teacher_forcing="always", window_norm="level-scale", level_term=True),
        # teacher-forced errors are each point's own surprise, which the covering windows do not average out (2
        # events on the clean sines): a short moving mean of the point errors (`smoothing`)
        "teacher-forced scoring, smoothing 3": dict(
            scale="robust", conditional=True, teacher_forcing="always", smoothing=3),
        "teacher-forced scoring, smoothing 9": dict(
            scale="robust", conditional=True, teacher_forcing="always", smoothing=9),
        "teacher-forced scoring + window level-scale + level term, smoothing 9": dict(
            scale="robust", conditional=True, teacher_forcing="always", window_norm="level-scale", level_term=True,
            smoothing=9),
        # added in 0.5: the per-window normalisation only where the training part trends (window_norm="auto":
        # a straight line explains at least half its variance), so the two rows above on the others
        "teacher-forced scoring, smoothing 9, window norm auto": dict(
            scale="robust", conditional=True, teacher_forcing="always", window_norm="auto", level_term=True,
            smoothing=9),
    }


AE_OPTIONS = ("scale", "conditional", "teacher_forcing")  # options of the autoencoder, not of the detector


def split_options(options: dict) -> tuple[dict, dict]:
    """A configuration as (autoencoder options, detector options): what it does not set is 0.2's behaviour
    (standard scaling, no series options, the mean error model, no smoothing), not the current defaults."""
    model = {"scale": "standard", **{k: v for k, v in options.items() if k in AE_OPTIONS}}
    detector = {"series_transform": None, "window_norm": None, "error_model": "mean", "smoothing": None,
                "event_gap": None,
                **{k: v for k, v in options.items() if k not in AE_OPTIONS}}
    return model, detector


SEED = 0  # the detectors' seed (--seed); the baselines keep theirs


def make_detector(options: dict, window: int, quick: bool) -> LSTMAnomalyDetector:
    model, options = split_options(options)
    ae = LSTMAutoencoder(task="reconstruct", hidden_size=16 if quick else 64, bridge="repeat", learning_rate=3e-3,
                         batch_size=64, epochs=3 if quick else 40, validation_split=0.1, patience=5,
                         random_state=SEED, verbose=False, **model)
    return LSTMAnomalyDetector(autoencoder=ae, window=window, holdout=HOLDOUT,
                               **{"threshold": "k-sigma", "k_sigma": K, **options})


def _standardise(train: np.ndarray, *others: np.ndarray):
    mean, std = train.mean(axis=0), train.std(axis=0) + 1e-8
    return [(a - mean) / std for a in (train, *others)]


def pca_scores(fit_part: np.ndarray, series: np.ndarray, window: int) -> np.ndarray:
    """Per-point squared PCA reconstruction error of the windows (95 % of the variance kept)."""
    f, s = _standardise(fit_part, series)
    train_w = sliding_windows(f, window).reshape(-1, window * f.shape[1])
    pca = PCA(n_components=0.95, random_state=0).fit(train_w)
    w = sliding_windows(s, window)
    flat = w.reshape(len(w), -1)
    rec = pca.inverse_transform(pca.transform(flat))
    errors = ((flat - rec) ** 2).reshape(len(w), window, -1).mean(axis=2)
    return reverse_windowing(errors, window, 1, n_points=len(s))


def iforest_scores(fit_part: np.ndarray, series: np.ndarray, window: int) -> np.ndarray:
    """Per-point mean IsolationForest anomaly score of the windows covering each point."""
    f, s = _standardise(fit_part, series)
    forest = IsolationForest(n_estimators=200, random_state=0).fit(
        sliding_windows(f, window).reshape(-1, window * f.shape[1]))
    w = sliding_windows(s, window)
    return reverse_windowing(-forest.score_samples(w.reshape(len(w), -1)), window, 1, n_points=len(s))


def lstmad_scores(fit_part: np.ndarray, series: np.ndarray, window: int, quick: bool) -> np.ndarray:
    """PyOD's LSTMAD (next-step prediction error, Mahalanobis), on data standardised by the fit part."""
    import torch
    from pyod.models.ts_lstm import LSTMAD

    torch.manual_seed(0)
    f, s = _standardise(fit_part, series)
    det = LSTMAD(window_size=window, epochs=2 if quick else 20, hidden_size=64, n_layers=2).fit(f)
    scores = det.decision_function(s).astype(np.float64)
    scores[:window] = np.nan  # no look-back there: PyOD fills them with its threshold
    return scores


def vus_pr(labels: np.ndarray, scores: np.ndarray, window: int) -> float:
    try:
        from TSB_AD.evaluation.basic_metrics import generate_curve
    except ImportError:  # pip install --no-deps TSB-AD==1.5 (see bench/requirements.txt)
        return float("nan")
    s = np.where(np.isfinite(scores), scores, np.nanmin(scores))
    return float(generate_curve(labels.astype(int), s, window)[-1])


# event grouping measured on the same scores and flags: suffix -> gap in windows
EVENT_GAPS = {"; events within 1 window": 1, "; events within 2 windows": 2}
VARIANTS = ("; rolling threshold", *EVENT_GAPS)
# threshold rules on the held-out scores, every method alike: suffix -> the detector's options ("": mean + K std);
# added in 0.7: "max-sigma", the held-out maximum + 1 std (the maximum grows with the held-out part's length and tail)
RULES = {"": {}, "; max-sigma threshold": dict(threshold="max-sigma")}


def base_config(method: str) -> str:
    """The configuration (or baseline) a row's method measures with its threshold rule, without its event or
    rolling-threshold variant: what `clean_events` was counted for."""
    for suffix in VARIANTS:
        method = method.replace(suffix, "")
    return method


def is_baseline(method: str) -> bool:
    return method.split(";")[0] in BASELINES


def rule_threshold(rule: str, normal: np.ndarray) -> float:
    """A baseline's threshold on its held-out scores by the rule of suffix `rule` (the detector's formulas)."""
    from lstmae.scoring import fit_threshold

    return fit_threshold(RULES[rule].get("threshold", "k-sigma"), normal, k_sigma=K)


def evaluate(data: BenchSeries, method: str, scores: np.ndarray, flags: np.ndarray, seconds: float,
             gap: int = 0) -> dict:
    """Metrics on the test part; event precision, recall and F1 count events as the detector reports them with
    ``event_gap=gap`` (runs at most `gap` points apart are one event; 0: each run), point F1 the flags."""
    test = slice(data.train_end, None)
    labels, s = data.labels[test], scores[test]
    m = detection_metrics(labels, s, flags[test])
    if gap:  # the events of the whole series, as the detector reports them, on the test part
        p, r, f = eventwise_prf(labels, event_mask(flags, gap)[test])
        m.update(event_precision=p, event_recall=r, event_f1=f)
    m["vus_pr"] = vus_pr(labels, s, data.window)
    found = {}  # per injected kind: was a point of it flagged
    for kind, (a, b) in zip(data.kinds, segments(data.labels)):
        found[kind] = int(bool(np.asarray(flags[a:b]).any()))
    return {"dataset": data.name, "method": method, "seconds": round(seconds, 1),
            **{k: round(v, 3) for k, v in m.items()}, "found": found}


# halves C (`--fresh`) and D (`--half-d`): the chosen default against 0.3's and the option set half B preferred, and the baselines
FRESH = ("teacher-forced scoring, smoothing 9", "robust scaling", "window level-scale + level term",
         "teacher-forced scoring + window level-scale + level term, smoothing 9",
         "teacher-forced scoring, smoothing 9, window norm auto")


def run(quick: bool, only: str | None = None, fresh: str | None = None) -> list[dict]:
    """Every configuration (only those named in FRESH on a later half: `fresh` "C" or "D") and the baselines."""
    rows = []
    series_list = {None: load_all, "C": load_fresh, "D": load_statsmodels}[fresh]()
    if quick:
        series_list = [series_list[i] for i in (1, 2, 3)]
    configs = detector_configs(quick)
    if fresh:
        configs = {name: configs[name] for name in FRESH}
    for data in series_list:
        x, end, w = data.series, data.train_end, data.window
        cut = int(round(end * (1 - HOLDOUT)))

        def report(row):
            rows.append(row)
            print(f"{row['dataset'][:30]:30s} {row['method'][:52]:52s} ROC {row['roc_auc']:.3f} PR {row['pr_auc']:.3f} "
                  f"VUS-PR {row['vus_pr']:.3f} pF1 {row['point_f1']:.2f} eF1 {row['event_f1']:.2f} "
                  f"({row['seconds']:.0f} s)", flush=True)

        for config, options in configs.items():
            if only and only not in config:
                continue
            for rule, rule_options in RULES.items():  # each rule fitted as a user would (seeded: the same scores)
                name = config + rule
                t = time.perf_counter()
                det = make_detector({**options, **rule_options}, w, quick).fit_series(x[:end])
                result = det.detect_series(x)
                seconds = time.perf_counter() - t
                report(evaluate(data, name, result.scores, result.labels, seconds))
                for suffix, k in EVENT_GAPS.items():
                    report(evaluate(data, name + suffix, result.scores, result.labels, seconds, gap=k * w))
                if not rule:
                    det.set_params(adaptive_threshold=8 * w)  # the same scores, a threshold that follows drift
                    flags = det.detect_series(x).labels
                    report(evaluate(data, name + "; rolling threshold", result.scores, flags, seconds))
        if only:
            continue
        for base, fn in [("PCA", pca_scores), ("IsolationForest", iforest_scores),
                         ("PyOD LSTMAD", lambda a, b, c: lstmad_scores(a, b, c, quick))]:
            t = time.perf_counter()
            scores = fn(x[:cut], x, w)
            normal = scores[cut + w : end]
            normal = normal[np.isfinite(normal)]
            seconds = time.perf_counter() - t
            for rule in RULES:  # the same threshold rules and event grouping, for a fair comparison
                flags = np.nan_to_num(scores, nan=-np.inf) > rule_threshold(rule, normal)
                report(evaluate(data, base + rule, scores, flags, seconds))
                for suffix, k in EVENT_GAPS.items():
                    report(evaluate(data, base + rule + suffix, scores, flags, seconds, gap=k * w))
    return rows


COLS = ["roc_auc", "pr_auc", "vus_pr", "point_f1", "event_f1", "seconds"]


def means(rows: list[dict], datasets) -> dict[str, dict]:
    out: dict[str, dict] = {}
    for method in dict.fromkeys(r["method"] for r in rows):
        sel = [r for r in rows if r["method"] == method and r["dataset"] in datasets]
        if sel:
            out[method] = {c: float(np.nanmean([r[c] for r in sel])) for c in COLS} | {"n": len(sel)}
    return out


def clean_events(options: dict) -> int:
    """Events a configuration raises on a clean series it was fitted on (the 1200-point, 3-feature sines of
    tests/test_scoring.py; small autoencoder as there), with stride 1 and 5: a default must raise none."""
    from lstmae.data.synthetic import make_sines

    model, opts = split_options(options)
    series = make_sines(n_points=1200, anomaly_fraction=0.0, random_state=3).series
    n = 0
    for stride in (1, 5):
        ae = LSTMAutoencoder(hidden_size=16, epochs=12, learning_rate=0.01, batch_size=64, random_state=0,
                             verbose=False, **model)
        det = LSTMAnomalyDetector(autoencoder=ae, window=24, stride=stride,
                                  **{"threshold": "k-sigma", "k_sigma": K, **opts}).fit_series(series)
        n += len(det.detect_series(series).events)
    return n


def choose(rows: list[dict], clean: dict[str, int]) -> tuple[str, dict, dict]:
    """The detector configuration with the best mean PR-AUC + event F1 on half A among those with no event on
    clean data (`clean`: configuration -> events); means on A and on B."""
    names = list(dict.fromkeys(r["dataset"] for r in rows))
    half_a = [n for n in names if n in HALF_A]
    half_b = [n for n in names if n not in HALF_A]
    on_a, on_b = means(rows, half_a), means(rows, half_b)
    candidates = {m: v for m, v in on_a.items() if not is_baseline(m) and clean.get(base_config(m)) == 0}
    # a tie (identical means: an option that applies to no series of A, as window_norm="auto" where none trends)
    # goes to the configuration with the option, chosen for the series A lacks; any other order is by the sum
    best = max(candidates, key=lambda m: (round(candidates[m]["pr_auc"] + candidates[m]["event_f1"], 9),
                                          "window norm auto" in m))
    return best, on_a, on_b


def means_table(table: dict[str, dict], mark: str | None = None) -> str:
    lines = ["| method | ROC-AUC | PR-AUC | VUS-PR | point F1 | event F1 | seconds (mean per series) |",
             "| --- | --- | --- | --- | --- | --- | --- |"]
    for m, v in table.items():
        name = f"**{m}**" if m == mark else m
        lines.append(f"| {name} | " + " | ".join(f"{v[c]:.3f}" if c != "seconds" else f"{v[c]:.1f}"
                                                 for c in COLS) + " |")
    return "\n".join(lines)


def kinds_table(rows: list[dict], methods) -> str:
    """Share of the injected anomalies of each kind that a method flagged (at least one point), over all series."""
    from anomaly_data import KINDS

    lines = ["| method | " + " | ".join(KINDS) + " |", "|" + " --- |" * (len(KINDS) + 1)]
    for m in methods:
        cells = []
        for kind in KINDS:
            hits = [r["found"][kind] for r in rows if r["method"] == m and kind in r.get("found", {})]
            cells.append(f"{sum(hits)}/{len(hits)}" if hits else "-")
        lines.append(f"| {m} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def series_table(rows: list[dict], methods) -> str:
    lines = ["| series | method | ROC-AUC | PR-AUC | VUS-PR | point F1 | event F1 | seconds |",
             "| --- | --- | --- | --- | --- | --- | --- | --- |"]
    for r in rows:
        if r["method"] in methods:
            lines.append(f"| {r['dataset']} | {r['method']} | " + " | ".join(str(r[c]) for c in COLS) + " |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small models, three series: a smoke run")
    parser.add_argument("--only", help="run only the detector configurations whose name contains this")
    parser.add_argument("--json", type=Path, default=Path("bench/results/anomaly.json"))
    parser.add_argument("--select-from", type=Path, help="skip the run: read its rows from this JSON, then choose")
    parser.add_argument("--seed", type=int, default=0, help="the LSTM detectors' seed (with --only: a seed check)")
    parser.add_argument("--fresh", action="store_const", const="C", help="half C (anomaly_data.load_fresh): the "
                        "chosen default, 0.3's, window level-scale and the baselines; rows to "
                        "bench/results/anomaly_fresh.json")
    parser.add_argument("--half-d", dest="fresh", action="store_const", const="D", help="the same on half D "
                        "(anomaly_data.load_statsmodels); rows to bench/results/anomaly_half_d.json")
    args = parser.parse_args()
    global SEED
    SEED = args.seed
    if args.fresh and args.json == Path("bench/results/anomaly.json"):
        args.json = Path({"C": "bench/results/anomaly_fresh.json", "D": "bench/results/anomaly_half_d.json"}[args.fresh])
    warnings.filterwarnings("ignore")
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    start = time.perf_counter()
    rows = json.loads(args.select_from.read_text()) if args.select_from else run(args.quick, args.only, args.fresh)
    total = time.perf_counter() - start
    names = list(dict.fromkeys(r["dataset"] for r in rows))
    print("\nMeans over all series:\n" + means_table(means(rows, names)))
    if not args.only and not args.quick and not args.fresh:
        clean = {name + rule: clean_events({**opts, **rule_options})
                 for name, opts in detector_configs(False).items() for rule, rule_options in RULES.items()}
        print("\nEvents on clean data (stride 1 + 5):", clean)
        best, on_a, on_b = choose(rows, clean)
        shown = lambda m: is_baseline(m) or clean.get(base_config(m)) == 0  # noqa: E731
        on_a, on_b = ({m: v for m, v in t.items() if shown(m)} for t in (on_a, on_b))
        print("\nInjected anomalies found, by kind:\n" + kinds_table(rows, list(means(rows, names))))
        print(f"\nChosen on half A (no event on clean data; best mean PR-AUC + event F1): {best}\n\nHalf A (the "
              f"configurations with no event on clean data, and the baselines):\n{means_table(on_a, best)}"
              f"\n\nHalf B (held out):\n{means_table(on_b, best)}")
    print(f"\ntotal {total:.0f} s")
    if not args.select_from:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(rows, indent=2))


if __name__ == "__main__":
    main()
