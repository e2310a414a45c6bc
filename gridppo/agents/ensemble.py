"""Many independent PPO agents, stored side by side so they train at the speed of one.

:class:`gridppo.ppo.PPOAgent` is the readable unit: one network, one optimizer, one
buffer. Training 17 of them one after the other spends most of its time calling
small PyTorch operations 17 times. :class:`AgentEnsemble` holds the same 17 agents in
stacked tensors — agent ``k``'s weights are slice ``[k]`` of each parameter — and
runs them with batched matrix products. Nothing is shared:

- each agent's loss depends only on its own slice, so the gradient of the summed loss
  with respect to slice ``k`` is exactly agent ``k``'s own gradient;
- Adam works element by element, so one Adam over the stacked tensors *is* one Adam
  per agent;
- gradient-norm clipping, advantage normalisation, observation statistics and reward
  scaling are all computed per agent.

Agents differ in observation and action sizes, so observations are zero-padded to
the largest size (a padded feature is always 0, gets zero weight gradient and never
changes anything) and padded action dimensions are masked out of log-probabilities
and entropies. ``tests/test_ppo.py::test_ensemble_update_equals_separate_agents``
checks that one update of the ensemble
equals one update of separate :class:`~gridppo.ppo.PPOAgent` objects.

It supports independent networks only (no parameter sharing) and no target-KL early
stop (which would stop agents at different times); the trainer uses one
:class:`~gridppo.ppo.PPOAgent` per learner in those cases.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch
from gymnasium import spaces
from torch import nn

from gridppo.agents.ppo import (
    DIAGNOSTICS,
    PPOAgent,
    RunningMeanStd,
    clipped_policy_loss,
    compute_gae,
    value_loss,
)

__all__ = ["EnsemblePolicy", "AgentEnsemble"]

LOG_SQRT_2PI = 0.5 * math.log(2.0 * math.pi)


class _SigmoidTanh(torch.autograd.Function):
    """tanh computed as ``2 * sigmoid(2x) - 1``, the same function.

    On many CPUs PyTorch's tanh kernel is several times slower than its sigmoid
    kernel (1.3 ms against 0.2 ms for this ensemble's hidden layer on our 2-core test
    machine), and the hidden activations are the ensemble's largest cost.
    The backward pass is tanh's own: ``1 - y^2``.
    """

    @staticmethod
    def forward(ctx: Any, x: torch.Tensor) -> torch.Tensor:
        y = torch.sigmoid(2.0 * x).mul_(2.0).sub_(1.0)
        ctx.save_for_backward(y)
        return y

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor) -> torch.Tensor:
        (y,) = ctx.saved_tensors
        return grad * (1.0 - y * y)


def fast_tanh(x: torch.Tensor) -> torch.Tensor:
    """tanh through the sigmoid (see :class:`_SigmoidTanh`)."""
    return _SigmoidTanh.apply(x)


class EnsemblePolicy(nn.Module):
    """A stack of actor-critics: parameters have a leading agent dimension A.

    Layer ``i`` of the actor has weight [A, in, out] and bias [A, 1, out], so a batch
    of observations [A, N, in] goes through all A networks with one ``baddbmm``.
    """

    def __init__(
        self,
        n_agents: int,
        obs_dim: int,
        act_dim: int,
        hidden_sizes: list[int],
        init_log_std: float = 0.0,
    ):
        super().__init__()
        sizes = [obs_dim, *hidden_sizes]
        self.actor = self._stack(n_agents, [*sizes, act_dim])
        self.critic = self._stack(n_agents, [*sizes, 1])
        self.log_std = nn.Parameter(torch.full((n_agents, 1, act_dim), float(init_log_std)))

    @staticmethod
    def _stack(n_agents: int, sizes: list[int]) -> nn.ParameterList:
        params = nn.ParameterList()
        for a, b in zip(sizes[:-1], sizes[1:], strict=True):
            params.append(nn.Parameter(torch.zeros(n_agents, a, b)))
            params.append(nn.Parameter(torch.zeros(n_agents, 1, b)))
        return params

    @staticmethod
    def _run(params: nn.ParameterList, x: torch.Tensor) -> torch.Tensor:
        n_layers = len(params) // 2
        for i in range(n_layers):
            x = torch.baddbmm(params[2 * i + 1], x, params[2 * i])
            if i < n_layers - 1:
                x = fast_tanh(x)
        return x

    def mean(self, obs: torch.Tensor) -> torch.Tensor:
        """Action means [A, N, act_dim] for observations [A, N, obs_dim]."""
        return self._run(self.actor, obs)

    def value(self, obs: torch.Tensor) -> torch.Tensor:
        """State values [A, N]."""
        return self._run(self.critic, obs).squeeze(-1)

    @torch.no_grad()
    def copy_from(self, k: int, policy: nn.Module) -> None:
        """Load agent ``k``'s slice from a :class:`gridppo.ppo.Policy` (zero-padding)."""
        for stack, seq in ((self.actor, policy.actor_mean), (self.critic, policy.critic)):
            linears = [m for m in seq if isinstance(m, nn.Linear)]
            for i, layer in enumerate(linears):
                w, b = stack[2 * i], stack[2 * i + 1]
                w[k].zero_()
                w[k, : layer.in_features, : layer.out_features] = layer.weight.T
                b[k].zero_()
                b[k, 0, : layer.out_features] = layer.bias
        act = policy.log_std.shape[-1]
        self.log_std[k].zero_()
        self.log_std[k, 0, :act] = policy.log_std[0]


class AgentEnsemble:
    """A independent PPO agents trained together (see the module docstring).

    Arguments:
        names: the agents' names, in a fixed order.
        observation_spaces, action_spaces: each agent's gymnasium Box.
        ppo: the ``ppo`` section of a validated config.
        num_steps, num_envs: rollout length T and parallel days N.
        seed: base seed; agent ``k`` is initialised exactly like
            ``PPOAgent(seed=seed + k)``.
    """

    def __init__(
        self,
        names: list[str],
        observation_spaces: dict[str, spaces.Box],
        action_spaces: dict[str, spaces.Box],
        ppo: dict[str, Any],
        num_steps: int,
        num_envs: int,
        seed: int = 0,
    ):
        if ppo["target_kl"] is not None:
            raise ValueError("AgentEnsemble does not support target_kl; use PPOAgent objects")
        self.names = list(names)
        self.cfg = dict(ppo)
        self.obs_dims = [observation_spaces[n].shape[0] for n in names]
        self.act_dims = [action_spaces[n].shape[0] for n in names]
        n, obs_dim, act_dim = len(names), max(self.obs_dims), max(self.act_dims)
        self.obs_dim, self.act_dim = obs_dim, act_dim
        self.action_mask = torch.zeros(n, 1, act_dim)
        for k, d in enumerate(self.act_dims):
            self.action_mask[k, 0, :d] = 1.0
        self.policy = EnsemblePolicy(n, obs_dim, act_dim, ppo["hidden_sizes"], ppo["init_log_std"])
        # The same initial weights as separate PPOAgents with these seeds.
        for k, name in enumerate(names):
            single = PPOAgent(
                name, observation_spaces[name], action_spaces[name], ppo, 1, 1, seed=seed + k
            )
            self.policy.copy_from(k, single.policy)
        self.optimizer = torch.optim.Adam(
            self.policy.parameters(), lr=ppo["lr"], eps=1e-5, foreach=True
        )
        self.generator = torch.Generator().manual_seed(seed)
        self.obs_stats = RunningMeanStd((n, obs_dim))
        self.reward_stats = RunningMeanStd((n,))
        self.reward_returns = np.zeros((n, num_envs))
        self.num_steps, self.num_envs = num_steps, num_envs
        self._allocate_buffer()
        self._pending: tuple | None = None

    # -- data layout ---------------------------------------------------------
    def _allocate_buffer(self) -> None:
        t, a, n = self.num_steps, len(self.names), self.num_envs
        self.buf = {
            "obs": torch.zeros(t, a, n, self.obs_dim),
            "actions": torch.zeros(t, a, n, self.act_dim),
            "logprobs": torch.zeros(t, a, n),
            "values": torch.zeros(t, a, n),
            "rewards": torch.zeros(t, a, n),
            "terminated": torch.zeros(t, a, n),
            "ended": torch.zeros(t, a, n),
            "final_values": torch.zeros(t, a, n),
        }
        self.step = 0

    def stack(self, per_agent: dict[str, np.ndarray]) -> np.ndarray:
        """Per-agent arrays [N, d_k] -> one zero-padded array [A, N, max d]."""
        first = per_agent[self.names[0]]
        out = np.zeros((len(self.names), first.shape[0], self.obs_dim))
        for k, name in enumerate(self.names):
            out[k, :, : self.obs_dims[k]] = per_agent[name]
        return out

    def normalize(self, obs: np.ndarray, update: bool = False) -> torch.Tensor:
        """Standardise stacked observations [A, N, D] per agent; clip to +-10."""
        if not self.cfg["norm_obs"]:
            return torch.as_tensor(obs, dtype=torch.float32)
        if update:
            self.obs_stats.update(obs, axis=1)
        scaled = (obs - self.obs_stats.mean[:, None]) / np.sqrt(self.obs_stats.var[:, None] + 1e-8)
        return torch.as_tensor(np.clip(scaled, -10.0, 10.0), dtype=torch.float32)

    def _log_prob(self, mean: torch.Tensor, actions: torch.Tensor) -> torch.Tensor:
        log_std = self.policy.log_std
        z = (actions - mean) * torch.exp(-log_std)
        per_dim = -0.5 * z * z - log_std - LOG_SQRT_2PI
        return (per_dim * self.action_mask).sum(-1)

    def _entropy(self) -> torch.Tensor:
        per_dim = 0.5 + LOG_SQRT_2PI + self.policy.log_std
        return (per_dim * self.action_mask).sum(-1)  # [A, 1]: state-independent

    # -- acting --------------------------------------------------------------
    @torch.no_grad()
    def act(
        self, observations: dict[str, np.ndarray], deterministic: bool = False, learn: bool = True
    ) -> dict[str, np.ndarray]:
        """Actions of every agent for its observations [N, obs_dim_k]."""
        x = self.normalize(self.stack(observations), update=learn)
        mean = self.policy.mean(x)
        if deterministic:
            actions = mean
        else:
            noise = torch.randn(mean.shape, generator=self.generator)
            actions = mean + torch.exp(self.policy.log_std) * noise
        if learn:
            self._pending = (x, actions, self._log_prob(mean, actions), self.policy.value(x))
        out = actions.numpy()
        return {name: out[k, :, : self.act_dims[k]] for k, name in enumerate(self.names)}

    @torch.no_grad()
    def observe_rewards(
        self,
        rewards: dict[str, np.ndarray],
        terminated: dict[str, np.ndarray],
        truncated: dict[str, np.ndarray],
        final_obs: dict[str, np.ndarray] | None = None,
    ) -> None:
        """Store the step :meth:`act` began, with every agent's rewards and flags [N]."""
        if self._pending is None:
            raise RuntimeError("observe_rewards() needs a preceding act(learn=True)")
        r = np.stack([rewards[n] for n in self.names]).astype(np.float64)
        term = np.stack([terminated[n] for n in self.names]).astype(bool)
        ended = term | np.stack([truncated[n] for n in self.names]).astype(bool)
        if self.cfg["norm_reward"]:
            self.reward_returns = self.reward_returns * self.cfg["gamma"] + r
            self.reward_stats.update(self.reward_returns, axis=1)
            self.reward_returns[ended] = 0.0
            r = r / np.sqrt(self.reward_stats.var[:, None] + 1e-8)
        t = self.step
        x, actions, logprobs, values = self._pending
        self.buf["obs"][t], self.buf["actions"][t] = x, actions
        self.buf["logprobs"][t], self.buf["values"][t] = logprobs, values
        self.buf["rewards"][t] = torch.as_tensor(r, dtype=torch.float32)
        self.buf["terminated"][t] = torch.as_tensor(term, dtype=torch.float32)
        self.buf["ended"][t] = torch.as_tensor(ended, dtype=torch.float32)
        if final_obs is not None and ended.any():
            v = self.policy.value(self.normalize(self.stack(final_obs)))
            self.buf["final_values"][t] = v * torch.as_tensor(ended, dtype=torch.float32)
        else:
            self.buf["final_values"][t] = 0.0
        self.step += 1
        self._pending = None

    # -- learning ------------------------------------------------------------
    def update(self, last_obs: dict[str, np.ndarray], progress: float = 0.0) -> dict[str, dict]:
        """One PPO update of every agent; returns ``{name: diagnostics}``."""
        cfg, buf = self.cfg, self.buf
        if self.step != self.num_steps:
            raise RuntimeError(f"ensemble buffer holds {self.step} of {self.num_steps} steps")
        if cfg["anneal_lr"]:
            self.optimizer.param_groups[0]["lr"] = cfg["lr"] * max(1.0 - progress, 0.0)
        with torch.no_grad():
            last_values = self.policy.value(self.normalize(self.stack(last_obs)))
            following = torch.cat([buf["values"][1:], last_values[None]], dim=0)
            next_values = torch.where(buf["ended"] > 0, buf["final_values"], following)
            advantages, returns = compute_gae(
                buf["rewards"],
                buf["values"],
                next_values,
                buf["terminated"],
                buf["ended"],
                cfg["gamma"],
                cfg["gae_lambda"],
            )
        # [T, A, N, ...] -> [A, T*N, ...]: each agent's samples in one row.
        a, size = len(self.names), self.num_steps * self.num_envs

        def rows(t: torch.Tensor) -> torch.Tensor:
            return t.transpose(0, 1).reshape(a, size, *t.shape[3:])

        obs, actions = rows(buf["obs"]), rows(buf["actions"])
        old_logprobs, old_values = rows(buf["logprobs"]), rows(buf["values"])
        advantages, returns = rows(advantages), rows(returns)
        minibatch = max(size // cfg["num_minibatches"], 1)
        clip_v = cfg["clip_coef"] if cfg["clip_vloss"] else None
        params = list(self.policy.parameters())
        sums = {k: torch.zeros(a) for k in DIAGNOSTICS}
        count = 0
        for _epoch in range(cfg["update_epochs"]):
            order = torch.randperm(size, generator=self.generator)
            for start in range(0, size, minibatch):
                idx = order[start : start + minibatch]
                mb_obs = obs[:, idx]
                logprob = self._log_prob(self.policy.mean(mb_obs), actions[:, idx])
                entropy = self._entropy().expand_as(logprob)
                new_values = self.policy.value(mb_obs)
                adv = advantages[:, idx]
                if cfg["norm_adv"] and len(idx) > 1:
                    adv = (adv - adv.mean(-1, keepdim=True)) / (adv.std(-1, keepdim=True) + 1e-8)
                pg_loss, approx_kl, clipfrac = clipped_policy_loss(
                    logprob, old_logprobs[:, idx], adv, cfg["clip_coef"]
                )
                v_loss = value_loss(new_values, old_values[:, idx], returns[:, idx], clip_v)
                entropy_mean = entropy.mean(-1)
                per_agent = pg_loss - cfg["ent_coef"] * entropy_mean + cfg["vf_coef"] * v_loss
                self.optimizer.zero_grad(set_to_none=True)
                per_agent.sum().backward()
                self._clip_grad_norm(params, cfg["max_grad_norm"])
                self.optimizer.step()
                for key, value in (
                    ("policy_loss", pg_loss),
                    ("value_loss", v_loss),
                    ("entropy", entropy_mean),
                    ("approx_kl", approx_kl),
                    ("clipfrac", clipfrac),
                ):
                    sums[key] += value.detach()
                count += 1
        var_returns = returns.var(-1)
        explained = 1.0 - (returns - old_values).var(-1) / var_returns
        explained = torch.where(var_returns > 0, explained, torch.full_like(explained, math.nan))
        self.step = 0
        out = {}
        for k, name in enumerate(self.names):
            diag = {
                key: float(sums[key][k]) / max(count, 1)
                for key in DIAGNOSTICS
                if key != "explained_variance"
            }
            diag["explained_variance"] = float(explained[k])
            out[name] = diag
        return out

    @staticmethod
    @torch.no_grad()
    def _clip_grad_norm(params: list[torch.Tensor], max_norm: float) -> None:
        """Per-agent global gradient-norm clipping (``clip_grad_norm_`` for each slice)."""
        grads = [p.grad for p in params if p.grad is not None]
        squared = sum(g.pow(2).reshape(g.shape[0], -1).sum(-1) for g in grads)
        coef = torch.clamp(max_norm / (squared.sqrt() + 1e-6), max=1.0)
        for g in grads:
            g.mul_(coef.view(-1, *([1] * (g.dim() - 1))))

    # -- saving --------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        """Everything needed to act and keep learning; tensors and plain data only."""
        return {
            "kind": "ensemble",
            "names": list(self.names),
            "obs_dims": list(self.obs_dims),
            "act_dims": list(self.act_dims),
            "policy": self.policy.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "obs_stats": self.obs_stats.state_dict(),
            "reward_stats": self.reward_stats.state_dict(),
            "reward_returns": torch.as_tensor(self.reward_returns),
            "generator": self.generator.get_state(),
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore what :meth:`state_dict` saved (same agents and sizes)."""
        if (
            state.get("kind") != "ensemble"
            or list(state["names"]) != self.names
            or list(state["obs_dims"]) != self.obs_dims
        ):
            raise ValueError("checkpoint agents or observation sizes differ from this ensemble")
        self.policy.load_state_dict(state["policy"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.obs_stats.load_state_dict(state["obs_stats"])
        self.reward_stats.load_state_dict(state["reward_stats"])
        returns = state["reward_returns"].numpy().astype(np.float64)
        if returns.shape == self.reward_returns.shape:
            self.reward_returns = returns
        self.generator.set_state(state["generator"])
