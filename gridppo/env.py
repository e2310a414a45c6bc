"""The multi-agent environment: one agent per grid node, one episode per day.

Two forms share one implementation:

- :class:`BatchedGridEnv` steps B days at once; observations, actions and rewards are
  dicts keyed by agent holding arrays with a leading dimension B. The trainer uses it.
- :class:`GridEnv` is PettingZoo's ``ParallelEnv`` (B = 1), for students and for
  ``pettingzoo.test.parallel_api_test``.

**Description.** Each step, every agent sends an action in [-1, 1]; the nodes turn the
actions into setpoints, the AC power flow is solved, and each agent receives its local
economic reward minus the weighted grid penalty.

**Observation space.** A Box per agent: the common features of
:mod:`gridppo.grid.node` (own and neighbour voltages, own injection, the loading of the
branches at its bus, time of day, price and its forecast) followed by the node type's
own features. Voltages, loadings and injections are measured by the previous step's
power flow (or, at the start of a day, by a power flow of the case setpoints with the
first step's demand).

**Action space.** A Box in [-1, 1] per agent (see each node type for the mapping).
Out-of-range actions are clipped to [-1, 1]; NaN or infinite actions, or actions of the
wrong shape, raise :class:`ActionError`.

**Rewards.** ``reward = local_eur - grid_penalty_weight * penalty_eur`` where
``penalty_eur`` prices voltage violations, overloads and a failed power flow (see
:mod:`gridppo.grid.penalty`, which owns the config's ``reward`` section); every agent
receives the whole penalty, not a share of it. The market settles every step (see
:mod:`gridppo.grid.settlement`): each node pays or is paid the price for its own energy
(``energy_eur``), the upstream grid is paid the price for the import at the slack bus,
and the network losses are bought at the price and charged to whatever draws power, in
proportion to what it draws (``loss_charge_eur``). When every load of the net belongs
to a node, as in the default grid, the payments balance to zero; a load no node owns is
nobody's to bill, for its energy or its share of the losses. Every component is
reported per agent in the infos.

**Starting state.** A day drawn at random from the training days (``mode="train"``),
or the next day, in order, of the validation or test days (``mode="validation"``,
``mode="test"``); batteries at their initial state of charge.

**Episode end.** A day is the whole task (state of charge and flexible energy start
afresh each day, and the time of day is observed), so its last step *terminates* the
episode: nothing comes after it, and the critic must not value what follows (Pardo et
al., 2018). Truncation is left to the learner, where a rollout cuts a day. A power flow
that does not converge is a blackout: it terminates the day as a failure, nothing is
traded in that step, and the penalty prices the rest of the day's demand at the value
of lost load (``infos["metrics"]["converged"] == 0``).

**Arguments.** ``config`` (dict, YAML path or None), ``mode`` (``"train"``,
``"validation"`` or ``"test"``), ``batch_size`` (B, batched form only), ``grid`` (an existing
:class:`~gridppo.grid.network.PowerGrid` to reuse), ``autoreset`` (batched form: restart
finished days in place, returning the final observation in the infos).

**Saving.** :meth:`BatchedGridEnv.state_dict` captures everything the next step depends
on (days, steps, the generator, the measured voltages, every node's ``STATE`` and the
power-flow warm start); :meth:`BatchedGridEnv.load_state_dict` restores it, so a
restored environment continues step for step as the original would have.
"""

from __future__ import annotations

import functools
from typing import Any

import numpy as np
from gymnasium import spaces
from pettingzoo import ParallelEnv

from gridppo.grid.context import StepContext
from gridppo.grid.network import PowerGrid
from gridppo.grid.node import shared_features
from gridppo.grid.observation import OwnFeatures
from gridppo.grid.profiles import SPLITS
from gridppo.grid.settlement import settle

__all__ = ["BatchedGridEnv", "GridEnv", "ActionError"]


class ActionError(ValueError):
    """An action has the wrong shape or holds NaN or infinite values."""


class BatchedGridEnv:
    """B parallel days of the grid game, stepped together (see the module docstring)."""

    def __init__(
        self,
        config: dict[str, Any] | str | None = None,
        batch_size: int = 1,
        mode: str = "train",
        grid: PowerGrid | None = None,
        autoreset: bool = True,
        backend: str | None = None,
    ):
        if mode not in SPLITS:
            raise ValueError(f"mode: expected one of {', '.join(SPLITS)}, got {mode!r}")
        if batch_size < 1:
            raise ValueError(f"batch_size: must be at least 1, got {batch_size}")
        self.grid = grid if grid is not None else PowerGrid(config, backend=backend)
        self.config = self.grid.config
        self.batch_size = batch_size
        self.mode = mode
        self.autoreset = autoreset
        self.nodes = self.grid.nodes
        self._own_features = OwnFeatures(self.nodes)
        self.agents = [node.name for node in self.nodes]
        self.steps_per_day = self.config["time"]["steps_per_day"]
        self.dt_h = 24.0 / self.steps_per_day
        self.forecast_steps = self.config["time"]["forecast_steps"]
        self.observation_spaces = {
            n.name: n.observation_space(self.forecast_steps) for n in self.nodes
        }
        self.action_spaces = {n.name: n.action_space() for n in self.nodes}
        self.feature_names = {n.name: n.feature_names(self.forecast_steps) for n in self.nodes}
        self.rng = np.random.default_rng(self.config["seed"])
        self._next_eval_day = 0
        self.day = np.zeros(batch_size, dtype=int)
        self.step_index = np.zeros(batch_size, dtype=int)
        self._max_loading_percent = self.config["grid"]["max_loading_percent"]

    # -- days and profiles ---------------------------------------------------
    def _draw_days(self, count: int) -> np.ndarray:
        profiles = self.grid.profiles
        if self.mode == "train":
            return self.rng.choice(profiles.train_days, size=count)
        days = profiles.days(self.mode)
        picks = days[(self._next_eval_day + np.arange(count)) % len(days)]
        self._next_eval_day += count
        return picks

    def context(self) -> StepContext:
        """What the nodes may read at the current step of every day (profiles, step)."""
        return self.grid.profiles.step_context(self.day, self.step_index, self.forecast_steps)

    # -- observations --------------------------------------------------------
    def _observe(self, ctx: StepContext) -> dict[str, np.ndarray]:
        """Every node's observation at ``ctx``, from the last measured grid state."""
        shared = shared_features(ctx)
        own = self._own_features(self._vm_pu, self._loading_fraction)
        return {
            node.name: node.observation(own[:, k], shared, ctx) for k, node in enumerate(self.nodes)
        }

    def _initial_voltages(self, rows: np.ndarray | None = None) -> None:
        """Measure the grid before the first action: case setpoints, first-step demand."""
        ctx = self.context()
        inj = self.grid.base_injections(self.batch_size, ctx.load_pu)
        pf = self.grid.run_power_flow(inj)
        loading = self.grid.loading_percent(pf) / self._max_loading_percent
        if rows is None:
            self._vm_pu, self._loading_fraction = pf.vm_pu, loading
        else:
            self._vm_pu[rows] = pf.vm_pu[rows]
            self._loading_fraction[rows] = loading[rows]

    # -- the API -------------------------------------------------------------
    def reset(
        self, seed: int | None = None, days: np.ndarray | list[int] | None = None
    ) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
        """Start B new days. ``seed`` reseeds the environment's generator; ``days``
        picks the days explicitly (indices into the profiles)."""
        if seed is not None:
            self.rng = np.random.default_rng(seed)
            self._next_eval_day = 0
        if days is not None:
            days = np.asarray(days, dtype=int)
            if days.shape != (self.batch_size,):
                raise ValueError(f"days: expected {self.batch_size} day indices, got {days.shape}")
            if days.min() < 0 or days.max() >= self.grid.profiles.n_days:
                raise ValueError(f"days: indices must lie in 0..{self.grid.profiles.n_days - 1}")
            self.day = days.copy()
        else:
            self.day = self._draw_days(self.batch_size)
        self.step_index = np.zeros(self.batch_size, dtype=int)
        for node in self.nodes:
            node.reset(self.batch_size, self.rng)
        self._initial_voltages()
        return self._observe(self.context()), {"day": self.day.copy()}

    def _check_actions(self, actions: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        missing = [a for a in self.agents if a not in actions]
        if missing:
            raise ActionError(f"actions: missing for agent(s) {', '.join(missing)}")
        extra = [a for a in actions if a not in self.action_spaces]
        if extra:
            raise ActionError(f"actions: unknown agent(s) {', '.join(map(str, extra))}")
        checked = {}
        for name in self.agents:
            action = np.asarray(actions[name], dtype=np.float64)
            want = (self.batch_size, self.action_spaces[name].shape[0])
            if action.shape != want:
                if action.size == want[0] * want[1]:
                    action = action.reshape(want)
                else:
                    raise ActionError(
                        f"actions[{name!r}]: expected shape {want}, got {action.shape}"
                    )
            if not np.all(np.isfinite(action)):
                raise ActionError(f"actions[{name!r}]: contains NaN or infinite values")
            checked[name] = np.clip(action, -1.0, 1.0)
        return checked

    def step(self, actions: dict[str, np.ndarray]):
        """Advance every day by one step.

        Returns ``(observations, rewards, terminations, truncations, infos)``; each of
        the first four is a dict keyed by agent of arrays [B] (observations
        [B, obs_dim]). A day terminates at its last step or when its power flow fails;
        this environment never truncates. ``infos`` holds ``metrics`` (grid metrics,
        each [B]), ``reward_components`` (agent -> component -> [B]), ``penalty_eur``,
        ``violations`` (each [B]), ``system_cost_eur``, ``upstream_payment_eur`` (paid
        upstream for the import), with autoreset ``final_observation`` (agent ->
        [B, obs_dim], meaningful where the day ended) and ``day_ended`` ([B] bool).
        """
        actions = self._check_actions(actions)
        ctx = self.context()
        inj = self.grid.apply_actions(actions, ctx)
        pf = self.grid.run_power_flow(inj)
        failed = ~pf.converged
        lost_load_mwh = np.zeros(self.batch_size)
        if failed.any():  # a blackout loses the rest of the day's demand
            lost = self.grid.rest_of_day_demand_mwh(self.day, ctx.step)
            lost_load_mwh[failed] = lost[failed]
        loading = self.grid.loading_percent(pf)  # once: penalty, metrics, observation
        penalty_parts = self.grid.penalty.parts_eur(pf, loading, lost_load_mwh)
        violations = self.grid.penalty.violations(pf, loading)
        penalty = sum(penalty_parts.values())
        money = settle(
            self.nodes,
            ctx,
            pf,
            inj,
            self.grid.unowned_loads,
            penalty,
            self.grid.penalty.shared_reward_eur(penalty),
        )
        shed_mwh = sum(node.unserved_mw() for node in self.nodes) * self.dt_h * pf.converged
        metrics = self.grid.metrics(
            pf, money.generation_cost_eur, shed_mwh + lost_load_mwh, loading
        )
        self.last_power_flow = pf
        self.last_injections = inj
        self._vm_pu = pf.vm_pu
        self._loading_fraction = loading / self._max_loading_percent
        self.step_index = self.step_index + 1
        ended = (self.step_index >= self.steps_per_day) | failed
        obs = self._observe(self.context())
        infos: dict[str, Any] = {
            "metrics": metrics,
            "reward_components": money.components,
            "penalty_eur": penalty_parts,
            "violations": violations,
            "system_cost_eur": money.system_cost_eur,
            "upstream_payment_eur": money.upstream_payment_eur,
            "day": self.day.copy(),
            "day_ended": ended.copy(),
        }
        if self.autoreset and ended.any():
            infos["final_observation"] = obs
            obs = {k: v.copy() for k, v in obs.items()}
            self._restart_rows(ended)
            fresh = self._observe(self.context())
            for name in obs:
                obs[name][ended] = fresh[name][ended]
        terminations = {name: ended.copy() for name in self.agents}
        truncations = {name: np.zeros(self.batch_size, dtype=bool) for name in self.agents}
        return obs, money.rewards, terminations, truncations, infos

    def _restart_rows(self, rows: np.ndarray) -> None:
        self.day[rows] = self._draw_days(int(rows.sum()))
        self.step_index[rows] = 0
        for node in self.nodes:
            node.reset_rows(rows, self.rng)
        self._initial_voltages(rows)

    # -- saving --------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        """The environment's dynamic state: numpy arrays and plain data, all copies.

        Holds the day and step of every row, the generator's bit-generator state, the
        next evaluation day, the voltages the next observation reports (``vm_pu``, None
        before the first reset), each node's :meth:`~gridppo.grid.node.Node.state_dict` and,
        for the fast backend, its Newton-Raphson starting point (a warm start changes
        results in the last digits only, but a resumed run must match to the bit).
        """
        vm = getattr(self, "_vm_pu", None)
        warm_start = getattr(self.grid.backend, "v_init", None)
        return {
            "batch_size": self.batch_size,
            "mode": self.mode,
            "agents": list(self.agents),
            "day": self.day.copy(),
            "step_index": self.step_index.copy(),
            "rng": self.rng.bit_generator.state,
            "next_eval_day": self._next_eval_day,
            "vm_pu": None if vm is None else np.array(vm, dtype=float),
            "loading_fraction": None if vm is None else np.array(self._loading_fraction),
            "nodes": {node.name: node.state_dict() for node in self.nodes},
            "power_flow_v_init": None if warm_start is None else np.array(warm_start),
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore what :meth:`state_dict` saved; the batch size and agents must match.

        Raises ValueError if they do not.
        """
        if state["batch_size"] != self.batch_size or list(state["agents"]) != self.agents:
            raise ValueError(
                f"environment state for {state['batch_size']} days and agents "
                f"{list(state['agents'])} does not fit this environment "
                f"({self.batch_size} days, agents {self.agents})"
            )
        self.day = np.array(state["day"], dtype=int)
        self.step_index = np.array(state["step_index"], dtype=int)
        rng = np.random.default_rng()
        rng.bit_generator.state = state["rng"]
        self.rng = rng
        self._next_eval_day = int(state["next_eval_day"])
        if state["vm_pu"] is not None:
            self._vm_pu = np.array(state["vm_pu"], dtype=float)
            self._loading_fraction = np.array(state["loading_fraction"], dtype=float)
        for node in self.nodes:
            node.load_state_dict(state["nodes"][node.name])
        if state["power_flow_v_init"] is not None and hasattr(self.grid.backend, "v_init"):
            self.grid.backend.v_init = np.array(state["power_flow_v_init"], dtype=np.complex128)


class GridEnv(ParallelEnv):
    """PettingZoo ``ParallelEnv`` of the grid game: one day, one agent per node.

    See the module docstring for the observation and action spaces, rewards, starting
    state and episode end. ``infos[agent]`` holds the agent's reward components
    (``reward/<component>``) and the grid metrics of the step.
    """

    metadata = {"name": "gridppo_v0", "render_modes": [], "is_parallelizable": True}

    def __init__(
        self,
        config: dict[str, Any] | str | None = None,
        mode: str = "train",
        grid: PowerGrid | None = None,
        backend: str | None = None,
    ):
        self.batched = BatchedGridEnv(config, 1, mode, grid=grid, autoreset=False, backend=backend)
        self.grid = self.batched.grid
        self.possible_agents = list(self.batched.agents)
        self.agents: list[str] = []
        self.render_mode = None

    @functools.cache  # noqa: B019 - spaces must be the same object each call
    def observation_space(self, agent: str) -> spaces.Box:
        """The agent's observation space."""
        return self.batched.observation_spaces[agent]

    @functools.cache  # noqa: B019
    def action_space(self, agent: str) -> spaces.Box:
        """The agent's action space."""
        return self.batched.action_spaces[agent]

    def reset(self, seed: int | None = None, options: dict | None = None):
        """Start a new day; ``options={"day": d}`` picks day ``d``."""
        days = [options["day"]] if options and "day" in options else None
        obs, info = self.batched.reset(seed=seed, days=days)
        self.agents = list(self.possible_agents)
        return (
            {a: obs[a][0] for a in self.agents},
            {a: {"day": int(info["day"][0])} for a in self.agents},
        )

    def step(self, actions: dict[str, np.ndarray]):
        """Apply one action per agent and advance the day by one step."""
        if not self.agents:
            raise RuntimeError("step() called after the day ended; call reset() first")
        missing = [a for a in self.possible_agents if a not in actions]
        if missing:
            raise ActionError(f"actions: missing for agent(s) {', '.join(missing)}")
        batched = {}
        for a in self.possible_agents:
            action = np.asarray(actions[a])
            want = self.action_space(a).shape
            if action.shape != want:
                raise ActionError(f"actions[{a!r}]: expected shape {want}, got {action.shape}")
            batched[a] = action[None, :]
        obs, rew, term, trunc, info = self.batched.step(batched)
        metrics = {k: float(v[0]) for k, v in info["metrics"].items()}
        infos = {}
        for a in self.agents:
            comps = {f"reward/{k}": float(v[0]) for k, v in info["reward_components"][a].items()}
            infos[a] = {**comps, **metrics, "system_cost_eur": float(info["system_cost_eur"][0])}
        out = (
            {a: obs[a][0] for a in self.agents},
            {a: float(rew[a][0]) for a in self.agents},
            {a: bool(term[a][0]) for a in self.agents},
            {a: bool(trunc[a][0]) for a in self.agents},
            infos,
        )
        if term[self.agents[0]][0] or trunc[self.agents[0]][0]:
            self.agents = []
        return out
