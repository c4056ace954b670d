"""Fault injection: SIGKILL and SIGTERM `lstmae train` and resume it; bad inputs, hostile model directories,
failing writes and concurrent writers.

    python bench/faults.py [--kills 20] [--bad-inputs 600] [--sigterms 10] [--writer-rounds 2] [--saves 30]
                           [--no-hostile] [--seed 0] [--verbose]

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

3. Hostile model directories (issue 15). A composite model, a detector and a classifier are
   edited as a stranger would (config.json is not checksummed, so sizes in it are free:
   hidden_size 100000 over 8 units, 10**9 layers, a horizon of 10**12, a 10-million-row
   residual profile, a 70 MB state.json, a safetensors header that lies, ...), and
   `lstmae info`, `encode` and `forecast` run on each in a process limited to 2 GiB of
   address space: every one must end in one `error:` line (or run, for harmless edits).
4. Failing writes. ENOSPC, EDQUOT, EROFS, EACCES and EIO injected at every step of a save
   (temporary file, the safetensors and JSON writers, fsync, each rename, mkdir) of a model
   over an old one, of a new model, of a checkpoint, of `lstmae train -o` and `encode -o`;
   plus real EFBIG from a file size limit on `lstmae train`. Each must be one message naming
   the file and the cause, with the previous files byte-identical, no half-made directory and
   no stray temporary file.
5. Concurrent writers. Two processes save models into one directory and two save
   checkpoints into another, many times at once, while a third loads: no commit may overlap
   another (the directory lock), every load gets a whole model or a clean refusal, and the
   directories are whole afterwards.
6. SIGTERM. `lstmae train --checkpoint-dir` gets SIGTERM mid-training, again and again
   (``--checkpoint-every`` 1 and 3): exit code 143, one error line naming the epoch the
   checkpoint holds (a checkpoint that holds another epoch is "lost"), and the resumed run
   ends bit-identical to the uninterrupted one.

Prints: kills survived, files found corrupt (must be 0), bad inputs tried, the counts of
sections 3-6, checkpoints lost (must be 0), tracebacks seen (must be 0). Runs in several
minutes on 2 CPU cores; not part of the test suite.
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


def reference_run(work: Path) -> Path:
    """The data file and the uninterrupted run's model (work/reference), made once."""
    data = work / "series.csv"
    if not (work / "reference" / "config.json").exists():
        t = np.arange(600)
        np.savetxt(data, np.c_[np.sin(t / 5) + 0.05 * np.cos(t / 1.3), np.cos(t / 7)], delimiter=",",
                   header="a,b", comments="")
        subprocess.run(train_cmd(data, work / "reference"), check=True, env=ENV)  # uninterrupted, no checkpoints
    return data


def kill_resume(work: Path, kills: int, rng: np.random.Generator, verbose: bool = False) -> dict:
    data = reference_run(work)
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


# ------------------------------------------------------------------------------ hostile model directories
HOSTILE_WORKER = r"""
import json, resource, signal, sys, time
limit = int(sys.argv[1])
resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
from typer.testing import CliRunner
from lstmae.cli import app
runner, results = CliRunner(), []
data, out, d = sys.argv[2], sys.argv[3], sys.argv[4]

def too_slow(signum, frame):
    raise TimeoutError("over 60 s")

signal.signal(signal.SIGALRM, too_slow)
for args in (["info", d], ["encode", d, data, "-o", out, "-q"], ["forecast", d, data, "-o", out, "-q"]):
    start = time.perf_counter()
    signal.alarm(60)
    try:
        r = runner.invoke(app, args)
        code, output, exc = r.exit_code, r.output, repr(r.exception)
    except TimeoutError as e:
        code, output, exc = -1, "", repr(e)
    signal.alarm(0)
    results.append([d, args[0], code, output, exc, time.perf_counter() - start])
print(json.dumps(results))
"""


def _fix_checksum(model: Path) -> None:
    """What an attacker does after editing state.json: record its new SHA-256 in config.json."""
    import hashlib

    cfg = json.loads((model / "config.json").read_text())
    if isinstance(cfg.get("files"), dict):
        for name in ("state.json", "model.safetensors"):
            cfg["files"][name] = {"sha256": hashlib.sha256((model / name).read_bytes()).hexdigest()}
    (model / "config.json").write_text(json.dumps(cfg))


def hostile_dirs(work: Path, data: Path) -> dict:
    """Model directories edited by a stranger, loaded by `info`, `encode` and `forecast` under a 2 GiB limit."""
    import resource

    from lstmae import LSTMClassifier

    tmp = work / "hostile"
    tmp.mkdir()
    models = {}
    for name, extra in (("composite", ["--task", "composite", "--horizon", "2"]), ("detector", ["--detector"])):
        subprocess.run([sys.executable, "-m", "lstmae.cli", "train", str(data), "--window", "16", "--epochs", "1",
                        "--hidden-size", "8", "-q", "-o", str(tmp / name), *extra], check=True, env=ENV)
        models[name] = tmp / name
    t = np.arange(40)
    X = np.stack([np.c_[np.sin(t / 3 + p), np.cos(t / 5 + p)] for p in range(24)]).astype(np.float32)[:, :16]
    LSTMClassifier(hidden_size=8, epochs=1, random_state=0).fit(X, np.arange(24) % 3).save(tmp / "classifier")
    models["classifier"] = tmp / "classifier"

    def model_edit(**changes):
        return lambda c, s: c["model"].update(changes)

    edits = []  # (base model, description, edit(config, state) or a raw edit of the directory)
    for v in (100_000, 10**6, 2**31, 2**62, 2**70, 0, -5, 8.5, "8", None, True):
        edits.append(("composite", f"model.hidden_size={v!r}", model_edit(hidden_size=v)))
    for field, values in (("num_layers", (1000, 10**9)), ("code_size", (10**9, 10**15)), ("horizon", (10**9, 10**12)),
                          ("n_features", (10**6, 10**9)), ("bidirectional", (True,)), ("conditional", (True,)),
                          ("task", ("reconstruct", "predict")), ("bridge", ("state",))):
        for v in values:
            edits.append(("composite", f"model.{field}={v!r}", model_edit(**{field: v})))
    edits.append(("composite", "n_features=10**6 everywhere", lambda c, s: (
        c["model"].update(n_features=10**6), s.update(n_features_in_=10**6),
        s["scaler"].update(offset=[0.0] * 10**6, scale=[1.0] * 10**6))))
    edits.append(("composite", "data.window=10**12", lambda c, s: c["data"].update(window=10**12)))
    edits.append(("composite", "data.window=0", lambda c, s: c["data"].update(window=0)))
    edits.append(("composite", "params.n_threads=10**6", lambda c, s: c["params"].update(n_threads=10**6)))
    edits.append(("composite", "params.batch_size=10**12", lambda c, s: c["params"].update(batch_size=10**12)))
    edits.append(("composite", "residual_stats.profile with 1.5M rows",
                  lambda c, s: s["residual_stats"].update(profile=[[0.0, 0.0]] * 1_500_000)))
    edits.append(("composite", "history.train_loss with 3M entries",
                  lambda c, s: s["history"].update(train_loss=[0.5] * 3_000_000)))
    edits.append(("classifier", "classes_dtype=<U100000000", lambda c, s: s.update(classes_dtype="<U100000000")))
    edits.append(("classifier", "10**6 classes", lambda c, s: s.update(classes=list(range(10**6)),
                                                                       classes_dtype="<i8")))
    edits.append(("classifier", "model.hidden_size=50000", model_edit(hidden_size=50000)))
    edits.append(("detector", "autoencoder.model.hidden_size=100000",
                  lambda c, s: c["autoencoder"]["model"].update(hidden_size=100000)))
    edits.append(("detector", "autoencoder.model.horizon=10**12",
                  lambda c, s: c["autoencoder"]["model"].update(horizon=10**12)))

    def raw(kind):
        def apply(d: Path) -> None:
            if kind == "profile 10M":
                state = json.loads((d / "state.json").read_text())
                state["residual_stats"]["profile"] = "P"
                text = json.dumps(state).replace('"P"', "[" + ",".join(["[0]"] * 10_000_000) + "]")
                (d / "state.json").write_text(text)
            elif kind == "state 70 MB":
                (d / "state.json").write_text((d / "state.json").read_text()[:-2] + " " * (70 << 20) + "}\n")
            elif kind == "nesting 100k":
                (d / "state.json").write_text('{"history": ' + "[" * 100_000 + "]" * 100_000 + "}")
            elif kind in ("header length", "header offsets"):
                data = (d / "model.safetensors").read_bytes()
                n = int.from_bytes(data[:8], "little")
                if kind == "header length":
                    (d / "model.safetensors").write_bytes((10**12).to_bytes(8, "little") + data[8:])
                else:
                    header = json.loads(data[8:8 + n])
                    for k in header:
                        if k != "__metadata__":
                            header[k]["shape"] = [100_000, 400_000]
                            header[k]["data_offsets"] = [0, 160 * 10**9]
                            break
                    h = json.dumps(header).encode()
                    (d / "model.safetensors").write_bytes(len(h).to_bytes(8, "little") + h + data[8 + n:])
            _fix_checksum(d)
        return apply

    for kind in ("profile 10M", "state 70 MB", "nesting 100k", "header length", "header offsets"):
        edits.append(("composite", kind, raw(kind)))

    dirs = []
    for i, (base, description, change) in enumerate(edits):
        d = tmp / f"h{i:02d}"
        shutil.copytree(models[base], d)
        if change.__name__ == "apply":
            change(d)
        else:
            cfg, state = json.loads((d / "config.json").read_text()), json.loads((d / "state.json").read_text())
            change(cfg, state)
            (d / "config.json").write_text(json.dumps(cfg))
            (d / "state.json").write_text(json.dumps(state))
            _fix_checksum(d)
        dirs.append((d, description))
    limit = 2 << 30
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    start = time.perf_counter()
    names = {str(d): description for d, description in dirs}
    stats = {"dirs": len(dirs), "commands": 0, "refused": 0, "loaded": 0, "tracebacks": 0, "limit_gb": limit / 2**30}
    results = []
    for d, description in dirs:  # a fresh process each: one directory's failure cannot leak into the next
        p = subprocess.run([sys.executable, "-c", HOSTILE_WORKER, str(limit), str(data), str(tmp / "out.csv"), str(d)],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=ENV, timeout=600)
        if p.returncode != 0:
            print(f"  hostile {description}: the process died (exit {p.returncode}): {p.stderr.strip()[-300:]!r}")
            stats["tracebacks"] += 1
            continue
        results += json.loads(p.stdout)
    stats["seconds"] = time.perf_counter() - start
    stats["peak_mb"] = max(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, before) / 1024
    slowest = max(results, key=lambda r: r[-1])
    stats["slowest"] = f"{names[slowest[0]]} ({slowest[1]}) {slowest[-1]:.1f} s"
    for d, command, code, output, exception, _ in results:
        stats["commands"] += 1
        lines = output.strip().splitlines()
        if code == 0:
            stats["loaded"] += 1
        elif code == 2 and len(lines) == 1 and lines[0].startswith("error:") and "Traceback" not in output:
            stats["refused"] += 1
        else:
            stats["tracebacks"] += 1
            print(f"  hostile {names[d]}: {command} exit {code}, {output.strip()[-300:]!r}, {exception}")
    return stats


# ------------------------------------------------------------------------------ failing writes
def _listing(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): (p.read_bytes() if p.is_file() else b"<dir>") for p in sorted(root.rglob("*"))}


def write_faults(work: Path, data: Path) -> dict:
    """Writes that fail (no space, quota, read-only, permission, I/O error) at every step of a save."""
    import errno
    import tempfile as tempfile_module
    from unittest import mock

    from safetensors import SafetensorError
    from typer.testing import CliRunner

    import lstmae.checkpoint as checkpoint
    import lstmae.serialization as serialization
    from lstmae import LSTMAutoencoder
    from lstmae._atomic import WriteError
    from lstmae.checkpoint import load_checkpoint, save_checkpoint
    from lstmae.cli import app

    root = work / "writes"
    root.mkdir()
    model = work / "reference"  # the uninterrupted run's model directory
    ae = LSTMAutoencoder.load(model, device="cpu")
    ck_source = work / "writes-ck-source"
    t = np.arange(40)
    X = np.stack([np.c_[np.sin(t / 3 + p), np.cos(t / 5 + p)] for p in range(24)]).astype(np.float32)[:, :16]
    LSTMAutoencoder(hidden_size=8, epochs=2, random_state=0).fit(X, checkpoint_dir=ck_source)
    ck_state = load_checkpoint(ck_source)
    stats = {"injected": 0, "one_line": 0, "intact": 0, "half_made_dirs": 0, "stray_files": 0, "tracebacks": 0,
             "kinds": {}}
    codes = {"ENOSPC": errno.ENOSPC, "EDQUOT": errno.EDQUOT, "EROFS": errno.EROFS, "EACCES": errno.EACCES,
             "EIO": errno.EIO}
    real_replace, real_mkstemp, real_fsync = os.replace, tempfile_module.mkstemp, os.fsync
    real_write_bytes, real_mkdir = Path.write_bytes, Path.mkdir

    def failing(real, code, at):
        count = [0]

        def fn(*args, **kwargs):
            count[0] += 1
            if count[0] == at:
                raise OSError(code, os.strerror(code))
            return real(*args, **kwargs)

        return fn

    def safetensors_full(code):
        def fn(tensors, filename, metadata=None):
            Path(filename).write_bytes(b"half a file")
            raise SafetensorError(f"Error while serializing: I/O error: {os.strerror(code)} (os error {code})")

        return fn

    def points(code):  # where the failure strikes
        return {
            "tempfile": lambda: mock.patch.object(tempfile_module, "mkstemp", failing(real_mkstemp, code, 1)),
            "safetensors writer": lambda: mock.patch.multiple(serialization, save_file=safetensors_full(code)),
            "safetensors writer (checkpoint)": lambda: mock.patch.multiple(checkpoint,
                                                                            save_file=safetensors_full(code)),
            "json writer": lambda: mock.patch.object(Path, "write_bytes", failing(real_write_bytes, code, 1)),
            "fsync": lambda: mock.patch.object(os, "fsync", failing(real_fsync, code, 2)),
            "rename 1": lambda: mock.patch.object(os, "replace", failing(real_replace, code, 1)),
            "rename 2": lambda: mock.patch.object(os, "replace", failing(real_replace, code, 2)),
            "rename 3": lambda: mock.patch.object(os, "replace", failing(real_replace, code, 3)),
            "mkdir": lambda: mock.patch.object(Path, "mkdir", failing(real_mkdir, code, 1)),
        }

    runner = CliRunner()
    case = 0
    for name, code in codes.items():
        for point, patch in points(code).items():
            for target_kind in ("existing model", "new model", "checkpoint", "cli train", "cli encode"):
                if point == "safetensors writer (checkpoint)" and target_kind != "checkpoint":
                    continue
                if point == "safetensors writer" and target_kind in ("checkpoint", "cli encode"):
                    continue
                if point == "mkdir" and target_kind in ("existing model", "checkpoint", "cli train"):
                    continue  # (nothing to create)
                if target_kind == "checkpoint" and point in ("json writer", "rename 3"):
                    continue  # (checkpoint.json is written through a file object; two renames)
                if target_kind == "cli encode" and point in ("json writer", "fsync", "rename 2", "rename 3"):
                    continue  # (one file, one rename)
                if target_kind == "cli train" and name not in ("ENOSPC", "EROFS"):
                    continue  # (a training run each: two kinds are enough)
                case += 1
                area = root / f"case-{case}"
                area.mkdir()
                if target_kind in ("existing model", "cli train"):
                    shutil.copytree(model, area / "m")
                    target = area / "m"
                elif target_kind == "checkpoint":
                    shutil.copytree(ck_source, area / "ck")
                    target = area / "ck"
                else:
                    target = area / "new" / "deeper" / ("m" if target_kind == "new model" else "c.csv")
                before = _listing(area)
                stats["injected"] += 1
                stats["kinds"][point] = stats["kinds"].get(point, 0) + 1
                message = None
                try:
                    with patch():
                        if target_kind in ("existing model", "new model"):
                            ae.save(target)
                        elif target_kind == "checkpoint":
                            save_checkpoint(target, {**ck_state, "epoch": 3}, {"bench": 1})
                        else:
                            args = (["train", str(data), "--window", "16", "--epochs", "1", "--hidden-size", "4",
                                     "-q", "-o", str(target)] if target_kind == "cli train" else
                                    ["encode", str(model), str(data), "-o", str(target), "-q"])
                            r = runner.invoke(app, args)
                            lines = r.output.strip().splitlines()
                            if r.exit_code == 2 and len(lines) == 1 and lines[0].startswith("error: cannot "):
                                message = lines[0]
                            elif r.exit_code != 0:
                                stats["tracebacks"] += 1
                                print(f"  write fault {point}/{target_kind}/{name}: exit {r.exit_code}, "
                                      f"{r.output.strip()[-300:]!r} {r.exception!r}")
                except WriteError as exc:
                    message = str(exc)
                except Exception as exc:  # noqa: BLE001
                    stats["tracebacks"] += 1
                    print(f"  write fault {point}/{target_kind}/{name}: {type(exc).__name__}: {exc}")
                if message is not None and os.strerror(code) in message and str(area) in message:
                    stats["one_line"] += 1
                elif message is not None:
                    print(f"  write fault {point}/{target_kind}/{name}: message {message!r}")
                after = _listing(area)
                stray = [k for k in after if Path(k).name.startswith((".tmp-", ".bak-", ".lstmae.lock"))]
                made = [k for k in after if k not in before and after[k] == b"<dir>"]
                stats["stray_files"] += len(stray)
                stats["half_made_dirs"] += len(made)
                if stray or made:
                    print(f"  write fault {point}/{target_kind}/{name}: left {stray + made}")
                if message is None:
                    print(f"  write fault {point}/{target_kind}/{name}: the write did not fail?")
                if after == before:
                    stats["intact"] += 1
                elif message is not None:
                    print(f"  write fault {point}/{target_kind}/{name}: directory changed "
                          f"({sorted(set(after) ^ set(before)) or 'contents'}); stray {stray}, new dirs {made}")
    # no monkeypatching: a file size limit makes the real writers fail (EFBIG), at the weights, state or config
    for limit in (500, 5000, 9000):
        stats["injected"] += 1
        stats["kinds"]["RLIMIT_FSIZE"] = stats["kinds"].get("RLIMIT_FSIZE", 0) + 1
        area = root / f"fsize-{limit}"
        area.mkdir()
        shutil.copytree(model, area / "m")
        before = _listing(area)
        script = ("import resource, signal, sys; signal.signal(signal.SIGXFSZ, signal.SIG_IGN); "
                  f"resource.setrlimit(resource.RLIMIT_FSIZE, ({limit}, {limit})); "
                  "from lstmae.cli import main; sys.argv = ['lstmae'] + sys.argv[1:]; main()")
        p = subprocess.run([sys.executable, "-c", script, *train_cmd(data, area / "m")[3:]], capture_output=True,
                           text=True, env=ENV, timeout=600)
        lines = (p.stdout + p.stderr).strip().splitlines()
        if p.returncode == 2 and len(lines) == 1 and lines[0].startswith("error: cannot write") and \
                "File too large" in lines[0]:
            stats["one_line"] += 1
        else:
            stats["tracebacks"] += 1
            print(f"  RLIMIT_FSIZE {limit}: exit {p.returncode}: {(p.stdout + p.stderr).strip()[-400:]!r}")
        stats["intact"] += _listing(area) == before
    return stats


# ------------------------------------------------------------------------------ concurrent writers
WRITER = r"""
import os, sys, time
import lstmae.serialization as S
from lstmae.checkpoint import load_checkpoint, save_checkpoint
from lstmae import LSTMAutoencoder
kind, src, target, n, barrier, parties, marks = sys.argv[1:8]
n, parties = int(n), int(parties)
os.makedirs(marks, exist_ok=True)
mine, overlaps = os.path.join(marks, str(os.getpid())), 0
real_commit = S.AtomicGroup.commit
def commit(self):  # is another writer inside its commit too?
    global overlaps
    open(mine, "w").close()
    overlaps += len(os.listdir(marks)) > 1
    time.sleep(0.002)
    try:
        real_commit(self)
    finally:
        os.unlink(mine)
S.AtomicGroup.commit = commit
import lstmae.checkpoint as C; C.AtomicGroup.commit = commit
if kind == "model":
    est = LSTMAutoencoder.load(src, device="cpu")
    save = lambda: est.save(target)
elif kind == "checkpoint":
    state = load_checkpoint(src)
    save = lambda: save_checkpoint(target, state, {"run": src})
open(os.path.join(barrier, str(os.getpid())), "w").close()
while len(os.listdir(barrier)) < parties:
    time.sleep(0.001)
if kind == "reader":
    whole = refused = wrong = 0
    end = time.time() + float(n)
    while time.time() < end:
        if not os.path.exists(os.path.join(target, "config.json")):
            continue
        try:
            LSTMAutoencoder.load(target, device="cpu")
            whole += 1
        except S.ModelFileError:
            refused += 1
        except Exception:
            wrong += 1
    print(whole, refused, wrong)
else:
    for _ in range(n):
        save()
    print(overlaps)
"""


def concurrent_writers(work: Path, rounds: int, saves: int) -> dict:
    from lstmae import LSTMAutoencoder

    base = work / "writers"
    base.mkdir()
    t = np.arange(40)
    X = np.stack([np.c_[np.sin(t / 3 + p), np.cos(t / 5 + p)] for p in range(24)]).astype(np.float32)[:, :16]
    sources = []
    for seed, hidden in ((1, 6), (2, 9)):
        LSTMAutoencoder(hidden_size=hidden, epochs=1 + seed, random_state=seed).fit(
            X, checkpoint_dir=base / f"ck-{seed}").save(base / f"m-{seed}")
        sources.append(seed)
    stats = {"model_saves": 0, "checkpoint_saves": 0, "overlaps": 0, "whole": 0, "refused": 0, "wrong": 0,
             "final_ok": 0, "rounds": rounds, "failed": 0}
    for r in range(rounds):
        barrier = base / f"barrier-{r}"
        barrier.mkdir()
        target, ck = base / f"shared-{r}", base / f"shared-ck-{r}"
        cmds = [["model", str(base / f"m-{s}"), str(target), str(saves)] for s in sources]
        cmds += [["checkpoint", str(base / f"ck-{s}"), str(ck), str(saves)] for s in sources]
        cmds += [["reader", "", str(target), "4"]]
        procs = [subprocess.Popen([sys.executable, "-c", WRITER, *c, str(barrier), str(len(cmds)),
                                   str(base / f"marks-{r}-{c[0]}")], env=ENV, stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, text=True) for c in cmds]
        outs = [p.communicate(timeout=600) for p in procs]
        for c, p, (out, err) in zip(cmds, procs, outs):
            if p.returncode != 0:
                stats["failed"] += 1
                print(f"  writer {c[0]} failed: {err.strip()[-400:]}")
                continue
            if c[0] == "reader":
                whole, refused, wrong = map(int, out.split())
                stats["whole"] += whole
                stats["refused"] += refused
                stats["wrong"] += wrong
            else:
                stats[f"{c[0]}_saves"] += saves
                stats["overlaps"] += int(out)
        try:
            from lstmae.checkpoint import load_checkpoint

            LSTMAutoencoder.load(target, device="cpu")
            meta = json.loads((ck / "checkpoint.json").read_text())
            load_checkpoint(ck, {"run": meta["fingerprint"]["run"]})
            names = sorted(p.name for p in target.iterdir()) + sorted(p.name for p in ck.iterdir())
            assert names == ["config.json", "model.safetensors", "state.json", meta["tensors"], "checkpoint.json"], names
            stats["final_ok"] += 1
        except Exception as exc:  # noqa: BLE001
            print(f"  after round {r}: {type(exc).__name__}: {exc}")
    return stats


# ------------------------------------------------------------------------------ SIGTERM
def sigterms(work: Path, n: int, rng: np.random.Generator, verbose: bool = False) -> dict:
    """SIGTERM `lstmae train --checkpoint-dir` mid-training, again and again, and resume it to the end."""
    import re

    data, reference = work / "series.csv", work / "reference"
    pattern = re.compile(r"error: interrupted by SIGTERM after epoch (\d+); the checkpoint in (\S+) holds epoch "
                         r"(\d+): rerun with --resume")
    stats = {"sent": 0, "exit_143": 0, "one_line": 0, "lost": 0, "outside_training": 0, "runs_finished": 0,
             "runs_equal": 0, "failed": 0}
    series = 0
    while stats["sent"] < n:
        ck, out = work / f"term-ck-{series}", work / f"term-model-{series}"
        every = ["1", "3"][series % 2]
        while True:
            cmd = train_cmd(data, out, "--checkpoint-dir", str(ck), "--checkpoint-every", every, "--resume")
            proc = subprocess.Popen(cmd, env=ENV, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            done = _epoch_on_disk(ck)
            if stats["sent"] < n and done < EPOCHS - 1:
                target = min(done + int(rng.integers(1, 3)), EPOCHS - 1)
                t0 = time.perf_counter()
                while proc.poll() is None and _epoch_on_disk(ck) < target:
                    time.sleep(0.003)
                if proc.poll() is None:
                    time.sleep(rng.uniform(0, 0.1))  # somewhere in the next epoch or two (or a checkpoint)
                    proc.send_signal(signal.SIGTERM)
                    stats["sent"] += 1
                    o, e = proc.communicate(timeout=600)
                    lines = (o + e).strip().splitlines()
                    on_disk = _epoch_on_disk(ck)
                    if proc.returncode == 143:
                        stats["exit_143"] += 1
                        m = pattern.fullmatch(lines[0]) if len(lines) == 1 else None
                        if m and m.group(2) == str(ck) and m.group(1) == m.group(3):
                            stats["one_line"] += 1
                            if int(m.group(1)) != on_disk:
                                stats["lost"] += 1
                                print(f"  SIGTERM: message says epoch {m.group(1)}, checkpoint holds {on_disk}")
                        else:
                            print(f"  SIGTERM: output {(o + e).strip()[-300:]!r}")
                    elif proc.returncode == -signal.SIGTERM:
                        stats["outside_training"] += 1  # after the last epoch: scoring/saving, default action
                    else:
                        stats["failed"] += 1
                        print(f"  SIGTERM: exit {proc.returncode}: {(o + e).strip()[-300:]!r}")
                    if verbose:
                        print(f"    SIGTERM {stats['sent']}: exit {proc.returncode} after "
                              f"{time.perf_counter() - t0:.1f} s, checkpoint at epoch {done} before, {on_disk} after")
                    continue
            o, e = proc.communicate(timeout=600)
            if proc.returncode != 0:
                stats["failed"] += 1
                print(f"  resume FAILED (exit {proc.returncode}): {(o + e).strip()[-400:]}")
            else:
                stats["runs_finished"] += 1
                stats["runs_equal"] += same_weights(out, reference)
            break
        series += 1
    return stats


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kills", type=int, default=20)
    parser.add_argument("--bad-inputs", type=int, default=600)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--sigterms", type=int, default=10, help="SIGTERMs sent mid-training")
    parser.add_argument("--writer-rounds", type=int, default=2, help="rounds of concurrent writers")
    parser.add_argument("--saves", type=int, default=30, help="saves per writer and round")
    parser.add_argument("--no-hostile", action="store_true", help="skip hostile model directories and failing writes")
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
        data = reference_run(work)
        h = w = None
        if not args.no_hostile:
            print("hostile model directories (info, encode, forecast under a 2 GiB address-space limit)")
            h = hostile_dirs(work, data)
            print("failing writes")
            w = write_faults(work, data)
        print(f"concurrent writers: {args.writer_rounds} rounds")
        c = concurrent_writers(work, args.writer_rounds, args.saves)
        print(f"SIGTERM: {args.sigterms}")
        t = sigterms(work, args.sigterms, np.random.default_rng(args.seed + 2), args.verbose)
    print()
    print(f"kills survived:      {k['kills_in_finished_runs']}/{k['kills']}  ({k['runs_equal']}/{k['runs_finished']} "
          f"resumed runs ended bit-identical to the uninterrupted run; kills during "
          + ", ".join(f"{phase} {n}" for phase, n in k["phases"].items()) + ")")
    print(f"files found corrupt: {k['corrupt']}  ({k['files_checked']} files checked after the kills)")
    print(f"bad inputs tried:    {tally.tried}  ({', '.join(f'{a} {c}' for a, c in tally.by_area.items())})")
    tracebacks = tally.tracebacks
    if h is not None:
        print(f"hostile model dirs:  {h['dirs']} directories, {h['commands']} commands under a {h['limit_gb']:.0f} GiB "
              f"limit: {h['refused']} refused in one error line, {h['loaded']} ran (harmless edits), "
              f"{h['tracebacks']} tracebacks; slowest {h['slowest']}; peak RSS {h['peak_mb']:.0f} MB")
        print(f"failing writes:      {w['injected']} injected ({', '.join(f'{k} {n}' for k, n in w['kinds'].items())}):"
              f" {w['one_line']} reported in one line naming the file and the cause, previous version intact in "
              f"{w['intact']}/{w['injected']}, half-made directories left {w['half_made_dirs']}, stray files "
              f"{w['stray_files']}, tracebacks {w['tracebacks']}")
        tracebacks += h["tracebacks"] + w["tracebacks"]
    print(f"concurrent writers:  {c['model_saves']} model saves and {c['checkpoint_saves']} checkpoint saves by 2 "
          f"processes each into one directory ({c['rounds']} rounds): overlapping commits {c['overlaps']}; loads "
          f"meanwhile {c['whole']} whole, {c['refused']} refused cleanly (half-committed), {c['wrong']} other errors; "
          f"directories whole afterwards {c['final_ok']}/{c['rounds']}")
    print(f"SIGTERMs:            {t['sent']} sent mid-training: exit 143 {t['exit_143']}, one error line naming the "
          f"epoch {t['one_line']}, after training (default action) {t['outside_training']}; resumed runs "
          f"bit-identical {t['runs_equal']}/{t['runs_finished']}")
    print(f"checkpoints lost:    {t['lost']}  (the checkpoint did not hold the epoch the message named)")
    print(f"tracebacks seen:     {tracebacks}")
    print(f"({time.perf_counter() - start:.0f} s)")
    ok = (k["corrupt"] == 0 and tracebacks == 0 and k["runs_equal"] == k["runs_finished"] and t["lost"] == 0
          and t["failed"] == 0 and t["runs_equal"] == t["runs_finished"] and c["overlaps"] == 0 and c["wrong"] == 0
          and c["failed"] == 0 and c["final_ok"] == c["rounds"]
          and (w is None or (w["intact"] == w["injected"] and w["half_made_dirs"] == 0 and w["stray_files"] == 0)))
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
