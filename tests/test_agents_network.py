"""The stacked actor-critic (gridppo.agents.network)."""

from __future__ import annotations

import numpy as np
import torch

from gridppo.agents.network import ActorCritic


def test_initialisation_follows_the_checklist_per_agent():
    net = ActorCritic([7, 5], [2, 1], hidden_sizes=[32, 32], init_log_std=-0.5, seeds=[0, 1])
    for k, (obs_dim, act_dim) in enumerate([(7, 2), (5, 1)]):
        v = {name: t[k].detach() for name, t in net.views(net.params).items()}
        head = v["actor.2.weight"][:, :act_dim]
        value_head = v["critic.2.weight"]
        hidden = v["actor.0.weight"][:obs_dim]
        # Orthogonal, scaled by the gain (0.01 policy head, 1 value head, sqrt 2 hidden).
        np.testing.assert_allclose((head.T @ head).numpy(), 0.01**2 * np.eye(act_dim), atol=1e-7)
        np.testing.assert_allclose((value_head.T @ value_head).numpy(), np.eye(1), atol=1e-5)
        np.testing.assert_allclose((hidden @ hidden.T).numpy(), 2 * np.eye(obs_dim), atol=1e-5)
        assert torch.all(v["actor.0.bias"] == 0)
        # Padding (inputs beyond the agent's size, actions beyond its count) starts at 0.
        assert torch.all(v["actor.0.weight"][obs_dim:] == 0)
        assert torch.all(v["actor.2.weight"][:, act_dim:] == 0)
        assert torch.all(v["log_std"][0, :act_dim] == -0.5)


def test_an_agent_starts_the_same_alone_or_among_others():
    stack = ActorCritic([4, 6, 4], [1, 2, 1], [16, 16], 0.0, seeds=[10, 11, 12])
    alone = ActorCritic([6], [2], [16, 16], 0.0, seeds=[11])
    torch.testing.assert_close(
        stack.views(stack.params)["critic.1.weight"][1],
        alone.views(alone.params)["critic.1.weight"][0],
    )
    x = torch.randn(3, 5, 6)
    x[[0, 2], :, 4:] = 0.0  # padded features are zero
    _, _, _, value = stack.get_action_and_value(x, deterministic=True)
    _, _, _, value_alone = alone.get_action_and_value(x[1:2], deterministic=True)
    torch.testing.assert_close(value[1:2], value_alone)


def test_log_prob_and_entropy_are_the_gaussians_over_real_actions():
    net = ActorCritic([3, 3], [2, 1], [8], -0.3, seeds=[0, 1])
    x = torch.randn(2, 4, 3)
    action, log_prob, entropy, _ = net.get_action_and_value(
        x, generator=torch.Generator().manual_seed(0)
    )
    mean, _, _, _ = net.get_action_and_value(x, deterministic=True)
    for k, act_dim in enumerate([2, 1]):
        std = torch.full((act_dim,), -0.3).exp()
        dist = torch.distributions.Normal(mean[k, :, :act_dim], std)
        torch.testing.assert_close(log_prob[k], dist.log_prob(action[k, :, :act_dim]).sum(-1))
        torch.testing.assert_close(entropy[k], dist.entropy().sum(-1))


def test_shared_rows_use_one_parameter_row_and_sum_their_gradients():
    net = ActorCritic([3, 3], [1, 1], [8], 0.0, seeds=[0, 1], rows=[0, 0, 1])
    assert net.params.shape[0] == 2
    x = torch.randn(3, 5, 3)
    value = net.get_value(x)
    torch.testing.assert_close(value[0], net.get_value(x[[1, 0, 2]])[1])  # rows 0, 1 share
    value[0].sum().backward()
    grad_first = net.params.grad.clone()
    net.params.grad = None
    net.get_value(x)[1].sum().backward()
    grad_second = net.params.grad.clone()
    net.params.grad = None
    net.get_value(x)[:2].sum().backward()
    torch.testing.assert_close(net.params.grad, grad_first + grad_second)
    assert torch.all(net.params.grad[1] == 0)  # the other learner is untouched
