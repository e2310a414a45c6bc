"""Proximal Policy Optimisation for one agent, written to be read top to bottom.

The pieces, each importable on its own:

- :class:`Policy`: actor-critic with separate MLPs and a Gaussian policy whose log
  standard deviation does not depend on the state.
- :class:`RunningMeanStd`: running statistics for observation and reward scaling.
- :func:`compute_gae`: generalised advantage estimation that bootstraps at a
  time-limit truncation.
- :class:`RolloutBuffer`: one fixed-length rollout of N parallel streams.
- :func:`clipped_policy_loss` and :func:`value_loss`: PPO's two losses.
- :class:`PPOAgent`: its own network, optimizer, buffer and statistics;
  ``act(obs)`` and ``update()``.

The implementation follows the "37 implementation details of PPO" (Huang et al.,
ICLR blog track 2022) for continuous actions: orthogonal initialisation (sqrt(2)
hidden, 0.01 policy head, 1.0 value head), Adam with eps 1e-5, optional linear
learning-rate annealing, GAE, shuffled minibatches for K epochs, per-minibatch
advantage normalisation, the clipped surrogate objective, optional value clipping,
entropy bonus, global gradient-norm clipping, optional target-KL early stop, a
state-independent log-std, observation normalisation (clipped to +-10) and reward
scaling by the running standard deviation of the discounted return.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from gymnasium import spaces
from torch import nn
from torch.distributions import Normal

__all__ = [
    "Policy",
    "RunningMeanStd",
    "RewardScaler",
    "compute_gae",
    "RolloutBuffer",
    "clipped_policy_loss",
    "value_loss",
    "PPOAgent",
    "DIAGNOSTICS",
]

# The diagnostics every update returns, named as CleanRL logs them (without "losses/").
DIAGNOSTICS = (
    "policy_loss",
    "value_loss",
    "entropy",
    "approx_kl",
    "clipfrac",
    "explained_variance",
)


def layer_init(layer: nn.Linear, std: float = np.sqrt(2), bias: float = 0.0) -> nn.Linear:
    """Orthogonal weights scaled by ``std`` and constant biases (detail #2 of the 37)."""
    nn.init.orthogonal_(layer.weight, std)
    nn.init.constant_(layer.bias, bias)
    return layer


def _mlp(sizes: list[int], out_std: float) -> nn.Sequential:
    layers: list[nn.Module] = []
    for a, b in zip(sizes[:-2], sizes[1:-1], strict=True):
        layers += [layer_init(nn.Linear(a, b)), nn.Tanh()]
    layers.append(layer_init(nn.Linear(sizes[-2], sizes[-1]), std=out_std))
    return nn.Sequential(*layers)


class Policy(nn.Module):
    """Actor-critic: separate tanh MLPs for the action mean and the state value.

    The action is Gaussian with mean ``actor(obs)`` and a learned, state-independent
    ``log_std``. Sampled actions are *not* squashed: the environment clips them to
    [-1, 1], and the log-probability is that of the unclipped sample (as in CleanRL).
    """

    def __init__(
        self,
        obs_dim: int,
        act_dim: int,
        hidden_sizes: list[int] | tuple[int, ...] = (64, 64),
        init_log_std: float = 0.0,
    ):
        super().__init__()
        sizes = [obs_dim, *hidden_sizes]
        self.critic = _mlp([*sizes, 1], out_std=1.0)
        self.actor_mean = _mlp([*sizes, act_dim], out_std=0.01)
        self.log_std = nn.Parameter(torch.full((1, act_dim), float(init_log_std)))

    def value(self, obs: torch.Tensor) -> torch.Tensor:
        """State value, [N]."""
        return self.critic(obs).squeeze(-1)

    def distribution(self, obs: torch.Tensor) -> Normal:
        """The action distribution for each observation."""
        mean = self.actor_mean(obs)
        # Argument validation costs more than the network here; the inputs are ours.
        return Normal(mean, self.log_std.expand_as(mean).exp(), validate_args=False)

    def evaluate_actions(
        self, obs: torch.Tensor, actions: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Log-probability [N], entropy [N] and value [N] of given actions."""
        dist = self.distribution(obs)
        return dist.log_prob(actions).sum(-1), dist.entropy().sum(-1), self.value(obs)


class RunningMeanStd:
    """Running mean and variance of a stream of batches (Chan et al.'s parallel update)."""

    def __init__(self, shape: tuple[int, ...] = ()):
        self.mean = np.zeros(shape, dtype=np.float64)
        self.var = np.ones(shape, dtype=np.float64)
        self.count = 1e-4

    def update(self, batch: np.ndarray, axis: int = 0) -> None:
        """Fold a batch into the statistics; ``axis`` is the batch axis (e.g. [N, *shape]
        with axis 0, or [A, N, d] with axis 1 for A agents' statistics at once)."""
        batch_mean, batch_var, n = batch.mean(axis=axis), batch.var(axis=axis), batch.shape[axis]
        delta = batch_mean - self.mean
        total = self.count + n
        self.mean = self.mean + delta * n / total
        m2 = self.var * self.count + batch_var * n + delta**2 * self.count * n / total
        self.var = m2 / total
        self.count = total

    def state_dict(self) -> dict[str, Any]:
        """Tensors and numbers only, so checkpoints load with ``weights_only=True``."""
        return {
            "mean": torch.as_tensor(self.mean),
            "var": torch.as_tensor(self.var),
            "count": float(self.count),
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore what :meth:`state_dict` saved."""
        self.mean = state["mean"].numpy().astype(np.float64)
        self.var = state["var"].numpy().astype(np.float64)
        self.count = float(state["count"])


class RewardScaler:
    """Divide rewards by the running std of the discounted return (detail #31 of the 37).

    Rewards here are in EUR and range over thousands; scaled rewards keep the value
    targets near unit size without changing which policy is best.
    """

    def __init__(self, num_envs: int, gamma: float):
        self.gamma = gamma
        self.returns = np.zeros(num_envs)
        self.stats = RunningMeanStd(())

    def __call__(self, rewards: np.ndarray, episode_ended: np.ndarray) -> np.ndarray:
        """Scale one step's rewards [N]; ``episode_ended`` [N] restarts the return."""
        self.returns = self.returns * self.gamma + rewards
        self.stats.update(self.returns)
        self.returns[episode_ended] = 0.0
        return rewards / np.sqrt(self.stats.var + 1e-8)


def compute_gae(
    rewards: torch.Tensor,
    values: torch.Tensor,
    next_values: torch.Tensor,
    terminated: torch.Tensor,
    episode_ended: torch.Tensor,
    gamma: float,
    lam: float,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Generalised advantage estimation (Schulman et al. 2016).

    All inputs are [T, N]. ``next_values[t]`` is the value of the state after step t:
    the next step's value, or, where the episode ended after step t, the value of the
    *final* observation. ``terminated[t]`` is 1 where the episode truly ended (no
    future: the next value counts as 0); a time-limit truncation has
    ``terminated = 0`` and still bootstraps from ``next_values``.
    ``episode_ended[t]`` (terminated or truncated) stops the advantage from flowing
    back across the episode boundary. Returns ``(advantages, returns)``, each [T, N].
    """
    advantages = torch.zeros_like(rewards)
    last = torch.zeros_like(rewards[0])
    for t in reversed(range(rewards.shape[0])):
        delta = rewards[t] + gamma * (1.0 - terminated[t]) * next_values[t] - values[t]
        last = delta + gamma * lam * (1.0 - episode_ended[t]) * last
        advantages[t] = last
    return advantages, advantages + values


class RolloutBuffer:
    """One rollout of ``num_steps`` steps from ``num_envs`` parallel streams.

    Stores what PPO needs: observations (already normalised), actions, their
    log-probabilities, values, (scaled) rewards, and the episode flags; then computes
    advantages with :func:`compute_gae` and serves shuffled minibatches.
    """

    def __init__(self, num_steps: int, num_envs: int, obs_dim: int, act_dim: int):
        self.num_steps, self.num_envs = num_steps, num_envs
        self.obs = torch.zeros(num_steps, num_envs, obs_dim)
        self.actions = torch.zeros(num_steps, num_envs, act_dim)
        self.logprobs = torch.zeros(num_steps, num_envs)
        self.values = torch.zeros(num_steps, num_envs)
        self.rewards = torch.zeros(num_steps, num_envs)
        self.terminated = torch.zeros(num_steps, num_envs)
        self.episode_ended = torch.zeros(num_steps, num_envs)
        self.final_values = torch.zeros(num_steps, num_envs)  # V(final obs) where ended
        self.advantages = torch.zeros(num_steps, num_envs)
        self.returns = torch.zeros(num_steps, num_envs)
        self.step = 0

    def add(
        self,
        obs: torch.Tensor,
        actions: torch.Tensor,
        logprobs: torch.Tensor,
        values: torch.Tensor,
        rewards: np.ndarray,
        terminated: np.ndarray,
        episode_ended: np.ndarray,
        final_values: torch.Tensor | None = None,
    ) -> None:
        """Store one step for every stream."""
        if self.step >= self.num_steps:
            raise RuntimeError("RolloutBuffer is full; call compute_advantages and reset")
        t = self.step
        self.obs[t], self.actions[t], self.logprobs[t], self.values[t] = (
            obs,
            actions,
            logprobs,
            values,
        )
        self.rewards[t] = torch.as_tensor(rewards, dtype=torch.float32)
        self.terminated[t] = torch.as_tensor(terminated, dtype=torch.float32)
        self.episode_ended[t] = torch.as_tensor(episode_ended, dtype=torch.float32)
        self.final_values[t] = 0.0 if final_values is None else final_values
        self.step += 1

    def compute_advantages(self, last_values: torch.Tensor, gamma: float, lam: float) -> None:
        """GAE over the stored rollout; ``last_values`` [N] is V of the next observation."""
        following = torch.cat([self.values[1:], last_values[None]], dim=0)
        next_values = torch.where(self.episode_ended > 0, self.final_values, following)
        self.advantages, self.returns = compute_gae(
            self.rewards,
            self.values,
            next_values,
            self.terminated,
            self.episode_ended,
            gamma,
            lam,
        )

    def flat(self) -> dict[str, torch.Tensor]:
        """The rollout flattened to [T * N, ...] tensors."""
        n = self.num_steps * self.num_envs
        return {
            "obs": self.obs.reshape(n, -1),
            "actions": self.actions.reshape(n, -1),
            "logprobs": self.logprobs.reshape(n),
            "values": self.values.reshape(n),
            "advantages": self.advantages.reshape(n),
            "returns": self.returns.reshape(n),
        }

    def reset(self) -> None:
        """Start filling from the first step again."""
        self.step = 0


def clipped_policy_loss(
    new_logprob: torch.Tensor,
    old_logprob: torch.Tensor,
    advantages: torch.Tensor,
    clip_coef: float,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """PPO's clipped surrogate objective, as a loss to minimise.

    ``loss = mean(max(-A * r, -A * clip(r, 1 - eps, 1 + eps)))`` with the probability
    ratio ``r = exp(new_logprob - old_logprob)``, averaged over the last axis. Returns
    ``(loss, approx_kl, clipfrac)``, where ``approx_kl = mean((r - 1) - log r)`` (the low-variance
    estimator) and ``clipfrac`` is the share of samples whose ratio was clipped.
    """
    log_ratio = new_logprob - old_logprob
    ratio = log_ratio.exp()
    unclipped = -advantages * ratio
    clipped = -advantages * torch.clamp(ratio, 1.0 - clip_coef, 1.0 + clip_coef)
    # Means over the last axis: a batch [N] gives scalars, a stack of agents [A, N]
    # gives one value per agent (see gridppo.ensemble).
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
    """Half the squared error to the returns; with ``clip_coef``, PPO's clipped version
    (the larger of the plain and the clipped-around-the-old-value errors)."""
    plain = (new_values - returns) ** 2
    if clip_coef is None:
        return 0.5 * plain.mean(-1)
    clipped_values = old_values + torch.clamp(new_values - old_values, -clip_coef, clip_coef)
    return 0.5 * torch.max(plain, (clipped_values - returns) ** 2).mean(-1)


@dataclass
class _Step:
    """What ``act`` keeps until the rewards of that step arrive."""

    obs: torch.Tensor
    actions: torch.Tensor
    logprobs: torch.Tensor
    values: torch.Tensor


class PPOAgent:
    """One learner: its own :class:`Policy`, Adam optimizer, buffer and statistics.

    Arguments:
        name: the agent's name (a node name, or a node type under parameter sharing).
        observation_space, action_space: the agent's gymnasium Boxes.
        ppo: the ``ppo`` section of a validated config.
        num_steps: rollout length T.
        num_envs: parallel streams N it acts for (days, times members under sharing).
        seed: seeds the network initialisation, action noise and minibatch shuffling.

    Use: ``actions = agent.act(obs)`` each step, then ``agent.observe_rewards(...)``;
    after T steps ``diagnostics = agent.update(last_obs, progress)``.
    """

    def __init__(
        self,
        name: str,
        observation_space: spaces.Box,
        action_space: spaces.Box,
        ppo: dict[str, Any],
        num_steps: int,
        num_envs: int,
        seed: int = 0,
    ):
        self.name = name
        self.cfg = dict(ppo)
        self.obs_dim = observation_space.shape[0]
        self.act_dim = action_space.shape[0]
        self.generator = torch.Generator().manual_seed(seed)
        with torch.random.fork_rng():
            torch.manual_seed(seed)
            self.policy = Policy(
                self.obs_dim, self.act_dim, ppo["hidden_sizes"], ppo["init_log_std"]
            )
        # eps 1e-5 as in the reference implementations (detail #3); foreach batches the
        # per-parameter arithmetic, which matters for networks this small.
        self.optimizer = torch.optim.Adam(
            self.policy.parameters(), lr=ppo["lr"], eps=1e-5, foreach=True
        )
        self.obs_stats = RunningMeanStd((self.obs_dim,))
        self.reward_scaler = RewardScaler(num_envs, ppo["gamma"])
        self.buffer = RolloutBuffer(num_steps, num_envs, self.obs_dim, self.act_dim)
        self._pending: _Step | None = None

    # -- acting --------------------------------------------------------------
    def normalize(self, obs: np.ndarray, update: bool = False) -> torch.Tensor:
        """Observations as a float tensor, standardised by the running statistics
        (updated first when ``update``) and clipped to +-10."""
        obs = np.asarray(obs, dtype=np.float64)
        if not self.cfg["norm_obs"]:
            return torch.as_tensor(obs, dtype=torch.float32)
        if update:
            self.obs_stats.update(obs)
        scaled = (obs - self.obs_stats.mean) / np.sqrt(self.obs_stats.var + 1e-8)
        return torch.as_tensor(np.clip(scaled, -10.0, 10.0), dtype=torch.float32)

    @torch.no_grad()
    def act(self, obs: np.ndarray, deterministic: bool = False, learn: bool = True) -> np.ndarray:
        """Actions [N, act_dim] for observations [N, obs_dim].

        With ``learn`` (training), the observation statistics are updated and the step
        is remembered for the buffer; ``deterministic`` returns the mean action.
        """
        x = self.normalize(obs, update=learn)
        dist = self.policy.distribution(x)
        if deterministic:
            actions = dist.mean
        else:
            noise = torch.randn(dist.mean.shape, generator=self.generator)
            actions = dist.mean + dist.stddev * noise
        if learn:
            self._pending = _Step(x, actions, dist.log_prob(actions).sum(-1), self.policy.value(x))
        return actions.numpy()

    @torch.no_grad()
    def observe_rewards(
        self,
        rewards: np.ndarray,
        terminated: np.ndarray,
        truncated: np.ndarray,
        final_obs: np.ndarray | None = None,
    ) -> None:
        """Store the step ``act`` started, with its rewards [N] and episode flags [N].

        ``final_obs`` [N, obs_dim] is the observation at which an episode ended (its
        value is the bootstrap for a truncation); rows that did not end are ignored.
        """
        if self._pending is None:
            raise RuntimeError("observe_rewards() needs a preceding act(learn=True)")
        ended = np.asarray(terminated, bool) | np.asarray(truncated, bool)
        rewards = np.asarray(rewards, dtype=np.float64)
        if self.cfg["norm_reward"]:
            rewards = self.reward_scaler(rewards, ended)
        final_values = None
        if final_obs is not None and ended.any():
            final_values = self.policy.value(self.normalize(final_obs)) * torch.as_tensor(ended)
        step = self._pending
        self.buffer.add(
            step.obs,
            step.actions,
            step.logprobs,
            step.values,
            rewards,
            terminated,
            ended,
            final_values,
        )
        self._pending = None

    # -- learning ------------------------------------------------------------
    def update(self, last_obs: np.ndarray, progress: float = 0.0) -> dict[str, float]:
        """One PPO update on the full buffer; returns the diagnostics (:data:`DIAGNOSTICS`).

        ``last_obs`` [N, obs_dim] is the observation after the rollout's last step;
        ``progress`` in [0, 1] is the share of training done (for lr annealing).
        """
        cfg = self.cfg
        if self.buffer.step != self.buffer.num_steps:
            raise RuntimeError(
                f"{self.name}: buffer holds {self.buffer.step} of {self.buffer.num_steps} steps"
            )
        if cfg["anneal_lr"]:
            self.optimizer.param_groups[0]["lr"] = cfg["lr"] * max(1.0 - progress, 0.0)
        with torch.no_grad():
            last_values = self.policy.value(self.normalize(last_obs))
        self.buffer.compute_advantages(last_values, cfg["gamma"], cfg["gae_lambda"])
        data = self.buffer.flat()
        batch = data["obs"].shape[0]
        minibatch = max(batch // cfg["num_minibatches"], 1)
        clip_v = cfg["clip_coef"] if cfg["clip_vloss"] else None
        sums = dict.fromkeys(DIAGNOSTICS, 0.0)
        count = 0
        for _epoch in range(cfg["update_epochs"]):
            order = torch.randperm(batch, generator=self.generator)
            for start in range(0, batch, minibatch):
                idx = order[start : start + minibatch]
                logprob, entropy, value = self.policy.evaluate_actions(
                    data["obs"][idx], data["actions"][idx]
                )
                adv = data["advantages"][idx]
                if cfg["norm_adv"] and len(idx) > 1:
                    adv = (adv - adv.mean()) / (adv.std() + 1e-8)
                pg_loss, approx_kl, clipfrac = clipped_policy_loss(
                    logprob, data["logprobs"][idx], adv, cfg["clip_coef"]
                )
                v_loss = value_loss(value, data["values"][idx], data["returns"][idx], clip_v)
                entropy_mean = entropy.mean()
                loss = pg_loss - cfg["ent_coef"] * entropy_mean + cfg["vf_coef"] * v_loss
                self.optimizer.zero_grad(set_to_none=True)
                loss.backward()
                nn.utils.clip_grad_norm_(self.policy.parameters(), cfg["max_grad_norm"])
                self.optimizer.step()
                for key, value_ in (
                    ("policy_loss", pg_loss),
                    ("value_loss", v_loss),
                    ("entropy", entropy_mean),
                    ("approx_kl", approx_kl),
                    ("clipfrac", clipfrac),
                ):
                    sums[key] += float(value_.detach())
                count += 1
            if cfg["target_kl"] is not None and float(approx_kl) > cfg["target_kl"]:
                break
        diagnostics = {k: v / max(count, 1) for k, v in sums.items() if k != "explained_variance"}
        returns, values = data["returns"], data["values"]
        var_returns = returns.var()
        diagnostics["explained_variance"] = float(
            1.0 - (returns - values).var() / var_returns if var_returns > 0 else float("nan")
        )
        self.buffer.reset()
        return diagnostics

    # -- saving --------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        """Everything needed to act and to keep learning; tensors and plain data only."""
        return {
            "name": self.name,
            "obs_dim": self.obs_dim,
            "act_dim": self.act_dim,
            "policy": self.policy.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "obs_stats": self.obs_stats.state_dict(),
            "reward_stats": self.reward_scaler.stats.state_dict(),
            "reward_returns": torch.as_tensor(self.reward_scaler.returns),
            "generator": self.generator.get_state(),
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore what :meth:`state_dict` saved (shapes must match)."""
        if (state["obs_dim"], state["act_dim"]) != (self.obs_dim, self.act_dim):
            raise ValueError(
                f"{self.name}: checkpoint has obs/action sizes {state['obs_dim']}/"
                f"{state['act_dim']}, this agent {self.obs_dim}/{self.act_dim}"
            )
        self.policy.load_state_dict(state["policy"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.obs_stats.load_state_dict(state["obs_stats"])
        self.reward_scaler.stats.load_state_dict(state["reward_stats"])
        returns = state["reward_returns"].numpy().astype(np.float64)
        if returns.shape == self.reward_scaler.returns.shape:
            self.reward_scaler.returns = returns
        self.generator.set_state(state["generator"])
