"""Assignment 04, part B: the checker of a student's Lagrange multiplier step.

:func:`check_lagrange_step` runs the student's ``my_lagrange_step`` on a violated
constraint, one with room to spare, one whose step would take the multiplier below 0,
a multiplier at 0, and on arrays (one multiplier per constraint, as
:class:`gridppo.agents.lagrangian.LagrangeMultipliers` calls it), and compares it with
:func:`gridppo.agents.lagrangian.lagrange_step`. A wrong answer is compared with the
typical mistakes, each one entry of :data:`_MISTAKES` (the sign of the step flipped, no
projection onto 0, the step projected instead of the result, ...): the mistake that
explains every answer is named, else the first that explains the first wrong one.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from gridppo.agents.lagrangian import lagrange_step
from gridppo.course.common import (
    ATOL,
    RTOL,
    ExerciseError,
    Passed,
    as_float_array,
    call_student,
    close_enough,
    running,
)

__all__ = ["check_lagrange_step"]

# The reference, as a student would import it; read from the function so that the
# messages follow it if it moves.
_REFERENCE = f"{lagrange_step.__module__}.{lagrange_step.__name__}"
_NAME = "my_lagrange_step"
_ARGS = ("multiplier", "mean_cost", "limit", "lr")
_FORMULA = "max(0, multiplier + lr * (mean_cost - limit))"

# (multiplier, mean_cost, limit, lr): scalars first, each one situation, then arrays.
_CASES: tuple[tuple[Any, ...], ...] = (
    (1.0, 1.5, 1.0, 2.0),  # violated by 0.5: up to 2
    (1.0, 0.75, 1.0, 2.0),  # room of 0.25: down to 0.5
    (1.0, 0.0, 1.0, 2.0),  # the step would end at -1: projected to 0
    (0.0, 0.2, 0.5, 1.0),  # at 0 with room to spare: stays at 0
    (0.5, 0.1, 0.0, 3.0),  # limit 0: any cost is a violation
    (  # one multiplier per constraint, each with its own limit and step size
        np.array([1.0, 3.0, 0.5, 0.0, 2.0]),
        np.array([2.0, 0.0, 0.4, 0.3, 2.5]),
        np.array([0.0, 1.0, 0.5, 0.0, 2.5]),
        np.array([0.5, 10.0, 2.0, 1.0, 4.0]),
    ),
    (  # a limit and a step size shared by every constraint
        np.array([0.2, 1.4, 0.0, 2.5, 0.05, 0.7]),
        np.array([0.9, 0.1, 0.0, 1.3, 0.4, 0.55]),
        0.5,
        0.7,
    ),
)

# name -> (the mistake as a function of the four arguments, its hint); checked in order.
_MISTAKES: dict[str, tuple[Callable[..., Any], str]] = {
    "sign": (
        lambda m, c, d, lr: np.maximum(0.0, m + lr * (d - c)),
        "the sign of your step is flipped: the multiplier must rise while the "
        "constraint is violated (mean_cost > limit) and fall while it holds, so the "
        "step is lr * (mean_cost - limit)",
    ),
    "no projection": (
        lambda m, c, d, lr: m + lr * (c - d),
        "your multiplier goes below 0: project the result onto the non-negative "
        f"numbers, {_FORMULA}. A negative multiplier would pay the agents for "
        "violating the constraint",
    ),
    "projected step": (
        lambda m, c, d, lr: m + np.maximum(0.0, lr * (c - d)),
        "you projected the step instead of the result: max(0, step) lets the "
        "multiplier rise but never fall, so a constraint that holds keeps its price "
        f"for ever. Clip the new multiplier: {_FORMULA}",
    ),
    "min": (
        lambda m, c, d, lr: np.minimum(0.0, m + lr * (c - d)),
        f"take the maximum with 0, not the minimum: {_FORMULA} keeps the multiplier non-negative",
    ),
    "no step size": (
        lambda m, c, d, lr: np.maximum(0.0, m + (c - d)),
        "multiply the violation (mean_cost - limit) by the step size lr",
    ),
    "no limit": (
        lambda m, c, d, lr: np.maximum(0.0, m + lr * c),
        "subtract the limit: the gradient of the Lagrangian with respect to the "
        "multiplier is mean_cost - limit, not mean_cost",
    ),
    "no old multiplier": (
        lambda m, c, d, lr: np.maximum(0.0, lr * (c - d)),
        "the step starts from the current multiplier: add lr * (mean_cost - limit) to "
        "multiplier instead of replacing it",
    ),
}


def _situation(m: float, c: float, d: float, lr: float) -> str:
    """What one multiplier's step should do, for an unrecognised mistake."""
    raw = m + lr * (c - d)
    if c > d and raw >= 0:
        return (
            "the constraint is violated (mean_cost > limit): the multiplier rises by "
            "lr * (mean_cost - limit)"
        )
    if raw < 0:
        return f"the step would take the multiplier below 0: the result is {_FORMULA} = 0"
    if c < d:
        return (
            "the constraint holds with room to spare: the multiplier falls by "
            "lr * (limit - mean_cost)"
        )
    return f"check {_FORMULA}"


def _values(case: tuple[Any, ...], index: tuple[int, ...]) -> tuple[float, ...]:
    return tuple(float(np.broadcast_to(a, np.broadcast(*case).shape)[index]) for a in case)


def _show(values: tuple[float, ...]) -> str:
    return ", ".join(f"{name}={v:g}" for name, v in zip(_ARGS, values, strict=True))


def _run(fn: Callable[..., Any], case: tuple[Any, ...]) -> np.ndarray:
    """The student's answer on one case, as an array shaped like the reference's."""
    given = tuple(np.copy(a) if isinstance(a, np.ndarray) else a for a in case)
    arrays = any(isinstance(a, np.ndarray) for a in case)
    try:
        with running(f"{_NAME}({_show(case) if not arrays else ', '.join(_ARGS)})"):
            out = call_student(fn, _NAME, *given)
    except ExerciseError as err:
        if "truth value of an array" in str(err):
            raise ExerciseError(
                f"{_NAME} fails on arrays (one multiplier per constraint): use "
                "np.maximum(0.0, ...), not max(0.0, ...); the built-in max compares whole "
                "arrays, np.maximum works element by element"
            ) from err.__cause__
        raise
    for name, before, after in zip(_ARGS, case, given, strict=True):
        if isinstance(before, np.ndarray) and not np.array_equal(before, after):
            raise ExerciseError(
                f"{_NAME} changed its input `{name}` in place (e.g. with +=); return a new "
                "array instead, as np.maximum(0.0, multiplier + ...) does"
            )
    shape = np.broadcast(*case).shape
    what = f"the multiplier {_NAME} returns" + (" for arrays" if arrays else "")
    return as_float_array(out, what, shape)


def check_lagrange_step(my_lagrange_step: Callable[..., Any]) -> Passed:
    """Check ``my_lagrange_step(multiplier, mean_cost, limit, lr)`` against
    :func:`gridppo.agents.lagrangian.lagrange_step`.

    The arguments are floats or float arrays (numpy) of one shape, or a mix of arrays
    and floats; the function must return ``max(0, multiplier + lr * (mean_cost -
    limit))`` element by element (a number for numbers, an array of the broadcast
    shape for arrays) and leave its inputs unchanged. It is run on a violated constraint,
    one with room to spare, a step that would end below 0, a multiplier at 0, a limit of
    0 and two sets of arrays. Typical mistakes it names: the sign of the step flipped, no
    projection, the step projected instead of the result, min for max, no step size, no
    limit, the old multiplier left out, built-in ``max`` on arrays and a change in place.
    """
    answers: list[np.ndarray] = []
    for case in _CASES:
        answers.append(_run(my_lagrange_step, case))
    refs = [lagrange_step(*case) for case in _CASES]
    wrong = [i for i, (mine, ref) in enumerate(zip(answers, refs, strict=True))
             if not close_enough(mine, ref)]  # fmt: skip
    if not wrong:
        return Passed(
            f"Passed: {_NAME} matches {_REFERENCE} on violated and slack constraints, at "
            "the projection onto 0 and element by element on arrays."
        )
    first = wrong[0]
    case, mine, ref = _CASES[first], answers[first], refs[first]
    index = tuple(int(i) for i in np.argwhere(~np.isclose(mine, ref, rtol=RTOL, atol=ATOL))[0])
    values = _values(case, index)
    hint = _situation(*values)
    explains_all = [
        hint for wrong_fn, hint in _MISTAKES.values()
        if all(close_enough(a, wrong_fn(*c)) for a, c in zip(answers, _CASES, strict=True))
    ]  # fmt: skip
    explains_first = [
        hint for wrong_fn, hint in _MISTAKES.values() if close_enough(mine, wrong_fn(*case))
    ]
    hint = (explains_all or explains_first or [hint])[0]
    where = f"at element {index[0]} of the arrays, " if index else ""
    raise ExerciseError(
        f"{where}with {_show(values)} your new multiplier is {mine[index]:.4f}, expected "
        f"{ref[index]:.4f}: {hint}"
    )
