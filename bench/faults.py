"""Fault injection: SIGKILL `lstmae train` at random moments and resume it; feed bad inputs everywhere.

    python bench/faults.py [--kills 20] [--bad-inputs 600] [--seed 0] [--verbose]

1. Kill / resume. An uninterrupted `lstmae train` run (subprocess) is the reference. Then
   `lstmae train ... --checkpoint-dir CK --resume` is started and killed with SIGKILL at a
   random moment, again and again: during start-up, at a random point of a random later
   epoch (mid-batch, or while a checkpoint is being written), or, once training is done,
   while the run scores the data and writes the model. After every kill every file in the
   checkpoint and model directories is checked (JSON parses, safetensors loads, the
   checkpoint passes its SHA-256 and format checks, a model directory with a config
   loads); where the kill landed is read off the checkpoint epochs before and after. When
   a run gets to the end, its model must equal the reference bit for bit; then a new
   series of kills starts in fresh directories.
2. Bad inputs. A corpus of malformed files, options and arrays goes through the readers,
   the windowing functions, the estimator and the command line (in-process, plus a few
   real subprocesses): every one must end in a ValueError (API) or exit code 2 with one
   line starting with "error:" (CLI). Anything else counts as a traceback.

Prints: kills survived, files found corrupt (must be 0), bad inputs tried, tracebacks seen
(must be 0). Runs in a few minutes on 2 CPU cores; not part of the test suite.
"""
from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import traceback
import warnings
from pathlib import Path

import numpy as np

ENV = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "PYTHONWARNINGS": "ignore"}
EPOCHS = 12


def train_cmd(data: Path, out: Path, *extra: str) -> list[str]:
    return [sys.executable, "-m", "lstmae.cli", "train", str(data), "--window", "16", "--epochs", str(EPOCHS),
            "--hidden-size", "16", "--batch-size", "32", "--validation-split", "0.2", "--seed", "7", "--quiet",
            "-o", str(out), *extra]


# ------------------------------------------------------------------------------ file checks
def check_files(ck: Path, out: Path) -> tuple[int, int]:
    """(files checked, files corrupt) in a checkpoint directory and a model directory."""
    from safetensors.torch import load_file

    from lstmae import LSTMAutoencoder
    from lstmae.checkpoint import load_checkpoint

    checked = corrupt = 0
    for directory in (ck, out):
        if not directory.is_dir():
            continue
        for f in directory.iterdir():
            if f.name.startswith(".tmp-"):
                continue  # a writer's temporary file: never read, removed by the next checkpoint
            checked += 1
            try:
                if f.suffix == ".json":
                    obj = json.loads(f.read_text())
                    assert isinstance(obj, dict)
                elif f.suffix == ".safetensors":
                    load_file(str(f))
            except Exception as exc:  # noqa: BLE001
                corrupt += 1
                print(f"  CORRUPT {f}: {exc}")
    try:
        load_checkpoint(ck)
    except Exception as exc:  # noqa: BLE001
        corrupt += 1
        print(f"  CORRUPT checkpoint in {ck}: {exc}")
    if (out / "config.json").exists():  # the config is written last: with it, the model must load
        try:
            LSTMAutoencoder.load(out, device="cpu")
        except Exception as exc:  # noqa: BLE001
            corrupt += 1
            print(f"  CORRUPT model in {out}: {exc}")
    return checked, corrupt


def same_weights(a: Path, b: Path) -> bool:
    import torch
    from safetensors.torch import load_file

    x, y = load_file(str(a / "model.safetensors")), load_file(str(b / "model.safetensors"))
    return x.keys() == y.keys() and all(torch.equal(x[k], y[k]) for k in x)


# ------------------------------------------------------------------------------ kill / resume
def _epoch_on_disk(ck: Path) -> int:
    with contextlib.suppress(ValueError, OSError, KeyError):
        return int(json.loads((ck / "checkpoint.json").read_text())["epoch"])
    return 0


def kill_resume(work: Path, kills: int, rng: np.random.Generator, verbose: bool = False) -> dict:
    data = work / "series.csv"
    t = np.arange(600)
    np.savetxt(data, np.c_[np.sin(t / 5) + 0.05 * np.cos(t / 1.3), np.cos(t / 7)], delimiter=",", header="a,b",
               comments="")
    subprocess.run(train_cmd(data, work / "reference"), check=True, env=ENV)  # uninterrupted, no checkpoints
    # a timing probe: when do the first and the last checkpoints appear?
    start, t_first, t_last = time.perf_counter(), None, None
    probe = subprocess.Popen(train_cmd(data, work / "probe", "--checkpoint-dir", str(work / "probe-ck")), env=ENV)
    while probe.poll() is None:
        epoch = _epoch_on_disk(work / "probe-ck")
        if epoch and t_first is None:
            t_first = time.perf_counter() - start
        if epoch == EPOCHS and t_last is None:
            t_last = time.perf_counter() - start
        time.sleep(0.005)
    t_end = time.perf_counter() - start
    assert probe.returncode == 0 and same_weights(work / "probe", work / "reference")
    t_first, t_last = t_first or t_end, t_last or t_end
    epoch_s = (t_last - t_first) / max(EPOCHS - 1, 1)
    startup_s, post_s = max(t_first - epoch_s, 0.5), max(t_end - t_last, 0.1)
    print(f"reference run: {t_end:.1f} s: start-up about {startup_s:.1f} s, {EPOCHS} epochs of about {epoch_s:.2f} s, "
          f"scores and saving {post_s:.1f} s")
    print("kills: during start-up (20%) or at a random moment of a random later epoch (80%); once the "
          "checkpoint is at the last epochs, while scoring and saving (50%) or none (the run finishes)")

    stats = {"kills": 0, "files_checked": 0, "corrupt": 0, "runs_finished": 0, "runs_equal": 0,
             "kills_in_finished_runs": 0,
             "phases": {"start-up or first epoch": 0, "training": 0, "scores and saving": 0}}
    series, kills_this_series = 0, 0
    ck, out = work / "ck-0", work / "model-0"

    def wait_for(proc, condition) -> bool:
        """Poll until condition() or the process ends; True if it is still running."""
        while proc.poll() is None and not condition():
            time.sleep(0.003)
        return proc.poll() is None

    while True:
        proc = subprocess.Popen(train_cmd(data, out, "--checkpoint-dir", str(ck), "--resume"), env=ENV,
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        if stats["kills"] < kills:
            u, done = rng.random(), _epoch_on_disk(ck)
            if done >= EPOCHS - 1:  # little training left: kill it while it scores and saves, or let it finish
                if u < 0.5:
                    running = wait_for(proc, lambda: _epoch_on_disk(ck) >= EPOCHS)
                    # (a final checkpoint on disk already: this run only starts, scores and saves)
                    delay = rng.uniform(0, post_s) + (startup_s if done == EPOCHS else 0.0)
                else:
                    running, delay = False, None
            elif u < 0.2:
                running, delay = True, rng.uniform(0.1, 0.8 * startup_s)
            else:  # mid-training: a random moment of a random later epoch
                target = min(done + int(rng.integers(1, 4)), EPOCHS - 1)
                running = wait_for(proc, lambda: _epoch_on_disk(ck) >= target)
                delay = rng.uniform(0, epoch_s)
            if running:
                try:
                    proc.wait(timeout=delay)
                except subprocess.TimeoutExpired:
                    proc.send_signal(signal.SIGKILL)
                    proc.wait()
                    stats["kills"] += 1
                    after = _epoch_on_disk(ck)  # where the kill landed, as seen on disk
                    phase = ("scores and saving" if after == EPOCHS else "training" if after > done
                             else "start-up or first epoch")
                    stats["phases"][phase] += 1
                    kills_this_series += 1
                    checked, corrupt = check_files(ck, out)
                    stats["files_checked"] += checked
                    stats["corrupt"] += corrupt
                    if verbose:
                        print(f"    kill {stats['kills']}: {phase}, checkpoint at epoch {done} before, "
                              f"{after} after; {checked} files intact")
                    continue
        proc.wait()
        err = proc.stderr.read().decode(errors="replace")
        if proc.returncode != 0:
            print(f"  resume FAILED (exit {proc.returncode}): {err.strip()[-500:]}")
            stats["corrupt"] += 1
        else:
            stats["runs_finished"] += 1
            equal = same_weights(out, work / "reference")
            stats["runs_equal"] += equal
            if equal:
                stats["kills_in_finished_runs"] += kills_this_series
            print(f"  run {series}: finished after {kills_this_series} kills; weights "
                  f"{'bit-identical to' if equal else 'DIFFERENT from'} the uninterrupted run")
        if stats["kills"] >= kills:
            break
        series, kills_this_series = series + 1, 0
        ck, out = work / f"ck-{series}", work / f"model-{series}"
    return stats


# ------------------------------------------------------------------------------ bad inputs
class Tally:
    def __init__(self) -> None:
        self.tried = 0
        self.tracebacks = 0
        self.by_area: dict[str, int] = {}

    def api(self, area: str, fn, *args, **kwargs) -> object:
        self.tried += 1
        self.by_area[area] = self.by_area.get(area, 0) + 1
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                return fn(*args, **kwargs)
        except ValueError as exc:
            if not str(exc).strip():
                self.tracebacks += 1
                print(f"  {area}: ValueError without a message")
        except Exception:  # noqa: BLE001
            self.tracebacks += 1
            print(f"  {area}: {traceback.format_exc(limit=3).strip().splitlines()[-1]}  (args {args!r:.120})")
        return None

    def cli(self, area: str, output: str, code: int, exception: BaseException | None = None) -> None:
        self.tried += 1
        self.by_area[area] = self.by_area.get(area, 0) + 1
        lines = output.strip().splitlines()
        if code == 0 and "Traceback" not in output:
            return  # not so bad after all (e.g. a CSV truncated at a line end): it worked
        if code != 2 or "Traceback" in output or len(lines) != 1 or not lines[0].startswith("error:"):
            self.tracebacks += 1
            print(f"  {area}: exit {code}, output {output.strip()[-300:]!r}, exception {exception!r}")


def random_files(tmp: Path, rng: np.random.Generator, n: int) -> list[Path]:
    import pandas as pd

    good = pd.DataFrame({"t": np.arange(50), "a": np.sin(np.arange(50) / 3), "b": np.cos(np.arange(50) / 4)})
    csv = good.to_csv(index=False).encode()
    makers = [
        lambda: ("csv", rng.bytes(int(rng.integers(0, 400)))),
        lambda: ("csv", csv[: int(rng.integers(0, len(csv)))] + rng.bytes(int(rng.integers(0, 5)))),
        lambda: ("csv", good.to_csv(index=False, sep=str(rng.choice([";", "|", "\t", " "]))).encode()[
            : int(rng.integers(1, len(csv)))]),
        lambda: ("csv", "".join(rng.choice(list("0123456789.,;-eEnaN\n\t \"x∑é"), int(rng.integers(0, 300))))
                 .encode()),
        lambda: ("tsv", csv.replace(b",", b"\t")[: int(rng.integers(1, len(csv)))]),
        lambda: ("csv", b""),
        lambda: ("csv", b"t,a,b\n"),
        lambda: ("csv", b"t,a\n1,x\n2,y\n"),
        lambda: ("csv", b"[" * int(rng.integers(1, 50000))),
        lambda: ("parquet", b"PAR1" + rng.bytes(int(rng.integers(0, 200))) + b"PAR1"),
        lambda: ("npy", rng.bytes(int(rng.integers(0, 200)))),
        lambda: ("npy", _npy(rng)),
        lambda: ("npz", rng.bytes(int(rng.integers(0, 200)))),
    ]
    paths = []
    for i in range(n):
        ext, data = makers[int(rng.integers(len(makers)))]()
        p = tmp / f"bad-{i}.{ext}"
        p.write_bytes(data)
        paths.append(p)
    (tmp / "a-directory.csv").mkdir(exist_ok=True)
    paths.append(tmp / "a-directory.csv")
    return paths


def _npy(rng: np.random.Generator) -> bytes:
    shape = tuple(int(s) for s in rng.integers(0, 4, size=int(rng.integers(0, 5))))
    dtype = str(rng.choice(["float32", "float64", "int8", "bool", "complex64", "U3", "object", "datetime64[s]"]))
    arr = np.zeros(shape).astype(dtype) if dtype != "object" else np.zeros(shape).astype(object)
    buf = io.BytesIO()
    np.save(buf, arr, allow_pickle=True)
    data = buf.getvalue()
    return data if rng.random() < 0.5 else data[: int(rng.integers(0, len(data) + 1))]


def random_arrays(rng: np.random.Generator):
    specials = [np.nan, np.inf, -np.inf, 1e300, -1e300, 1e30, 0.0]
    kind = int(rng.integers(7))
    shape = tuple(int(s) for s in rng.integers(0, 5, size=int(rng.integers(0, 5))))
    if kind == 0:
        a = rng.standard_normal(shape)
        if a.size:
            a.flat[int(rng.integers(a.size))] = specials[int(rng.integers(len(specials)))]
        return a
    if kind == 1:
        return np.zeros(shape).astype(str(rng.choice(["int8", "bool", "complex64", "U2", "object", "float16"])))
    if kind == 2:  # ragged list of sequences
        return [rng.standard_normal((int(rng.integers(0, 5)), int(rng.integers(1, 3)))) for _ in range(int(rng.integers(0, 4)))]
    if kind == 3:  # ragged nested lists
        return [[1.0, 2.0], [3.0]] if rng.random() < 0.5 else [[[1.0]], [2.0], "x"]
    if kind == 4:
        import pandas as pd

        names = ["", "é", "∑x", "列", "a b", "\t"]
        return pd.DataFrame({names[int(i)]: [1.0, 2.0, 3.0] for i in rng.choice(len(names), 2, replace=False)})
    if kind == 5:
        return [None, {"a": 1}, "text", 3, b"bytes", object()][int(rng.integers(6))]
    return np.full((3, 4, 2), specials[int(rng.integers(len(specials)))])


def bad_inputs(work: Path, n: int, rng: np.random.Generator) -> Tally:
    from typer.testing import CliRunner

    from lstmae import LSTMAutoencoder
    from lstmae.cli import app
    from lstmae.data.tables import read_table
    from lstmae.data.sequences import to_padded
    from lstmae.data.windows import reverse_windowing, sliding_windows

    tally = Tally()
    tmp = work / "bad"
    tmp.mkdir()
    files = random_files(tmp, rng, n // 3)
    options = [{}, {"layout": "rows"}, {"fill": "ffill"}, {"header": True}, {"columns": ["a"]},
               {"time_column": "t"}, {"id_column": "t"}, {"columns": [7]}, {"time_column": "nope"}]
    for f in files:
        tally.api("readers", read_table, f, **options[int(rng.integers(len(options)))])
    odd = [-1, 0, 1, 3, 10**20, True, 2.5, "3", None]
    for _ in range(n // 6):
        series = np.ones(tuple(int(s) for s in rng.integers(0, 6, size=int(rng.integers(0, 4)))))
        tally.api("windowing", sliding_windows, series, *rng.choice(np.array(odd, dtype=object), 3))
        tally.api("windowing", reverse_windowing, series, *rng.choice(np.array(odd, dtype=object), 2))
    fits = 0
    for _ in range(n // 4):
        X = random_arrays(rng)
        padded = tally.api("estimator", to_padded, X)
        if padded is not None and fits < 15:
            fits += 1
            ae = LSTMAutoencoder(hidden_size=2, epochs=1, random_state=0,
                                 scale=str(rng.choice(["standard", "minmax"])) if rng.random() < 0.7 else None)
            if tally.api("estimator", ae.fit, X) is not None:
                tally.api("estimator", ae.transform, random_arrays(rng))

    runner = CliRunner()
    model = work / "cli-model"
    good = tmp / "good.csv"
    good.write_text("t,a\n" + "\n".join(f"{i},{np.sin(i / 3):.4f}" for i in range(60)))
    r = runner.invoke(app, ["train", str(good), "--window", "8", "--epochs", "1", "--hidden-size", "2", "--quiet",
                            "-o", str(model)])
    assert r.exit_code == 0, r.output
    for f in files[: n // 4]:
        r = runner.invoke(app, ["train", str(f), "--window", "4", "--epochs", "1", "--hidden-size", "2", "--quiet",
                                "-o", str(tmp / "out")])
        tally.cli("cli", r.output, r.exit_code, r.exception)
    corruptions = [b"", b"{", b"[]", b"\x80\x04garbage", b'{"window": "x"}', b"[" * 100000, b"{}"]
    for name in ("config.json", "state.json", "model.safetensors"):
        for content in corruptions:
            broken = tmp / f"model-{name}-{len(content)}-{content[:2].hex()}"
            shutil.copytree(model, broken)
            (broken / name).write_bytes(content)
            for args in (["info", str(broken)], ["encode", str(broken), str(good), "-o", str(tmp / "c.csv"), "-q"]):
                r = runner.invoke(app, args)
                tally.cli("cli", r.output, r.exit_code, r.exception)
    # a few through a real process: what a user sees, start-up included
    for args in (["train", str(files[0]), "--window", "4", "-q"], ["info", str(tmp / "model-config.json-1-7b")],
                 ["train", str(tmp / "a-directory.csv"), "--window", "4", "-q"]):
        p = subprocess.run([sys.executable, "-m", "lstmae.cli", *args], env=ENV, capture_output=True, text=True,
                           timeout=300)
        tally.cli("cli (subprocess)", p.stdout + p.stderr, p.returncode)
    return tally


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kills", type=int, default=20)
    parser.add_argument("--bad-inputs", type=int, default=600)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--verbose", action="store_true", help="one line per kill")
    args = parser.parse_args()
    import torch

    torch.set_num_threads(1)
    rng = np.random.default_rng(args.seed)
    start = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="lstmae-faults-") as tmp:
        work = Path(tmp)
        k = kill_resume(work, args.kills, rng, args.verbose) if args.kills else {
            "kills": 0, "files_checked": 0, "corrupt": 0, "runs_finished": 0, "runs_equal": 0,
            "kills_in_finished_runs": 0, "phases": {}}
        print(f"bad inputs: {args.bad_inputs} (seed {args.seed})")
        tally = bad_inputs(work, args.bad_inputs, np.random.default_rng(args.seed + 1))
    print()
    print(f"kills survived:      {k['kills_in_finished_runs']}/{k['kills']}  ({k['runs_equal']}/{k['runs_finished']} "
          f"resumed runs ended bit-identical to the uninterrupted run; kills during "
          + ", ".join(f"{phase} {n}" for phase, n in k["phases"].items()) + ")")
    print(f"files found corrupt: {k['corrupt']}  ({k['files_checked']} files checked after the kills)")
    print(f"bad inputs tried:    {tally.tried}  ({', '.join(f'{a} {c}' for a, c in tally.by_area.items())})")
    print(f"tracebacks seen:     {tally.tracebacks}")
    print(f"({time.perf_counter() - start:.0f} s)")
    ok = k["corrupt"] == 0 and tally.tracebacks == 0 and k["runs_equal"] == k["runs_finished"]
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
