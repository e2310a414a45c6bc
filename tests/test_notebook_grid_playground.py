"""The grid playground, driven without a browser: move settings, read the power flow."""

from __future__ import annotations

import ipywidgets as widgets
import numpy as np
import pytest
from viz_helpers import png_width_px, smallest_font_px, widget_tree, width_of

from gridppo.grid.network import PowerGrid
from gridppo.notebook.common import DPI, ROW_WIDTH_PX
from gridppo.notebook.grid_playground import GridPlayground


def test_playground_producer_setpoint_lowers_slack_import(grid: PowerGrid):
    playground = GridPlayground(grid=grid)
    base = playground.summary()
    assert base["converged"] and base["voltage_violations"] == 0
    playground.producer_node.value = "producer_1"
    assert playground.producer_slider.max == grid.node("producer_1").params["max_p_mw"]
    playground.producer_slider.value = 80.0
    raised = playground.summary()
    assert playground.producer_mw["producer_1"] == 80.0
    assert raised["ext_grid_import_mw"] < base["ext_grid_import_mw"] - 60.0
    assert playground.last_result.ext_grid_p_mw[0] == raised["ext_grid_import_mw"]
    # another producer's slider shows its own setting; going back shows 80 again
    playground.producer_node.value = "producer_2"
    assert playground.producer_slider.value == 0.0
    playground.producer_node.value = "producer_1"
    assert playground.producer_slider.value == 80.0
    playground.reset_button.click()
    assert playground.summary()["ext_grid_import_mw"] == pytest.approx(
        base["ext_grid_import_mw"], abs=1e-6
    )


def test_playground_huge_load_and_pv(grid: PowerGrid):
    playground = GridPlayground(grid=grid)
    base = playground.summary()
    colours = playground.grid_figure.gridppo["bus_collection"].get_array().copy()
    playground.load_node.value = "business_13"
    playground.load_slider.value = 4.0
    heavy = playground.summary()
    assert heavy["converged"]
    assert heavy["min_vm_pu"] < base["min_vm_pu"] - 0.02
    assert heavy["voltage_violations"] > 0 and 13 in heavy["buses_outside_band"]
    assert heavy["overloaded_branches"]  # names such as 'line 12-13'
    assert "overloaded branches" in playground.results_html.value
    assert not np.allclose(playground.grid_figure.gridppo["bus_collection"].get_array(), colours)
    # PV at the same bus pushes its voltage back up
    playground.pv_node.value = "business_13"
    playground.pv_slider.value = 20.0
    assert playground.summary()["min_vm_pu"] > heavy["min_vm_pu"]


def test_playground_fits_a_notebook_output(grid: PowerGrid):
    """Settings and results side by side in two columns, the diagram beneath at the
    output's width: sliders wide enough to move, no text too small to read."""
    playground = GridPlayground(grid=grid)
    assert width_of(playground.widget) == ROW_WIDTH_PX
    assert playground.widget.layout.max_width == "100%"
    sliders = [w for w in widget_tree(playground.widget) if isinstance(w, widgets.FloatSlider)]
    assert len(sliders) == 4
    for item in widget_tree(playground.widget):
        width = width_of(item)
        assert width is None or width <= ROW_WIDTH_PX
    for slider in sliders:
        assert width_of(slider) >= 300 and slider.layout.max_width == "100%"
    assert width_of(playground.results_html) >= 300  # the table does not wrap word by word
    # the diagram is not beside the controls but under them
    top = playground.widget.children
    assert playground.grid_image in top
    assert png_width_px(playground.grid_image.value) <= ROW_WIDTH_PX
    assert smallest_font_px(playground.grid_figure, DPI) >= 11.0 - 0.2
