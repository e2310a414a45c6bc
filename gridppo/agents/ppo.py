"""Proximal Policy Optimisation (Schulman et al. 2017), once, for A agents at once.

:class:`PPO` trains A agents side by side, each with its own actor-critic parameters,
Adam moments, observation and reward statistics and rollout buffer, all stored along a
leading agent axis. With A = 1 it follows CleanRL's ``ppo_continuous_action.py`` (see
:mod:`gridppo.agents.single_agent` for one agent on Pendulum-v1), except that a
truncated episode bootstraps from the value of its final observation, scaled rewards
are not clipped, the log-std starts at ``init_log_std`` and the diagnostics are means
over the update's minibatches. The trainer runs the grid's 17 independent agents
(IPPO) with the same code and A = 17. Nothing couples the agents: every loss,
advantage normalisation, gradient clip, Adam step, statistic and early stop is computed
per agent. The only sums over the agent axis are the loss summed before ``backward()``
(the gradient of a sum with respect to one agent's row is that agent's own gradient)
and the check whether every agent has stopped; a test perturbs one agent's rewards and
checks that nothing of any other agent changes.

With ``ppo.critic: centralised`` (MAPPO) each agent's critic sees every agent's
observation (:mod:`gridppo.agents.centralised`) while its actor still sees only its
own; nothing else changes.

Parameter sharing groups rows: ``rows[r]`` names the learner (parameter row) data row
``r`` uses. Agents that share a learner pool their experience: the learner's loss is
the mean over its members' samples, and its statistics cover all of them.

One update is the story CleanRL tells: compute GAE over the rollout; for ``update_epochs``
epochs, shuffle the samples and, per minibatch, recompute log-probabilities and values,
normalise advantages, take the clipped surrogate, the (optionally clipped) value loss
and the entropy bonus, back-propagate, clip the gradient norm, step Adam; stop an agent
early when its approximate KL exceeds ``target_kl``. The implementation details follow
"The 37 implementation details of PPO" (Huang et al., ICLR blog track 2022).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from gridppo.agents.adam import RowAdam, clip_grad_norm_rows
from gridppo.agents.buffer import RolloutBuffer
from gridppo.agents.centralised import centralised_critic_dims, centralised_critic_input
from gridppo.agents.network import ActorCritic
from gridppo.agents.normalize import RewardScaler, RunningMeanStd

__all__ = ["DIAGNOSTICS", "PPO", "clipped_policy_loss", "value_loss"]

# The diagnostics every update returns, named as CleanRL logs them (without "losses/").
DIAGNOSTICS = (
    "policy_loss",
    "value_loss",
    "entropy",
    "approx_kl",
    "clipfrac",
    "explained_variance",
)


def clipped_policy_loss(
    new_logprob: torch.Tensor,
    old_logprob: torch.Tensor,
    advantages: torch.Tensor,
    clip_coef: float,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """PPO's clipped surrogate objective, as a loss to minimise.

    ``loss = mean(max(-A * r, -A * clip(r, 1 - eps, 1 + eps)))`` with the probability
    ratio ``r = exp(new_logprob - old_logprob)``, averaged over the last axis (a batch
    [N] gives scalars, agents' rows [R, N] one value per agent). Returns
    ``(loss, approx_kl, clipfrac)``, where ``approx_kl = mean((r - 1) - log r)`` (the
    low-variance estimator) and ``clipfrac`` is the share of samples whose ratio was clipped.
    """
    log_ratio = new_logprob - old_logprob
    ratio = log_ratio.exp()
    unclipped = -advantages * ratio
    clipped = -advantages * torch.clamp(ratio, 1.0 - clip_coef, 1.0 + clip_coef)
    loss = torch.max(unclipped, clipped).mean(-1)
    with torch.no_grad():
        approx_kl = ((ratio - 1.0) - log_ratio).mean(-1)
        clipfrac = ((ratio - 1.0).abs() > clip_coef).float().mean(-1)
    return loss, approx_kl, clipfrac


def value_loss(
    new_values: torch.Tensor,
    old_values: torch.Tensor,
    returns: torch.Tensor,
    clip_coef: float | None,
) -> torch.Tensor:
    """Half the squared error to the returns, averaged over the last axis; with
    ``clip_coef``, PPO's clipped version (the larger of the plain and the
    clipped-around-the-old-value errors)."""
    plain = (new_values - returns) ** 2
    if clip_coef is None:
        return 0.5 * plain.mean(-1)
    clipped_values = old_values + torch.clamp(new_values - old_values, -clip_coef, clip_coef)
    return 0.5 * torch.max(plain, (clipped_values - returns) ** 2).mean(-1)


@dataclass
class _Step:
    """What :meth:`PPO.act` keeps until the rewards of that step arrive."""

    obs: torch.Tensor
    actions: torch.Tensor
    logprobs: torch.Tensor
    values: torch.Tensor


class PPO:
    """PPO for R agents at once; see the module docstring.

    Arguments:
        obs_dims, act_dims: each agent's observation and action size (R entries).
        ppo: the ``ppo`` section of a validated config (``lr``, ``gamma``, ...; ``critic``
            ``"centralised"`` gives each critic every agent's observation).
        num_steps: rollout length T.
        num_envs: parallel streams N every agent acts on.
        seed: learner ``g`` is initialised from ``seed + g``; ``seed`` also seeds the
            action noise and the minibatch shuffling.
        rows: the learner of each agent (default: one learner each, i.e. independent
            agents). Agents sharing a learner must have the same sizes.

    Arrays have a leading agent axis: observations [R, N, obs_dim] (zero-padded to the
    largest size), actions [R, N, act_dim], rewards and flags [R, N]. Each step call
    :meth:`act` then :meth:`observe`; after T steps, :meth:`update`.
    """

    def __init__(
        self,
        obs_dims: Sequence[int],
        act_dims: Sequence[int],
        ppo: Mapping[str, Any],
        num_steps: int,
        num_envs: int,
        seed: int = 0,
        rows: Sequence[int] | None = None,
    ):
        self.cfg = dict(ppo)
        self.obs_dims, self.act_dims = list(obs_dims), list(act_dims)
        self.rows = list(range(len(self.obs_dims))) if rows is None else list(rows)
        num_learners = max(self.rows) + 1
        first = [self.rows.index(g) for g in range(num_learners)]  # each learner's first agent
        for r, g in enumerate(self.rows):
            if (self.obs_dims[r], self.act_dims[r]) != (obs_dims[first[g]], act_dims[first[g]]):
                raise ValueError(f"agents {first[g]} and {r} share a learner but differ in size")
        self.critic = self.cfg.get("critic", "local")
        centralised = self.critic == "centralised"
        critic_dims = centralised_critic_dims(self.obs_dims) if centralised else None
        self.network = ActorCritic(
            [self.obs_dims[k] for k in first],
            [self.act_dims[k] for k in first],
            self.cfg["hidden_sizes"],
            self.cfg["init_log_std"],
            seeds=[seed + g for g in range(num_learners)],
            rows=self.rows,
            critic_dims=None if critic_dims is None else [critic_dims[k] for k in first],
        )
        # eps 1e-5 as in the reference implementations (detail #3).
        self.optimizer = RowAdam(self.network.params, lr=self.cfg["lr"], eps=1e-5)
        self.generator = torch.Generator().manual_seed(seed)
        self.obs_stats = RunningMeanStd((self.network.obs_dim,), self.rows)
        self.reward_scaler = RewardScaler(self.rows, num_envs, self.cfg["gamma"])
        self.buffer = RolloutBuffer(
            num_steps, len(self.rows), num_envs, self.network.obs_dim, self.network.act_dim
        )
        # How many agents each learner has (1 each without parameter sharing).
        self._rows_index = torch.tensor(self.rows)
        self._members = torch.zeros(num_learners).index_add_(
            0, self._rows_index, torch.ones(len(self.rows))
        )
        self._pending: _Step | None = None

    @property
    def num_learners(self) -> int:
        """How many parameter rows (learners) there are."""
        return len(self._members)

    def pooled(self, per_agent: torch.Tensor) -> torch.Tensor:
        """Per-agent means [R] -> per-learner means [L] (agents have equal sample counts).

        Each learner sums only its own agents (``index_add``, not a matrix product, in
        which a NaN of one agent would reach every learner as 0 * NaN)."""
        if not self.network.shared:  # one agent per learner, in order: nothing to pool
            return per_agent
        shares = per_agent / self._members[self._rows_index]
        return torch.zeros(self.num_learners, dtype=per_agent.dtype).index_add_(
            0, self._rows_index, shares
        )

    def critic_input(self, x: torch.Tensor) -> torch.Tensor:
        """What the critics read for normalised observations x [R, N, obs_dim]: x itself,
        or with a centralised critic every agent's observation and then the agent's own."""
        if self.critic == "centralised":
            return centralised_critic_input(x, self.obs_dims)
        return x

    # -- acting --------------------------------------------------------------
    def normalize(self, obs: np.ndarray, update: bool = False) -> torch.Tensor:
        """Observations [R, N, D] as a float tensor, standardised by each learner's
        running statistics (updated first when ``update``) and clipped to +-10."""
        obs = np.asarray(obs, dtype=np.float64)
        if not self.cfg["norm_obs"]:
            return torch.as_tensor(obs, dtype=torch.float32)
        if update:
            self.obs_stats.update(obs)
        scaled = np.clip(self.obs_stats.normalize(obs), -10.0, 10.0)
        return torch.as_tensor(scaled, dtype=torch.float32)

    @torch.no_grad()
    def act(self, obs: np.ndarray, deterministic: bool = False, learn: bool = True) -> np.ndarray:
        """Actions [R, N, act_dim] for observations [R, N, obs_dim].

        With ``learn`` (training), the observation statistics are updated and the step
        is remembered for the buffer, with its value; without, only the actors run, each
        on its own observation (decentralised execution). ``deterministic`` returns the
        mean action.
        """
        x = self.normalize(obs, update=learn)
        if not learn:
            return self.network.get_action(x, self.generator, deterministic).numpy()
        action, logprob, _, value = self.network.get_action_and_value(
            x, generator=self.generator, deterministic=deterministic,
            critic_input=self.critic_input(x),
        )  # fmt: skip
        self._pending = _Step(x, action, logprob, value)
        return action.numpy()

    @torch.no_grad()
    def observe(
        self,
        rewards: np.ndarray,
        terminated: np.ndarray,
        truncated: np.ndarray,
        final_obs: np.ndarray | None = None,
    ) -> None:
        """Store the step :meth:`act` began, with its rewards and episode flags [R, N].

        ``final_obs`` [R, N, obs_dim] is the observation at which an episode ended (its
        value is the bootstrap for a truncation); rows that did not end are ignored.
        """
        if self._pending is None:
            raise RuntimeError("observe() needs a preceding act(learn=True)")
        terminated = np.asarray(terminated, dtype=bool)
        ended = terminated | np.asarray(truncated, dtype=bool)
        rewards = np.asarray(rewards, dtype=np.float64)
        if self.cfg["norm_reward"]:
            rewards = self.reward_scaler(rewards, ended)
        final_values = None
        if final_obs is not None and ended.any():
            v = self.network.get_value(self.critic_input(self.normalize(final_obs)))
            final_values = v * torch.as_tensor(ended, dtype=torch.float32)
        step = self._pending
        self.buffer.add(
            step.obs, step.actions, step.logprobs, step.values, rewards, terminated, ended,
            final_values,
        )  # fmt: skip
        self._pending = None

    # -- learning ------------------------------------------------------------
    def _normalize_advantages(self, adv: torch.Tensor) -> torch.Tensor:
        """Standardise advantages [R, M] over each learner's samples (unbiased std, as
        ``adv.std()`` in CleanRL)."""
        mean = self.pooled(adv.mean(-1))[self.rows]
        n = self._members * adv.shape[1]
        var = self.pooled(((adv - mean[:, None]) ** 2).mean(-1)) * n / (n - 1)
        return (adv - mean[:, None]) / (var.sqrt()[self.rows][:, None] + 1e-8)

    def update(self, last_obs: np.ndarray, progress: float = 0.0) -> dict[str, np.ndarray]:
        """One PPO update on the full buffer; returns each agent's diagnostics
        (:data:`DIAGNOSTICS`, arrays [R]; agents sharing a learner report the learner's).

        ``last_obs`` [R, N, obs_dim] is the observation after the rollout's last step;
        ``progress`` in [0, 1] is the share of training done (for lr annealing).
        """
        cfg, buffer = self.cfg, self.buffer
        if buffer.step != buffer.num_steps:
            raise RuntimeError(f"buffer holds {buffer.step} of {buffer.num_steps} steps")
        if cfg["anneal_lr"]:
            self.optimizer.lr = cfg["lr"] * max(1.0 - progress, 0.0)
        with torch.no_grad():
            last_values = self.network.get_value(self.critic_input(self.normalize(last_obs)))
        buffer.compute_advantages(last_values, cfg["gamma"], cfg["gae_lambda"])
        b = buffer.rows()
        batch_size = b["obs"].shape[1]
        clip_v = cfg["clip_coef"] if cfg["clip_vloss"] else None
        # Each learner's loss is the mean over its agents: weight agent r by 1 / members.
        weight = (1.0 / self._members)[self.rows]
        active = torch.ones(self.num_learners, dtype=torch.bool)  # not yet stopped by target_kl
        sums = {key: torch.zeros(len(self.rows)) for key in DIAGNOSTICS[:-1]}  # per agent
        count = torch.zeros(self.num_learners)
        for _epoch in range(cfg["update_epochs"]):
            order = torch.randperm(batch_size, generator=self.generator)
            # num_minibatches near-equal parts, so no tiny leftover minibatch decides
            # the target-KL stop when the batch does not divide evenly.
            for idx in torch.tensor_split(order, min(cfg["num_minibatches"], batch_size)):
                obs = b["obs"][:, idx]
                _, newlogprob, entropy, newvalue = self.network.get_action_and_value(
                    obs, b["actions"][:, idx], critic_input=self.critic_input(obs)
                )
                mb_advantages = b["advantages"][:, idx]
                if cfg["norm_adv"] and len(idx) > 1:
                    mb_advantages = self._normalize_advantages(mb_advantages)
                pg_loss, approx_kl, clipfrac = clipped_policy_loss(
                    newlogprob, b["logprobs"][:, idx], mb_advantages, cfg["clip_coef"]
                )
                v_loss = value_loss(newvalue, b["values"][:, idx], b["returns"][:, idx], clip_v)
                entropy_loss = entropy.mean(-1)
                loss = pg_loss - cfg["ent_coef"] * entropy_loss + v_loss * cfg["vf_coef"]

                self.optimizer.zero_grad()
                (loss * weight).sum().backward()
                clip_grad_norm_rows(self.network.params.grad, cfg["max_grad_norm"])
                self.optimizer.step(active)

                counted = active[self._rows_index]  # stopped learners' agents add nothing
                for key, value in (
                    ("policy_loss", pg_loss),
                    ("value_loss", v_loss),
                    ("entropy", entropy_loss),
                    ("approx_kl", approx_kl),
                    ("clipfrac", clipfrac),
                ):
                    sums[key] += torch.where(counted, value.detach(), 0.0)
                count += active
            if cfg["target_kl"] is not None:  # the last minibatch's KL, as in CleanRL
                active &= self.pooled(approx_kl) <= cfg["target_kl"]
                if not active.any():
                    break
        diagnostics = {
            key: (self.pooled(total) / count.clamp(min=1))[self._rows_index]
            for key, total in sums.items()
        }
        diagnostics["explained_variance"] = self._explained_variance(b["values"], b["returns"])
        buffer.reset()
        return {key: value.numpy().astype(np.float64) for key, value in diagnostics.items()}

    def _explained_variance(self, values: torch.Tensor, returns: torch.Tensor) -> torch.Tensor:
        """1 - Var(returns - values) / Var(returns) over each learner's samples [R]
        (NaN where the returns do not vary)."""

        def pooled_var(x: torch.Tensor) -> torch.Tensor:
            mean = self.pooled(x.mean(-1))[self.rows]
            return self.pooled(((x - mean[:, None]) ** 2).mean(-1))

        var_returns = pooled_var(returns)
        explained = 1.0 - pooled_var(returns - values) / var_returns
        return torch.where(var_returns > 0, explained, torch.nan)[self.rows]

    # -- checks and saving ---------------------------------------------------
    def finite_learners(self) -> torch.Tensor:
        """Which learners' parameters are all finite, [L] booleans."""
        return torch.isfinite(self.network.params.detach()).all(dim=1)

    def state_dict(self) -> dict[str, Any]:
        """Everything needed to act and to keep learning; tensors and plain data only."""
        return {
            "obs_dims": list(self.obs_dims),
            "act_dims": list(self.act_dims),
            "rows": list(self.rows),
            "critic": self.critic,
            "params": self.network.params.detach().clone(),
            "optimizer": self.optimizer.state_dict(),
            "obs_stats": self.obs_stats.state_dict(),
            "reward_stats": self.reward_scaler.stats.state_dict(),
            "reward_returns": torch.as_tensor(self.reward_scaler.returns),
            "generator": self.generator.get_state(),
        }

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        """Restore what :meth:`state_dict` saved (same agents, sizes and grouping); the
        rollout buffer starts empty."""
        mine = (self.obs_dims, self.act_dims, self.rows)
        theirs = (list(state["obs_dims"]), list(state["act_dims"]), list(state["rows"]))
        if mine != theirs:
            raise ValueError(
                "saved agents differ in number, sizes or parameter sharing from these "
                f"(observation sizes {theirs[0]} against {mine[0]})"
            )
        critic = state.get("critic", "local")  # checkpoints before MAPPO had local critics
        if critic != self.critic:
            raise ValueError(f"saved agents have a {critic} critic, these a {self.critic} one")
        with torch.no_grad():
            self.network.params.copy_(state["params"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.obs_stats.load_state_dict(state["obs_stats"])
        self.reward_scaler.stats.load_state_dict(state["reward_stats"])
        returns = state["reward_returns"].numpy().astype(np.float64)
        if returns.shape != self.reward_scaler.returns.shape:
            raise ValueError(
                f"saved reward returns have shape {returns.shape}, "
                f"these agents {self.reward_scaler.returns.shape}"
            )
        self.reward_scaler.returns = returns
        self.generator.set_state(state["generator"])
        self.buffer.reset()
        self._pending = None
