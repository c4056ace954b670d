"""A hostile world: model directories from strangers, full disks and read-only directories,
two writers at once, and SIGTERM mid-training (issue 15)."""
import dataclasses
import errno
import hashlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors import SafetensorError
from safetensors.torch import load_file
from typer.testing import CliRunner

import lstmae.serialization as ser
from conftest import (assert_same_weights, make_sines, resume_to_reference, subprocess_env, train_until_checkpoint,
                      weights)
from lstmae import LSTMAutoencoder, LSTMClassifier, ModelFileError
from lstmae._atomic import DirectoryBusyError, WriteError, directory_lock
from lstmae.checkpoint import Checkpointer, load_checkpoint
from lstmae.cli import app
from lstmae.serialization import load_model
from lstmae.training import TrainingInterrupted

X = make_sines(n=32, length=8, n_features=2)
TINY = dict(hidden_size=6, epochs=4, batch_size=8, random_state=0)
ROOT = hasattr(os, "geteuid") and os.geteuid() == 0

pytestmark = pytest.mark.usefixtures("one_thread")


def snapshot(directory):
    return {p.name: p.read_bytes() for p in sorted(Path(directory).iterdir())}


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    path = tmp_path_factory.mktemp("saved") / "m"
    LSTMAutoencoder(**{**TINY, "hidden_size": 16, "epochs": 1}).fit(X).save(path)
    return path


def copy_model(src, dst):
    shutil.copytree(src, dst)
    return dst


def edit(model, name, change):
    """Edit config.json or state.json as an attacker would: and fix the checksum config.json records."""
    path = model / name
    obj = json.loads(path.read_text())
    change(obj)
    path.write_text(json.dumps(obj))
    if name != "config.json":
        cfg = json.loads((model / "config.json").read_text())
        cfg["files"][name]["sha256"] = hashlib.sha256(path.read_bytes()).hexdigest()
        (model / "config.json").write_text(json.dumps(cfg))


def set_model(**changes):
    return lambda cfg: cfg["model"].update(changes)


# ------------------------------------------------------------------------------ hostile sizes
LIMITED = textwrap.dedent("""
    import resource, sys
    limit = int(float(sys.argv[1]) * 2**30)
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    import torch
    try:  # the limit bites: the module the config describes cannot be built here
        torch.nn.LSTM(2, 100000)
        print("ALLOCATED")
    except (RuntimeError, MemoryError):
        print("limit works")
    from lstmae import ModelFileError
    from lstmae.serialization import load_model
    for path in sys.argv[2:]:
        try:
            load_model(path)
            print("LOADED", path)
        except ModelFileError as exc:
            print("ModelFileError:", exc)
""")


@pytest.mark.slow
def test_a_hostile_directory_is_refused_under_a_memory_limit(saved, tmp_path):
    """hidden_size=100000 over a 16-unit model would allocate 160 GB; a 10-million-entry profile list."""
    big = copy_model(saved, tmp_path / "big")
    edit(big, "config.json", set_model(hidden_size=100000))
    profile = copy_model(saved, tmp_path / "profile")
    state = json.loads((profile / "state.json").read_text())
    state["residual_stats"]["profile"] = "PROFILE"
    text = json.dumps(state).replace('"PROFILE"', "[" + ",".join(["[0]"] * 10_000_000) + "]")
    (profile / "state.json").write_text(text)
    cfg = json.loads((profile / "config.json").read_text())
    cfg["files"]["state.json"]["sha256"] = hashlib.sha256(text.encode()).hexdigest()
    (profile / "config.json").write_text(json.dumps(cfg))

    def limited(*args):
        return subprocess.run(args, capture_output=True, text=True, env=subprocess_env(), timeout=300)

    p = limited(sys.executable, "-c", LIMITED, "2", str(big), str(profile))
    assert p.returncode == 0, p.stderr
    lines = p.stdout.strip().splitlines()
    assert lines[0] == "limit works"
    assert re.search(r"ModelFileError: .*model\.hidden_size=100000 does not match model\.safetensors \(hidden_size "
                     r"16\)", lines[1]), lines[1]
    assert "encoder.lstm.weight_hh_l0: file (64, 16), config (400000, 100000)" in lines[1]
    assert lines[2].startswith("ModelFileError: ") and "state.json" in lines[2] and "more than lstmae reads" in lines[2]

    script = ("import resource, sys; lim = 2 * 2**30; resource.setrlimit(resource.RLIMIT_AS, (lim, lim)); "
              "from lstmae.cli import main; sys.argv = ['lstmae', 'info', sys.argv[1]]; main()")
    p = limited(sys.executable, "-c", script, str(big))
    assert p.returncode == 2 and "Traceback" not in p.stderr
    lines = (p.stdout + p.stderr).strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and "model.hidden_size=100000" in lines[0]


@pytest.mark.parametrize("change,field", [
    (set_model(hidden_size=100000), r"model.hidden_size=100000 does not match model.safetensors \(hidden_size 16\)"),
    (set_model(num_layers=3), r"model.num_layers=3 does not match model.safetensors \(num_layers 1\)"),
    (set_model(bidirectional=True), r"model.bidirectional=True does not match .*\(bidirectional False\)"),
    (set_model(code_size=10**15), r"model.code_size=1000000000000000 does not match .*\(code_size None\)"),
    (set_model(task="composite"), r"model.task='composite' does not match .*\(task 'reconstruct'\)"),
    (set_model(hidden_size=2**70), r"hidden_size=1180591620717411303424 is not valid; it is too large"),
])
def test_a_config_that_does_not_match_the_weights_names_the_field(saved, tmp_path, change, field):
    model = copy_model(saved, tmp_path / "m")
    edit(model, "config.json", change)
    with pytest.raises(ModelFileError, match=field):
        LSTMAutoencoder.load(model)
    result = CliRunner().invoke(app, ["info", str(model)])
    assert result.exit_code == 2 and result.output.count("\n") == 1 and result.output.startswith("error: ")


def test_a_check_before_building_allocates_nothing(saved, tmp_path, monkeypatch):
    """The comparison builds the module on the meta device only; the real one is never built."""
    model = copy_model(saved, tmp_path / "m")
    edit(model, "config.json", set_model(hidden_size=100000))
    built = []
    real = LSTMAutoencoder.build_module

    def spy(self):
        module = real(self)
        built.append(next(module.parameters()).device.type)
        return module

    monkeypatch.setattr(LSTMAutoencoder, "build_module", spy)
    with pytest.raises(ModelFileError):
        LSTMAutoencoder.load(model)
    assert built and set(built) == {"meta"}


def test_a_classifier_with_a_hostile_config_or_labels(tmp_path):
    y = np.arange(len(X)) % 3
    LSTMClassifier(hidden_size=6, epochs=1, batch_size=8, random_state=0).fit(X, y).save(tmp_path / "c")
    model = copy_model(tmp_path / "c", tmp_path / "c1")
    edit(model, "config.json", set_model(hidden_size=50000))
    with pytest.raises(ModelFileError, match=r"model.hidden_size=50000 does not match model.safetensors"):
        load_model(model)
    wide = copy_model(tmp_path / "c", tmp_path / "c2")
    edit(wide, "state.json", lambda s: s.update(classes_dtype="<U100000000"))
    with pytest.raises(ModelFileError, match=r"state.json: classes_dtype='<U100000000' takes 400000000 bytes"):
        load_model(wide)
    many = copy_model(tmp_path / "c", tmp_path / "c3")
    edit(many, "state.json", lambda s: s.update(classes=list(range(100_000)), classes_dtype="<i8"))
    with pytest.raises(ModelFileError, match=r"do not match its config \(shape mismatch for head"):
        load_model(many)


def test_hostile_sizes_in_json(saved, tmp_path, monkeypatch):
    rows = copy_model(saved, tmp_path / "rows")
    edit(rows, "state.json", lambda s: s["residual_stats"].update(profile=[[0.0, 0.0]] * 1_000_001))
    with pytest.raises(ModelFileError, match=r"state.json: residual_stats.profile has 1000001 step positions"):
        LSTMAutoencoder.load(rows)
    threads = copy_model(saved, tmp_path / "threads")
    edit(threads, "config.json", lambda c: c["params"].update(n_threads=10**6))
    with pytest.raises(ModelFileError, match=r"config.json: params.n_threads=1000000 is not between 1 and 4096"):
        LSTMAutoencoder.load(threads)
    horizon = copy_model(saved, tmp_path / "horizon")  # (no weight depends on it: a forecast would allocate it)
    edit(horizon, "config.json", set_model(horizon=10**12))
    with pytest.raises(ModelFileError, match=r"config.json: model.horizon=1000000000000 is more time steps"):
        LSTMAutoencoder.load(horizon)
    monkeypatch.setattr(ser, "MAX_STATE_BYTES", 1000)
    with pytest.raises(ModelFileError, match=r"state.json is larger than lstmae reads .*MAX_STATE_BYTES"):
        LSTMAutoencoder.load(saved)
    monkeypatch.setattr(ser, "MAX_CONFIG_BYTES", 100)
    with pytest.raises(ModelFileError, match=r"config.json is larger than lstmae reads .*MAX_CONFIG_BYTES"):
        LSTMAutoencoder.load(saved)
    monkeypatch.undo()
    monkeypatch.setattr(ser, "MAX_JSON_CONTAINERS", 5)
    with pytest.raises(ModelFileError, match=r"JSON arrays and objects, more than lstmae reads \(5\)"):
        LSTMAutoencoder.load(saved)


def test_a_weights_header_that_lies_is_refused(saved, tmp_path):
    model = copy_model(saved, tmp_path / "m")
    data = (model / "model.safetensors").read_bytes()
    (model / "model.safetensors").write_bytes((10**12).to_bytes(8, "little") + data[8:])
    with pytest.raises(ModelFileError, match=r"model.safetensors is corrupt \(its header claims"):
        LSTMAutoencoder.load(model)
    n = int.from_bytes(data[:8], "little")
    header = json.loads(data[8:8 + n])
    name = next(k for k in header if k != "__metadata__")
    header[name]["data_offsets"] = [0, 10**12]
    raw = json.dumps(header).encode()
    (model / "model.safetensors").write_bytes(len(raw).to_bytes(8, "little") + raw + data[8 + n:])
    with pytest.raises(ModelFileError, match=rf"bad header entry for '{re.escape(name)}'"):
        LSTMAutoencoder.load(model)


# ------------------------------------------------------------------------------ write failures
def no_space(calls_before=0, target=os.replace):
    """A stand-in for os.replace (or another writer) whose call number `calls_before` + 1 fails with ENOSPC."""
    count = [0]

    def failing(*args, **kwargs):
        count[0] += 1
        if count[0] == calls_before + 1:
            raise OSError(errno.ENOSPC, "No space left on device")
        return target(*args, **kwargs)

    return failing


@pytest.mark.parametrize("calls_before", [0, 1, 2])
def test_a_failed_save_leaves_the_previous_model_whole(saved, tmp_path, monkeypatch, calls_before):
    """ENOSPC at the first, second or third rename: the files already renamed are put back."""
    model = copy_model(saved, tmp_path / "m")
    before = snapshot(model)
    other = LSTMAutoencoder(**{**TINY, "hidden_size": 16, "epochs": 1, "random_state": 5}).fit(X)
    monkeypatch.setattr(os, "replace", no_space(calls_before))
    with pytest.raises(WriteError, match=r"cannot write .*/m/(model.safetensors|state.json|config.json): No space "
                                         r"left on device") as info:
        other.save(model)
    monkeypatch.undo()
    assert isinstance(info.value, OSError) and info.value.errno == errno.ENOSPC
    assert snapshot(model) == before  # byte-identical, nothing else left behind
    LSTMAutoencoder.load(model)


def test_a_safetensors_error_is_a_write_error(saved, tmp_path, monkeypatch):
    model = copy_model(saved, tmp_path / "m")
    before = snapshot(model)

    def full(tensors, filename, metadata=None):
        Path(filename).write_bytes(b"half")
        raise SafetensorError("Error while serializing: I/O error: No space left on device (os error 28)")

    monkeypatch.setattr(ser, "save_file", full)
    with pytest.raises(WriteError, match=r"cannot write .*m/model.safetensors: No space left on device"):
        LSTMAutoencoder.load(model).save(model)
    assert snapshot(model) == before


def test_a_failed_save_removes_the_directories_it_created_only(saved, tmp_path, monkeypatch):
    ae = LSTMAutoencoder.load(saved)
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "notes.txt").write_text("keep")
    for target, fail_at in ((tmp_path / "new" / "deeper" / "m", 0), (tmp_path / "mine", 1), (tmp_path / "empty", 2)):
        monkeypatch.setattr(os, "replace", no_space(fail_at))
        with pytest.raises(WriteError):
            ae.save(target)
    monkeypatch.undo()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["mine"]
    assert sorted(p.name for p in (tmp_path / "mine").iterdir()) == ["notes.txt"]


def test_the_cli_reports_a_full_disk_in_one_line(saved, tmp_path, monkeypatch):
    data = tmp_path / "s.csv"
    t = np.arange(80)
    np.savetxt(data, np.c_[np.sin(t / 3), np.cos(t / 5)], delimiter=",", header="a,b", comments="")
    model = copy_model(saved, tmp_path / "model")
    before = snapshot(model)
    args = ["train", str(data), "--window", "8", "--epochs", "1", "--hidden-size", "4", "--quiet"]
    for out, fail_at, name in ((model, 1, "state.json"), (tmp_path / "new", 0, "model.safetensors")):
        monkeypatch.setattr(os, "replace", no_space(fail_at))
        result = CliRunner().invoke(app, [*args, "-o", str(out)])
        assert result.exit_code == 2, result.output
        assert result.output == f"error: cannot write {out / name}: No space left on device\n"
    monkeypatch.setattr(os, "replace", no_space(1))
    result = CliRunner().invoke(app, [*args, "-o", str(tmp_path / "m2"), "--checkpoint-dir", str(tmp_path / "ck")])
    assert result.exit_code == 2 and re.fullmatch(
        r"error: cannot write \S+/ck/checkpoint.json: No space left on device\n", result.output)
    monkeypatch.setattr(os, "replace", no_space(0))
    result = CliRunner().invoke(app, ["encode", str(model), str(data), "--window", "8", "-o", str(tmp_path / "out" / "c.csv"),
                                      "-q"])
    assert result.exit_code == 2 and re.fullmatch(r"error: cannot write \S+/out/c.csv: No space left on device\n",
                                                  result.output)
    monkeypatch.undo()
    assert snapshot(model) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model", "s.csv"]


@pytest.mark.slow
def test_a_real_write_failure_in_a_subprocess(tmp_path):
    """No monkeypatching: a file size limit (EFBIG) makes safetensors fail as a full disk would."""
    data = tmp_path / "s.csv"
    t = np.arange(80)
    np.savetxt(data, np.c_[np.sin(t / 3), np.cos(t / 5)], delimiter=",", header="a,b", comments="")
    script = ("import resource, signal, sys; signal.signal(signal.SIGXFSZ, signal.SIG_IGN); "
              "resource.setrlimit(resource.RLIMIT_FSIZE, (2000, 2000)); "
              "from lstmae.cli import main; sys.argv = ['lstmae'] + sys.argv[1:]; main()")
    p = subprocess.run([sys.executable, "-c", script, "train", str(data), "--window", "8", "--epochs", "1",
                        "--hidden-size", "8", "-q", "-o", str(tmp_path / "new")], capture_output=True, text=True,
                       env=subprocess_env(), timeout=300)
    lines = (p.stdout + p.stderr).strip().splitlines()
    assert p.returncode == 2 and lines == [f"error: cannot write {tmp_path}/new/model.safetensors: File too large"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["s.csv"]


@pytest.mark.skipif(ROOT or os.name != "posix", reason="root ignores file permissions")
def test_a_read_only_directory(saved, tmp_path):
    model = copy_model(saved, tmp_path / "m")
    before = snapshot(model)
    os.chmod(model, 0o555)
    try:
        with pytest.raises(WriteError, match=r"cannot write in .*m: Permission denied"):
            LSTMAutoencoder.load(model).save(model)
        os.chmod(tmp_path, 0o555)
        with pytest.raises(WriteError, match=r"cannot create directory .*new: Permission denied"):
            LSTMAutoencoder.load(model).save(tmp_path / "new")
    finally:
        os.chmod(tmp_path, 0o755)
        os.chmod(model, 0o755)
    assert snapshot(model) == before


def test_a_failed_checkpoint_keeps_the_previous_one(tmp_path, monkeypatch):
    ck = tmp_path / "ck"
    real = Checkpointer.on_epoch_end

    def full_after_two(self, state):
        if state.epoch == 3:
            monkeypatch.setattr(os, "replace", no_space(1))
        real(self, state)

    monkeypatch.setattr(Checkpointer, "on_epoch_end", full_after_two)
    with pytest.raises(WriteError, match=r"cannot write .*ck/checkpoint.json: No space left on device"):
        LSTMAutoencoder(**TINY).fit(X, checkpoint_dir=ck)
    monkeypatch.undo()
    assert sorted(p.name for p in ck.iterdir()) == ["checkpoint-000002.safetensors", "checkpoint.json"]
    assert load_checkpoint(ck)["epoch"] == 2
    resumed = LSTMAutoencoder(**TINY).fit(X, checkpoint_dir=ck, resume=True)
    assert_same_weights(weights(resumed), weights(LSTMAutoencoder(**TINY).fit(X)))


# ------------------------------------------------------------------------------ concurrent writers
BARRIER = textwrap.dedent("""
    import os, time
    def ready(directory, n):  # all processes start together, once each has imported torch
        open(os.path.join(directory, str(os.getpid())), "w").close()
        while len(os.listdir(directory)) < n:
            time.sleep(0.001)
""")

WRITER = BARRIER + textwrap.dedent("""
    import os, sys, time
    import lstmae.serialization as S
    from lstmae import LSTMAutoencoder
    src, target, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
    marks = os.path.join(sys.argv[4], "..", "writing")
    os.makedirs(marks, exist_ok=True)
    mine, overlaps = os.path.join(marks, str(os.getpid())), 0
    real_save, real_commit = S.save_file, S.AtomicGroup.commit

    def save_file(*args, **kwargs):  # a save starts: is another one between its start and its commit?
        global overlaps
        open(mine, "w").close()
        overlaps += len(os.listdir(marks)) > 1
        time.sleep(0.005)
        return real_save(*args, **kwargs)

    def commit(self):
        real_commit(self)
        os.unlink(mine)

    S.save_file, S.AtomicGroup.commit = save_file, commit
    est = LSTMAutoencoder.load(src)
    ready(sys.argv[4], int(sys.argv[5]))
    for _ in range(n):
        est.save(target)
    print(overlaps)
""")

READER = BARRIER + textwrap.dedent("""
    import os, sys, time
    from lstmae import LSTMAutoencoder, ModelFileError
    target = sys.argv[1]
    loads = refused = 0
    ready(sys.argv[2], int(sys.argv[3]))
    end = time.time() + 3
    while time.time() < end:
        if not os.path.exists(os.path.join(target, "config.json")):
            continue
        try:
            LSTMAutoencoder.load(target)
            loads += 1
        except ModelFileError:
            refused += 1  # a half-committed directory: refused cleanly
    print(loads, refused)
""")


@pytest.mark.slow
def test_two_processes_saving_one_model_directory(tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    LSTMAutoencoder(**{**TINY, "epochs": 1, "random_state": 1}).fit(X).save(a)
    LSTMAutoencoder(**{**TINY, "epochs": 1, "random_state": 2, "hidden_size": 7}).fit(X).save(b)
    target, barrier = tmp_path / "shared", tmp_path / "ready"
    barrier.mkdir()
    writers = [subprocess.Popen([sys.executable, "-c", WRITER, str(src), str(target), "25", str(barrier), "3"],
                                env=subprocess_env(), stdout=subprocess.PIPE, text=True) for src in (a, b)]
    reader = subprocess.Popen([sys.executable, "-c", READER, str(target), str(barrier), "3"], env=subprocess_env(),
                              stdout=subprocess.PIPE, text=True)
    overlaps = [w.communicate(timeout=300)[0] for w in writers]
    assert [w.returncode for w in writers] == [0, 0]
    assert [int(o) for o in overlaps] == [0, 0]  # the lock: no save ever ran while the other one was writing
    out, _ = reader.communicate(timeout=300)
    assert reader.returncode == 0, out
    loads, refused = map(int, out.split())
    assert loads > 0  # (`refused`: loads that met a half-committed directory and failed cleanly)
    assert sorted(p.name for p in target.iterdir()) == ["config.json", "model.safetensors", "state.json"]
    loaded = LSTMAutoencoder.load(target)  # checksums, shapes: the three files come from one save
    source = a if loaded.config_.hidden_size == 6 else b
    # (the bytes of a safetensors header may differ between processes: its metadata is a hash map)
    assert_same_weights(load_file(str(target / "model.safetensors")), load_file(str(source / "model.safetensors")))
    assert snapshot(target)["state.json"] == snapshot(source)["state.json"]


CK_WRITER = BARRIER + textwrap.dedent("""
    import sys, time
    from lstmae.checkpoint import load_checkpoint, save_checkpoint
    src, target, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
    state = load_checkpoint(src)
    ready(sys.argv[4], 2)
    for _ in range(n):
        save_checkpoint(target, state, {"run": src})
""")


@pytest.mark.slow
def test_two_processes_saving_one_checkpoint_directory(tmp_path):
    for seed, epochs in ((1, 2), (2, 3)):
        LSTMAutoencoder(**{**TINY, "epochs": epochs, "random_state": seed}).fit(X, checkpoint_dir=tmp_path / f"{seed}")
    target, barrier = tmp_path / "shared", tmp_path / "ready"
    barrier.mkdir()
    writers = [subprocess.Popen([sys.executable, "-c", CK_WRITER, str(tmp_path / s), str(target), "25", str(barrier)],
                                env=subprocess_env()) for s in ("1", "2")]
    assert [w.wait(timeout=300) for w in writers] == [0, 0]
    meta = json.loads((target / "checkpoint.json").read_text())
    state = load_checkpoint(target, {"run": meta["fingerprint"]["run"]})  # SHA-256 of the tensors checked
    assert state["epoch"] == (2 if meta["fingerprint"]["run"].endswith("1") else 3)
    assert sorted(p.name for p in target.iterdir()) == [meta["tensors"], "checkpoint.json"]


def test_a_second_writer_waits_or_says_who_holds_the_directory(saved, tmp_path, monkeypatch):
    model = copy_model(saved, tmp_path / "m")
    ae = LSTMAutoencoder.load(model)
    held, release = threading.Event(), threading.Event()

    def holder():
        with directory_lock(model):
            held.set()
            release.wait(10)

    thread = threading.Thread(target=holder)
    thread.start()
    held.wait(10)
    try:
        monkeypatch.setenv("LSTMAE_LOCK_TIMEOUT", "0.3")
        with pytest.raises(DirectoryBusyError, match=r"another process is writing .*m \(it holds .*\.lstmae\.lock"):
            ae.save(model)
        result = CliRunner().invoke(app, ["train", "builtin:sines", "--window", "16", "--epochs", "1", "--hidden-size",
                                          "2", "-q", "-o", str(model)])
        assert result.exit_code == 2 and result.output.startswith("error: another process is writing")
        monkeypatch.setenv("LSTMAE_LOCK_TIMEOUT", "30")
        threading.Timer(0.5, release.set).start()
        t0 = time.monotonic()
        ae.save(model)  # waits for the holder, then writes
        assert time.monotonic() - t0 >= 0.3
    finally:
        release.set()
        thread.join()
    assert sorted(p.name for p in model.iterdir()) == ["config.json", "model.safetensors", "state.json"]


def test_what_a_killed_writer_leaves_does_not_block_and_is_cleared(saved, tmp_path):
    model = copy_model(saved, tmp_path / "m")
    (model / ".lstmae.lock").write_text("")  # a writer killed with SIGKILL leaves it (unlocked)
    (model / ".tmp-x1y2-model.safetensors").write_bytes(b"half")
    (model / ".bak-123-config.json").write_text("{}")
    (model / ".tmp-notes.txt").write_text("not ours")
    LSTMAutoencoder.load(model).save(model)
    (model / ".tmp-notes.txt").unlink()
    assert sorted(p.name for p in model.iterdir()) == ["config.json", "model.safetensors", "state.json"]


# ------------------------------------------------------------------------------ SIGTERM
@pytest.fixture
def sigterm_at_batch(monkeypatch):
    """Send this process SIGTERM just before training batch number `n` (1-based; 4 batches per epoch here)."""
    import lstmae.training as training

    def arm(n):
        real, count = training.to_device, [0]

        def counting(batch, device):
            if torch.is_grad_enabled():  # training batches only (validation runs under no_grad)
                count[0] += 1
                if count[0] == n:
                    os.kill(os.getpid(), signal.SIGTERM)
            return real(batch, device)

        monkeypatch.setattr(training, "to_device", counting)
        return lambda: monkeypatch.setattr(training, "to_device", real)

    return arm


@pytest.mark.parametrize("every", [1, 3])
def test_sigterm_mid_epoch_saves_the_last_completed_epoch_and_resumes_bit_identically(tmp_path, monkeypatch,
                                                                                      sigterm_at_batch, every):
    p = {**TINY, "epochs": 6, "dropout": 0.2, "num_layers": 2}
    reference = LSTMAutoencoder(**p).fit(X)
    # no new best loss ever: only every `every` epochs is saved, so epoch 4 is not on disk when SIGTERM comes
    real = Checkpointer.on_epoch_end
    monkeypatch.setattr(Checkpointer, "on_epoch_end", lambda self, s: real(self, dataclasses.replace(s, improved=False)))
    before = signal.getsignal(signal.SIGTERM)
    disarm = sigterm_at_batch(4 * 4 + 2)  # the second batch of epoch 5
    with pytest.raises(TrainingInterrupted) as info:
        LSTMAutoencoder(**p).fit(X, checkpoint_dir=tmp_path / "ck", checkpoint_every=every)
    disarm()
    assert signal.getsignal(signal.SIGTERM) is before
    exc = info.value
    assert not isinstance(exc, KeyboardInterrupt) and exc.exit_code == 143 and exc.epoch == 4
    assert str(exc) == f"interrupted by SIGTERM after epoch 4; the checkpoint in {tmp_path / 'ck'} holds epoch 4: " \
                       "fit again with resume=True to continue"
    assert load_checkpoint(tmp_path / "ck")["epoch"] == 4
    resumed = LSTMAutoencoder(**p).fit(X, checkpoint_dir=tmp_path / "ck", checkpoint_every=every, resume=True)
    assert_same_weights(weights(resumed), weights(reference))
    assert resumed.history_["train_loss"] == reference.history_["train_loss"]


def test_sigterm_without_checkpoints_and_outside_the_main_thread(sigterm_at_batch):
    disarm = sigterm_at_batch(6)
    with pytest.raises(TrainingInterrupted, match=r"after epoch 1; no checkpoint holds it"):
        LSTMAutoencoder(**TINY).fit(X)
    disarm()
    disarm = sigterm_at_batch(2)
    with pytest.raises(TrainingInterrupted, match=r"before the first epoch ended"):
        LSTMAutoencoder(**TINY).fit(X)
    disarm()
    errors = []
    thread = threading.Thread(target=lambda: errors.append(LSTMAutoencoder(**TINY).fit(X)))  # no handler there
    thread.start()
    thread.join()
    assert isinstance(errors[0], LSTMAutoencoder)


def test_an_ignored_sigterm_stays_ignored(sigterm_at_batch):
    previous = signal.signal(signal.SIGTERM, signal.SIG_IGN)
    try:
        disarm = sigterm_at_batch(2)
        LSTMAutoencoder(**{**TINY, "epochs": 1}).fit(X)  # not interrupted
        disarm()
        assert signal.getsignal(signal.SIGTERM) is signal.SIG_IGN
    finally:
        signal.signal(signal.SIGTERM, previous)


@pytest.mark.slow
def test_sigterm_to_lstmae_train_then_resume_equals_the_uninterrupted_run(tmp_path):
    data, ck, proc = train_until_checkpoint(tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 143, err
    lines = (out + err).strip().splitlines()
    epoch = json.loads((ck / "checkpoint.json").read_text())["epoch"]
    assert 1 <= epoch < 8
    assert lines == [f"error: interrupted by SIGTERM after epoch {epoch}; the checkpoint in {ck} holds epoch {epoch}: "
                     "rerun with --resume"]
    assert not (tmp_path / "model").exists()
    resume_to_reference(tmp_path, data, ck)
