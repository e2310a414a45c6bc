"""A sweep's KPI per setting: the mean across seeds, its interval, every seed's value."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
from scipy import stats  # noqa: E402
from viz_helpers import (  # noqa: E402
    colliding_tick_labels,
    repeated_tick_labels,
    smallest_font_px,
    tick_labels,
    width_px,
)

from gridppo.viz import plot_sweep, plot_sweep_panels  # noqa: E402
from gridppo.viz.style import MAX_FIGURE_WIDTH_IN, SMALL_FONT_PT  # noqa: E402


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


def test_each_setting_has_its_mean_interval_and_seeds() -> None:
    values = {"ppo.lr=0.001": [4.0, 5.0, 6.5], "ppo.lr=0.0001": [10.0, 12.0]}
    fig = plot_sweep(values, "gap_to_optimum_percent")
    drawn = fig.gridppo
    assert drawn["settings"] == ["ppo.lr=0.001", "ppo.lr=0.0001"]
    assert drawn["means"] == pytest.approx([5.1666667, 11.0])
    half = stats.t.ppf(0.975, 1) * np.std([10.0, 12.0], ddof=1) / np.sqrt(2)
    assert drawn["lows"][1] == pytest.approx(11.0 - half)
    assert drawn["highs"][1] == pytest.approx(11.0 + half)
    # The error bar spans the interval; the dots are the seeds' own values.
    (ax,) = fig.axes
    segments = drawn["errorbar"].lines[2][0].get_segments()
    np.testing.assert_allclose(
        [sorted(s[:, 1]) for s in segments], np.c_[drawn["lows"], drawn["highs"]]
    )
    seeds = [dots.get_offsets()[:, 1].tolist() for dots in drawn["seeds"]]
    assert seeds == [[4.0, 5.0, 6.5], [10.0, 12.0]]
    assert [t.get_text() for t in tick_labels(ax.xaxis)] == ["ppo.lr=0.001", "ppo.lr=0.0001"]


def test_rates_read_in_percent_and_several_keys_stack() -> None:
    values = {f"ppo.lr={lr},ppo.gamma=0.9": [0.01, 0.02, 0.04] for lr in (0.1, 0.01, 0.001)}
    fig = plot_sweep(values, "overload_rate")
    ax = fig.axes[0]
    assert all(t.get_text().endswith("%") for t in tick_labels(ax.yaxis))
    assert repeated_tick_labels(ax.yaxis) == []
    assert tick_labels(ax.xaxis)[0].get_text() == "ppo.lr=0.1\nppo.gamma=0.9"


def test_many_settings_fit_a_notebook_and_stay_readable() -> None:
    values = {f"ppo.lr={lr:g},ppo.ent_coef=0.01": [1.0, 2.0] for lr in np.logspace(-5, -2, 10)}
    fig = plot_sweep(values, "system_cost_eur")
    assert width_px(fig, 100) <= MAX_FIGURE_WIDTH_IN * 100
    assert colliding_tick_labels(fig) == []
    assert smallest_font_px(fig, 100) >= SMALL_FONT_PT * 100 / 72 - 1e-9


def test_a_setting_without_values_is_refused() -> None:
    with pytest.raises(ValueError, match="no settings"):
        plot_sweep({})
    with pytest.raises(ValueError, match="no value for setting 'seedless'"):
        plot_sweep({"seedless": []})


def test_panels_draw_one_kpi_each_with_one_legend() -> None:
    values = {
        "excess_over_optimum_eur": {"IPPO": [4000.0, 5000.0], "MAPPO": [4500.0, 4700.0]},
        "overload_rate": {"IPPO": [0.01, 0.0], "MAPPO": [0.0, 0.0]},
        "train_time_s": {"IPPO": [20.0, 21.0], "MAPPO": [30.0, 29.0]},
    }
    fig = plot_sweep_panels(values)
    panels = fig.gridppo["panels"]
    assert list(panels) == list(values)
    assert panels["train_time_s"]["means"] == pytest.approx([20.5, 29.5])
    visible = [ax for ax in fig.axes if ax.get_visible()]
    assert len(visible) == 3 and len(fig.axes) == 4  # 2 x 2, the fourth hidden
    assert [ax.get_legend() is not None for ax in visible] == [True, False, False]
    assert width_px(fig, 100) <= MAX_FIGURE_WIDTH_IN * 100 + 1
    assert colliding_tick_labels(fig) == []
    with pytest.raises(ValueError, match="no KPI"):
        plot_sweep_panels({})
