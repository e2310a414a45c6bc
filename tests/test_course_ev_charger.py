"""The checker of assignment 02's EV charging hub (gridppo.course.ev_charger).

:class:`EVHub` is a right answer; each wrong answer replaces one of its members with a
typical mistake, and the checker must name it.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from typing import Any

import numpy as np
import pandapower as pp
import pytest

from gridppo.config.fields import ConfigError, Field
from gridppo.config.node_specs import NODE_TYPES, register_node_type
from gridppo.course.common import ExerciseError
from gridppo.course.ev_charger import check_ev_charger
from gridppo.grid.context import StepContext
from gridppo.grid.node import Node


@pytest.fixture
def node_types() -> Iterator[None]:
    """Node types registered by a test are removed after it."""
    saved = dict(NODE_TYPES)
    yield
    NODE_TYPES.clear()
    NODE_TYPES.update(saved)


class EVHub(Node):
    """A right answer to assignment 02 (not registered: each test registers its own)."""

    type_name = "ev_charger"
    PARAMS = {
        "max_p_mw": Field(
            4.0, "float", "Largest charging power (MW).", 0.0, 1e3, low_exclusive=True
        ),
        "energy_mwh": Field(24.0, "float", "Energy needed (MWh).", 0.0, 1e4),
        "arrival_hour": Field(8.0, "float", "Arrival.", 0.0, 24.0),
        "departure_hour": Field(18.0, "float", "Departure.", 0.0, 24.0),
        "unmet_cost_eur_per_mwh": Field(300.0, "float", "Unmet cost.", 0.0, 1e5),
    }
    LOCAL_FEATURES = ("plugged_in", "energy_remaining", "hours_to_departure")
    ACTIONS = ("charge",)
    STATE = ("injection_mw", "remaining_mwh")

    @classmethod
    def check_params(cls, name: str, params: Mapping[str, Any]) -> None:
        window = params["departure_hour"] - params["arrival_hour"]
        if window <= 0 or params["energy_mwh"] > params["max_p_mw"] * window:
            raise ConfigError(f"nodes.{name}.energy_mwh: does not fit")

    def attach(self, grid: Any) -> None:
        self.load_index = pp.create_load(grid.net, self.bus, p_mw=0.0, name=self.name)

    def reset(self, batch_size: int, rng: np.random.Generator) -> None:
        super().reset(batch_size, rng)
        self.remaining_mwh = np.full(batch_size, self.params["energy_mwh"])

    def reset_rows(self, rows: np.ndarray, rng: np.random.Generator) -> None:
        super().reset_rows(rows, rng)
        self.remaining_mwh[rows] = self.params["energy_mwh"]

    def plugged(self, ctx: StepContext) -> np.ndarray:
        hours = ctx.step * ctx.dt_h
        return (hours >= self.params["arrival_hour"]) & (hours < self.params["departure_hour"])

    def power(self, action: np.ndarray, ctx: StepContext) -> np.ndarray:
        requested = self.params["max_p_mw"] * (action[:, 0] + 1) / 2
        return np.where(self.plugged(ctx), np.minimum(requested, self.remaining_mwh / ctx.dt_h), 0)

    def apply_action(self, action: np.ndarray, ctx: StepContext, inj: Any) -> None:
        self.p_mw = self.power(action, ctx)
        self.remaining_mwh = np.maximum(self.remaining_mwh - self.p_mw * ctx.dt_h, 0.0)
        self.leaving = self.plugged(ctx) & (
            (ctx.step + 1) * ctx.dt_h >= self.params["departure_hour"]
        )
        inj.load_p_mw[:, self.load_index] = self.p_mw
        inj.load_q_mvar[:, self.load_index] = 0.0
        self.injection_mw = -self.p_mw

    def local_features(self, ctx: StepContext) -> np.ndarray:
        to_go = np.clip(self.params["departure_hour"] - ctx.step * ctx.dt_h, 0, 24) / 24
        share = self.remaining_mwh / self.params["energy_mwh"]
        return np.stack([self.plugged(ctx).astype(float), share, to_go], axis=1)

    def reward_components(self, ctx: StepContext, pf: Any) -> dict[str, np.ndarray]:
        unmet = np.where(self.leaving, self.remaining_mwh, 0.0)
        return {
            "energy_eur": -ctx.price_eur_per_mwh * self.p_mw * ctx.dt_h,
            "unmet_energy_eur": -self.params["unmet_cost_eur_per_mwh"] * unmet,
        }


def variant(name: str, register: bool = True, **members: Any) -> type[Node]:
    """EVHub with some members replaced, registered under its own type name."""
    cls = type(f"EV_{name}", (EVHub,), {"type_name": f"ev_{name}", **members})
    return register_node_type(cls) if register else cls


def _claims(self: EVHub, grid: Any) -> None:
    self.load_index = self._claim_load(grid)


def _four_features(self: EVHub, ctx: StepContext) -> np.ndarray:
    return np.column_stack([EVHub.local_features(self, ctx), np.zeros(len(ctx.step))])


def _always_plugged(self: EVHub, ctx: StepContext) -> np.ndarray:
    return np.ones(len(ctx.step), dtype=bool)


def _no_limit(self: EVHub, action: np.ndarray, ctx: StepContext) -> np.ndarray:
    requested = self.params["max_p_mw"] * (action[:, 0] + 1) / 2
    return np.where(self.plugged(ctx), requested, 0)


def _wrong_sign(self: EVHub, action: np.ndarray, ctx: StepContext, inj: Any) -> None:
    EVHub.apply_action(self, action, ctx, inj)
    self.injection_mw = self.p_mw


def _forgets_the_grid(self: EVHub, action: np.ndarray, ctx: StepContext, inj: Any) -> None:
    EVHub.apply_action(self, action, ctx, inj)
    inj.load_p_mw[:, self.load_index] = 0.0


def _no_unmet_cost(self: EVHub, ctx: StepContext, pf: Any) -> dict[str, np.ndarray]:
    return {"energy_eur": -ctx.price_eur_per_mwh * self.p_mw * ctx.dt_h}


def _unmet_every_step(self: EVHub, ctx: StepContext, pf: Any) -> dict[str, np.ndarray]:
    parts = EVHub.reward_components(self, ctx, pf)
    parts["unmet_energy_eur"] = -self.params["unmet_cost_eur_per_mwh"] * self.remaining_mwh
    return parts


def _no_reset_rows(self: EVHub, rows: np.ndarray, rng: np.random.Generator) -> None:
    Node.reset_rows(self, rows, rng)


def _accepts_anything(cls: type, name: str, params: Mapping[str, Any]) -> None:
    return None


def test_check_ev_charger_accepts_a_right_answer(node_types: None) -> None:
    result = check_ev_charger(register_node_type(EVHub))
    assert result.startswith("Passed: EVHub creates its own load, charges 24 MWh")


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: variant("unregistered", register=False), "is not registered as type"),
        (
            lambda: variant(
                "no_unmet",
                PARAMS={k: v for k, v in EVHub.PARAMS.items() if k != "unmet_cost_eur_per_mwh"},
            ),
            "PARAMS lacks unmet_cost_eur_per_mwh",
        ),
        (lambda: variant("two_actions", ACTIONS=("charge", "discharge")), "names 2 actions"),
        (lambda: variant("claims", attach=_claims), "tried to claim the bus's existing load"),
        (
            lambda: variant("four", local_features=_four_features),
            "observations have 17 features but its observation_space has 16: local_features "
            "returns 4 columns while LOCAL_FEATURES names 3",
        ),
        (
            lambda: variant("anytime", plugged=_always_plugged),
            r"at step 0 \(00:00\), before the cars arrive",
        ),
        (
            lambda: variant("no_limit", power=_no_limit),
            "limit the power by the energy still needed",
        ),
        (lambda: variant("sign", apply_action=_wrong_sign), r"set self.injection_mw = -p_mw"),
        (
            lambda: variant("silent", apply_action=_forgets_the_grid),
            "never draws power from the grid",
        ),
        (
            lambda: variant("free", reward_components=_no_unmet_cost),
            "reward over the day is 0.00 EUR",
        ),
        (
            lambda: variant("nagging", reward_components=_unmet_every_step),
            "nothing was missing at departure",
        ),
        (
            lambda: variant("no_restart", reset_rows=_no_reset_rows),
            "second of two days .* reset_rows",
        ),
        (lambda: variant("forgetful", STATE=("injection_mw",)), "in STATE"),
        (
            lambda: variant("lenient", check_params=classmethod(_accepts_anything)),
            "Add a check_params classmethod",
        ),
    ],
    ids=[
        "unregistered",
        "missing-param",
        "two-actions",
        "claims-existing-load",
        "feature-count",
        "charges-while-away",
        "no-energy-limit",
        "injection-sign",
        "no-grid-load",
        "no-unmet-cost",
        "unmet-cost-every-step",
        "no-reset-rows",
        "state-not-saved",
        "no-check-params",
    ],
)
def test_check_ev_charger_names_the_mistake(node_types: None, make: Any, message: str) -> None:
    with pytest.raises(ExerciseError, match=message):
        check_ev_charger(make())


def test_check_ev_charger_rejects_what_is_not_a_node() -> None:
    # The message names the base class where it lives, for the student to import.
    with pytest.raises(ExerciseError, match=re.escape(f"subclass of {Node.__module__}.Node")):
        check_ev_charger(object)
