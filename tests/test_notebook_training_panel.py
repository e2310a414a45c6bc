"""The training panel, driven without a browser: set values, click buttons, look.

Budgets are tiny (a few updates on 8 parallel days) so the module runs in seconds; what
is checked is the wiring and the fit in a notebook, not learning.
"""

from __future__ import annotations

import time
from typing import Any

import ipywidgets as widgets
import numpy as np
import pytest
from viz_helpers import (
    colliding_tick_labels,
    png_width_px,
    smallest_font_px,
    widget_tree,
    width_of,
)

from gridppo.notebook.common import DPI, ROW_WIDTH_PX
from gridppo.notebook.training_panel import QUICK_START, TrainingPanel

PNG = b"\x89PNG"

# A run that takes a second or two: eval after every update so on_eval fires, on a few
# validation days, and a few test days to compare on at the end.
TINY = {
    "train.num_days": 8,
    "train.total_updates": 3,
    "train.eval_interval": 1,
    "train.tensorboard": False,
    "time.validation_days": 3,
    "time.test_days": 3,
}


def wait_for(condition: Any, timeout_s: float = 60.0) -> bool:
    """Poll ``condition()`` until it is true or the time is up."""
    end = time.monotonic() + timeout_s
    while time.monotonic() < end:
        if condition():
            return True
        time.sleep(0.02)
    return False


def test_panel_controls_map_to_overrides(tmp_path):
    panel = TrainingPanel(root=tmp_path)
    assert panel.state == "idle" and panel.status == "idle"
    assert panel.overrides()["train.total_updates"] == QUICK_START["train.total_updates"]
    c = panel.controls
    c["ppo.lr"].value = 1e-3
    c["ppo.clip_coef"].value = 0.3
    c["ppo.update_epochs"].value = 7
    c["ppo.hidden_sizes"].value = 64
    c["train.total_updates"].value = 12
    c["ppo.parameter_sharing"].value = "per_type"
    c["ppo.critic"].value = "centralised"
    c["ppo.constraint"].value = "lagrangian"
    c["reward.grid_penalty_weight"].value = 2.5
    c["seed"].value = 5
    panel.extra.value = "ppo.ent_coef=0.01 ppo.hidden_sizes=[8,8,8]"
    out = panel.overrides()
    assert out["ppo.lr"] == pytest.approx(1e-3)
    assert out["ppo.clip_coef"] == pytest.approx(0.3)
    assert out["ppo.update_epochs"] == 7
    assert out["train.total_updates"] == 12
    assert out["ppo.parameter_sharing"] == "per_type"
    assert out["ppo.critic"] == "centralised"
    assert out["ppo.constraint"] == "lagrangian"
    assert out["reward.grid_penalty_weight"] == pytest.approx(2.5)
    assert out["seed"] == 5
    assert out["ppo.ent_coef"] == 0.01
    assert out["ppo.hidden_sizes"] == [8, 8, 8]  # the text box wins over the dropdown
    panel.extra.value = ""
    assert panel.overrides()["ppo.hidden_sizes"] == [64, 64]


def test_panel_fits_a_notebook_output(tmp_path):
    """No row wider than the output area, the checkbox's label not cut off."""
    panel = TrainingPanel(root=tmp_path)
    assert width_of(panel.widget) == ROW_WIDTH_PX and panel.widget.layout.max_width == "100%"
    for item in widget_tree(panel.widget):
        width = width_of(item)
        assert width is None or width <= ROW_WIDTH_PX, item
        if isinstance(item, widgets.HBox):
            # a row either fits or wraps onto the next line
            total = sum(width_of(child) or 0 for child in item.children)
            assert total <= ROW_WIDTH_PX or item.layout.flex_flow == "row wrap"
    assert panel.opf_checkbox.layout.width == "auto"
    for control in panel.controls.values():
        assert width_of(control) >= 300  # room for the slider between label and readout


@pytest.mark.parametrize(
    ("setting", "message"),
    [("ppo.lrr=0.001", "ppo.lrr: unknown key"), ("ppo.clip_coef", "KEY=VALUE")],
)
def test_panel_bad_setting_shows_error(tmp_path, setting, message):
    panel = TrainingPanel(root=tmp_path, background=False)
    panel.extra.value = setting
    panel.train_button.click()  # must not raise
    assert panel.state == "error"
    assert panel.status.startswith("error: ") and message in panel.status
    assert "\n" not in panel.status
    assert panel.error is not None
    assert not panel.running and not panel.train_button.disabled and panel.stop_button.disabled


def test_panel_trains_blocking_and_compares(tmp_path):
    panel = TrainingPanel(root=tmp_path, overrides=TINY, background=False)
    panel.train_button.click()
    assert panel.state == "finished", panel.status
    assert panel.status.startswith("finished 3 updates")
    trainer = panel.trainer
    assert len(panel.history) == 3 and trainer.update == 3
    assert panel.progress.value == panel.progress.max == 3
    assert len(trainer.eval_history) == 3  # on_eval fired every update
    # live curves: one line per agent, then per type with the toggle
    lines = panel.figure.gridppo["lines"]
    assert set(lines) == set(trainer.env.agents)
    assert panel.curves_image.value[:4] == PNG
    # the baselines' system cost is drawn beside the agents'
    assert len(panel.figure.gridppo["axes"]["cost"].get_lines()) == 3
    panel.by.value = "type"
    assert set(panel.figure.gridppo["lines"]) == {n.type_name for n in trainer.grid.nodes}
    # the end: trained policy against the baselines and the day's optimum (ticked by
    # default), on the test days
    compared = {"ippo", "random", "heuristic", "optimum"}
    assert set(panel.results) == compared
    assert set(panel.kpi_figure.gridppo["policies"]) == compared
    test_days = trainer.grid.profiles.test_days
    for result in panel.results.values():
        np.testing.assert_array_equal(result.days, test_days)
    assert panel.kpi_image.value[:4] == PNG
    assert "system_cost_eur" in panel.kpi_html.value
    assert "gap_to_optimum_percent" in panel.kpi_html.value
    assert "overflow-x: auto" in panel.kpi_html.value  # a wide table scrolls, not the panel
    # both figures fit the output area and read well
    for fig, shown in ((panel.figure, panel.curves_image), (panel.kpi_figure, panel.kpi_image)):
        assert png_width_px(shown.value) <= ROW_WIDTH_PX
        assert smallest_font_px(fig, DPI) >= 11.0 - 0.2
        assert colliding_tick_labels(fig) == []
    panel.opf_checkbox.value = False  # unticked: no optimum
    assert set(panel._compare(trainer)) == {"ippo", "random", "heuristic"}
    assert (trainer.log_dir / "metrics.csv").is_file()
    assert str(trainer.log_dir).startswith(str(tmp_path))
    panel.figure.savefig(tmp_path / "curves.png")
    assert (tmp_path / "curves.png").stat().st_size > 0


def test_panel_stop_ends_background_training(tmp_path):
    panel = TrainingPanel(root=tmp_path, overrides={**TINY, "train.eval_interval": 50})
    panel.controls["train.total_updates"].value = 200
    panel.train_button.click()
    assert panel.running and panel.train_button.disabled and not panel.stop_button.disabled
    panel.train_button.click()  # ignored while a run is in progress
    assert wait_for(lambda: panel.trainer is not None and panel.trainer.update >= 1)
    panel.stop_button.click()
    assert panel.join(timeout=60), "training did not stop"
    assert not panel.thread.is_alive()
    assert 1 <= panel.trainer.update < 200
    assert panel.state == "stopped" and panel.status.startswith("stopped after")
    assert panel.progress.value == panel.trainer.update
    assert "ippo" in panel.results  # the final comparison also runs after a stop
