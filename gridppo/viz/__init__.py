"""Figures of the grid and of what the agents do (matplotlib), sized for a notebook.

Each figure is a function that returns its :class:`~matplotlib.figure.Figure` and keeps
what it drew in ``fig.gridppo`` (a dict, documented in each function); a function that
draws one panel takes ``ax=``, one that draws several takes ``axes=``. In a notebook,
write ``fig = plot_grid(grid)`` as a cell's last line, or Jupyter shows it twice.

- :mod:`~gridppo.viz.grid_diagram`: :func:`plot_grid`, the one-line diagram;
- :mod:`~gridppo.viz.agent_day`: :func:`plot_agent_day`, :func:`plot_day_overview`,
  :func:`plot_day_against_optimum`;
- :mod:`~gridppo.viz.training`: :func:`plot_training_curves`,
  :func:`plot_ppo_diagnostics`, :func:`plot_learning_curve`,
  :func:`plot_training_progress`, reading runs through
  :mod:`~gridppo.viz.run_log`;
- :mod:`~gridppo.viz.kpis`: :func:`plot_kpi_comparison`;
- :mod:`~gridppo.viz.sweep`: :func:`plot_sweep`, a sweep's KPI per setting, and
  :func:`plot_sweep_panels`, several KPIs side by side;
- :mod:`~gridppo.viz.style` and :mod:`~gridppo.viz.grid_layout`: colours, node-type
  styles, percent axes, bus layouts for any net (textbook, automatic, geo).
"""

from gridppo.viz.agent_day import plot_agent_day, plot_day_against_optimum, plot_day_overview
from gridppo.viz.grid_diagram import plot_grid
from gridppo.viz.grid_layout import IEEE14_LAYOUT
from gridppo.viz.kpis import plot_kpi_comparison
from gridppo.viz.run_log import read_agent_types, read_metrics
from gridppo.viz.style import (
    DEFAULT_NODE_STYLE,
    MAX_FIGURE_WIDTH_IN,
    NODE_STYLE,
    OVERLOAD_COLOR,
    SMALL_FONT_PT,
    count_axis,
    node_style,
    percent_axis,
    short_number_axis,
)
from gridppo.viz.sweep import plot_sweep, plot_sweep_panels
from gridppo.viz.training import (
    DIAGNOSTIC_LABELS,
    plot_learning_curve,
    plot_ppo_diagnostics,
    plot_training_curves,
    plot_training_progress,
)

__all__ = [
    "DEFAULT_NODE_STYLE",
    "DIAGNOSTIC_LABELS",
    "IEEE14_LAYOUT",
    "MAX_FIGURE_WIDTH_IN",
    "NODE_STYLE",
    "OVERLOAD_COLOR",
    "SMALL_FONT_PT",
    "count_axis",
    "node_style",
    "percent_axis",
    "plot_agent_day",
    "plot_day_against_optimum",
    "plot_day_overview",
    "plot_grid",
    "plot_kpi_comparison",
    "plot_learning_curve",
    "plot_sweep",
    "plot_sweep_panels",
    "plot_ppo_diagnostics",
    "plot_training_curves",
    "plot_training_progress",
    "read_agent_types",
    "read_metrics",
    "short_number_axis",
]
