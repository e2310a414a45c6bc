"""The checker of assignment 04's Lagrange multiplier step (gridppo.course.lagrange).

It must accept a right answer, however it is written, and reject the typical wrong ones
with a message that names the mistake and the case where it shows. The wrong answers
below are written the way students write them, not through the checker's own list of
mistakes.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from gridppo.agents.lagrangian import lagrange_step
from gridppo.course.common import ExerciseError, Passed
from gridppo.course.lagrange import check_lagrange_step


def by_clip(multiplier: Any, mean_cost: Any, limit: Any, lr: Any) -> Any:
    """A right answer with np.clip, returning floats for floats."""
    new = np.clip(
        np.asarray(multiplier) + np.asarray(lr) * (np.asarray(mean_cost) - limit), 0, None
    )
    return float(new) if new.ndim == 0 else new


def by_where(multiplier: Any, mean_cost: Any, limit: Any, lr: Any) -> Any:
    raw = multiplier + lr * (np.asarray(mean_cost) - limit)
    return np.where(raw > 0, raw, 0.0)


def builtin_max(multiplier: Any, mean_cost: Any, limit: Any, lr: Any) -> Any:
    return max(0.0, multiplier + lr * (mean_cost - limit))


def sign_flipped(multiplier: Any, mean_cost: Any, limit: Any, lr: Any) -> Any:
    return np.maximum(0.0, multiplier - lr * (mean_cost - limit))


def no_projection(multiplier: Any, mean_cost: Any, limit: Any, lr: Any) -> Any:
    return multiplier + lr * (mean_cost - limit)


def projected_step(multiplier: Any, mean_cost: Any, limit: Any, lr: Any) -> Any:
    step = np.maximum(0.0, lr * (mean_cost - limit))
    return multiplier + step


def projected_violation(multiplier: Any, mean_cost: Any, limit: Any, lr: Any) -> Any:
    return multiplier + lr * np.maximum(0.0, np.asarray(mean_cost) - limit)


def minimum(multiplier: Any, mean_cost: Any, limit: Any, lr: Any) -> Any:
    return np.minimum(0.0, multiplier + lr * (mean_cost - limit))


def without_lr(multiplier: Any, mean_cost: Any, limit: Any, lr: Any) -> Any:
    return np.maximum(0.0, multiplier + (mean_cost - limit))


def without_limit(multiplier: Any, mean_cost: Any, limit: Any, lr: Any) -> Any:
    return np.maximum(0.0, multiplier + lr * mean_cost)


def replaces_the_multiplier(multiplier: Any, mean_cost: Any, limit: Any, lr: Any) -> Any:
    return np.maximum(0.0, lr * (np.asarray(mean_cost) - limit))


def in_place(multiplier: Any, mean_cost: Any, limit: Any, lr: Any) -> Any:
    if isinstance(multiplier, np.ndarray):
        multiplier += lr * (mean_cost - limit)
        np.maximum(multiplier, 0.0, out=multiplier)
        return multiplier
    return max(0.0, multiplier + lr * (mean_cost - limit))


def off_at_one_element(multiplier: Any, mean_cost: Any, limit: Any, lr: Any) -> Any:
    new = lagrange_step(multiplier, mean_cost, limit, lr)
    if new.ndim:
        new = new.copy()
        new[2] += 0.1  # slack at 0.5: should fall to 0.3
    return new


def one_number_for_arrays(multiplier: Any, mean_cost: Any, limit: Any, lr: Any) -> Any:
    return float(np.mean(lagrange_step(multiplier, mean_cost, limit, lr)))


def not_written(multiplier: Any, mean_cost: Any, limit: Any, lr: Any) -> Any:
    raise NotImplementedError


def no_return(multiplier: Any, mean_cost: Any, limit: Any, lr: Any) -> None:
    lagrange_step(multiplier, mean_cost, limit, lr)


@pytest.mark.parametrize("answer", [lagrange_step, by_clip, by_where], ids=["ref", "clip", "where"])
def test_check_lagrange_step_accepts_right_answers(answer: Any) -> None:
    result = check_lagrange_step(answer)
    assert isinstance(result, Passed)
    assert result.startswith(
        f"Passed: my_lagrange_step matches {lagrange_step.__module__}.lagrange_step on"
    )


@pytest.mark.parametrize(
    ("answer", "message"),
    [
        (builtin_max, r"fails on arrays .*use np.maximum\(0.0, ...\), not max\(0.0, ...\)"),
        (sign_flipped, r"mean_cost=1.5, limit=1, lr=2 your new .* 0.0000, .* sign .* is flipped"),
        (no_projection, r"mean_cost=0, limit=1, lr=2 .* -1.0000, .*project the result"),
        (projected_step, r"mean_cost=0.75, .*projected the step instead of the result"),
        (projected_violation, "projected the step instead of the result"),
        (minimum, "take the maximum with 0, not the minimum"),
        (without_lr, "by the step size lr"),
        (without_limit, "subtract the limit"),
        (replaces_the_multiplier, "starts from the current multiplier"),
        (in_place, "changed its input `multiplier` in place"),
        (off_at_one_element, r"at element 2 of the arrays, .*holds with room to spare"),
        (one_number_for_arrays, r"for arrays should have shape \[5\], got \[\]"),
        (not_written, "my_lagrange_step still raises NotImplementedError"),
        (no_return, "is None: did you forget a return statement"),
    ],
    ids=[
        "builtin-max",
        "sign",
        "no-projection",
        "projected-step",
        "projected-violation",
        "min",
        "no-lr",
        "no-limit",
        "replaces",
        "in-place",
        "unrecognised",
        "scalar-for-arrays",
        "not-written",
        "no-return",
    ],
)
def test_check_lagrange_step_names_the_mistake(answer: Any, message: str) -> None:
    with pytest.raises(ExerciseError, match=message):
        check_lagrange_step(answer)
