"""The checker of assignment 01's clipped loss (gridppo.course.clipped_loss).

It must accept a right answer and reject the typical wrong ones, in value or in
gradient, with a message that names the mistake. The wrong answers below are written
the way students write them, not through the checker's own list of mistakes.
"""

from __future__ import annotations

from typing import Any

import pytest
import torch

from gridppo.agents.ppo import clipped_policy_loss
from gridppo.course.clipped_loss import check_clipped_loss
from gridppo.course.common import ExerciseError

T = torch.Tensor


def loss_loop(
    new: T,
    old: T,
    adv: T,
    eps: float,
    *,
    pick: Any = torch.max,
    sign: float = -1.0,
    clip_what: str = "ratio",
    exp: bool = True,
) -> T:
    """A student's clipped loss, with switches for the usual mistakes."""
    ratio = torch.exp(new - old) if exp else new - old
    if clip_what == "ratio":
        clipped = torch.clamp(ratio, 1 - eps, 1 + eps) * adv
    elif clip_what == "log-ratio":
        clipped = torch.exp(torch.clamp(new - old, -eps, eps)) * adv
    else:  # the advantage
        clipped = ratio * torch.clamp(adv, 1 - eps, 1 + eps)
    return pick(sign * ratio * adv, sign * clipped).mean()


def loss_right_by_hand(new: T, old: T, adv: T, eps: float) -> Any:
    ratio = (new - old).exp()
    objective = torch.minimum(ratio * adv, ratio.clamp(1 - eps, 1 + eps) * adv)
    return -objective.mean()


def loss_item(new: T, old: T, adv: T, eps: float) -> Any:
    return clipped_policy_loss(new, old, adv, eps)[0].item()


def loss_tuple(new: T, old: T, adv: T, eps: float) -> Any:
    return clipped_policy_loss(new, old, adv, eps)


def loss_per_sample(new: T, old: T, adv: T, eps: float) -> Any:
    ratio = (new - old).exp()
    return torch.max(-adv * ratio, -adv * ratio.clamp(1 - eps, 1 + eps))


def loss_summed(new: T, old: T, adv: T, eps: float) -> Any:
    ratio = (new - old).exp()
    return torch.max(-adv * ratio, -adv * ratio.clamp(1 - eps, 1 + eps)).sum()


def loss_inverted(new: T, old: T, adv: T, eps: float) -> Any:
    return clipped_policy_loss(old, new, adv, eps)[0]


def loss_unclipped(new: T, old: T, adv: T, eps: float) -> Any:
    return (-adv * (new - old).exp()).mean()


def loss_clipped_only(new: T, old: T, adv: T, eps: float) -> Any:
    return (-adv * (new - old).exp().clamp(1 - eps, 1 + eps)).mean()


def loss_detached_branch(new: T, old: T, adv: T, eps: float) -> Any:
    ratio = (new - old).exp()
    return torch.max(-adv * ratio, (-adv * ratio.clamp(1 - eps, 1 + eps)).detach()).mean()


def loss_not_written(new: T, old: T, adv: T, eps: float) -> Any:
    raise NotImplementedError


@pytest.mark.parametrize(
    "answer", [lambda *a: clipped_policy_loss(*a)[0], loss_loop, loss_right_by_hand]
)
def test_check_clipped_loss_accepts_right_answers(answer: Any) -> None:
    assert check_clipped_loss(answer).startswith(
        f"Passed: my_clipped_loss matches {clipped_policy_loss.__module__}.clipped_policy_loss in"
    )


@pytest.mark.parametrize(
    ("answer", "message"),
    [
        (lambda *a: loss_loop(*a, pick=torch.min), "did you use min instead of max"),
        (lambda *a: loss_loop(*a, pick=torch.min, sign=1.0), "wrong sign"),
        (
            lambda *a: loss_loop(*a, exp=False),
            r"exp\(new_logprob - old_logprob\), not the difference",
        ),
        (loss_inverted, "new over old"),
        (lambda *a: loss_loop(*a, clip_what="log-ratio"), "not the log-ratio"),
        (lambda *a: loss_loop(*a, clip_what="advantage"), "not the advantage"),
        (loss_unclipped, "ignores the clipping"),
        (loss_clipped_only, "only the clipped term"),
        (loss_summed, r"average over the samples \(mean\), not sum"),
        (loss_item, "carries no gradient back to new_logprob"),
        (loss_detached_branch, "right value but the wrong gradient"),
        (loss_tuple, "the loss alone"),
        (loss_per_sample, "one number"),
        (loss_not_written, "still raises NotImplementedError"),
    ],
    ids=[
        "min-for-max",
        "objective-not-loss",
        "no-exp",
        "inverted-ratio",
        "clipped-log-ratio",
        "clipped-advantage",
        "no-clip",
        "clipped-only",
        "sum",
        "item",
        "detached",
        "tuple",
        "per-sample",
        "not-written",
    ],
)
def test_check_clipped_loss_names_the_mistake(answer: Any, message: str) -> None:
    with pytest.raises(ExerciseError, match=message):
        check_clipped_loss(answer)
