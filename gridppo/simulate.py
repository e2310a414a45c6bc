"""Run whole days with a policy and measure them: KPIs, per-agent rewards, traces.

**The system KPI** is the day's *operating cost* ``system_cost_eur``: energy bought
from the upstream grid at the price (sales count negative), plus every node's
non-market cost (fuel, demand-response discomfort, battery wear, unmet flexible
energy), plus the grid penalty for voltage violations, overloads and non-convergence.
Lower is better. It is comparable across policies run with the same config: it does not
depend on ``grid_penalty_weight`` (how strongly each agent weighs the shared penalty),
only on what happened in the grid — but violations are priced at the configured
penalty rates, so changing those rates changes the KPI of the same behaviour.

Next to it: the team reward (sum of every agent's reward), the voltage-violation rate
(share of steps with at least one bus outside the band), the overload rate (share of
steps with at least one overloaded branch), losses and non-converged steps.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from gridppo.env import BatchedGridEnv

__all__ = ["DayRecord", "EvalResult", "run_days", "kpi_table", "KPI_NAMES"]

KPI_NAMES = (
    "system_cost_eur",
    "team_reward",
    "voltage_violation_rate",
    "overload_rate",
    "losses_mwh",
    "nonconverged_steps",
)


@dataclass
class DayRecord:
    """Everything that happened in the recorded days, step by step.

    Arrays have shape [T, B, ...]: time step first, then day.
    """

    days: np.ndarray
    price_eur_per_mwh: np.ndarray  # [T, B]
    vm_pu: np.ndarray  # [T, B, n_bus]
    loading_percent: np.ndarray  # [T, B, n_branch]
    p_from_mw: np.ndarray  # [T, B, n_branch]
    actions: dict[str, np.ndarray]  # agent -> [T, B, n_actions]
    injection_mw: dict[str, np.ndarray]  # agent -> [T, B]
    local_features: dict[str, np.ndarray]  # agent -> [T, B, n_local] (e.g. soc)
    reward_components: dict[str, dict[str, np.ndarray]]  # agent -> component -> [T, B]
    metrics: dict[str, np.ndarray]  # metric -> [T, B]
    system_cost_eur: np.ndarray  # [T, B]


@dataclass
class EvalResult:
    """KPIs of a policy over a set of days (means over days), plus per-agent detail."""

    policy: str
    kpis: dict[str, float]
    agent_reward: dict[str, float]
    type_reward: dict[str, float]
    per_day_cost_eur: np.ndarray
    record: DayRecord | None = field(default=None, repr=False)


def run_days(
    policy: Any,
    env: BatchedGridEnv,
    days: np.ndarray | list[int] | None = None,
    record: bool = False,
) -> EvalResult:
    """Run ``policy`` for one full day on each of ``days`` (default: all evaluation days).

    ``env`` must not autoreset; its batch size must equal the number of days. Returns
    the KPIs averaged over the days and, with ``record=True``, the step-by-step
    :class:`DayRecord`.
    """
    if days is None:
        days = env.grid.profiles.eval_days
    days = np.asarray(days)
    if env.batch_size != len(days):
        raise ValueError(
            f"env.batch_size ({env.batch_size}) must equal the number of days ({len(days)})"
        )
    obs, _ = env.reset(days=days)
    steps, batch = env.steps_per_day, env.batch_size
    alive = np.ones(batch, dtype=bool)
    total_cost = np.zeros(batch)
    agent_reward = {a: np.zeros(batch) for a in env.agents}
    counts = {"voltage": np.zeros(batch), "overload": np.zeros(batch), "nonconv": np.zeros(batch)}
    losses_mwh = np.zeros(batch)
    steps_run = np.zeros(batch)
    trace: dict[str, Any] = {"price": [], "vm": [], "loading": [], "p_from": [], "cost": []}
    trace.update(
        actions={a: [] for a in env.agents},
        injection={a: [] for a in env.agents},
        local={a: [] for a in env.agents},
        metrics={},
        components={a: {} for a in env.agents},
    )
    for _ in range(steps):
        price = env._context().price_eur_per_mwh
        actions = policy.act(obs, env)
        obs, rewards, _, truncated, info = env.step(actions)
        live = alive.astype(float)
        m = info["metrics"]
        total_cost += live * info["system_cost_eur"]
        for a in env.agents:
            agent_reward[a] += live * rewards[a]
        counts["voltage"] += live * (m["voltage_violations"] > 0)
        counts["overload"] += live * (m["overloaded_branches"] > 0)
        counts["nonconv"] += live * (m["converged"] < 1)
        losses_mwh += live * m["losses_mw"] * env.dt_h
        steps_run += live
        if record:
            pf = env.last_power_flow
            trace["price"].append(price)
            trace["vm"].append(pf.vm_pu)
            trace["loading"].append(env.grid.loading_percent(pf))
            trace["p_from"].append(pf.p_from_mw)
            trace["cost"].append(info["system_cost_eur"])
            for node in env.nodes:
                a = node.name
                trace["actions"][a].append(
                    np.clip(np.asarray(actions[a], dtype=float).reshape(batch, -1), -1, 1)
                )
                trace["injection"][a].append(np.asarray(node.injection_mw, dtype=float).copy())
                ctx = env._context()
                trace["local"][a].append(node.local_features(ctx).copy())
                for k, v in info["reward_components"][a].items():
                    trace["components"][a].setdefault(k, []).append(np.asarray(v, dtype=float))
            for k, v in m.items():
                trace["metrics"].setdefault(k, []).append(np.asarray(v, dtype=float))
        alive &= ~truncated[env.agents[0]]
        if not alive.any():
            break
    steps_run = np.maximum(steps_run, 1)
    team = sum(agent_reward.values())
    kpis = {
        "system_cost_eur": float(total_cost.mean()),
        "team_reward": float(team.mean()),
        "voltage_violation_rate": float((counts["voltage"] / steps_run).mean()),
        "overload_rate": float((counts["overload"] / steps_run).mean()),
        "losses_mwh": float(losses_mwh.mean()),
        "nonconverged_steps": float(counts["nonconv"].mean()),
    }
    type_totals: dict[str, list[float]] = {}
    for node in env.nodes:
        type_totals.setdefault(node.type_name, []).append(float(agent_reward[node.name].mean()))
    record_out = None
    if record:
        stack = np.stack
        record_out = DayRecord(
            days=days.copy(),
            price_eur_per_mwh=stack(trace["price"]),
            vm_pu=stack(trace["vm"]),
            loading_percent=stack(trace["loading"]),
            p_from_mw=stack(trace["p_from"]),
            actions={a: stack(v) for a, v in trace["actions"].items()},
            injection_mw={a: stack(v) for a, v in trace["injection"].items()},
            local_features={a: stack(v) for a, v in trace["local"].items()},
            reward_components={
                a: {k: stack(v) for k, v in comps.items()}
                for a, comps in trace["components"].items()
            },
            metrics={k: stack(v) for k, v in trace["metrics"].items()},
            system_cost_eur=stack(trace["cost"]),
        )
    return EvalResult(
        policy=getattr(policy, "name", type(policy).__name__),
        kpis=kpis,
        agent_reward={a: float(v.mean()) for a, v in agent_reward.items()},
        type_reward={t: float(np.mean(v)) for t, v in type_totals.items()},
        per_day_cost_eur=total_cost,
        record=record_out,
    )


def kpi_table(results: list[EvalResult]) -> str:
    """A plain-text table of the KPIs, one column per policy."""
    names = [r.policy for r in results]
    width = max(12, *(len(n) + 2 for n in names))
    lines = ["KPI".ljust(26) + "".join(n.rjust(width) for n in names)]
    lines.append("-" * len(lines[0]))
    for key in KPI_NAMES:
        row = key.ljust(26)
        for r in results:
            value = r.kpis[key]
            row += (f"{value:,.1f}" if abs(value) >= 100 else f"{value:.3f}").rjust(width)
        lines.append(row)
    return "\n".join(lines)
