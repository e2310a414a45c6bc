"""Safety-constrained IPPO: the grid's limits as constraints with learned prices.

With ``ppo.constraint: lagrangian``, overloads and voltage violations stop being priced
by the reward section's fixed penalty (:mod:`gridppo.grid.penalty`) and become two
constraints on the average violation per step (:data:`~gridppo.grid.penalty.VIOLATIONS`)::

    mean overload_percent per step <= ppo.overload_limit_percent
    mean voltage_pu per step       <= ppo.voltage_limit_pu

each priced by a Lagrange multiplier (:mod:`gridppo.agents.lagrangian`). Every agent's
reward has the fixed voltage and overload penalty taken out and the multipliers' prices
put in::

    reward = env reward + w * (rho_o * overload_percent + rho_v * voltage_pu)
                        - lambda_o * rho_o * overload_percent - lambda_v * rho_v * voltage_pu

with ``w`` the reward section's ``grid_penalty_weight`` and ``rho`` its prices (EUR per
percent, EUR per p.u., which must be above 0). A multiplier is thus a multiple of the
fixed price: it starts at ``ppo.lagrange_init * w`` (with ``lagrange_init`` 1, exactly
the fixed penalty each agent felt) and after every update moves by ``ppo.lagrange_lr``
per EUR by which the rollout's mean violation, priced at ``rho``, exceeds its limit.
The limits bound the *training* rollouts, exploration noise included; with a limit of
0 a multiplier can only rise.

A failed power flow keeps its fixed penalty and value of lost load: a blackout is a
cost to avoid, not a limit to trade against. Its step counts as no violation (its state
is unknown), so a policy could in principle trade violations for blackouts; the value
of lost load (millions of EUR for a day's demand) makes that far dearer than any
multiplier reaches here, and no comparison run had a failed day.

**One multiplier per constraint, shared by every agent, not one per agent.** Each
constraint is a grid-wide average (every branch's overload summed, every bus's voltage
violation summed), and every agent receives all of it, as it receives the whole fixed
penalty. Per-agent multipliers stepped on that same average would stay equal: the same
learner written seventeen times. What would make per-agent prices worth having is a
finer constraint: one multiplier per branch limit and per bus band, each agent charged
in proportion to its sensitivity to that branch's flow or that bus's voltage (its
shift factor, as locational congestion prices charge a market's participants), so that
different nodes pay different prices, even of opposite sign. That needs the grid's
sensitivities inside the reward and is not implemented here. Sharing the multiplier
couples the agents only through their rewards; each still has its own networks,
statistics and optimizer.

The evaluation does not change: system cost, overload and voltage-violation rates are
measured at the reward section's fixed prices for every algorithm, so a constrained run
is compared with the others on the same yardstick.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from gridppo.agents.lagrangian import LagrangeMultipliers
from gridppo.grid.penalty import VIOLATIONS

__all__ = ["GridConstraints", "CONSTRAINT_LOG_KEYS"]

# The reward section's price of each violation, and the ppo section's limit.
_PRICE_KEYS = {
    "overload_percent": "overload_penalty_eur_per_percent",
    "voltage_pu": "voltage_penalty_eur_per_pu",
}
_LIMIT_KEYS = {"overload_percent": "overload_limit_percent", "voltage_pu": "voltage_limit_pu"}

# The columns a constrained run adds to metrics.csv: each constraint's mean violation in
# the rollout, and its price after the update (multiplier x fixed price, EUR per unit).
CONSTRAINT_LOG_KEYS = (
    "constraint/overload_percent",
    "constraint/voltage_pu",
    "constraint/overload_price_eur_per_percent",
    "constraint/voltage_price_eur_per_pu",
)


class GridConstraints:
    """The Lagrangian constraints of one configuration (see the module docstring).

    Arguments:
        config: a validated config with ``ppo.constraint: lagrangian``.
    """

    def __init__(self, config: Mapping[str, Any]):
        ppo, reward = config["ppo"], config["reward"]
        self.prices = np.array([reward[_PRICE_KEYS[name]] for name in VIOLATIONS])
        self.weight = float(reward["grid_penalty_weight"])
        self.multipliers = LagrangeMultipliers(
            VIOLATIONS,
            limits=[ppo[_LIMIT_KEYS[name]] for name in VIOLATIONS],
            lrs=ppo["lagrange_lr"] * self.prices,
            # Each agent felt w * rho under the fixed penalty: start there (lagrange_init 1).
            initial=[ppo["lagrange_init"] * self.weight] * len(VIOLATIONS),
        )

    def price_eur(self) -> dict[str, float]:
        """Each violation's current price: multiplier x fixed price (EUR per unit)."""
        values = self.multipliers.values * self.prices
        return {name: float(v) for name, v in zip(VIOLATIONS, values, strict=True)}

    def shape(
        self, rewards: Mapping[str, np.ndarray], violations: Mapping[str, np.ndarray]
    ) -> dict[str, np.ndarray]:
        """Every agent's reward [B] with the fixed voltage and overload penalty replaced
        by the multipliers' prices; records the step's violations for the update."""
        self.multipliers.record(violations)
        priced = {name: self.prices[k] * np.asarray(violations[name])
                  for k, name in enumerate(VIOLATIONS)}  # fmt: skip
        fixed = self.weight * sum(priced.values())
        change = fixed - self.multipliers.penalty(priced)
        return {name: np.asarray(r, dtype=np.float64) + change for name, r in rewards.items()}

    def update(self) -> dict[str, float]:
        """Step the multipliers on the rollout's violations; returns the log columns
        (:data:`CONSTRAINT_LOG_KEYS`)."""
        report = self.multipliers.update()
        prices = self.price_eur()
        return {
            "constraint/overload_percent": report["overload_percent"],
            "constraint/voltage_pu": report["voltage_pu"],
            "constraint/overload_price_eur_per_percent": prices["overload_percent"],
            "constraint/voltage_price_eur_per_pu": prices["voltage_pu"],
        }

    def state_dict(self) -> dict[str, Any]:
        """The multipliers, for the checkpoint."""
        return self.multipliers.state_dict()

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        """Restore the checkpoint's multipliers."""
        self.multipliers.load_state_dict(state)
