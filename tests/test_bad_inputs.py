"""The bad-input catalogue: every kind of wrong input fails with one documented exception
and a one-line message that says what is wrong.

Each row of :data:`CATALOGUE` is one bad input (a config, an action, a checkpoint or a
profile CSV), the exception it must raise and a substring its message must contain.
The Python API raises :class:`~gridppo.ConfigError` for configs and profile CSVs,
:class:`~gridppo.ActionError` for actions and :class:`~gridppo.CheckpointError` for
checkpoints; the command line turns each into one line on stderr and exit status 2.
"""

from __future__ import annotations

import copy
import csv
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest
import torch
import yaml
from helpers import zero_actions

from gridppo import (
    ActionError,
    BatchedGridEnv,
    CheckpointError,
    ConfigError,
    GridEnv,
    PowerGrid,
    TrainedPolicy,
    Trainer,
    load_config,
)
from gridppo.cli import main
from gridppo.config.loader import DEFAULT_CONFIG_PATH
from gridppo.grid.profiles import read_profiles_csv
from gridppo.training.checkpoints import load_checkpoint

RAW = yaml.safe_load(DEFAULT_CONFIG_PATH.read_text())
TINY = {
    "train.num_days": 2,
    "train.total_updates": 1,
    "train.eval_interval": 1,
    "train.tensorboard": False,
    "time.train_days": 5,
    "time.validation_days": 2,
    "time.test_days": 2,
}


class NotPlainData:
    """An arbitrary object: pickled into a checkpoint, it must be refused on load."""

    def __reduce__(self) -> tuple:
        return (print, ("this would run on load",))


@dataclass
class BadInput:
    """One catalogue entry: ``trigger(ctx)`` must raise ``error`` with ``needle`` in it."""

    kind: str
    name: str
    trigger: Callable[[SimpleNamespace], Any]
    error: type[Exception]
    needle: str


# -- builders ------------------------------------------------------------------------------


def raw_with(**sections: Any) -> dict[str, Any]:
    """The shipped config with whole top-level entries replaced or added."""
    out = copy.deepcopy(RAW)
    out.update(sections)
    return out


def raw_node(name: str, **changes: Any) -> dict[str, Any]:
    """The shipped config with one node's entries changed."""
    out = copy.deepcopy(RAW)
    next(n for n in out["nodes"] if n["name"] == name).update(changes)
    return out


def overrides(*items: str) -> Callable[[SimpleNamespace], Any]:
    return lambda ctx: load_config(None, list(items))


def raw_config(raw: dict[str, Any]) -> Callable[[SimpleNamespace], Any]:
    return lambda ctx: load_config(raw)


def config_file(text: str | bytes) -> Callable[[SimpleNamespace], Any]:
    def trigger(ctx: SimpleNamespace) -> Any:
        path = ctx.tmp / "config.yaml"
        path.write_bytes(text if isinstance(text, bytes) else text.encode())
        return load_config(path)

    return trigger


def profile_rows(n_days: int = 3, steps: int = 24) -> list[list[Any]]:
    """A valid profile table: ``n_days`` days of ``steps`` steps."""
    return [[d, s, 0.8, 0.3, 40.0] for d in range(n_days) for s in range(steps)]


def write_csv(path: Path, rows: list[list[Any]], header: list[str] | None = None) -> Path:
    header = header or ["day", "step", "load_pu", "pv_pu", "price_eur_per_mwh"]
    with open(path, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def profiles(
    edit: Callable[[list[list[Any]]], list[list[Any]]] = lambda rows: rows,
    header: list[str] | None = None,
    train_days: int = 1,
    validation_days: int = 1,
) -> Callable[[SimpleNamespace], Any]:
    """Read a CSV made from the valid table after ``edit``, with 1 training and 1
    validation day (the third day is the test day)."""

    def trigger(ctx: SimpleNamespace) -> Any:
        path = write_csv(ctx.tmp / "profiles.csv", edit(profile_rows()), header)
        return read_profiles_csv(path, 24, train_days, validation_days)

    return trigger


def set_cell(row: int, column: int, value: Any) -> Callable[[list[list[Any]]], list[list[Any]]]:
    def edit(rows: list[list[Any]]) -> list[list[Any]]:
        rows[row][column] = value
        return rows

    return edit


def raw_profiles(content: bytes) -> Callable[[SimpleNamespace], Any]:
    def trigger(ctx: SimpleNamespace) -> Any:
        path = ctx.tmp / "profiles.csv"
        path.write_bytes(content)
        return read_profiles_csv(path, 24, 1, 1)

    return trigger


def step(**changes: Any) -> Callable[[SimpleNamespace], Any]:
    """One batched step (B = 2) with some agents' actions replaced."""

    def trigger(ctx: SimpleNamespace) -> Any:
        env = BatchedGridEnv(grid=ctx.grid, batch_size=2)
        env.reset(seed=0)
        actions = {**zero_actions(env), **changes}
        return env.step({k: v for k, v in actions.items() if v is not None})

    return trigger


def single_step(**changes: Any) -> Callable[[SimpleNamespace], Any]:
    """One step of the PettingZoo form (B = 1) with some agents' actions replaced."""

    def trigger(ctx: SimpleNamespace) -> Any:
        env = GridEnv(grid=ctx.grid)
        env.reset(seed=0)
        actions = {a: np.zeros(env.action_space(a).shape) for a in env.possible_agents}
        return env.step({**actions, **changes})

    return trigger


def checkpoint_bytes(make: Callable[[bytes], bytes]) -> Callable[[SimpleNamespace], Any]:
    """Load a checkpoint whose bytes are ``make(good checkpoint's bytes)``."""

    def trigger(ctx: SimpleNamespace) -> Any:
        path = ctx.tmp / "bad.pt"
        path.write_bytes(make(ctx.checkpoint.read_bytes()))
        return load_checkpoint(path)

    return trigger


def saved(obj_from_good: Callable[[dict[str, Any]], Any], load: str = "load"):
    """``torch.save`` an object made from the good checkpoint's state, then load it."""

    def trigger(ctx: SimpleNamespace) -> Any:
        path = ctx.tmp / "bad.pt"
        torch.save(obj_from_good(torch.load(ctx.checkpoint, weights_only=True)), path)
        if load == "policy":
            return TrainedPolicy.from_checkpoint(path)
        return load_checkpoint(path)

    return trigger


def with_key(key: str, value: Any) -> Callable[[dict[str, Any]], dict[str, Any]]:
    def make(state: dict[str, Any]) -> dict[str, Any]:
        state[key] = value
        return state

    return make


def per_type_config(state: dict[str, Any]) -> dict[str, Any]:
    state["config"]["ppo"]["parameter_sharing"] = "per_type"
    return state


def resume_with(*items: str) -> Callable[[SimpleNamespace], Any]:
    return lambda ctx: Trainer.resume(ctx.checkpoint, list(items))


def resume_from_broken_folder(ctx: SimpleNamespace) -> Any:
    folder = ctx.tmp / "checkpoints" / "broken"
    folder.mkdir(parents=True)
    for name in ("last.pt", "best.pt", "update_000001.pt"):
        (folder / name).write_bytes(ctx.checkpoint.read_bytes()[:100])
    return Trainer.resume(folder / "last.pt")


def grid_of(raw: dict[str, Any]) -> Callable[[SimpleNamespace], Any]:
    return lambda ctx: PowerGrid(load_config(raw))


# -- the catalogue -------------------------------------------------------------------------

CATALOGUE = [
    # Configs: unknown keys name the nearest valid one.
    BadInput(
        "config", "misspelt key", overrides("ppo.lrr=0.1"), ConfigError, "did you mean 'ppo.lr'"
    ),
    BadInput(
        "config",
        "misspelt section",
        raw_config(raw_with(trian={"num_days": 4})),
        ConfigError,
        "trian: unknown key (did you mean 'train'?)",
    ),
    BadInput(
        "config",
        "unknown node parameter",
        overrides("nodes.battery_3.capacity_mw=5"),
        ConfigError,
        "did you mean 'nodes.battery_3.capacity_mwh'",
    ),
    BadInput(
        "config",
        "unknown node",
        overrides("nodes.batery_3.max_p_mw=30"),
        ConfigError,
        "no node named 'batery_3' (did you mean 'battery_3'?)",
    ),
    BadInput(
        "config",
        "unknown node type",
        raw_config(raw_node("battery_3", type="baterry")),
        ConfigError,
        "unknown node type 'baterry' (did you mean 'battery'?)",
    ),
    # Configs: types and ranges.
    BadInput(
        "config",
        "word for a number",
        overrides("ppo.lr=fast"),
        ConfigError,
        "ppo.lr: expected a number, got 'fast'",
    ),
    BadInput(
        "config",
        "bool for an integer",
        overrides("train.num_days=true"),
        ConfigError,
        "train.num_days: expected an integer",
    ),
    BadInput("config", "NaN", overrides("ppo.lr=.nan"), ConfigError, "ppo.lr: must be finite"),
    BadInput(
        "config",
        "above the range",
        overrides("ppo.gamma=1.5"),
        ConfigError,
        "ppo.gamma: must be at most 1",
    ),
    BadInput(
        "config",
        "zero-width layer",
        overrides("ppo.hidden_sizes=[64, 0]"),
        ConfigError,
        "ppo.hidden_sizes: must be at least 1, got 0",
    ),
    BadInput(
        "config",
        "negative capacity",
        overrides("nodes.battery_3.capacity_mwh=-5"),
        ConfigError,
        "capacity_mwh: must be greater than 0",
    ),
    BadInput(
        "config",
        "node type not a string",
        raw_config(raw_node("battery_3", type=["battery"])),
        ConfigError,
        "nodes.battery_3.type: unknown node type",
    ),
    # Configs: values that make no physical sense together.
    BadInput(
        "config",
        "bus past the grid",
        overrides("nodes.battery_3.bus=14"),
        ConfigError,
        "bus 14 does not exist (case14 has buses 0..13)",
    ),
    BadInput(
        "config",
        "negative bus",
        overrides("nodes.consumer_4.bus=-1"),
        ConfigError,
        "bus -1 does not exist",
    ),
    BadInput(
        "config",
        "SOC band upside down",
        overrides("nodes.battery_3.min_soc=0.95"),
        ConfigError,
        "nodes.battery_3.min_soc: must be below max_soc (0.9)",
    ),
    BadInput(
        "config",
        "initial SOC outside band",
        overrides("nodes.battery_8.initial_soc=0.05"),
        ConfigError,
        "initial_soc: must lie within min_soc..max_soc",
    ),
    BadInput(
        "config",
        "producer min above max",
        overrides("nodes.producer_2.min_p_mw=150"),
        ConfigError,
        "min_p_mw: must not exceed max_p_mw (100.0)",
    ),
    BadInput(
        "config",
        "flexible energy too large",
        overrides("nodes.business_9.flex_energy_mwh=200"),
        ConfigError,
        "cannot be delivered in a day",
    ),
    BadInput(
        "config",
        "voltage band empty",
        overrides("grid.min_vm_pu=1.0", "grid.max_vm_pu=1.0"),
        ConfigError,
        "must be below grid.max_vm_pu",
    ),
    BadInput(
        "config",
        "steps per day",
        overrides("time.steps_per_day=7"),
        ConfigError,
        "must divide 1440",
    ),
    BadInput(
        "config",
        "rollout length",
        overrides("train.rollout_steps=7"),
        ConfigError,
        "train.rollout_steps: must divide time.steps_per_day (24) or be a multiple",
    ),
    BadInput(
        "config",
        "more minibatches than samples",
        overrides("train.num_days=2", "ppo.num_minibatches=100"),
        ConfigError,
        "ppo.num_minibatches: must be at most train.num_days x train.rollout_steps (48",
    ),
    BadInput(
        "config",
        "duplicate node",
        raw_config(
            raw_with(nodes=RAW["nodes"] + [{"name": "consumer_4", "type": "battery", "bus": 6}])
        ),
        ConfigError,
        "nodes.consumer_4: the name is used twice",
    ),
    BadInput(
        "config",
        "empty node list",
        raw_config(raw_with(nodes=[])),
        ConfigError,
        "nodes: expected a non-empty list of nodes",
    ),
    BadInput(
        "config",
        "consumer without a load",
        grid_of(
            raw_with(nodes=RAW["nodes"] + [{"name": "consumer_0", "type": "consumer", "bus": 0}])
        ),
        ConfigError,
        "bus 0 has no load",
    ),
    # Configs: the override syntax and the file.
    BadInput(
        "config",
        "override without '='",
        overrides("ppo.lr"),
        ConfigError,
        "must look like KEY=VALUE",
    ),
    BadInput(
        "config", "override of a section", overrides("grid=3"), ConfigError, "grid: is a section"
    ),
    BadInput(
        "config", "invalid YAML", config_file("grid: [unclosed\n"), ConfigError, "is not valid YAML"
    ),
    BadInput(
        "config",
        "not a mapping",
        config_file("- 1\n- 2\n"),
        ConfigError,
        "expected a mapping of sections",
    ),
    BadInput("config", "not text", config_file(b"\xff\xfe\x00garbage"), ConfigError, "cannot read"),
    BadInput(
        "config",
        "missing file",
        lambda ctx: load_config(ctx.tmp / "nope.yaml"),
        ConfigError,
        "no such file",
    ),
    # Actions.
    BadInput(
        "action",
        "wrong shape",
        step(producer_1=np.zeros((3, 2))),
        ActionError,
        "actions['producer_1']: expected shape (2, 2), got (3, 2)",
    ),
    BadInput(
        "action",
        "NaN",
        step(battery_3=np.array([[0.0], [np.nan]])),
        ActionError,
        "actions['battery_3']: contains NaN or infinite values",
    ),
    BadInput(
        "action",
        "infinity",
        step(business_9=np.array([[0.0, np.inf], [0.0, 0.0]])),
        ActionError,
        "contains NaN or infinite values",
    ),
    BadInput(
        "action",
        "missing agent",
        step(battery_8=None),
        ActionError,
        "missing for agent(s) battery_8",
    ),
    BadInput(
        "action",
        "unknown agent",
        step(heater_6=np.zeros((2, 1))),
        ActionError,
        "unknown agent(s) heater_6",
    ),
    BadInput(
        "action",
        "single env, wrong shape",
        single_step(business_13=np.zeros(1)),
        ActionError,
        "actions['business_13']: expected shape (2,), got (1,)",
    ),
    BadInput(
        "action",
        "single env, NaN",
        single_step(consumer_5=np.array([np.nan])),
        ActionError,
        "contains NaN or infinite values",
    ),
    # Checkpoints.
    BadInput(
        "checkpoint",
        "missing file",
        lambda ctx: load_checkpoint(ctx.tmp / "none.pt"),
        CheckpointError,
        "no such file",
    ),
    BadInput(
        "checkpoint",
        "truncated",
        checkpoint_bytes(lambda good: good[: len(good) // 2]),
        CheckpointError,
        "is corrupt or truncated",
    ),
    BadInput(
        "checkpoint",
        "empty",
        checkpoint_bytes(lambda good: b""),
        CheckpointError,
        "is corrupt or truncated",
    ),
    BadInput(
        "checkpoint",
        "garbage",
        checkpoint_bytes(lambda good: bytes(range(256)) * 8),
        CheckpointError,
        "is corrupt or truncated",
    ),
    BadInput(
        "checkpoint",
        "flipped bytes",
        checkpoint_bytes(
            lambda good: good[:64] + bytes(b ^ 0xFF for b in good[64:4096]) + good[4096:]
        ),
        CheckpointError,
        "is corrupt or truncated",
    ),
    BadInput(
        "checkpoint",
        "arbitrary pickled object",
        saved(lambda good: {"x": NotPlainData()}),
        CheckpointError,
        "holds objects other than tensors and plain data (print); refused",
    ),
    BadInput(
        "checkpoint",
        "not a gridppo checkpoint",
        saved(lambda good: {"weights": torch.zeros(3)}),
        CheckpointError,
        "is not a gridppo checkpoint",
    ),
    BadInput(
        "checkpoint",
        "older format",
        saved(with_key("format_version", 1)),
        CheckpointError,
        "has format 1; this version of gridppo reads format 4",
    ),
    BadInput(
        "checkpoint",
        "missing training state",
        saved(lambda good: {k: v for k, v in good.items() if k != "training"}),
        CheckpointError,
        "lacks training",
    ),
    BadInput(
        "checkpoint",
        "learners do not fit the config",
        saved(per_type_config, load="policy"),
        CheckpointError,
        "does not fit its own configuration",
    ),
    BadInput(
        "checkpoint",
        "config this version rejects",
        saved(with_key("config", {"ppo": {"lrr": 1}}), load="policy"),
        CheckpointError,
        "holds a configuration this version rejects",
    ),
    BadInput(
        "checkpoint",
        "resume changing the model",
        resume_with("ppo.lr=0.1"),
        ConfigError,
        "ppo.lr: cannot be changed when resuming a run",
    ),
    BadInput(
        "checkpoint",
        "resume with every file broken",
        resume_from_broken_folder,
        CheckpointError,
        "no other readable checkpoint in",
    ),
    # Profile CSVs.
    BadInput(
        "csv",
        "missing file",
        lambda ctx: read_profiles_csv(ctx.tmp / "none.csv", 24, 1, 1),
        ConfigError,
        "time.profiles_csv: no such file",
    ),
    BadInput(
        "csv",
        "missing column",
        profiles(header=["day", "step", "load_pu", "pv", "price_eur_per_mwh"]),
        ConfigError,
        "lacks column(s) pv_pu",
    ),
    BadInput("csv", "header only", profiles(edit=lambda rows: []), ConfigError, "has no data rows"),
    BadInput(
        "csv",
        "word for a number",
        profiles(set_cell(5, 2, "high")),
        ConfigError,
        "has a non-numeric value",
    ),
    BadInput(
        "csv", "NaN", profiles(set_cell(5, 4, "nan")), ConfigError, "has NaN or infinite values"
    ),
    BadInput(
        "csv",
        "infinity",
        profiles(set_cell(7, 2, "inf")),
        ConfigError,
        "has NaN or infinite values",
    ),
    BadInput(
        "csv", "negative load", profiles(set_cell(3, 2, -0.5)), ConfigError, "load_pu must be >= 0"
    ),
    BadInput(
        "csv", "PV above 1", profiles(set_cell(12, 3, 1.5)), ConfigError, "pv_pu within [0, 1]"
    ),
    BadInput(
        "csv",
        "step past the day",
        profiles(set_cell(10, 1, 24)),
        ConfigError,
        "steps must lie in 0..23",
    ),
    BadInput(
        "csv",
        "a step missing",
        profiles(edit=lambda rows: rows[:-1]),
        ConfigError,
        "expected 3 days x 24 steps, each once; got 71 rows",
    ),
    BadInput("csv", "a step twice", profiles(set_cell(1, 1, 0)), ConfigError, "each once"),
    BadInput(
        "csv",
        "row cut short",
        raw_profiles(b"day,step,load_pu,pv_pu,price_eur_per_mwh\n0,0,0.8\n"),
        ConfigError,
        "line 2 has too few values",
    ),
    BadInput(
        "csv",
        "no test days",
        profiles(train_days=2, validation_days=1),
        ConfigError,
        "needs more than time.train_days + time.validation_days (3) to leave test days",
    ),
    BadInput(
        "csv",
        "no test days after the validation days",
        profiles(train_days=1, validation_days=2),
        ConfigError,
        "needs more than time.train_days + time.validation_days (3) to leave test days",
    ),
    BadInput(
        "csv", "not text", raw_profiles(b"\xff\xfe\x00\x81garbage"), ConfigError, "cannot read"
    ),
]


@pytest.fixture(scope="module")
def good_checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A real checkpoint of a one-update run, to damage in many ways."""
    root = tmp_path_factory.mktemp("good")
    trainer = Trainer.from_config(None, TINY, run_name="good", root=root)
    trainer.train(progress_bar=False)
    return trainer.checkpoint_dir / "last.pt"


@pytest.fixture
def ctx(tmp_path: Path, grid: PowerGrid, good_checkpoint: Path) -> SimpleNamespace:
    return SimpleNamespace(tmp=tmp_path, grid=grid, checkpoint=good_checkpoint)


def test_the_catalogue_is_large_and_covers_every_kind() -> None:
    kinds = {entry.kind for entry in CATALOGUE}
    assert kinds == {"config", "action", "checkpoint", "csv"}
    assert len(CATALOGUE) >= 20
    assert len({(e.kind, e.name) for e in CATALOGUE}) == len(CATALOGUE)


@pytest.mark.parametrize("entry", CATALOGUE, ids=lambda e: f"{e.kind}: {e.name}")
def test_bad_input_fails_with_one_clear_line(entry: BadInput, ctx: SimpleNamespace) -> None:
    with pytest.raises(entry.error) as info:
        entry.trigger(ctx)
    message = str(info.value)
    assert type(info.value) is entry.error, f"{type(info.value).__name__}: {message}"
    assert entry.needle in message, message
    assert "\n" not in message and message == message.strip(), repr(message)


def test_a_refused_checkpoint_never_runs_its_code(
    ctx: SimpleNamespace, capsys: pytest.CaptureFixture[str]
) -> None:
    path = ctx.tmp / "evil.pt"
    torch.save({"x": NotPlainData()}, path)
    with pytest.raises(CheckpointError, match=str(path).replace("\\", "\\\\")):
        load_checkpoint(path)
    assert "this would run on load" not in capsys.readouterr().out


# -- the command line ------------------------------------------------------------------


def cli_cases(tmp: Path, checkpoint: Path) -> dict[str, tuple[list[str], str]]:
    """argv and an expected substring of the one-line error, per bad input."""
    bad_csv = write_csv(tmp / "short.csv", profile_rows()[:-1])
    corrupt = tmp / "corrupt.pt"
    corrupt.write_bytes(checkpoint.read_bytes()[:500])
    evil = tmp / "evil.pt"
    torch.save({"x": NotPlainData()}, evil)
    sim = ["simulate", "--days", "1", "--plot", str(tmp / "day.png")]
    csv_sets = [
        "--set",
        f"time.profiles_csv={bad_csv}",
        "--set",
        "time.train_days=1",
        "--set",
        "time.validation_days=1",
    ]
    return {
        "config typo": ([*sim, "--set", "grid.max_vm_p=1.04"], "did you mean 'grid.max_vm_pu'"),
        "SOC band": ([*sim, "--set", "nodes.battery_3.min_soc=0.95"], "must be below max_soc"),
        "bad CSV": ([*sim, *csv_sets], "expected 3 days x 24 steps"),
        "missing checkpoint": (
            ["evaluate", "--checkpoint", str(tmp / "none.pt")],
            "no such file",
        ),
        "corrupt checkpoint": (
            ["evaluate", "--checkpoint", str(corrupt)],
            "is corrupt or truncated",
        ),
        "pickled object": (["evaluate", "--checkpoint", str(evil)], "refused"),
        "resume missing": (["train", "--resume", str(tmp / "nowhere" / "last.pt")], "no such"),
        "resume with --config": (
            ["train", "--resume", str(checkpoint), "--config", str(DEFAULT_CONFIG_PATH)],
            "keeps its checkpoint's config",
        ),
        "resume changing ppo.lr": (
            ["train", "--resume", str(checkpoint), "--set", "ppo.lr=0.1"],
            "cannot be changed when resuming",
        ),
    }


CLI_CASES = [
    "config typo",
    "SOC band",
    "bad CSV",
    "missing checkpoint",
    "corrupt checkpoint",
    "pickled object",
    "resume missing",
    "resume with --config",
    "resume changing ppo.lr",
]


@pytest.mark.parametrize("case", CLI_CASES)
def test_cli_prints_one_line_and_exits_2(
    case: str, ctx: SimpleNamespace, capsys: pytest.CaptureFixture[str]
) -> None:
    argv, needle = cli_cases(ctx.tmp, ctx.checkpoint)[case]
    code = main(argv)
    captured = capsys.readouterr()
    err = captured.err.strip()
    assert code == 2, err
    assert err.startswith("gridppo:") and "\n" not in err, err
    assert needle in err, err
    assert "Traceback" not in captured.err + captured.out
