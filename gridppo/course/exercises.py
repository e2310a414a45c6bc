"""Auto-checkers for the coursework in ``notebooks/assignments/``.

Each checker takes a student's answer (a function, a node class, a trained
:class:`~gridppo.trainer.Trainer`, reported numbers), compares it with the package's
own reference and either

- returns a :class:`Passed` message, which a notebook shows as the cell's output, or
- raises :class:`ExerciseError` with a message that says *where* the answer goes wrong
  and the usual cause, e.g. ``your advantages differ from the reference at step 2 of
  stream 0 (...): did you reset the running advantage at an episode end? ...``.

Wrong answers are diagnosed by comparing them with the typical mistakes, each written
out below as a small function (forgetting to bootstrap at a truncation, taking the
minimum instead of the maximum in the clipped loss, ...). An answer that matches none
of them still gets the first place it goes wrong and what is special about that place.

===============================  ========================================================
checker                          assignment
===============================  ========================================================
:func:`check_gae`                01: generalised advantage estimation
:func:`check_clipped_loss`       01: PPO's clipped surrogate loss
:func:`check_ev_charger`         02: a new node type, an EV charging hub
:func:`check_ev_training`        02: the EV charger trained beside the other agents
:func:`check_reward_experiment`  03: what a reward setting does to overloads and cost
===============================  ========================================================
"""

from __future__ import annotations

import contextlib
import copy
import math
from collections.abc import Callable, Iterator, Mapping
from typing import Any

import numpy as np
import torch
import yaml

from gridppo.agents.ppo import clipped_policy_loss, compute_gae
from gridppo.config.loader import DEFAULT_CONFIG_PATH, ConfigError, load_config
from gridppo.grid.profiles import clock

__all__ = [
    "ExerciseError",
    "Passed",
    "check_gae",
    "check_clipped_loss",
    "check_ev_charger",
    "check_ev_training",
    "check_reward_experiment",
    "default_raw_config",
    "EV_PARAMS",
]


class ExerciseError(AssertionError):
    """An answer is wrong; the message says where and suggests the likely cause."""


class Passed(str):
    """A checker's pass message. A notebook shows it as plain text (no quotes)."""

    def __repr__(self) -> str:
        return str(self)

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:
        printer.text(str(self))


def _call(fn: Callable[..., Any], what: str, *args: Any) -> Any:
    """Call the student's function; a NotImplementedError means it is not written yet."""
    try:
        return fn(*args)
    except NotImplementedError:
        raise ExerciseError(
            f"{what} still raises NotImplementedError: replace the `raise` line under "
            "# YOUR CODE HERE with your implementation"
        ) from None


@contextlib.contextmanager
def _running(what: str) -> Iterator[None]:
    """Turn an exception from the student's code into an ExerciseError that says what was
    being done; the original traceback stays attached (``raise ... from``). ConfigErrors
    pass through: the caller explains those."""
    try:
        yield
    except (ExerciseError, ConfigError):
        raise
    except Exception as err:
        lines = str(err).strip().splitlines()
        detail = f": {lines[0]}" if lines else ""
        raise ExerciseError(
            f"{what} raised {type(err).__name__}{detail} (see the traceback above)"
        ) from err


def _as_array(value: Any, what: str, shape: tuple[int, ...]) -> np.ndarray:
    """A torch tensor, numpy array or number as a float64 array of ``shape``."""
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


def _close(a: np.ndarray, b: np.ndarray) -> bool:
    return bool(np.allclose(a, b, rtol=1e-5, atol=1e-6))


# -- assignment 01: GAE ------------------------------------------------------------------

Tensor = torch.Tensor


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

    With the defaults it is :func:`gridppo.ppo.compute_gae`.
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
    bad = ~np.isclose(mine, ref, rtol=1e-5, atol=1e-6)
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
    against :func:`gridppo.ppo.compute_gae`.

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
        out = _call(my_gae, "my_gae", *inputs, case["gamma"], case["lam"])
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
        adv = _as_array(out[0], "the advantages my_gae returns", shape)
        ret = _as_array(out[1], "the returns my_gae returns", shape)
        ref_adv, ref_ret = (x.numpy() for x in compute_gae(*inputs, case["gamma"], case["lam"]))
        if not _close(adv, ref_adv):
            step, stream = _where_gae_differs(adv, ref_adv)
            hint = _gae_place_hint(case, step, stream)
            for _name, knobs, mistake_hint in _GAE_MISTAKES:
                wrong, _ = _gae_variant(*inputs, case["gamma"], case["lam"], **knobs)
                if _close(adv, wrong.numpy()):
                    hint = mistake_hint
                    break
            raise ExerciseError(
                f"your advantages differ from the reference at step {step} of stream "
                f"{stream} (yours {adv[step, stream]:.4f}, expected "
                f"{ref_adv[step, stream]:.4f}): {hint}"
            )
        if not _close(ret, ref_ret):
            values = case["values"].numpy()
            if _close(ret, adv):
                hint = (
                    "the returns are advantages + values (the value targets), not the "
                    "advantages alone"
                )
            elif _close(ret, adv - values):
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
        "Passed: my_gae matches gridppo.ppo.compute_gae on truncations, terminations and a "
        "random rollout."
    )


# -- assignment 01: the clipped loss -------------------------------------------------------


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
    the loss of :func:`gridppo.ppo.clipped_policy_loss`.

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
        loss = _call(my_clipped_loss, "my_clipped_loss", new, old, adv, eps)
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
        if not _close(value, ref_loss.detach().numpy()):
            hint = (
                "check loss = mean(max(-A * r, -A * clip(r, 1 - eps, 1 + eps))) with "
                "r = exp(new_logprob - old_logprob)"
            )
            for mistake, mistake_hint in _CLIP_MISTAKES.items():
                wrong = _clip_variant(case["new"], old, adv, eps, mistake)
                if _close(value, wrong.numpy()):
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
        if not _close(mine, ref):
            i = int(np.flatnonzero(~np.isclose(mine, ref, rtol=1e-5, atol=1e-6))[0])
            raise ExerciseError(
                f"your loss has the right value but the wrong gradient with respect to "
                f"new_logprob at sample {i} (yours {mine[i]:.5f}, expected {ref[i]:.5f}): "
                "is part of it detached, or is the clipped ratio computed outside the "
                "graph?"
            )
    return Passed(
        "Passed: my_clipped_loss matches gridppo.ppo.clipped_policy_loss in value and "
        "gradient, inside and outside the clip range."
    )


# -- assignment 02: a new node type ---------------------------------------------------------

# The parameters every EV charger of assignment 02 declares (the checker reads them).
EV_PARAMS = ("max_p_mw", "energy_mwh", "arrival_hour", "departure_hour", "unmet_cost_eur_per_mwh")

# Where the checker puts the charger: bus 4 already has a consumer, so the charger must
# create a load of its own rather than claim the bus's.
_EV_BUS = 4
_EV_NAME = "ev_check"
# Reward components the environment adds to every node's own (see gridppo.env).
_ENV_COMPONENTS = ("grid_penalty_eur", "loss_charge_eur")


def default_raw_config() -> dict[str, Any]:
    """The default configuration as plain YAML data (unvalidated), to add nodes to."""
    return yaml.safe_load(DEFAULT_CONFIG_PATH.read_text(encoding="utf-8"))


def _ev_config(cls: type, params: Mapping[str, Any] | None) -> dict[str, Any]:
    raw = default_raw_config()
    node = {"name": _EV_NAME, "type": cls.type_name, "bus": _EV_BUS, **dict(params or {})}
    raw["nodes"].append(node)
    raw.setdefault("time", {}).update({"train_days": 4, "validation_days": 2, "test_days": 2})
    try:
        return load_config(raw)
    except ConfigError as err:
        raise ExerciseError(f"the config rejects your EV charger: {err}") from None


def _check_ev_class(cls: Any) -> None:
    """Static checks: a registered Node subclass that declares what the assignment asks."""
    from gridppo.grid.nodes import NODE_TYPES, Node

    if not isinstance(cls, type) or not issubclass(cls, Node):
        raise ExerciseError(
            f"check_ev_charger expects your class (a subclass of gridppo.nodes.Node), got {cls!r}"
        )
    name = cls.__name__
    if not cls.type_name:
        raise ExerciseError(f"{name} needs a type_name, e.g. type_name = 'ev_charger'")
    if NODE_TYPES.get(cls.type_name) is not cls:
        raise ExerciseError(
            f"{name} is not registered as type {cls.type_name!r}: decorate the class with "
            "@register_node_type"
        )
    missing = [p for p in EV_PARAMS if p not in cls.PARAMS]
    if missing:
        raise ExerciseError(
            f"{name}.PARAMS lacks {', '.join(missing)}: the assignment asks for "
            f"{', '.join(EV_PARAMS)}"
        )
    from gridppo.config.loader import Field

    not_fields = [k for k, v in cls.PARAMS.items() if not isinstance(v, Field)]
    if not_fields:
        raise ExerciseError(
            f"{name}.PARAMS[{not_fields[0]!r}] must be a gridppo.config.Field (default, "
            "kind, help, low, high)"
        )
    if len(cls.ACTIONS) != 1:
        raise ExerciseError(
            f"{name}.ACTIONS names {len(cls.ACTIONS)} actions; the assignment asks for one, "
            "('charge',)"
        )
    if not cls.LOCAL_FEATURES:
        raise ExerciseError(
            f"{name}.LOCAL_FEATURES is empty: the agent needs to see at least how much "
            "energy is still needed and how long until departure"
        )


def _plugged(hours: np.ndarray, params: Mapping[str, Any]) -> np.ndarray:
    return (hours >= params["arrival_hour"]) & (hours < params["departure_hour"])


def _run_ev_day(env: Any, node: Any, load_index: int, action: float) -> dict[str, np.ndarray]:
    """One day with every other agent at action 0 and the charger at ``action``.

    Returns per step: charging power drawn from the grid (MW), the node's
    ``injection_mw``, its own reward (without the grid penalty and the loss charge the
    environment adds), and the price.
    """
    obs, _ = env.reset(days=env.grid.profiles.test_days[: env.batch_size])
    space = env.observation_spaces[node.name].shape[0]
    out: dict[str, list[np.ndarray]] = {"p_mw": [], "injection_mw": [], "reward": [], "price": []}
    for step in range(env.steps_per_day):
        _check_obs(obs[node.name], space, node, step)
        actions = {n.name: np.zeros((env.batch_size, n.action_space().shape[0])) for n in env.nodes}
        actions[node.name] = np.full((env.batch_size, 1), action)
        out["price"].append(env.context().price_eur_per_mwh.copy())
        obs, _, _, _, info = env.step(actions)
        parts = info["reward_components"][node.name]
        # The node's own reward: without what the environment adds to every node (the
        # shared grid penalty and the node's share of the network losses).
        local = sum(v for k, v in parts.items() if k not in _ENV_COMPONENTS)
        out["p_mw"].append(env.last_injections.load_p_mw[:, load_index].copy())
        out["injection_mw"].append(np.asarray(node.injection_mw, dtype=float).copy())
        out["reward"].append(np.broadcast_to(np.asarray(local, dtype=float), (env.batch_size,)))
    return {k: np.stack(v) for k, v in out.items()}


def _check_obs(obs: np.ndarray, space: int, node: Any, step: int) -> None:
    n_obs = obs.shape[1]
    if n_obs != space:
        local = len(type(node).LOCAL_FEATURES)
        raise ExerciseError(
            f"your EV charger's observations have {n_obs} features but its "
            f"observation_space has {space}: local_features returns {n_obs - space + local} "
            f"columns while LOCAL_FEATURES names {local} (at step {step})"
        )
    if not np.all(np.isfinite(obs)):
        raise ExerciseError(
            f"your EV charger's observation holds NaN or infinite values at step {step}: "
            "check local_features (a division by zero?)"
        )


def check_ev_charger(cls: type, params: Mapping[str, Any] | None = None) -> Passed:
    """Check the EV charging hub of assignment 02: a :class:`~gridppo.nodes.Node` subclass.

    What the class must be: registered with ``@register_node_type``; ``PARAMS`` declares
    at least :data:`EV_PARAMS` as :class:`~gridppo.config.Field` objects; one action
    (``ACTIONS = ("charge",)``); at least one local feature.

    What it must do, checked by running the default grid with the charger added at bus 4
    (``params`` override the class defaults; every other agent sends action 0):

    - ``attach`` creates its *own* pandapower load at its bus (bus 4 already has a
      consumer, whose load it must not claim);
    - the observations have as many features as ``observation_space`` says, all finite;
    - the cars are plugged in during the steps whose start hour lies in
      [``arrival_hour``, ``departure_hour``); action ``a`` asks for
      ``max_p_mw * (a + 1) / 2``, limited by the energy still needed; nothing is drawn
      while the cars are away;
    - charging at full power all day delivers exactly ``energy_mwh`` before departure,
      ``injection_mw`` is minus the charging power, and the local reward is the energy
      bill ``-price * p_mw * dt_h``;
    - never charging costs ``unmet_cost_eur_per_mwh * energy_mwh`` over the day;
    - a day restarted by the environment (autoreset) starts with the full energy to
      deliver again;
    - the state it lists in ``STATE`` restores a saved environment exactly (the energy
      still needed must be in it);
    - ``check_params`` turns a charge that cannot fit between arrival and departure, and
      a departure before the arrival, into a ConfigError.
    """
    import pandapower.networks as pn

    from gridppo.env import BatchedGridEnv
    from gridppo.grid.network import PowerGrid

    _check_ev_class(cls)
    cfg = _ev_config(cls, params)
    case_loads = len(pn.case14().load)
    try:
        with _running("building the grid with your EV charger (attach)"):
            grid = PowerGrid(cfg)
    except ConfigError as err:
        if "already owned" in str(err) or "has no load" in str(err):
            raise ExerciseError(
                f"your EV charger tried to claim the bus's existing load ({err}); it must "
                "create its own in attach: self.load_index = pp.create_load(grid.net, "
                "self.bus, p_mw=0.0, name=self.name)"
            ) from None
        raise ExerciseError(f"building the grid with your EV charger failed: {err}") from None
    node = grid.node(_EV_NAME)
    p = node.params
    new_loads = list(grid.net.load.index[case_loads:])
    if len(new_loads) != 1:
        raise ExerciseError(
            f"your EV charger created {len(new_loads)} pandapower loads; it should create "
            "exactly one, with pp.create_load(grid.net, self.bus, ...)"
        )
    load_index = int(new_loads[0])
    load_bus = int(grid.net.load.bus[load_index])
    if load_bus != node.bus:
        raise ExerciseError(
            f"your EV charger's load sits at bus {load_bus}, not at its own bus {node.bus}"
        )
    position = int(np.flatnonzero(grid.net.load.index == load_index)[0])

    env = BatchedGridEnv(grid=grid, batch_size=2, mode="test", autoreset=False)
    dt_h = env.dt_h
    hours = np.arange(env.steps_per_day) * dt_h
    plugged = _plugged(hours, p)
    if not plugged.any():
        raise ExerciseError(
            f"with arrival_hour={p['arrival_hour']} and departure_hour={p['departure_hour']} "
            "the cars are never plugged in: arrival must come before departure"
        )
    with _running("running a day with your EV charger at full power"):
        full = _run_ev_day(env, node, position, 1.0)
    drawn = full["p_mw"]
    if np.allclose(drawn, 0.0):
        raise ExerciseError(
            "with action +1 all day your EV charger never draws power from the grid: write "
            "the charging power into inj.load_p_mw[:, self.load_index] in apply_action"
        )
    if (drawn < -1e-9).any():
        t = int(np.flatnonzero((drawn < -1e-9).any(axis=1))[0])
        raise ExerciseError(
            f"your EV charger feeds power into the grid at step {t} ({drawn[t, 0]:.2f} MW "
            "drawn): it only charges, so its load must be >= 0"
        )
    away = ~plugged[:, None] & (drawn > 1e-9)
    if away.any():
        t = int(np.flatnonzero(away.any(axis=1))[0])
        when = "before the cars arrive" if hours[t] < p["arrival_hour"] else "after they leave"
        raise ExerciseError(
            f"your EV charger draws {drawn[t, 0]:.2f} MW at step {t} ({clock(hours[t])}), "
            f"{when} (plugged in from {clock(p['arrival_hour'])} to "
            f"{clock(p['departure_hour'])}): charge only while start hour t * dt_h lies in "
            "[arrival_hour, departure_hour)"
        )
    if (drawn > p["max_p_mw"] + 1e-6).any():
        t = int(np.flatnonzero((drawn > p["max_p_mw"] + 1e-6).any(axis=1))[0])
        raise ExerciseError(
            f"your EV charger draws {drawn[t, 0]:.2f} MW at step {t}, above max_p_mw="
            f"{p['max_p_mw']}"
        )
    delivered = (drawn * dt_h).sum(axis=0)
    if not np.allclose(delivered, p["energy_mwh"], rtol=1e-6, atol=1e-6):
        more = delivered[0] > p["energy_mwh"]
        hint = (
            "limit the power by the energy still needed (remaining / dt_h)"
            if more
            else "charge max_p_mw * (a + 1) / 2 while plugged in, and subtract what was "
            "charged (p_mw * dt_h) from the energy still needed"
        )
        raise ExerciseError(
            f"charging at full power all day, your EV charger delivered "
            f"{delivered[0]:.2f} MWh before departure, but energy_mwh={p['energy_mwh']}: "
            f"{hint}"
        )
    if not np.allclose(full["injection_mw"], -drawn, atol=1e-9):
        t = int(np.flatnonzero(~np.isclose(full["injection_mw"], -drawn).all(axis=1))[0])
        raise ExerciseError(
            f"at step {t} your EV charger's injection_mw is {full['injection_mw'][t, 0]:.3f} "
            f"but it draws {drawn[t, 0]:.3f} MW: set self.injection_mw = -p_mw (a load "
            "takes power out of the grid)"
        )
    bill = -(full["price"] * drawn * dt_h)
    if not np.allclose(full["reward"].sum(axis=0), bill.sum(axis=0), rtol=1e-6, atol=1e-3):
        raise ExerciseError(
            f"charging the full energy, your EV charger's reward over the day is "
            f"{full['reward'][:, 0].sum():,.2f} EUR, but the energy it bought cost "
            f"{-bill[:, 0].sum():,.2f} EUR and nothing was missing at departure: the reward "
            "should be -price * p_mw * dt_h each step (plus the unmet-energy cost at "
            "departure, which is 0 here)"
        )
    with _running("running a day with your EV charger idle"):
        idle = _run_ev_day(env, node, position, -1.0)
    if not np.allclose(idle["p_mw"], 0.0, atol=1e-9):
        raise ExerciseError(
            "with action -1 your EV charger still draws power: map the action to "
            "max_p_mw * (a + 1) / 2, which is 0 at a = -1"
        )
    expected = -p["unmet_cost_eur_per_mwh"] * p["energy_mwh"]
    got = idle["reward"].sum(axis=0)
    if not np.allclose(got, expected, rtol=1e-6, atol=1e-3):
        raise ExerciseError(
            f"never charging, your EV charger's reward over the day is {got[0]:,.2f} EUR, "
            f"but the cars leave with {p['energy_mwh']} MWh missing: charge "
            f"unmet_cost_eur_per_mwh * missing = {expected:,.2f} EUR once, when the cars "
            "leave"
        )
    with _running("running two days in a row with your EV charger"):
        _check_ev_restart(grid, node, position, p, dt_h)
    with _running("validating parameters of your EV charger"):
        _check_ev_params(cls, params)
    with _running("saving and restoring your EV charger's state"):
        _check_ev_state(grid, node)
    return Passed(
        f"Passed: {cls.__name__} creates its own load, charges {p['energy_mwh']:g} MWh "
        f"between {clock(p['arrival_hour'])} and {clock(p['departure_hour'])} at up to "
        f"{p['max_p_mw']:g} MW, pays for its energy and for what is missing at departure."
    )


def _check_ev_restart(
    grid: Any, node: Any, position: int, p: Mapping[str, Any], dt_h: float
) -> None:
    """Two days in a row with autoreset: the second starts with the full energy again."""
    from gridppo.env import BatchedGridEnv

    env = BatchedGridEnv(grid=grid, batch_size=1, mode="train", autoreset=True)
    env.reset(seed=0)
    delivered = []
    for _day in range(2):
        energy = 0.0
        for _step in range(env.steps_per_day):
            actions = {n.name: np.zeros((1, n.action_space().shape[0])) for n in env.nodes}
            actions[node.name] = np.ones((1, 1))
            env.step(actions)
            energy += float(env.last_injections.load_p_mw[0, position]) * dt_h
        delivered.append(energy)
    if not math.isclose(delivered[1], p["energy_mwh"], rel_tol=1e-6, abs_tol=1e-6):
        raise ExerciseError(
            f"on the second of two days in a row your EV charger delivered "
            f"{delivered[1]:.2f} of {p['energy_mwh']} MWh: when the environment restarts a "
            "day it calls reset_rows(rows, rng); override it to restore the energy still "
            "needed for those rows (and call super().reset_rows)"
        )


def _check_ev_params(cls: type, params: Mapping[str, Any] | None) -> None:
    """A charge that cannot fit in the plug-in window must be a ConfigError."""
    base = {k: f.default for k, f in cls.PARAMS.items()}
    base.update(params or {})
    window = base["departure_hour"] - base["arrival_hour"]
    for bad, why in (
        (
            {"energy_mwh": base["max_p_mw"] * max(window, 1.0) * 2.0 + 1.0},
            "more energy than max_p_mw can deliver between arrival and departure",
        ),
        (
            {"arrival_hour": base["departure_hour"], "departure_hour": base["arrival_hour"]},
            "a departure before the arrival",
        ),
    ):
        raw = default_raw_config()
        raw["nodes"].append(
            {"name": _EV_NAME, "type": cls.type_name, "bus": _EV_BUS, **base, **bad}
        )
        try:
            load_config(raw)
        except ConfigError:
            continue
        shown = ", ".join(f"{k}={v:g}" for k, v in bad.items())
        raise ExerciseError(
            f"your EV charger accepts {shown}: {why}. Add a check_params classmethod that "
            "raises ConfigError(f'nodes.{name}.energy_mwh: ...') for such parameters"
        )


def _check_ev_state(grid: Any, node: Any) -> None:
    """Save the environment mid-day, run on, restore, run again: the same rewards."""
    from gridppo.env import BatchedGridEnv

    env = BatchedGridEnv(grid=grid, batch_size=2, mode="test", autoreset=False)
    env.reset(days=env.grid.profiles.test_days[:2])
    half = env.steps_per_day // 2
    policy = np.linspace(-1.0, 1.0, 2)[:, None]

    def step() -> np.ndarray:
        actions = {n.name: np.zeros((2, n.action_space().shape[0])) for n in env.nodes}
        actions[node.name] = policy
        _, rewards, *_ = env.step(actions)
        return rewards[node.name].copy()

    for _ in range(half):
        step()
    saved = copy.deepcopy(env.state_dict())
    first = np.stack([step() for _ in range(env.steps_per_day - half)])
    env.load_state_dict(saved)
    again = np.stack([step() for _ in range(env.steps_per_day - half)])
    if not np.allclose(first, again, rtol=1e-9, atol=1e-9):
        raise ExerciseError(
            "after saving the environment mid-day and restoring it, your EV charger earns "
            "different rewards: list every attribute that carries over from one step to "
            "the next (e.g. the energy still needed) in STATE, e.g. "
            "STATE = ('injection_mw', 'remaining_mwh')"
        )


def check_ev_training(trainer: Any, type_name: str = "ev_charger") -> Passed:
    """Check that ``trainer`` trained at least one node of ``type_name`` beside the others.

    The trainer must have run at least one update, its grid must hold a node of that
    type, and every training update must have logged a finite loss for it. Returns a
    pass message with the charger's latest episodic return.
    """
    from gridppo.training.trainer import Trainer

    if not isinstance(trainer, Trainer):
        raise ExerciseError(
            f"check_ev_training expects the Trainer you trained, got {type(trainer).__name__}"
        )
    names = [n.name for n in trainer.grid.nodes if n.type_name == type_name]
    if not names:
        types = sorted({n.type_name for n in trainer.grid.nodes})
        raise ExerciseError(
            f"your trainer's grid has no node of type {type_name!r} (types: "
            f"{', '.join(types)}): append one to raw['nodes'] before Trainer.from_config"
        )
    if trainer.update < 1 or not trainer.history:
        raise ExerciseError("your trainer has not trained yet: call trainer.train()")
    name = names[0]
    losses = [row.get(f"losses/policy_loss/{name}", math.nan) for row in trainer.history]
    if not all(math.isfinite(v) for v in losses):
        raise ExerciseError(
            f"the policy loss of {name} is missing or not finite in some updates: check that "
            "its observations and rewards are finite numbers"
        )
    returns = [row.get(f"charts/episodic_return/{name}", math.nan) for row in trainer.history]
    finite = [v for v in returns if math.isfinite(v)]
    latest = f"{finite[-1]:,.0f} EUR per day" if finite else "not yet measured"
    return Passed(
        f"Passed: {name} trained for {trainer.update} updates beside "
        f"{len(trainer.grid.nodes) - 1} other agents; its latest episodic return: {latest}."
    )


# -- assignment 03: reward design --------------------------------------------------------------

EXPERIMENT_KPIS = ("overload_rate", "system_cost_eur")
CHANGES = ("lower", "higher", "same")
# Two runs whose test-day KPIs differ by less than this count as "the same": the overload
# rate by less than one step in a thousand, the cost by 0.5 %.
_SAME = {"overload_rate": 1e-3, "system_cost_eur": 5e-3}
# The baselines a re-run is compared with, to recognise a baseline's number when a student
# reports one (the optimum is left out: it takes seconds per run and nobody mistakes it).
_RERUN_BASELINES = ("heuristic", "random")


# Each re-run, by its overrides and config, so checking again after fixing a typo in the
# report does not train again.
_RERUNS: dict[str, dict[str, Any]] = {}


def _rerun(overrides: Mapping[str, Any], config: Any) -> dict[str, Any]:
    """Train one run again, quietly, in a temporary folder, and evaluate its ``best.pt``
    on the test days. Returns ``{"test": {policy: KPIs}, "validation": KPIs}``: the
    trained policy (``"ippo"``) and the baselines on the test days, and the validation
    days' KPIs of the update ``best.pt`` holds."""
    import tempfile
    from pathlib import Path

    from gridppo.evaluation.protocol import evaluate_on_test_days
    from gridppo.training.trainer import TrainedPolicy, Trainer

    key = repr((sorted((str(k), repr(v)) for k, v in overrides.items()), repr(config)))
    if key not in _RERUNS:
        with tempfile.TemporaryDirectory() as root:
            trainer = Trainer.from_config(config, overrides=dict(overrides), root=root)
            summary = trainer.train(progress_bar=False)
            policy, cfg = TrainedPolicy.from_checkpoint(Path(trainer.checkpoint_dir) / "best.pt")
        results = evaluate_on_test_days(cfg, policies=[policy], baselines=_RERUN_BASELINES)
        _RERUNS[key] = {
            "test": {name: dict(result.kpis) for name, result in results.items()},
            "validation": dict(summary["best_eval"]),
        }
    return copy.deepcopy(_RERUNS[key])


def _direction(kpi: str, before: float, after: float) -> str:
    if kpi == "overload_rate":
        same = abs(after - before) < _SAME[kpi]
    else:
        same = abs(after - before) < _SAME[kpi] * max(abs(before), 1.0)
    if same:
        return "same"
    return "higher" if after > before else "lower"


def _number_hint(kpi: str, given: float, run: str, reruns: dict[str, dict[str, Any]]) -> str:
    """Why a reported number may differ from the re-run: the usual slips."""
    test = reruns[run]["test"]
    expected = test["ippo"][kpi]

    def near(a: float, b: float) -> bool:
        return math.isclose(a, b, rel_tol=1e-3, abs_tol=1e-3)

    if kpi == "overload_rate" and near(given, 100.0 * expected) and expected > 0:
        return "the overload rate is a share of steps in [0, 1], not a percentage"
    for other, rerun in reruns.items():
        if other != run and near(given, rerun["test"]["ippo"][kpi]) and not near(given, expected):
            return f"that is the value of run {other!r}: did you swap the runs?"
    for baseline, kpis in test.items():
        if baseline != "ippo" and near(given, kpis[kpi]) and not near(given, expected):
            return (
                f"that is the {baseline} baseline's value; report your trained policy's, "
                "results[run]['ippo'].kpis"
            )
    validation = reruns[run]["validation"]
    if kpi in validation and near(given, validation[kpi]) and not near(given, expected):
        return (
            "that is the validation days' value, which chose best.pt; report best.pt on "
            "the test days, results[run]['ippo'].kpis"
        )
    if kpi == "system_cost_eur" and near(given, test["ippo"]["team_reward"]):
        return (
            "that is the team reward; the system cost is "
            "results[run]['ippo'].kpis['system_cost_eur']"
        )
    if kpi == "system_cost_eur" and near(given, -expected):
        return "the system cost is a cost (positive EUR per day): check the sign"
    return "read it from results[run]['ippo'].kpis, best.pt of that run on the test days"


def check_reward_experiment(
    reported: Mapping[str, Mapping[str, float]],
    overrides_by_run: Mapping[str, Mapping[str, Any]],
    overload_change: str,
    cost_change: str,
    config: Any = None,
) -> Passed:
    """Check the reward-design experiment of assignment 03 by training both runs again.

    Arguments:
        reported: run name -> ``{"overload_rate": ..., "system_cost_eur": ...}`` of the
            run's ``best.pt`` on the test days (``evaluate_on_test_days`` with the
            policy and config of ``TrainedPolicy.from_checkpoint``: the KPIs of its
            ``"ippo"`` result).
        overrides_by_run: run name -> the exact overrides passed to
            :meth:`Trainer.from_config` (two runs: the baseline first, then the changed
            one).
        overload_change, cost_change: how the changed run compares with the baseline,
            each ``"lower"``, ``"higher"`` or ``"same"`` (the overload rate within
            0.001, the cost within 0.5 %).
        config: the config source both runs used (None: the default).

    The two runs must differ in one ``reward.*`` setting and nothing else (one change at
    a time). Training and evaluation are deterministic for a given seed, so the re-run's
    numbers must match the reported ones to 0.1 % (the rate to 0.001); a mismatch names
    the usual slip: a percentage instead of a share, swapped runs, a baseline's value,
    the validation days' value instead of the test days', the team reward instead of
    the system cost.
    """
    runs = list(overrides_by_run)
    if len(runs) != 2:
        raise ExerciseError(
            f"overrides_by_run must hold two runs (the baseline, then the changed one), got "
            f"{len(runs)}: {runs}"
        )
    base_run, changed_run = runs
    base, changed = dict(overrides_by_run[base_run]), dict(overrides_by_run[changed_run])
    differ = sorted(k for k in {*base, *changed} if base.get(k) != changed.get(k))
    if not differ:
        raise ExerciseError(
            f"runs {base_run!r} and {changed_run!r} use the same overrides: change one "
            "reward setting in the second, e.g. reward.overload_penalty_eur_per_percent"
        )
    not_reward = [k for k in differ if not k.startswith("reward.")]
    if not_reward or len(differ) > 1:
        raise ExerciseError(
            f"runs {base_run!r} and {changed_run!r} differ in {', '.join(differ)}: change one "
            "reward.* setting and nothing else, or you cannot tell which change caused "
            "what you see"
        )
    for run in runs:
        if run not in reported:
            raise ExerciseError(f"reported has no entry for run {run!r}")
        for kpi in EXPERIMENT_KPIS:
            value = reported[run].get(kpi) if isinstance(reported[run], Mapping) else None
            if value is None or isinstance(value, bool) or not isinstance(value, int | float):
                raise ExerciseError(f"reported[{run!r}][{kpi!r}] should be a number, got {value!r}")
    for name, answer in (("overload_change", overload_change), ("cost_change", cost_change)):
        if answer not in CHANGES:
            raise ExerciseError(f"{name} should be one of {', '.join(CHANGES)}, got {answer!r}")
    try:
        reruns = {run: _rerun(overrides_by_run[run], config) for run in runs}
    except ConfigError as err:
        raise ExerciseError(f"the run's overrides are not a valid config: {err}") from None
    for run in runs:
        for kpi in EXPERIMENT_KPIS:
            given = float(reported[run][kpi])
            expected = reruns[run]["test"]["ippo"][kpi]
            ok = (
                abs(given - expected) <= 1e-3
                if kpi == "overload_rate"
                else math.isclose(given, expected, rel_tol=1e-3, abs_tol=1.0)
            )
            if not ok:
                raise ExerciseError(
                    f"you report {kpi} = {given:,.4g} for run {run!r}, but training it again "
                    f"gives {expected:,.4g} on the test days: "
                    f"{_number_hint(kpi, given, run, reruns)}"
                )
    for kpi, answer in (("overload_rate", overload_change), ("system_cost_eur", cost_change)):
        before = reruns[base_run]["test"]["ippo"][kpi]
        after = reruns[changed_run]["test"]["ippo"][kpi]
        truth = _direction(kpi, before, after)
        if answer != truth:
            raise ExerciseError(
                f"{kpi} goes from {before:,.4g} ({base_run}) to {after:,.4g} "
                f"({changed_run}), which counts as {truth!r}, not {answer!r}"
            )
    (key,) = differ
    said = {"lower": "lower than", "higher": "higher than", "same": "the same as"}
    return Passed(
        f"Passed: your numbers match a re-run; with {key} = {changed.get(key)} the overload "
        f"rate on the test days is {said[overload_change]} in {base_run!r} and the system "
        f"cost is {said[cost_change]} in {base_run!r}."
    )
