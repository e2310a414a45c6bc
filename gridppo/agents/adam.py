"""Adam for parameters stored one agent per row, with one independent Adam per row.

``torch.optim.Adam`` keeps one step count per parameter tensor. Here a tensor [A, P]
holds A agents (see :mod:`gridppo.agents.network`), and agents may stop updating at
different times (PPO's target-KL early stop works per agent), so each row needs its own
step count and its own bias correction. :class:`RowAdam` is Adam (Kingma & Ba 2015)
written out for that case, in the same arithmetic as ``torch.optim.Adam`` (a test checks
that a single row matches it to float precision), plus the per-row global gradient-norm
clipping PPO uses.
"""

from __future__ import annotations

from typing import Any

import torch

__all__ = ["RowAdam", "clip_grad_norm_rows"]


@torch.no_grad()
def clip_grad_norm_rows(grad: torch.Tensor, max_norm: float) -> torch.Tensor:
    """Scale each row of ``grad`` [A, P] so its L2 norm is at most ``max_norm``
    (``torch.nn.utils.clip_grad_norm_`` for every agent on its own); returns the norms
    [A] before clipping."""
    norms = grad.norm(dim=1)
    grad.mul_(torch.clamp(max_norm / (norms + 1e-6), max=1.0)[:, None])
    return norms


class RowAdam:
    """Adam over a parameter ``param`` [A, P], one independent optimiser per row.

    Arguments: ``lr``, ``betas`` and ``eps`` as in ``torch.optim.Adam`` (PPO uses eps
    1e-5, detail #3 of the "37 implementation details"). ``lr`` may be changed between
    steps (learning-rate annealing).
    """

    def __init__(
        self,
        param: torch.Tensor,
        lr: float,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
    ):
        self.param, self.lr, self.betas, self.eps = param, lr, betas, eps
        rows = param.shape[0]
        self.exp_avg = torch.zeros_like(param)
        self.exp_avg_sq = torch.zeros_like(param)
        self.steps = torch.zeros(rows, dtype=torch.float64)  # per row: its own bias correction

    def zero_grad(self) -> None:
        """Drop the gradient (as ``set_to_none=True``)."""
        self.param.grad = None

    @torch.no_grad()
    def step(self, active: torch.Tensor | None = None) -> None:
        """One Adam step of every row, or only of the rows where ``active`` [A] is True;
        an inactive row keeps its parameters, moments and step count."""
        grad = self.param.grad
        if grad is None:
            return
        beta1, beta2 = self.betas
        if active is None or bool(active.all()):
            rows = slice(None)
            self.steps += 1
        else:
            rows = torch.nonzero(active).flatten()
            self.steps[rows] += 1
            grad = grad[rows]
        exp_avg, exp_avg_sq = self.exp_avg[rows], self.exp_avg_sq[rows]
        exp_avg.lerp_(grad, 1.0 - beta1)
        exp_avg_sq.mul_(beta2).addcmul_(grad, grad, value=1.0 - beta2)
        steps = self.steps[rows]
        bias1 = (1.0 - beta1**steps).to(grad.dtype)[:, None]
        bias2_sqrt = (1.0 - beta2**steps).sqrt().to(grad.dtype)[:, None]
        denom = (exp_avg_sq.sqrt() / bias2_sqrt).add_(self.eps)
        update = exp_avg / denom * (self.lr / bias1)
        if isinstance(rows, slice):
            self.param.sub_(update)
        else:  # fancy indexing copied the moments: write them back
            self.exp_avg[rows], self.exp_avg_sq[rows] = exp_avg, exp_avg_sq
            self.param[rows] -= update

    def state_dict(self) -> dict[str, Any]:
        """The moments, step counts and settings (tensors and plain data)."""
        return {
            "exp_avg": self.exp_avg.clone(),
            "exp_avg_sq": self.exp_avg_sq.clone(),
            "steps": self.steps.clone(),
            "lr": float(self.lr),
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore what :meth:`state_dict` saved (same shape)."""
        if state["exp_avg"].shape != self.exp_avg.shape:
            raise ValueError(
                f"optimizer state has shape {tuple(state['exp_avg'].shape)}, "
                f"the parameters {tuple(self.exp_avg.shape)}"
            )
        self.exp_avg.copy_(state["exp_avg"])
        self.exp_avg_sq.copy_(state["exp_avg_sq"])
        self.steps.copy_(state["steps"])
        self.lr = float(state["lr"])
