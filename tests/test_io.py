"""Tests of reading and writing tables (lstmae.data.tables, .formats, .containers) and lstmae._atomic."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from lstmae._atomic import atomic_path, atomic_write
from lstmae.data.containers import SequenceData
from lstmae.data.formats import READ_EXTENSIONS, write_table
from lstmae.data.tables import read_table

RNG = np.random.default_rng(0)


def _table(n: int = 50) -> pd.DataFrame:
    rng = np.random.default_rng(1)
    return pd.DataFrame(
        {
            "temp": rng.standard_normal(n).astype(np.float32),
            "rh": rng.uniform(0, 1, n).astype(np.float32),
            "wind": rng.integers(0, 10, n),
        }
    )


# --------------------------------------------------------------------------- round trips
@pytest.mark.parametrize("ext", [".csv", ".tsv", ".parquet", ".pq"])
def test_dataframe_round_trip(tmp_path, ext):
    df = _table()
    path = write_table(tmp_path / f"t{ext}", df)
    data = read_table(path)
    assert data.kind == "series"
    assert data.feature_names == ["temp", "rh", "wind"]
    assert data.sequences.dtype == np.float32 and data.sequences.shape == (50, 3)
    np.testing.assert_array_equal(data.sequences, df.to_numpy(np.float32))
    assert data.ids is None and data.time is None and data.labels is None


@pytest.mark.parametrize("ext", [".csv", ".tsv", ".parquet", ".npy"])
def test_array_round_trip_without_names(tmp_path, ext):
    x = RNG.standard_normal((40, 3)).astype(np.float32)
    data = read_table(write_table(tmp_path / f"a{ext}", x))
    assert data.feature_names == ["0", "1", "2"]
    np.testing.assert_array_equal(data.sequences, x)


def test_array_round_trip_with_names_and_column_selection(tmp_path):
    x = RNG.standard_normal((20, 3))
    path = write_table(tmp_path / "named.csv", x, columns=["a", "b", "c"])
    assert path.read_text().splitlines()[0] == "a,b,c"
    data = read_table(path, columns=["c", "a"])
    assert data.feature_names == ["c", "a"]
    np.testing.assert_array_equal(data.sequences, x[:, [2, 0]].astype(np.float32))
    by_position = read_table(path, columns=[1])
    assert by_position.feature_names == ["b"]


def test_npy_1d_and_3d(tmp_path):
    x1 = np.arange(10, dtype=np.float64)
    d1 = read_table(write_table(tmp_path / "one.npy", x1))
    assert d1.kind == "series" and d1.sequences.shape == (10, 1)
    x3 = RNG.standard_normal((4, 7, 2)).astype(np.float32)
    d3 = read_table(write_table(tmp_path / "three.npy", x3))
    assert d3.kind == "sequences" and d3.n_sequences == 4 and d3.feature_names == ["0", "1"]
    np.testing.assert_array_equal(d3.as_array(), x3)
    only_second = read_table(tmp_path / "three.npy", columns=[1])
    np.testing.assert_array_equal(only_second.as_array(), x3[:, :, 1:])


def test_npy_3d_trailing_all_nan_steps_are_padding(tmp_path):
    x = np.ones((2, 5, 2), dtype=np.float32)
    x[0, 3:] = np.nan
    data = read_table(write_table(tmp_path / "pad.npy", x))
    assert data.lengths.tolist() == [3, 5]
    x[1, 1, 0] = np.nan  # a gap inside a sequence is a missing value
    np.save(tmp_path / "gap.npy", x)
    with pytest.raises(ValueError, match=r"sequence 1: column '0' has 1 missing value \(first at row 1\)"):
        read_table(tmp_path / "gap.npy")
    assert read_table(tmp_path / "gap.npy", fill="ffill").sequences[1][1, 0] == 1.0


def test_npz_keys_and_labels(tmp_path):
    X = RNG.standard_normal((6, 4, 1)).astype(np.float32)
    y = np.arange(6)
    np.savez(tmp_path / "xy.npz", X=X, y=y)
    data = read_table(tmp_path / "xy.npz")
    np.testing.assert_array_equal(data.as_array(), X)
    np.testing.assert_array_equal(data.labels, y)
    np.savez(tmp_path / "single.npz", whatever=X[0])
    assert read_table(tmp_path / "single.npz").sequences.shape == (4, 1)
    np.savez(tmp_path / "two.npz", a=X, b=X)
    with pytest.raises(ValueError, match=r"holds several arrays \('a', 'b'\) and none is called 'X'; choose one with key="):
        read_table(tmp_path / "two.npz")
    assert read_table(tmp_path / "two.npz", key="b").n_sequences == 6
    with pytest.raises(ValueError, match=r"has no array 'c'; it holds 'a', 'b'"):
        read_table(tmp_path / "two.npz", key="c")


def test_unicode_column_names_and_bom(tmp_path):
    df = pd.DataFrame({"température °C": [1.0, 2.0], "湿度": [3.0, 4.0], "ветер": [5.0, 6.0]})
    for ext in (".csv", ".parquet"):
        data = read_table(write_table(tmp_path / f"ü{ext}", df), columns=["湿度", "température °C"])
        assert data.feature_names == ["湿度", "température °C"]
        np.testing.assert_array_equal(data.sequences, [[3, 1], [4, 2]])
    # Excel writes a UTF-8 byte order mark
    (tmp_path / "bom.csv").write_bytes("\ufeffzeit,wert\n1,2\n".encode())
    assert read_table(tmp_path / "bom.csv", time_column="zeit").feature_names == ["wert"]


# --------------------------------------------------------------------------- delimiters
@pytest.mark.parametrize(
    "text",
    [
        "a,b\n1,2\n3,4\n",
        "a;b\n1;2\n3;4\n",
        "a\tb\n1\t2\n3\t4\n",
        "a|b\n1|2\n3|4\n",
        "a b\n1 2\n3   4\n",
        "a, b\n1, 2\n3, 4\n",
    ],
)
def test_delimiter_detection(tmp_path, text):
    path = tmp_path / "d.txt"
    path.write_text(text)
    data = read_table(path)
    assert data.feature_names == ["a", "b"]
    np.testing.assert_array_equal(data.sequences, [[1, 2], [3, 4]])


def test_single_column_and_header_detection(tmp_path):
    (tmp_path / "one.csv").write_text("value\n1.5\n2.5\n")
    assert read_table(tmp_path / "one.csv").sequences[:, 0].tolist() == [1.5, 2.5]
    (tmp_path / "nohead.csv").write_text("1.5,2\n2.5,3\n")
    data = read_table(tmp_path / "nohead.csv")
    assert data.feature_names == ["0", "1"] and data.sequences.shape == (2, 2)
    # header=True forces a numeric first line to be names
    forced = read_table(tmp_path / "nohead.csv", header=True)
    assert forced.feature_names == ["1.5", "2"] and forced.sequences.shape == (1, 2)


def test_trailing_delimiters_are_accepted_but_surplus_fields_refused(tmp_path):
    (tmp_path / "trail.csv").write_text("x,y\n1,2,\n4,5,\n")
    np.testing.assert_array_equal(read_table(tmp_path / "trail.csv").sequences, [[1, 2], [4, 5]])
    (tmp_path / "surplus.csv").write_text("x,y\n1,2,3\n4,5\n")
    with pytest.raises(ValueError, match=r"could not parse .*surplus.csv.*more fields than the 2 column names"):
        read_table(tmp_path / "surplus.csv")


# --------------------------------------------------------------------------- layouts
def test_long_layout_sorts_by_time_and_excludes_it(tmp_path):
    df = pd.DataFrame({"t": [3, 1, 2, 1], "x": [30.0, 10.0, 20.0, 11.0], "y": [3.0, 1.0, 2.0, 1.5]})
    for ext in (".csv", ".parquet"):
        data = read_table(write_table(tmp_path / f"t{ext}", df), time_column="t")
        assert data.feature_names == ["x", "y"]
        # stable: the two rows at t=1 keep their file order
        np.testing.assert_array_equal(data.sequences[:, 0], [10, 11, 20, 30])
        np.testing.assert_array_equal(data.time, [1, 1, 2, 3])


def test_time_column_with_dates(tmp_path):
    (tmp_path / "dates.csv").write_text(
        "when,v\n2024-01-03T00:00:00,3\n2024-01-01T00:00:00,1\n2024-01-02T00:00:00,2\n"
    )
    data = read_table(tmp_path / "dates.csv", time_column="when")
    assert data.sequences[:, 0].tolist() == [1, 2, 3]
    assert np.issubdtype(data.time.dtype, np.datetime64)
    (tmp_path / "junk.csv").write_text("when,v\nmonday,1\ntuesday,2\n")
    with pytest.raises(ValueError, match=r"time column 'when' .* neither numbers nor dates \(e.g. 'monday'\)"):
        read_table(tmp_path / "junk.csv", time_column="when")


def test_long_layout_with_ids_groups_in_order_of_first_appearance(tmp_path):
    df = pd.DataFrame(
        {
            "id": ["b", "a", "b", "a", "b", "c"],
            "t": [2, 1, 1, 2, 3, 1],
            "x": [22.0, 11.0, 21.0, 12.0, 23.0, 31.0],
            "label": [1, 0, 1, 0, 1, 2],
        }
    )
    for ext in (".csv", ".parquet"):
        path = write_table(tmp_path / f"ids{ext}", df)
        data = read_table(path, id_column="id", time_column="t", label_column="label")
        assert data.kind == "sequences" and data.ids == ["b", "a", "c"]
        assert data.feature_names == ["x"]
        assert [s[:, 0].tolist() for s in data.sequences] == [[21, 22, 23], [11, 12], [31]]
        assert [t.tolist() for t in data.time] == [[1, 2, 3], [1, 2], [1]]
        assert data.labels.tolist() == [1, 0, 2]
        assert data.lengths.tolist() == [3, 2, 1]
        with pytest.raises(ValueError, match=r"different lengths \(from 1 to 3\)"):
            data.as_array()
    # without time column, file order within each group
    data = read_table(tmp_path / "ids.csv", id_column="id", columns=["x"])
    assert [s[:, 0].tolist() for s in data.sequences] == [[22, 21, 23], [11, 12], [31]]


def test_ids_fill_does_not_cross_sequences(tmp_path):
    (tmp_path / "f.csv").write_text("id,x\n1,5\n1,\n2,\n2,7\n")
    data = read_table(tmp_path / "f.csv", id_column="id", fill="ffill")
    # sequence 2 starts with a NaN: back-filled from its own 7, not from sequence 1's 5
    assert [s[:, 0].tolist() for s in data.sequences] == [[5, 5], [7, 7]]


def test_label_must_be_constant_within_a_sequence(tmp_path):
    (tmp_path / "l.csv").write_text("id,x,y\n1,5,0\n1,6,1\n")
    with pytest.raises(ValueError, match=r"label column 'y' changes within sequence 1"):
        read_table(tmp_path / "l.csv", id_column="id", label_column="y")
    (tmp_path / "s.csv").write_text("site,x,y\nA,5,0\nA,6,1\n")  # text ids: the same message, no traceback
    with pytest.raises(ValueError, match=r"label column 'y' changes within sequence 'A'"):
        read_table(tmp_path / "s.csv", id_column="site", label_column="y")


def test_series_labels_per_step_follow_the_sort(tmp_path):
    (tmp_path / "s.csv").write_text("t,x,anomaly\n2,20,1\n1,10,0\n")
    data = read_table(tmp_path / "s.csv", time_column="t", label_column="anomaly")
    assert data.sequences[:, 0].tolist() == [10, 20] and data.labels.tolist() == [0, 1]


def test_rows_layout_ucr_style(tmp_path):
    # UCR: class label first, no header, whitespace or commas; unequal lengths end with NaN
    (tmp_path / "ucr.tsv").write_text("1\t0.1\t0.2\t0.3\n2\t0.4\t0.5\tNaN\n1\t0.6\t0.7\t0.8\n")
    data = read_table(tmp_path / "ucr.tsv", layout="rows", label_column=0)
    assert data.kind == "sequences" and data.feature_names == ["value"]
    assert data.lengths.tolist() == [3, 2, 3]
    np.testing.assert_allclose(data.sequences[1][:, 0], [0.4, 0.5])
    assert data.sequences[0].shape == (3, 1) and data.sequences[0].dtype == np.float32
    assert data.labels.tolist() == [1, 2, 1]
    # ragged lines without padding, whitespace separated
    (tmp_path / "ragged.txt").write_text("1 0.1 0.2 0.3\n2 0.4 0.5\n")
    ragged = read_table(tmp_path / "ragged.txt", layout="rows", label_column=0)
    assert ragged.lengths.tolist() == [3, 2]


def test_rows_layout_equal_lengths_as_array_and_ids(tmp_path):
    x = RNG.standard_normal((5, 8))
    df = pd.DataFrame(x, columns=[f"t{i}" for i in range(8)])
    df.insert(0, "name", list("abcde"))
    data = read_table(write_table(tmp_path / "r.parquet", df), layout="rows", id_column="name")
    assert data.ids == list("abcde")
    np.testing.assert_allclose(data.as_array(), x[:, :, None].astype(np.float32))


def test_rows_layout_gap_is_missing_value(tmp_path):
    (tmp_path / "gap.csv").write_text("1,,3,4\n5,6,7,\n")
    with pytest.raises(ValueError, match=r"1 missing values inside 1 rows \(first at row 0, step 1\); trailing empty cells end a shorter sequence"):
        read_table(tmp_path / "gap.csv", layout="rows")
    data = read_table(tmp_path / "gap.csv", layout="rows", fill="interpolate")
    assert data.sequences[0][:, 0].tolist() == [1, 2, 3, 4]
    assert data.sequences[1][:, 0].tolist() == [5, 6, 7]
    with pytest.raises(ValueError, match="layout='rows' takes no time_column"):
        read_table(tmp_path / "gap.csv", layout="rows", time_column=0)


def test_as_array_of_a_series_is_a_batch_of_one(tmp_path):
    data = read_table(write_table(tmp_path / "s.npy", np.zeros((7, 2))))
    assert data.as_array().shape == (1, 7, 2) and data.n_sequences == 1


def test_sequence_data_validates():
    with pytest.raises(ValueError, match="2 feature names for sequences with \\[3\\] features"):
        SequenceData(np.zeros((4, 3), np.float32), ["a", "b"])
    with pytest.raises(ValueError, match="kind must be"):
        SequenceData(np.zeros((4, 3), np.float32), ["a", "b", "c"], kind="video")


# --------------------------------------------------------------------------- missing values
def test_missing_values_error_then_fill_policies(tmp_path):
    x = np.arange(40, dtype=np.float64).reshape(20, 2)
    x[[17, 18, 19], 0] = np.nan
    df = pd.DataFrame(x, columns=["temp", "rh"])
    for ext in (".csv", ".parquet"):
        path = write_table(tmp_path / f"m{ext}", df)
        with pytest.raises(
            ValueError,
            match=r"column 'temp' has 3 missing values \(first at row 17\); "
            r"pass fill='ffill', 'interpolate' or 'zero', or clean the file",
        ):
            read_table(path)
        assert read_table(path, fill="ffill").sequences[17:, 0].tolist() == [32, 32, 32]
        assert read_table(path, fill="zero").sequences[17:, 0].tolist() == [0, 0, 0]
        assert read_table(path, fill="interpolate").sequences[17:, 0].tolist() == [32, 32, 32]
    with pytest.raises(ValueError, match="unknown fill policy 'drop'"):
        read_table(tmp_path / "m.csv", fill="drop")


def test_missing_value_row_is_the_file_row_before_sorting(tmp_path):
    (tmp_path / "m.csv").write_text("t,x\n5,1\n1,\n3,2\n")
    with pytest.raises(ValueError, match=r"column 'x' has 1 missing value \(first at row 1\)"):
        read_table(tmp_path / "m.csv", time_column="t")
    filled = read_table(tmp_path / "m.csv", time_column="t", fill="ffill")
    assert filled.sequences[:, 0].tolist() == [2, 2, 1]  # t=1 is first after sorting: back-filled


def test_integer_nullable_parquet_column(tmp_path):
    df = pd.DataFrame({"a": pd.array([1, None, 3], dtype="Int64"), "b": [1.0, 2.0, 3.0]})
    df.to_parquet(tmp_path / "n.parquet")
    with pytest.raises(ValueError, match=r"column 'a' has 1 missing value \(first at row 1\)"):
        read_table(tmp_path / "n.parquet")
    assert read_table(tmp_path / "n.parquet", fill="interpolate").sequences[:, 0].tolist() == [1, 2, 3]


# --------------------------------------------------------------------------- errors
def test_unknown_column_lists_the_available_ones(tmp_path):
    path = write_table(tmp_path / "t.csv", _table())
    with pytest.raises(ValueError, match=r"column 'tmp' not found in '.*t.csv' \(columns='tmp'\); available columns: 'temp', 'rh', 'wind'"):
        read_table(path, columns=["tmp"])
    with pytest.raises(ValueError, match=r"time_column 'time' not found"):
        read_table(path, time_column="time")
    with pytest.raises(ValueError, match=r"id_column index 7 is out of range: .* has 3 columns"):
        read_table(path, id_column=7)
    with pytest.raises(ValueError, match=r"column 'temp' is the time_column; it cannot also be a feature"):
        read_table(path, time_column="temp", columns=["temp", "rh"])


def test_non_numeric_columns_are_named(tmp_path):
    (tmp_path / "s.csv").write_text("city,temp,note\nParis,1.5,ok\nRome,2.5,hot\n")
    with pytest.raises(
        ValueError,
        match=r"columns 'city', 'note' in '.*s.csv' are not numeric \(e.g. 'Paris' at row 0 of column 'city'\); "
        r"choose the feature columns with columns=\[...\]; numeric columns: 'temp'",
    ):
        read_table(tmp_path / "s.csv")
    assert read_table(tmp_path / "s.csv", columns=["temp"]).sequences[:, 0].tolist() == [1.5, 2.5]
    (tmp_path / "q.csv").write_text("x\n1\n?\n3\n")
    with pytest.raises(ValueError, match=r"column 'x' .* is not numeric \(e.g. '\?' at row 1\)"):
        read_table(tmp_path / "q.csv")
    (tmp_path / "eu.csv").write_text("a;b\n1,5;2\n")
    with pytest.raises(ValueError, match=r"'1,5' at row 0\); numbers must use '.' as decimal point"):
        read_table(tmp_path / "eu.csv")


def test_missing_file_and_unsupported_extension(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"no such file: '.*nope.csv'"):
        read_table(tmp_path / "nope.csv")
    (tmp_path / "a.xlsx").write_bytes(b"PK")
    with pytest.raises(ValueError, match=r"unsupported extension '.xlsx'; supported: .csv, .tsv, .txt, .parquet, .pq, .npy, .npz"):
        read_table(tmp_path / "a.xlsx")
    assert set(READ_EXTENSIONS) == {".csv", ".tsv", ".txt", ".parquet", ".pq", ".npy", ".npz"}
    (tmp_path / "dir.csv").mkdir()
    with pytest.raises(ValueError, match="is a directory"):
        read_table(tmp_path / "dir.csv")
    with pytest.raises(ValueError, match="layout must be 'long' or 'rows'"):
        read_table(tmp_path / "nope.csv", layout="wide")


@pytest.mark.parametrize(
    "name, content, match",
    [
        ("empty.csv", b"", r"'.*empty.csv' is empty"),
        ("blank.csv", b"\n  \n", r"is empty"),
        ("header.csv", b"a,b\n", r"has column names but no data rows"),
        ("binary.csv", b"\x89PNG\r\n\x1a\n\x00\x00\xff\xfe", r"is not UTF-8 text \(byte 0x89 at offset 0\)"),
        ("quote.csv", b'a,b\n"1,2\n3,4\n', r"could not parse '.*quote.csv' as a table"),
        ("empty.parquet", b"", r"is empty"),
        ("junk.parquet", b"PAR1 this is not parquet", r"could not read '.*junk.parquet' as Parquet"),
        ("empty.npy", b"", r"is empty"),
        ("junk.npy", b"\x93NUMPY\x01\x00v\x00{'descr'", r"could not read '.*junk.npy' as a NumPy .npy file"),
        ("junk.npz", b"not a zip file", r"could not read '.*junk.npz' as a NumPy .npz file"),
    ],
)
def test_broken_files_give_one_line_value_errors(tmp_path, name, content, match):
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(ValueError, match=match) as info:
        read_table(path)
    assert "\n" not in str(info.value)


def test_truncated_files(tmp_path):
    x = RNG.standard_normal((200, 3))
    for ext in (".parquet", ".npy"):
        full = write_table(tmp_path / f"full{ext}", x).read_bytes()
        cut = tmp_path / f"cut{ext}"
        cut.write_bytes(full[: len(full) // 2])
        with pytest.raises(ValueError, match=rf"could not read '.*cut{ext}'") as info:
            read_table(cut)
        assert "\n" not in str(info.value)
    # a CSV cut in the middle of a line: the last row misses values
    text = write_table(tmp_path / "full.csv", x, columns=["a", "b", "c"]).read_text()
    (tmp_path / "cut.csv").write_text(text[: text.rindex(",")])
    with pytest.raises(ValueError, match=r"column 'c' has 1 missing value \(first at row 199\)"):
        read_table(tmp_path / "cut.csv")


def test_object_npy_is_refused(tmp_path):
    np.save(tmp_path / "obj.npy", np.array([{"a": 1}], dtype=object), allow_pickle=True)
    with pytest.raises(ValueError, match=r"could not read '.*obj.npy' as a NumPy .npy file"):
        read_table(tmp_path / "obj.npy")
    np.save(tmp_path / "str.npy", np.array(["a", "b"]))
    with pytest.raises(ValueError, match=r"holds a <U1 array; only numeric arrays"):
        read_table(tmp_path / "str.npy")


# --------------------------------------------------------------------------- write_table
def test_write_table_creates_parents_and_checks_input(tmp_path):
    path = write_table(tmp_path / "a" / "b" / "x.parquet", np.ones((3, 2)))
    assert path.exists()
    with pytest.raises(ValueError, match=r"unsupported extension '.json'; supported: .csv, .tsv, .parquet, .pq, .npy"):
        write_table(tmp_path / "x.json", np.ones((3, 2)))
    with pytest.raises(ValueError, match=r"hold 2-D tables, got an array of shape \(2, 3, 4\)"):
        write_table(tmp_path / "x.csv", np.ones((2, 3, 4)))
    with pytest.raises(ValueError, match="3 column names for 2 columns"):
        write_table(tmp_path / "x.csv", np.ones((3, 2)), columns=["a", "b", "c"])
    # a 3-D array is fine for .npy
    np.testing.assert_array_equal(np.load(write_table(tmp_path / "x.npy", np.ones((2, 3, 4)))), np.ones((2, 3, 4)))


def test_write_table_dataframe_index_and_column_subset(tmp_path):
    df = pd.DataFrame({"x": [1.0, 2.0], "y": [3.0, 4.0]}, index=pd.Index([10, 20], name="t"))
    data = read_table(write_table(tmp_path / "i.csv", df), time_column="t")
    assert data.time.tolist() == [10, 20] and data.feature_names == ["x", "y"]
    sub = read_table(write_table(tmp_path / "s.csv", df.reset_index(drop=True), columns=["y"]))
    assert sub.feature_names == ["y"]


def test_write_table_is_atomic(tmp_path, monkeypatch):
    path = write_table(tmp_path / "keep.csv", np.ones((2, 2)), columns=["a", "b"])
    before = path.read_bytes()

    def broken(self, target, *args, **kwargs):
        Path(target).write_text("half a fi")
        raise OSError("disk full")

    monkeypatch.setattr(pd.DataFrame, "to_csv", broken)
    with pytest.raises(OSError, match="disk full"):
        write_table(path, np.zeros((5, 2)), columns=["a", "b"])
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["keep.csv"]


# --------------------------------------------------------------------------- _atomic
def test_atomic_write_replaces_only_on_success(tmp_path):
    target = tmp_path / "sub" / "model.json"
    with atomic_write(target, "w") as fh:
        fh.write('{"a": 1}')
        assert not target.exists()  # invisible until the block ends
    assert target.read_text() == '{"a": 1}'
    with pytest.raises(RuntimeError, match="boom"):
        with atomic_write(target, "w") as fh:
            fh.write('{"a": 2, "trunc')
            raise RuntimeError("boom")
    assert target.read_text() == '{"a": 1}'
    assert [p.name for p in target.parent.iterdir()] == ["model.json"]
    with atomic_write(target, "wb") as fh:
        fh.write("ü".encode())
    assert target.read_text(encoding="utf-8") == "ü"
    with pytest.raises(ValueError, match="mode 'wb' .* or 'w'"):
        with atomic_write(target, "a"):
            pass


def test_atomic_path_keeps_extension_and_permissions(tmp_path):
    target = tmp_path / "arr.npy"
    with atomic_path(target) as tmp:
        assert tmp.parent == tmp_path and tmp.name.endswith("-arr.npy")
        np.save(tmp, np.arange(3))  # np.save would append .npy to a name without it
    np.testing.assert_array_equal(np.load(target), [0, 1, 2])
    assert sorted(p.name for p in tmp_path.iterdir()) == ["arr.npy"]
    if os.name == "posix":
        os.chmod(target, 0o640)
        with atomic_path(target) as tmp:
            np.save(tmp, np.arange(4))
        assert (os.stat(target).st_mode & 0o777) == 0o640
        fresh = tmp_path / "fresh.bin"
        with atomic_write(fresh) as fh:
            fh.write(b"x")
        mask = os.umask(0)
        os.umask(mask)
        assert (os.stat(fresh).st_mode & 0o777) == (0o666 & ~mask)


def test_atomic_path_cleans_up_on_failure(tmp_path):
    target = tmp_path / "x.parquet"
    target.write_bytes(b"old")
    with pytest.raises(KeyboardInterrupt):
        with atomic_path(target) as tmp:
            tmp.write_bytes(b"partial")
            raise KeyboardInterrupt
    assert target.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["x.parquet"]
    with pytest.raises(ValueError, match="existing directory"):
        with atomic_path(tmp_path):
            pass


def test_pandas_indexes_are_handled(tmp_path):
    df = pd.DataFrame({"t": [2, 1, 3], "x": [20.0, 10.0, 30.0]})
    # Parquet with a named index: the index comes back as a column
    df.set_index("t").to_parquet(tmp_path / "ix.parquet")
    data = read_table(tmp_path / "ix.parquet", time_column="t")
    assert data.sequences[:, 0].tolist() == [10, 20, 30] and data.feature_names == ["x"]
    # CSV with the unnamed index that to_csv writes: not a feature
    df.to_csv(tmp_path / "ix.csv")
    assert (tmp_path / "ix.csv").read_text().startswith(",t,x")
    data = read_table(tmp_path / "ix.csv")
    assert data.feature_names == ["t", "x"]
    assert read_table(tmp_path / "ix.csv", columns=["Unnamed: 0"]).sequences[:, 0].tolist() == [0, 1, 2]


@pytest.mark.parametrize("ext", [".npy", ".parquet"])
def test_float32_rows_fill_and_writeable_results(tmp_path, ext):
    x = np.ones((3, 5), np.float32)
    x[0, 2] = np.nan  # a gap
    x[1, 4] = np.nan  # a shorter sequence
    path = write_table(tmp_path / f"rows32{ext}", x)
    data = read_table(path, layout="rows", fill="ffill")
    assert data.lengths.tolist() == [5, 4, 5]
    assert data.sequences[0][:, 0].tolist() == [1, 1, 1, 1, 1]
    assert all(s.flags.writeable for s in data.sequences)
    assert read_table(path, fill="zero").sequences.flags.writeable
