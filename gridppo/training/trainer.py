"""The IPPO trainer: rollout, independent updates, evaluation, checkpoints, logs.

One *update* is the story CleanRL tells, once per agent:

1. **Rollout.** Every agent acts on B parallel days for ``rollout_steps`` steps.
2. **Learn.** Every agent updates its own network from its own buffer. Agents never
   see each other's parameters or gradients: that is *Independent* PPO. With
   ``ppo.parameter_sharing: per_type`` the nodes of one type share one network
   instead (their experience is pooled), so students can compare the two.
3. **Validate** every ``eval_interval`` updates on the held-out validation days,
   with deterministic (mean) actions.
4. **Save** ``last.pt`` every update, ``best.pt`` when the system cost on the
   validation days improves, and a numbered checkpoint every ``checkpoint_interval``
   updates. Reported results come from the separate test days, which choose nothing
   (see :mod:`gridppo.evaluation`).
5. **Log** one row of metrics per update to ``metrics.csv`` and TensorBoard.

Callbacks (``on_update``, ``on_eval``, ``on_checkpoint``, ``on_train_end``) let a
notebook widget draw live curves without the trainer knowing about notebooks.

**Failing well** (see ``docs/reliability.md``):

- A checkpoint holds the *whole* training state at an update boundary: every learner,
  both environments (days, steps, generator, voltages, node states), the current
  observations, the episode returns so far, counters, best score, evaluation history,
  baselines and the torch generator. :meth:`Trainer.resume` continues a run exactly
  as if it had never stopped (same parameters and metrics, on the CPU).
- Checkpoints are written atomically; :func:`load_checkpoint` reads tensors and plain
  data only and raises :class:`CheckpointError`, naming the file, for anything else.
- An update that is interrupted (KeyboardInterrupt) or fails returns the trainer to
  its last completed update, the one in ``last.pt``, before the exception propagates.
- NaN or infinite observations, rewards, losses or parameters raise
  :class:`TrainingDivergedError` (naming the agent and the update) before anything
  is saved, so ``last.pt`` keeps the last good weights.
"""

from __future__ import annotations

import copy
import csv
import math
import os
import pickle
import re
import sys
import time
from collections.abc import Callable, Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import torch
import yaml

from gridppo.agents.ensemble import AgentEnsemble
from gridppo.agents.ppo import DIAGNOSTICS, PPOAgent
from gridppo.baselines.policies import HeuristicPolicy, RandomPolicy
from gridppo.config.fields import ConfigError, first_line, parse_settings
from gridppo.config.loader import load_config
from gridppo.env import BatchedGridEnv
from gridppo.evaluation.simulate import EvalResult, run_days
from gridppo.grid.network import METRIC_NAMES, PowerGrid

__all__ = [
    "Trainer",
    "TrainedPolicy",
    "CheckpointError",
    "TrainingDivergedError",
    "load_checkpoint",
    "save_checkpoint",
    "find_resumable_checkpoint",
    "CHECKPOINT_FORMAT_VERSION",
    "RESUME_OVERRIDES",
    "EVENTS",
]

# 2: the checkpoint holds the full training state (environments, observations, ...).
# 3: days end by termination; validation and test days are separate.
CHECKPOINT_FORMAT_VERSION = 3
# The only settings a resumed run may change: how long it runs, how often it evaluates
# and saves, and how it logs. Changing total_updates changes the learning-rate schedule
# (with ppo.anneal_lr) and eval_interval the validation days' warm start, so only an
# unchanged run is guaranteed to match an uninterrupted one.
RESUME_OVERRIDES = (
    "train.total_updates",
    "train.eval_interval",
    "train.checkpoint_interval",
    "train.tensorboard",
)
EVENTS = ("on_update", "on_eval", "on_checkpoint", "on_train_end")
EVAL_KPIS = (
    "system_cost_eur",
    "team_reward",
    "voltage_violation_rate",
    "overload_rate",
    "unserved_energy_mwh",
)


class CheckpointError(ValueError):
    """A checkpoint is missing, truncated, corrupt, of another format, holds objects other
    than tensors and plain data, or does not fit the configuration that loads it.

    The message is one line and names the file.
    """


class TrainingDivergedError(RuntimeError):
    """Training produced NaN or infinite values.

    Attributes: ``agent`` (the learner's name), ``update`` (the update that failed, 1 for
    the first) and ``what`` (observation, reward, a loss, or parameters). The trainer has
    returned to its last completed update, whose weights ``last.pt`` still holds.
    """

    def __init__(self, message: str, agent: str, update: int, what: str):
        super().__init__(message)
        self.agent, self.update, self.what = agent, update, what


def _to_tensors(obj: Any) -> Any:
    """numpy arrays -> tensors (copies), recursively, so weights_only loading accepts them."""
    if isinstance(obj, np.ndarray):
        return torch.from_numpy(np.array(obj, copy=True))
    if isinstance(obj, dict):
        return {k: _to_tensors(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_to_tensors(v) for v in obj]
    return obj


def _to_numpy(obj: Any) -> Any:
    """The inverse of :func:`_to_tensors`."""
    if isinstance(obj, torch.Tensor):
        return obj.numpy().copy()
    if isinstance(obj, dict):
        return {k: _to_numpy(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_to_numpy(v) for v in obj]
    return obj


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
    nothing is learned and no statistics change. ``name`` labels it in KPI tables (give
    two trained policies different names to compare them side by side).
    """

    def __init__(
        self,
        learners: SeparateAgents | AgentEnsemble,
        deterministic: bool = True,
        name: str = "ippo",
    ):
        self.learners, self.deterministic, self.name = learners, deterministic, name

    def act(self, observations: dict[str, np.ndarray], env: BatchedGridEnv) -> dict:
        """Actions of every agent."""
        return self.learners.act(observations, self.deterministic, learn=False)

    @classmethod
    def from_checkpoint(
        cls, path: str | os.PathLike, deterministic: bool = True, name: str = "ippo"
    ):
        """Load a policy from a checkpoint; returns ``(policy, config)``.

        Raises :class:`CheckpointError` if the file cannot be read or does not fit.
        """
        state = load_checkpoint(path)
        cfg = _checkpoint_config(state, path)
        env = BatchedGridEnv(cfg, batch_size=cfg["train"]["num_days"], mode="test", autoreset=False)
        learners = build_learners(env, cfg)
        try:
            learners.load_state_dict(state["learners"])
        except (KeyError, ValueError, RuntimeError) as err:
            raise CheckpointError(
                f"checkpoint: '{path}' does not fit its own configuration ({first_line(err)})"
            ) from None
        return cls(learners, deterministic, name), cfg


_CHECKPOINT_KEYS = ("config", "run_name", "update", "global_step", "learners", "training")


def load_checkpoint(path: str | os.PathLike) -> dict[str, Any]:
    """Read a checkpoint: tensors and plain data only (``weights_only=True``).

    Raises :class:`CheckpointError` (one line, naming the file) if the file is missing,
    truncated or corrupt, holds other objects (unpickling them could run arbitrary
    code, so they are refused), or is not a gridppo checkpoint of this format.
    """
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"checkpoint: no such file '{path}'")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as err:
        found = re.search(r"Unsupported global: GLOBAL (\S+)", str(err))
        if found:  # weights_only refused a class or function: do not run its code
            raise CheckpointError(
                f"checkpoint: '{path}' holds objects other than tensors and plain data "
                f"({found.group(1)}); refused, since loading them could run arbitrary code"
            ) from None
        raise CheckpointError(
            f"checkpoint: '{path}' is corrupt or truncated ({first_line(err)})"
        ) from None
    except Exception as err:  # a damaged zip archive, a short read, ...
        raise CheckpointError(
            f"checkpoint: '{path}' is corrupt or truncated ({first_line(err)})"
        ) from None
    if not isinstance(state, dict) or "format_version" not in state:
        raise CheckpointError(f"checkpoint: '{path}' is not a gridppo checkpoint")
    if state["format_version"] != CHECKPOINT_FORMAT_VERSION:
        raise CheckpointError(
            f"checkpoint: '{path}' has format {state['format_version']!r}; this version of "
            f"gridppo reads format {CHECKPOINT_FORMAT_VERSION}"
        )
    missing = [key for key in _CHECKPOINT_KEYS if key not in state]
    if missing:
        raise CheckpointError(f"checkpoint: '{path}' lacks {', '.join(missing)}")
    return state


def _checkpoint_config(
    state: dict[str, Any], path: str | os.PathLike, overrides: Any = None
) -> dict[str, Any]:
    """The validated config a checkpoint was written with (plus ``overrides``)."""
    try:
        return load_config(state["config"], overrides)
    except ConfigError as err:
        if overrides:
            raise
        raise CheckpointError(
            f"checkpoint: '{path}' holds a configuration this version rejects ({err})"
        ) from None


def save_checkpoint(state: dict[str, Any], path: Path) -> None:
    """Write a checkpoint atomically: to a temporary file, then rename over the target,
    so an interrupted write never leaves a half-written file behind (the temporary
    file is removed if the write fails; one left by a killed process is removed when
    the run resumes)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        with open(tmp, "wb") as handle:
            torch.save(state, handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException as err:
        tmp.unlink(missing_ok=True)
        # Ctrl-C inside torch.save surfaces as torch's RuntimeError about the archive
        # it could not finish; report the interruption, not the archive.
        cause: BaseException | None = err
        while cause is not None and not isinstance(cause, KeyboardInterrupt):
            cause = cause.__context__
        if cause is not None and cause is not err:
            raise cause from None
        raise


_NUMBERED = re.compile(r"update_(\d+)\.pt")


def find_resumable_checkpoint(
    path: str | os.PathLike,
) -> tuple[Path, dict[str, Any], str | None]:
    """Load ``path``, or else the newest good checkpoint beside it.

    If ``path`` cannot be read, the other checkpoints of its folder (``last.pt``,
    ``update_*.pt``, ``best.pt``) are tried and the one at the highest update wins
    (``last.pt`` before a numbered one before ``best.pt`` at equal updates). Returns
    ``(path used, state, note)`` where ``note`` is a one-line explanation of the
    fallback, or None. Raises :class:`CheckpointError` if nothing there can be read.
    """
    path = Path(path)
    try:
        return path, load_checkpoint(path), None
    except CheckpointError as err:
        problem = err
    folder = path.parent
    if not folder.is_dir():
        raise problem
    found: list[tuple[int, int, Path, dict[str, Any]]] = []
    for rank, name in ((2, "last.pt"), (0, "best.pt")):
        candidate = folder / name
        if candidate != path and candidate.is_file():
            try:
                state = load_checkpoint(candidate)
            except CheckpointError:
                continue
            found.append((int(state["update"]), rank, candidate, state))
    numbered = sorted(
        (int(m.group(1)), p)
        for p in folder.iterdir()
        if (m := _NUMBERED.fullmatch(p.name)) and p != path
    )
    for _, candidate in reversed(numbered):
        try:
            state = load_checkpoint(candidate)
        except CheckpointError:
            continue
        found.append((int(state["update"]), 1, candidate, state))
        break  # the newest readable numbered checkpoint is enough
    if not found:
        raise CheckpointError(f"{problem}; no other readable checkpoint in '{folder}'")
    update, _, chosen, state = max(found, key=lambda item: item[:2])
    note = f"gridppo: {problem}; resuming from '{chosen}' (update {update}) instead"
    return chosen, state, note


def _run_root(folder: Path, checkpoint_dir: str, run_name: str) -> Path:
    """The root a run's checkpoint folder hangs from (``root/checkpoint_dir/run_name``),
    so a resumed run writes its logs where the original did; "." if it cannot tell."""
    tail = (*Path(checkpoint_dir).parts, run_name)
    parts = folder.parts
    if len(parts) >= len(tail) and parts[len(parts) - len(tail) :] == tail:
        return Path(*parts[: len(parts) - len(tail)]) if len(parts) > len(tail) else Path(".")
    return Path(".")


class Trainer:
    """Trains one PPO agent per node (or per type) on the grid; see the module docstring.

    Build it with :meth:`from_config` (or continue a run with :meth:`resume`), add
    callbacks with :meth:`add_callback`, call :meth:`train`. :meth:`request_stop` (e.g.
    from a Stop button or a SIGTERM handler) ends training after the current update,
    saving as usual.
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
        self.validation_grid = PowerGrid(config)
        self.validation_env = BatchedGridEnv(
            grid=self.validation_grid,
            batch_size=len(self.validation_grid.profiles.validation_days),
            mode="validation",
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
        self._episode_return: dict[str, np.ndarray] = {}
        self._train_time = 0.0
        # The update last.pt holds, once this trainer wrote or loaded it; before that, a
        # copy of the state train() started from (where a failed first update returns).
        self._checkpoint_update: int | None = None
        self._start_state: dict[str, Any] | None = None

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

    @classmethod
    def resume(
        cls,
        checkpoint: str | os.PathLike,
        overrides: Mapping[str, Any] | list[str] | None = None,
        root: str | os.PathLike | None = None,
    ) -> Trainer:
        """Continue the run that wrote ``checkpoint`` (usually ``.../<run>/last.pt``).

        The trainer gets the checkpoint's configuration, run name and full training
        state, writes its checkpoints into the checkpoint's folder and appends to the
        run's ``metrics.csv`` (rows after the checkpoint's update are dropped) and
        TensorBoard logs. ``root`` is where the run's ``log_dir`` lives (default: worked
        out from the checkpoint's path). ``overrides`` may change only
        :data:`RESUME_OVERRIDES`, e.g. ``{"train.total_updates": 200}`` to train longer.

        If the checkpoint cannot be read, the newest good checkpoint beside it is used
        instead and a one-line note says so (on stderr). Raises :class:`CheckpointError`
        if none can be read, and ConfigError for an override that is not allowed.
        """
        for key in parse_settings(overrides):
            if key not in RESUME_OVERRIDES:
                raise ConfigError(
                    f"{key}: cannot be changed when resuming a run (it keeps its "
                    f"checkpoint's configuration); allowed: {', '.join(RESUME_OVERRIDES)}"
                )
        path, state, note = find_resumable_checkpoint(checkpoint)
        if note:
            print(note, file=sys.stderr)
        config = _checkpoint_config(state, path, overrides)
        folder = path.parent
        run_name = str(state["run_name"])
        if root is None:
            root = _run_root(folder, config["train"]["checkpoint_dir"], run_name)
        trainer = cls(config, run_name=run_name, root=root)
        trainer.checkpoint_dir = folder
        try:
            trainer.load_state_dict(state)
        except (KeyError, ValueError, RuntimeError) as err:
            raise CheckpointError(
                f"checkpoint: '{path}' does not fit its own configuration ({first_line(err)})"
            ) from None
        # A process killed while saving leaves its temporary file behind.
        for stale in folder.glob(".*.pt.tmp-*"):
            stale.unlink(missing_ok=True)
        _, trainer.history = trainer._read_metrics(
            trainer.log_dir / "metrics.csv", trainer._columns()
        )
        return trainer

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
        """The current policy on every validation day (deterministic actions)."""
        return run_days(self.policy(), self.validation_env, record=record)

    def evaluate_baselines(self) -> dict[str, EvalResult]:
        """Random and heuristic on the validation days (computed once, then cached)."""
        if not self.baselines:
            results = {}
            for policy in (RandomPolicy(self.config["seed"]), HeuristicPolicy(self.validation_env)):
                results[policy.name] = run_days(policy, self.validation_env)
            self.baselines = results  # all or nothing, even if interrupted
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
            self._check_observations(obs)
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
        self._check_observations(obs)
        self._obs = obs
        self.global_step += steps * env.batch_size
        row: dict[str, float] = {}
        returns = {a: np.concatenate(v) if v else np.array([]) for a, v in finished.items()}
        # A non-finite reward shows in the running or in a finished episode's return.
        for a in env.agents:
            if not (np.isfinite(self._episode_return[a]).all() and np.isfinite(returns[a]).all()):
                raise self._diverged(a, "reward")
        team = sum(returns.values()) if all(len(v) for v in returns.values()) else np.array([])
        row["charts/team_return"] = float(np.mean(team)) if len(team) else math.nan
        for a in env.agents:
            row[f"charts/episodic_return/{a}"] = (
                float(np.mean(returns[a])) if len(returns[a]) else math.nan
            )
        for key in METRIC_NAMES:
            row[f"grid/{key}"] = grid_sums[key] / steps
        return row

    # -- NaN and infinity ----------------------------------------------------
    def _diverged(self, agent: str, what: str) -> TrainingDivergedError:
        """The error for a non-finite ``what`` of ``agent`` in the update in progress."""
        update = self.update + 1
        if self._checkpoint_update is not None:
            kept = f"'{self.checkpoint_dir / 'last.pt'}' keeps update {self._checkpoint_update}"
        else:
            kept = "no checkpoint was written yet"
        return TrainingDivergedError(
            f"training diverged in update {update}: {what} of agent '{agent}' is NaN or "
            f"infinite; stopped, {kept}",
            agent,
            update,
            what,
        )

    def _check_observations(self, observations: dict[str, np.ndarray]) -> None:
        """Raise TrainingDivergedError if any agent's observation is not finite."""
        for name, values in observations.items():
            if not np.isfinite(values).all():
                raise self._diverged(name, "observation")

    def _check_learners(self, diagnostics: dict[str, dict[str, float]]) -> None:
        """After an update: every loss finite and every learner's parameters finite
        (NaN or infinite gradients end up in the parameters)."""
        for name, diag in diagnostics.items():
            for key in DIAGNOSTICS:
                # explained_variance is NaN by definition when the returns do not vary.
                if key != "explained_variance" and not math.isfinite(diag[key]):
                    raise self._diverged(name, key.replace("_", " "))
        learners = self.learners
        if isinstance(learners, AgentEnsemble):
            ok = torch.ones(len(learners.names), dtype=torch.bool)
            for param in learners.policy.parameters():
                ok &= torch.isfinite(param.detach()).reshape(param.shape[0], -1).all(dim=1)
            bad = [learners.names[k] for k in torch.nonzero(~ok).flatten().tolist()]
        else:
            bad = [
                group
                for group, agent in learners.agents.items()
                if not all(torch.isfinite(p.detach()).all() for p in agent.policy.parameters())
            ]
        if bad:
            raise self._diverged(bad[0], "parameters after the update (NaN or infinite gradients)")

    def train_one_update(self) -> dict[str, float]:
        """Run one rollout and one update of every agent; returns the metrics row."""
        total = self.config["train"]["total_updates"]
        start = time.perf_counter()
        rollout = self._rollout()
        progress = self.update / total
        losses: dict[str, float] = {}
        updates = self.learners.update(self._obs, progress)
        self._check_learners(updates)
        for name, diagnostics in updates.items():
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
            row[f"validation/{key}"] = math.nan
        return row

    def train(self, total_updates: int | None = None, progress_bar: bool = True) -> dict[str, Any]:
        """Train until ``total_updates`` (default: the config's) or :meth:`request_stop`.

        ``total_updates`` may stop training early, but the learning-rate schedule always
        follows ``train.total_updates``, so a run trained in several calls equals one
        trained in one; a larger value is refused (those updates would learn at rate 0).
        A :meth:`request_stop` made before this call starts is honoured at once.

        Returns a summary: updates, environment steps, wall time, steps per second, the
        final and best evaluation KPIs, and where logs and checkpoints were written.

        If an update is interrupted (KeyboardInterrupt) or fails (e.g.
        :class:`TrainingDivergedError`), the trainer first returns to its last completed
        update, the one ``last.pt`` holds, then lets the exception through; calling
        ``train()`` again carries on from there exactly.
        """
        from tqdm.auto import tqdm

        cfg = self.config["train"]
        total = total_updates or cfg["total_updates"]
        if total > cfg["total_updates"]:
            raise ValueError(
                f"total_updates: {total} is more than train.total_updates "
                f"({cfg['total_updates']}), which sets the learning-rate schedule; "
                "raise train.total_updates instead"
            )
        if self._checkpoint_update is None:
            self._start_state = copy.deepcopy(self.state_dict())
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
                        row[f"validation/{key}"] = result.kpis[key]
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
        except BaseException:
            # Interrupted (KeyboardInterrupt) or failed half-way through an update:
            # return to the last completed update, then let the exception through.
            bar.close()
            self._close_logs()
            self._roll_back()
            raise
        finally:
            bar.close()
            self._close_logs()
            self._stop = False  # a stop ends this call only; train() again carries on
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

        from gridppo.viz.plots import plot_learning_curve

        path = Path(path) if path else self.log_dir / "learning_curve.png"
        path.parent.mkdir(parents=True, exist_ok=True)
        baselines = {name: result.kpis for name, result in self.baselines.items()}
        fig = plot_learning_curve(self.eval_history, baselines)
        fig.savefig(path, dpi=100)
        plt.close(fig)
        return path

    # -- checkpoints ---------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        """The checkpoint: config, progress, every agent and the full training state
        (tensors and plain data only, so it loads with ``weights_only=True``).

        ``training`` holds what a resumed run needs to continue exactly: both
        environments' :meth:`~gridppo.env.BatchedGridEnv.state_dict`, the current
        observations and episode returns, the evaluation history, the baselines'
        KPIs, the training time and the torch generator's state.
        """
        baselines = {
            name: {
                "policy": result.policy,
                "kpis": dict(result.kpis),
                "agent_reward": dict(result.agent_reward),
                "type_reward": dict(result.type_reward),
                "per_day_cost_eur": torch.as_tensor(np.array(result.per_day_cost_eur)),
            }
            for name, result in self.baselines.items()
        }
        observations = None if self._obs is None else _to_tensors(self._obs)
        return {
            "format_version": CHECKPOINT_FORMAT_VERSION,
            "config": self.config,
            "run_name": self.run_name,
            "update": self.update,
            "global_step": self.global_step,
            "best_score": float(self.best_score),
            "learners": self.learners.state_dict(),
            "training": {
                "env": _to_tensors(self.env.state_dict()),
                "validation_env": _to_tensors(self.validation_env.state_dict()),
                "observations": observations,
                "episode_returns": _to_tensors(self._episode_return),
                "eval_history": copy.deepcopy(self.eval_history),
                "baselines": baselines,
                "train_time_s": self._train_time,
                "torch_rng": torch.get_rng_state(),
            },
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore what :meth:`state_dict` saved (a checkpoint of the same config).

        Raises ValueError or KeyError if the state does not fit this trainer.
        """
        training = state["training"]
        self.learners.load_state_dict(state["learners"])
        # Between updates every rollout buffer is empty.
        if isinstance(self.learners, AgentEnsemble):
            self.learners.step = 0
        else:
            for agent in self.learners.agents.values():
                agent.buffer.reset()
        self.env.load_state_dict(_to_numpy(training["env"]))
        self.validation_env.load_state_dict(_to_numpy(training["validation_env"]))
        observations = training["observations"]
        self._obs = None if observations is None else _to_numpy(observations)
        self._episode_return = _to_numpy(training["episode_returns"])
        self.update = int(state["update"])
        self.global_step = int(state["global_step"])
        self.best_score = float(state["best_score"])
        self.eval_history = copy.deepcopy(list(training["eval_history"]))
        self.baselines = {
            name: EvalResult(
                policy=b["policy"],
                kpis=dict(b["kpis"]),
                agent_reward=dict(b["agent_reward"]),
                type_reward=dict(b["type_reward"]),
                per_day_cost_eur=b["per_day_cost_eur"].numpy().copy(),
            )
            for name, b in training["baselines"].items()
        }
        self._train_time = float(training["train_time_s"])
        torch.set_rng_state(training["torch_rng"])
        self.history = [row for row in self.history if row["update"] <= self.update]
        self._checkpoint_update = self.update

    def _roll_back(self) -> None:
        """Return to the last completed update after an interrupted or failed one: the
        state in ``last.pt`` if this trainer wrote or loaded it, else the state
        :meth:`train` started from. metrics.csv is trimmed to match on the next train()."""
        state = self._start_state
        if self._checkpoint_update is not None:
            try:
                state = load_checkpoint(self.checkpoint_dir / "last.pt")
            except CheckpointError:
                state = None
        if state is not None:
            self.load_state_dict(state)
            if self._start_state is state:
                self._checkpoint_update = None

    def _save(self, filename: str) -> Path:
        path = self.checkpoint_dir / filename
        save_checkpoint(self.state_dict(), path)
        if filename == "last.pt":
            self._checkpoint_update = self.update
        self._fire("on_checkpoint", path)
        return path

    # -- logs ----------------------------------------------------------------
    def _columns(self) -> list[str]:
        cols = ["update", "global_step", "time_s", "charts/steps_per_s", "charts/team_return"]
        cols += [f"charts/episodic_return/{a}" for a in self.env.agents]
        cols += [f"losses/{k}/{a}" for a in self.env.agents for k in DIAGNOSTICS]
        cols += [f"grid/{k}" for k in METRIC_NAMES]
        cols += [f"validation/{k}" for k in EVAL_KPIS]
        return cols

    def _open_logs(self) -> None:
        self.log_dir.mkdir(parents=True, exist_ok=True)
        with open(self.log_dir / "config.yaml", "w") as handle:
            yaml.safe_dump(self.config, handle, sort_keys=False)
        path = self.log_dir / "metrics.csv"
        columns = self._columns()
        kept = self._sync_metrics_file(path, columns)
        if len(self.history) != self.update:  # resumed: the history comes from the file
            self.history = kept
        self._csv_handle = open(path, "a", newline="")
        self._csv = csv.DictWriter(self._csv_handle, fieldnames=columns)
        self._tb = None
        if self.config["train"]["tensorboard"]:
            from torch.utils.tensorboard import SummaryWriter

            # Hide events a previous process logged after the update we continue from.
            self._tb = SummaryWriter(str(self.log_dir), purge_step=self.global_step + 1)

    def _read_metrics(self, path: Path, columns: list[str]) -> tuple[list[dict], list[dict]]:
        """The complete rows of ``metrics.csv`` up to the current update, as text and as
        floats (NaN for blanks). Rows after the current update (written by a process that
        stopped before saving them), rows cut short by a kill and rows under another
        header are left out."""
        kept: list[dict[str, str]] = []
        parsed: list[dict[str, float]] = []
        if not path.exists():
            return kept, parsed
        with open(path, newline="") as handle:
            reader = csv.DictReader(handle)
            if reader.fieldnames != columns:
                return kept, parsed
            for row in reader:
                if None in row or any(v is None for v in row.values()):
                    continue  # a row cut short (or run over) by a kill
                try:
                    values = {k: float(v) if v != "" else math.nan for k, v in row.items()}
                except ValueError:
                    continue
                if values["update"] <= self.update:
                    kept.append(row)
                    parsed.append(values)
        return kept, parsed

    def _sync_metrics_file(self, path: Path, columns: list[str]) -> list[dict[str, float]]:
        """Make ``metrics.csv`` hold exactly the rows of updates 1..``self.update`` (see
        :meth:`_read_metrics`), rewriting it atomically; returns them as floats."""
        kept, parsed = self._read_metrics(path, columns)
        tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
        with open(tmp, "w", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=columns)
            writer.writeheader()
            writer.writerows(kept)
        os.replace(tmp, path)
        return parsed

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
