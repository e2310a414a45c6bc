"""Run whole days with a policy and measure them: KPIs, per-agent rewards, traces.

**The system KPI** is the day's *operating cost* ``system_cost_eur``: energy bought
from the upstream grid at the price (sales count negative), plus every node's
non-market cost (fuel, shed demand at its contract price, battery wear and end-of-day
shortfall, unmet flexible energy), plus the grid penalty for voltage violations,
overloads and failures. A failed day (a power flow that does not converge ends it as a
blackout) is costed to its end: the rest of the day's demand at the value of lost load,
so a failed day is never cheaper than a day that runs. Lower is better. The KPI does
not depend on ``grid_penalty_weight`` (how strongly each agent weighs the shared
penalty), only on what happened in the grid; but violations are priced at the
configured penalty rates, so changing those rates changes the KPI of the same
behaviour.

Money is conserved: market payments (energy and loss charges) cancel against the
upstream grid's, so the team reward (the sum of every agent's reward) equals minus
the system cost when no penalty is due; each agent receives the whole penalty, so with
penalties the team reward is lower by ``(n_agents * grid_penalty_weight - 1)`` times it.

Next to it: the voltage-violation rate (share of steps with at least one bus outside
the band), the overload rate (share of steps with at least one overloaded branch) and
the worst loading, the unserved energy (shed, or lost in a failure), losses, and the
number of failed days. :func:`paired_gap_percent` and :func:`mean_ci` compare policies
on the same days.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
from scipy import stats

from gridppo.env import BatchedGridEnv

if TYPE_CHECKING:
    from gridppo.baselines.registry import GridPolicy

__all__ = [
    "DayRecord",
    "EvalResult",
    "run_days",
    "kpi_table",
    "KPI_NAMES",
    "paired_gap_percent",
    "mean_ci",
]

KPI_NAMES = (
    "system_cost_eur",
    "team_reward",
    "voltage_violation_rate",
    "overload_rate",
    "worst_loading_percent",
    "unserved_energy_mwh",
    "losses_mwh",
    "failed_days",
    "gap_to_optimum_percent",
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
    """KPIs of a policy over a set of days, plus per-agent and per-day detail.

    ``kpis`` holds means per day, except ``worst_loading_percent`` (the highest loading
    of any branch at any step) and ``failed_days`` (a count). ``days`` and
    ``per_day_cost_eur`` line up, so two results on the same days compare day by day.
    """

    policy: str
    kpis: dict[str, float]
    agent_reward: dict[str, float]
    type_reward: dict[str, float]
    per_day_cost_eur: np.ndarray
    days: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=int))
    failed: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=bool))
    record: DayRecord | None = field(default=None, repr=False)


def run_days(
    policy: GridPolicy,
    env: BatchedGridEnv,
    days: np.ndarray | list[int] | None = None,
    record: bool = False,
) -> EvalResult:
    """Run ``policy`` (anything with ``act(observations, env)``, see
    :class:`~gridppo.baselines.registry.GridPolicy`) for one full day on each of ``days``
    (default: every day of the environment's split, the test days for a training
    environment).

    ``env`` must not autoreset; its batch size must equal the number of days. Returns
    the KPIs averaged over the days and, with ``record=True``, the step-by-step
    :class:`DayRecord`.
    """
    if days is None:
        days = env.grid.profiles.days("test" if env.mode == "train" else env.mode)
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
    counts = {"voltage": np.zeros(batch), "overload": np.zeros(batch)}
    failed = np.zeros(batch, dtype=bool)
    worst_loading = np.zeros(batch)
    losses_mwh = np.zeros(batch)
    unserved_mwh = np.zeros(batch)
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
        price = env.context().price_eur_per_mwh
        actions = policy.act(obs, env)
        obs, rewards, terminated, truncated, info = env.step(actions)
        live = alive.astype(float)
        m = info["metrics"]
        total_cost += live * info["system_cost_eur"]
        for a in env.agents:
            agent_reward[a] += live * rewards[a]
        counts["voltage"] += live * (m["voltage_violations"] > 0)
        counts["overload"] += live * (m["overloaded_branches"] > 0)
        failed |= alive & (m["converged"] < 1)
        worst_loading = np.maximum(worst_loading, live * m["max_loading_percent"])
        losses_mwh += live * m["losses_mw"] * env.dt_h
        unserved_mwh += live * m["unserved_energy_mwh"]
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
                ctx = env.context()
                trace["local"][a].append(node.local_features(ctx).copy())
                for k, v in info["reward_components"][a].items():
                    trace["components"][a].setdefault(k, []).append(np.asarray(v, dtype=float))
            for k, v in m.items():
                trace["metrics"].setdefault(k, []).append(np.asarray(v, dtype=float))
        alive &= ~(terminated[env.agents[0]] | truncated[env.agents[0]])
        if not alive.any():
            break
    steps_run = np.maximum(steps_run, 1)
    team = sum(agent_reward.values())
    kpis = {
        "system_cost_eur": float(total_cost.mean()),
        "team_reward": float(team.mean()),
        "voltage_violation_rate": float((counts["voltage"] / steps_run).mean()),
        "overload_rate": float((counts["overload"] / steps_run).mean()),
        "worst_loading_percent": float(worst_loading.max()),
        "unserved_energy_mwh": float(unserved_mwh.mean()),
        "losses_mwh": float(losses_mwh.mean()),
        "failed_days": float(failed.sum()),
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
        days=days.copy(),
        failed=failed,
        record=record_out,
    )


def paired_gap_percent(result: EvalResult, reference: EvalResult) -> np.ndarray:
    """Day-by-day gap of ``result``'s system cost over ``reference``'s, in percent of
    the reference's cost, [n_days]. Both must have run the same days."""
    if not np.array_equal(result.days, reference.days):
        raise ValueError(
            f"paired_gap_percent: {result.policy} and {reference.policy} ran different days"
        )
    return (
        100.0
        * (result.per_day_cost_eur - reference.per_day_cost_eur)
        / np.abs(reference.per_day_cost_eur)
    )


def mean_ci(values: np.ndarray, confidence: float = 0.95) -> tuple[float, float, float]:
    """Mean and a ``confidence`` interval for it: ``(mean, low, high)``.

    Student's t interval (``scipy.stats.t``), suited to the few independent values it
    is used on (one per seed); with a single value the interval is that value.
    """
    values = np.asarray(values, dtype=float)
    mean = float(values.mean())
    if len(values) < 2 or np.all(values == values[0]):
        return mean, mean, mean
    low, high = stats.t.interval(confidence, len(values) - 1, loc=mean, scale=stats.sem(values))
    return mean, float(low), float(high)


def kpi_table(results: list[EvalResult]) -> str:
    """A plain-text table of the KPIs, one column per policy: means per day, except
    ``worst_loading_percent`` (the worst step) and ``failed_days`` (a count)."""
    names = [r.policy for r in results]
    width = max(14, *(len(n) + 2 for n in names))
    lines = ["KPI".ljust(26) + "".join(n.rjust(width) for n in names)]
    lines.append("-" * len(lines[0]))
    for key in KPI_NAMES:
        if all(key not in r.kpis for r in results):
            continue
        row = key.ljust(26)
        for r in results:
            value = r.kpis.get(key, float("nan"))
            row += (f"{value:,.1f}" if abs(value) >= 100 else f"{value:.3f}").rjust(width)
        lines.append(row)
    lines.append("(means per day; worst_loading_percent: the worst step; failed_days: a count)")
    return "\n".join(lines)
