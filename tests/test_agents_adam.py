"""One Adam per agent row (gridppo.agents.adam) against torch's own Adam."""

from __future__ import annotations

import torch

from gridppo.agents.adam import RowAdam, clip_grad_norm_rows


def test_each_row_is_torch_adam():
    torch.manual_seed(0)
    start = torch.randn(3, 50)
    stacked = start.clone().requires_grad_(True)
    mine = RowAdam(stacked, lr=1e-2, eps=1e-5)
    singles = [start[k].clone().requires_grad_(True) for k in range(3)]
    theirs = [torch.optim.Adam([p], lr=1e-2, eps=1e-5) for p in singles]
    for step in range(20):
        grad = torch.randn(3, 50)
        mine.lr = theirs[0].param_groups[0]["lr"] = 1e-2 * (1 - step / 40)
        for opt in theirs[1:]:
            opt.param_groups[0]["lr"] = mine.lr
        stacked.grad = grad.clone()
        mine.step()
        for k, (p, opt) in enumerate(zip(singles, theirs, strict=True)):
            p.grad = grad[k].clone()
            opt.step()
    for k in range(3):
        torch.testing.assert_close(stacked.detach()[k], singles[k].detach(), rtol=1e-6, atol=1e-7)


def test_an_inactive_row_keeps_parameters_moments_and_step_count():
    param = torch.zeros(2, 4, requires_grad=True)
    adam = RowAdam(param, lr=0.1)
    param.grad = torch.ones(2, 4)
    adam.step()
    before = (param.detach().clone(), adam.exp_avg.clone(), adam.exp_avg_sq.clone())
    param.grad = torch.ones(2, 4)
    adam.step(active=torch.tensor([True, False]))
    assert adam.steps.tolist() == [2.0, 1.0]
    assert not torch.equal(param.detach()[0], before[0][0])
    assert torch.equal(param.detach()[1], before[0][1])
    assert torch.equal(adam.exp_avg[1], before[1][1])
    assert torch.equal(adam.exp_avg_sq[1], before[2][1])


def test_state_round_trip_continues_identically():
    torch.manual_seed(1)
    a = torch.randn(2, 6, requires_grad=True)
    b = a.detach().clone().requires_grad_(True)
    adam_a, adam_b = RowAdam(a, lr=0.05), RowAdam(b, lr=0.5)
    a.grad = torch.randn(2, 6)
    adam_a.step()
    with torch.no_grad():
        b.copy_(a)
    adam_b.load_state_dict(adam_a.state_dict())
    grad = torch.randn(2, 6)
    a.grad, b.grad = grad.clone(), grad.clone()
    adam_a.step()
    adam_b.step()
    assert torch.equal(a, b)


def test_clipping_per_row_is_clip_grad_norm_per_agent():
    torch.manual_seed(2)
    grad = torch.randn(3, 10) * torch.tensor([[0.01], [1.0], [100.0]])
    expected = []
    for k in range(3):
        p = torch.zeros(10, requires_grad=True)
        p.grad = grad[k].clone()
        torch.nn.utils.clip_grad_norm_([p], 0.5)
        expected.append(p.grad)
    clip_grad_norm_rows(grad, 0.5)
    torch.testing.assert_close(grad, torch.stack(expected))
