"""Small helpers shared by the test modules (actions, rollouts, nodes on a bare net)."""

from __future__ import annotations

import copy
import functools
from types import SimpleNamespace
from typing import Any

import numpy as np
import pandapower as pp
import pandapower.networks as pn

from gridppo import BatchedGridEnv
from gridppo.config.node_specs import validate_nodes
from gridppo.grid.context import DayProfile, StepContext
from gridppo.grid.node import Node, make_node
from gridppo.grid.physics import Injections
from gridppo.grid.profiles import DailyProfiles

# A training budget small enough for a test: a few updates of a few days.
TINY = {
    "train.num_days": 4,
    "train.total_updates": 3,
    "train.eval_interval": 2,
    "train.checkpoint_interval": 2,
    "train.tensorboard": False,
    "time.train_days": 20,
    "time.validation_days": 2,
    "time.test_days": 2,
}


def zero_actions(env: BatchedGridEnv, value: float = 0.0) -> dict[str, np.ndarray]:
    """Batched actions with every entry equal to ``value``, keyed by agent."""
    return {
        name: np.full((env.batch_size, space.shape[0]), value)
        for name, space in env.action_spaces.items()
    }


def random_actions(
    env: BatchedGridEnv, rng: np.random.Generator, low: float = -1.0, high: float = 1.0
) -> dict[str, np.ndarray]:
    """Batched uniform actions in [low, high], keyed by agent."""
    return {
        name: rng.uniform(low, high, (env.batch_size, space.shape[0]))
        for name, space in env.action_spaces.items()
    }


class ConstantPolicy:
    """The same actions at every step: ``value`` for everyone, ``overrides`` per agent."""

    name = "constant"

    def __init__(self, value: float = 0.0, **overrides: float):
        self.value, self.overrides = value, overrides

    def act(self, observations: dict[str, np.ndarray], env: BatchedGridEnv) -> dict:
        """The constant actions for every day of the batch."""
        return {
            name: np.full((env.batch_size, space.shape[0]), self.overrides.get(name, self.value))
            for name, space in env.action_spaces.items()
        }


@functools.cache
def case14() -> pp.pandapowerNet:
    """pandapower's case14, loaded once (loading takes half a second); copy before use."""
    return pn.case14()


def attached(type_name: str, bus: int, **params: Any) -> tuple[Node, SimpleNamespace]:
    """A validated node of ``type_name`` attached to a bare case14 net (no power flow)."""
    spec = validate_nodes([{"name": f"{type_name}_{bus}", "type": type_name, "bus": bus, **params}])
    stub = SimpleNamespace(net=copy.deepcopy(case14()), claimed_loads={}, claimed_gens={})
    node = make_node(spec[0])
    node.attach(stub)
    return node, stub


def context(
    batch: int,
    dt_h: float = 1.0,
    load_pu: float = 1.0,
    pv_pu: float = 0.5,
    price: float = 50.0,
    step: int = 0,
    steps_per_day: int = 24,
) -> StepContext:
    """A step context with the same values for every day of the batch."""
    return StepContext(
        step=np.full(batch, step),
        steps_per_day=steps_per_day,
        dt_h=dt_h,
        load_pu=np.full(batch, load_pu),
        pv_pu=np.full(batch, pv_pu),
        price_eur_per_mwh=np.full(batch, price),
        price_forecast=np.full((batch, 3), price),
        is_last_step=np.full(batch, step == steps_per_day - 1),
    )


def empty_injections(net: pp.pandapowerNet, batch: int) -> Injections:
    """All-zero setpoints for every element of ``net`` (generator voltages at 1 p.u.)."""
    return Injections(
        gen_p_mw=np.zeros((batch, len(net.gen))),
        gen_vm_pu=np.ones((batch, len(net.gen))),
        sgen_p_mw=np.zeros((batch, len(net.sgen))),
        load_p_mw=np.zeros((batch, len(net.load))),
        load_q_mvar=np.zeros((batch, len(net.load))),
        storage_p_mw=np.zeros((batch, len(net.storage))),
    )


def one_day(
    load_pu: np.ndarray | float = 1.0,
    pv_pu: np.ndarray | float = 0.5,
    price: np.ndarray | float = 50.0,
    steps: int = 24,
) -> DayProfile:
    """A single day of profiles (constants broadcast over its ``steps`` steps)."""
    rows = [
        np.broadcast_to(np.asarray(v, float), (steps,))[None, :].copy()
        for v in (load_pu, pv_pu, price)
    ]
    profiles = DailyProfiles(*rows, n_train_days=1, n_validation_days=0)
    return DayProfile(profiles, 0, forecast_steps=3)
