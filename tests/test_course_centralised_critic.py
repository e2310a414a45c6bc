"""The checker of assignment 04's centralised critic input (gridppo.course.centralised_critic).

It must accept a right answer, however it is written, and reject the typical wrong ones
with a message that names the mistake. The wrong answers below are written the way
students write them, not through the checker's own list of mistakes.
"""

from __future__ import annotations

from typing import Any

import pytest
import torch

from gridppo.agents.centralised import centralised_critic_input
from gridppo.course.centralised_critic import check_centralised_critic_input
from gridppo.course.common import ExerciseError, Passed

T = torch.Tensor


def everyone(x: T, obs_dims: list[int]) -> T:
    """Every agent's real entries, in agent order: [N, sum(obs_dims)]."""
    return torch.cat([x[k, :, :d] for k, d in enumerate(obs_dims)], dim=-1)


def by_loops(x: T, obs_dims: list[int]) -> T:
    """A right answer written with loops and a preallocated tensor."""
    rows, samples, width = x.shape
    total = sum(obs_dims)
    out = torch.zeros(rows, samples, total + width, dtype=x.dtype)
    for r in range(rows):
        start = 0
        for k, d in enumerate(obs_dims):
            out[r, :, start : start + d] = x[k, :, :d]
            start += d
        out[r, :, total:] = x[r]
    return out


def by_expand(x: T, obs_dims: list[int]) -> T:
    """A right answer in two lines, in float32 as the trainer's observations are."""
    x = x.float()
    return torch.cat([everyone(x, obs_dims).expand(x.shape[0], -1, -1), x], dim=-1)


def padding_kept(x: T, obs_dims: list[int]) -> T:
    glob = torch.cat(list(x), dim=-1)  # every agent's whole padded row
    return torch.cat([glob.expand(x.shape[0], -1, -1), x], dim=-1)


def own_block_missing(x: T, obs_dims: list[int]) -> T:
    return everyone(x, obs_dims).unsqueeze(0).repeat(x.shape[0], 1, 1)


def others_then_own(x: T, obs_dims: list[int]) -> T:
    rows = []
    for r in range(x.shape[0]):
        parts = [x[k, :, :d] for k, d in enumerate(obs_dims) if k != r]
        rows.append(torch.cat([*parts, x[r, :, : obs_dims[r]]], dim=-1))
    return torch.stack(rows)


def agents_reversed(x: T, obs_dims: list[int]) -> T:
    glob = torch.cat([x[k, :, :d] for k, d in reversed(list(enumerate(obs_dims)))], dim=-1)
    return torch.cat([glob.expand(x.shape[0], -1, -1), x], dim=-1)


def own_agent_first(x: T, obs_dims: list[int]) -> T:
    rows = []
    for r in range(x.shape[0]):
        order = [r] + [k for k in range(x.shape[0]) if k != r]
        glob = torch.cat([x[k, :, : obs_dims[k]] for k in order], dim=-1)
        rows.append(torch.cat([glob, x[r]], dim=-1))
    return torch.stack(rows)


def reshape_without_transpose(x: T, obs_dims: list[int]) -> T:
    rows, samples, width = x.shape
    flat = x.reshape(samples, rows * width)
    keep = [k * width + i for k, d in enumerate(obs_dims) for i in range(d)]
    return torch.cat([flat[:, keep].expand(rows, -1, -1), x], dim=-1)


def own_block_first(x: T, obs_dims: list[int]) -> T:
    return torch.cat([x, everyone(x, obs_dims).expand(x.shape[0], -1, -1)], dim=-1)


def first_agents_block_everywhere(x: T, obs_dims: list[int]) -> T:
    rows = x.shape[0]
    return torch.cat([everyone(x, obs_dims).expand(rows, -1, -1), x[:1].expand(rows, -1, -1)], -1)


def padding_not_zero(x: T, obs_dims: list[int]) -> T:
    out = torch.empty(x.shape[0], x.shape[1], sum(obs_dims) + x.shape[2], dtype=x.dtype)
    out.fill_(0.5)  # "it gets overwritten anyway"
    total = sum(obs_dims)
    for r, d in enumerate(obs_dims):
        out[r, :, :total] = everyone(x, obs_dims)
        out[r, :, total : total + d] = x[r, :, :d]
    return out


def one_global_state(x: T, obs_dims: list[int]) -> T:
    return everyone(x, obs_dims)


def agents_and_samples_swapped(x: T, obs_dims: list[int]) -> T:
    return centralised_critic_input(x, obs_dims).transpose(0, 1)


def in_numpy(x: T, obs_dims: list[int]) -> Any:
    return centralised_critic_input(x, obs_dims).numpy()


def normalises_in_place(x: T, obs_dims: list[int]) -> T:
    x.clamp_(-1.0, 1.0)  # "tidying up" the caller's observations
    return centralised_critic_input(x, obs_dims)


def off_by_a_little(x: T, obs_dims: list[int]) -> T:
    out = centralised_critic_input(x, obs_dims).clone()
    out[1, 0, 3] += 0.5
    return out


def not_written(x: T, obs_dims: list[int]) -> T:
    raise NotImplementedError


def no_return(x: T, obs_dims: list[int]) -> None:
    centralised_critic_input(x, obs_dims)


def crashes(x: T, obs_dims: list[int]) -> T:
    return torch.stack([torch.cat([everyone(x, obs_dims), x[r, :, :d]], -1)
                        for r, d in enumerate(obs_dims)])  # fmt: skip


@pytest.mark.parametrize(
    "answer", [centralised_critic_input, by_loops, by_expand], ids=["ref", "loops", "expand"]
)
def test_check_centralised_critic_input_accepts_right_answers(answer: Any) -> None:
    result = check_centralised_critic_input(answer)
    assert isinstance(result, Passed)
    assert result.startswith(
        "Passed: my_centralised_critic_input matches "
        f"{centralised_critic_input.__module__}.centralised_critic_input with"
    )


@pytest.mark.parametrize(
    ("answer", "message"),
    [
        (padding_kept, r"got \[3, 2, 16\]: .*the global part keeps every agent's padding"),
        (own_block_missing, r"got \[3, 2, 7\]: .*but not the agent's own block"),
        (others_then_own, "lists the other agents and then its own real entries"),
        (agents_reversed, r"out of order in the global part of row 0: it lists agents \[2, 1, 0\]"),
        (own_agent_first, r"out of order in the global part of row 1: it lists agents \[1, 0, 2\]"),
        (reshape_without_transpose, "mixes samples and agents"),
        (own_block_first, "own observation goes last"),
        (first_agents_block_everywhere, "row 1 ends with agent 0's observation"),
        (padding_not_zero, "the padding must stay zero: row 0 has non-zero inputs after its 9"),
        (one_global_state, "one global state for all agents"),
        (agents_and_samples_swapped, "agents and samples are swapped"),
        (in_numpy, "should return a torch tensor, got ndarray"),
        (normalises_in_place, "changed its input x in place"),
        (off_by_a_little, r"row 1, sample 0, input 3 .*entry 1 of agent 1's observation"),
        (not_written, "still raises NotImplementedError"),
        (no_return, "returned None"),
        (crashes, r"my_centralised_critic_input\(x, obs_dims\) with .* raised RuntimeError"),
    ],
    ids=[
        "padding-kept",
        "own-block-missing",
        "others-then-own",
        "agents-reversed",
        "own-agent-first",
        "reshape-without-transpose",
        "own-block-first",
        "wrong-own-block",
        "padding-not-zero",
        "one-global-state",
        "swapped-axes",
        "numpy",
        "in-place",
        "unrecognised",
        "not-written",
        "no-return",
        "crash",
    ],
)
def test_check_centralised_critic_input_names_the_mistake(answer: Any, message: str) -> None:
    with pytest.raises(ExerciseError, match=message):
        check_centralised_critic_input(answer)


def test_the_checker_tries_one_agent_and_equal_sizes() -> None:
    """Mistakes that only show with several agents or with padding are not enough: an
    answer right on the first case but wrong for one agent is still caught."""
    seen: list[tuple[int, ...]] = []

    def right_until_one_agent(x: T, obs_dims: list[int]) -> T:
        seen.append(tuple(obs_dims))
        out = centralised_critic_input(x, obs_dims)
        return out if len(obs_dims) > 1 else out * 2.0

    with pytest.raises(ExerciseError, match=r"obs_dims=\[4\]"):
        check_centralised_critic_input(right_until_one_agent)
    seen.clear()
    check_centralised_critic_input(lambda x, d: seen.append(tuple(d)) or by_loops(x, d))
    assert (3, 3, 3) in seen and any(len(set(d)) > 1 for d in seen)
