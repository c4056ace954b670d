"""Fuzzing (hypothesis): readers, windowing, estimator inputs and the CLI on malformed files.

The contract: every input either works or raises ValueError with a message: never
another exception type, never a hang; on the command line every bad file ends with
exit code 2 and one line starting with "error:".
"""
import io
import json
from pathlib import Path
import shutil
import os
import string
import warnings

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, assume, example, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from conftest import FAST
from lstmae import LSTMAutoencoder
from lstmae.cli import app
from lstmae.data.tables import read_table
from lstmae.data.sequences import to_padded
from lstmae.data.windows import reverse_windowing, sliding_windows

# LSTMAE_FUZZ_EXAMPLES=2000 LSTMAE_FUZZ_RANDOM=1 pytest tests/test_fuzz.py: a longer, randomised hunt
EXAMPLES = int(os.environ.get("LSTMAE_FUZZ_EXAMPLES", "60"))
RANDOM = bool(os.environ.get("LSTMAE_FUZZ_RANDOM"))
FUZZ = settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck), derandomize=not RANDOM,
                database=None)
pytestmark = [pytest.mark.timeout(120), pytest.mark.usefixtures("one_thread")]  # a hang fails the test


def works_or_value_error(fn, *args, **kwargs):
    """Run fn; a ValueError with a non-empty message is fine, anything else fails the test."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return fn(*args, **kwargs)
    except ValueError as exc:
        assert str(exc).strip(), f"ValueError without a message from {fn.__name__}"
        return None


# ------------------------------------------------------------------------------ readers
CSV_ALPHABET = string.digits + ".,;|\t\n\r -+eEnaNifINF\"'xyzé∑\x00"
reader_options = st.fixed_dictionaries({
    "layout": st.sampled_from(["long", "rows"]),
    "fill": st.sampled_from([None, "ffill", "interpolate", "zero"]),
    "header": st.sampled_from([None, True, False]),
    "columns": st.sampled_from([None, ["a"], [0], [5], ["x", "y"]]),
    "time_column": st.sampled_from([None, "t", 0, "missing"]),
    "id_column": st.sampled_from([None, "id", 1]),
})


def _read(path, opts):
    opts = dict(opts)
    if opts["layout"] == "rows":
        opts["time_column"] = None
    return works_or_value_error(read_table, path, **opts)


@FUZZ
@given(text=st.text(alphabet=CSV_ALPHABET, max_size=300), ext=st.sampled_from([".csv", ".tsv", ".txt"]),
       opts=reader_options)
def test_read_table_on_generated_text(tmp_path_factory, text, ext, opts):
    path = tmp_path_factory.mktemp("csv") / f"f{ext}"
    path.write_text(text, encoding="utf-8")
    _read(path, opts)


@FUZZ
@given(data=st.binary(max_size=400), ext=st.sampled_from([".csv", ".parquet", ".npy", ".npz"]))
def test_read_table_on_binary_garbage(tmp_path_factory, data, ext):
    path = tmp_path_factory.mktemp("bin") / f"f{ext}"
    path.write_bytes(data)
    works_or_value_error(read_table, path)


def _valid_csv_bytes(n_rows, seed):
    rng = np.random.default_rng(seed)
    df = pd.DataFrame({"t": np.arange(n_rows), "a": rng.standard_normal(n_rows), "b": rng.standard_normal(n_rows)})
    return df.to_csv(index=False).encode()


@FUZZ
@given(n_rows=st.integers(1, 30), cut=st.floats(0, 1), seed=st.integers(0, 3),
       junk=st.binary(max_size=20), opts=reader_options)
def test_read_table_on_truncated_and_spliced_csv(tmp_path_factory, n_rows, cut, seed, junk, opts):
    data = _valid_csv_bytes(n_rows, seed)
    data = data[: int(len(data) * cut)] + junk
    path = tmp_path_factory.mktemp("trunc") / "f.csv"
    path.write_bytes(data)
    _read(path, opts)


column_names = st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",)), min_size=0, max_size=8)
float_values = st.floats(allow_nan=True, allow_infinity=True, width=64) | st.sampled_from([1e300, -1e300, 1e-300])
column_values = st.one_of(
    st.lists(float_values, min_size=0, max_size=6),
    st.lists(st.integers(-2**63, 2**63 - 1), min_size=0, max_size=6),
    st.lists(st.text(max_size=4), min_size=0, max_size=6),
    st.lists(st.booleans(), min_size=0, max_size=6),
    st.lists(st.none() | st.floats(allow_nan=False, allow_infinity=False), min_size=0, max_size=6),
)


@FUZZ
@given(columns=st.dictionaries(column_names, column_values, min_size=1, max_size=4), opts=reader_options,
       ext=st.sampled_from([".parquet", ".csv"]))
def test_read_table_on_generated_frames(tmp_path_factory, columns, opts, ext):
    n = min(len(v) for v in columns.values())
    df = pd.DataFrame({k: pd.Series(v[:n], dtype=object if v and isinstance(v[0], str) else None)
                       for k, v in columns.items()})
    path = tmp_path_factory.mktemp("frame") / f"f{ext}"
    try:
        df.to_parquet(path) if ext == ".parquet" else df.to_csv(path, index=False)
    except Exception:  # noqa: BLE001 - pyarrow refuses some generated frames; not our reader's problem
        assume(False)
    opts = {**opts, "columns": None if opts["columns"] is None else [list(columns)[0]]}
    _read(path, opts)


numpy_dtypes = st.sampled_from(["float16", "float32", "float64", "int8", "uint64", "bool", "complex64", "U3",
                                "datetime64[s]", "object"])


@FUZZ
@given(shape=st.lists(st.integers(0, 4), min_size=0, max_size=4), dtype=numpy_dtypes, special=float_values,
       cut=st.none() | st.integers(0, 200))
def test_read_table_on_generated_npy(tmp_path_factory, shape, dtype, special, cut):
    arr = np.zeros(shape, dtype=np.float64)
    if arr.size and dtype in ("float32", "float64"):
        arr.flat[0] = special
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        arr = arr.astype(dtype) if dtype != "object" else arr.astype(object)
    buf = io.BytesIO()
    np.save(buf, arr, allow_pickle=True)  # object arrays are pickled: the reader must refuse them
    data = buf.getvalue()
    if cut is not None:
        data = data[:cut]
    path = tmp_path_factory.mktemp("npy") / "f.npy"
    path.write_bytes(data)
    works_or_value_error(read_table, path)


# ------------------------------------------------------------------------------ windowing
any_int = st.integers(-3, 12) | st.sampled_from([True, 2.5, "3", None, 10**20])


@FUZZ
@given(shape=st.lists(st.integers(0, 12), min_size=0, max_size=3), window=any_int, stride=any_int,
       horizon=any_int, dtype=st.sampled_from(["float32", "int64", "bool", "U2", "complex64"]))
def test_sliding_windows_inputs(shape, window, stride, horizon, dtype):
    series = np.ones(shape).astype(dtype)
    works_or_value_error(sliding_windows, series, window, stride, horizon)


@FUZZ
@given(shape=st.lists(st.integers(0, 6), min_size=0, max_size=4), window=any_int, stride=any_int,
       n_points=st.none() | any_int, reduce=st.sampled_from(["mean", "max", "median", "sum"]),
       value=float_values)
# bugs fuzzing found (fixed): a huge stride overflowed int64 (OverflowError); zero features
# divided by zero (ZeroDivisionError)
@example(shape=[1], window=1, stride=10**20, n_points=None, reduce="mean", value=0.0)
@example(shape=[2, 1, 0], window=1, stride=3, n_points=None, reduce="mean", value=1.0)
@example(shape=[2, 3, 0], window=3, stride=1, n_points=None, reduce="median", value=1.0)
def test_reverse_windowing_inputs(shape, window, stride, n_points, reduce, value):
    values = np.full(shape, value)
    works_or_value_error(reverse_windowing, values, window, stride, n_points, reduce)


# ------------------------------------------------------------------------------ estimator inputs
scalars = float_values | st.integers(-10**30, 10**30) | st.text(max_size=3) | st.none() | st.booleans()
ragged = st.recursive(scalars, lambda inner: st.lists(inner, max_size=4), max_leaves=20)
arrays = st.builds(
    lambda shape, dtype, value: np.full(shape, value if dtype.startswith("float") else 1).astype(dtype),
    st.lists(st.integers(0, 5), min_size=0, max_size=4),
    st.sampled_from(["float64", "float32", "int32", "bool", "complex128", "U2", "object"]),
    float_values,
)


def _frame(cols):
    return pd.DataFrame({c: [1.0, 2.0] for c in cols})


inputs = st.one_of(
    arrays,
    ragged,
    st.lists(arrays, max_size=4),
    st.lists(column_names, min_size=1, max_size=3, unique=True).map(_frame),
    st.dictionaries(st.text(max_size=2), st.integers(), max_size=2),
)


@FUZZ
@given(X=inputs)
def test_to_padded_inputs(X):
    works_or_value_error(to_padded, X)


@settings(max_examples=max(EXAMPLES // 3, 10), deadline=None, suppress_health_check=list(HealthCheck),
          derandomize=not RANDOM, database=None)
@given(X=inputs | st.just(np.full((4, 3, 2), 1e300)) | st.just(np.full((4, 3, 2), 1e30)),
       y=st.none() | arrays, task=st.sampled_from(["reconstruct", "predict"]), scale=st.sampled_from(["standard", None]))
def test_estimator_fit_and_transform_inputs(X, y, task, scale):
    ae = LSTMAutoencoder(**{**FAST, "hidden_size": 2, "epochs": 1}, task=task, scale=scale)
    if works_or_value_error(ae.fit, X, y) is not None:
        works_or_value_error(ae.transform, X)
        works_or_value_error(ae.transform, np.full((2, 3, 5), 1e30))


# ------------------------------------------------------------------------------ CLI on malformed files
runner = CliRunner()


def assert_clean_cli_error(*args):
    r = runner.invoke(app, [str(a) for a in args])
    assert r.exception is None or isinstance(r.exception, SystemExit), repr(r.exception)
    assert r.exit_code == 2, r.output
    lines = r.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error:"), r.output
    assert "Traceback" not in r.output


def _malformed(tmp):
    good = pd.DataFrame({"t": np.arange(40), "a": np.sin(np.arange(40) / 3)})
    files = {
        "truncated.csv": good.to_csv(index=False).encode()[:-37] + b"\x00\x17",
        "garbage.csv": bytes(range(256)) * 4,
        "semicolons.csv": good.to_csv(index=False, sep=";").replace(";", ",", 3).encode(),
        "empty.csv": b"",
        "header-only.csv": b"t,a\n",
        "text.csv": b"t,a\n1,hello\n2,world\n",
        "garbage.parquet": b"PAR1" + bytes(100) + b"PAR1",
        "garbage.npy": b"\x93NUMPY" + bytes(50),
        "pickle.npy": None,
        "deep.csv": b"[" * 10000,
    }
    paths = {}
    for name, data in files.items():
        p = tmp / name
        if data is None:
            np.save(p, np.array([{"a": 1}], dtype=object), allow_pickle=True)
        else:
            p.write_bytes(data)
        paths[name] = p
    (tmp / "dir.csv").mkdir()
    paths["dir.csv"] = tmp / "dir.csv"
    return paths


MALFORMED = ["truncated.csv", "garbage.csv", "semicolons.csv", "empty.csv", "header-only.csv", "text.csv",
             "garbage.parquet", "garbage.npy", "pickle.npy", "deep.csv", "dir.csv"]


@pytest.fixture(scope="module")
def malformed(tmp_path_factory):
    return _malformed(tmp_path_factory.mktemp("malformed"))


@pytest.mark.parametrize("name", MALFORMED)
def test_cli_train_on_malformed_files(malformed, name):
    assert_clean_cli_error("train", malformed[name], "--window", 4, "--epochs", 1, "--hidden-size", 2, "--quiet",
                           "-o", malformed[name].parent / "out")


@pytest.mark.parametrize("args", [
    ["--columns", "nope"], ["--time-column", "nope"], ["--id-column", "nope"], ["--columns", "t,a,a"],
    ["--window", 0], ["--window", 10**6], ["--stride", -1], ["--fill", "guess"], ["--epochs", 0],
    ["--layout", "rows", "--time-column", "t"], ["--task", "predict", "--horizon", 40],
    ["--learning-rate", 1e30, "--activation", "relu", "--scale", "none", "--batch-size", 1],
    ["--checkpoint-every", 0, "--checkpoint-dir", "ck"], ["--resume"],
])
def test_cli_train_with_bad_options(tmp_path, args):
    data = tmp_path / "d.csv"
    pd.DataFrame({"t": np.arange(30), "a": np.arange(30.0) ** 3}).to_csv(data, index=False)
    assert_clean_cli_error("train", data, "--window", 4, "--epochs", 1, "--hidden-size", 2, "--quiet",
                           "-o", tmp_path / "m", *args)


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("cli-model")
    data = tmp / "d.csv"
    pd.DataFrame({"t": np.arange(60), "a": np.sin(np.arange(60) / 4)}).to_csv(data, index=False)
    r = runner.invoke(app, ["train", str(data), "--window", "8", "--epochs", "1", "--hidden-size", "2",
                            "--quiet", "-o", str(tmp / "model")])
    assert r.exit_code == 0, r.output
    return tmp / "model", data


CORRUPTIONS = {
    "config.json": [b"{not json", b"[1, 2]", b"\x80\x04garbage", b'{"format": "lstmae-model"}',
                    b"[" * 100000],
    "state.json": [b"", b"{}", b'{"scaler": 5}'],
    "model.safetensors": [b"", b"\x00" * 64, b"\xff" * 8 + b"{}"],
}
LEGACY_DATA_JSON = [b"{bad", b"[]", b'{"window": "x"}', b'{"window": [3]}', b'{"kind": 5}', b'{"layout": "wide"}']


@pytest.mark.parametrize("name,content", [(k, v) for k, vs in CORRUPTIONS.items() for v in vs])
def test_cli_on_a_model_directory_with_a_corrupt_file(trained, tmp_path, name, content):
    model, data = trained
    broken = tmp_path / "model"
    broken.mkdir()
    for f in model.iterdir():
        (broken / f.name).write_bytes(f.read_bytes())
    (broken / name).write_bytes(content)
    for command in (["info", broken], ["encode", broken, data, "-o", tmp_path / "c.csv", "--quiet"]):
        assert_clean_cli_error(*command)


@pytest.mark.parametrize("content", LEGACY_DATA_JSON)
def test_cli_on_a_0_1_model_directory_with_a_corrupt_data_json(tmp_path, content):
    """lstmae 0.1 kept the data settings in data.json, outside the checksums: a bad one is refused cleanly."""
    broken = tmp_path / "model"
    shutil.copytree(Path(__file__).parent / "data" / "v0_1" / "autoencoder", broken)
    (broken / "data.json").write_bytes(content)
    data = Path(__file__).parent / "data" / "v0_1" / "series.csv"
    for command in (["info", broken], ["encode", broken, data, "-o", tmp_path / "c.csv", "--quiet"]):
        assert_clean_cli_error(*command)


def test_cli_on_a_model_directory_with_a_config_edited_into_nonsense(trained, tmp_path):
    model, _ = trained
    cfg = json.loads((model / "config.json").read_text())
    for key, value in [("params", 5), ("model", []), ("model", "x"), ("estimator", None), ("files", 3),
                       ("format_version", "1"), ("format_version", 0), ("data", 5), ("data", {"window": "x"}),
                       ("data", {"kind": "table"}), ("data", {"feature_names": ["a", "b", "c"]})]:
        broken = tmp_path / f"m-{key}-{value!s}"
        broken.mkdir()
        for f in model.iterdir():
            (broken / f.name).write_bytes(f.read_bytes())
        (broken / "config.json").write_text(json.dumps({**cfg, key: value}))
        assert_clean_cli_error("info", broken)
