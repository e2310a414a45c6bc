"""Assignment 01, part 1: the checker of a student's generalised advantage estimation.

:func:`check_gae` runs the student's ``my_gae`` on two rollouts and compares it with
:func:`gridppo.agents.buffer.compute_gae`. A wrong answer is compared with the typical
mistakes, each written out below as one knob of :func:`_gae_variant` (forgetting to
bootstrap at a truncation, not resetting the running advantage at an episode end, a
forward loop, ...). An answer that matches none of them still gets the first place it
goes wrong and what is special about that place.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import torch

from gridppo.agents.buffer import compute_gae
from gridppo.course.common import (
    ATOL,
    RTOL,
    ExerciseError,
    Passed,
    as_float_array,
    call_student,
    close_enough,
)

__all__ = ["check_gae"]

Tensor = torch.Tensor
# The reference, as a student would import it; read from the function so that the
# messages follow it if it moves.
_REFERENCE = f"{compute_gae.__module__}.{compute_gae.__name__}"


def _gae_variant(
    rewards: Tensor,
    values: Tensor,
    next_values: Tensor,
    terminated: Tensor,
    episode_ended: Tensor,
    gamma: float,
    lam: float,
    *,
    bootstrap_mask: str = "terminated",
    cut_mask: str | None = "episode_ended",
    decay: str = "gamma_lam",
    next_from: str = "next_values",
    backwards: bool = True,
    sign: float = 1.0,
) -> tuple[Tensor, Tensor]:
    """GAE with one knob turned away from the reference: the typical mistakes.

    With the defaults it is :func:`gridppo.agents.buffer.compute_gae`.
    """
    masks = {"terminated": terminated, "episode_ended": episode_ended}
    boot = masks[bootstrap_mask] if bootstrap_mask else torch.zeros_like(rewards)
    cut = masks[cut_mask] if cut_mask else torch.zeros_like(rewards)
    factor = {"gamma_lam": gamma * lam, "gamma": gamma, "lam": lam, "zero": 0.0}[decay]
    if next_from == "next_values":
        following = next_values
    else:  # values[t + 1], ignoring the final observations' values
        following = torch.cat([values[1:], next_values[-1:]], dim=0)
    delta = sign * (rewards + gamma * (1.0 - boot) * following - values)
    advantages = torch.zeros_like(rewards)
    last = torch.zeros_like(rewards[0])
    steps = range(rewards.shape[0])
    if backwards:
        for t in reversed(steps):
            last = delta[t] + factor * (1.0 - cut[t]) * last
            advantages[t] = last
    else:  # forwards: carries the past into the present instead of the future
        for t in steps:
            last = delta[t] + factor * last
            advantages[t] = last
            last = last * (1.0 - cut[t])
    return advantages, advantages + values


_T_DELTA = "delta_t = r_t + gamma * (1 - terminated_t) * next_values_t - values_t"
_T_RECURSION = "A_t = delta_t + gamma * lam * (1 - episode_ended_t) * A_(t+1)"

# (name, knobs, hint) for the advantages; checked in this order.
_GAE_MISTAKES: list[tuple[str, dict[str, Any], str]] = [
    (
        "no bootstrap at truncation",
        {"bootstrap_mask": "episode_ended"},
        "did you forget to bootstrap at a truncation? An episode cut by the time limit "
        "(terminated = 0, episode_ended = 1) still has a future worth next_values[t]: "
        "multiply gamma * next_values[t] by (1 - terminated[t]), not by "
        "(1 - episode_ended[t])",
    ),
    (
        "bootstrap at termination",
        {"bootstrap_mask": ""},
        "an episode that terminated (terminated = 1) has no future: its next value must "
        "count as 0, so multiply gamma * next_values[t] by (1 - terminated[t])",
    ),
    (
        "no cut at episode end",
        {"cut_mask": None},
        "did you reset the running advantage at an episode end? The advantage of the next "
        "episode must not flow back into this one: multiply the carried advantage by "
        "(1 - episode_ended[t])",
    ),
    (
        "cut only at termination",
        {"cut_mask": "terminated"},
        "the advantage flows back across a truncation: a truncated episode has ended too, "
        "so cut the carried advantage with (1 - episode_ended[t]), not (1 - terminated[t])",
    ),
    (
        "values instead of next_values",
        {"next_from": "values"},
        "use next_values[t] in the TD error, not values[t + 1]: where an episode ended, "
        "values[t + 1] belongs to the next episode and next_values[t] holds the value of "
        "the final observation",
    ),
    (
        "gamma only",
        {"decay": "gamma"},
        "discount the carried advantage by gamma * lam, not by gamma alone",
    ),
    (
        "lambda only",
        {"decay": "lam"},
        "discount the carried advantage by gamma * lam, not by lam alone",
    ),
    (
        "TD errors only",
        {"decay": "zero"},
        "your advantages are the one-step TD errors: add the discounted advantage of the "
        "next step, gamma * lam * (1 - episode_ended[t]) * A_(t+1)",
    ),
    (
        "forward loop",
        {"backwards": False},
        "walk the rollout backwards (for t in reversed(range(T))): A_t sums the TD errors "
        "of the steps *after* t, not before",
    ),
    (
        "sign",
        {"sign": -1.0},
        f"your advantages have the wrong sign: {_T_DELTA}",
    ),
]


def _gae_cases() -> list[dict[str, Any]]:
    """Two rollouts: a small hand-made one with every kind of episode end, and a big one.

    Small (T=6, N=4): stream 0 is truncated after step 2, stream 1 terminates after
    step 3, stream 2 never ends, stream 3 terminates after step 1 and is truncated
    after step 5 (the rollout's last step).
    """
    cases = []
    g = torch.Generator().manual_seed(7)
    for steps, streams, gamma, lam in ((6, 4, 0.9, 0.8), (32, 16, 0.99, 0.95)):
        rewards = torch.randn(steps, streams, generator=g, dtype=torch.float64)
        values = torch.randn(steps, streams, generator=g, dtype=torch.float64)
        final_values = torch.randn(steps, streams, generator=g, dtype=torch.float64)
        last_values = torch.randn(streams, generator=g, dtype=torch.float64)
        terminated = torch.zeros(steps, streams, dtype=torch.float64)
        ended = torch.zeros(steps, streams, dtype=torch.float64)
        if steps == 6:
            ended[2, 0] = 1.0
            terminated[3, 1] = ended[3, 1] = 1.0
            terminated[1, 3] = ended[1, 3] = ended[5, 3] = 1.0
        else:
            draw = torch.rand(steps, streams, generator=g, dtype=torch.float64)
            ended[draw < 0.15] = 1.0
            terminated[draw < 0.05] = 1.0
        following = torch.cat([values[1:], last_values[None]], dim=0)
        next_values = torch.where(ended > 0, final_values, following)
        cases.append(
            {
                "rewards": rewards,
                "values": values,
                "next_values": next_values,
                "terminated": terminated,
                "episode_ended": ended,
                "gamma": gamma,
                "lam": lam,
            }
        )
    return cases


_GAE_INPUTS = ("rewards", "values", "next_values", "terminated", "episode_ended")


def _where_gae_differs(mine: np.ndarray, ref: np.ndarray) -> tuple[int, int]:
    """(step, stream) to report: the first stream that differs, at its *latest* differing
    step (errors flow backwards from where they are made)."""
    bad = ~np.isclose(mine, ref, rtol=RTOL, atol=ATOL)
    stream = int(np.flatnonzero(bad.any(axis=0))[0])
    step = int(np.flatnonzero(bad[:, stream])[-1])
    return step, stream


def _gae_place_hint(case: dict[str, Any], step: int, stream: int) -> str:
    """What is special about one place of the rollout, for an unrecognised mistake."""
    ended = bool(case["episode_ended"][step, stream])
    terminated = bool(case["terminated"][step, stream])
    steps = case["rewards"].shape[0]
    if terminated:
        return (
            "the episode terminated after this step, so next_values counts as 0 there "
            f"and the carried advantage restarts; check {_T_DELTA} and {_T_RECURSION}"
        )
    if ended:
        return (
            "the episode was truncated (time limit) after this step: bootstrap from "
            "next_values[t] but do not carry the next episode's advantage back; check "
            f"{_T_DELTA} and {_T_RECURSION}"
        )
    if step == steps - 1:
        return (
            "this is the rollout's last step: there the advantage is just the TD error, "
            f"bootstrapped from next_values[T-1]; check {_T_DELTA}"
        )
    return f"check {_T_DELTA} and {_T_RECURSION}"


def check_gae(my_gae: Callable[..., Any]) -> Passed:
    """Check ``my_gae(rewards, values, next_values, terminated, episode_ended, gamma, lam)``
    against :func:`gridppo.agents.buffer.compute_gae`.

    The inputs are float64 tensors [T, N]; ``my_gae`` must return ``(advantages,
    returns)``, each [T, N] (torch or numpy), and leave its inputs unchanged. It is run
    on a hand-made rollout with a truncation, terminations and a stream that never ends,
    and on a random one. A wrong answer is compared with the typical mistakes (no
    bootstrap at a truncation, no reset of the running advantage at an episode end,
    gamma instead of gamma * lam, a forward loop, a sign error, values[t + 1] instead of
    next_values[t], returns without the values, ...) and the message names the step and
    stream where it first goes wrong.
    """
    for case in _gae_cases():
        inputs = [case[k].clone() for k in _GAE_INPUTS]
        out = call_student(my_gae, "my_gae", *inputs, case["gamma"], case["lam"])
        for name, given, kept in zip(
            _GAE_INPUTS, inputs, (case[k] for k in _GAE_INPUTS), strict=True
        ):
            if not torch.equal(given, kept):
                raise ExerciseError(
                    f"my_gae changed its input `{name}` in place; build new tensors "
                    "instead (e.g. advantages = torch.zeros_like(rewards))"
                )
        if not isinstance(out, tuple | list) or len(out) != 2:
            got = "None" if out is None else type(out).__name__
            raise ExerciseError(
                f"my_gae must return a pair (advantages, returns), got {got}"
                + (": did you forget the return statement?" if out is None else "")
            )
        shape = tuple(case["rewards"].shape)
        adv = as_float_array(out[0], "the advantages my_gae returns", shape)
        ret = as_float_array(out[1], "the returns my_gae returns", shape)
        ref_adv, ref_ret = (x.numpy() for x in compute_gae(*inputs, case["gamma"], case["lam"]))
        if not close_enough(adv, ref_adv):
            step, stream = _where_gae_differs(adv, ref_adv)
            hint = _gae_place_hint(case, step, stream)
            for _name, knobs, mistake_hint in _GAE_MISTAKES:
                wrong, _ = _gae_variant(*inputs, case["gamma"], case["lam"], **knobs)
                if close_enough(adv, wrong.numpy()):
                    hint = mistake_hint
                    break
            raise ExerciseError(
                f"your advantages differ from the reference at step {step} of stream "
                f"{stream} (yours {adv[step, stream]:.4f}, expected "
                f"{ref_adv[step, stream]:.4f}): {hint}"
            )
        if not close_enough(ret, ref_ret):
            values = case["values"].numpy()
            if close_enough(ret, adv):
                hint = (
                    "the returns are advantages + values (the value targets), not the "
                    "advantages alone"
                )
            elif close_enough(ret, adv - values):
                hint = "the returns are advantages + values, not advantages - values"
            else:
                hint = "the returns are advantages + values (the critic's targets)"
            step, stream = _where_gae_differs(ret, ref_ret)
            raise ExerciseError(
                f"your advantages are right but your returns differ at step {step} of "
                f"stream {stream} (yours {ret[step, stream]:.4f}, expected "
                f"{ref_ret[step, stream]:.4f}): {hint}"
            )
    return Passed(
        f"Passed: my_gae matches {_REFERENCE} on truncations, terminations and a random rollout."
    )
