"""The coursework checkers of gridppo.exercises, and the assignment notebooks themselves.

Each checker must accept a right answer and reject the typical wrong ones with a message
that points at the mistake. The wrong answers below are written the way students write
them, not through the checker's own list of mistakes. The notebooks: every student
version must match its solution outside the ``# YOUR CODE HERE`` cells, so the two never
drift apart (the solutions themselves are executed by nbval in ``make test``).
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import nbformat
import numpy as np
import pandapower as pp
import pytest
import torch

from gridppo import Trainer
from gridppo.agents.ppo import clipped_policy_loss, compute_gae
from gridppo.config.loader import ConfigError, Field
from gridppo.course.exercises import (
    ExerciseError,
    Passed,
    check_clipped_loss,
    check_ev_charger,
    check_ev_training,
    check_gae,
    check_reward_experiment,
    default_raw_config,
)
from gridppo.evaluation.protocol import evaluate_on_test_days
from gridppo.grid.nodes import NODE_TYPES, Node, StepContext, register_node_type
from gridppo.training.trainer import TrainedPolicy

T = torch.Tensor
ASSIGNMENTS = Path(__file__).resolve().parents[1] / "notebooks" / "assignments"
MARKER = "# YOUR CODE HERE"


# -- GAE -------------------------------------------------------------------------------------


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
    assert isinstance(result, Passed) and result.startswith("Passed")
    assert repr(result) == str(result)  # a notebook shows it without quotes


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


# -- the clipped loss --------------------------------------------------------------------------


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
    assert check_clipped_loss(answer).startswith("Passed")


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


# -- the EV charger --------------------------------------------------------------------------


@pytest.fixture
def node_types() -> Iterator[None]:
    """Node types registered by a test are removed after it."""
    saved = dict(NODE_TYPES)
    yield
    NODE_TYPES.clear()
    NODE_TYPES.update(saved)


class EVHub(Node):
    """A right answer to assignment 02 (not registered: each test registers its own)."""

    type_name = "ev_charger"
    PARAMS = {
        "max_p_mw": Field(
            4.0, "float", "Largest charging power (MW).", 0.0, 1e3, low_exclusive=True
        ),
        "energy_mwh": Field(24.0, "float", "Energy needed (MWh).", 0.0, 1e4),
        "arrival_hour": Field(8.0, "float", "Arrival.", 0.0, 24.0),
        "departure_hour": Field(18.0, "float", "Departure.", 0.0, 24.0),
        "unmet_cost_eur_per_mwh": Field(300.0, "float", "Unmet cost.", 0.0, 1e5),
    }
    LOCAL_FEATURES = ("plugged_in", "energy_remaining", "hours_to_departure")
    ACTIONS = ("charge",)
    STATE = ("injection_mw", "remaining_mwh")

    @classmethod
    def check_params(cls, name: str, params: Mapping[str, Any]) -> None:
        window = params["departure_hour"] - params["arrival_hour"]
        if window <= 0 or params["energy_mwh"] > params["max_p_mw"] * window:
            raise ConfigError(f"nodes.{name}.energy_mwh: does not fit")

    def attach(self, grid: Any) -> None:
        self.load_index = pp.create_load(grid.net, self.bus, p_mw=0.0, name=self.name)

    def reset(self, batch_size: int, rng: np.random.Generator) -> None:
        super().reset(batch_size, rng)
        self.remaining_mwh = np.full(batch_size, self.params["energy_mwh"])

    def reset_rows(self, rows: np.ndarray, rng: np.random.Generator) -> None:
        super().reset_rows(rows, rng)
        self.remaining_mwh[rows] = self.params["energy_mwh"]

    def plugged(self, ctx: StepContext) -> np.ndarray:
        hours = ctx.step * ctx.dt_h
        return (hours >= self.params["arrival_hour"]) & (hours < self.params["departure_hour"])

    def power(self, action: np.ndarray, ctx: StepContext) -> np.ndarray:
        requested = self.params["max_p_mw"] * (action[:, 0] + 1) / 2
        return np.where(self.plugged(ctx), np.minimum(requested, self.remaining_mwh / ctx.dt_h), 0)

    def apply_action(self, action: np.ndarray, ctx: StepContext, inj: Any) -> None:
        self.p_mw = self.power(action, ctx)
        self.remaining_mwh = np.maximum(self.remaining_mwh - self.p_mw * ctx.dt_h, 0.0)
        self.leaving = self.plugged(ctx) & (
            (ctx.step + 1) * ctx.dt_h >= self.params["departure_hour"]
        )
        inj.load_p_mw[:, self.load_index] = self.p_mw
        inj.load_q_mvar[:, self.load_index] = 0.0
        self.injection_mw = -self.p_mw

    def local_features(self, ctx: StepContext) -> np.ndarray:
        to_go = np.clip(self.params["departure_hour"] - ctx.step * ctx.dt_h, 0, 24) / 24
        share = self.remaining_mwh / self.params["energy_mwh"]
        return np.stack([self.plugged(ctx).astype(float), share, to_go], axis=1)

    def reward_components(self, ctx: StepContext, pf: Any) -> dict[str, np.ndarray]:
        unmet = np.where(self.leaving, self.remaining_mwh, 0.0)
        return {
            "energy_eur": -ctx.price_eur_per_mwh * self.p_mw * ctx.dt_h,
            "unmet_energy_eur": -self.params["unmet_cost_eur_per_mwh"] * unmet,
        }


def variant(name: str, register: bool = True, **members: Any) -> type[Node]:
    """EVHub with some members replaced, registered under its own type name."""
    cls = type(f"EV_{name}", (EVHub,), {"type_name": f"ev_{name}", **members})
    return register_node_type(cls) if register else cls


def _claims(self: EVHub, grid: Any) -> None:
    self.load_index = self._claim_load(grid)


def _four_features(self: EVHub, ctx: StepContext) -> np.ndarray:
    return np.column_stack([EVHub.local_features(self, ctx), np.zeros(len(ctx.step))])


def _always_plugged(self: EVHub, ctx: StepContext) -> np.ndarray:
    return np.ones(len(ctx.step), dtype=bool)


def _no_limit(self: EVHub, action: np.ndarray, ctx: StepContext) -> np.ndarray:
    requested = self.params["max_p_mw"] * (action[:, 0] + 1) / 2
    return np.where(self.plugged(ctx), requested, 0)


def _wrong_sign(self: EVHub, action: np.ndarray, ctx: StepContext, inj: Any) -> None:
    EVHub.apply_action(self, action, ctx, inj)
    self.injection_mw = self.p_mw


def _forgets_the_grid(self: EVHub, action: np.ndarray, ctx: StepContext, inj: Any) -> None:
    EVHub.apply_action(self, action, ctx, inj)
    inj.load_p_mw[:, self.load_index] = 0.0


def _no_unmet_cost(self: EVHub, ctx: StepContext, pf: Any) -> dict[str, np.ndarray]:
    return {"energy_eur": -ctx.price_eur_per_mwh * self.p_mw * ctx.dt_h}


def _unmet_every_step(self: EVHub, ctx: StepContext, pf: Any) -> dict[str, np.ndarray]:
    parts = EVHub.reward_components(self, ctx, pf)
    parts["unmet_energy_eur"] = -self.params["unmet_cost_eur_per_mwh"] * self.remaining_mwh
    return parts


def _no_reset_rows(self: EVHub, rows: np.ndarray, rng: np.random.Generator) -> None:
    Node.reset_rows(self, rows, rng)


def _accepts_anything(cls: type, name: str, params: Mapping[str, Any]) -> None:
    return None


def test_check_ev_charger_accepts_a_right_answer(node_types: None) -> None:
    result = check_ev_charger(register_node_type(EVHub))
    assert result.startswith("Passed: EVHub creates its own load, charges 24 MWh")


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: variant("unregistered", register=False), "is not registered as type"),
        (
            lambda: variant(
                "no_unmet",
                PARAMS={k: v for k, v in EVHub.PARAMS.items() if k != "unmet_cost_eur_per_mwh"},
            ),
            "PARAMS lacks unmet_cost_eur_per_mwh",
        ),
        (lambda: variant("two_actions", ACTIONS=("charge", "discharge")), "names 2 actions"),
        (lambda: variant("claims", attach=_claims), "tried to claim the bus's existing load"),
        (
            lambda: variant("four", local_features=_four_features),
            "observations have 17 features but its observation_space has 16: local_features "
            "returns 4 columns while LOCAL_FEATURES names 3",
        ),
        (
            lambda: variant("anytime", plugged=_always_plugged),
            r"at step 0 \(00:00\), before the cars arrive",
        ),
        (
            lambda: variant("no_limit", power=_no_limit),
            "limit the power by the energy still needed",
        ),
        (lambda: variant("sign", apply_action=_wrong_sign), r"set self.injection_mw = -p_mw"),
        (
            lambda: variant("silent", apply_action=_forgets_the_grid),
            "never draws power from the grid",
        ),
        (
            lambda: variant("free", reward_components=_no_unmet_cost),
            "reward over the day is 0.00 EUR",
        ),
        (
            lambda: variant("nagging", reward_components=_unmet_every_step),
            "nothing was missing at departure",
        ),
        (
            lambda: variant("no_restart", reset_rows=_no_reset_rows),
            "second of two days .* reset_rows",
        ),
        (lambda: variant("forgetful", STATE=("injection_mw",)), "in STATE"),
        (
            lambda: variant("lenient", check_params=classmethod(_accepts_anything)),
            "Add a check_params classmethod",
        ),
    ],
    ids=[
        "unregistered",
        "missing-param",
        "two-actions",
        "claims-existing-load",
        "feature-count",
        "charges-while-away",
        "no-energy-limit",
        "injection-sign",
        "no-grid-load",
        "no-unmet-cost",
        "unmet-cost-every-step",
        "no-reset-rows",
        "state-not-saved",
        "no-check-params",
    ],
)
def test_check_ev_charger_names_the_mistake(node_types: None, make: Any, message: str) -> None:
    with pytest.raises(ExerciseError, match=message):
        check_ev_charger(make())


def test_check_ev_charger_rejects_what_is_not_a_node() -> None:
    with pytest.raises(ExerciseError, match="subclass of gridppo.nodes.Node"):
        check_ev_charger(object)


def test_check_ev_training(node_types: None, tmp_path: Path) -> None:
    register_node_type(EVHub)
    raw = default_raw_config()
    tiny = {"train.total_updates": 1, "train.num_days": 2, "train.tensorboard": False}
    with pytest.raises(ExerciseError, match="has no node of type 'ev_charger'"):
        check_ev_training(Trainer.from_config(raw, tiny, root=tmp_path))
    raw["nodes"].append({"name": "ev_4", "type": "ev_charger", "bus": 4})
    trainer = Trainer.from_config(raw, tiny, root=tmp_path)
    with pytest.raises(ExerciseError, match="has not trained yet"):
        check_ev_training(trainer)
    trainer.train(progress_bar=False)
    assert check_ev_training(trainer).startswith("Passed: ev_4 trained for 1 updates")
    with pytest.raises(ExerciseError, match="expects the Trainer"):
        check_ev_training(trainer.summary(0.0))


# -- the reward experiment ---------------------------------------------------------------------

# Tiny runs on a grid with tight branch limits, so that overloads happen at all.
COMMON = {
    "seed": 0,
    "train.total_updates": 2,
    "train.num_days": 4,
    "train.eval_interval": 1,
    "train.tensorboard": False,
    "time.validation_days": 2,
    "time.test_days": 2,
    "grid.max_loading_percent": 60.0,
}
RUNS = {
    "baseline": COMMON,
    "changed": {**COMMON, "reward.overload_penalty_eur_per_percent": 400.0},
}


@pytest.fixture(scope="module")
def summaries(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, Any]]:
    """Each run as a student's notebook has it: its best.pt on the test days beside the
    baselines, and the validation days' KPIs best.pt was chosen by."""
    root = tmp_path_factory.mktemp("runs")
    out = {}
    for run, overrides in RUNS.items():
        trainer = Trainer.from_config(None, overrides, run_name=run, root=root)
        summary = trainer.train(progress_bar=False)
        policy, config = TrainedPolicy.from_checkpoint(Path(summary["checkpoint_dir"]) / "best.pt")
        results = evaluate_on_test_days(config, [policy], baselines=("heuristic", "random"))
        out[run] = {
            "test": {name: result.kpis for name, result in results.items()},
            "validation": summary["best_eval"],
        }
    return out


def report(summaries: Mapping[str, Mapping[str, Any]]) -> dict[str, dict[str, float]]:
    return {
        run: {k: s["test"]["ippo"][k] for k in ("overload_rate", "system_cost_eur")}
        for run, s in summaries.items()
    }


def directions(summaries: Mapping[str, Mapping[str, Any]]) -> tuple[str, str]:
    def change(kpi: str, same: float) -> str:
        a, b = (summaries[run]["test"]["ippo"][kpi] for run in ("baseline", "changed"))
        return "same" if abs(b - a) < same * max(abs(a), 1) else ("higher" if b > a else "lower")

    return change("overload_rate", 1e-3), change("system_cost_eur", 5e-3)


def test_check_reward_experiment_accepts_a_right_report(summaries: dict) -> None:
    reported = report(summaries)
    assert reported["baseline"]["overload_rate"] > 0  # the mistakes below need overloads
    result = check_reward_experiment(reported, RUNS, *directions(summaries))
    assert result.startswith("Passed: your numbers match a re-run")
    rounded = {r: {k: round(v, 3) for k, v in kpis.items()} for r, kpis in reported.items()}
    assert check_reward_experiment(rounded, RUNS, *directions(summaries)).startswith("Passed")


def _swap(reported: dict) -> dict:
    return {"baseline": reported["changed"], "changed": reported["baseline"]}


def _percent(reported: dict) -> dict:
    out = {run: dict(kpis) for run, kpis in reported.items()}
    out["baseline"]["overload_rate"] *= 100
    return out


def _field(summaries: dict, run: str, kpi: str, source: Any) -> dict:
    out = report(summaries)
    out[run][kpi] = source(summaries[run])
    return out


@pytest.mark.parametrize(
    ("mistake", "message"),
    [
        (lambda s: _swap(report(s)), "did you swap the runs"),
        (lambda s: _percent(report(s)), "a share of steps in \\[0, 1\\], not a percentage"),
        (
            lambda s: _field(
                s,
                "changed",
                "system_cost_eur",
                lambda x: x["test"]["heuristic"]["system_cost_eur"],
            ),
            "the heuristic baseline's value",
        ),
        (
            lambda s: _field(
                s, "baseline", "system_cost_eur", lambda x: x["validation"]["system_cost_eur"]
            ),
            "that is the validation days' value",
        ),
        (
            lambda s: _field(
                s, "baseline", "system_cost_eur", lambda x: x["test"]["ippo"]["team_reward"]
            ),
            "that is the team reward",
        ),
        (
            lambda s: _field(
                s,
                "baseline",
                "system_cost_eur",
                lambda x: 1.2 * x["test"]["ippo"]["system_cost_eur"],
            ),
            "training it again gives",
        ),
    ],
    ids=["swapped", "percent", "baseline-value", "validation-value", "team-reward", "made-up"],
)
def test_check_reward_experiment_names_a_wrong_number(
    summaries: dict, mistake: Any, message: str
) -> None:
    with pytest.raises(ExerciseError, match=message):
        check_reward_experiment(mistake(summaries), RUNS, *directions(summaries))


def test_check_reward_experiment_checks_the_reading(summaries: dict) -> None:
    overload, cost = directions(summaries)
    wrong = "lower" if cost != "lower" else "higher"
    with pytest.raises(ExerciseError, match=f"counts as '{cost}', not '{wrong}'"):
        check_reward_experiment(report(summaries), RUNS, overload, wrong)
    with pytest.raises(ExerciseError, match="should be one of lower, higher, same"):
        check_reward_experiment(report(summaries), RUNS, "down", cost)


@pytest.mark.parametrize(
    ("runs", "reported", "message"),
    [
        ({"baseline": COMMON, "changed": COMMON}, None, "use the same overrides"),
        (
            {"baseline": COMMON, "changed": {**RUNS["changed"], "ppo.lr": 1e-3}},
            None,
            "differ in ppo.lr, reward.overload_penalty_eur_per_percent: change one",
        ),
        ({"baseline": COMMON, "changed": {**COMMON, "seed": 1}}, None, "differ in seed"),
        ({"only": COMMON}, None, "must hold two runs"),
        (
            RUNS,
            {"baseline": {"overload_rate": 0.1, "system_cost_eur": 1.0}},
            "no entry for run 'changed'",
        ),
        (
            RUNS,
            {"baseline": {"overload_rate": "0.1", "system_cost_eur": 1.0}, "changed": {}},
            "should be a number",
        ),
    ],
    ids=["no-change", "two-changes", "seed-changed", "one-run", "missing-run", "not-a-number"],
)
def test_check_reward_experiment_rejects_a_bad_setup(
    runs: dict, reported: Any, message: str
) -> None:
    reported = reported or {run: {"overload_rate": 0.0, "system_cost_eur": 1.0} for run in runs}
    with pytest.raises(ExerciseError, match=message):
        check_reward_experiment(reported, runs, "same", "same")


# -- the notebooks ---------------------------------------------------------------------------

STUDENT_NOTEBOOKS = sorted(
    p for p in ASSIGNMENTS.glob("[0-9][0-9]_*.ipynb") if not p.stem.endswith("_solution")
)
PLACEHOLDER = re.compile(r"^\s*(raise NotImplementedError|pass|[\w ,=]+= None)\s*$")


def test_there_are_assignments() -> None:
    assert len(STUDENT_NOTEBOOKS) >= 3
    for student in STUDENT_NOTEBOOKS:
        assert student.with_name(f"{student.stem}_solution.ipynb").is_file(), student


def _code_cells(path: Path) -> list[Any]:
    notebook = nbformat.read(path, as_version=4)
    nbformat.validate(notebook)
    return [cell for cell in notebook.cells if cell.cell_type == "code"]


def _skeleton(source: str) -> list[str]:
    """The lines a student is given: everything but the markers and the placeholder line
    right after each one."""
    lines, out, after_marker = source.splitlines(), [], False
    for line in lines:
        if MARKER in line:
            after_marker = True
            continue
        if after_marker and PLACEHOLDER.match(line):
            after_marker = False
            continue
        after_marker = False
        out.append(line.rstrip())
    return out


def _is_subsequence(needle: list[str], haystack: list[str]) -> bool:
    it = iter(haystack)
    return all(any(line == other for other in it) for line in needle)


@pytest.mark.parametrize("student", STUDENT_NOTEBOOKS, ids=lambda p: p.stem)
def test_student_notebook_matches_its_solution(student: Path) -> None:
    solution = student.with_name(f"{student.stem}_solution.ipynb")
    mine, theirs = _code_cells(student), _code_cells(solution)
    assert any(MARKER in cell.source for cell in mine), f"{student.name} has no {MARKER}"
    assert len(mine) == len(theirs), "the two versions have different numbers of code cells"
    for i, (cell, reference) in enumerate(zip(mine, theirs, strict=True)):
        assert not cell.outputs, f"{student.name}: cell {i} has outputs; hand it out clean"
        assert "YOUR CODE HERE" not in reference.source, f"{solution.name}: cell {i}"
        assert "NotImplementedError" not in reference.source, f"{solution.name}: cell {i}"
        if MARKER in cell.source:
            skeleton = _skeleton(cell.source)
            solved = [line.rstrip() for line in reference.source.splitlines()]
            assert _is_subsequence(skeleton, solved), (
                f"{student.name}: cell {i} gives lines its solution lacks:\n{cell.source}"
            )
        else:
            assert cell.source == reference.source, f"{student.name}: cell {i} differs"


@pytest.mark.parametrize("student", STUDENT_NOTEBOOKS, ids=lambda p: p.stem)
def test_solution_is_stored_executed_with_a_small_budget(student: Path) -> None:
    solution = student.with_name(f"{student.stem}_solution.ipynb")
    cells = _code_cells(solution)
    assert all(cell.execution_count is not None for cell in cells), "execute it before committing"
    assert not any(o.output_type == "error" for cell in cells for o in cell.outputs)
    checks = [cell for cell in cells if re.search(r"^check_\w+\(", cell.source, re.M)]
    assert checks and all(cell.outputs for cell in checks), "every checker cell shows its verdict"
    for cell in cells:
        if "Trainer.from_config(" in cell.source:
            # Every training merges quick_overrides() so that nbval runs it in seconds.
            assert "quick_overrides()" in cell.source


def test_the_drift_check_itself() -> None:
    student = (
        'def f(x):\n    """Double x."""\n    # YOUR CODE HERE\n    raise NotImplementedError\n'
    )
    solution = 'def f(x):\n    """Double x."""\n    return 2 * x\n'
    assert _skeleton(student) == ["def f(x):", '    """Double x."""']
    assert _is_subsequence(_skeleton(student), solution.splitlines())
    drifted = solution.replace("Double", "Triple")
    assert not _is_subsequence(_skeleton(student), drifted.splitlines())
    reordered = '    """Double x."""\ndef f(x):\n    return 2 * x\n'
    assert not _is_subsequence(_skeleton(student), reordered.splitlines())
