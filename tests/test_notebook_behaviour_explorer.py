"""The behaviour explorer, driven without a browser: scrub a day, switch agent and day."""

from __future__ import annotations

import ipywidgets as widgets
import pytest
from viz_helpers import (
    colliding_tick_labels,
    png_width_px,
    smallest_font_px,
    widget_tree,
    width_of,
)

from gridppo.baselines.heuristic import HeuristicPolicy
from gridppo.env import BatchedGridEnv
from gridppo.notebook.behaviour_explorer import BehaviourExplorer
from gridppo.notebook.common import DPI, ROW_WIDTH_PX
from gridppo.training.trainer import Trainer

PNG = b"\x89PNG"


@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> Trainer:
    """A trainer after two tiny updates."""
    root = tmp_path_factory.mktemp("explorer")
    overrides = {
        "train.num_days": 8,
        "train.total_updates": 2,
        "train.eval_interval": 1,
        "train.tensorboard": False,
        "time.validation_days": 3,
        "time.test_days": 3,
    }
    trainer = Trainer.from_config(overrides=overrides, root=root)
    trainer.train(progress_bar=False)
    return trainer


def test_explorer_scrubs_through_a_day(trained):
    explorer = BehaviourExplorer(trained)
    first_day = explorer.day.value
    assert list(explorer.records) == [first_day]
    buses = explorer.grid_figure.gridppo["bus_collection"].get_array().copy()
    marker = explorer.agent_figure.gridppo["step_markers"][0].get_x()
    explorer.time.value = 12
    assert not (explorer.grid_figure.gridppo["bus_collection"].get_array() == buses).all()
    dt_h = 24.0 / explorer.env.steps_per_day
    assert explorer.agent_figure.gridppo["step_markers"][0].get_x() == pytest.approx(12 * dt_h)
    assert explorer.agent_figure.gridppo["step_markers"][0].get_x() != pytest.approx(marker)
    assert explorer.grid_image.value[:4] == PNG and explorer.agent_image.value[:4] == PNG
    # the line above the figures names the step's time of day
    assert f"day {first_day}, 12:00-13:00" in explorer.info.value
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


def test_explorer_from_checkpoint_and_from_a_baseline(trained):
    explorer = BehaviourExplorer(trained.checkpoint_dir / "last.pt")
    assert [n for _, n in explorer.agent.options] == trained.env.agents
    assert explorer.record().vm_pu.shape[:2] == (explorer.env.steps_per_day, 1)
    env = BatchedGridEnv(batch_size=1, mode="test", autoreset=False)
    assert BehaviourExplorer(HeuristicPolicy(env)).record().actions
    with pytest.raises(TypeError, match="source"):
        BehaviourExplorer(42)


def test_explorer_fits_a_notebook_output(trained):
    """The grid and the agent's day are stacked, each at most as wide as the output."""
    explorer = BehaviourExplorer(trained)
    assert width_of(explorer.widget) == ROW_WIDTH_PX
    assert explorer.widget.layout.max_width == "100%"
    for item in widget_tree(explorer.widget):
        width = width_of(item)
        assert width is None or width <= ROW_WIDTH_PX
        if isinstance(item, widgets.HBox):
            assert explorer.grid_image not in item.children
            assert explorer.agent_image not in item.children
    top = list(explorer.widget.children)
    assert top.index(explorer.grid_image) < top.index(explorer.agent_image)
    for fig, shown in (
        (explorer.grid_figure, explorer.grid_image),
        (explorer.agent_figure, explorer.agent_image),
    ):
        assert png_width_px(shown.value) <= ROW_WIDTH_PX
        assert smallest_font_px(fig, DPI) >= 11.0 - 0.2
    assert colliding_tick_labels(explorer.agent_figure) == []
