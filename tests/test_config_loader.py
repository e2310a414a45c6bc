"""Loading a configuration: files, dicts, dotted overrides and one-line errors."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml

from gridppo import ConfigError, PowerGrid, load_config
from gridppo.cli import main
from gridppo.config.loader import DEFAULT_CONFIG_PATH, apply_overrides, default_config

REPO = Path(__file__).resolve().parents[1]
EXAMPLE_CONFIGS = sorted((REPO / "configs").glob("*.yaml"))


@pytest.fixture(scope="module")
def raw_default() -> dict[str, Any]:
    """The shipped YAML, parsed but not validated."""
    return yaml.safe_load(DEFAULT_CONFIG_PATH.read_text())


def config_error(raw: dict[str, Any] | None = None, overrides: list[str] | None = None) -> str:
    """Load a bad config (and build its grid) and return the ConfigError message.

    Fails the test if no ConfigError is raised or if the message is not one line.
    """
    with pytest.raises(ConfigError) as info:
        cfg = load_config(raw, overrides)
        PowerGrid(cfg)  # some problems (buses, clashes) show only against the grid
    message = str(info.value)
    assert "\n" not in message, f"not one line: {message!r}"
    assert message.strip() == message and message
    return message


# -- the shipped file ------------------------------------------------------------------


def test_shipped_config_loads_and_is_the_default() -> None:
    cfg = load_config(DEFAULT_CONFIG_PATH)
    assert cfg == load_config(None) == default_config()
    assert len(cfg["nodes"]) == 17


@pytest.mark.parametrize("path", EXAMPLE_CONFIGS, ids=lambda p: p.name)
def test_example_configs_change_only_what_they_say(path) -> None:
    # Each file in configs/ layers a few keys on the default, and says so in comments.
    raw = yaml.safe_load(path.read_text())
    cfg, default = load_config(path), load_config(None)
    changed = {
        f"{section}.{key}"
        for section, values in cfg.items()
        if isinstance(values, dict)
        for key in values
        if values[key] != default[section][key]
    }
    listed = {f"{section}.{key}" for section, values in raw.items() for key in values}
    assert changed and changed <= listed
    assert path.read_text().lstrip().startswith("#")


def test_a_user_file_holds_only_what_it_changes(tmp_path: Path) -> None:
    path = tmp_path / "mine.yaml"
    path.write_text("ppo:\n  lr: 1e-4\n")
    mine, default = load_config(path), load_config(None)
    assert mine["ppo"]["lr"] == 1e-4
    assert mine["nodes"] == default["nodes"]  # nodes come from the default grid
    mine["ppo"]["lr"] = default["ppo"]["lr"]
    assert mine == default
    # A file that lists its own nodes keeps exactly those.
    path.write_text("nodes:\n  - {name: battery_3, type: battery, bus: 3}\n")
    assert [n["name"] for n in load_config(path)["nodes"]] == ["battery_3"]
    # An empty file is the default configuration.
    path.write_text("")
    assert load_config(path) == default


# -- bad configs -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("where", "wrong", "right"),
    [
        ("grid", "max_vm_p", "grid.max_vm_pu"),
        ("time", "steps_per_dya", "time.steps_per_day"),
    ],
)
def test_unknown_key_suggests_the_nearest(
    raw_default: dict[str, Any], where: str, wrong: str, right: str
) -> None:
    raw = copy.deepcopy(raw_default)
    raw[where][wrong] = 1.0
    message = config_error(raw)
    assert message.startswith(f"{where}.{wrong}: unknown key")
    assert f"did you mean '{right}'" in message
    # The same key given on the command line.
    message = config_error(None, [f"{where}.{wrong}=1.0"])
    assert f"did you mean '{right}'" in message


def test_a_misspelt_section_suggests_the_section(raw_default: dict[str, Any]) -> None:
    raw = copy.deepcopy(raw_default)
    raw["trian"] = raw.pop("train")
    message = config_error(raw)
    assert message.startswith("trian: unknown key") and "did you mean 'train'" in message


@pytest.mark.parametrize(
    ("override", "key", "problem"),
    [
        ("grid.max_iterations=many", "grid.max_iterations", "expected an integer"),
        ("grid.max_iterations=2.5", "grid.max_iterations", "expected an integer"),
        ("grid.min_vm_pu=low", "grid.min_vm_pu", "expected a number"),
        ("grid.power_flow_backend=gpu", "grid.power_flow_backend", "is not one of"),
        ("seed=true", "seed", "expected an integer"),
        ("nodes.battery_3.max_p_mw=[1, 2]", "nodes.battery_3.max_p_mw", "expected a number"),
        ("nodes.battery_3.bus=three", "nodes.battery_3.bus", "expected a bus index"),
        ("time.steps_per_day=7", "time.steps_per_day", "must divide 1440"),
        ("grid.max_vm_pu=2.0", "grid.max_vm_pu", "must be at most"),
        ("train.rollout_steps=5", "train.rollout_steps", "must divide time.steps_per_day"),
    ],
)
def test_wrong_type_or_range(override: str, key: str, problem: str) -> None:
    message = config_error(None, [override])
    assert message.startswith(f"{key}:")
    assert problem in message


def test_min_voltage_must_be_below_max() -> None:
    # Each limit is in range on its own (min <= 1.0 <= max); together they leave no band.
    message = config_error(None, ["grid.min_vm_pu=1.0", "grid.max_vm_pu=1.0"])
    assert message.startswith("grid.min_vm_pu:")
    assert "must be below grid.max_vm_pu" in message


def test_minibatches_must_fit_in_a_rollout() -> None:
    message = config_error(None, ["train.num_days=1", "train.rollout_steps=2"])
    assert message.startswith("ppo.num_minibatches: must be at most train.num_days")
    assert "(2 samples" in message


def test_empty_nodes_and_missing_file(tmp_path: Path, raw_default: dict[str, Any]) -> None:
    raw = {**raw_default, "nodes": []}
    assert config_error(raw).startswith("nodes:")
    with pytest.raises(ConfigError, match=r"^config: no such file"):
        load_config(tmp_path / "nope.yaml")
    broken = tmp_path / "broken.yaml"
    broken.write_text("grid: [unclosed\n")
    with pytest.raises(ConfigError, match=r"^config: .* is not valid YAML") as info:
        load_config(broken)
    assert "\n" not in str(info.value)
    listed = tmp_path / "list.yaml"
    listed.write_text("- 1\n- 2\n")
    with pytest.raises(ConfigError, match=r"^config: expected a mapping of sections"):
        load_config(listed)


# -- overrides ---------------------------------------------------------------------------


def test_dotted_overrides() -> None:
    cfg = load_config(
        None,
        overrides=[
            "grid.max_vm_pu=1.04",
            "nodes.battery_3.max_p_mw=30",
            "time.profiles_csv=null",
            "seed=7",
        ],
    )
    assert cfg["grid"]["max_vm_pu"] == 1.04
    assert cfg["seed"] == 7
    assert cfg["time"]["profiles_csv"] is None
    battery = next(n for n in cfg["nodes"] if n["name"] == "battery_3")
    assert battery["params"]["max_p_mw"] == 30.0
    assert isinstance(battery["params"]["max_p_mw"], float)
    # Nothing else changed.
    default = load_config(None)
    assert cfg["grid"]["min_vm_pu"] == default["grid"]["min_vm_pu"]
    other = next(n for n in cfg["nodes"] if n["name"] == "battery_8")
    assert other == next(n for n in default["nodes"] if n["name"] == "battery_8")
    # A mapping works as well as KEY=VALUE strings.
    assert load_config(None, {"grid.max_vm_pu": 1.04}) == load_config(None, ["grid.max_vm_pu=1.04"])


def test_apply_overrides_returns_a_changed_copy(raw_default: dict[str, Any]) -> None:
    raw = copy.deepcopy(raw_default)
    out = apply_overrides(raw, ["ppo.lr=1e-4", "nodes.battery_3.max_p_mw=30"])
    assert out["ppo"]["lr"] == 1e-4
    assert next(n for n in out["nodes"] if n["name"] == "battery_3")["max_p_mw"] == 30
    assert raw == raw_default  # the input is untouched
    assert apply_overrides(raw, None) == raw


def test_overrides_of_an_already_validated_config() -> None:
    # A run's saved config nests node parameters under "params"; overrides still apply.
    cfg = load_config(load_config(None), ["nodes.battery_3.max_p_mw=30", "ppo.lr=1e-3"])
    battery = next(n for n in cfg["nodes"] if n["name"] == "battery_3")
    assert battery["params"]["max_p_mw"] == 30.0 and cfg["ppo"]["lr"] == 1e-3
    assert load_config(load_config(None)) == load_config(None)


def test_bad_overrides() -> None:
    message = config_error(None, ["nodes.batery_3.max_p_mw=30"])
    assert message.startswith("nodes.batery_3.max_p_mw:")
    assert "did you mean 'battery_3'" in message
    assert config_error(None, ["grid.max_vm_pu"]).startswith("grid.max_vm_pu:")
    assert config_error(None, ["nodes.battery_3=1"]).startswith("nodes.battery_3:")
    assert "is a section" in config_error(None, ["grid=1"])


# -- the command line --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("argv", "needle"),
    [
        (["--set", "grid.max_vm_p=1.04"], "did you mean 'grid.max_vm_pu'"),
        (["--set", "nodes.battery_3.bus=99"], "does not exist"),
        (["--set", "nodes.battery_3.capacity_mwh=-5"], "capacity_mwh"),
        (["--config", "no/such/file.yaml"], "no such file"),
    ],
)
def test_cli_reports_config_errors_in_one_line(
    argv: list[str], needle: str, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    code = main(["simulate", "--days", "1", "--plot", str(tmp_path / "day.png"), *argv])
    captured = capsys.readouterr()
    assert code == 2
    err = captured.err.strip()
    assert "\n" not in err, err
    assert needle in err
    assert err.startswith("gridppo:")
    assert "Traceback" not in captured.err + captured.out
    assert not (tmp_path / "day.png").exists()


# -- numbers in exponent notation ---------------------------------------------------------


@pytest.mark.parametrize(("text", "lr"), [("1e-3", 1e-3), ("3E-4", 3e-4), ("+2e-5", 2e-5)])
def test_override_strings_read_exponent_notation_as_numbers(text: str, lr: float) -> None:
    # YAML 1.1 reads '1e-3' as a string; on the command line it is a learning rate.
    assert load_config(None, [f"ppo.lr={text}"])["ppo"]["lr"] == lr


def test_override_strings_that_only_look_like_numbers_stay_strings() -> None:
    assert load_config(None, ["train.log_dir=1e3runs"])["train"]["log_dir"] == "1e3runs"
