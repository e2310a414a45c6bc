"""Physics under stress: random valid configurations, extreme profiles, extreme actions.

``tests/test_properties.py`` plays random and extreme actions on the default grid; here
the grid itself is drawn at random (battery sizes and bands, producer limits, PV and
flexible loads, penalty weights, anywhere in their schema ranges) and the days are
extreme (no load at all up to 4.5 times the usual load, full sun, prices from -500 to
5000 EUR/MWh). On every step of every example the environment must keep its invariants:

- every battery's state of charge stays inside its band, flexible energy never negative;
- observations, rewards and the system cost are finite;
- a converged power flow balances: upstream import + generation + PV - loads - storage
  charging - losses = 0, within 1e-6 MW, and so do the market's payments: the nodes'
  energy payments and loss charges cancel the upstream grid's, within the price of
  that 1e-6 MW and the rounding of the sums;
- a day ends by terminating, at its last step or when its power flow fails, and is
  never truncated;
- a power flow that does not converge is handled as designed: ``converged`` is 0, the
  failure penalty (the fixed amount plus the rest of the day's demand at the value of
  lost load, and no voltage or overload penalty) is charged, the nodes trade nothing,
  the day terminates and restarts, and nothing raises.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from gridppo import BatchedGridEnv, PowerGrid, load_config
from gridppo.config.loader import DEFAULT_CONFIG_PATH
from gridppo.config.schema import SCHEMA
from gridppo.grid.battery import Battery
from gridppo.grid.business import Business
from gridppo.grid.profiles import DailyProfiles

STEPS = 24
BATCH = 3
BALANCE_TOL_MW = 1e-6
STRESS_SETTINGS = settings(
    deadline=None,
    derandomize=True,
    database=None,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
RAW = yaml.safe_load(DEFAULT_CONFIG_PATH.read_text())


# -- the invariants ----------------------------------------------------------------------


def check_step(
    env: BatchedGridEnv, out: tuple, step: np.ndarray, price: np.ndarray
) -> dict[str, int]:
    """Check one step's invariants (``step``: each day's step index before it, ``price``:
    its price); returns counts of converged and failed rows."""
    obs, rewards, terminations, truncations, infos = out
    cfg = env.config["reward"]
    for node in env.nodes:
        if isinstance(node, Battery):
            p = node.params
            assert (node.soc >= p["min_soc"] - 1e-12).all(), node.name
            assert (node.soc <= p["max_soc"] + 1e-12).all(), node.name
            assert (np.abs(node.p_mw) <= p["max_p_mw"] + 1e-9).all(), node.name
        if isinstance(node, Business):
            assert (node.flex_remaining_mwh >= 0).all(), node.name
    ended = infos["day_ended"]
    for agent in env.agents:
        assert np.isfinite(obs[agent]).all(), agent
        assert np.isfinite(rewards[agent]).all(), agent
        assert (terminations[agent] == ended).all(), agent
        assert not truncations[agent].any(), agent
    assert np.isfinite(infos["system_cost_eur"]).all()
    pf, inj = env.last_power_flow, env.last_injections
    ok = pf.converged
    supplied = pf.ext_grid_p_mw + inj.gen_p_mw.sum(axis=1) + inj.sgen_p_mw.sum(axis=1)
    consumed = inj.load_p_mw.sum(axis=1) + inj.storage_p_mw.sum(axis=1)
    mismatch = np.abs(supplied - consumed - pf.losses_mw)[ok]
    assert (mismatch <= BALANCE_TOL_MW).all(), mismatch.max()
    # The market's payments balance in every day that ran, as exactly as the power
    # balance and the rounding of the payments allow.
    components = infos["reward_components"]
    market = np.stack([components[n.name][k] for n in env.nodes for k in n.MARKET_COMPONENTS])
    upstream = infos["upstream_payment_eur"]
    gross = np.abs(upstream) + np.abs(market).sum(axis=0)
    allowed = np.abs(price) * env.dt_h * BALANCE_TOL_MW + 1e-12 * gross + 1e-9
    imbalance = np.abs(market.sum(axis=0) + upstream)
    assert (imbalance <= allowed).all(), (imbalance - allowed).max()
    penalty = infos["penalty_eur"]
    failed = ~ok
    assert (infos["metrics"]["converged"] == ok).all()
    assert (penalty["failure_eur"][ok] == 0.0).all()
    assert (ended == failed | (step == STEPS - 1)).all()
    assert (env.step_index[ended] == 0).all()  # restarted
    if failed.any():
        # A failure prices the rest of the day's demand, this step included.
        load_pu = env.grid.profiles.load_pu[infos["day"]]
        rest = (load_pu * (np.arange(STEPS)[None, :] >= step[:, None])).sum(axis=1)
        lost = env.grid.base_load_p_mw.sum() * rest * env.dt_h
        failure = cfg["nonconvergence_penalty_eur"] + cfg["value_of_lost_load_eur_per_mwh"] * lost
        np.testing.assert_allclose(penalty["failure_eur"][failed], failure[failed], rtol=1e-12)
        np.testing.assert_allclose(
            infos["metrics"]["unserved_energy_mwh"][failed], lost[failed], rtol=1e-12
        )
        assert (penalty["voltage_eur"][failed] == 0.0).all()
        assert (penalty["overload_eur"][failed] == 0.0).all()
        # Nothing is produced, consumed or traded in a blackout.
        for node in env.nodes:
            for key, value in components[node.name].items():
                if key != "grid_penalty_eur":
                    assert (value[failed] == 0.0).all(), (node.name, key)
    return {"converged": int(ok.sum()), "failed": int(failed.sum())}


def play(
    env: BatchedGridEnv, actions: np.ndarray, days: list[int], in_hypothesis: bool = True
) -> dict[str, int]:
    """Play ``actions`` [STEPS, B, total action size] on ``days``, checking every step
    (and, inside a Hypothesis test, recording whether any power flow failed)."""
    obs, _ = env.reset(days=days)
    assert all(np.isfinite(o).all() for o in obs.values())
    totals = {"converged": 0, "failed": 0}
    for t in range(STEPS):
        out, start = {}, 0
        for name, space in env.action_spaces.items():
            out[name] = actions[t, :, start : start + space.shape[0]]
            start += space.shape[0]
        step, price = env.step_index.copy(), env.context().price_eur_per_mwh.copy()
        counts = check_step(env, env.step(out), step, price)
        for key in totals:
            totals[key] += counts[key]
    if in_hypothesis:
        event(f"non-converged steps: {'some' if totals['failed'] else 'none'}")
    return totals


def action_plans(width: int) -> st.SearchStrategy[np.ndarray]:
    """A day of actions: uniform in [-1, 1], with whole stretches at a bound or far out."""
    values = st.sampled_from([-1.0, 1.0, 0.0, -1e6, 1e6, 5.0, -5.0])
    return st.tuples(st.integers(0, 2**32 - 1), st.lists(values, min_size=0, max_size=4)).map(
        lambda seed_and_fixed: _plan(width, *seed_and_fixed)
    )


def _plan(width: int, seed: int, fixed: list[float]) -> np.ndarray:
    rng = np.random.default_rng(seed)
    plan = rng.uniform(-1.0, 1.0, (STEPS, BATCH, width))
    for value in fixed:  # one agent-action column held at an extreme for a stretch
        column, start = rng.integers(width), rng.integers(STEPS)
        plan[start : start + 8, :, column] = value
    return plan


def total_width(env: BatchedGridEnv) -> int:
    return sum(space.shape[0] for space in env.action_spaces.values())


# -- random valid configurations ---------------------------------------------------------


def field_range(section: str, key: str) -> tuple[float, float]:
    field = SCHEMA[section][key]
    return float(field.low), float(field.high)


def log_uniform(low: float, high: float) -> st.SearchStrategy[float]:
    return st.floats(np.log10(low), np.log10(high)).map(lambda x: float(10**x))


@st.composite
def random_configs(draw: st.DrawFn) -> dict[str, Any]:
    """The default grid with every battery, producer and business redrawn, and the
    penalty weights drawn from their full schema ranges."""
    raw = copy.deepcopy(RAW)
    raw["time"].update(train_days=4, validation_days=1, test_days=1)
    for key in ("grid_penalty_weight", "voltage_penalty_eur_per_pu"):
        low, high = field_range("reward", key)
        raw["reward"][key] = draw(st.one_of(st.just(low), log_uniform(max(low, 1e-3), high)))
    for key in (
        "overload_penalty_eur_per_percent",
        "nonconvergence_penalty_eur",
        "value_of_lost_load_eur_per_mwh",
    ):
        raw["reward"][key] = draw(log_uniform(1e-3, field_range("reward", key)[1]))
    for node in raw["nodes"]:
        if node["type"] == "battery":
            low, high = sorted(draw(st.floats(0.0, 1.0)) for _ in range(2))
            if high - low < 1e-3:
                low, high = max(0.0, low - 0.01), min(1.0, high + 0.01)
            node.update(
                max_p_mw=draw(log_uniform(0.01, 200.0)),
                capacity_mwh=draw(log_uniform(0.01, 2000.0)),
                min_soc=low,
                max_soc=high,
                initial_soc=draw(st.floats(low, high)),
                charge_efficiency=draw(st.floats(0.05, 1.0)),
                discharge_efficiency=draw(st.floats(0.05, 1.0)),
                degradation_cost_eur_per_mwh=draw(st.floats(0.0, 1e4)),
                end_soc_price_eur_per_mwh=draw(st.floats(0.0, 1e5)),
            )
        elif node["type"] == "producer":
            top = draw(st.floats(1.0, 300.0))
            node.update(
                max_p_mw=top,
                min_p_mw=draw(st.floats(0.0, top)),
                vm_pu=draw(st.floats(0.98, 1.05)),
                vm_range_pu=draw(st.floats(0.0, 0.1)),
            )
        elif node["type"] == "consumer":
            node.update(
                max_shed_fraction=draw(st.floats(0.0, 1.0)),
                shed_cost_eur_per_mwh=draw(st.floats(0.0, 1e5)),
            )
        elif node["type"] == "business":
            flex = draw(st.floats(0.0, 50.0))
            node.update(
                pv_p_mw=draw(st.floats(0.0, 150.0)),
                flex_max_p_mw=flex,
                flex_energy_mwh=draw(st.floats(0.0, flex * 24.0)),
            )
    return load_config(raw)


@settings(STRESS_SETTINGS, max_examples=15)
@given(cfg=random_configs(), data=st.data())
def test_random_valid_configurations_keep_the_invariants(
    cfg: dict[str, Any], data: st.DataObject
) -> None:
    env = BatchedGridEnv(grid=PowerGrid(cfg), batch_size=BATCH)
    plan = data.draw(action_plans(total_width(env)))
    days = data.draw(st.lists(st.integers(0, 4), min_size=BATCH, max_size=BATCH))
    play(env, plan, days)


# -- extreme profiles --------------------------------------------------------------------


@pytest.fixture(scope="module")
def stress_grid() -> PowerGrid:
    """A grid whose profiles each example replaces (the default nodes)."""
    return PowerGrid(
        load_config(None, {"time.train_days": 2, "time.validation_days": 1, "time.test_days": 1})
    )


@st.composite
def extreme_profiles(draw: st.DrawFn) -> DailyProfiles:
    """Three days of extreme load, PV and price: each day a constant, a ramp or noise."""
    shape = (BATCH, STEPS)

    def day_values(low: float, high: float) -> np.ndarray:
        kind = draw(st.sampled_from(["constant", "ramp", "noise", "spike"]))
        a, b = draw(st.floats(low, high)), draw(st.floats(low, high))
        if kind == "constant":
            return np.full(STEPS, a)
        if kind == "ramp":
            return np.linspace(a, b, STEPS)
        rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
        values = rng.uniform(min(a, b), max(a, b) + 1e-9, STEPS)
        if kind == "spike":
            values[rng.integers(STEPS)] = high
        return values

    load = np.stack([day_values(0.0, 4.5) for _ in range(shape[0])])
    pv = np.stack([day_values(0.0, 1.0) for _ in range(shape[0])])
    price = np.stack([day_values(-500.0, 5000.0) for _ in range(shape[0])])
    return DailyProfiles(load, np.clip(pv, 0.0, 1.0), price, n_train_days=2, n_validation_days=0)


@settings(STRESS_SETTINGS, max_examples=150)
@given(profiles=extreme_profiles(), data=st.data())
def test_extreme_profiles_and_actions_keep_the_invariants(
    stress_grid: PowerGrid, profiles: DailyProfiles, data: st.DataObject
) -> None:
    original = stress_grid.profiles
    stress_grid.profiles = profiles
    try:
        env = BatchedGridEnv(grid=stress_grid, batch_size=BATCH)
        plan = data.draw(action_plans(total_width(env)))
        play(env, plan, [0, 1, 2])
    finally:
        stress_grid.profiles = original


def test_an_extreme_profile_csv_is_penalised_not_fatal(tmp_path: Path) -> None:
    """Through the CSV reader: a day with no load, a day of full sun and absurd prices,
    and a day whose evening load is far beyond what the grid can carry."""
    rows = []
    for step in range(STEPS):
        rows.append((0, step, 0.0, 0.0, -500.0))
        rows.append((1, step, 1.0, 1.0, 5000.0 if step % 2 else 0.0))
        rows.append((2, step, 10.0 if step >= 18 else 0.8, 0.0, 80.0))
    path = tmp_path / "extreme.csv"
    path.write_text(
        "day,step,load_pu,pv_pu,price_eur_per_mwh\n"
        + "\n".join(",".join(str(v) for v in row) for row in rows)
    )
    cfg = load_config(
        None,
        {"time.profiles_csv": str(path), "time.train_days": 1, "time.validation_days": 1},
    )
    env = BatchedGridEnv(grid=PowerGrid(cfg), batch_size=BATCH)
    for value in (-1.0, 1.0):  # every agent at one bound all day
        plan = np.full((STEPS, BATCH, total_width(env)), value)
        totals = play(env, plan, [0, 1, 2], in_hypothesis=False)
        # The overloaded evening fails from 18:00 on, each step restarting that day;
        # the other two days converge every step.
        assert totals["failed"] >= 1
        assert totals["converged"] >= 2 * STEPS
