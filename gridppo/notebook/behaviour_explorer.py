"""The behaviour explorer: one test day of a trained policy, step by step."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

import ipywidgets as widgets
from matplotlib.figure import Figure

from gridppo.config.loader import load_config
from gridppo.env import BatchedGridEnv
from gridppo.evaluation.simulate import DayRecord, EvalResult, run_days
from gridppo.grid.network import PowerGrid
from gridppo.grid.profiles import clock
from gridppo.notebook.common import (
    DESCRIPTION_STYLE,
    DRAW_LOCK,
    FIGURE_WIDTH_IN,
    ROW_WIDTH_PX,
    Displayable,
    column_layout,
    image,
    row_layout,
    show,
)
from gridppo.training.trainer import TrainedPolicy, Trainer
from gridppo.viz.agent_day import plot_agent_day
from gridppo.viz.grid_diagram import plot_grid

__all__ = ["BehaviourExplorer"]


def _policy_and_config(
    source: Any, config: str | os.PathLike | Mapping[str, Any] | None
) -> tuple[Any, dict[str, Any]]:
    """A policy and its config from a checkpoint path, a Trainer or a policy object."""
    if isinstance(source, (str, os.PathLike)):
        policy, cfg = TrainedPolicy.from_checkpoint(source)
    elif isinstance(source, Trainer):
        policy, cfg = source.policy(), source.config
    elif hasattr(source, "act"):
        policy, cfg = source, None
    else:
        raise TypeError(
            "source: expected a checkpoint path, a Trainer or a policy with act(), "
            f"got {type(source).__name__}"
        )
    if config is not None or cfg is None:
        cfg = load_config(str(config) if isinstance(config, os.PathLike) else config)
    return policy, cfg


class BehaviourExplorer(Displayable):
    """What a trained policy does on one test day, step by step.

    Pick a test day and an agent; the time slider (or the play button) walks
    through the day. Above: the grid diagram at that step (bus voltages, branch
    loadings and flows, every agent's action and injection). Below it: the chosen
    agent's whole day (actions and price, injection and own state, reward parts) with
    the current step shaded. The two figures are stacked, each as wide as a notebook's
    output area. Each day is simulated once, the first time it is picked, and kept;
    moving the slider or changing the agent only redraws.

    Arguments:
        source: a checkpoint path (``best.pt``/``last.pt``), a
            :class:`~gridppo.training.trainer.Trainer` (its current policy) or a policy object
            (a :class:`~gridppo.training.trainer.TrainedPolicy` or a baseline with ``act``).
        config: the config to simulate with; by default the checkpoint's or the
            trainer's (and the default config for a bare policy, which must then have
            been trained on the default nodes).

    Attributes:
        widget: the ipywidgets container to display.
        day, agent, time: the controls (a day dropdown, an agent dropdown, a slider).
        records: day -> its :class:`~gridppo.evaluation.simulate.DayRecord` (days run so far).
        grid_figure, agent_figure: the figures on show.
    """

    def __init__(self, source: Any, config: str | os.PathLike | Mapping[str, Any] | None = None):
        self.policy, self.config = _policy_and_config(source, config)
        # The explorer's own grid: nodes keep state, so it never shares a trainer's.
        self.grid = PowerGrid(self.config)
        self.env = BatchedGridEnv(grid=self.grid, batch_size=1, mode="test", autoreset=False)
        self.records: dict[int, DayRecord] = {}
        self.day_results: dict[int, EvalResult] = {}
        self.grid_figure: Figure | None = None
        self.agent_figure: Figure | None = None
        steps = self.env.steps_per_day
        days = [int(d) for d in self.grid.profiles.test_days]
        self.day = widgets.Dropdown(
            options=[(f"day {d}", d) for d in days],
            value=days[0],
            description="test day",
            style=DESCRIPTION_STYLE,
            layout=column_layout(),
        )
        self.agent = widgets.Dropdown(
            options=[(f"{n.name} ({n.type_name})", n.name) for n in self.grid.nodes],
            description="agent",
            style=DESCRIPTION_STYLE,
            layout=column_layout(),
        )
        self.time = widgets.IntSlider(
            value=0,
            min=0,
            max=steps - 1,
            description="step",
            continuous_update=False,
            style=DESCRIPTION_STYLE,
            # beside the play buttons (about 150 px) in one row
            layout=column_layout(ROW_WIDTH_PX - 170),
        )
        self.play = widgets.Play(value=0, min=0, max=steps - 1, interval=900)
        widgets.jslink((self.play, "value"), (self.time, "value"))
        self.info = widgets.HTML(layout=widgets.Layout(max_width="100%"))
        self.grid_image = image()
        self.agent_image = image()
        self.day.observe(self.on_day_changed, names="value")
        self.agent.observe(self.on_agent_changed, names="value")
        self.time.observe(self.on_time_changed, names="value")
        # Stacked, not side by side: two figures next to each other would be
        # squeezed to half the width (or cut off) in a notebook's output area.
        self.widget = widgets.VBox(
            [
                widgets.HBox([self.day, self.agent], layout=row_layout()),
                widgets.HBox([self.play, self.time], layout=row_layout()),
                self.info,
                self.grid_image,
                self.agent_image,
            ],
            layout=widgets.Layout(width=f"{ROW_WIDTH_PX}px", max_width="100%"),
        )
        self.redraw()

    def record(self, day: int | None = None) -> DayRecord:
        """The record of ``day`` (default: the chosen one), simulated on first use."""
        day = self.day.value if day is None else int(day)
        if day not in self.records:
            result = run_days(self.policy, self.env, days=[day], record=True)
            self.day_results[day] = result
            self.records[day] = result.record
        return self.records[day]

    def on_day_changed(self, change: Mapping[str, Any] | None = None) -> None:
        """Day dropdown: simulate the day if new, redraw."""
        self.redraw()

    def on_agent_changed(self, change: Mapping[str, Any] | None = None) -> None:
        """Agent dropdown: redraw the agent's day (the grid is unchanged)."""
        self.redraw(grid=False)

    def on_time_changed(self, change: Mapping[str, Any] | None = None) -> None:
        """Time slider: redraw at the new step."""
        self.redraw()

    def redraw(self, grid: bool = True) -> None:
        """Draw the grid at the chosen step (unless ``grid=False``) and the chosen
        agent's day."""
        rec, t, day = self.record(), self.time.value, self.day.value
        dt_h = 24.0 / self.env.steps_per_day
        hours = f"{clock(t * dt_h)}-{clock((t + 1) * dt_h)}"
        with DRAW_LOCK:
            if grid or self.grid_figure is None:
                fig = Figure(figsize=(FIGURE_WIDTH_IN, 7.0), layout="constrained")
                plot_grid(
                    self.grid,
                    vm_pu=rec.vm_pu[t, 0],
                    loading_percent=rec.loading_percent[t, 0],
                    actions={a: rec.actions[a][t, 0] for a in rec.actions},
                    flows_mw={a: rec.injection_mw[a][t, 0] for a in rec.injection_mw},
                    branch_p_mw=rec.p_from_mw[t, 0],
                    ax=fig.add_subplot(),
                    title=f"day {day}, {hours}",
                )
                self.grid_figure = fig
                show(self.grid_image, fig)
            fig = Figure(figsize=(FIGURE_WIDTH_IN, 6.5), layout="constrained")
            axes = fig.subplots(3, 1, sharex=True, height_ratios=[1, 1, 1.2])
            node = self.grid.node(self.agent.value)
            plot_agent_day(rec, node, day_column=0, step=t, axes=list(axes))
            fig.suptitle(f"{node.name} ({node.type_name}) on day {day}")
            self.agent_figure = fig
            show(self.agent_image, fig)
        m = rec.metrics
        self.info.value = (
            f"<b>day {day}, {hours}</b>: price {rec.price_eur_per_mwh[t, 0]:.1f} EUR/MWh; "
            f"system cost {rec.system_cost_eur[t, 0]:,.0f} EUR this step, "
            f"{self.day_results[day].kpis['system_cost_eur']:,.0f} EUR over the day; "
            f"voltages {m['min_vm_pu'][t, 0]:.3f}-{m['max_vm_pu'][t, 0]:.3f} p.u.; "
            f"highest loading {m['max_loading_percent'][t, 0]:.0f}%"
        )
