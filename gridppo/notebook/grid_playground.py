"""The grid playground: move a load, a PV plant or a producer, watch the power flow."""

from __future__ import annotations

import html
import os
from collections.abc import Mapping
from typing import Any

import ipywidgets as widgets
import numpy as np
from matplotlib.figure import Figure

from gridppo.config.loader import load_config
from gridppo.grid.network import PowerGrid
from gridppo.grid.physics import Injections, PowerFlowResult
from gridppo.notebook.common import (
    COLUMN_WIDTH_PX,
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
from gridppo.viz.grid_diagram import plot_grid

__all__ = ["GridPlayground"]


class GridPlayground(Displayable):
    """Move a load, a PV plant or a producer and watch the power flow answer.

    Every change re-runs the AC power flow on one scenario: the grid's base injections
    (every element at its case value, loads scaled by the load-level slider) with the
    settings below written into the chosen nodes' columns. Batteries stay idle.

    - **load**: pick a consumer or business and scale its demand (0-5 times its base);
    - **PV**: pick a business and set its PV output (MW; up to three times the
      installed power, to see what a bigger plant would do);
    - **producer**: pick a power plant and set its output (MW, within its limits).

    The results show convergence, the lowest and highest bus voltage, the buses
    outside the band, the busiest branch and the overloaded ones, the power bought
    from the upstream grid (the slack) and the losses, above the grid diagram.

    Arguments:
        config: a YAML path, a config dict or None (the default configuration).
        grid: an existing :class:`~gridppo.grid.network.PowerGrid` to use instead (only its
            power flow is run; no node state changes).

    Attributes:
        widget: the ipywidgets container to display.
        last_result: the latest :class:`~gridppo.grid.physics.PowerFlowResult` (one row).
        load_scale, pv_mw, producer_mw: the settings, node name -> value.
        grid_figure: the diagram on show.
    """

    def __init__(
        self,
        config: str | os.PathLike | Mapping[str, Any] | None = None,
        grid: PowerGrid | None = None,
    ):
        if grid is None:
            grid = PowerGrid(
                load_config(str(config) if isinstance(config, os.PathLike) else config)
            )
        self.grid = grid
        nodes = grid.nodes
        # The playground knows the shipped types; a student's own type keeps its base
        # setpoints here (it has no slider).
        # Chosen by what each node says it has, so a registered type with a load, PV or
        # a generator appears here too.
        self.load_nodes = [n for n in nodes if n.base_demand_mw() is not None]
        self.pv_nodes = [n for n in nodes if n.pv_capacity_mw() > 0]
        self.producer_nodes = [n for n in nodes if n.dispatch() is not None]
        self.last_result: PowerFlowResult | None = None
        self.grid_figure: Figure | None = None
        self._syncing = False

        def picker(group: list, what: str) -> widgets.Dropdown:
            return widgets.Dropdown(
                options=[n.name for n in group],
                description=what,
                style=DESCRIPTION_STYLE,
                layout=column_layout(),
            )

        def slider(description: str, **kw: Any) -> widgets.FloatSlider:
            return widgets.FloatSlider(
                description=description,
                continuous_update=False,
                style=DESCRIPTION_STYLE,
                layout=column_layout(),
                **kw,
            )

        self.load_level = slider("load level (p.u.)", value=1.0, min=0.5, max=1.5, step=0.05)
        self.load_node = picker(self.load_nodes, "load")
        self.load_slider = slider("x base demand", value=1.0, min=0.0, max=5.0, step=0.1)
        self.pv_node = picker(self.pv_nodes, "PV of")
        self.pv_slider = slider("PV output (MW)", value=0.0, min=0.0, max=1.0, step=0.5)
        self.producer_node = picker(self.producer_nodes, "producer")
        self.producer_slider = slider("output (MW)", value=0.0, min=0.0, max=1.0, step=1.0)
        self.reset_button = widgets.Button(description="Reset", icon="undo")
        self.results_html = widgets.HTML(layout=column_layout())
        self.grid_image = image()
        for picked in (self.load_node, self.pv_node, self.producer_node):
            picked.observe(self.on_node_changed, names="value")
        for moved in (self.load_level, self.load_slider, self.pv_slider, self.producer_slider):
            moved.observe(self.on_setting_changed, names="value")
        self.reset_button.on_click(self.on_reset_clicked)
        # The settings and the numbers side by side, the diagram under them at the full
        # width of the output area (beside the settings it would be too small to read).
        column = widgets.Layout(width=f"{COLUMN_WIDTH_PX + 10}px", max_width="100%")
        settings = widgets.VBox(
            [
                self.load_level,
                self.load_node,
                self.load_slider,
                self.pv_node,
                self.pv_slider,
                self.producer_node,
                self.producer_slider,
                self.reset_button,
            ],
            layout=column,
        )
        results = widgets.VBox([widgets.HTML("<b>Power flow</b>"), self.results_html])
        results.layout = column
        self.widget = widgets.VBox(
            [
                widgets.HTML("<b>Change the grid, see the power flow</b>"),
                widgets.HBox([settings, results], layout=row_layout("flex-start")),
                self.grid_image,
            ],
            layout=widgets.Layout(width=f"{ROW_WIDTH_PX}px", max_width="100%"),
        )
        self.reset()

    # -- settings ----------------------------------------------------------------------
    def reset(self) -> None:
        """Every node back to its base value, then re-run."""
        self.load_scale = {n.name: 1.0 for n in self.load_nodes}
        self.pv_mw = {n.name: 0.0 for n in self.pv_nodes}
        self.producer_mw = {
            n.name: float(self.grid.base_gen_p_mw[n.dispatch().gen_index])
            for n in self.producer_nodes
        }
        self._syncing = True
        self.load_level.value = 1.0
        self._syncing = False
        self.on_node_changed()

    def on_reset_clicked(self, button: widgets.Button | None = None) -> None:
        """Reset button."""
        self.reset()

    def on_node_changed(self, change: Mapping[str, Any] | None = None) -> None:
        """A node dropdown: show that node's settings on the sliders, then re-run."""
        self._syncing = True
        try:
            if self.load_nodes:
                self.load_slider.value = self.load_scale[self.load_node.value]
            if self.pv_nodes:
                node = self.grid.node(self.pv_node.value)
                installed = node.pv_capacity_mw()
                self.pv_slider.max = max(3.0 * installed, 1.0)
                self.pv_slider.value = self.pv_mw[node.name]
            if self.producer_nodes:
                node = self.grid.node(self.producer_node.value)
                lo, hi = node.dispatch().min_p_mw, node.dispatch().max_p_mw
                # widen before narrowing so that min never exceeds max on the way
                self.producer_slider.max = max(hi, self.producer_slider.max)
                self.producer_slider.min = lo
                self.producer_slider.max = hi
                self.producer_slider.value = self.producer_mw[node.name]
        finally:
            self._syncing = False
        self.update()

    def on_setting_changed(self, change: Mapping[str, Any] | None = None) -> None:
        """A slider: store its value for the chosen node, then re-run."""
        if self._syncing:
            return
        if self.load_nodes:
            self.load_scale[self.load_node.value] = float(self.load_slider.value)
        if self.pv_nodes:
            self.pv_mw[self.pv_node.value] = float(self.pv_slider.value)
        if self.producer_nodes:
            self.producer_mw[self.producer_node.value] = float(self.producer_slider.value)
        self.update()

    def injections(self) -> Injections:
        """The setpoints of one scenario: base injections plus the settings."""
        level = float(self.load_level.value)
        inj = self.grid.base_injections(1, level)
        for node in self.load_nodes:
            node.write_demand_mw(inj, node.base_demand_mw() * level * self.load_scale[node.name])
        for node in self.pv_nodes:
            node.write_pv_mw(inj, self.pv_mw[node.name])
        for node in self.producer_nodes:
            inj.gen_p_mw[0, node.dispatch().gen_index] = self.producer_mw[node.name]
        return inj

    def node_injections_mw(self, inj: Injections) -> dict[str, float]:
        """Each node's net injection into the grid (MW, positive feeds the grid)."""
        flows: dict[str, float] = {}
        for node in self.grid.nodes:
            mw = 0.0
            if hasattr(node, "gen_index"):
                mw += inj.gen_p_mw[0, node.gen_index]
            if hasattr(node, "sgen_index"):
                mw += inj.sgen_p_mw[0, node.sgen_index]
            if hasattr(node, "load_index"):
                mw -= inj.load_p_mw[0, node.load_index]
            if hasattr(node, "storage_index"):
                mw -= inj.storage_p_mw[0, node.storage_index]
            flows[node.name] = float(mw)
        return flows

    # -- results -----------------------------------------------------------------------
    def update(self) -> PowerFlowResult:
        """Run the power flow with the current settings and redraw; returns the result."""
        inj = self.injections()
        self.last_result = self.grid.run_power_flow(inj)
        self.results_html.value = self._results_html()
        pf = self.last_result
        with DRAW_LOCK:
            fig = Figure(figsize=(FIGURE_WIDTH_IN, 7.2), layout="constrained")
            plot_grid(
                self.grid,
                vm_pu=pf.vm_pu[0],
                loading_percent=self.grid.loading_percent(pf)[0],
                flows_mw=self.node_injections_mw(inj),
                branch_p_mw=pf.p_from_mw[0],
                ax=fig.add_subplot(),
            )
            self.grid_figure = fig
            show(self.grid_image, fig)
        return pf

    def summary(self) -> dict[str, Any]:
        """The latest power flow in numbers.

        Keys: ``converged``, ``min_vm_pu`` and ``min_vm_bus``, ``max_vm_pu`` and
        ``max_vm_bus``, ``voltage_violations`` (buses outside the band) and
        ``buses_outside_band``, ``max_loading_percent`` and ``max_loading_branch``,
        ``overloaded_branches`` (names), ``ext_grid_import_mw`` (bought from the
        upstream grid at the slack bus) and ``losses_mw``.
        """
        pf, grid = self.last_result, self.grid
        if pf is None:
            raise RuntimeError("no power flow yet; call update()")
        limits = grid.config["grid"]
        vm = pf.vm_pu[0]
        loading = grid.loading_percent(pf)[0]
        outside = (vm < limits["min_vm_pu"]) | (vm > limits["max_vm_pu"])
        over = loading > limits["max_loading_percent"]
        return {
            "converged": bool(pf.converged[0]),
            "min_vm_pu": float(vm.min()),
            "min_vm_bus": int(vm.argmin()),
            "max_vm_pu": float(vm.max()),
            "max_vm_bus": int(vm.argmax()),
            "voltage_violations": int(outside.sum()),
            "buses_outside_band": [int(b) for b in np.flatnonzero(outside)],
            "max_loading_percent": float(loading.max()),
            "max_loading_branch": grid.branch_names[int(loading.argmax())],
            "overloaded_branches": [grid.branch_names[i] for i in np.flatnonzero(over)],
            "ext_grid_import_mw": float(pf.ext_grid_p_mw[0]),
            "losses_mw": float(pf.losses_mw[0]),
        }

    def _results_html(self) -> str:
        """The latest power flow as a two-column table (what, value) for the panel."""
        s = self.summary()
        limits = self.grid.config["grid"]
        if not s["converged"]:
            return (
                "<p style='color:#e31a1c'><b>The power flow did not converge</b>: no "
                "operating point carries this much power. Undo the last change.</p>"
            )
        outside = ", ".join(map(str, s["buses_outside_band"])) or "none"
        overloaded = ", ".join(s["overloaded_branches"]) or "none"
        rows = [
            (
                "voltages",
                f"{s['min_vm_pu']:.3f} p.u. (bus {s['min_vm_bus']}) to "
                f"{s['max_vm_pu']:.3f} p.u. (bus {s['max_vm_bus']}); "
                f"band {limits['min_vm_pu']:g}-{limits['max_vm_pu']:g}",
            ),
            ("buses outside the band", f"{s['voltage_violations']}: {outside}"),
            (
                "busiest branch",
                f"{s['max_loading_branch']} at {s['max_loading_percent']:.0f}%",
            ),
            (
                "overloaded branches",
                f"{len(s['overloaded_branches'])}: {html.escape(overloaded)}",
            ),
            ("bought upstream (slack)", f"{s['ext_grid_import_mw']:.1f} MW"),
            ("losses", f"{s['losses_mw']:.2f} MW"),
        ]
        # the names stay on one line; the values wrap in what is left of the column
        cells = "".join(
            f"<tr><td style='white-space: nowrap; vertical-align: top'>{name}</td>"
            f"<td>{value}</td></tr>"
            for name, value in rows
        )
        return f"<table style='border-spacing: 10px 2px; line-height: 1.4'>{cells}</table>"
