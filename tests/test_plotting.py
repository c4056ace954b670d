"""plot_scores / plot_reconstruction: the PNG is written, and the figure has the panels a reader needs."""
import matplotlib

matplotlib.use("Agg", force=True)

import matplotlib.dates as mdates  # noqa: E402
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402
from matplotlib.collections import PolyCollection, QuadMesh  # noqa: E402

from lstmae.plotting import _scores_figure, plot_reconstruction, plot_scores  # noqa: E402

PNG = b"\x89PNG\r\n\x1a\n"
T = 200


def _data(n_features, seed=0):
    rng = np.random.default_rng(seed)
    t = np.arange(T)
    scales = np.array([0.8, 100.0, 1.0] + [5.0] * max(0, n_features - 3))[:n_features]
    series = (np.sin(t[:, None] / (10 + np.arange(n_features))) + 0.1 * rng.standard_normal((T, n_features))) * scales
    scores = 0.2 + 0.1 * rng.random(T)
    scores[120:130] += 3.0
    labels = np.zeros(T, dtype=int)
    labels[120:130] = 1
    labels[50] = 1  # a single point must show too
    predicted = np.zeros(T, dtype=int)
    predicted[121:132] = 1
    errors = np.abs(rng.normal(0, 0.1, (T, n_features)))
    errors[120:130, -1] += 2
    return series, scores, labels, predicted, errors


@pytest.fixture
def figures():
    made = []
    yield made
    for fig in made:
        plt.close(fig)


def _figure(made, *args, **kwargs):
    fig = _scores_figure(*args, **kwargs)
    made.append(fig)
    return fig


def _is_png(path):
    with open(path, "rb") as f:
        return f.read(8) == PNG


def _converter(axis):
    return axis.get_converter() if hasattr(axis, "get_converter") else axis.converter


def test_one_feature_no_time(tmp_path, figures):
    series, scores, *_ = _data(1)
    out = plot_scores(series[:, 0], scores, 0.5, tmp_path / "a.png")
    assert out == tmp_path / "a.png" and out.exists() and _is_png(out)
    assert [p.name for p in tmp_path.iterdir()] == ["a.png"]  # nothing temporary left behind

    fig = _figure(figures, series[:, 0], scores, 0.5)
    assert len(fig.axes) == 2  # the feature, the score
    feature, score = fig.axes
    assert feature.get_ylabel() == "feature 0"
    assert score.get_xlabel() == "point"
    assert feature.get_title() == "Anomaly scores"
    assert score.get_yscale() == "linear"  # scores within two decades
    assert [tuple(line.get_xdata()[[0, -1]]) for line in feature.get_lines()] == [(0, T - 1)]
    assert any(line.get_linestyle() == "--" and line.get_ydata()[0] == 0.5 for line in score.get_lines())


def test_three_features_with_dates_labels_and_errors(tmp_path, figures):
    series, scores, labels, predicted, errors = _data(3)
    time = pd.date_range("2024-03-01 08:00", periods=T, freq="min").to_numpy()
    names = ["valve", "temperature", "vibration"]
    kwargs = dict(time=time, feature_names=names, errors=errors, title="Plant 7")
    out = plot_scores(series, scores, 0.5, tmp_path / "b.png", labels, predicted, **kwargs)
    assert out.exists() and _is_png(out)

    fig = _figure(figures, series, scores, 0.5, labels, predicted, **kwargs)
    assert len(fig.axes) == 5  # 3 features, the error map, the score
    *feature_axes, error_map, score = fig.axes
    assert [ax.get_ylabel() for ax in feature_axes] == names
    assert feature_axes[0].get_title() == "Plant 7"
    # the error map: features x time, the names on its y ticks, a colorbar beside it
    meshes = [c for c in error_map.collections if isinstance(c, QuadMesh)]
    assert len(meshes) == 1 and meshes[0].get_array().shape == (3, T)
    assert [t.get_text() for t in error_map.get_yticklabels()] == names
    assert len(error_map.child_axes) == 1 and error_map.child_axes[0].get_ylabel() == "error"
    # a date axis, shared by every panel, from half a minute before the first point to after the last
    assert type(_converter(score.xaxis)).__module__ == "matplotlib.dates"
    assert isinstance(score.xaxis.get_major_formatter(), mdates.ConciseDateFormatter)
    first, last = pd.Timestamp(time[0]), pd.Timestamp(time[-1])
    half = pd.Timedelta(seconds=30)
    lo, hi = (mdates.num2date(v).replace(tzinfo=None) for v in score.get_xlim())
    assert (lo, hi) == (first - half, last + half)
    assert all(ax.get_xlim() == score.get_xlim() for ax in fig.axes)
    ticks = [mdates.num2date(v).replace(tzinfo=None) for v in score.get_xticks()]
    assert len(ticks) >= 3 and all(first - pd.Timedelta(hours=1) <= t <= last + pd.Timedelta(hours=1) for t in ticks)
    fig.canvas.draw()
    labels_text = [t.get_text() for t in score.get_xticklabels() if t.get_text()]
    assert labels_text and all(":" in t or "Mar" in t for t in labels_text)  # "08:30", "Mar-01": dates
    # the shading on every panel, on the right times: the event spans minutes 120..129 (+- half a minute)
    for ax in fig.axes:
        fills = [c for c in ax.collections if isinstance(c, PolyCollection)]
        assert len(fills) == 2
    red = next(c for c in score.collections if c.get_label() == "true anomaly")
    spans = sorted((p.vertices[:, 0].min(), p.vertices[:, 0].max()) for p in red.get_paths())
    assert len(spans) == 2  # the single point and the event
    single, event = ([mdates.num2date(v).replace(tzinfo=None) for v in s] for s in spans)
    assert single == [pd.Timestamp(time[50]) - half, pd.Timestamp(time[50]) + half]
    assert event == [pd.Timestamp(time[120]) - half, pd.Timestamp(time[129]) + half]
    legend = [t.get_text() for t in score.get_legend().get_texts()]
    assert {"anomaly score", "true anomaly", "detected"} <= set(legend) and any("threshold" in t for t in legend)
    # the shading leaves each panel's y-range to its data
    assert feature_axes[1].get_ylim()[1] > 50 and feature_axes[0].get_ylim()[1] < 2


def test_twelve_features_on_one_normalised_panel(tmp_path, figures):
    series, scores, labels, predicted, errors = _data(12)
    out = plot_scores(series, scores, 0.5, tmp_path / "c.png", labels=labels, predicted=predicted, errors=errors)
    assert _is_png(out)

    fig = _figure(figures, series, scores, 0.5, labels=labels)
    assert len(fig.axes) == 2  # one panel for all 12 features, the score
    features = fig.axes[0]
    assert "normalised" in features.get_ylabel()
    assert [t.get_text() for t in features.get_legend().get_texts()] == [f"feature {f}" for f in range(12)]
    for line in features.get_lines():  # z-scores: every feature on the same scale
        y = np.asarray(line.get_ydata())
        assert abs(y.mean()) < 1e-9 and abs(y.std() - 1) < 1e-9
    small = _figure(figures, series[:, :8], scores, 0.5)
    assert len(small.axes) == 9  # up to 8 features: a panel each


def test_scores_with_nan_edges(tmp_path, figures):
    series, scores, labels, *_ = _data(2)
    scores[:15] = np.nan
    scores[-15:] = np.nan
    out = plot_scores(series, scores, 0.5, tmp_path / "d.png", labels=labels)
    assert _is_png(out)

    fig = _figure(figures, series, scores, 0.5, labels=labels)
    score = fig.axes[-1]
    assert score.get_yscale() == "linear" and np.all(np.isfinite(score.get_ylim()))
    wide = scores.copy()
    wide[100] = 1e-4  # now more than two decades apart: log scale
    assert _figure(figures, series, wide, 0.5).axes[-1].get_yscale() == "log"
    negative = scores - 1.0
    assert _figure(figures, series, negative, 0.5).axes[-1].get_yscale() == "linear"


def test_numeric_time_and_reconstruction_time(tmp_path, figures):
    series, scores, *_ = _data(2)
    fig = _figure(figures, series, scores, 0.5, time=np.arange(T) * 0.5 + 10)
    assert fig.axes[-1].get_xlabel() == "time"
    assert fig.axes[-1].get_xlim() == (9.75, 10 + (T - 1) * 0.5 + 0.25)
    berlin = pd.date_range("2024-03-31 01:00", periods=T, freq="min", tz="Europe/Berlin")  # over a clock change
    assert _is_png(plot_scores(series, scores, 0.5, tmp_path / "tz.png", time=berlin))

    window = series[:20]
    times = pd.date_range("2024-01-01", periods=25, freq="h")
    for time in (times[:20], times, None):
        out = plot_reconstruction(window, window + 0.1, tmp_path / "r.png", forecast=series[20:25],
                                  future=series[20:25], time=time)
        assert _is_png(out)


def test_bad_shapes_are_refused(tmp_path, figures):
    series, scores, labels, _, errors = _data(3)
    with pytest.raises(ValueError, match="score"):
        _scores_figure(series, scores[:-1], 0.5)
    with pytest.raises(ValueError, match="errors"):
        _scores_figure(series, scores, 0.5, errors=errors[:, :2])
    with pytest.raises(ValueError, match="labels"):
        _scores_figure(series, scores, 0.5, labels=labels[:10])
    with pytest.raises(ValueError, match="time"):
        _scores_figure(series, scores, 0.5, time=np.arange(T)[::-1])
    with pytest.raises(ValueError, match="feature names"):
        _scores_figure(series, scores, 0.5, feature_names=["a"])
    with pytest.raises(ValueError, match="one or one per point"):
        _scores_figure(series, scores, np.full(T - 1, 0.5))
    assert not list(tmp_path.iterdir())


def test_a_rolling_threshold_is_drawn_point_by_point(figures):
    series, scores, *_ = _data(1)
    moving = np.linspace(0.4, 0.9, T)
    score = _figure(figures, series[:, 0], scores, moving).axes[-1]
    line = [ln for ln in score.get_lines() if ln.get_linestyle() == "--"]
    assert len(line) == 1 and line[0].get_label() == "rolling threshold"
    np.testing.assert_array_equal(line[0].get_ydata(), moving)
