"""The leaf of the configuration: a setting's declaration and the one error type.

Nothing here imports the rest of gridppo, so every layer (the node types, the grid,
the trainer, the command line, the widgets) can declare settings and raise
:class:`ConfigError` without importing the loader. Also here: the one parser of
``KEY=VALUE`` settings (command line, widgets, resume) and the one way to shorten an
error to a line.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import yaml

__all__ = ["ConfigError", "Field", "parse_value", "parse_settings", "first_line"]


class ConfigError(ValueError):
    """A configuration value is missing, unknown, of the wrong type or out of range.

    The message is one line and starts with the dotted key, so a command-line tool can
    print it as it is.
    """


@dataclass(frozen=True)
class Field:
    """One setting: its default, type, valid range and help text.

    ``kind`` is one of ``"int"``, ``"float"``, ``"bool"``, ``"str"``, ``"choice"``,
    ``"int_list"``, ``"path"`` (a string or null), ``"float_or_none"``. ``low`` and
    ``high`` bound numbers (inclusive); ``choices`` lists the allowed strings of a ``"choice"``.
    """

    default: Any
    kind: str
    help: str
    low: float | None = None
    high: float | None = None
    choices: tuple[str, ...] = ()
    low_exclusive: bool = False

    def check(self, key: str, value: Any) -> Any:
        """Return ``value`` converted to this field's type, or raise ConfigError."""
        kind = self.kind
        if kind == "path":
            if value is None:
                return None
            if not isinstance(value, str):
                raise ConfigError(f"{key}: expected a file path or null, got {value!r}")
            return value
        if kind == "bool":
            if not isinstance(value, bool):
                raise ConfigError(f"{key}: expected true or false, got {value!r}")
            return value
        if kind == "str":
            if not isinstance(value, str):
                raise ConfigError(f"{key}: expected a string, got {value!r}")
            return value
        if kind == "choice":
            if value not in self.choices:
                raise ConfigError(
                    f"{key}: {value!r} is not one of {', '.join(map(repr, self.choices))}"
                )
            return value
        if kind == "int_list":
            if not isinstance(value, list | tuple) or not value:
                raise ConfigError(f"{key}: expected a non-empty list of integers, got {value!r}")
            return [self._number(key, v, integer=True) for v in value]
        if kind == "float_or_none":
            return None if value is None else self._number(key, value, integer=False)
        if kind in ("int", "float"):
            return self._number(key, value, integer=(kind == "int"))
        raise AssertionError(f"unknown field kind {kind!r}")  # a bug in SCHEMA, not in a config

    def _number(self, key: str, value: Any, integer: bool) -> int | float:
        if isinstance(value, str) and _EXPONENT_NUMBER.fullmatch(value.strip()):
            value = float(value)  # `lr: 1e-4` in a YAML file reads as a string
        if isinstance(value, bool) or not isinstance(value, int | float):
            wanted = "an integer" if integer else "a number"
            raise ConfigError(f"{key}: expected {wanted}, got {value!r}")
        if integer and not float(value).is_integer():
            raise ConfigError(f"{key}: expected an integer, got {value!r}")
        if not math.isfinite(value):
            raise ConfigError(f"{key}: must be finite, got {value!r}")
        value = int(value) if integer else float(value)
        if self.low is not None:
            if self.low_exclusive and value <= self.low:
                raise ConfigError(f"{key}: must be greater than {self.low:g}, got {value!r}")
            if not self.low_exclusive and value < self.low:
                raise ConfigError(f"{key}: must be at least {self.low:g}, got {value!r}")
        if self.high is not None and value > self.high:
            raise ConfigError(f"{key}: must be at most {self.high:g}, got {value!r}")
        return value


# A number in exponent notation without a decimal point, e.g. 1e-4 or 3E+2. YAML 1.1
# (and so PyYAML) reads it as a string, though everyone writes learning rates that way.
_EXPONENT_NUMBER = re.compile(r"[+-]?[0-9]+[eE][+-]?[0-9]+")


def parse_value(text: str) -> Any:
    """Parse the right-hand side of ``--set key=value`` the way YAML would, except that
    ``1e-4`` is the number 0.0001 (YAML 1.1 would keep it as the string ``"1e-4"``)."""
    if _EXPONENT_NUMBER.fullmatch(text.strip()):
        return float(text)
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError:
        return text


def parse_settings(
    settings: str | Sequence[str] | Mapping[str, Any] | None,
) -> dict[str, Any]:
    """Dotted settings as a dict, from ``"ppo.lr=1e-4 train.num_days=8"`` (``KEY=VALUE``
    separated by spaces, as on the command line), a list of such strings, or a dict
    (returned as a copy). Values are read by :func:`parse_value`.

    Raises :class:`ConfigError` for an item without ``=`` or without a key.
    """
    if not settings:
        return {}
    if isinstance(settings, Mapping):
        return dict(settings)
    items = settings.split() if isinstance(settings, str) else [str(i) for i in settings]
    out: dict[str, Any] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise ConfigError(f"{item}: a setting must look like KEY=VALUE, e.g. ppo.lr=1e-4")
        out[key.strip()] = parse_value(value.strip())
    return out


def first_line(err: BaseException, limit: int = 160) -> str:
    """The first line of an exception's message (its type name if it has none),
    shortened to ``limit`` characters: for errors reported on one line."""
    text = str(err).strip()
    line = text.splitlines()[0] if text else type(err).__name__
    return line if len(line) <= limit else line[: limit - 3] + "..."
