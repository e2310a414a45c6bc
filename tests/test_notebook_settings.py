"""The training panel's controls: one per config key, the schema's help, widths that fit."""

from __future__ import annotations

from gridppo.config.loader import load_config
from gridppo.config.schema import SCHEMA
from gridppo.notebook.common import COLUMN_WIDTH_PX
from gridppo.notebook.settings import setting_controls


def test_controls_start_from_the_config_and_carry_the_schemas_help():
    cfg = load_config(None, {"train.num_days": 48, "ppo.lr": 3e-4, "seed": 7})
    controls = setting_controls(cfg)
    assert controls["ppo.lr"].value == 3e-4
    assert controls["seed"].value == 7
    # a value off the menu joins it instead of being lost
    assert controls["train.num_days"].value == 48
    assert 48 in controls["train.num_days"].options
    for key, control in controls.items():
        section, _, name = key.rpartition(".")
        assert control.tooltip == SCHEMA[section][name].help
        assert control.layout.width == f"{COLUMN_WIDTH_PX}px"
        assert control.layout.max_width == "100%"
        assert control.style.description_width == "150px"
