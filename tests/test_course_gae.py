"""The checker of assignment 01's GAE (gridppo.course.gae).

It must accept a right answer, in torch or numpy, and reject the typical wrong ones with
a message that names the step and stream where the answer goes wrong and the likely
cause. The wrong answers below are written the way students write them, not through
the checker's own list of mistakes.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
import torch

from gridppo.agents.buffer import compute_gae
from gridppo.course.common import ExerciseError, Passed
from gridppo.course.gae import check_gae

T = torch.Tensor


def gae_loop(
    rewards: torch.Tensor,
    values: torch.Tensor,
    next_values: torch.Tensor,
    terminated: torch.Tensor,
    episode_ended: torch.Tensor,
    gamma: float,
    lam: float,
    bootstrap: str = "terminated",
    cut: str | None = "episode_ended",
    decay: str = "gamma*lam",
    use_values: bool = False,
    sign: float = 1.0,
) -> tuple[torch.Tensor, torch.Tensor]:
    """A student's loop, with switches for the ways students get it wrong."""
    flags = {"terminated": terminated, "episode_ended": episode_ended, "none": 0 * rewards}
    factor = {"gamma*lam": gamma * lam, "gamma": gamma}[decay]
    advantages = torch.zeros_like(rewards)
    running = torch.zeros(rewards.shape[1], dtype=rewards.dtype)
    for t in range(rewards.shape[0] - 1, -1, -1):
        nxt = next_values[t]
        if use_values and t + 1 < rewards.shape[0]:
            nxt = values[t + 1]
        delta = rewards[t] + gamma * nxt * (1 - flags[bootstrap][t]) - values[t]
        keep = 1.0 if cut is None else 1 - flags[cut][t]
        running = sign * delta + factor * keep * running
        advantages[t] = running
    return advantages, advantages + values


def gae_numpy(*args: Any) -> tuple[np.ndarray, np.ndarray]:
    """A right answer in numpy, to show that the checker takes arrays too."""
    r, v, nv, term, ended = (np.asarray(x) for x in args[:5])
    gamma, lam = args[5:]
    adv = np.zeros_like(r)
    carry = np.zeros(r.shape[1])
    for t in reversed(range(len(r))):
        carry = r[t] + gamma * (1 - term[t]) * nv[t] - v[t] + gamma * lam * (1 - ended[t]) * carry
        adv[t] = carry
    return adv, adv + v


def gae_forward(
    rewards: T, values: T, next_values: T, terminated: T, episode_ended: T, gamma: float, lam: float
) -> tuple[T, T]:
    advantages = torch.zeros_like(rewards)
    running = torch.zeros_like(rewards[0])
    for t in range(rewards.shape[0]):
        delta = rewards[t] + gamma * (1 - terminated[t]) * next_values[t] - values[t]
        running = delta + gamma * lam * running
        advantages[t] = running
        running = running * (1 - episode_ended[t])
    return advantages, advantages + values


def gae_in_place(*args: Any) -> tuple[Any, Any]:
    advantages, returns = compute_gae(*args)
    args[0][-1] = 0.0  # "tidying up" the caller's rewards
    return advantages, returns


def gae_not_written(*args: Any) -> Any:
    raise NotImplementedError


def gae_no_return(*args: Any) -> None:
    compute_gae(*args)


def gae_summed(*args: Any) -> tuple[T, T]:
    advantages, returns = compute_gae(*args)
    return advantages.sum(0), returns.sum(0)


def gae_returns_alone(*args: Any) -> tuple[T, T]:
    advantages, _ = compute_gae(*args)
    return advantages, advantages


def gae_returns_minus(*args: Any) -> tuple[T, T]:
    advantages, returns = compute_gae(*args)
    return advantages, advantages - args[1]


def gae_off_by_a_little(*args: Any) -> tuple[T, T]:
    advantages, returns = compute_gae(*args)
    advantages = advantages.clone()
    advantages[1, 2] += 0.5
    return advantages, returns


@pytest.mark.parametrize("answer", [compute_gae, gae_loop, gae_numpy], ids=["ref", "loop", "numpy"])
def test_check_gae_accepts_right_answers(answer: Any) -> None:
    result = check_gae(answer)
    assert isinstance(result, Passed)
    assert result.startswith(f"Passed: my_gae matches {compute_gae.__module__}.compute_gae on")


def _with(**knobs: Any) -> Any:
    return lambda *args: gae_loop(*args, **knobs)


@pytest.mark.parametrize(
    ("answer", "message"),
    [
        (
            _with(bootstrap="episode_ended"),
            r"step 2 of stream 0 .*did you forget to bootstrap at a truncation\?",
        ),
        (_with(bootstrap="none"), r"step 3 of stream 1 .*has no future"),
        (
            _with(cut=None),
            r"step 2 of stream 0 .*did you reset the running advantage at an episode end\?",
        ),
        (_with(cut="terminated"), "flows back across a truncation"),
        (_with(use_values=True), r"use next_values\[t\] in the TD error, not values\[t \+ 1\]"),
        (_with(decay="gamma"), "by gamma \\* lam, not by gamma alone"),
        (_with(sign=-1.0), "wrong sign"),
        (gae_forward, "walk the rollout backwards"),
        (gae_returns_alone, "not the advantages alone"),
        (gae_returns_minus, "not advantages - values"),
        (gae_in_place, "changed its input `rewards` in place"),
        (gae_not_written, "still raises NotImplementedError"),
        (gae_no_return, "did you forget the return statement"),
        (gae_summed, r"should have shape \[6, 4\]"),
        (gae_off_by_a_little, r"differ from the reference at step 1 of stream 2 .*check delta_t"),
    ],
    ids=[
        "no-bootstrap-at-truncation",
        "bootstrap-at-termination",
        "no-cut-at-episode-end",
        "cut-only-at-termination",
        "values-not-next-values",
        "gamma-without-lambda",
        "sign",
        "forward-loop",
        "returns-are-advantages",
        "returns-minus-values",
        "in-place",
        "not-written",
        "no-return",
        "wrong-shape",
        "unrecognised",
    ],
)
def test_check_gae_names_the_mistake(answer: Any, message: str) -> None:
    with pytest.raises(ExerciseError, match=message):
        check_gae(answer)
