"""bench/paper.py (Srivastava et al. 2015 at laptop scale) at its tiny size, and the library pieces it uses:
`lstmae.metrics.frame_cross_entropy` and `lstmae.plotting.plot_frames`."""
import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest

from lstmae.metrics import frame_cross_entropy
from lstmae.plotting import plot_frames

PNG = b"\x89PNG\r\n\x1a\n"
ROOT = Path(__file__).resolve().parents[1]


def _paper():
    spec = importlib.util.spec_from_file_location("bench_paper", ROOT / "bench" / "paper.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# ----------------------------------------------------------------------------- frame_cross_entropy
def test_frame_cross_entropy_values():
    t = np.array([[[1.0, 0.0], [0.5, 0.5]]])  # (N=1, T=2, F=2)
    p = np.array([[[0.5, 0.5], [0.5, 0.5]]])
    ce = frame_cross_entropy(t, p)
    assert ce.shape == (1, 2)
    np.testing.assert_allclose(ce, [[2 * np.log(2), 2 * np.log(2)]])
    # a confident miss costs -log(eps) per pixel, not infinity; a confident hit costs ~0
    assert frame_cross_entropy(np.array([1.0, 0.0]), np.array([0.0, 0.0]), eps=1e-3) == pytest.approx(
        -np.log(1e-3) - np.log(1 - 1e-3))
    assert frame_cross_entropy(np.array([1.0, 0.0]), np.array([1.0, 0.0])) < 1e-6
    # probabilities may broadcast to the targets' shape (one mean frame for all)
    np.testing.assert_allclose(frame_cross_entropy(t, np.array([0.5, 0.5])), ce)


def test_frame_cross_entropy_refuses_bad_input():
    with pytest.raises(ValueError, match="shape"):
        frame_cross_entropy(np.zeros((2, 3, 4)), np.zeros((2, 3, 5)))
    with pytest.raises(ValueError, match="in \\[0, 1\\]"):
        frame_cross_entropy(np.zeros((2, 4)), np.full((2, 4), 1.5))
    with pytest.raises(ValueError, match="eps"):
        frame_cross_entropy(np.zeros(4), np.zeros(4), eps=0.0)


# ----------------------------------------------------------------------------- plot_frames
def test_plot_frames_writes_png(tmp_path):
    rng = np.random.default_rng(0)
    rows = {"input": rng.random((10, 36)), "future": rng.random((4, 36)), "images": rng.random((3, 6, 6))}
    path = plot_frames(rows, tmp_path / "frames.png", title="t")
    assert path.read_bytes()[:8] == PNG
    plot_frames({"wide": rng.random((2, 12))}, tmp_path / "wide.png", frame_size=(3, 4))
    with pytest.raises(ValueError, match="square"):
        plot_frames({"x": rng.random((2, 12))}, tmp_path / "x.png")
    with pytest.raises(ValueError, match="different sizes"):
        plot_frames({"a": rng.random((2, 16)), "b": rng.random((2, 25))}, tmp_path / "x.png")
    with pytest.raises(ValueError, match="empty"):
        plot_frames({}, tmp_path / "x.png")


# ----------------------------------------------------------------------------- the benchmark, tiny
@pytest.mark.slow
def test_paper_tiny(tmp_path, one_thread):
    paper = _paper()
    results = paper.run("tiny", "cpu", tmp_path, log=lambda *a: None)
    cfg = results["config"]
    n_pix = cfg["frame_size"] ** 2

    # shapes of what the figure shows: 3 held-out videos, 10 reconstructed and 10 predicted frames each
    shapes = results["figures"]["shapes"]
    assert shapes["test"] == {"reconstruction": [3, 10, n_pix], "prediction": [3, 10, n_pix]}
    assert shapes["1 digit"]["prediction"] == [1, 10, n_pix] and shapes["3 digits"]["prediction"] == [1, 10, n_pix]
    for key in ("paper", "models"):
        assert Path(results["figures"][key]).read_bytes()[:8] == PNG

    # every model learned something: it beats the mean frame of the training set on held-out videos
    mean_frame = results["baselines"]["mean frame"]["test"]
    assert set(results["models"]) == set(paper.MODELS)
    for name, runs in results["models"].items():
        assert len(runs) == cfg["seeds"]
        for run in runs:
            res = run["test"]
            has_future = paper.MODELS[name]["task"] != "reconstruct"
            has_rec = paper.MODELS[name]["task"] != "predict"
            assert (res["future"] is not None) == has_future and (res["reconstruction"] is not None) == has_rec
            if has_future:
                assert len(res["future_curve"]) == 10
                assert res["future"] < mean_frame["future"], (name, res["future"], mean_frame["future"])
                for ood in ("1 digit", "3 digits"):
                    assert np.isfinite(run[ood]["future"])
            if has_rec:
                assert res["reconstruction"] < mean_frame["reconstruction"], name

    # the few-label experiment: an accuracy per fraction, classifier and seed
    acc = results["few_labels"]["accuracy"]
    assert list(acc) == ["1%", "10%", "100%"]
    for cell in acc.values():
        for kind in paper.CLASSIFIERS:
            assert len(cell[kind]) == cfg["seeds"] and all(0.0 <= a <= 1.0 for a in cell[kind])

    # the report and the JSON
    text = paper.table(results)
    for name in paper.MODELS:
        assert f"| {name} |" in text
    assert "341.2" in text and "random init" in text
    saved = json.loads((tmp_path / "results.json").read_text())
    assert saved["models"].keys() == results["models"].keys()
