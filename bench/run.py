"""Speed benchmark: lstmae against a hand-written PyTorch loop, Keras 3 (TensorFlow CPU) and sequitur.

Every number is measured in ONE run, on this machine, and reported as a ratio against
references measured in the same run (absolute numbers on a shared laptop CPU mean little).
Each measurement runs in its own subprocess, so its peak memory (``ru_maxrss``) is its own.

    python bench/run.py            # full run (a few minutes, then bench/contention.py's full run)
    python bench/run.py --quick    # smoke run (fewer sequences and batches, contention --quick)
    python bench/run.py --contention none   # without bench/contention.py
    make bench                     # creates .venv-bench with bench/requirements.txt, runs it

Threads: lstmae runs under its own thread policy (`lstmae.threads`, the library's default: one
thread for these sizes on 2 CPUs). The hand-written PyTorch loop runs twice: with the thread
count lstmae's policy picks for the same model ("same threads": the library's overhead alone)
and with PyTorch's default ("torch default": what the same loop gets without any setting).
Keras and the matmul peak use ``BENCH_THREADS`` (default min(2, CPUs)). No ``OMP_WAIT_POLICY``
is set (PyTorch's default, spinning idle threads), unless the caller's environment sets it.
bench/contention.py (several fits at once) runs at the end, its ratios join the table.

Peers that cannot be imported (no tensorflow / keras / sequitur in this environment) are
skipped with the reason printed. Results: a table on stdout, JSON in bench/results/speed.json.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")

THREADS = int(os.environ.get("BENCH_THREADS", min(2, os.cpu_count() or 1)))
BATCH = 64
WORKLOADS = {"w1": dict(T=140, F=1, H=64), "w2": dict(T=64, F=32, H=128)}


# ----------------------------------------------------------------------------- helpers
def _torch():
    import torch

    torch.set_num_threads(THREADS)
    return torch


def _data(n, T, F, seed=0):
    import numpy as np

    rng = np.random.default_rng(seed)
    t = np.arange(T)[None, :, None]
    phase = rng.uniform(0, 6.28, size=(n, 1, F))
    return (np.sin(0.2 * t + phase) + 0.1 * rng.standard_normal((n, T, F))).astype("float32")


def lstm_flops(T, F, H):
    """Training FLOPs of one sequence: encoder LSTM(F->H) + decoder LSTM(H->H), fwd + bwd (x3)."""
    return sum(2 * 4 * H * (inp + H) * T * 3 for inp in (F, H))


# ----------------------------------------------------------------------------- measurements
def m_matmul(args):
    torch = _torch()
    n = 2048
    a, b = torch.randn(n, n), torch.randn(n, n)
    torch.mm(a, b)
    best = 0.0
    for _ in range(5):
        t0 = time.perf_counter()
        for _ in range(3):
            torch.mm(a, b)
        best = max(best, 3 * 2 * n**3 / (time.perf_counter() - t0) / 1e9)
    return {"gflops": best}


def m_train_lstmae(args, T, F, H, activation, steps, warm):
    _torch()
    from lstmae import LSTMAutoencoder

    common = dict(hidden_size=H, activation=activation, batch_size=BATCH, epochs=1, random_state=0,
                  clip_grad_norm=None)
    LSTMAutoencoder(**common).fit(_data(warm * BATCH, T, F, 1))  # warm-up (allocator, TorchScript)
    X = _data(steps * BATCH, T, F)
    t0, c0 = time.perf_counter(), time.process_time()
    ae = LSTMAutoencoder(**common).fit(X)
    dt, cpu = time.perf_counter() - t0, time.process_time() - c0
    epoch = ae.history_["epoch_time"][0]  # the training loop alone (the trainer's own clock)
    # seq_per_s: the whole fit() (scaler, model set-up, the epoch, the residual statistics pass);
    # epoch_seq_per_s: its one training epoch, what the hand-written loop's timing covers
    return {"seq_per_s": len(X) / dt, "seconds": dt, "epoch_seq_per_s": len(X) / epoch, "epoch_seconds": epoch,
            "cpu_seconds": cpu, "threads": ae.history_.get("threads")}


def _torch_ref_model(torch, F, H):
    nn = torch.nn

    class Ref(nn.Module):
        def __init__(self):
            super().__init__()
            self.enc = nn.LSTM(F, H, batch_first=True)
            self.dec = nn.LSTM(H, H, batch_first=True)
            self.head = nn.Linear(H, F)

        def forward(self, x):
            _, (h, _) = self.enc(x)
            z = h[-1].unsqueeze(1).expand(-1, x.shape[1], -1)
            out, _ = self.dec(z)
            return self.head(out)

    return Ref()


def m_train_torch(args, T, F, H, steps, warm, threads="policy"):
    """The hand-written loop; `threads`: "policy" (the count lstmae's policy picks for this model and
    batch: the same as lstmae's run) or "default" (PyTorch's own default, nothing set)."""
    import torch

    torch.manual_seed(0)
    model = _torch_ref_model(torch, F, H)
    if threads == "policy":
        from lstmae.threads import choose_threads, step_work

        torch.set_num_threads(choose_threads(None, step_work(model, BATCH)) or torch.get_num_threads())
    opt = torch.optim.Adam(model.parameters(), 1e-3)
    X = torch.from_numpy(_data(steps * BATCH, T, F))

    def epoch(data):
        for i in range(0, len(data), BATCH):
            xb = data[i : i + BATCH]
            opt.zero_grad()
            loss = torch.nn.functional.mse_loss(model(xb), xb)
            loss.backward()
            opt.step()

    epoch(X[: warm * BATCH])
    t0, c0 = time.perf_counter(), time.process_time()
    epoch(X[torch.randperm(len(X))])
    dt, cpu = time.perf_counter() - t0, time.process_time() - c0
    return {"seq_per_s": len(X) / dt, "seconds": dt, "cpu_seconds": cpu, "threads": torch.get_num_threads()}


def _keras():
    import tensorflow as tf

    tf.config.threading.set_intra_op_parallelism_threads(THREADS)
    tf.config.threading.set_inter_op_parallelism_threads(THREADS)
    import keras

    return keras


def _keras_model(keras, T, F, H, activation="tanh"):
    from keras import layers

    inp = keras.Input((T, F))
    code = layers.LSTM(H, activation=activation)(inp)
    x = layers.RepeatVector(T)(code)
    x = layers.LSTM(H, activation=activation, return_sequences=True)(x)
    out = layers.TimeDistributed(layers.Dense(F))(x)
    model = keras.Model(inp, out)
    model.compile(optimizer="adam", loss="mse")
    return model, keras.Model(inp, code)


def m_train_keras(args, T, F, H, steps, warm):
    keras = _keras()
    model, _ = _keras_model(keras, T, F, H)
    model.fit(_data(warm * BATCH, T, F, 1), _data(warm * BATCH, T, F, 1), batch_size=BATCH, epochs=1, verbose=0)
    X = _data(steps * BATCH, T, F)
    t0 = time.perf_counter()
    model.fit(X, X, batch_size=BATCH, epochs=1, verbose=0)
    dt = time.perf_counter() - t0
    return {"seq_per_s": len(X) / dt, "seconds": dt}


def m_train_sequitur(args, T, F, H, n_seq):
    torch = _torch()
    from sequitur.models import LSTM_AE

    torch.manual_seed(0)
    # sequitur's decoder needs one hidden layer (h_dims=[] raises IndexError): 2 + 2 LSTM layers,
    # about twice the work of the 1 + 1 layers of the other models
    model = LSTM_AE(F, H, h_dims=[H], h_activ=None, out_activ=None)
    opt = torch.optim.Adam(model.parameters(), 1e-3)
    crit = torch.nn.MSELoss(reduction="sum")
    X = torch.from_numpy(_data(n_seq + 2, T, F))

    def run(seqs):  # sequitur's own train_model loop: one sequence per optimiser step
        for x in seqs:
            opt.zero_grad()
            loss = crit(model(x), x)
            loss.backward()
            opt.step()

    run(X[:2])
    t0 = time.perf_counter()
    run(X[2:])
    dt = time.perf_counter() - t0
    return {"seq_per_s": n_seq / dt, "seconds": dt, "note": "batch size 1 (sequitur's only mode), h_dims=[H]"}


def m_encode_lstmae(args, T, F, H, n):
    _torch()
    from lstmae import LSTMAutoencoder

    ae = LSTMAutoencoder(hidden_size=H, batch_size=256, epochs=1, random_state=0).fit(_data(BATCH, T, F))
    X = _data(n, T, F)
    ae.transform(X[:256])
    t0 = time.perf_counter()
    ae.transform(X)
    dt = time.perf_counter() - t0
    return {"seq_per_s": n / dt, "seconds": dt}


def m_encode_keras(args, T, F, H, n):
    keras = _keras()
    _, enc = _keras_model(keras, T, F, H)
    X = _data(n, T, F)
    enc.predict(X[:256], batch_size=256, verbose=0)
    t0 = time.perf_counter()
    enc.predict(X, batch_size=256, verbose=0)
    dt = time.perf_counter() - t0
    return {"seq_per_s": n / dt, "seconds": dt}


def m_varlen(args, mode, n):
    import numpy as np

    _torch()
    from lstmae import LSTMAutoencoder

    rng = np.random.default_rng(0)
    lengths = rng.integers(10, 201, size=n)
    seqs = [np.sin(0.2 * np.arange(L) + rng.uniform(0, 6.28))[:, None].astype("float32") for L in lengths]
    if mode == "padded":
        X = np.zeros((n, 200, 1), dtype="float32")
        for i, s in enumerate(seqs):
            X[i, : len(s)] = s
    else:
        X = seqs
    common = dict(hidden_size=64, batch_size=BATCH, epochs=1, random_state=0, clip_grad_norm=None)
    LSTMAutoencoder(**common).fit(X[:BATCH])
    t0 = time.perf_counter()
    LSTMAutoencoder(**common).fit(X)
    dt = time.perf_counter() - t0
    return {"seconds": dt, "seq_per_s": n / dt}


def m_scoring(args, n_points, window, stride):
    import numpy as np

    _torch()
    from lstmae import LSTMAutoencoder
    from lstmae.scoring import windowed_to_points

    rng = np.random.default_rng(0)
    series = (np.sin(np.arange(n_points) * 0.05) + 0.1 * rng.standard_normal(n_points)).astype("float32")[:, None]
    ae = LSTMAutoencoder(hidden_size=32, batch_size=512, epochs=1, random_state=0)
    ae.fit(np.lib.stride_tricks.sliding_window_view(series[:4096, 0], window)[::64, :, None])
    t0 = time.perf_counter()
    scores = windowed_to_points(lambda w: ae.normalized_residuals(w)[0], series, window, stride)
    dt = time.perf_counter() - t0
    return {"seconds": dt, "points_per_s": n_points / dt, "finite": bool(np.isfinite(scores).all())}


def m_tutorial_lstmae(args, epochs):
    import numpy as np

    _torch()
    from lstmae import LSTMAutoencoder

    X = np.linspace(0.1, 0.9, 9).reshape(1, 9, 1)
    kw = dict(hidden_size=100, activation="relu", bridge="repeat", learning_rate=1e-3, loss="mse",
              scale=None, clip_grad_norm=None, random_state=1)
    LSTMAutoencoder(epochs=2, **kw).fit(X)
    t0, c0 = time.perf_counter(), time.process_time()
    LSTMAutoencoder(epochs=epochs, **kw).fit(X)
    return {"seconds": time.perf_counter() - t0, "cpu_seconds": time.process_time() - c0}


def m_tutorial_keras(args, epochs):
    import numpy as np

    keras = _keras()
    X = np.linspace(0.1, 0.9, 9).reshape(1, 9, 1)
    model, _ = _keras_model(keras, 9, 1, 100, activation="relu")
    t0, c0 = time.perf_counter(), time.process_time()  # the tutorial's script: build, compile and fit (tracing too)
    model.fit(X, X, epochs=epochs, verbose=0)
    return {"seconds": time.perf_counter() - t0, "cpu_seconds": time.process_time() - c0}


MEASURES = {k[2:]: v for k, v in globals().items() if k.startswith("m_")}


def child(spec: dict) -> None:
    import resource

    result = MEASURES[spec["fn"]](None, **spec["kw"])
    result["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print("RESULT " + json.dumps(result), flush=True)


def measure(fn: str, timeout: float = 900, **kw) -> dict:
    spec = json.dumps({"fn": fn, "kw": kw})
    t0 = time.perf_counter()
    try:
        proc = subprocess.run([sys.executable, __file__, "--child", spec], capture_output=True, text=True,
                              timeout=timeout)
    except subprocess.TimeoutExpired:
        return {"skipped": f"timed out after {timeout:.0f} s"}
    for line in proc.stdout.splitlines():
        if line.startswith("RESULT "):
            out = json.loads(line[7:])
            print(f"  {fn} {kw}: {({k: round(v, 2) if isinstance(v, float) else v for k, v in out.items()})}"
                  f" [{time.perf_counter() - t0:.0f} s]", flush=True)
            return out
    err = (proc.stderr.strip().splitlines() or ["no output"])[-1]
    print(f"  {fn} {kw}: SKIPPED ({err})", flush=True)
    return {"skipped": err}


def available(module: str) -> str | None:
    """None if `module` imports in a subprocess, else the reason."""
    proc = subprocess.run([sys.executable, "-c", f"import {module}"], capture_output=True, text=True)
    if proc.returncode == 0:
        return None
    return (proc.stderr.strip().splitlines() or ["import failed"])[-1]


def ratio(a: dict, b: dict, key: str = "seq_per_s", invert: bool = False, other_key: str | None = None) -> float | None:
    """a[key] / b[other_key or key] (inverted: the other way round); None when either is missing."""
    bk = other_key or key
    if key not in a or bk not in b:
        return None
    return (b[bk] / a[key]) if invert else (a[key] / b[bk])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="fewer sequences and batches (smoke run)")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--rounds", type=int, default=None,
                        help="interleaved repeats of each throughput measurement, best kept (default 2, quick 1)")
    parser.add_argument("--output", default=str(Path(__file__).parent / "results" / "speed.json"))
    parser.add_argument("--contention", choices=("quick", "full", "none"), default=None,
                        help="run bench/contention.py at the end (default: quick with --quick, else full)")
    args = parser.parse_args()
    if args.child:
        return child(json.loads(args.child))

    q = args.quick
    args.rounds = args.rounds or (1 if q else 2)
    steps, warm = (4, 1) if q else (16, 2)  # timed batches of 64 (one epoch over steps * 64 sequences)
    n_encode = 1024 if q else 4096
    n_var = 256 if q else 1024
    n_seq = 16 if q else 64
    n_points, stride = (100_000, 8) if q else (1_000_000, 8)
    epochs = 300

    skip = {}
    for peer, module in (("keras", "keras, tensorflow"), ("sequitur", "sequitur")):
        reason = available(module)
        if reason:
            skip[peer] = reason
            print(f"skipping {peer}: {reason}")

    res: dict = {"settings": dict(quick=q, rounds=args.rounds, threads=THREADS, batch=BATCH, timed_batches=steps, n_encode=n_encode,
                                  n_varlen=n_var, scoring_points=n_points, scoring_window=128,
                                  scoring_stride=stride, tutorial_epochs=epochs, python=platform.python_version(),
                                  machine=platform.machine(), cpus=os.cpu_count(),
                                  omp_wait_policy=os.environ.get("OMP_WAIT_POLICY"),
                                  load_average_start=os.getloadavg()),
                 "skipped": skip}
    print("matmul peak")
    res["matmul"] = measure("matmul")
    for name, w in WORKLOADS.items():
        print(f"workload {name}: N={steps * BATCH} timed, T={w['T']}, F={w['F']}, H={w['H']}")
        jobs = {
            "lstmae_tanh": ("train_lstmae", dict(steps=steps, warm=warm, activation="tanh", **w)),
            "lstmae_relu": ("train_lstmae", dict(steps=steps, warm=warm, activation="relu", **w)),
            "torch_loop": ("train_torch", dict(steps=steps, warm=warm, threads="policy", **w)),
            "torch_loop_default": ("train_torch", dict(steps=steps, warm=warm, threads="default", **w)),
            "lstmae_encode": ("encode_lstmae", dict(n=n_encode, **w)),
        }
        if "keras" not in skip:
            jobs["keras"] = ("train_keras", dict(steps=steps, warm=warm, **w))
            jobs["keras_encode"] = ("encode_keras", dict(n=n_encode, **w))
        r = res[name] = {}
        # interleaved rounds, best of each: the ratios survive load changes on a shared machine
        for _ in range(args.rounds):
            for key, (fn, kw) in jobs.items():
                out = measure(fn, **kw)
                seen = r.get(key, {}).get("rounds", []) + [out.get("seq_per_s")]
                if out.get("seq_per_s", -1) > r.get(key, {}).get("seq_per_s", -1) or key not in r:
                    r[key] = out
                r[key]["rounds"] = seen  # seq/s of every round, the best kept above
        if "sequitur" not in skip:
            r["sequitur"] = measure("train_sequitur", n_seq=n_seq, **w)
        for k in ("lstmae_tanh", "torch_loop"):
            if "seq_per_s" in r[k] and "gflops" in res["matmul"]:
                r[k]["fraction_of_matmul_peak"] = (
                    r[k]["seq_per_s"] * lstm_flops(w["T"], w["F"], w["H"]) / 1e9 / res["matmul"]["gflops"]
                )
    print("variable-length training (lengths uniform in [10, 200]) vs. padded to 200")
    res["varlen"] = {}
    for _ in range(args.rounds):
        for mode in ("variable", "padded"):
            out = measure("varlen", mode=mode, n=n_var)
            if mode not in res["varlen"] or out.get("seconds", 1e9) < res["varlen"][mode].get("seconds", 1e9):
                res["varlen"][mode] = out
    print("scoring a long series")
    res["scoring"] = measure("scoring", n_points=n_points, window=128, stride=stride)
    print("tutorial fit (one 9-step sequence, 300 epochs)")
    res["tutorial"] = {}
    for _ in range(args.rounds):
        for key in ["lstmae"] + ([] if "keras" in skip else ["keras"]):
            out = measure(f"tutorial_{key}", epochs=epochs)
            if key not in res["tutorial"] or out.get("seconds", 1e9) < res["tutorial"][key].get("seconds", 1e9):
                res["tutorial"][key] = out

    contention = args.contention or ("quick" if q else "full")
    if contention != "none":
        res["contention"] = run_contention(contention == "quick")
    res["settings"]["load_average_end"] = os.getloadavg()
    rows = table(res)
    res["table"] = rows
    Path(args.output).parent.mkdir(parents=True, exist_ok=True)
    Path(args.output).write_text(json.dumps(res, indent=2))
    print(f"\nwritten {args.output}")


def run_contention(quick: bool) -> dict:
    """bench/contention.py in a subprocess (its output shown as it runs); its ratios from its JSON."""
    out = Path(__file__).parent / "results" / "contention.json"
    print(f"threads under load: bench/contention.py{' --quick' if quick else ''}", flush=True)
    cmd = [sys.executable, str(Path(__file__).parent / "contention.py"), "--out", str(out)] + (["--quick"] if quick else [])
    proc = subprocess.run(cmd)
    if proc.returncode != 0 or not out.exists():
        return {"skipped": f"bench/contention.py exited with {proc.returncode}"}
    data = json.loads(out.read_text())
    return {"quick": quick, **data.get("ratios", {})}


def _fmt(x, unit="x"):
    return "n/a" if x is None else f"{x:.2f}{unit}"


def table(res: dict) -> list[list[str]]:
    rows = [["measure", "value", "target", "met"]]

    def add(name, value, target=None, unit="x"):
        met = "" if target is None or value is None else ("yes" if value >= target else "NO")
        rows.append([name, _fmt(value, unit), "" if target is None else f">= {target}{unit}", met])

    for name in WORKLOADS:
        r = res[name]
        add(f"{name} train tanh / keras", ratio(r["lstmae_tanh"], r.get("keras", {})), 2.5)
        add(f"{name} train tanh / torch nn.LSTM loop, same threads, per epoch",
            ratio(r["lstmae_tanh"], r["torch_loop"], key="epoch_seq_per_s", other_key="seq_per_s"), 0.95)
        add(f"{name} train tanh / torch nn.LSTM loop, same threads, whole fit()", ratio(r["lstmae_tanh"], r["torch_loop"]))
        add(f"{name} train tanh (lstmae policy) / torch loop (torch default threads)",
            ratio(r["lstmae_tanh"], r.get("torch_loop_default", {})), 0.95)
        add(f"{name} train relu / tanh", ratio(r["lstmae_relu"], r["lstmae_tanh"]), 0.8)
        add(f"{name} train relu / tanh, per epoch", ratio(r["lstmae_relu"], r["lstmae_tanh"], key="epoch_seq_per_s"))
        add(f"{name} train tanh / sequitur", ratio(r["lstmae_tanh"], r.get("sequitur", {})))
        add(f"{name} encode / keras encode", ratio(r["lstmae_encode"], r.get("keras_encode", {})), 3)
        add(f"{name} tanh fraction of matmul peak", r["lstmae_tanh"].get("fraction_of_matmul_peak"), unit="")
        add(f"{name} torch loop fraction of matmul peak", r["torch_loop"].get("fraction_of_matmul_peak"), unit="")
        for k in ("lstmae_tanh", "lstmae_relu", "torch_loop", "torch_loop_default", "keras", "sequitur",
                  "lstmae_encode", "keras_encode"):
            if k in r and "seq_per_s" in r[k]:
                rows.append([f"{name} {k} (seq/s, peak MB)", f"{r[k]['seq_per_s']:.0f}, {r[k]['peak_rss_mb']:.0f}",
                             "", ""])
    v = res["varlen"]
    t_var = v["variable"].get("seconds")
    t_pad = v["padded"].get("seconds")
    value = t_var / t_pad if t_var and t_pad else None
    rows.append(["varlen time / padded time", _fmt(value), "<= 0.7x",
                 "" if value is None else ("yes" if value <= 0.7 else "NO")])
    s = res["scoring"]
    if "seconds" in s:
        st = res["settings"]
        rows.append([f"score {st['scoring_points']:,} points (window 128, stride {st['scoring_stride']})",
                     f"{s['seconds']:.1f} s, {s['peak_rss_mb']:.0f} MB", "", ""])
    t = res["tutorial"]
    value = ratio(t["lstmae"], t.get("keras", {}), key="seconds", invert=True)
    rows.append(["tutorial fit: keras time / lstmae time", _fmt(value), ">= 20x",
                 "" if value is None else ("yes" if value >= 20 else "NO")])
    if "gflops" in res["matmul"]:
        rows.append(["fp32 matmul peak (GFLOP/s)", f"{res['matmul']['gflops']:.1f}", "", ""])
    c = res.get("contention")
    if c is not None and "skipped" in c:
        rows.append(["contention (bench/contention.py)", "n/a", c["skipped"], ""])
    elif c is not None:
        tag = " (quick)" if c.get("quick") else ""
        for t in c.get("throughput", []):
            if t["ratio"] is None:
                continue
            target = 0.9 if t["policy"] == "lstmae" else None
            lt = "< " if t["bound"] else ""
            met = "" if target is None else ("yes" if t["ratio"] >= target and not t["bound"] else "NO")
            rows.append([f"contention{tag}: {t['workload']} {t['policy']} {t['jobs']}: throughput vs alone",
                         f"{lt}{t['ratio']:.2f}x", "" if target is None else f">= {target}x", met])
        for w, a in c.get("alone", {}).items():
            ge = ">= " if a["lower_bound"] else ""
            rows.append([f"contention{tag}: {w} alone, lstmae policy / torch default speed", f"{ge}{a['ratio']:.2f}x",
                         ">= 0.95x", "yes" if a["ratio"] >= 0.95 else "NO"])
    st = res["settings"]
    rows.append(["load average (1 min) at start / end",
                 f"{st['load_average_start'][0]:.1f} / {st.get('load_average_end', [float('nan')])[0]:.1f}", "", ""])
    widths = [max(len(r[i]) for r in rows) for i in range(4)]
    print()
    for i, r in enumerate(rows):
        print("| " + " | ".join(c.ljust(w) for c, w in zip(r, widths)) + " |")
        if i == 0:
            print("| " + " | ".join("-" * w for w in widths) + " |")
    return rows


if __name__ == "__main__":
    main()
