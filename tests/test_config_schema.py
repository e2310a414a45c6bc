"""The schema and the shipped YAML: one source of truth, every key explained."""

from __future__ import annotations

import re
from typing import Any

import pytest
import yaml

from gridppo.config.fields import ConfigError
from gridppo.config.loader import DEFAULT_CONFIG_PATH
from gridppo.config.node_specs import NODE_TYPES
from gridppo.config.schema import SCHEMA

SHIPPED_CONFIG = DEFAULT_CONFIG_PATH
KEY_LINE = re.compile(r"^(?P<indent> *)(?P<item>- )?(?P<key>[A-Za-z_][A-Za-z0-9_]*):(?P<rest>.*)$")


@pytest.fixture(scope="module")
def raw_default() -> dict[str, Any]:
    """The shipped YAML, parsed but not validated."""
    return yaml.safe_load(SHIPPED_CONFIG.read_text())


def test_every_default_passes_its_own_check() -> None:
    for section, fields in SCHEMA.items():
        for key, field in fields.items():
            dotted = f"{section}.{key}" if section else key
            assert field.check(dotted, field.default) == field.default, dotted
            assert field.help and "\n" not in field.help, dotted


def test_schema_ranges_reject_what_they_say() -> None:
    # A spot check that the declared ranges are the ones enforced.
    with pytest.raises(ConfigError, match=r"^grid\.max_vm_pu: must be at most 1\.2"):
        SCHEMA["grid"]["max_vm_pu"].check("grid.max_vm_pu", 1.3)
    with pytest.raises(ConfigError, match=r"^ppo\.lr: must be greater than 0"):
        SCHEMA["ppo"]["lr"].check("ppo.lr", 0.0)
    assert SCHEMA["ppo"]["parameter_sharing"].choices == ("none", "per_type")


def test_shipped_config_keys_equal_the_schema(raw_default: dict[str, Any]) -> None:
    sections = {name for name in SCHEMA if name}
    top_level = set(SCHEMA[""]) | sections | {"nodes"}
    assert set(raw_default) == top_level
    for section in sections:
        assert set(raw_default[section]) == set(SCHEMA[section]), section
    for node in raw_default["nodes"]:
        params = set(node) - {"name", "type", "bus"}
        assert params <= set(NODE_TYPES[node["type"]].PARAMS), node["name"]


def test_shipped_config_values_are_the_schema_defaults(raw_default: dict[str, Any]) -> None:
    # One source of truth: a key a user's file leaves out gets the shipped value.
    for section, fields in SCHEMA.items():
        given = raw_default if not section else raw_default[section]
        for key, field in fields.items():
            assert field.check(f"{section}.{key}", given[key]) == field.default, (section, key)


def test_every_setting_in_the_shipped_config_has_a_comment_above() -> None:
    """Rule: in the schema sections every scalar key has a comment line directly above;
    in ``nodes`` every parameter other than name/type/bus sits under a comment within
    its node entry, and the first node of each type has a comment above it."""
    lines = SHIPPED_CONFIG.read_text().splitlines()
    section = None
    node_start = None
    types_seen: set[str] = set()
    missing = []
    for i, line in enumerate(lines):
        match = KEY_LINE.match(line)
        if not match:
            continue
        indent, item, key, rest = (
            len(match["indent"]),
            match["item"],
            match["key"],
            match["rest"].strip(),
        )
        above = lines[i - 1].strip() if i else ""
        if indent == 0:
            section = key
            if rest and not above.startswith("#"):
                missing.append(key)  # a top-level scalar such as seed
            if key == "nodes" and not above.startswith("#"):
                missing.append(key)
            continue
        if section != "nodes":
            if not above.startswith("#"):
                missing.append(f"{section}.{key}")
            continue
        if item:  # "- name: ..." opens a node entry
            node_start = i
            continue
        if key == "type" and rest not in types_seen:
            types_seen.add(rest)
            opener = lines[node_start - 1].strip()
            if not opener.startswith("#"):
                missing.append(f"nodes[{rest}] (first node of its type)")
        if key in ("type", "bus"):
            continue
        block = [entry.strip() for entry in lines[node_start + 1 : i]]
        if not any(entry.startswith("#") for entry in block):
            missing.append(f"nodes.{key} (line {i + 1})")
    assert not missing, f"keys without a comment above: {missing}"
    assert types_seen == {"producer", "consumer", "battery", "business"}
