"""What every coursework checker shares: the verdicts, calling the student's code safely,
and the default configuration as plain data.

A checker either returns a :class:`Passed` message, which a notebook shows as the cell's
output, or raises :class:`ExerciseError` with a message that says *where* the answer
goes wrong and the usual cause. The helpers below turn whatever the student's code does
(raise ``NotImplementedError``, crash, return ``None`` or a numpy array) into one of the
two.

The node types' names are imported here and nowhere else in the course, so that a move
of the module that defines them changes one line.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
import torch
import yaml

from gridppo.config.fields import ConfigError, first_line
from gridppo.config.loader import DEFAULT_CONFIG_PATH
from gridppo.config.node_specs import NODE_TYPES
from gridppo.grid.node import Node

__all__ = [
    "ExerciseError",
    "Passed",
    "call_student",
    "running",
    "as_float_array",
    "close_enough",
    "default_raw_config",
    "NODE_TYPES",
    "Node",
]


class ExerciseError(AssertionError):
    """An answer is wrong; the message says where and suggests the likely cause."""


class Passed(str):
    """A checker's pass message. A notebook shows it as plain text (no quotes)."""

    def __repr__(self) -> str:
        return str(self)

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:
        printer.text(str(self))


def call_student(fn: Callable[..., Any], what: str, *args: Any) -> Any:
    """Call the student's function ``fn`` (named ``what`` in messages) with ``args``.

    A ``NotImplementedError`` means the cell still holds the placeholder: that becomes an
    :class:`ExerciseError` saying so, instead of a traceback into the checker.
    """
    try:
        return fn(*args)
    except NotImplementedError:
        raise ExerciseError(
            f"{what} still raises NotImplementedError: replace the `raise` line under "
            "# YOUR CODE HERE with your implementation"
        ) from None


@contextlib.contextmanager
def running(what: str) -> Iterator[None]:
    """Turn an exception from the student's code into an :class:`ExerciseError` that says
    what was being done (``what``); the original traceback stays attached (``raise ...
    from``). ExerciseErrors and ConfigErrors pass through: the caller explains those."""
    try:
        yield
    except (ExerciseError, ConfigError):
        raise
    except Exception as err:
        detail = f": {first_line(err)}" if str(err).strip() else ""
        raise ExerciseError(
            f"{what} raised {type(err).__name__}{detail} (see the traceback above)"
        ) from err


def as_float_array(value: Any, what: str, shape: tuple[int, ...]) -> np.ndarray:
    """A torch tensor, numpy array or number as a float64 array of ``shape``.

    Raises :class:`ExerciseError` naming ``what`` for None, something that is not
    numbers, a wrong shape, or NaN and infinite values.
    """
    if value is None:
        raise ExerciseError(f"{what} is None: did you forget a return statement?")
    if isinstance(value, torch.Tensor):
        value = value.detach().cpu().numpy()
    try:
        array = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        raise ExerciseError(
            f"{what} should be a tensor of numbers, got {type(value).__name__}"
        ) from None
    if array.shape != shape:
        raise ExerciseError(f"{what} should have shape {list(shape)}, got {list(array.shape)}")
    if not np.all(np.isfinite(array)):
        raise ExerciseError(f"{what} contains NaN or infinite values")
    return array


# How close an answer must come to the reference: float64 inputs, so only the order of
# the floating-point operations may differ.
RTOL, ATOL = 1e-5, 1e-6


def close_enough(mine: np.ndarray, ref: np.ndarray) -> bool:
    """Whether an answer matches the reference, element by element (:data:`RTOL`,
    :data:`ATOL`)."""
    return bool(np.allclose(mine, ref, rtol=RTOL, atol=ATOL))


def default_raw_config() -> dict[str, Any]:
    """The default configuration (``gridppo/config/default.yaml``) as plain YAML data,
    unvalidated: a dict whose ``"nodes"`` entry a notebook can append nodes to."""
    return yaml.safe_load(DEFAULT_CONFIG_PATH.read_text(encoding="utf-8"))
