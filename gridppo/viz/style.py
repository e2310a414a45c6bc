"""The look shared by every figure: sizes, node-type styles, colour scales, axis helpers.

Figures are sized for a notebook: none is wider than :data:`MAX_FIGURE_WIDTH_IN`
(950 px at the widgets' 100 dpi, so it fits a Jupyter output area without being shrunk),
and no text is smaller than :data:`SMALL_FONT_PT` (11 px at 100 dpi).
"""

from __future__ import annotations

import math
import zlib
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
from matplotlib import colors as mcolors
from matplotlib.axes import Axes
from matplotlib.axis import Axis
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter, MaxNLocator, PercentFormatter

__all__ = [
    "MAX_FIGURE_WIDTH_IN",
    "SMALL_FONT_PT",
    "NODE_STYLE",
    "DEFAULT_NODE_STYLE",
    "OVERLOAD_COLOR",
    "node_style",
    "percent_axis",
    "count_axis",
    "short_number_axis",
]

# The widest figure we draw, in inches: 9.5 in is 950 px at 100 dpi, the width of a
# notebook's output area in a browser window of common size.
MAX_FIGURE_WIDTH_IN = 9.5
# The smallest text we draw, in points: 8 pt is 11 px at 100 dpi, readable in a browser.
SMALL_FONT_PT = 8.0

# Marker, colour and legend label of each shipped node type.
NODE_STYLE: dict[str, dict[str, str]] = {
    "producer": {"marker": "^", "color": "#e66101", "label": "producer (power plant)"},
    "consumer": {"marker": "v", "color": "#2b83ba", "label": "consumer (load)"},
    "battery": {"marker": "s", "color": "#1a9641", "label": "battery (storage)"},
    "business": {"marker": "D", "color": "#7b3294", "label": "business (load + PV)"},
}
# A type without an entry in NODE_STYLE (a student's own type) is still drawn: with one
# of these markers and colours, picked from its name (so it looks the same in every
# figure), labelled with the type's name.
DEFAULT_NODE_STYLE: dict[str, tuple[str, ...]] = {
    "markers": ("*", "P", "X", "h", "p"),
    "colors": ("#636363", "#a6761d", "#e7298a", "#66a61e", "#1b9e77"),
}

# Branches loaded above ``grid.max_loading_percent`` are drawn in this colour; below
# the limit the colour runs from light grey (idle) to dark slate (at the limit).
OVERLOAD_COLOR = "#e31a1c"
LOADING_CMAP = mcolors.LinearSegmentedColormap.from_list(
    "gridppo_loading", ["#d9d9d9", "#6a7b8c", "#1c2833"]
).with_extremes(over=OVERLOAD_COLOR)
# Bus voltage: blue below nominal, white at the middle of the band, red above.
VOLTAGE_CMAP = plt.get_cmap("coolwarm")

# Panel legends sit above the panel, on the right, level with its title.
LEGEND_ABOVE: dict[str, Any] = {
    "loc": "lower right",
    "bbox_to_anchor": (1.0, 1.0),
    "fontsize": SMALL_FONT_PT,
    "frameon": False,
    "borderaxespad": 0.1,
}


def node_style(type_name: str) -> dict[str, str]:
    """Marker, colour and legend label of a node type.

    A shipped type has its entry in :data:`NODE_STYLE`; any other type gets a marker and
    a colour from :data:`DEFAULT_NODE_STYLE`, chosen by a hash of its name, and is
    labelled with its name, so a student's new type appears (and stays recognisable)
    in every figure.
    """
    if type_name in NODE_STYLE:
        return NODE_STYLE[type_name]
    pick = zlib.crc32(type_name.encode())  # stable across runs, unlike hash()
    markers, colours = DEFAULT_NODE_STYLE["markers"], DEFAULT_NODE_STYLE["colors"]
    return {
        "marker": markers[pick % len(markers)],
        "color": colours[(pick // len(markers)) % len(colours)],
        "label": type_name or "other",
    }


def color_cycle() -> list[str]:
    """The colours of matplotlib's current property cycle."""
    return plt.rcParams["axes.prop_cycle"].by_key()["color"]


def step_hours(steps: int) -> np.ndarray:
    """Mid-step hour of each of ``steps`` steps of a day."""
    return (np.arange(steps) + 0.5) * 24.0 / steps


def new_axes(ax: Axes | None, figsize: tuple[float, float]) -> tuple[Figure, Axes]:
    """``ax`` and its figure, or a new figure of ``figsize`` (inches) with one Axes."""
    if ax is not None:
        return ax.figure, ax
    fig, ax = plt.subplots(figsize=figsize, constrained_layout=True)
    return fig, ax


def one_row(values: Any, length: int, what: str) -> np.ndarray:
    """``values`` as a flat float array of ``length``; accepts [length] or [1, length]."""
    arr = np.asarray(values, dtype=float)
    if arr.ndim == 2 and arr.shape[0] == 1:
        arr = arr[0]
    if arr.shape != (length,):
        raise ValueError(
            f"{what}: expected {length} values (or shape [1, {length}]), got {arr.shape}"
        )
    return arr


class StepPercentFormatter(PercentFormatter):
    """Percent tick labels with as many decimals as the tick step needs.

    Steps of 5 % read ``0%, 5%, 10%``, steps of 0.5 % read ``0.5%, 1.0%``, so no two
    ticks share a label (plain rounding turns 2.5 % steps into 2/5/8/12 %).
    """

    def format_ticks(self, values: list[float]) -> list[str]:
        """Labels of ``values``, with decimals set from their smallest spacing."""
        gaps = np.diff(np.sort(np.asarray(values, dtype=float)))
        gaps = gaps[gaps > 0]
        if len(gaps):
            step = float(gaps.min()) * 100.0 / self.xmax
            # a 1-2-5 step has one significant digit: 5 -> 0 decimals, 0.5 -> 1, 0.02 -> 2
            self.decimals = max(0, -math.floor(math.log10(float(f"{step:.6g}"))))
        else:
            self.decimals = 0
        return super().format_ticks(values)


def percent_axis(axis: Axis, xmax: float = 1.0, nbins: int = 5) -> None:
    """Label ``axis`` in percent, with at most ``nbins`` ticks at 1-2-5 steps.

    ``xmax`` is the value that means 100 %: 1.0 for shares (a rate of 0.05 reads 5 %),
    100.0 for values already in percent (a loading of 80 reads 80 %).
    """
    axis.set_major_locator(MaxNLocator(nbins=nbins, steps=[1, 2, 5, 10]))
    axis.set_major_formatter(StepPercentFormatter(xmax=xmax))


def _compact(value: float, _pos: Any = None) -> str:
    """``1500`` -> ``1.5k``, ``2000000`` -> ``2M``: short labels for step counts."""
    for size, suffix in ((1e6, "M"), (1e3, "k")):
        if abs(value) >= size:
            return f"{value / size:g}{suffix}"
    return f"{value:g}"


def count_axis(axis: Axis, nbins: int = 4) -> None:
    """Few, short tick labels on an axis of counts (environment steps, updates):
    at most ``nbins`` integer ticks, written ``20k`` rather than ``20000``."""
    axis.set_major_locator(MaxNLocator(nbins=nbins, integer=True, steps=[1, 2, 5, 10]))
    axis.set_major_formatter(FuncFormatter(_compact))


def short_number_axis(axis: Axis) -> None:
    """Write large tick values short (``-20k``, ``1.5M``) on an axis of money or counts,
    without the offset text matplotlib would put above the axis."""
    axis.set_major_formatter(FuncFormatter(_compact))
