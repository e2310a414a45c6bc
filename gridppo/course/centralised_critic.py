"""Assignment 04, part A: the checker of a student's centralised critic input (MAPPO).

:func:`check_centralised_critic_input` runs the student's ``my_centralised_critic_input``
on zero-padded observations of several sizes (uneven padding, one agent, five agents,
no padding at all) and compares it with
:func:`gridppo.agents.centralised.centralised_critic_input`, the function the trainer
calls. A wrong answer of the wrong shape is recognised by its width (the padding kept
in the global part, the own block left out, each row's other agents followed by its own
entries); one of the right shape is compared with the typical mistakes (a reshape
without a transpose, the own block first, the agents out of order, another agent's block
at the end, padding that is not zero). An answer that matches none of them still gets
the row, sample and input where it first goes wrong and what belongs there.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import torch

from gridppo.agents.centralised import centralised_critic_input
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

__all__ = ["check_centralised_critic_input"]

# The reference, as a student would import it; read from the function so that the
# messages follow it if it moves.
_REFERENCE = f"{centralised_critic_input.__module__}.{centralised_critic_input.__name__}"
_NAME = "my_centralised_critic_input"
_ROW = "[x[0, :, :d_0], x[1, :, :d_1], ..., x[R-1, :, :d_(R-1)], x[r]]"

# (observation sizes, samples): uneven padding first (it tells most mistakes apart by
# shape), then one agent, five agents of three sizes, and equal sizes without padding.
_CASES: tuple[tuple[list[int], int], ...] = (
    ([2, 4, 1], 2),
    ([4], 3),
    ([1, 5, 3, 5, 2], 6),
    ([3, 3, 3], 4),
)


def _cases() -> list[tuple[torch.Tensor, list[int]]]:
    """Each case's observations x [R, N, max(obs_dims)] (random real entries, zero
    padding) and its observation sizes."""
    g = torch.Generator().manual_seed(13)
    out = []
    for dims, samples in _CASES:
        x = torch.zeros(len(dims), samples, max(dims), dtype=torch.float64)
        for k, d in enumerate(dims):
            x[k, :, :d] = torch.randn(samples, d, generator=g, dtype=torch.float64)
        out.append((x, list(dims)))
    return out


def _about(x: torch.Tensor, dims: Sequence[int]) -> str:
    return f"obs_dims={list(dims)} and x of shape {list(x.shape)}"


def _others_then_own(x: torch.Tensor, dims: Sequence[int]) -> torch.Tensor:
    """Each row: the other agents' observations, then the row's own real entries."""
    rows = []
    for r, d in enumerate(dims):
        others = [x[k, :, :dk] for k, dk in enumerate(dims) if k != r]
        rows.append(torch.cat([*others, x[r, :, :d]], dim=-1))
    return torch.stack(rows)


def _shape_hint(out: torch.Tensor, x: torch.Tensor, dims: Sequence[int]) -> str:
    """The usual cause of a result ``out`` of the wrong shape."""
    rows, samples, width = x.shape
    total = sum(dims)
    shape = tuple(out.shape)
    if shape == (rows, samples, total) and _same(
        out.detach().double().numpy(), _others_then_own(x, dims).numpy()
    ):
        return (
            "each of your rows lists the other agents and then its own real entries; the "
            "global part holds every agent's observation, its own included, in agent "
            "order (the same in every row), and then comes the row's own padded "
            "observation x[r] once more"
        )
    if shape == (rows, samples, rows * width + width):
        return (
            f"your rows have R * D + D = {rows * width + width} inputs: the global part keeps "
            "every agent's padding. Take only each agent's real entries, "
            "x[k, :, :obs_dims[k]], so that all padding comes last"
        )
    if shape == (rows, samples, total):
        return (
            f"your rows hold every agent's observation ({total} inputs) but not the "
            "agent's own block: append x[r], the row's own zero-padded observation "
            f"(D = {width} inputs), to row r"
        )
    if shape == (rows, samples, rows * width):
        return (
            "your rows keep every agent's padding in the global part and lack the own "
            "block at the end: take x[k, :, :obs_dims[k]] of each agent, then append x[r]"
        )
    if shape == (samples, total) or shape == (samples, total + width):
        return (
            "you return one global state for all agents: every agent needs its own row "
            "(expand the global part to [R, N, sum(obs_dims)] and append each row's own "
            "observation)"
        )
    if shape == (samples, rows, total + width):
        return "agents and samples are swapped: keep x's order of axes, agents first"
    return f"each row is {_ROW}"


def _no_transpose(x: torch.Tensor, dims: Sequence[int]) -> torch.Tensor:
    """The mistake of flattening [R, N, D] to [N, R * D] without moving the agent axis."""
    rows, samples, width = x.shape
    real = torch.cat([torch.arange(d) + k * width for k, d in enumerate(dims)])
    flat = x.reshape(samples, rows * width)[:, real]
    return torch.cat([flat.expand(rows, samples, -1), x], dim=-1)


def _own_first(x: torch.Tensor, dims: Sequence[int]) -> torch.Tensor:
    """The own block before the global part instead of after it."""
    everyone = torch.cat([x[k, :, :d] for k, d in enumerate(dims)], dim=-1)
    return torch.cat([x, everyone.expand(x.shape[0], -1, -1)], dim=-1)


def _same(a: np.ndarray, b: np.ndarray) -> bool:
    return a.shape == b.shape and close_enough(a, b)


def _agent_order(part: np.ndarray, x: np.ndarray, dims: Sequence[int]) -> list[int] | None:
    """The agents whose real observations, one after another, make up ``part`` [N, total],
    in the order they appear there; None if it is not such a sequence."""
    order: list[int] = []
    pos = 0
    while pos < part.shape[-1]:
        for k, d in enumerate(dims):
            block = part[:, pos : pos + d]
            if k not in order and _same(block, x[k, :, :d]):
                order.append(k)
                pos += d
                break
        else:
            return None
    return order


def _where(mine: np.ndarray, ref: np.ndarray, dims: Sequence[int]) -> str:
    """Row, sample and input of the first difference, and what belongs there."""
    bad = ~np.isclose(mine, ref, rtol=RTOL, atol=ATOL)
    row, sample, col = (int(i) for i in np.argwhere(bad)[0])
    total = sum(dims)
    if col < total:
        k = int(np.searchsorted(np.cumsum(dims), col, side="right"))
        entry = col - sum(dims[:k])
        belongs = f"entry {entry} of agent {k}'s observation, x[{k}, {sample}, {entry}]"
    elif col < total + dims[row]:
        entry = col - total
        belongs = f"entry {entry} of the row's own observation, x[{row}, {sample}, {entry}]"
    else:
        belongs = "padding, which must be 0"
    return (
        f"row {row}, sample {sample}, input {col} (yours {mine[row, sample, col]:.4f}, "
        f"expected {ref[row, sample, col]:.4f}); that input is {belongs}"
    )


def _diagnose(mine: np.ndarray, x: torch.Tensor, dims: Sequence[int]) -> str:
    """Why an answer of the right shape differs from the reference."""
    obs = x.numpy()
    rows = x.shape[0]
    total = sum(dims)
    if _same(mine, _no_transpose(x, dims).numpy()):
        return (
            "your global part mixes samples and agents: x is [R, N, D], so "
            "x.reshape(N, R * D) does not put one sample's agents side by side; move the "
            "agent axis behind the sample axis first (x.transpose(0, 1)), or concatenate "
            "x[k, :, :obs_dims[k]] over the agents k along the last axis"
        )
    if _same(mine, _own_first(x, dims).numpy()):
        return (
            "the agent's own observation goes last, after the global part: every row must "
            "start with the same sum(obs_dims) inputs, so that input i means the same "
            "thing to every critic"
        )
    for r in range(rows):
        order = _agent_order(mine[r, :, :total], obs, dims)
        if order is not None and order != list(range(rows)):
            return (
                f"the agents are out of order in the global part of row {r}: it lists "
                f"agents {order}; list them in agent order, 0 to {rows - 1}, the same in "
                "every row"
            )
    for r in range(rows):
        own = mine[r, :, total:]
        if _same(own, obs[r]):
            continue
        other = next((k for k in range(rows) if k != r and _same(own, obs[k])), None)
        if other is not None:
            return (
                f"row {r} ends with agent {other}'s observation; row r ends with its own "
                "agent's, x[r]: it tells a shared critic which member's return it predicts"
            )
        if _same(own[:, : dims[r]], obs[r, :, : dims[r]]):
            return (
                f"the padding must stay zero: row {r} has non-zero inputs after its "
                f"{total + dims[r]} real ones (sum(obs_dims) + obs_dims[{r}]); padded inputs "
                "that are always 0 get no gradient, so the network never learns from them"
            )
    return f"the first difference is at {_where(mine, _reference(x, dims), dims)}"


def _reference(x: torch.Tensor, dims: Sequence[int]) -> np.ndarray:
    return centralised_critic_input(x, dims).numpy()


def check_centralised_critic_input(my_centralised_critic_input: Callable[..., Any]) -> Passed:
    """Check ``my_centralised_critic_input(x, obs_dims)`` against
    :func:`gridppo.agents.centralised.centralised_critic_input`.

    ``x`` is a float64 tensor [R, N, D] of zero-padded observations (agent r's in
    ``x[r, :, :obs_dims[r]]``) and ``obs_dims`` a list of R sizes; the function must
    return a torch tensor [R, N, sum(obs_dims) + D] whose row r is every agent's real
    entries in agent order followed by ``x[r]``, and leave ``x`` unchanged. It is run
    with uneven padding, one agent, five agents and equal sizes. Typical mistakes it
    names: the padding kept in the global part, the own block missing, first or of the
    wrong agent, the agents out of order, a reshape that mixes samples and agents,
    non-zero padding, a numpy result and a wrong shape.
    """
    for x, dims in _cases():
        given = x.clone()
        with running(f"{_NAME}(x, obs_dims) with {_about(x, dims)}"):
            out = call_student(my_centralised_critic_input, _NAME, given, list(dims))
        if not torch.equal(given, x):
            raise ExerciseError(
                f"{_NAME} changed its input x in place; build a new tensor instead "
                "(torch.cat returns one)"
            )
        if out is None:
            raise ExerciseError(f"{_NAME} returned None: did you forget the return statement?")
        if not isinstance(out, torch.Tensor):
            raise ExerciseError(
                f"{_NAME} should return a torch tensor, got {type(out).__name__}: the "
                "critic is a torch network (use torch.cat, not numpy)"
            )
        rows, samples, width = x.shape
        shape = (rows, samples, sum(dims) + width)
        if tuple(out.shape) != shape:
            raise ExerciseError(
                f"with {_about(x, dims)} the result should have shape [R, N, sum(obs_dims) "
                f"+ D] = {list(shape)}, got {list(out.shape)}: "
                f"{_shape_hint(out, x, dims)}"
            )
        mine = as_float_array(out, f"the critic input {_NAME} returns", shape)
        if not close_enough(mine, _reference(x, dims)):
            raise ExerciseError(
                f"with {_about(x, dims)} your critic input differs from the reference: "
                f"{_diagnose(mine, x, dims)}. Each row r is {_ROW}"
            )
    return Passed(
        f"Passed: {_NAME} matches {_REFERENCE} with uneven padding, one agent, five "
        "agents and equal sizes."
    )
