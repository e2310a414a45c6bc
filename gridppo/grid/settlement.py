"""The market's settlement of one step: who pays whom, and what the system spent.

Every step, each node pays or is paid the price for its own energy (``energy_eur``),
the upstream grid is paid the price for the import at the slack bus, and the network
losses are bought at the price and charged to whatever draws power, in proportion to
what it draws (``loss_charge_eur``): the nodes, and the case's loads no node owns,
whose share (like their energy) nobody pays. When every load of the net belongs to a
node, as in the default grid, the payments balance to zero. So that they do in every
step, where nothing draws power (no demand, say) the nodes that inject pay, in
proportion to what they inject, and where none does either, every node pays an equal
share. In a failed step (a blackout) nothing is produced, consumed or traded: the
nodes' own components are zero and the grid penalty alone prices the step.

The system cost of a step is the energy bought upstream, every non-market cost of the
nodes (fuel, shed demand, wear, ...) and the grid penalty, unweighted.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from gridppo.grid.context import StepContext
from gridppo.grid.node import Node
from gridppo.grid.physics import Injections, PowerFlowResult

__all__ = ["NEGLIGIBLE_MW", "Settlement", "settle"]

# Power below which a node's draw or injection is treated as none when sharing the
# losses (MW): dividing by less would overflow.
NEGLIGIBLE_MW = 1e-9


@dataclass
class Settlement:
    """The money of one step, each array [B] (EUR).

    ``components`` maps agent -> component -> [B]: the node's own components, its
    ``loss_charge_eur`` and the ``grid_penalty_eur`` it receives; ``rewards`` is their
    sum per agent. ``generation_cost_eur`` is the fuel burnt, a part of
    ``system_cost_eur``.
    """

    rewards: dict[str, np.ndarray]
    components: dict[str, dict[str, np.ndarray]]
    upstream_payment_eur: np.ndarray
    generation_cost_eur: np.ndarray
    system_cost_eur: np.ndarray


def loss_shares(
    nodes: Sequence[Node], unowned_mw: np.ndarray
) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """Each node's weight in the loss bill and the total weight, [B] each: what it draws
    (see the module docstring for the fallbacks where nothing draws power)."""
    injection = {n.name: np.asarray(n.injection_mw, float) for n in nodes}
    withdrawal = {name: np.maximum(-p, 0.0) for name, p in injection.items()}
    for fallback in (lambda p: np.maximum(p, 0.0), lambda p: np.ones_like(p)):
        # Below a milliwatt counts as nothing: dividing by it would overflow.
        nobody = sum(withdrawal.values()) + unowned_mw <= NEGLIGIBLE_MW
        if not nobody.any():
            break
        for name, p in injection.items():
            withdrawal[name] = np.where(nobody, fallback(p), withdrawal[name])
    return withdrawal, sum(withdrawal.values()) + unowned_mw


def settle(
    nodes: Sequence[Node],
    ctx: StepContext,
    pf: PowerFlowResult,
    inj: Injections,
    unowned_loads: np.ndarray,
    penalty_eur: np.ndarray,
    shared_eur: np.ndarray,
) -> Settlement:
    """Settle one step after the power flow ``pf`` of the setpoints ``inj``.

    ``unowned_loads`` are the positions in ``net.load`` of the loads no node owns;
    ``penalty_eur`` [B] is the step's grid penalty and ``shared_eur`` [B] what every
    agent's reward receives of it (see :mod:`gridppo.grid.penalty`).
    """
    batch_size = len(ctx.step)
    ok = pf.converged.astype(float)
    unowned = inj.load_p_mw[:, unowned_loads].clip(min=0.0).sum(axis=1)
    withdrawal, total_withdrawal = loss_shares(nodes, unowned)
    loss_cost = ctx.price_eur_per_mwh * pf.losses_mw * ctx.dt_h
    share = np.divide(
        1.0,
        total_withdrawal,
        out=np.zeros(batch_size),
        where=total_withdrawal > NEGLIGIBLE_MW,
    )
    rewards, components = {}, {}
    societal_cost = np.zeros(batch_size)
    generation_cost = np.zeros(batch_size)
    for node in nodes:
        parts = {k: v * ok for k, v in node.reward_components(ctx, pf).items()}
        parts["loss_charge_eur"] = -loss_cost * withdrawal[node.name] * share
        parts["grid_penalty_eur"] = shared_eur
        components[node.name] = parts
        rewards[node.name] = sum(parts.values())
    for node in nodes:
        for key, value in components[node.name].items():
            if key not in node.MARKET_COMPONENTS and key != "grid_penalty_eur":
                societal_cost -= value
            if key == "generation_cost_eur":
                generation_cost -= value
    # What the upstream grid is paid for the import at the slack bus (0 in a blackout,
    # where nothing is traded).
    upstream_payment = ctx.price_eur_per_mwh * pf.ext_grid_p_mw * ctx.dt_h
    return Settlement(
        rewards=rewards,
        components=components,
        upstream_payment_eur=upstream_payment,
        generation_cost_eur=generation_cost,
        system_cost_eur=upstream_payment + societal_cost + penalty_eur,
    )
