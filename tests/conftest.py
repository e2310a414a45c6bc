"""Shared fixtures: the default configuration and grids, built once per test session.

Building a :class:`~gridppo.grid.network.PowerGrid` costs about a second (two planning
power flows and the fast backend's model), so tests that only read the grid or run an
environment on it share these session-scoped instances. Environments built on a shared
grid must be used one after another, never interleaved: the nodes keep their state
(a battery's state of charge) on the grid.
"""

from __future__ import annotations

from typing import Any

import pytest

from gridppo import PowerGrid, load_config


@pytest.fixture(scope="session")
def default_config() -> dict[str, Any]:
    """The validated default configuration."""
    return load_config(None)


@pytest.fixture(scope="session")
def grid(default_config: dict[str, Any]) -> PowerGrid:
    """The default grid with the fast (lightsim2grid) backend."""
    return PowerGrid(default_config)


@pytest.fixture(scope="session")
def pandapower_grid(default_config: dict[str, Any]) -> PowerGrid:
    """The default grid with the reference pandapower backend."""
    return PowerGrid(default_config, backend="pandapower")
