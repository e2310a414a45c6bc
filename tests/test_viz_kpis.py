"""Policies side by side: one bar per policy and KPI, percent axes that read well."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402
from viz_helpers import (  # noqa: E402
    colliding_tick_labels,
    draw,
    repeated_tick_labels,
    smallest_font_px,
    tick_labels,
    width_px,
)

from gridppo.baselines.heuristic import HeuristicPolicy  # noqa: E402
from gridppo.baselines.random import RandomPolicy  # noqa: E402
from gridppo.env import BatchedGridEnv  # noqa: E402
from gridppo.evaluation.simulate import run_days  # noqa: E402
from gridppo.grid.network import PowerGrid  # noqa: E402
from gridppo.viz.kpis import kpi_axis, plot_kpi_comparison  # noqa: E402
from gridppo.viz.style import MAX_FIGURE_WIDTH_IN, SMALL_FONT_PT  # noqa: E402


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


def test_kpi_comparison_has_one_bar_per_policy_and_kpi(grid: PowerGrid):
    env = BatchedGridEnv(grid=grid, batch_size=1, mode="validation", autoreset=False)
    days = env.grid.profiles.validation_days[:1]
    results = [
        run_days(HeuristicPolicy(env), env, days=days),
        run_days(RandomPolicy(seed=1), env, days=days),
    ]
    kpis = ("system_cost_eur", "voltage_violation_rate", "overload_rate")
    fig = plot_kpi_comparison(results, kpis)
    bars = fig.gridppo["bars"]
    assert list(bars) == list(kpis)
    for key in kpis:
        assert [b.get_height() for b in bars[key]] == pytest.approx([r.kpis[key] for r in results])
    assert fig.gridppo["policies"] == ["heuristic", "random"]
    assert len(fig.axes) == len(kpis)


def test_kpi_comparison_from_a_table_into_given_axes():
    table = {"ippo": {"team_reward": -5.0}, "optimum": {"team_reward": 2.0}}
    _, ax = plt.subplots()
    fig = plot_kpi_comparison(table, kpis=["team_reward"], ax=ax)
    assert [b.get_height() for b in fig.gridppo["bars"]["team_reward"]] == [-5.0, 2.0]
    assert [t.get_text() for t in ax.texts] == ["-5", "2"]
    with pytest.raises(ValueError, match="one per KPI"):
        plot_kpi_comparison(table, kpis=["team_reward", "team_reward"], ax=ax)
    with pytest.raises(KeyError, match="system_cost_eur"):
        plot_kpi_comparison(table, kpis=["system_cost_eur"])


@pytest.mark.parametrize(
    "rates", [(0.0, 0.0, 0.0), (0.0, 0.004, 0.01), (0.025, 0.075, 0.175), (0.3, 0.9, 0.55)]
)
def test_rates_read_in_percent_with_distinct_ticks(rates):
    table = {
        p: {"overload_rate": r, "worst_loading_percent": 80 + 100 * r}
        for p, r in zip(("ippo", "heuristic", "random"), rates, strict=True)
    }
    fig = plot_kpi_comparison(table, kpis=["overload_rate", "worst_loading_percent"])
    draw(fig)
    for ax in fig.axes:
        labels = [t.get_text() for t in tick_labels(ax.yaxis)]
        assert len(labels) >= 2 and all(label.endswith("%") for label in labels), labels
        assert not repeated_tick_labels(ax.yaxis), labels
    bar_labels = [t.get_text() for t in fig.axes[0].texts]
    assert bar_labels == [f"{100 * r:.1f}%" for r in rates]


def test_many_kpis_wrap_and_fit_a_notebook():
    kpis = [
        "system_cost_eur",
        "team_reward",
        "voltage_violation_rate",
        "overload_rate",
        "unserved_energy_mwh",
    ]
    policies = ("ippo", "heuristic", "random", "optimum", "single_step_opf")
    table = {
        p: {k: 1234.5 * (i + 1) if "rate" not in k else 0.01 * i for k in kpis}
        for i, p in enumerate(policies)
    }
    fig = plot_kpi_comparison(table, kpis=kpis)
    assert width_px(fig, 100) <= MAX_FIGURE_WIDTH_IN * 100
    visible = [ax for ax in fig.axes if ax.get_visible()]
    assert len(visible) == len(kpis)
    rows = {round(ax.get_position().y0, 3) for ax in visible}
    assert len(rows) == 2  # three panels, then two
    assert colliding_tick_labels(fig) == []
    assert smallest_font_px(fig, 100) >= SMALL_FONT_PT * 100 / 72 - 1e-9


def test_kpi_axis_formats_rates_in_percent_and_costs_as_numbers():
    fig, (rate, cost) = plt.subplots(1, 2)
    rate.set_ylim(0, 0.2)
    kpi_axis(rate, "overload_rate")
    cost.set_ylim(0, 30_000)
    kpi_axis(cost, "excess_over_optimum_eur", slant=True)
    fig.canvas.draw()
    assert rate.yaxis.get_major_formatter()(0.1, 0).endswith("%")
    assert cost.yaxis.get_major_formatter()(20_000, 0) == "20,000"
    assert all(label.get_rotation() == 30 for label in cost.get_xticklabels())
