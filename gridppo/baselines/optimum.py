"""The day's optimum as a policy: the yardstick for the agents.

:class:`OptimumPolicy` plans each day with :class:`~gridppo.baselines.day_qp.DayOptimum`
(a whole-day DC dispatch of every lever the agents have, with perfect foresight) and
plays the plan back step by step.

**AC correction.** DC ignores reactive flow and voltages, so a DC schedule replayed in
AC overloads branches that DC fills to their limit (on the default grid's test days
transformer 4-5 reaches 112 % and 3-8 102 %). :class:`OptimumPolicy` therefore replays
each day's schedule in its own private AC environment (a
:class:`~gridppo.env.BatchedGridEnv` on its own :class:`~gridppo.grid.network.PowerGrid`)
and, while any branch's AC loading exceeds ``max_loading_percent +
LOADING_TOLERANCE_PERCENT``, re-solves the day with (1) the replay's losses of each
branch placed as loads, half at each end (a loss-aware DC flow), and (2) the limit of
each branch and step that AC loads past the target tightened to
``|dc_flow| * target / ac_loading``: the DC flow the observed AC/DC loading ratio maps
to the ``target = max_loading_percent - LOADING_MARGIN_PERCENT``. Limits only tighten;
on the default grid every day passes after two corrections (at most ``max_rounds``).

**What is reported** is the AC replay, measured exactly as the agents' days are.
Producers hold their neutral voltage setpoints (action 0): DC has no voltages to
optimise.
"""

from __future__ import annotations

import warnings

import numpy as np

from gridppo.baselines.day_qp import DayOptimum, DaySchedule
from gridppo.env import BatchedGridEnv
from gridppo.grid.network import PowerGrid
from gridppo.grid.node import Node

__all__ = [
    "LOADING_MARGIN_PERCENT",
    "LOADING_TOLERANCE_PERCENT",
    "OptimumPolicy",
    "schedule_actions",
]

# A replayed schedule respects the limits when every AC loading is at most
# max_loading_percent plus this (percent points: a tolerance for the replay's rounding,
# far below what the learners are held to).
LOADING_TOLERANCE_PERCENT = 0.1
# The correction aims this far inside the limit, so the next replay lands below it.
LOADING_MARGIN_PERCENT = 0.5


def schedule_actions(nodes: list[Node], schedules: list[DaySchedule], steps: np.ndarray) -> dict:
    """The env actions [B, n_actions] per agent that replay ``schedules[b]`` at step
    ``steps[b]``: each node inverts its own action mapping
    (:meth:`~gridppo.grid.node.Node.schedule_action`), clipped to [-1, 1]."""
    rows, actions = np.arange(len(schedules)), {}
    for node in nodes:
        planned = {
            key: np.array([s.nodes[node.name][key] for s in schedules])[rows, steps]
            for key in schedules[0].nodes[node.name]
        }
        actions[node.name] = np.clip(node.schedule_action(planned, len(schedules)), -1.0, 1.0)
    return actions


class OptimumPolicy:
    """The day's optimum as a policy: whole-day DC dispatch, corrected in AC, replayed.

    When a batch's days start it solves (or fetches from its cache) each day's schedule
    and plays it back step by step through :func:`schedule_actions`. Each schedule is
    checked by replaying it in a private AC environment on its own :class:`PowerGrid`
    (built from ``env.config``; never the caller's, whose nodes hold the caller's days)
    and re-solved with loss-aware, tightened limits until the AC loading respects the
    limit (see the module docstring). ``DaySchedule.rounds`` records each round's
    ``worst_loading_percent``, AC ``cost_eur`` and DC ``objective_eur``.

    Arguments:
        env: the environment it will act in (its config and power-flow backend).
        branch_limit_scale: scale on every branch's loading limit (1 = as configured).
        max_rounds: the most DC solves per day (each after the first is a correction).
    """

    name = "optimum"

    def __init__(self, env: BatchedGridEnv, branch_limit_scale: float = 1.0, max_rounds: int = 5):
        self.config = env.config
        self.grid = PowerGrid(env.config, backend=env.grid.backend.name)
        self.model = DayOptimum(self.grid)
        self.branch_limit_scale = branch_limit_scale
        self.max_rounds = max_rounds
        self.cache: dict[tuple[int, float], DaySchedule] = {}
        self._playing: list[DaySchedule] = []

    def act(self, observations: dict[str, np.ndarray], env: BatchedGridEnv) -> dict:
        """Actions of the batch's schedules at the current step (solved at step 0)."""
        ctx, days = env.context(), [int(d) for d in env.day]
        if np.any(ctx.step == 0) or [s.day for s in self._playing] != days:
            self._playing = self.schedules(days)
        steps = np.minimum(ctx.step, env.steps_per_day - 1)
        return schedule_actions(env.nodes, self._playing, steps)

    def schedules(self, days: list[int] | np.ndarray) -> list[DaySchedule]:
        """The AC-checked schedule of each of ``days`` (solved once, then cached)."""
        scale = float(self.branch_limit_scale)
        todo = sorted({int(d) for d in days if (int(d), scale) not in self.cache})
        for sched in self._solve_checked(todo, scale) if todo else []:
            self.cache[(sched.day, scale)] = sched
        return [self.cache[(int(d), scale)] for d in days]

    def replay(self, schedules: list[DaySchedule]) -> dict[str, np.ndarray]:
        """Replay ``schedules`` in AC in a fresh environment on the private grid (each
        replay finishes before the next starts). Returns [B, T, ...] arrays:
        ``loading_percent``, ``branch_loss_mw`` (per branch), ``system_cost_eur``,
        ``converged``."""
        env = BatchedGridEnv(self.config, len(schedules), "test", self.grid, autoreset=False)
        env.reset(days=[s.day for s in schedules])
        out: dict[str, list] = {k: [] for k in ("loading_percent", "branch_loss_mw")}
        out.update(system_cost_eur=[], converged=[])
        for t in range(env.steps_per_day):
            steps = np.full(len(schedules), t)
            info = env.step(schedule_actions(env.nodes, schedules, steps))[-1]
            pf = env.last_power_flow
            out["loading_percent"].append(self.grid.loading_percent(pf))
            out["branch_loss_mw"].append(pf.p_from_mw + pf.p_to_mw)
            out["system_cost_eur"].append(info["system_cost_eur"])
            out["converged"].append(pf.converged)
        return {k: np.stack(v, axis=1) for k, v in out.items()}

    def _solve_checked(self, days: list[int], scale: float) -> list[DaySchedule]:
        """Solve ``days`` and correct each until its AC replay respects the limits."""
        grid, model, limit_pct = self.grid, self.model, self.config["grid"]["max_loading_percent"]
        target = limit_pct * scale - LOADING_MARGIN_PERCENT
        rating = grid.branch_rating_mva * limit_pct / 100.0 * scale
        limits = {d: np.tile(rating[:, None], model.steps) for d in days}
        losses: dict[int, np.ndarray | None] = dict.fromkeys(days)
        done: dict[int, DaySchedule] = {}
        rounds: dict[int, list[dict[str, float]]] = {d: [] for d in days}
        pending = list(days)
        for round_ in range(1, self.max_rounds + 1):
            scheds = [model.solve(d, limit_mw=limits[d], loss_bus_mw=losses[d]) for d in pending]
            ac, pending = self.replay(scheds), []
            for b, s in enumerate(scheds):
                loading = ac["loading_percent"][b].T  # [n_branch, T]
                worst, cost = float(loading.max()), float(ac["system_cost_eur"][b].sum())
                record = {"worst_loading_percent": worst, "cost_eur": cost}
                rounds[s.day].append({**record, "objective_eur": s.objective_eur})
                s.rounds, done[s.day] = rounds[s.day], s
                failed = not ac["converged"][b].all()  # loading is 0 where the AC failed
                if worst <= limit_pct * scale + LOADING_TOLERANCE_PERCENT and not failed:
                    continue
                if round_ == self.max_rounds or failed:
                    warnings.warn(f"optimum: day {s.day}'s AC replay fails or overloads "
                                  f"(worst loading {worst:.2f} %)", stacklevel=3)  # fmt: skip
                    continue
                # Each branch's AC losses drawn half at each end: DC flows then carry them.
                loss = ac["branch_loss_mw"][b].T / 2
                losses[s.day] = np.zeros((grid.n_bus, model.steps))
                np.add.at(losses[s.day], grid.branch_from_bus, loss)
                np.add.at(losses[s.day], grid.branch_to_bus, loss)
                # Where AC loads a branch past the target, limit its DC flow to what the
                # observed AC/DC ratio maps to the target; limits never loosen.
                tight = np.abs(s.flow_mw) * target / np.maximum(loading, 1e-9)
                limits[s.day] = np.where(
                    loading > target, np.minimum(limits[s.day], tight), limits[s.day]
                )
                pending.append(s.day)
            if not pending:
                break
        return [done[d] for d in days]
