"""The shared look: node-type styles (a student's type included), percent and count axes."""

from __future__ import annotations

import math

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
from viz_helpers import draw, repeated_tick_labels, tick_labels, tick_values  # noqa: E402

from gridppo.viz.style import (  # noqa: E402
    DEFAULT_NODE_STYLE,
    NODE_STYLE,
    count_axis,
    node_style,
    percent_axis,
    step_hours,
)


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


def test_shipped_types_keep_their_style():
    for type_name, style in NODE_STYLE.items():
        assert node_style(type_name) == style


def test_a_new_type_gets_a_default_style_named_after_it():
    style = node_style("ev_charger")
    assert style["label"] == "ev_charger"
    assert style["marker"] in DEFAULT_NODE_STYLE["markers"]
    assert style["color"] in DEFAULT_NODE_STYLE["colors"]
    # the same type looks the same in every figure
    assert node_style("ev_charger") == style
    # a shipped type's look is never reused for a new one
    shipped = {(s["marker"], s["color"]) for s in NODE_STYLE.values()}
    assert (style["marker"], style["color"]) not in shipped


def test_step_hours_are_mid_step():
    assert np.allclose(step_hours(4), [3.0, 9.0, 15.0, 21.0])


def _percent_labels(top: float, xmax: float = 1.0) -> tuple[list[str], np.ndarray]:
    fig, ax = plt.subplots(figsize=(3, 3))
    ax.bar([0, 1], [0.0, top])
    ax.set_ylim(0, top)
    percent_axis(ax.yaxis, xmax=xmax)
    draw(fig)
    labels = [t.get_text() for t in tick_labels(ax.yaxis)]
    return labels, tick_values(ax.yaxis)


@pytest.mark.parametrize("top", [0.0004, 0.003, 0.01, 0.025, 0.05, 0.075, 0.18, 0.6, 1.0])
def test_percent_ticks_are_distinct_at_1_2_5_steps(top):
    labels, values = _percent_labels(top)
    assert len(labels) >= 2
    assert len(set(labels)) == len(labels), labels
    assert all(label.endswith("%") for label in labels)
    step_percent = float(f"{float(np.diff(values).min()) * 100.0:.6g}")
    mantissa = step_percent / 10 ** math.floor(math.log10(step_percent))
    assert round(mantissa, 6) in (1.0, 2.0, 5.0), (top, step_percent)
    # each label is its tick's value, not a rounded neighbour (2.5 % must not read 2 %)
    for label, value in zip(labels, values, strict=True):
        assert float(label.rstrip("%")) == pytest.approx(100 * value, abs=1e-9)


def test_percent_axis_of_values_already_in_percent():
    labels, values = _percent_labels(120.0, xmax=100.0)
    assert labels[:3] == ["0%", "20%", "40%"] or labels[:3] == ["0%", "50%", "100%"]
    assert len(set(labels)) == len(labels)


def test_all_zero_bars_do_not_repeat_a_label():
    fig, ax = plt.subplots(figsize=(3, 3))
    ax.bar([0, 1], [0.0, 0.0])
    ax.margins(y=0.15)
    percent_axis(ax.yaxis)
    draw(fig)
    assert not repeated_tick_labels(ax.yaxis)


def test_count_axis_writes_thousands_short():
    fig, ax = plt.subplots(figsize=(3, 2))
    ax.plot([0, 120_000], [0, 1])
    count_axis(ax.xaxis)
    draw(fig)
    labels = [t.get_text() for t in tick_labels(ax.xaxis)]
    assert 2 <= len(labels) <= 5
    assert "50k" in labels or "40k" in labels or "100k" in labels
    assert not repeated_tick_labels(ax.xaxis)


def test_a_sliver_of_a_range_still_gets_distinct_labels():
    fig, ax = plt.subplots(figsize=(3, 3))
    ax.set_ylim(0.0, 3e-17)
    percent_axis(ax.yaxis)
    draw(fig)
    assert len(tick_labels(ax.yaxis)) >= 2
    assert not repeated_tick_labels(ax.yaxis)
