"""The actor-critic network of A agents at once, each with its own parameters.

Every agent's parameters are one row of a single tensor ``params`` [A, P]: the weights
and biases of its critic MLP, its actor MLP and its action log-std, laid end to end.
A layer's weight is a view of a slice of that row, shaped [A, in, out], so one batched
matrix product (``torch.baddbmm``) runs the layer of all A agents at once. For A = 1
this is the actor-critic of CleanRL's ``ppo_continuous_action.py``: separate tanh MLPs
for the value and the action mean, a state-independent log-std, orthogonal
initialisation (sqrt(2) hidden, 0.01 policy head, 1.0 value head).

Why one flat row per agent: everything that must stay per agent becomes one line on
[A, P] — Adam's moments (:mod:`gridppo.agents.adam`), gradient-norm clipping, a NaN
check, saving one agent — and nothing mixes two agents' values: no operation combines
rows (a shared row gets the sum of its members' gradients, as it should). Agent ``k``
is initialised from its own seed, so it starts the same whether it trains alone
(A = 1) or beside sixteen others.

Agents may differ in observation and action sizes. Observations are zero-padded to the
largest size; the weights of a padded input start at 0 and get no gradient (their input
is always 0). Padded action dimensions are masked out of log-probabilities and
entropies, so they get no gradient either.

**A centralised critic** (MAPPO) reads a wider input than the actor: ``critic_dims``
gives each row's critic input size (default: its observation size). The actor never
sees that input, so acting stays decentralised; :mod:`gridppo.agents.ppo` builds it.

**Parameter sharing** is a grouping of rows: ``rows[r]`` names the parameter row that
data row ``r`` uses. With one row per agent (``rows = [0, 1, ..., A-1]``) every agent
is independent; with ``rows = [0, 0, 1, 1, 1]`` agents 0-1 share row 0 and agents 2-4
share row 1, and each shared row's gradient is the sum of its members' gradients.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import nn

__all__ = ["ActorCritic"]

LOG_SQRT_2PI = 0.5 * math.log(2.0 * math.pi)


class ActorCritic(nn.Module):
    """A stack of actor-critics, one per parameter row (see the module docstring).

    Arguments:
        obs_dims, act_dims: each agent's observation and action size (one entry per
            parameter row; agents sharing a row share its sizes).
        hidden_sizes: the hidden layers of both MLPs, e.g. ``[64, 64]``.
        init_log_std: the initial log standard deviation of every action.
        seeds: one seed per row; row ``k``'s initial weights depend only on ``seeds[k]``.
        rows: which parameter row each data row uses (default: one row each).
        critic_dims: each row's critic input size (default: ``obs_dims``, a critic that
            sees what its actor sees); its real inputs come first, padding last.

    Inputs are stacked observations [R, N, obs_dim] (R data rows, N samples each,
    ``obs_dim = max(obs_dims)``) and, for the critic, [R, N, critic_dim]; outputs keep
    the leading R.
    """

    def __init__(
        self,
        obs_dims: Sequence[int],
        act_dims: Sequence[int],
        hidden_sizes: Sequence[int],
        init_log_std: float,
        seeds: Sequence[int],
        rows: Sequence[int] | None = None,
        critic_dims: Sequence[int] | None = None,
    ):
        super().__init__()
        self.obs_dims, self.act_dims = list(obs_dims), list(act_dims)
        self.obs_dim, self.act_dim = max(self.obs_dims), max(self.act_dims)
        self.critic_dims = self.obs_dims if critic_dims is None else list(critic_dims)
        self.critic_dim = max(self.critic_dims)
        self.num_rows = len(self.obs_dims)
        rows = list(range(self.num_rows)) if rows is None else list(rows)
        # Independent agents index no rows at all: indexing would copy every parameter.
        self.shared = rows != list(range(self.num_rows))
        self.register_buffer("rows", torch.tensor(rows, dtype=torch.long), persistent=False)
        # The layout of one row: (name, shape) in order; critic first, as in CleanRL.
        self.layout: list[tuple[str, tuple[int, ...]]] = []
        for net, width, out in (
            ("critic", self.critic_dim, 1),
            ("actor", self.obs_dim, self.act_dim),
        ):
            sizes = [width, *hidden_sizes, out]
            for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:], strict=True)):
                self.layout += [(f"{net}.{i}.weight", (a, b)), (f"{net}.{i}.bias", (1, b))]
        self.layout.append(("log_std", (1, self.act_dim)))
        self.n_layers = len(hidden_sizes) + 1
        size = sum(math.prod(shape) for _, shape in self.layout)
        self.params = nn.Parameter(torch.zeros(self.num_rows, size))
        mask = torch.zeros(self.num_rows, 1, self.act_dim)
        for k, d in enumerate(self.act_dims):
            mask[k, 0, :d] = 1.0
        # One mask per data row: a shared row's members share its action size.
        self.register_buffer("action_mask", mask[self.rows], persistent=False)
        with torch.no_grad():
            for k, seed in enumerate(seeds):
                self._initialise(k, int(seed), init_log_std)

    def _initialise(self, k: int, seed: int, init_log_std: float) -> None:
        """Orthogonal weights for row ``k`` from its own generator; padding stays 0."""
        generator = torch.Generator().manual_seed(seed)
        views = self.views(self.params[k : k + 1])
        for net, out_std in (("critic", 1.0), ("actor", 0.01)):
            for i in range(self.n_layers):
                weight = views[f"{net}.{i}.weight"][0]
                inputs = self.critic_dims[k] if net == "critic" else self.obs_dims[k]
                fan_in = inputs if i == 0 else weight.shape[0]
                last = i == self.n_layers - 1
                fan_out = (1 if net == "critic" else self.act_dims[k]) if last else weight.shape[1]
                gain = out_std if last else math.sqrt(2.0)
                # nn.Linear stores [out, in]; orthogonalise that shape, as CleanRL does.
                w = torch.empty(fan_out, fan_in)
                nn.init.orthogonal_(w, gain, generator=generator)
                weight[:fan_in, :fan_out] = w.T
        views["log_std"][0, 0, : self.act_dims[k]] = init_log_std

    def views(self, params: torch.Tensor) -> dict[str, torch.Tensor]:
        """The named tensors of ``params`` [R, P], each [R, *shape], as views."""
        sizes = [math.prod(shape) for _, shape in self.layout]
        chunks = params.split(sizes, dim=1)
        return {
            name: chunk.view(params.shape[0], *shape)
            for (name, shape), chunk in zip(self.layout, chunks, strict=True)
        }

    def row_params(self) -> torch.Tensor:
        """The parameters of every data row [R, P] (shared rows repeated)."""
        return self.params[self.rows] if self.shared else self.params

    def _mlp(self, views: dict[str, torch.Tensor], net: str, x: torch.Tensor) -> torch.Tensor:
        for i in range(self.n_layers):
            x = torch.baddbmm(views[f"{net}.{i}.bias"], x, views[f"{net}.{i}.weight"])
            if i < self.n_layers - 1:
                x = torch.tanh(x)
        return x

    def get_value(self, x: torch.Tensor) -> torch.Tensor:
        """State values [R, N] for critic inputs [R, N, critic_dim] (the observations,
        unless the critic is centralised)."""
        return self._mlp(self.views(self.row_params()), "critic", x).squeeze(-1)

    def _sample(
        self,
        views: dict[str, torch.Tensor],
        x: torch.Tensor,
        generator: torch.Generator | None,
        deterministic: bool,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """The actors' mean action and a sample around it (the mean if ``deterministic``)."""
        mean = self._mlp(views, "actor", x)
        if deterministic:
            return mean, mean
        noise = torch.randn(mean.shape, generator=generator)
        return mean, mean + views["log_std"].exp() * noise

    def get_action(
        self,
        x: torch.Tensor,
        generator: torch.Generator | None = None,
        deterministic: bool = False,
    ) -> torch.Tensor:
        """Actions [R, N, act_dim] from the actors alone, for observations x: what a
        trained agent does when it acts. No critic runs, centralised or not."""
        return self._sample(self.views(self.row_params()), x, generator, deterministic)[1]

    def get_action_and_value(
        self,
        x: torch.Tensor,
        action: torch.Tensor | None = None,
        generator: torch.Generator | None = None,
        deterministic: bool = False,
        critic_input: torch.Tensor | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        """Sample (or take the given) actions; return ``(action, log_prob, entropy, value)``.

        ``action`` [R, N, act_dim] (padded); ``log_prob``, ``entropy`` and ``value`` are
        [R, N]. The value is the critic's on ``critic_input`` [R, N, critic_dim] (default:
        the observations ``x``); the action depends on ``x`` alone.

        The Gaussian is not squashed: the environment clips actions, and the
        log-probability is that of the unclipped sample, as in CleanRL.
        """
        views = self.views(self.row_params())
        if action is None:
            mean, action = self._sample(views, x, generator, deterministic)
        else:
            mean = self._mlp(views, "actor", x)
        log_std = views["log_std"]
        # The Normal's log-density and entropy, per dimension, masked to real actions.
        z = (action - mean) * torch.exp(-log_std)
        log_prob = ((-0.5 * z * z - log_std - LOG_SQRT_2PI) * self.action_mask).sum(-1)
        entropy = ((0.5 + LOG_SQRT_2PI + log_std) * self.action_mask).sum(-1)
        if critic_input is None:
            if self.critic_dim != self.obs_dim:
                raise ValueError(f"the critic reads {self.critic_dim} inputs: pass critic_input")
            critic_input = x
        value = self._mlp(views, "critic", critic_input)
        return action, log_prob, entropy.expand_as(log_prob), value.squeeze(-1)
