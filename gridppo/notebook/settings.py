"""The training panel's settings: one control per config key, with the schema's help.

Each control edits one dotted config key (``ppo.lr``, ``train.total_updates``, ...);
its tooltip is that key's one-line help from the schema, as on the command line.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import ipywidgets as widgets

from gridppo.config.schema import SCHEMA
from gridppo.notebook.common import DESCRIPTION_STYLE, column_layout

__all__ = ["setting_controls"]


def _help(dotted: str) -> str:
    """The schema's one-line help for a dotted key (the controls' tooltip)."""
    section, _, key = dotted.rpartition(".")
    return SCHEMA[section][key].help


def _with(options: list[Any], value: Any) -> list[Any]:
    """``options`` plus ``value`` if missing, sorted."""
    return sorted({*options, value})


def setting_controls(cfg: Mapping[str, Any]) -> dict[str, widgets.ValueWidget]:
    """The panel's controls, dotted key -> widget, starting from the values in ``cfg``.

    Each is :data:`~gridppo.notebook.common.COLUMN_WIDTH_PX` wide, so two columns fit
    a notebook's output area. ``ppo.hidden_sizes`` is one width (every layer that wide).
    """
    ppo, train = cfg["ppo"], cfg["train"]
    hidden = ppo["hidden_sizes"][0]
    controls: dict[str, widgets.ValueWidget] = {
        "ppo.lr": widgets.FloatLogSlider(
            value=ppo["lr"],
            base=10,
            min=-5,
            max=-2,
            step=0.1,
            readout_format=".1e",
            description="learning rate",
        ),
        "ppo.clip_coef": widgets.FloatSlider(
            value=ppo["clip_coef"], min=0.05, max=0.5, step=0.01, description="clip range"
        ),
        "ppo.update_epochs": widgets.IntSlider(
            value=ppo["update_epochs"], min=1, max=20, description="epochs per update"
        ),
        "ppo.hidden_sizes": widgets.Dropdown(
            options=_with([16, 32, 64, 128, 256], hidden),
            value=hidden,
            description="hidden units",
        ),
        "train.total_updates": widgets.IntSlider(
            value=train["total_updates"],
            min=1,
            max=max(300, train["total_updates"]),
            description="updates",
        ),
        "train.num_days": widgets.Dropdown(
            options=_with([8, 16, 32, 64, 128], train["num_days"]),
            value=train["num_days"],
            description="parallel days",
        ),
        "ppo.parameter_sharing": widgets.Dropdown(
            options=[("none (one network per node)", "none"), ("per type", "per_type")],
            value=ppo["parameter_sharing"],
            description="parameter sharing",
        ),
        "ppo.critic": widgets.Dropdown(
            options=[("local (IPPO)", "local"), ("centralised (MAPPO)", "centralised")],
            value=ppo["critic"],
            description="critic",
        ),
        "ppo.constraint": widgets.Dropdown(
            options=[("fixed penalty", "none"), ("Lagrange multipliers", "lagrangian")],
            value=ppo["constraint"],
            description="grid limits",
        ),
        "reward.grid_penalty_weight": widgets.FloatSlider(
            value=cfg["reward"]["grid_penalty_weight"],
            min=0.0,
            max=max(10.0, cfg["reward"]["grid_penalty_weight"]),
            step=0.1,
            description="grid penalty weight",
        ),
        "seed": widgets.BoundedIntText(value=cfg["seed"], min=0, max=10**6, description="seed"),
    }
    for key, control in controls.items():
        control.tooltip = _help(key)
        control.style = DESCRIPTION_STYLE
        control.layout = column_layout()
    return controls
