"""The leaf of the configuration: a setting's declaration, the KEY=VALUE parser, and
the one-line form of an error."""

from __future__ import annotations

import math

import pytest

from gridppo.config.fields import ConfigError, Field, first_line, parse_settings, parse_value


@pytest.mark.parametrize(
    ("field", "value", "expected"),
    [
        (Field(1, "int", "n", 0, 10), 3, 3),
        (Field(1, "int", "n", 0, 10), 4.0, 4),  # a whole float is an integer
        (Field(1.0, "float", "x", 0.0, 10.0), 2, 2.0),
        (Field(1.0, "float", "x", 0.0, 1.0), "1e-4", 1e-4),  # YAML 1.1 keeps it a string
        (Field(True, "bool", "b"), False, False),
        (Field("a", "str", "s"), "b", "b"),
        (Field("a", "choice", "c", choices=("a", "b")), "b", "b"),
        (Field([1], "int_list", "l", 1, 8), (2, 3), [2, 3]),
        (Field(None, "path", "p"), None, None),
        (Field(None, "path", "p"), "x.csv", "x.csv"),
        (Field(None, "float_or_none", "f", 0.0, 1.0), None, None),
        (Field(None, "float_or_none", "f", 0.0, 1.0), 0.5, 0.5),
    ],
)
def test_a_field_converts_what_it_accepts(field: Field, value: object, expected: object) -> None:
    checked = field.check("k", value)
    assert checked == expected
    assert type(checked) is type(expected)


@pytest.mark.parametrize(
    ("field", "value", "problem"),
    [
        (Field(1, "int", "n", 0, 10), 2.5, "expected an integer"),
        (Field(1, "int", "n", 0, 10), True, "expected an integer"),  # a bool is no number
        (Field(1, "int", "n", 0, 10), 11, "must be at most 10"),
        (Field(1, "int", "n", 0, 10), -1, "must be at least 0"),
        (Field(1.0, "float", "x", 0.0, 1.0, low_exclusive=True), 0.0, "greater than 0"),
        (Field(1.0, "float", "x"), math.inf, "must be finite"),
        (Field(1.0, "float", "x"), "many", "expected a number"),
        (Field(True, "bool", "b"), "yes", "expected true or false"),
        (Field("a", "str", "s"), 3, "expected a string"),
        (Field("a", "choice", "c", choices=("a", "b")), "z", "is not one of 'a', 'b'"),
        (Field([1], "int_list", "l", 1, 8), [], "non-empty list"),
        (Field([1], "int_list", "l", 1, 8), [0], "must be at least 1"),
        (Field(None, "path", "p"), 3, "expected a file path or null"),
    ],
)
def test_a_field_names_the_key_and_the_problem(field: Field, value: object, problem: str) -> None:
    with pytest.raises(ConfigError) as info:
        field.check("section.key", value)
    message = str(info.value)
    assert message.startswith("section.key: ") and problem in message
    assert "\n" not in message


def test_parse_value_reads_yaml_and_exponent_numbers() -> None:
    assert parse_value("1e-4") == 1e-4
    assert parse_value("3E+2") == 300.0
    assert parse_value("[32, 32]") == [32, 32]
    assert parse_value("null") is None
    assert parse_value("true") is True
    assert parse_value("1e3runs") == "1e3runs"  # only looks like a number
    assert parse_value("[unclosed") == "[unclosed"  # not YAML: kept as text


def test_parse_settings_accepts_a_string_a_list_or_a_mapping() -> None:
    expected = {"ppo.lr": 1e-4, "train.num_days": 8}
    assert parse_settings("ppo.lr=1e-4 train.num_days=8") == expected
    assert parse_settings(["ppo.lr=1e-4", "train.num_days=8"]) == expected
    given = {"ppo.lr": 1e-4}
    copied = parse_settings(given)
    assert copied == given and copied is not given
    assert parse_settings(None) == {} and parse_settings("") == {}
    for bad in ("ppo.lr", "=3", ["seed=1", "oops"]):
        with pytest.raises(ConfigError, match="must look like KEY=VALUE"):
            parse_settings(bad)


def test_first_line_shortens_an_error_to_one_line() -> None:
    assert first_line(ValueError("first\nsecond")) == "first"
    assert first_line(KeyError()) == "KeyError"
    long = first_line(RuntimeError("x" * 500), limit=40)
    assert len(long) == 40 and long.endswith("...")
