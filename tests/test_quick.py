"""GRIDPPO_QUICK: the one switch that shrinks the notebooks' training for CI."""

from __future__ import annotations

import pytest

from gridppo.config.loader import QUICK_ENV_VAR, QUICK_OVERRIDES, load_config, quick_overrides


@pytest.mark.parametrize("value", [None, "", "0", "false", "No"])
def test_quick_overrides_are_empty_unless_the_variable_is_set(
    monkeypatch: pytest.MonkeyPatch, value: str | None
) -> None:
    if value is None:
        monkeypatch.delenv(QUICK_ENV_VAR, raising=False)
    else:
        monkeypatch.setenv(QUICK_ENV_VAR, value)
    assert quick_overrides() == {}


@pytest.mark.parametrize("value", ["1", "true", "yes"])
def test_quick_overrides_shrink_training(monkeypatch: pytest.MonkeyPatch, value: str) -> None:
    monkeypatch.setenv(QUICK_ENV_VAR, value)
    quick = quick_overrides()
    assert quick == QUICK_OVERRIDES
    quick["train.total_updates"] = 999  # a copy: changing it leaves the constant alone
    assert QUICK_OVERRIDES["train.total_updates"] != 999


def test_quick_overrides_are_valid_and_smaller_than_the_default(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv(QUICK_ENV_VAR, "1")
    default = load_config(None)["train"]
    quick = load_config(None, quick_overrides())["train"]
    assert quick["total_updates"] < default["total_updates"]
    assert quick["num_days"] < default["num_days"]
    # The notebooks put their own overrides first and the quick ones last.
    merged = load_config(None, {"train.total_updates": 50, "ppo.lr": 1e-3, **quick_overrides()})
    assert merged["train"]["total_updates"] == QUICK_OVERRIDES["train.total_updates"]
    assert merged["ppo"]["lr"] == 1e-3
