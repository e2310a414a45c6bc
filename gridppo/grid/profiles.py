"""Daily load, solar (PV) and price profiles, generated from formulas or read from a CSV.

All profiles are per unit of something the node knows: ``load_pu`` multiplies a
node's base load, ``pv_pu`` its installed PV power. The price is in EUR/MWh.

The generator (documented formulas, hour ``h`` in [0, 24)):

- load shape: ``0.62 + 0.20 exp(-((h-8)/2)^2) + 0.33 exp(-((h-19)/2.5)^2)``, times a
  day level drawn from N(1, ``load_day_sigma``), plus N(0, ``load_noise_sigma``) noise.
- PV: ``clearness * max(0, sin(pi (h-6)/12))^1.5``; clearness is drawn per day from
  U(0.3, 1.0), and each step's output varies by up to 10 % around it (passing clouds).
- price: the load shape mapped linearly from [0.62, 0.95] onto [base, peak] EUR/MWh,
  minus ``price_pv_discount`` times the day's PV, plus a day offset N(0, 4) and
  N(0, ``price_noise_sigma``) noise, floored at 0.

Day ``d`` draws its randomness from a generator seeded with ``(seed, d)``, so a day's
profile does not depend on how many days were generated. The days come in three
disjoint sets, in this order: training days (``time.train_days``), validation days
(``time.validation_days``, which choose the best checkpoint) and test days
(``time.test_days``, which every reported number comes from).
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from gridppo.config.fields import ConfigError
from gridppo.grid.context import StepContext

__all__ = [
    "SPLITS",
    "DailyProfiles",
    "build_profiles",
    "clock",
    "generate_profiles",
    "read_profiles_csv",
]

CSV_COLUMNS = ("day", "step", "load_pu", "pv_pu", "price_eur_per_mwh")
SPLITS = ("train", "validation", "test")


@dataclass(frozen=True)
class DailyProfiles:
    """Profiles for every day, each an array of shape [n_days, steps_per_day].

    Rows ``0 .. n_train_days-1`` are training days, the next ``n_validation_days``
    validation days and the rest test days.
    """

    load_pu: np.ndarray
    pv_pu: np.ndarray
    price_eur_per_mwh: np.ndarray
    n_train_days: int
    n_validation_days: int

    @property
    def n_days(self) -> int:
        """Total number of days: training, validation and test."""
        return self.load_pu.shape[0]

    @property
    def steps_per_day(self) -> int:
        """Number of time steps in one day."""
        return self.load_pu.shape[1]

    @property
    def train_days(self) -> np.ndarray:
        """Indices of the training days."""
        return np.arange(self.n_train_days)

    @property
    def validation_days(self) -> np.ndarray:
        """Indices of the validation days (they choose checkpoints, never reported)."""
        return np.arange(self.n_train_days, self.n_train_days + self.n_validation_days)

    @property
    def test_days(self) -> np.ndarray:
        """Indices of the test days (every reported number comes from them)."""
        return np.arange(self.n_train_days + self.n_validation_days, self.n_days)

    def days(self, split: str) -> np.ndarray:
        """Indices of the days of one split: ``train``, ``validation`` or ``test``."""
        if split not in SPLITS:
            raise ValueError(f"split: expected one of {', '.join(SPLITS)}, got {split!r}")
        return getattr(self, f"{split}_days")

    def step_context(self, days: np.ndarray, steps: np.ndarray, forecast_steps: int) -> StepContext:
        """What the nodes may read at step ``steps[b]`` of day ``days[b]``, for B rows.

        A step past the day's end (the final observation) reads the last step's
        profiles; the forecast stops at the day's last step.
        """
        last = self.steps_per_day - 1
        t = np.minimum(steps, last)
        ahead = np.minimum(t[:, None] + np.arange(1, forecast_steps + 1), last)
        return StepContext(
            step=np.array(steps, copy=True),
            steps_per_day=self.steps_per_day,
            dt_h=24.0 / self.steps_per_day,
            load_pu=self.load_pu[days, t],
            pv_pu=self.pv_pu[days, t],
            price_eur_per_mwh=self.price_eur_per_mwh[days, t],
            price_forecast=self.price_eur_per_mwh[days[:, None], ahead],
            is_last_step=steps == last,
        )


def clock(hours: float) -> str:
    """A time of day as ``HH:MM``: ``5.5`` -> ``"05:30"``."""
    minutes = int(round(hours * 60))
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


def _load_shape(hours: np.ndarray) -> np.ndarray:
    return (
        0.62
        + 0.20 * np.exp(-(((hours - 8.0) / 2.0) ** 2))
        + 0.33 * np.exp(-(((hours - 19.0) / 2.5) ** 2))
    )


def generate_profiles(
    n_train_days: int,
    n_validation_days: int,
    n_test_days: int,
    steps_per_day: int,
    seed: int,
    load_day_sigma: float = 0.05,
    load_noise_sigma: float = 0.02,
    price_base_eur_per_mwh: float = 20.0,
    price_peak_eur_per_mwh: float = 75.0,
    price_pv_discount_eur_per_mwh: float = 15.0,
    price_noise_sigma: float = 3.0,
) -> DailyProfiles:
    """Generate seeded daily profiles from the formulas in the module docstring."""
    n_days = n_train_days + n_validation_days + n_test_days
    hours = (np.arange(steps_per_day) + 0.5) * 24.0 / steps_per_day  # mid-step hour
    shape = _load_shape(hours)
    sun = np.clip(np.sin(np.pi * (hours - 6.0) / 12.0), 0.0, None) ** 1.5
    load = np.empty((n_days, steps_per_day))
    pv = np.empty((n_days, steps_per_day))
    price = np.empty((n_days, steps_per_day))
    for day in range(n_days):
        rng = np.random.default_rng([seed, day])
        level = rng.normal(1.0, load_day_sigma)
        load[day] = np.clip(
            shape * level + rng.normal(0, load_noise_sigma, steps_per_day), 0.1, None
        )
        clearness = rng.uniform(0.3, 1.0)
        clouds = rng.uniform(0.9, 1.1, steps_per_day)
        pv[day] = np.clip(clearness * sun * clouds, 0.0, 1.0)
        scaled = (shape - 0.62) / (0.95 - 0.62)
        day_price = (
            price_base_eur_per_mwh
            + (price_peak_eur_per_mwh - price_base_eur_per_mwh) * scaled
            - price_pv_discount_eur_per_mwh * pv[day]
            + rng.normal(0.0, 4.0)
            + rng.normal(0.0, price_noise_sigma, steps_per_day)
        )
        price[day] = np.clip(day_price, 0.0, None)
    return DailyProfiles(load, pv, price, n_train_days, n_validation_days)


def read_profiles_csv(
    path: str | Path, steps_per_day: int, n_train_days: int, n_validation_days: int
) -> DailyProfiles:
    """Read profiles from a CSV with columns ``day, step, load_pu, pv_pu, price_eur_per_mwh``.

    Days are numbered from 0 and each must have all ``steps_per_day`` steps. The first
    ``n_train_days`` days are for training, the next ``n_validation_days`` for
    validation and the rest (at least one) for testing.
    """
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"time.profiles_csv: no such file '{path}'")
    try:
        with path.open(newline="", encoding="utf-8") as handle:
            reader = csv.DictReader(handle)
            missing = [c for c in CSV_COLUMNS if c not in (reader.fieldnames or [])]
            if missing:
                raise ConfigError(
                    f"time.profiles_csv: '{path}' lacks column(s) {', '.join(missing)}"
                )
            rows = list(reader)
    except (OSError, UnicodeDecodeError, csv.Error) as err:
        raise ConfigError(f"time.profiles_csv: cannot read '{path}' as CSV ({err})") from None
    if not rows:
        raise ConfigError(f"time.profiles_csv: '{path}' has no data rows")
    short = [i for i, r in enumerate(rows) if any(r.get(c) is None for c in CSV_COLUMNS)]
    if short:
        line = short[0] + 2  # the header is line 1
        raise ConfigError(f"time.profiles_csv: '{path}' line {line} has too few values")
    try:
        days = np.array([int(r["day"]) for r in rows])
        steps = np.array([int(r["step"]) for r in rows])
        values = np.array(
            [[float(r["load_pu"]), float(r["pv_pu"]), float(r["price_eur_per_mwh"])] for r in rows]
        )
    except ValueError as err:
        raise ConfigError(f"time.profiles_csv: '{path}' has a non-numeric value ({err})") from None
    if not np.all(np.isfinite(values)):
        raise ConfigError(f"time.profiles_csv: '{path}' has NaN or infinite values")
    if days.min() < 0 or steps.min() < 0 or steps.max() >= steps_per_day:
        raise ConfigError(
            f"time.profiles_csv: steps must lie in 0..{steps_per_day - 1} and days be >= 0"
        )
    n_days = int(days.max()) + 1
    if len(rows) != n_days * steps_per_day or len(set(zip(days, steps, strict=True))) != len(rows):
        raise ConfigError(
            f"time.profiles_csv: expected {n_days} days x {steps_per_day} steps, "
            f"each once; got {len(rows)} rows"
        )
    if np.any(values[:, 0] < 0) or np.any(values[:, 1] < 0) or np.any(values[:, 1] > 1):
        raise ConfigError("time.profiles_csv: load_pu must be >= 0 and pv_pu within [0, 1]")
    if n_days <= n_train_days + n_validation_days:
        raise ConfigError(
            f"time.profiles_csv: has {n_days} days, needs more than time.train_days + "
            f"time.validation_days ({n_train_days + n_validation_days}) to leave test days"
        )
    grid = np.zeros((n_days, steps_per_day, 3))
    grid[days, steps] = values
    return DailyProfiles(grid[..., 0], grid[..., 1], grid[..., 2], n_train_days, n_validation_days)


def build_profiles(cfg: dict[str, Any]) -> DailyProfiles:
    """The profiles a validated config asks for: read from its CSV, or generated."""
    t = cfg["time"]
    if t["profiles_csv"]:
        return read_profiles_csv(
            t["profiles_csv"], t["steps_per_day"], t["train_days"], t["validation_days"]
        )
    return generate_profiles(
        t["train_days"],
        t["validation_days"],
        t["test_days"],
        t["steps_per_day"],
        cfg["seed"],
        **cfg["profiles"],
    )
