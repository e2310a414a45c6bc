"""The notebook widgets, driven without a browser: set values, click buttons, look.

Budgets are tiny (a few updates on 8 parallel days) so the whole module runs in
seconds; what is checked is the wiring, not learning.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np
import pytest

from gridppo import PowerGrid, Trainer
from gridppo.notebook.widgets import BehaviourExplorer, GridPlayground, TrainingPanel

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


# -- TrainingPanel -------------------------------------------------------------------------


def test_panel_controls_map_to_overrides(tmp_path):
    panel = TrainingPanel(root=tmp_path)
    assert panel.state == "idle" and panel.status == "idle"
    assert panel.overrides()["train.total_updates"] == 30  # quick start
    c = panel.controls
    c["ppo.lr"].value = 1e-3
    c["ppo.clip_coef"].value = 0.3
    c["ppo.update_epochs"].value = 7
    c["ppo.hidden_sizes"].value = 64
    c["train.total_updates"].value = 12
    c["ppo.parameter_sharing"].value = "per_type"
    c["reward.grid_penalty_weight"].value = 2.5
    c["seed"].value = 5
    panel.extra.value = "ppo.ent_coef=0.01 ppo.hidden_sizes=[8,8,8]"
    out = panel.overrides()
    assert out["ppo.lr"] == pytest.approx(1e-3)
    assert out["ppo.clip_coef"] == pytest.approx(0.3)
    assert out["ppo.update_epochs"] == 7
    assert out["train.total_updates"] == 12
    assert out["ppo.parameter_sharing"] == "per_type"
    assert out["reward.grid_penalty_weight"] == pytest.approx(2.5)
    assert out["seed"] == 5
    assert out["ppo.ent_coef"] == 0.01
    assert out["ppo.hidden_sizes"] == [8, 8, 8]  # the text box wins over the dropdown
    panel.extra.value = ""
    assert panel.overrides()["ppo.hidden_sizes"] == [64, 64]


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


# -- BehaviourExplorer ---------------------------------------------------------------------


@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> Trainer:
    """A trainer after two tiny updates."""
    root = tmp_path_factory.mktemp("explorer")
    trainer = Trainer.from_config(overrides={**TINY, "train.total_updates": 2}, root=root)
    trainer.train(progress_bar=False)
    return trainer


def test_explorer_scrubs_through_a_day(trained):
    explorer = BehaviourExplorer(trained)
    first_day = explorer.day.value
    assert list(explorer.records) == [first_day]
    buses = explorer.grid_figure.gridppo["bus_collection"].get_array().copy()
    marker = explorer.agent_figure.gridppo["step_markers"][0].get_x()
    explorer.time.value = 12
    assert not np.allclose(explorer.grid_figure.gridppo["bus_collection"].get_array(), buses)
    dt_h = 24.0 / explorer.env.steps_per_day
    assert explorer.agent_figure.gridppo["step_markers"][0].get_x() == pytest.approx(12 * dt_h)
    assert explorer.agent_figure.gridppo["step_markers"][0].get_x() != pytest.approx(marker)
    assert explorer.grid_image.value[:4] == PNG and explorer.agent_image.value[:4] == PNG
    grid_figure = explorer.grid_figure
    explorer.agent.value = "battery_3"
    assert set(explorer.agent_figure.gridppo["action_lines"]) == {"power"}
    assert explorer.grid_figure is grid_figure  # a new agent leaves the grid as it was
    # a new day runs once; going back uses the cached record
    record = explorer.records[first_day]
    explorer.day.value = explorer.day.options[1][1]
    assert len(explorer.records) == 2
    explorer.day.value = first_day
    assert len(explorer.records) == 2 and explorer.record() is record
    assert f"day {first_day}" in explorer.info.value


def test_explorer_from_checkpoint(trained):
    explorer = BehaviourExplorer(trained.checkpoint_dir / "last.pt")
    assert [n for _, n in explorer.agent.options] == trained.env.agents
    assert explorer.record().vm_pu.shape[:2] == (explorer.env.steps_per_day, 1)
    with pytest.raises(TypeError, match="source"):
        BehaviourExplorer(42)


# -- GridPlayground ------------------------------------------------------------------------


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
