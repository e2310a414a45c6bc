"""The market's settlement: loss shares, balanced payments, and the system cost."""

from __future__ import annotations

from typing import Any

import numpy as np
from helpers import context, random_actions

from gridppo import BatchedGridEnv, PowerGrid, load_config
from gridppo.grid.physics import Injections, PowerFlowResult
from gridppo.grid.settlement import NEGLIGIBLE_MW, loss_shares, settle


class FlatNode:
    """A node as the settlement sees it: an injection and fixed reward components."""

    MARKET_COMPONENTS = ("energy_eur", "loss_charge_eur")

    def __init__(self, name: str, injection_mw: list[float], **components: list[float]):
        self.name = name
        self.injection_mw = np.array(injection_mw, dtype=float)
        self.components = {k: np.array(v, dtype=float) for k, v in components.items()}

    def reward_components(self, ctx: Any, pf: Any) -> dict[str, np.ndarray]:
        """The fixed components."""
        return dict(self.components)


def result(
    losses_mw: list[float], import_mw: list[float], converged: list[bool]
) -> PowerFlowResult:
    """A hand-made power flow with the given losses (on one branch) and import."""
    batch = len(losses_mw)
    return PowerFlowResult(
        vm_pu=np.ones((batch, 2)),
        va_degree=np.zeros((batch, 2)),
        p_from_mw=np.array(losses_mw, dtype=float)[:, None],
        q_from_mvar=np.zeros((batch, 1)),
        p_to_mw=np.zeros((batch, 1)),
        q_to_mvar=np.zeros((batch, 1)),
        ext_grid_p_mw=np.array(import_mw, dtype=float),
        converged=np.array(converged),
    )


def no_loads(batch: int, unowned_mw: float = 0.0) -> Injections:
    """Setpoints with one load no node owns, drawing ``unowned_mw``."""
    zeros = np.zeros((batch, 0))
    return Injections(
        zeros, zeros, zeros, np.full((batch, 1), unowned_mw), np.zeros((batch, 1)), zeros
    )


def test_losses_are_charged_to_whatever_draws_power() -> None:
    # A plant injects 100 MW; two loads draw 60 and 20; a load no node owns draws 20.
    plant = FlatNode("plant", [100.0], energy_eur=[100.0], generation_cost_eur=[-30.0])
    big = FlatNode("big", [-60.0], energy_eur=[-60.0])
    small = FlatNode("small", [-20.0], energy_eur=[-20.0])
    pf = result(losses_mw=[2.0], import_mw=[2.0], converged=[True])
    ctx = context(1, price=50.0, dt_h=0.5)
    money = settle([plant, big, small], ctx, pf, no_loads(1, 20.0), np.array([0]), np.zeros(1),
                   np.zeros(1))  # fmt: skip
    loss_eur = 50.0 * 2.0 * 0.5
    charge = {n: money.components[n]["loss_charge_eur"][0] for n in ("plant", "big", "small")}
    assert charge["plant"] == 0.0
    assert charge["big"] == -loss_eur * 60 / 100 and charge["small"] == -loss_eur * 20 / 100
    # The upstream grid is paid for the import; fuel is the only non-market cost.
    np.testing.assert_allclose(money.upstream_payment_eur, 50.0 * 2.0 * 0.5)
    np.testing.assert_allclose(money.generation_cost_eur, 30.0)
    np.testing.assert_allclose(money.system_cost_eur, 50.0 + 30.0)
    for name, parts in money.components.items():
        np.testing.assert_allclose(money.rewards[name], sum(parts.values()))


def test_where_nothing_draws_the_injectors_pay_and_else_everyone_alike() -> None:
    # Row 0: nothing draws, two nodes inject 3 and 1 MW. Row 1: nothing moves at all.
    a, b = FlatNode("a", [3.0, 0.0]), FlatNode("b", [1.0, 0.0])
    shares, total = loss_shares([a, b], np.zeros(2))
    np.testing.assert_allclose(shares["a"] / total, [0.75, 0.5])
    np.testing.assert_allclose(shares["b"] / total, [0.25, 0.5])
    # A draw below the threshold counts as none (dividing by it would overflow).
    tiny = FlatNode("tiny", [-NEGLIGIBLE_MW / 10, -NEGLIGIBLE_MW / 10])
    shares, total = loss_shares([tiny, a], np.zeros(2))
    np.testing.assert_allclose(shares["a"] / total, [1.0, 0.5])


def test_nothing_is_traded_in_a_failed_step() -> None:
    node = FlatNode("n", [-10.0, -10.0], energy_eur=[-5.0, -5.0], shed_cost_eur=[-1.0, -1.0])
    pf = result(losses_mw=[1.0, 0.0], import_mw=[11.0, 0.0], converged=[True, False])
    penalty, shared = np.array([0.0, 900.0]), np.array([0.0, -1800.0])
    money = settle([node], context(2), pf, no_loads(2), np.array([], dtype=int), penalty, shared)
    parts = money.components["n"]
    np.testing.assert_array_equal(parts["energy_eur"], [-5.0, 0.0])
    np.testing.assert_array_equal(parts["shed_cost_eur"], [-1.0, 0.0])
    np.testing.assert_array_equal(parts["grid_penalty_eur"], [0.0, -1800.0])
    np.testing.assert_allclose(money.rewards["n"][1], -1800.0)
    # The system cost counts the penalty once and unweighted.
    assert money.system_cost_eur[1] == 900.0


def test_reward_components_add_up(grid: PowerGrid) -> None:
    env = BatchedGridEnv(grid=grid, batch_size=4, autoreset=False)
    env.reset(seed=3)
    rng = np.random.default_rng(3)
    weight = grid.config["reward"]["grid_penalty_weight"]
    for _ in range(env.steps_per_day):
        price = env.context().price_eur_per_mwh
        _, rewards, _, _, infos = env.step(random_actions(env, rng))
        penalty = sum(infos["penalty_eur"].values())
        non_market = np.zeros(env.batch_size)
        for node in env.nodes:
            parts = infos["reward_components"][node.name]
            assert "grid_penalty_eur" in parts
            np.testing.assert_allclose(rewards[node.name], sum(parts.values()), rtol=1e-12)
            np.testing.assert_allclose(parts["grid_penalty_eur"], -weight * penalty)
            non_market -= sum(
                v
                for k, v in parts.items()
                if k not in (*node.MARKET_COMPONENTS, "grid_penalty_eur")
            )
        # The system cost: energy bought upstream, every non-market cost, the penalty.
        upstream = price * env.last_power_flow.ext_grid_p_mw * env.dt_h
        np.testing.assert_allclose(
            infos["system_cost_eur"], upstream + non_market + penalty, rtol=1e-9, atol=1e-6
        )


def test_market_payments_balance_on_every_step(grid: PowerGrid) -> None:
    """Energy payments and loss charges of the nodes cancel against the payment to the
    upstream grid, to the cent, on every step of random-action days."""
    env = BatchedGridEnv(grid=grid, batch_size=4, autoreset=False)
    env.reset(days=grid.profiles.test_days[:4])
    rng = np.random.default_rng(21)
    for _ in range(env.steps_per_day):
        price = env.context().price_eur_per_mwh
        _, _, _, _, infos = env.step(random_actions(env, rng))
        pf = env.last_power_flow
        assert pf.converged.all()
        market = np.zeros(env.batch_size)
        losses = np.zeros(env.batch_size)
        for node in env.nodes:
            parts = infos["reward_components"][node.name]
            assert set(node.MARKET_COMPONENTS) <= set(parts)
            market += sum(parts[k] for k in node.MARKET_COMPONENTS)
            losses += parts["loss_charge_eur"]
            # Only nodes that draw power pay for the losses.
            if (node.injection_mw > 0).any():
                assert (parts["loss_charge_eur"][node.injection_mw > 0] == 0.0).all()
        upstream = infos["upstream_payment_eur"]
        np.testing.assert_allclose(upstream, price * pf.ext_grid_p_mw * env.dt_h, rtol=1e-12)
        np.testing.assert_allclose(market + upstream, 0.0, rtol=0, atol=1e-6)
        # The loss charges together buy exactly the losses at the price.
        assert (pf.losses_mw > 0).all()
        np.testing.assert_allclose(losses, -price * pf.losses_mw * env.dt_h, rtol=1e-9)


def test_loads_no_node_owns_take_their_share_of_the_losses() -> None:
    """With one agent, a battery, every case load is unowned, yet draws power: the battery
    pays only its own share of the losses when it charges, and none when it is idle."""
    cfg = load_config(None, {"time.train_days": 2, "time.validation_days": 1, "time.test_days": 1})
    cfg["nodes"] = [n for n in cfg["nodes"] if n["name"] == "battery_3"]
    grid = PowerGrid(cfg)
    assert len(grid.unowned_loads) == len(grid.net.load) == 11
    env = BatchedGridEnv(grid=grid, batch_size=2, autoreset=False)
    env.reset(days=[0, 1])
    for action in (1.0, 0.0):
        price = env.context().price_eur_per_mwh
        _, _, _, _, infos = env.step({"battery_3": np.full((2, 1), action)})
        pf, inj = env.last_power_flow, env.last_injections
        charge = grid.node("battery_3").p_mw
        drawn = charge + inj.load_p_mw.sum(axis=1)
        share = -price * pf.losses_mw * env.dt_h * charge / drawn
        loss_charge = infos["reward_components"]["battery_3"]["loss_charge_eur"]
        np.testing.assert_allclose(loss_charge, share, rtol=1e-12)
        if action > 0:
            assert (charge > 0).all() and (loss_charge < 0).all()
        else:
            np.testing.assert_array_equal(loss_charge, 0.0)
