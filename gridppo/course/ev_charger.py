"""Assignment 02, part 1: the checker of a student's EV charging hub, a new node type.

:func:`check_ev_charger` first checks the class itself (registered, the parameters,
action and features the assignment asks for), then runs the default grid with the hub
added at bus 4 and every other agent idle: a day at full power, an idle day, two days in
a row, a saved and restored environment, and parameters that cannot work. Each check
names what the hub did and the line of the assignment it breaks.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandapower.networks as pn

from gridppo.config.fields import ConfigError, Field
from gridppo.config.loader import load_config
from gridppo.course.common import (
    NODE_TYPES,
    ExerciseError,
    Node,
    Passed,
    default_raw_config,
    running,
)
from gridppo.env import BatchedGridEnv
from gridppo.grid.network import PowerGrid
from gridppo.grid.profiles import clock

__all__ = ["EV_PARAMS", "check_ev_charger"]

# The parameters every EV charger of assignment 02 declares (the checker reads them).
EV_PARAMS = ("max_p_mw", "energy_mwh", "arrival_hour", "departure_hour", "unmet_cost_eur_per_mwh")

# Where the checker puts the charger: bus 4 already has a consumer, so the charger must
# create a load of its own rather than claim the bus's.
_EV_BUS = 4
_EV_NAME = "ev_check"
# Reward components the environment adds to every node's own (see gridppo.env).
_ENV_COMPONENTS = ("grid_penalty_eur", "loss_charge_eur")
# Where the base class lives, as a student would import it; read from the class so that
# the message follows it if it moves.
_NODE_PATH = f"{Node.__module__}.{Node.__name__}"


def _ev_config(cls: type, params: Mapping[str, Any] | None) -> dict[str, Any]:
    raw = default_raw_config()
    node = {"name": _EV_NAME, "type": cls.type_name, "bus": _EV_BUS, **dict(params or {})}
    raw["nodes"].append(node)
    raw.setdefault("time", {}).update({"train_days": 4, "validation_days": 2, "test_days": 2})
    try:
        return load_config(raw)
    except ConfigError as err:
        raise ExerciseError(f"the config rejects your EV charger: {err}") from None


def _check_ev_class(cls: Any) -> None:
    """Static checks: a registered Node subclass that declares what the assignment asks."""
    if not isinstance(cls, type) or not issubclass(cls, Node):
        raise ExerciseError(
            f"check_ev_charger expects your class (a subclass of {_NODE_PATH}), got {cls!r}"
        )
    name = cls.__name__
    if not cls.type_name:
        raise ExerciseError(f"{name} needs a type_name, e.g. type_name = 'ev_charger'")
    if NODE_TYPES.get(cls.type_name) is not cls:
        raise ExerciseError(
            f"{name} is not registered as type {cls.type_name!r}: decorate the class with "
            "@register_node_type"
        )
    missing = [p for p in EV_PARAMS if p not in cls.PARAMS]
    if missing:
        raise ExerciseError(
            f"{name}.PARAMS lacks {', '.join(missing)}: the assignment asks for "
            f"{', '.join(EV_PARAMS)}"
        )
    not_fields = [k for k, v in cls.PARAMS.items() if not isinstance(v, Field)]
    if not_fields:
        raise ExerciseError(
            f"{name}.PARAMS[{not_fields[0]!r}] must be a {Field.__module__}.Field "
            "(default, kind, help, low, high)"
        )
    if len(cls.ACTIONS) != 1:
        raise ExerciseError(
            f"{name}.ACTIONS names {len(cls.ACTIONS)} actions; the assignment asks for one, "
            "('charge',)"
        )
    if not cls.LOCAL_FEATURES:
        raise ExerciseError(
            f"{name}.LOCAL_FEATURES is empty: the agent needs to see at least how much "
            "energy is still needed and how long until departure"
        )


def _plugged(hours: np.ndarray, params: Mapping[str, Any]) -> np.ndarray:
    return (hours >= params["arrival_hour"]) & (hours < params["departure_hour"])


def _run_ev_day(
    env: BatchedGridEnv, node: Node, load_index: int, action: float
) -> dict[str, np.ndarray]:
    """One day with every other agent at action 0 and the charger at ``action``.

    Returns per step: charging power drawn from the grid (MW), the node's
    ``injection_mw``, its own reward (without the grid penalty and the loss charge the
    environment adds), and the price.
    """
    obs, _ = env.reset(days=env.grid.profiles.test_days[: env.batch_size])
    space = env.observation_spaces[node.name].shape[0]
    out: dict[str, list[np.ndarray]] = {"p_mw": [], "injection_mw": [], "reward": [], "price": []}
    for step in range(env.steps_per_day):
        _check_obs(obs[node.name], space, node, step)
        actions = {n.name: np.zeros((env.batch_size, n.action_space().shape[0])) for n in env.nodes}
        actions[node.name] = np.full((env.batch_size, 1), action)
        out["price"].append(env.context().price_eur_per_mwh.copy())
        obs, _, _, _, info = env.step(actions)
        parts = info["reward_components"][node.name]
        # The node's own reward: without what the environment adds to every node (the
        # shared grid penalty and the node's share of the network losses).
        local = sum(v for k, v in parts.items() if k not in _ENV_COMPONENTS)
        out["p_mw"].append(env.last_injections.load_p_mw[:, load_index].copy())
        out["injection_mw"].append(np.asarray(node.injection_mw, dtype=float).copy())
        out["reward"].append(np.broadcast_to(np.asarray(local, dtype=float), (env.batch_size,)))
    return {k: np.stack(v) for k, v in out.items()}


def _check_obs(obs: np.ndarray, space: int, node: Node, step: int) -> None:
    n_obs = obs.shape[1]
    if n_obs != space:
        local = len(type(node).LOCAL_FEATURES)
        raise ExerciseError(
            f"your EV charger's observations have {n_obs} features but its "
            f"observation_space has {space}: local_features returns {n_obs - space + local} "
            f"columns while LOCAL_FEATURES names {local} (at step {step})"
        )
    if not np.all(np.isfinite(obs)):
        raise ExerciseError(
            f"your EV charger's observation holds NaN or infinite values at step {step}: "
            "check local_features (a division by zero?)"
        )


def check_ev_charger(cls: type, params: Mapping[str, Any] | None = None) -> Passed:
    """Check the EV charging hub of assignment 02, a subclass of the node types' ``Node``.

    What the class must be: registered with ``@register_node_type``; ``PARAMS`` declares
    at least :data:`EV_PARAMS` as :class:`~gridppo.config.fields.Field` objects; one
    action (``ACTIONS = ("charge",)``); at least one local feature.

    What it must do, checked by running the default grid with the charger added at bus 4
    (``params`` override the class defaults; every other agent sends action 0):

    - ``attach`` creates its *own* pandapower load at its bus (bus 4 already has a
      consumer, whose load it must not claim);
    - the observations have as many features as ``observation_space`` says, all finite;
    - the cars are plugged in during the steps whose start hour lies in
      [``arrival_hour``, ``departure_hour``); action ``a`` asks for
      ``max_p_mw * (a + 1) / 2``, limited by the energy still needed; nothing is drawn
      while the cars are away;
    - charging at full power all day delivers exactly ``energy_mwh`` before departure,
      ``injection_mw`` is minus the charging power, and the local reward is the energy
      bill ``-price * p_mw * dt_h``;
    - never charging costs ``unmet_cost_eur_per_mwh * energy_mwh`` over the day;
    - a day restarted by the environment (autoreset) starts with the full energy to
      deliver again;
    - the state it lists in ``STATE`` restores a saved environment exactly (the energy
      still needed must be in it);
    - ``check_params`` turns a charge that cannot fit between arrival and departure, and
      a departure before the arrival, into a ConfigError.
    """
    _check_ev_class(cls)
    cfg = _ev_config(cls, params)
    case_loads = len(pn.case14().load)
    try:
        with running("building the grid with your EV charger (attach)"):
            grid = PowerGrid(cfg)
    except ConfigError as err:
        if "already owned" in str(err) or "has no load" in str(err):
            raise ExerciseError(
                f"your EV charger tried to claim the bus's existing load ({err}); it must "
                "create its own in attach: self.load_index = pp.create_load(grid.net, "
                "self.bus, p_mw=0.0, name=self.name)"
            ) from None
        raise ExerciseError(f"building the grid with your EV charger failed: {err}") from None
    node = grid.node(_EV_NAME)
    p = node.params
    new_loads = list(grid.net.load.index[case_loads:])
    if len(new_loads) != 1:
        raise ExerciseError(
            f"your EV charger created {len(new_loads)} pandapower loads; it should create "
            "exactly one, with pp.create_load(grid.net, self.bus, ...)"
        )
    load_index = int(new_loads[0])
    load_bus = int(grid.net.load.bus[load_index])
    if load_bus != node.bus:
        raise ExerciseError(
            f"your EV charger's load sits at bus {load_bus}, not at its own bus {node.bus}"
        )
    position = int(np.flatnonzero(grid.net.load.index == load_index)[0])

    env = BatchedGridEnv(grid=grid, batch_size=2, mode="test", autoreset=False)
    dt_h = env.dt_h
    hours = np.arange(env.steps_per_day) * dt_h
    plugged = _plugged(hours, p)
    if not plugged.any():
        raise ExerciseError(
            f"with arrival_hour={p['arrival_hour']} and departure_hour={p['departure_hour']} "
            "the cars are never plugged in: arrival must come before departure"
        )
    with running("running a day with your EV charger at full power"):
        full = _run_ev_day(env, node, position, 1.0)
    drawn = full["p_mw"]
    if np.allclose(drawn, 0.0):
        raise ExerciseError(
            "with action +1 all day your EV charger never draws power from the grid: write "
            "the charging power into inj.load_p_mw[:, self.load_index] in apply_action"
        )
    if (drawn < -1e-9).any():
        t = int(np.flatnonzero((drawn < -1e-9).any(axis=1))[0])
        raise ExerciseError(
            f"your EV charger feeds power into the grid at step {t} ({drawn[t, 0]:.2f} MW "
            "drawn): it only charges, so its load must be >= 0"
        )
    away = ~plugged[:, None] & (drawn > 1e-9)
    if away.any():
        t = int(np.flatnonzero(away.any(axis=1))[0])
        when = "before the cars arrive" if hours[t] < p["arrival_hour"] else "after they leave"
        raise ExerciseError(
            f"your EV charger draws {drawn[t, 0]:.2f} MW at step {t} ({clock(hours[t])}), "
            f"{when} (plugged in from {clock(p['arrival_hour'])} to "
            f"{clock(p['departure_hour'])}): charge only while start hour t * dt_h lies in "
            "[arrival_hour, departure_hour)"
        )
    if (drawn > p["max_p_mw"] + 1e-6).any():
        t = int(np.flatnonzero((drawn > p["max_p_mw"] + 1e-6).any(axis=1))[0])
        raise ExerciseError(
            f"your EV charger draws {drawn[t, 0]:.2f} MW at step {t}, above max_p_mw="
            f"{p['max_p_mw']}"
        )
    delivered = (drawn * dt_h).sum(axis=0)
    if not np.allclose(delivered, p["energy_mwh"], rtol=1e-6, atol=1e-6):
        more = delivered[0] > p["energy_mwh"]
        hint = (
            "limit the power by the energy still needed (remaining / dt_h)"
            if more
            else "charge max_p_mw * (a + 1) / 2 while plugged in, and subtract what was "
            "charged (p_mw * dt_h) from the energy still needed"
        )
        raise ExerciseError(
            f"charging at full power all day, your EV charger delivered "
            f"{delivered[0]:.2f} MWh before departure, but energy_mwh={p['energy_mwh']}: "
            f"{hint}"
        )
    if not np.allclose(full["injection_mw"], -drawn, atol=1e-9):
        t = int(np.flatnonzero(~np.isclose(full["injection_mw"], -drawn).all(axis=1))[0])
        raise ExerciseError(
            f"at step {t} your EV charger's injection_mw is {full['injection_mw'][t, 0]:.3f} "
            f"but it draws {drawn[t, 0]:.3f} MW: set self.injection_mw = -p_mw (a load "
            "takes power out of the grid)"
        )
    bill = -(full["price"] * drawn * dt_h)
    if not np.allclose(full["reward"].sum(axis=0), bill.sum(axis=0), rtol=1e-6, atol=1e-3):
        raise ExerciseError(
            f"charging the full energy, your EV charger's reward over the day is "
            f"{full['reward'][:, 0].sum():,.2f} EUR, but the energy it bought cost "
            f"{-bill[:, 0].sum():,.2f} EUR and nothing was missing at departure: the reward "
            "should be -price * p_mw * dt_h each step (plus the unmet-energy cost at "
            "departure, which is 0 here)"
        )
    with running("running a day with your EV charger idle"):
        idle = _run_ev_day(env, node, position, -1.0)
    if not np.allclose(idle["p_mw"], 0.0, atol=1e-9):
        raise ExerciseError(
            "with action -1 your EV charger still draws power: map the action to "
            "max_p_mw * (a + 1) / 2, which is 0 at a = -1"
        )
    expected = -p["unmet_cost_eur_per_mwh"] * p["energy_mwh"]
    got = idle["reward"].sum(axis=0)
    if not np.allclose(got, expected, rtol=1e-6, atol=1e-3):
        raise ExerciseError(
            f"never charging, your EV charger's reward over the day is {got[0]:,.2f} EUR, "
            f"but the cars leave with {p['energy_mwh']} MWh missing: charge "
            f"unmet_cost_eur_per_mwh * missing = {expected:,.2f} EUR once, when the cars "
            "leave"
        )
    with running("running two days in a row with your EV charger"):
        _check_ev_restart(grid, node, position, p, dt_h)
    with running("validating parameters of your EV charger"):
        _check_ev_params(cls, params)
    with running("saving and restoring your EV charger's state"):
        _check_ev_state(grid, node)
    return Passed(
        f"Passed: {cls.__name__} creates its own load, charges {p['energy_mwh']:g} MWh "
        f"between {clock(p['arrival_hour'])} and {clock(p['departure_hour'])} at up to "
        f"{p['max_p_mw']:g} MW, pays for its energy and for what is missing at departure."
    )


def _check_ev_restart(
    grid: PowerGrid, node: Node, position: int, p: Mapping[str, Any], dt_h: float
) -> None:
    """Two days in a row with autoreset: the second starts with the full energy again."""
    env = BatchedGridEnv(grid=grid, batch_size=1, mode="train", autoreset=True)
    env.reset(seed=0)
    delivered = []
    for _day in range(2):
        energy = 0.0
        for _step in range(env.steps_per_day):
            actions = {n.name: np.zeros((1, n.action_space().shape[0])) for n in env.nodes}
            actions[node.name] = np.ones((1, 1))
            env.step(actions)
            energy += float(env.last_injections.load_p_mw[0, position]) * dt_h
        delivered.append(energy)
    if not math.isclose(delivered[1], p["energy_mwh"], rel_tol=1e-6, abs_tol=1e-6):
        raise ExerciseError(
            f"on the second of two days in a row your EV charger delivered "
            f"{delivered[1]:.2f} of {p['energy_mwh']} MWh: when the environment restarts a "
            "day it calls reset_rows(rows, rng); override it to restore the energy still "
            "needed for those rows (and call super().reset_rows)"
        )


def _check_ev_params(cls: type, params: Mapping[str, Any] | None) -> None:
    """A charge that cannot fit in the plug-in window must be a ConfigError."""
    base = {k: f.default for k, f in cls.PARAMS.items()}
    base.update(params or {})
    window = base["departure_hour"] - base["arrival_hour"]
    for bad, why in (
        (
            {"energy_mwh": base["max_p_mw"] * max(window, 1.0) * 2.0 + 1.0},
            "more energy than max_p_mw can deliver between arrival and departure",
        ),
        (
            {"arrival_hour": base["departure_hour"], "departure_hour": base["arrival_hour"]},
            "a departure before the arrival",
        ),
    ):
        raw = default_raw_config()
        raw["nodes"].append(
            {"name": _EV_NAME, "type": cls.type_name, "bus": _EV_BUS, **base, **bad}
        )
        try:
            load_config(raw)
        except ConfigError:
            continue
        shown = ", ".join(f"{k}={v:g}" for k, v in bad.items())
        raise ExerciseError(
            f"your EV charger accepts {shown}: {why}. Add a check_params classmethod that "
            "raises ConfigError(f'nodes.{name}.energy_mwh: ...') for such parameters"
        )


def _check_ev_state(grid: PowerGrid, node: Node) -> None:
    """Save the environment mid-day, run on, restore, run again: the same rewards."""
    env = BatchedGridEnv(grid=grid, batch_size=2, mode="test", autoreset=False)
    env.reset(days=env.grid.profiles.test_days[:2])
    half = env.steps_per_day // 2
    policy = np.linspace(-1.0, 1.0, 2)[:, None]

    def step() -> np.ndarray:
        actions = {n.name: np.zeros((2, n.action_space().shape[0])) for n in env.nodes}
        actions[node.name] = policy
        _, rewards, *_ = env.step(actions)
        return rewards[node.name].copy()

    for _ in range(half):
        step()
    saved = copy.deepcopy(env.state_dict())
    first = np.stack([step() for _ in range(env.steps_per_day - half)])
    env.load_state_dict(saved)
    again = np.stack([step() for _ in range(env.steps_per_day - half)])
    if not np.allclose(first, again, rtol=1e-9, atol=1e-9):
        raise ExerciseError(
            "after saving the environment mid-day and restoring it, your EV charger earns "
            "different rewards: list every attribute that carries over from one step to "
            "the next (e.g. the energy still needed) in STATE, e.g. "
            "STATE = ('injection_mw', 'remaining_mwh')"
        )
