"""Assignment 01, part 2: the checker of a student's PPO clipped surrogate loss.

:func:`check_clipped_loss` runs the student's ``my_clipped_loss`` on ratios inside and
outside the clip range and compares its value and its gradient with
:func:`gridppo.agents.ppo.clipped_policy_loss`. A wrong value is compared with the
typical mistakes, each one branch of :func:`_clip_variant` (min instead of max, the
objective instead of the loss, no exp in the ratio, ...).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import torch

from gridppo.agents.ppo import clipped_policy_loss
from gridppo.course.common import ATOL, RTOL, ExerciseError, Passed, call_student, close_enough

__all__ = ["check_clipped_loss"]

Tensor = torch.Tensor
# The reference, as a student would import it; read from the function so that the
# messages follow it if it moves.
_REFERENCE = f"{clipped_policy_loss.__module__}.{clipped_policy_loss.__name__}"


def _clip_cases() -> list[dict[str, Any]]:
    """Ratios inside and outside [1 - eps, 1 + eps], with advantages of both signs."""
    g = torch.Generator().manual_seed(11)
    log_ratio = torch.tensor([-0.5, -0.1, 0.15, 0.4, -0.3, -0.05, 0.1, 0.6], dtype=torch.float64)
    advantages = torch.tensor([1.0, -2.0, 0.5, -1.5, -1.0, 2.5, -0.7, 1.2], dtype=torch.float64)
    old = -1.0 - torch.rand(8, generator=g, dtype=torch.float64)
    cases = [{"new": old + log_ratio, "old": old, "adv": advantages, "clip": 0.2}]
    old = -1.0 - torch.rand(64, generator=g, dtype=torch.float64)
    new = old + 0.4 * torch.randn(64, generator=g, dtype=torch.float64)
    cases.append(
        {
            "new": new,
            "old": old,
            "adv": torch.randn(64, generator=g, dtype=torch.float64),
            "clip": 0.1,
        }
    )
    return cases


def _clip_variant(new: Tensor, old: Tensor, adv: Tensor, eps: float, mistake: str) -> Tensor:
    """The clipped loss with one typical mistake."""
    ratio = (new - old).exp()
    if mistake == "no exp":
        ratio = new - old
    elif mistake == "inverted ratio":
        ratio = (old - new).exp()
    elif mistake == "ratio of log-probabilities":
        ratio = new / old
    clipped_ratio = torch.clamp(ratio, 1.0 - eps, 1.0 + eps)
    if mistake == "clipped log-ratio":
        clipped_ratio = torch.clamp(new - old, -eps, eps).exp()
    elif mistake == "clip range around 0":
        clipped_ratio = torch.clamp(ratio, -eps, eps)
    unclipped, clipped = -adv * ratio, -adv * clipped_ratio
    if mistake == "clipped advantage":
        clipped = -ratio * torch.clamp(adv, 1.0 - eps, 1.0 + eps)
    if mistake == "min":
        return torch.min(unclipped, clipped).mean()
    if mistake == "objective":
        return torch.min(adv * ratio, adv * clipped_ratio).mean()
    if mistake == "no clip":
        return unclipped.mean()
    if mistake == "clipped term only":
        return clipped.mean()
    loss = torch.max(unclipped, clipped)
    return loss.sum() if mistake == "sum" else loss.mean()


_CLIP_MISTAKES: dict[str, str] = {
    "min": "did you use min instead of max? PPO maximises the *minimum* of the two "
    "surrogate objectives, so as a loss (their negatives) it takes the *maximum*: "
    "torch.max(-A * r, -A * clip(r, 1 - eps, 1 + eps))",
    "objective": "your loss has the wrong sign: you return the objective to maximise; an "
    "optimizer minimises, so return its negative",
    "no exp": "the ratio is exp(new_logprob - old_logprob), not the difference of the "
    "log-probabilities",
    "ratio of log-probabilities": "the ratio of probabilities is "
    "exp(new_logprob - old_logprob), not new_logprob / old_logprob",
    "inverted ratio": "the ratio is new over old: exp(new_logprob - old_logprob), not "
    "exp(old_logprob - new_logprob)",
    "clipped log-ratio": "clip the ratio itself to [1 - clip_coef, 1 + clip_coef], not "
    "the log-ratio to [-clip_coef, clip_coef]",
    "clip range around 0": "clip the ratio to [1 - clip_coef, 1 + clip_coef]: it is "
    "centred on 1, not on 0",
    "clipped advantage": "clip the probability ratio, not the advantage",
    "no clip": "your loss ignores the clipping: that is the plain policy-gradient "
    "surrogate -A * r; take the max with -A * clip(r, 1 - eps, 1 + eps)",
    "clipped term only": "you use only the clipped term; PPO takes the max of the "
    "unclipped loss -A * r and the clipped one -A * clip(r, 1 - eps, 1 + eps)",
    "sum": "average over the samples (mean), not sum: the loss must not grow with the "
    "minibatch size",
}


def check_clipped_loss(my_clipped_loss: Callable[..., Any]) -> Passed:
    """Check ``my_clipped_loss(new_logprob, old_logprob, advantages, clip_coef)`` against
    the loss of :func:`gridppo.agents.ppo.clipped_policy_loss`.

    The inputs are float64 tensors [N] (``new_logprob`` requires grad) and a float; the
    function must return the loss to *minimise* as a scalar tensor, and its gradient with
    respect to ``new_logprob`` must match the reference's (zero where the ratio is
    clipped). It is run on ratios inside and outside the clip range with advantages of
    both signs, and on a random batch. Typical mistakes it names: min instead of max,
    the objective instead of the loss (sign), no exp in the ratio, an inverted ratio,
    clipping the log-ratio or the advantage, no clipping, only the clipped term, a sum
    instead of a mean, and a loss detached from the graph (``.item()``, numpy).
    """
    for case in _clip_cases():
        new = case["new"].clone().requires_grad_(True)
        old, adv, eps = case["old"].clone(), case["adv"].clone(), case["clip"]
        loss = call_student(my_clipped_loss, "my_clipped_loss", new, old, adv, eps)
        if isinstance(loss, tuple | list):
            raise ExerciseError(
                "my_clipped_loss must return the loss alone (one scalar tensor), not a "
                f"{type(loss).__name__}"
            )
        if loss is None:
            raise ExerciseError("my_clipped_loss returned None: did you forget the return?")
        try:
            value = np.asarray(
                loss.detach() if isinstance(loss, torch.Tensor) else loss, dtype=np.float64
            )
        except (TypeError, ValueError):
            raise ExerciseError(
                f"my_clipped_loss should return a scalar tensor, got {type(loss).__name__}"
            ) from None
        if value.shape != ():
            raise ExerciseError(
                "my_clipped_loss must return one number (a scalar tensor), got shape "
                f"{list(value.shape)}: average over the samples with .mean()"
            )
        ref_new = case["new"].clone().requires_grad_(True)
        ref_loss = clipped_policy_loss(ref_new, old, adv, eps)[0]
        if not close_enough(value, ref_loss.detach().numpy()):
            hint = (
                "check loss = mean(max(-A * r, -A * clip(r, 1 - eps, 1 + eps))) with "
                "r = exp(new_logprob - old_logprob)"
            )
            for mistake, mistake_hint in _CLIP_MISTAKES.items():
                wrong = _clip_variant(case["new"], old, adv, eps, mistake)
                if close_enough(value, wrong.numpy()):
                    hint = mistake_hint
                    break
            raise ExerciseError(
                f"your loss is {float(value):.5f} where the reference gives "
                f"{ref_loss.item():.5f} (clip_coef={eps}, {len(adv)} samples): {hint}"
            )
        if not isinstance(loss, torch.Tensor) or not loss.requires_grad:
            raise ExerciseError(
                "your loss has the right value but carries no gradient back to "
                "new_logprob: keep it a torch tensor built from new_logprob (no .item(), "
                "no numpy, no .detach())"
            )
        (grad,) = torch.autograd.grad(loss, new)
        ref_loss.backward()
        mine, ref = grad.detach().numpy(), ref_new.grad.numpy()
        if not close_enough(mine, ref):
            i = int(np.flatnonzero(~np.isclose(mine, ref, rtol=RTOL, atol=ATOL))[0])
            raise ExerciseError(
                f"your loss has the right value but the wrong gradient with respect to "
                f"new_logprob at sample {i} (yours {mine[i]:.5f}, expected {ref[i]:.5f}): "
                "is part of it detached, or is the clipped ratio computed outside the "
                "graph?"
            )
    return Passed(
        f"Passed: my_clipped_loss matches {_REFERENCE} in value and gradient, inside and "
        "outside the clip range."
    )
