"""The IPPO trainer: rollout, independent updates, evaluation, checkpoints, logs.

One *update* is the story CleanRL tells, for every agent at once:

1. **Rollout.** Every agent acts on B parallel days for ``rollout_steps`` steps
   (:func:`~gridppo.training.rollout.collect_rollout`).
2. **Learn.** One :class:`~gridppo.agents.ppo.PPO` update of all agents: each agent
   is one row of the PPO's parameters, statistics and buffer, and no agent sees
   another's parameters or gradients: that is *Independent* PPO. The variants to compare
   it with: ``ppo.parameter_sharing: per_type`` (one row per node type, experience
   pooled), ``ppo.critic: centralised`` (MAPPO: critics see every observation) and
   ``ppo.constraint: lagrangian`` (limits priced by learned multipliers).
3. **Validate** every ``eval_interval`` updates on the validation days (mean actions).
4. **Save** ``last.pt`` every update, ``best.pt`` when the validation days' system cost
   improves, ``update_N.pt`` every ``checkpoint_interval``. Reported results come from
   the separate test days, which choose nothing (:mod:`gridppo.evaluation.protocol`).
5. **Log** one row of metrics per update to ``metrics.csv`` and TensorBoard.

Callbacks (``on_update``, ``on_eval``, ``on_checkpoint``, ``on_train_end``) let a
notebook widget draw live curves without the trainer knowing about notebooks.

**Failing well** (``docs/reliability.md``): :meth:`Trainer.resume` continues a run
exactly from any checkpoint; a failed or interrupted update returns to the one
``last.pt`` holds; NaN raises :class:`~gridppo.training.rollout.TrainingDivergedError`.
"""

from __future__ import annotations

import copy
import math
import os
import time
from collections.abc import Callable, Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tqdm.auto import tqdm

from gridppo.baselines.heuristic import HeuristicPolicy
from gridppo.baselines.random import RandomPolicy
from gridppo.config.loader import load_config
from gridppo.env import BatchedGridEnv
from gridppo.evaluation.simulate import EvalResult, run_days
from gridppo.grid.network import PowerGrid
from gridppo.training.checkpoints import (
    CHECKPOINT_FORMAT_VERSION,
    CheckpointError,
    load_checkpoint,
    must_fit,
    read_for_resume,
    remove_stale_temporaries,
    results_from_state,
    results_to_state,
    run_root,
    save_checkpoint,
    to_numpy,
    to_tensors,
)
from gridppo.training.node_agents import NodeAgents
from gridppo.training.rollout import TrainingDivergedError, check_update, collect_rollout
from gridppo.training.run_log import EVAL_KPIS, RunLog, log_columns, log_row
from gridppo.training.trained_policy import TrainedPolicy

__all__ = ["Trainer", "EVENTS"]

EVENTS = ("on_update", "on_eval", "on_checkpoint", "on_train_end")


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
        self.learners = NodeAgents(self.env, config)
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
        :data:`~gridppo.training.checkpoints.RESUME_OVERRIDES`, e.g.
        ``{"train.total_updates": 200}`` to train longer.

        If the checkpoint cannot be read, the newest good checkpoint beside it is used
        instead and a one-line note says so (on stderr). Raises :class:`CheckpointError`
        if none can be read, and ConfigError for an override that is not allowed.
        """
        path, state, config = read_for_resume(checkpoint, overrides)
        folder = path.parent
        run_name = str(state["run_name"])
        if root is None:
            root = run_root(folder, config["train"]["checkpoint_dir"], run_name)
        trainer = cls(config, run_name=run_name, root=root)
        trainer.checkpoint_dir = folder
        with must_fit(path):
            trainer.load_state_dict(state)
        remove_stale_temporaries(folder)
        columns = log_columns(trainer.env.agents, trainer.learners.log_keys)
        _, trainer.history = RunLog(trainer.log_dir, columns).read(trainer.update)
        return trainer

    # -- callbacks -----------------------------------------------------------
    def add_callback(self, event: str, fn: Callable) -> None:
        """Call ``fn(trainer, payload)`` on ``event`` (one of :data:`EVENTS`).

        Payloads: ``on_update`` the metrics row (dict); ``on_eval`` a dict policy ->
        :class:`~gridppo.evaluation.simulate.EvalResult`; ``on_checkpoint`` the path written;
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
        if not self.baselines:  # all or nothing, even if interrupted
            policies = (RandomPolicy(self.config["seed"]), HeuristicPolicy(self.validation_env))
            self.baselines = {p.name: run_days(p, self.validation_env) for p in policies}
        return self.baselines

    # -- the loop ------------------------------------------------------------
    def _diverged(self, agent: str, what: str) -> TrainingDivergedError:
        """The error for a non-finite ``what`` of ``agent`` in the update in progress."""
        last = None if self._checkpoint_update is None else self.checkpoint_dir / "last.pt"
        return TrainingDivergedError.during(
            self.update + 1, agent, what, last, self._checkpoint_update
        )

    def train_one_update(self) -> dict[str, float]:
        """Run one rollout and one update of every agent; returns the metrics row."""
        total = self.config["train"]["total_updates"]
        start = time.perf_counter()
        if self._obs is None:
            self._obs, _ = self.env.reset(seed=self.config["seed"])
            self._episode_return = {a: np.zeros(self.env.batch_size) for a in self.env.agents}
        steps = self.config["train"]["rollout_steps"]
        self._obs, rollout = collect_rollout(
            self.env, self.learners, self._obs, self._episode_return, steps, self._diverged
        )
        self.global_step += steps * self.env.batch_size
        diagnostics = self.learners.update(self._obs, self.update / total)
        check_update(diagnostics, self.learners, self._diverged)
        self.update += 1
        elapsed = time.perf_counter() - start
        self._train_time += elapsed
        row = log_row(self.update, self.global_step, self._train_time, rollout, diagnostics)
        row["charts/steps_per_s"] = steps * self.env.batch_size / elapsed
        row.update(self.learners.constraint_log)  # a Lagrangian run's multipliers
        return row

    def train(self, total_updates: int | None = None, progress_bar: bool = True) -> dict[str, Any]:
        """Train until ``total_updates`` (default: the config's) or :meth:`request_stop`.

        ``total_updates`` may stop training early, but the learning-rate schedule always
        follows ``train.total_updates``, so a run trained in several calls equals one
        trained in one; a larger value is refused (those updates would learn at rate 0).
        A :meth:`request_stop` made before this call starts is honoured at once.

        Returns a summary: updates, environment steps, wall time, steps per second,
        training time (rollouts and updates, over all sessions of the run), the final and
        best evaluation KPIs, and where logs and checkpoints were written.

        If an update is interrupted (KeyboardInterrupt) or fails (e.g.
        :class:`TrainingDivergedError`), the trainer first returns to its last completed
        update, the one ``last.pt`` holds, then lets the exception through; calling
        ``train()`` again carries on from there exactly.
        """
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
                self.run_log.write(row, self.global_step)
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
            self._roll_back()
            raise
        finally:
            bar.close()
            self.run_log.close()
            self._stop = False  # a stop ends this call only; train() again carries on
        summary = self.summary(time.perf_counter() - wall)
        self._fire("on_train_end", summary)
        return summary

    def summary(self, wall_time_s: float) -> dict[str, Any]:
        """What a run produced, for the CLI and the benchmarks."""
        final = self.eval_history[-1] if self.eval_history else {}
        best = min(self.eval_history, key=lambda e: e["system_cost_eur"]) if final else {}
        return {
            "run_name": self.run_name,
            "updates": self.update,
            "global_step": self.global_step,
            "wall_time_s": wall_time_s,
            "steps_per_s": self.global_step / max(self._train_time, 1e-9),
            "train_time_s": self._train_time,
            "final_eval": final,
            "best_eval": best,
            "baselines": {k: v.kpis for k, v in self.baselines.items()},
            "log_dir": str(self.log_dir),
            "checkpoint_dir": str(self.checkpoint_dir),
        }

    # -- checkpoints ---------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        """The checkpoint: config, progress, every agent and the full training state
        (tensors and plain data only, so it loads with ``weights_only=True``).

        ``training`` holds what a resumed run needs to continue exactly: both environments'
        states, the current observations and episode returns, the evaluation history,
        the baselines' KPIs, the training time and the torch generator's state.
        """
        observations = None if self._obs is None else to_tensors(self._obs)
        return {
            "format_version": CHECKPOINT_FORMAT_VERSION,
            "config": self.config,
            "run_name": self.run_name,
            "update": self.update,
            "global_step": self.global_step,
            "best_score": float(self.best_score),
            "learners": self.learners.state_dict(),
            "training": {
                "env": to_tensors(self.env.state_dict()),
                "validation_env": to_tensors(self.validation_env.state_dict()),
                "observations": observations,
                "episode_returns": to_tensors(self._episode_return),
                "eval_history": copy.deepcopy(self.eval_history),
                "baselines": results_to_state(self.baselines),
                "train_time_s": self._train_time,
                "torch_rng": torch.get_rng_state(),
            },
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore :meth:`state_dict`'s state; ValueError or KeyError if it does not fit."""
        training = state["training"]
        self.learners.load_state_dict(state["learners"])
        self.env.load_state_dict(to_numpy(training["env"]))
        self.validation_env.load_state_dict(to_numpy(training["validation_env"]))
        observations = training["observations"]
        self._obs = None if observations is None else to_numpy(observations)
        self._episode_return = to_numpy(training["episode_returns"])
        self.update = int(state["update"])
        self.global_step = int(state["global_step"])
        self.best_score = float(state["best_score"])
        self.eval_history = copy.deepcopy(list(training["eval_history"]))
        self.baselines = results_from_state(training["baselines"])
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
    def _open_logs(self) -> None:
        self.run_log = RunLog(self.log_dir, log_columns(self.env.agents, self.learners.log_keys))
        tb = self.config["train"]["tensorboard"]
        kept = self.run_log.open(self.config, self.update, self.global_step, tb)
        if len(self.history) != self.update:  # resumed: the history comes from the file
            self.history = kept
