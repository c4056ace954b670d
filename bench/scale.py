"""Data larger than memory: peak memory and time of streamed training and scoring as the data grows.

For each size (1M, 10M, 100M points of a 4-feature float32 series) the script writes a Parquet file
in row groups of 1M rows into a temporary directory, then runs, each in a fresh process (so that
its peak RSS, ``resource.getrusage(...).ru_maxrss``, is its own):

- ``lstmae train DATA --stream --window W --stride S --epochs 1 --hidden-size 16``: the streaming
  scaler pass, one epoch (windows cut on the fly, shuffle buffer), the residual-statistics pass;
- ``lstmae detect MODEL DATA --stream -o scores.parquet --events events.csv``: scores of every point,
  written as Parquet row groups as they are made.

It also measures the RSS of a process that only imports lstmae, torch and pyarrow and builds the
optimiser (the fixed cost every run pays). Target: peak RSS flat in the data size (under 1 GB at 100M
points), time linear. ``--quick``: 1M and 10M only. The table is printed and written to
``/tmp/scale_bench.md`` (``--out``).

The disk space is checked first (``shutil.disk_usage``): a size whose data and scores do not fit is
skipped, saying so (the largest size that fits is the last one run). Files are removed after each size.

Usage: python bench/scale.py [--quick] [--sizes 1e6,1e7,1e8] [--window 64] [--stride 64] [--dir DIR]
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROW_GROUP = 1 << 20
FEATURES = 4
BYTES_PER_POINT = FEATURES * 4 + 1  # Parquet, uncompressed float32 (plus page overhead)
SCORE_BYTES_PER_POINT = 24 + 1  # t (int64), score (float64), anomaly (int64)


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # kB on Linux


# ------------------------------------------------------------------------------ workers (fresh processes)
def worker_generate(path: str, n: int) -> dict:
    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq

    schema = pa.schema([(f"f{k}", pa.float32()) for k in range(FEATURES)])
    rng = np.random.default_rng(0)
    with pq.ParquetWriter(path, schema, compression="none") as writer:
        for start in range(0, n, ROW_GROUP):
            m = min(ROW_GROUP, n - start)
            t = np.arange(start, start + m, dtype=np.float64)
            cols = {f"f{k}": (np.sin(t * 2 * np.pi / (50 + 17 * k)) + 0.1 * rng.standard_normal(m)).astype(np.float32)
                    for k in range(FEATURES)}
            writer.write_table(pa.table(cols, schema=schema))
    return {"bytes": os.path.getsize(path)}


def worker_cli(args: list[str]) -> dict:
    from lstmae.cli import app

    start = time.perf_counter()
    try:
        app(args, standalone_mode=False)
        code = 0
    except SystemExit as exc:
        code = exc.code or 0
    return {"seconds": time.perf_counter() - start, "exit": code}


def worker_baseline() -> dict:
    import pyarrow.dataset  # noqa: F401
    import torch

    import lstmae  # noqa: F401

    torch.optim.Adam(torch.nn.Linear(2, 2).parameters(), fused=True)  # loads what every fit loads
    return {}


def run_worker(kind: str, *args: str) -> dict:
    cmd = [sys.executable, __file__, "--worker", kind, "--", *args]
    out = subprocess.run(cmd, capture_output=True, text=True)
    lines = [line for line in out.stdout.splitlines() if line.startswith("{")]
    if out.returncode != 0 or not lines:
        raise RuntimeError(f"{kind} failed ({out.returncode}):\n{out.stdout[-2000:]}\n{out.stderr[-4000:]}")
    return json.loads(lines[-1])


# ------------------------------------------------------------------------------ the benchmark
def parse_sizes(text: str) -> list[int]:
    return [int(float(s)) for s in text.split(",") if s.strip()]


def fmt_points(n: int) -> str:
    return f"{n / 1e6:g}M"


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="1M and 10M points only")
    p.add_argument("--sizes", default=None, help="comma-separated numbers of points (default 1e6,1e7,1e8)")
    p.add_argument("--window", type=int, default=64)
    p.add_argument("--stride", type=int, default=64)
    p.add_argument("--hidden-size", type=int, default=16)
    p.add_argument("--batch-size", type=int, default=256)
    p.add_argument("--dir", default=None, help="where the temporary data go (default: the system's temp dir)")
    p.add_argument("--out", default="/tmp/scale_bench.md")
    p.add_argument("--worker", default=None, help=argparse.SUPPRESS)
    p.add_argument("rest", nargs="*", help=argparse.SUPPRESS)
    a = p.parse_args()

    if a.worker is not None:  # a fresh process: do one thing, print its JSON with the peak RSS
        if a.worker == "generate":
            result = worker_generate(a.rest[0], int(a.rest[1]))
        elif a.worker == "baseline":
            result = worker_baseline()
        else:
            result = worker_cli(a.rest)
        print(json.dumps({**result, "peak_rss_mb": peak_rss_mb()}))
        return

    sizes = parse_sizes(a.sizes) if a.sizes else ([10**6, 10**7] if a.quick else [10**6, 10**7, 10**8])
    root = Path(tempfile.mkdtemp(prefix="lstmae-scale-", dir=a.dir))
    notes = []
    free = shutil.disk_usage(root).free
    runnable = []
    for n in sizes:
        need = n * (BYTES_PER_POINT + SCORE_BYTES_PER_POINT) * 1.1 + (64 << 20)
        if need > free:
            notes.append(f"{fmt_points(n)} points skipped: they need about {need / 2**30:.1f} GiB on disk and "
                         f"{root} has {free / 2**30:.1f} GiB free")
        else:
            runnable.append(n)
    if not runnable:
        raise SystemExit("no size fits on the disk: " + "; ".join(notes))
    if notes:
        notes.append(f"the largest size that fits, {fmt_points(max(runnable))} points, is the largest run")
    print(f"disk: {free / 2**30:.1f} GiB free in {root}; sizes: {', '.join(map(fmt_points, runnable))}", flush=True)

    base = run_worker("baseline")
    print(f"baseline (import lstmae + torch + pyarrow, build Adam): peak RSS {base['peak_rss_mb']:.0f} MB", flush=True)
    rows = []
    try:
        for n in runnable:
            data, model = root / f"series-{n}.parquet", root / f"model-{n}"
            t0 = time.perf_counter()
            gen = run_worker("generate", str(data), str(n))
            gen_s = time.perf_counter() - t0
            print(f"{fmt_points(n)}: wrote {gen['bytes'] / 2**20:.0f} MiB of Parquet in {gen_s:.1f} s", flush=True)
            train = run_worker("cli", "train", str(data), "--stream", "--window", str(a.window), "--stride",
                               str(a.stride), "--epochs", "1", "--hidden-size", str(a.hidden_size), "--batch-size",
                               str(a.batch_size), "--seed", "0", "-o", str(model), "--quiet")
            if train["exit"]:
                raise RuntimeError(f"train exited with {train['exit']}")
            with open(model / "state.json") as fh:
                history = json.load(fh)["history"]
            detect = run_worker("cli", "detect", str(model), str(data), "--stream", "-o", str(root / "scores.parquet"),
                                "--events", str(root / "events.csv"), "--quiet")
            if detect["exit"]:
                raise RuntimeError(f"detect exited with {detect['exit']}")
            windows = (n - a.window) // a.stride + 1
            row = dict(points=n, parquet_mb=gen["bytes"] / 2**20, windows=windows, train_s=train["seconds"],
                       epoch_s=sum(history["epoch_time"]), train_rss=train["peak_rss_mb"], detect_s=detect["seconds"],
                       detect_rss=detect["peak_rss_mb"], scores_mb=(root / "scores.parquet").stat().st_size / 2**20)
            rows.append(row)
            print(f"  train {row['train_s']:.1f} s (epoch {row['epoch_s']:.1f} s), peak RSS {row['train_rss']:.0f} MB; "
                  f"detect {row['detect_s']:.1f} s, peak RSS {row['detect_rss']:.0f} MB", flush=True)
            for path in (data, root / "scores.parquet", root / "events.csv"):
                path.unlink(missing_ok=True)
            shutil.rmtree(model, ignore_errors=True)
    finally:
        shutil.rmtree(root, ignore_errors=True)

    text = report(rows, base, a, notes)
    print("\n" + text)
    Path(a.out).write_text(text)
    print(f"written to {a.out}")


def report(rows: list[dict], base: dict, a, notes: list[str]) -> str:
    import torch

    load = os.getloadavg()
    lines = [
        f"Streamed training and scoring of a {FEATURES}-feature float32 series in Parquet (row groups of 1M rows): "
        f"`lstmae train DATA --stream --window {a.window} --stride {a.stride} --epochs 1 --hidden-size "
        f"{a.hidden_size} --batch-size {a.batch_size}` (streaming scaler pass, one epoch, residual-statistics pass) "
        f"and `lstmae detect MODEL DATA --stream -o scores.parquet` (every point scored, written as row groups). "
        "Each command ran in a fresh process; peak RSS is its `ru_maxrss`.",
        "",
        "| points | Parquet | windows | train: time (epoch) | train: peak RSS | detect: time | detect: peak RSS | "
        "time per 1M points (train / detect) |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        per = 1e6 / r["points"]
        lines.append(
            f"| {fmt_points(r['points'])} | {r['parquet_mb']:.0f} MiB | {r['windows']:,} | {r['train_s']:.1f} s "
            f"({r['epoch_s']:.1f} s) | {r['train_rss']:.0f} MB | {r['detect_s']:.1f} s | {r['detect_rss']:.0f} MB | "
            f"{r['train_s'] * per:.2f} s / {r['detect_s'] * per:.2f} s |")
    lines += [
        "",
        f"A process that only imports lstmae, torch and pyarrow and builds the optimiser peaks at "
        f"{base['peak_rss_mb']:.0f} MB: the fixed part of every figure above.",
        "",
        f"Machine: {platform.machine()}, {os.cpu_count()} CPUs visible, torch {torch.__version__}, "
        f"Python {platform.python_version()}; load average at the end {load[0]:.1f} / {load[1]:.1f} / {load[2]:.1f} "
        "(1 / 5 / 15 min). Times were measured on a machine shared with other work: read them as orders of "
        "magnitude; the memory figures do not depend on the load.",
    ]
    if notes:
        lines += ["", "Note: " + "; ".join(notes) + "."]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
