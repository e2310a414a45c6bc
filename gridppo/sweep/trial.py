"""A sweep's trials: which settings to run, and one trial from training to test results.

A sweep trains one ordinary gridppo run per *setting*: a value for each swept config
key, the seed among them. Every trial has its own folder under the sweep's directory,
named after its setting so that the same command finds it again::

    SWEEP/sweep.json                      what was swept, and the base configuration
    SWEEP/trials/ppo.lr=0.001,seed=0/     metrics.csv, TensorBoard events, config.yaml,
                                          best.pt, last.pt, update_N.pt, results.json

``results.json`` is written last, when the trial's ``best.pt`` (chosen on the
validation days) has been evaluated on the held-out test days against the day's
optimum. A trial with a results file is finished and never runs again; one with a
``last.pt`` but no results (a killed sweep) resumes from it. Nothing here needs Ray:
:mod:`gridppo.sweep.runner` hands these trials to Ray Tune, and
:mod:`gridppo.sweep.summary` reads their results files.
"""

from __future__ import annotations

import copy
import itertools
import json
import os
import time
import urllib.parse
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from gridppo.config.fields import ConfigError, parse_settings, parse_value
from gridppo.config.loader import load_config
from gridppo.config.schema import SCHEMA
from gridppo.evaluation.protocol import evaluate_on_test_days
from gridppo.training.trained_policy import TrainedPolicy
from gridppo.training.trainer import Trainer

__all__ = [
    "RESULTS_FILE",
    "SWEEP_FILE",
    "TEST_KPIS",
    "TRIALS_DIR",
    "SweepPlan",
    "Trial",
    "check_sweep_dir",
    "parse_values",
    "plan_sweep",
    "read_trial_results",
    "run_trial",
    "setting_name",
]

TRIALS_DIR = "trials"
RESULTS_FILE = "results.json"
SWEEP_FILE = "sweep.json"

# The test-day KPIs every trial reports (names as in EvalResult.kpis).
TEST_KPIS = (
    "system_cost_eur",
    "gap_to_optimum_percent",
    "overload_rate",
    "voltage_violation_rate",
    "unserved_energy_mwh",
)

# Keys that may differ between two runs of one sweep: they change how fast a trial
# runs, not what it computes.
_ANY_VALUE = ("train.torch_threads",)


def parse_values(items: Sequence[str] | Mapping[str, Sequence[Any]]) -> dict[str, list[Any]]:
    """The swept values, ``{key: [value, ...]}``, from ``--values`` items such as
    ``"ppo.lr=1e-3,3e-4"`` and ``"seed=0,1,2"`` (or from such a dict, checked).

    Values are read as ``--set`` reads them (:func:`~gridppo.config.fields.parse_value`);
    commas inside brackets belong to a list value (``ppo.hidden_sizes=[64,64],[128]``).
    A value given twice counts once. Raises ConfigError for an item that is not
    ``KEY=V1,V2,...``, a key given twice or a key without values.
    """
    if isinstance(items, Mapping):
        pairs = [(str(k), _as_list(v)) for k, v in items.items()]
    else:
        pairs = [_parse_item(item) for item in items]
    out: dict[str, list[Any]] = {}
    for key, values in pairs:
        if key in out:
            raise ConfigError(f"{key}: swept twice; give all its values in one --values")
        unique = [v for i, v in enumerate(values) if v not in values[:i]]
        if not unique:
            raise ConfigError(f"{key}: no values to sweep")
        out[key] = unique
    if not out:
        raise ConfigError("--values: nothing to sweep, e.g. --values seed=0,1,2")
    return out


def _as_list(values: Any) -> list[Any]:
    """A key's values as a list of plain Python values (numpy's too)."""
    if isinstance(values, np.ndarray):
        return values.tolist()
    if not isinstance(values, list | tuple | range):
        values = [values]
    return [v.item() if isinstance(v, np.generic) else v for v in values]


def _parse_item(item: str) -> tuple[str, list[Any]]:
    pieces = _split_top_level(item)
    # The first piece is an ordinary KEY=VALUE setting; the others are further values.
    ((key, first),) = parse_settings([pieces[0]]).items()
    for piece in pieces[1:]:
        if "=" in piece:
            raise ConfigError(
                f"{item}: one key per --values, e.g. --values ppo.lr=1e-3,3e-4 --values seed=0,1"
            )
    return key, [first, *(parse_value(p.strip()) for p in pieces[1:])]


def _split_top_level(text: str) -> list[str]:
    """``text`` split at the commas outside brackets."""
    pieces, depth, start = [], 0, 0
    for i, char in enumerate(text):
        depth += {"[": 1, "]": -1}.get(char, 0)
        if char == "," and depth == 0:
            pieces.append(text[start:i])
            start = i + 1
    return [*pieces, text[start:]]


def _format_value(value: Any) -> str:
    """A value as ``--set`` would take it back: ``0.001``, ``true``, ``[64,64]``."""
    if isinstance(value, str):
        return value
    return json.dumps(value, separators=(",", ":"))


def setting_name(setting: Mapping[str, Any]) -> str:
    """The folder name of a setting, e.g. ``ppo.lr=0.001,seed=0``: its keys sorted, the
    seed last, each ``KEY=VALUE`` as ``--set`` would take it. Characters a file name
    cannot hold are %-escaped."""
    keys = sorted(setting, key=lambda k: (k == "seed", k))
    text = ",".join(f"{k}={_format_value(setting[k])}" for k in keys)
    return urllib.parse.quote(text, safe="=,.-_+[]:@")


@dataclass(frozen=True)
class Trial:
    """One run of a sweep: its folder ``name``, its ``setting`` (swept key -> value) and
    its validated ``config`` (plain data, so it travels to a worker process)."""

    name: str
    setting: dict[str, Any]
    config: dict[str, Any]


@dataclass
class SweepPlan:
    """What a sweep runs: the swept ``values``, the ``base`` configuration every trial
    starts from (before its setting) and the ``trials``."""

    values: dict[str, list[Any]]
    base: dict[str, Any]
    trials: list[Trial] = field(default_factory=list)

    @property
    def keys(self) -> list[str]:
        """The swept keys."""
        return list(self.values)


def plan_sweep(
    values: Mapping[str, Sequence[Any]] | Sequence[str],
    overrides: Sequence[str] | Mapping[str, Any] | None = (),
    config: str | os.PathLike | Mapping[str, Any] | None = None,
    samples: int | None = None,
    torch_threads: int = 1,
    settings: Sequence[Mapping[str, Any]] | None = None,
) -> SweepPlan:
    """The trials of a sweep, every configuration checked before anything runs.

    Every trial starts from ``config`` (a YAML path, a dict or None for the default)
    with ``overrides`` (``--set``), then its setting. Without ``samples`` the trials are
    the full grid of ``values``; with ``samples=N``, N settings of the keys other than
    ``seed`` are drawn at random (without repeats, from a fixed generator, so the same
    command draws the same settings and a rerun finds its trials), each run with every
    seed. With ``settings``, the trials are those settings instead of the grid (each
    with every seed of ``values``), e.g. the algorithms of
    :mod:`gridppo.sweep.compare`. ``train.torch_threads`` is ``torch_threads`` unless
    ``overrides`` set it. Raises ConfigError for a bad key or value.
    """
    if settings is not None:  # the values record every value the settings take
        values = dict(parse_values(values))
        for setting in settings:
            for key, value in setting.items():
                values.setdefault(key, [])
                if value not in values[key]:
                    values[key].append(value)
    values = parse_values(values)
    overrides = parse_settings(overrides)
    both = sorted(set(values) & set(overrides))
    if both:
        raise ConfigError(f"{both[0]}: given both to --values and --set")
    source = str(config) if isinstance(config, os.PathLike) else config
    base = load_config(source, {"train.torch_threads": torch_threads, **overrides})
    _make_paths_absolute(base)
    # Every run of the sweep lives in one folder, SWEEP/trials/NAME (Trainer's root is SWEEP).
    base["train"]["log_dir"] = base["train"]["checkpoint_dir"] = TRIALS_DIR
    keys = [k for k in values if k != "seed"]
    combinations = itertools.product(*(values[k] for k in keys))
    if settings is None:
        settings = [dict(zip(keys, c, strict=True)) for c in combinations]
    else:
        settings = [dict(s) for s in settings]
    if samples is not None:
        if samples < 1:
            raise ConfigError(f"--samples: must be at least 1, got {samples}")
        if samples < len(settings):
            picked = np.random.default_rng(0).choice(len(settings), samples, replace=False)
            settings = [settings[i] for i in sorted(picked)]
    seeds = [{"seed": s} for s in values.get("seed", [])] or [{}]
    plan = SweepPlan(values=values, base=base)
    for setting, seed in itertools.product(settings, seeds):
        setting = {**setting, **seed}
        trial_config = load_config(base, setting)
        plan.trials.append(Trial(setting_name(setting), setting, trial_config))
    return plan


def _make_paths_absolute(config: dict[str, Any]) -> None:
    """Path settings (a profile CSV, a network's JSON file) relative to where the sweep
    starts, made absolute: trials run in worker processes, possibly on other machines,
    elsewhere."""
    for section, fields in SCHEMA.items():
        target = config if section == "" else config.get(section, {})
        for key, spec in fields.items():
            if spec.kind == "path" and isinstance(target.get(key), str):
                target[key] = str(Path(target[key]).expanduser().resolve())
    network = config.get("grid", {}).get("network")
    if isinstance(network, str) and network.endswith(".json"):
        config["grid"]["network"] = str(Path(network).expanduser().resolve())


def _first_difference(a: Any, b: Any, where: str = "") -> str | None:
    """The first dotted key at which two plain-data configs differ, or None."""
    if isinstance(a, Mapping) and isinstance(b, Mapping):
        for key in list(a) + [k for k in b if k not in a]:
            dotted = f"{where}.{key}" if where else str(key)
            if dotted in _ANY_VALUE:
                continue
            if key not in a or key not in b:
                return dotted
            found = _first_difference(a[key], b[key], dotted)
            if found:
                return found
        return None
    return None if a == b else where or "config"


def check_sweep_dir(sweep_dir: str | os.PathLike, plan: SweepPlan) -> None:
    """Make ``sweep_dir`` the home of this sweep: write ``sweep.json`` the first time;
    later, refuse (ConfigError) a base configuration other than the one its trials ran
    with, so one folder never mixes two configurations. Other values of the swept keys
    are welcome: they add trials."""
    sweep_dir = Path(sweep_dir)
    path = sweep_dir / SWEEP_FILE
    values = {key: list(v) for key, v in plan.values.items()}
    trials = [t.name for t in plan.trials]
    if path.is_file():
        stored = json.loads(path.read_text(encoding="utf-8"))
        # Compared as JSON reads them back (a tuple is a list there).
        key = _first_difference(stored["base"], json.loads(json.dumps(plan.base, default=str)))
        if key is not None:
            raise ConfigError(
                f"{key}: differs from the configuration of the sweep in {sweep_dir}; "
                "give this sweep another --name or --dir"
            )
        # The record keeps every value and trial any run of this sweep planned.
        trials = stored["trials"] + [t for t in trials if t not in stored["trials"]]
        for key, old in stored["values"].items():
            values[key] = old + [v for v in values.get(key, []) if v not in old]
    sweep_dir.mkdir(parents=True, exist_ok=True)
    _write_json(path, {"values": values, "base": plan.base, "trials": trials})


def _write_json(path: Path, data: Any) -> None:
    """Write ``data`` as JSON atomically: a kill leaves the old file or the new one."""
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    tmp.write_text(json.dumps(data, indent=2, default=str) + "\n", encoding="utf-8")
    os.replace(tmp, path)


def read_trial_results(folder: str | os.PathLike) -> dict[str, Any] | None:
    """A finished trial's results (its ``results.json``), or None if it has not finished."""
    path = Path(folder) / RESULTS_FILE
    if not path.is_file():
        return None
    return json.loads(path.read_text(encoding="utf-8"))


def run_trial(trial: Trial | Mapping[str, Any], sweep_dir: str | os.PathLike) -> dict[str, Any]:
    """Train one trial (or resume it from its ``last.pt``), test its ``best.pt`` on the
    held-out test days against the day's optimum, write ``results.json``; returns the
    results. A finished trial is not trained again: its results are returned as they are.

    The results hold the ``setting``, the test ``kpis`` (:data:`TEST_KPIS`), every other
    test KPI of the trained policy and of the optimum, the number of test days, the
    updates trained, the update this session started from (0 unless resumed) and the
    training time (``train_time_s``: rollouts and updates, over every session).
    """
    if isinstance(trial, Trial):
        name, setting, config = trial.name, trial.setting, trial.config
    else:
        name, setting, config = trial["name"], trial["setting"], trial["config"]
    sweep_dir = Path(sweep_dir)
    folder = sweep_dir / TRIALS_DIR / name
    done = read_trial_results(folder)
    if done is not None:
        return done
    start = time.perf_counter()
    last = folder / "last.pt"
    if last.is_file():
        trainer = Trainer.resume(last, root=sweep_dir)
    else:
        trainer = Trainer(copy.deepcopy(dict(config)), run_name=name, root=sweep_dir)
    resumed_from = trainer.update
    summary = trainer.train(progress_bar=False)
    policy, cfg = TrainedPolicy.from_checkpoint(folder / "best.pt")
    tested = evaluate_on_test_days(cfg, [policy], baselines=("optimum",))
    ippo, optimum = tested[policy.name].kpis, tested["optimum"].kpis
    results = {
        "trial": name,
        "setting": dict(setting),
        "kpis": {key: float(ippo[key]) for key in TEST_KPIS},
        "test_kpis": {key: float(v) for key, v in ippo.items()},
        "optimum_kpis": {key: float(v) for key, v in optimum.items()},
        "test_days": int(cfg["time"]["test_days"]),
        "checkpoint": "best.pt",
        "updates": trainer.update,
        "resumed_from_update": resumed_from,
        "wall_time_s": time.perf_counter() - start,
        "train_time_s": float(summary["train_time_s"]),
    }
    _write_json(folder / RESULTS_FILE, results)
    return results
