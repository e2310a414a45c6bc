"""The IPPO trainer: rollout, independent updates, evaluation, checkpoints, logs.

One *update* is the story CleanRL tells, once per agent:

1. **Rollout.** Every agent acts on B parallel days for ``rollout_steps`` steps.
2. **Learn.** Every agent updates its own network from its own buffer. Agents never
   see each other's parameters or gradients: that is *Independent* PPO. With
   ``ppo.parameter_sharing: per_type`` the nodes of one type share one network
   instead (their experience is pooled), so students can compare the two.
3. **Evaluate** every ``eval_interval`` updates on the held-out evaluation days,
   with deterministic (mean) actions.
4. **Save** ``last.pt`` every update, ``best.pt`` when the evaluation improves, and a
   numbered checkpoint every ``checkpoint_interval`` updates.
5. **Log** one row of metrics per update to ``metrics.csv`` and TensorBoard.

Callbacks (``on_update``, ``on_eval``, ``on_checkpoint``, ``on_train_end``) let a
notebook widget draw live curves without the trainer knowing about notebooks.
"""

from __future__ import annotations

import csv
import math
import os
import time
from collections.abc import Callable, Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import torch
import yaml

from gridppo.config import load_config
from gridppo.ensemble import AgentEnsemble
from gridppo.env import BatchedGridEnv
from gridppo.grid import METRIC_NAMES, PowerGrid
from gridppo.policies import HeuristicPolicy, RandomPolicy
from gridppo.ppo import DIAGNOSTICS, PPOAgent
from gridppo.simulate import EvalResult, run_days

__all__ = ["Trainer", "TrainedPolicy", "CHECKPOINT_FORMAT_VERSION", "EVENTS"]

CHECKPOINT_FORMAT_VERSION = 1
EVENTS = ("on_update", "on_eval", "on_checkpoint", "on_train_end")
EVAL_KPIS = ("system_cost_eur", "team_reward", "voltage_violation_rate", "overload_rate")


def _agent_groups(names: list[str], types: list[str], sharing: str) -> dict[str, list[str]]:
    """Which nodes each learner acts for: one each, or one learner per node type."""
    if sharing == "none":
        return {name: [name] for name in names}
    groups: dict[str, list[str]] = {}
    for name, type_name in zip(names, types, strict=True):
        groups.setdefault(type_name, []).append(name)
    return groups


class SeparateAgents:
    """One :class:`~gridppo.ppo.PPOAgent` per learner, stepped one after another.

    A learner acts for one node (IPPO) or, with parameter sharing, for every node of a
    type: the members' observations are stacked along the batch axis, so the shared
    network learns from all of them. Same interface as
    :class:`~gridppo.ensemble.AgentEnsemble`.
    """

    def __init__(self, env: BatchedGridEnv, cfg: dict[str, Any]):
        types = [node.type_name for node in env.nodes]
        self.groups = _agent_groups(env.agents, types, cfg["ppo"]["parameter_sharing"])
        self.agents = {
            group: PPOAgent(
                group,
                env.observation_spaces[members[0]],
                env.action_spaces[members[0]],
                cfg["ppo"],
                num_steps=cfg["train"]["rollout_steps"],
                num_envs=env.batch_size * len(members),
                seed=cfg["seed"] * 1000 + i,
            )
            for i, (group, members) in enumerate(self.groups.items())
        }

    def _stacked(self, per_node: dict[str, np.ndarray], members: list[str]) -> np.ndarray:
        return np.concatenate([per_node[m] for m in members], axis=0)

    def act(
        self, observations: dict[str, np.ndarray], deterministic: bool = False, learn: bool = True
    ) -> dict[str, np.ndarray]:
        """Every node's action for its observation."""
        actions = {}
        for group, members in self.groups.items():
            out = self.agents[group].act(self._stacked(observations, members), deterministic, learn)
            for member, part in zip(members, np.split(out, len(members)), strict=True):
                actions[member] = part
        return actions

    def observe_rewards(
        self, rewards: dict, terminated: dict, truncated: dict, final_obs: dict | None = None
    ) -> None:
        """Hand each learner its members' rewards and episode flags."""
        for group, members in self.groups.items():
            self.agents[group].observe_rewards(
                self._stacked(rewards, members),
                self._stacked(terminated, members),
                self._stacked(truncated, members),
                None if final_obs is None else self._stacked(final_obs, members),
            )

    def update(self, last_obs: dict[str, np.ndarray], progress: float) -> dict[str, dict]:
        """Update every learner; diagnostics per node (shared learners repeat theirs)."""
        out = {}
        for group, members in self.groups.items():
            diagnostics = self.agents[group].update(self._stacked(last_obs, members), progress)
            for member in members:
                out[member] = diagnostics
        return out

    def state_dict(self) -> dict[str, Any]:
        """Every learner's state, keyed by learner name."""
        return {
            "kind": "separate",
            "groups": self.groups,
            "agents": {g: a.state_dict() for g, a in self.agents.items()},
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore what :meth:`state_dict` saved."""
        if state.get("kind") != "separate" or set(state["agents"]) != set(self.agents):
            raise ValueError("checkpoint learners do not match this configuration")
        for group, agent in self.agents.items():
            agent.load_state_dict(state["agents"][group])


def build_learners(env: BatchedGridEnv, cfg: dict[str, Any]) -> SeparateAgents | AgentEnsemble:
    """The learners a config asks for: the vectorised ensemble for plain IPPO, separate
    :class:`~gridppo.ppo.PPOAgent` objects for parameter sharing or a target KL."""
    ppo = cfg["ppo"]
    if ppo["parameter_sharing"] == "none" and ppo["target_kl"] is None:
        return AgentEnsemble(
            env.agents,
            env.observation_spaces,
            env.action_spaces,
            ppo,
            cfg["train"]["rollout_steps"],
            env.batch_size,
            seed=cfg["seed"] * 1000,
        )
    return SeparateAgents(env, cfg)


class TrainedPolicy:
    """Trained learners wrapped as a policy: ``act(observations, env) -> actions``.

    Actions are deterministic (the Gaussian's mean) unless ``deterministic=False``;
    nothing is learned and no statistics change.
    """

    name = "ippo"

    def __init__(self, learners: SeparateAgents | AgentEnsemble, deterministic: bool = True):
        self.learners, self.deterministic = learners, deterministic

    def act(self, observations: dict[str, np.ndarray], env: BatchedGridEnv) -> dict:
        """Actions of every agent."""
        return self.learners.act(observations, self.deterministic, learn=False)

    @classmethod
    def from_checkpoint(cls, path: str | os.PathLike, deterministic: bool = True):
        """Load a policy from a checkpoint; returns ``(policy, config)``."""
        state = load_checkpoint(path)
        cfg = load_config(state["config"])
        env = BatchedGridEnv(cfg, batch_size=cfg["train"]["num_days"], mode="eval", autoreset=False)
        learners = build_learners(env, cfg)
        learners.load_state_dict(state["learners"])
        return cls(learners, deterministic), cfg


def load_checkpoint(path: str | os.PathLike) -> dict[str, Any]:
    """Read a checkpoint: tensors and plain data only (``weights_only=True``)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint: no such file '{path}'")
    state = torch.load(path, map_location="cpu", weights_only=True)
    if not isinstance(state, dict) or state.get("format_version") != CHECKPOINT_FORMAT_VERSION:
        raise ValueError(
            f"checkpoint: '{path}' is not a gridppo checkpoint of format "
            f"{CHECKPOINT_FORMAT_VERSION}"
        )
    return state


def save_checkpoint(state: dict[str, Any], path: Path) -> None:
    """Write a checkpoint atomically: to a temporary file, then rename over the target,
    so an interrupted write never leaves a half-written file behind."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    with open(tmp, "wb") as handle:
        torch.save(state, handle)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, path)


class Trainer:
    """Trains one PPO agent per node (or per type) on the grid; see the module docstring.

    Build it with :meth:`from_config`, add callbacks with :meth:`add_callback`, call
    :meth:`train`. :meth:`request_stop` (e.g. from a Stop button) ends training after
    the current update, saving as usual.
    """

    def __init__(
        self, config: dict[str, Any], run_name: str | None = None, root: str | os.PathLike = "."
    ):
        self.config = config
        train = config["train"]
        torch.set_num_threads(train["torch_threads"])
        self.run_name = run_name or datetime.now().strftime(f"%Y%m%d-%H%M%S-seed{config['seed']}")
        root = Path(root)
        self.log_dir = root / train["log_dir"] / self.run_name
        self.checkpoint_dir = root / train["checkpoint_dir"] / self.run_name
        self.grid = PowerGrid(config)
        self.env = BatchedGridEnv(grid=self.grid, batch_size=train["num_days"], mode="train")
        # Nodes keep the state of the days they simulate, so evaluation gets its own grid.
        self.eval_grid = PowerGrid(config)
        self.eval_env = BatchedGridEnv(
            grid=self.eval_grid,
            batch_size=len(self.eval_grid.profiles.eval_days),
            mode="eval",
            autoreset=False,
        )
        self.learners = build_learners(self.env, config)
        self.callbacks: dict[str, list[Callable]] = {event: [] for event in EVENTS}
        self.update = 0
        self.global_step = 0
        self.best_score = -math.inf
        self.history: list[dict[str, float]] = []
        self.eval_history: list[dict[str, Any]] = []
        self.baselines: dict[str, EvalResult] = {}
        self._stop = False
        self._obs: dict[str, np.ndarray] | None = None
        self._train_time = 0.0

    @classmethod
    def from_config(
        cls,
        config: str | os.PathLike | Mapping[str, Any] | None = None,
        overrides: Mapping[str, Any] | list[str] | None = None,
        run_name: str | None = None,
        root: str | os.PathLike = ".",
    ) -> Trainer:
        """Build a trainer from a YAML path, a config dict or None (the default config),
        with optional dotted ``overrides`` such as ``{"ppo.lr": 1e-4}``."""
        source = str(config) if isinstance(config, os.PathLike) else config
        return cls(load_config(source, overrides), run_name=run_name, root=root)

    # -- callbacks -----------------------------------------------------------
    def add_callback(self, event: str, fn: Callable) -> None:
        """Call ``fn(trainer, payload)`` on ``event`` (one of :data:`EVENTS`).

        Payloads: ``on_update`` the metrics row (dict); ``on_eval`` a dict policy ->
        :class:`~gridppo.simulate.EvalResult`; ``on_checkpoint`` the path written;
        ``on_train_end`` the summary dict.
        """
        if event not in self.callbacks:
            raise ValueError(f"unknown event {event!r}; events: {', '.join(EVENTS)}")
        self.callbacks[event].append(fn)

    def _fire(self, event: str, payload: Any) -> None:
        for fn in self.callbacks[event]:
            fn(self, payload)

    def request_stop(self) -> None:
        """Ask training to stop after the update in progress."""
        self._stop = True

    # -- policies and evaluation ----------------------------------------------
    def policy(self, deterministic: bool = True) -> TrainedPolicy:
        """The current agents as a policy."""
        return TrainedPolicy(self.learners, deterministic)

    def evaluate(self, record: bool = False) -> EvalResult:
        """The current policy on every evaluation day (deterministic actions)."""
        return run_days(self.policy(), self.eval_env, record=record)

    def evaluate_baselines(self) -> dict[str, EvalResult]:
        """Random and heuristic on the evaluation days (computed once, then cached)."""
        if not self.baselines:
            for policy in (RandomPolicy(self.config["seed"]), HeuristicPolicy(self.eval_env)):
                self.baselines[policy.name] = run_days(policy, self.eval_env)
        return self.baselines

    # -- the loop ------------------------------------------------------------
    def _rollout(self) -> dict[str, float]:
        env, steps = self.env, self.config["train"]["rollout_steps"]
        if self._obs is None:
            self._obs, _ = env.reset(seed=self.config["seed"])
            self._episode_return = {a: np.zeros(env.batch_size) for a in env.agents}
        obs = self._obs
        finished: dict[str, list[np.ndarray]] = {a: [] for a in env.agents}
        grid_sums = dict.fromkeys(METRIC_NAMES, 0.0)
        for _ in range(steps):
            actions = self.learners.act(obs)
            obs, rewards, terminated, truncated, info = env.step(actions)
            self.learners.observe_rewards(
                rewards, terminated, truncated, info.get("final_observation")
            )
            ended = info["day_ended"]
            for a in env.agents:
                self._episode_return[a] += rewards[a]
                if ended.any():
                    finished[a].append(self._episode_return[a][ended].copy())
                    self._episode_return[a][ended] = 0.0
            for key in METRIC_NAMES:
                grid_sums[key] += float(np.mean(info["metrics"][key]))
        self._obs = obs
        self.global_step += steps * env.batch_size
        row: dict[str, float] = {}
        returns = {a: np.concatenate(v) if v else np.array([]) for a, v in finished.items()}
        team = sum(returns.values()) if all(len(v) for v in returns.values()) else np.array([])
        row["charts/team_return"] = float(np.mean(team)) if len(team) else math.nan
        for a in env.agents:
            row[f"charts/episodic_return/{a}"] = (
                float(np.mean(returns[a])) if len(returns[a]) else math.nan
            )
        for key in METRIC_NAMES:
            row[f"grid/{key}"] = grid_sums[key] / steps
        return row

    def train_one_update(self) -> dict[str, float]:
        """Run one rollout and one update of every agent; returns the metrics row."""
        total = self.config["train"]["total_updates"]
        start = time.perf_counter()
        rollout = self._rollout()
        progress = self.update / total
        losses: dict[str, float] = {}
        for name, diagnostics in self.learners.update(self._obs, progress).items():
            for key in DIAGNOSTICS:
                losses[f"losses/{key}/{name}"] = diagnostics[key]
        self.update += 1
        elapsed = time.perf_counter() - start
        self._train_time += elapsed
        steps = self.config["train"]["rollout_steps"] * self.env.batch_size
        row = {
            "update": float(self.update),
            "global_step": float(self.global_step),
            "time_s": self._train_time,
            "charts/steps_per_s": steps / elapsed,
            **rollout,
            **losses,
        }
        for key in EVAL_KPIS:
            row[f"eval/{key}"] = math.nan
        return row

    def train(self, total_updates: int | None = None, progress_bar: bool = True) -> dict[str, Any]:
        """Train until ``total_updates`` (default: the config's) or :meth:`request_stop`.

        Returns a summary: updates, environment steps, wall time, steps per second, the
        final and best evaluation KPIs, and where logs and checkpoints were written.
        """
        from tqdm.auto import tqdm

        total = total_updates or self.config["train"]["total_updates"]
        cfg = self.config["train"]
        self._stop = False
        self._open_logs()
        self.evaluate_baselines()
        wall = time.perf_counter()
        bar = tqdm(
            total=total,
            initial=self.update,
            desc="training",
            unit="update",
            disable=not progress_bar,
            leave=False,
        )
        try:
            while self.update < total and not self._stop:
                row = self.train_one_update()
                if self.update % cfg["eval_interval"] == 0 or self.update == total:
                    result = self.evaluate()
                    for key in EVAL_KPIS:
                        row[f"eval/{key}"] = result.kpis[key]
                    self.eval_history.append({"update": self.update, **result.kpis})
                    score = -result.kpis["system_cost_eur"]
                    if score > self.best_score:
                        self.best_score = score
                        self._save("best.pt")
                    self._fire("on_eval", {"ippo": result, **self.baselines})
                self._log(row)
                self.history.append(row)
                self._save("last.pt")
                if self.update % cfg["checkpoint_interval"] == 0:
                    self._save(f"update_{self.update:06d}.pt")
                bar.update(1)
                bar.set_postfix(team_return=f"{row['charts/team_return']:.0f}")
                self._fire("on_update", row)
        finally:
            bar.close()
            self._close_logs()
        summary = self.summary(time.perf_counter() - wall)
        self._fire("on_train_end", summary)
        return summary

    def summary(self, wall_time_s: float) -> dict[str, Any]:
        """What a run produced, for the CLI and the benchmarks."""
        final = self.eval_history[-1] if self.eval_history else {}
        best = min(self.eval_history, key=lambda e: e["system_cost_eur"]) if final else {}
        steps = self.update * self.config["train"]["rollout_steps"] * self.env.batch_size
        return {
            "run_name": self.run_name,
            "updates": self.update,
            "global_step": self.global_step,
            "wall_time_s": wall_time_s,
            "steps_per_s": steps / max(self._train_time, 1e-9),
            "final_eval": final,
            "best_eval": best,
            "baselines": {k: v.kpis for k, v in self.baselines.items()},
            "log_dir": str(self.log_dir),
            "checkpoint_dir": str(self.checkpoint_dir),
        }

    def save_learning_curve(self, path: str | os.PathLike | None = None) -> Path:
        """Save the evaluation cost over training beside the baselines as a PNG
        (default ``<log_dir>/learning_curve.png``); returns the path."""
        import matplotlib.pyplot as plt

        from gridppo.plots import plot_learning_curve

        path = Path(path) if path else self.log_dir / "learning_curve.png"
        path.parent.mkdir(parents=True, exist_ok=True)
        baselines = {name: result.kpis for name, result in self.baselines.items()}
        fig = plot_learning_curve(self.eval_history, baselines)
        fig.savefig(path, dpi=100)
        plt.close(fig)
        return path

    # -- checkpoints ---------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        """The checkpoint: config, progress and every agent (tensors and plain data)."""
        return {
            "format_version": CHECKPOINT_FORMAT_VERSION,
            "config": self.config,
            "run_name": self.run_name,
            "update": self.update,
            "global_step": self.global_step,
            "best_score": self.best_score,
            "learners": self.learners.state_dict(),
        }

    def _save(self, filename: str) -> Path:
        path = self.checkpoint_dir / filename
        save_checkpoint(self.state_dict(), path)
        self._fire("on_checkpoint", path)
        return path

    # -- logs ----------------------------------------------------------------
    def _columns(self) -> list[str]:
        cols = ["update", "global_step", "time_s", "charts/steps_per_s", "charts/team_return"]
        cols += [f"charts/episodic_return/{a}" for a in self.env.agents]
        cols += [f"losses/{k}/{a}" for a in self.env.agents for k in DIAGNOSTICS]
        cols += [f"grid/{k}" for k in METRIC_NAMES]
        cols += [f"eval/{k}" for k in EVAL_KPIS]
        return cols

    def _open_logs(self) -> None:
        self.log_dir.mkdir(parents=True, exist_ok=True)
        with open(self.log_dir / "config.yaml", "w") as handle:
            yaml.safe_dump(self.config, handle, sort_keys=False)
        path = self.log_dir / "metrics.csv"
        new_file = not path.exists()
        self._csv_handle = open(path, "a", newline="")
        self._csv = csv.DictWriter(self._csv_handle, fieldnames=self._columns())
        if new_file:
            self._csv.writeheader()
        self._tb = None
        if self.config["train"]["tensorboard"]:
            from torch.utils.tensorboard import SummaryWriter

            self._tb = SummaryWriter(str(self.log_dir))

    def _log(self, row: dict[str, float]) -> None:
        self._csv.writerow(
            {
                k: ("" if isinstance(v, float) and math.isnan(v) else v)
                for k, v in row.items()
                if k in self._csv.fieldnames
            }
        )
        self._csv_handle.flush()
        if self._tb is not None:
            for key, value in row.items():
                if key not in ("update", "global_step") and not math.isnan(value):
                    self._tb.add_scalar(key, value, self.global_step)

    def _close_logs(self) -> None:
        if getattr(self, "_csv_handle", None) is not None:
            self._csv_handle.close()
            self._csv_handle = None
        if getattr(self, "_tb", None) is not None:
            self._tb.close()
            self._tb = None
