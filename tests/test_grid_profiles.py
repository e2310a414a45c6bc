"""Daily profiles: three disjoint splits, seeded and reproducible, from formulas or a CSV."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest

from gridppo import ConfigError, load_config
from gridppo.grid.profiles import (
    CSV_COLUMNS,
    SPLITS,
    DailyProfiles,
    build_profiles,
    clock,
    generate_profiles,
    read_profiles_csv,
)


def write_csv(path: Path, profiles: DailyProfiles) -> None:
    """Write ``profiles`` in the CSV format ``read_profiles_csv`` reads."""
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(CSV_COLUMNS)
        for day in range(profiles.n_days):
            for step in range(profiles.steps_per_day):
                writer.writerow(
                    [
                        day,
                        step,
                        repr(float(profiles.load_pu[day, step])),
                        repr(float(profiles.pv_pu[day, step])),
                        repr(float(profiles.price_eur_per_mwh[day, step])),
                    ]
                )


def test_the_splits_are_disjoint_and_cover_every_day() -> None:
    profiles = generate_profiles(5, 3, 4, 24, seed=0)
    train, validation, test = (set(profiles.days(s).tolist()) for s in SPLITS)
    assert (len(train), len(validation), len(test)) == (5, 3, 4)
    assert train.isdisjoint(validation) and train.isdisjoint(test)
    assert validation.isdisjoint(test)
    assert train | validation | test == set(range(profiles.n_days))
    # In order: training days first, then validation, then test.
    assert max(train) < min(validation) and max(validation) < min(test)
    with pytest.raises(ValueError, match="split: expected one of train, validation, test"):
        profiles.days("holdout")


def test_profiles_are_seeded_and_a_day_does_not_depend_on_how_many_there_are() -> None:
    a = generate_profiles(4, 2, 3, 24, seed=7)
    b = generate_profiles(4, 2, 3, 24, seed=7)
    for name in ("load_pu", "pv_pu", "price_eur_per_mwh"):
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name))
    more = generate_profiles(40, 2, 3, 24, seed=7)
    np.testing.assert_array_equal(more.load_pu[:9], a.load_pu)
    other = generate_profiles(4, 2, 3, 24, seed=8)
    assert not np.array_equal(other.price_eur_per_mwh, a.price_eur_per_mwh)


def test_generated_profiles_are_physical() -> None:
    p = generate_profiles(50, 5, 5, 24, seed=0)
    assert p.load_pu.shape == (60, 24) and p.steps_per_day == 24
    assert p.load_pu.min() >= 0.1 and p.pv_pu.min() >= 0.0 and p.pv_pu.max() <= 1.0
    assert p.price_eur_per_mwh.min() >= 0.0
    np.testing.assert_array_equal(p.pv_pu[:, :5], 0.0)  # no sun before 05:00
    # The evening peak is dearer than the night, on average.
    assert p.price_eur_per_mwh[:, 19].mean() > p.price_eur_per_mwh[:, 3].mean() + 20.0


def test_csv_round_trip(tmp_path: Path) -> None:
    original = generate_profiles(3, 1, 2, 24, seed=3)
    path = tmp_path / "profiles.csv"
    write_csv(path, original)
    read = read_profiles_csv(path, 24, n_train_days=3, n_validation_days=1)
    for name in ("load_pu", "pv_pu", "price_eur_per_mwh"):
        np.testing.assert_array_equal(getattr(read, name), getattr(original, name))
    assert (read.n_train_days, read.n_validation_days) == (3, 1)
    # The config reads it instead of generating.
    cfg = load_config(None, {"time.profiles_csv": str(path), "time.validation_days": 1,
                             "time.train_days": 3})  # fmt: skip
    np.testing.assert_array_equal(build_profiles(cfg).load_pu, original.load_pu)


def test_a_csv_without_test_days_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "profiles.csv"
    write_csv(path, generate_profiles(3, 1, 0, 24, seed=3))
    with pytest.raises(ConfigError, match=r"^time\.profiles_csv: has 4 days, needs more"):
        read_profiles_csv(path, 24, n_train_days=3, n_validation_days=1)


def test_the_step_context_reads_the_right_day_and_step() -> None:
    p = generate_profiles(3, 1, 1, 24, seed=0)
    days, steps = np.array([0, 2, 4]), np.array([0, 22, 24])  # 24: the final observation
    ctx = p.step_context(days, steps, forecast_steps=3)
    np.testing.assert_array_equal(ctx.step, steps)
    assert ctx.steps_per_day == 24 and ctx.dt_h == 1.0
    np.testing.assert_array_equal(ctx.load_pu, p.load_pu[days, [0, 22, 23]])
    np.testing.assert_array_equal(ctx.price_eur_per_mwh, p.price_eur_per_mwh[days, [0, 22, 23]])
    # The forecast stops at the day's last step.
    np.testing.assert_array_equal(ctx.price_forecast[0], p.price_eur_per_mwh[0, 1:4])
    np.testing.assert_array_equal(ctx.price_forecast[1], p.price_eur_per_mwh[2, [23, 23, 23]])
    np.testing.assert_array_equal(ctx.is_last_step, [False, False, False])
    last = p.step_context(np.array([1]), np.array([23]), forecast_steps=0)
    assert last.is_last_step.tolist() == [True] and last.price_forecast.shape == (1, 0)


@pytest.mark.parametrize(("hours", "text"), [(0.0, "00:00"), (5.5, "05:30"), (23.75, "23:45")])
def test_clock(hours: float, text: str) -> None:
    assert clock(hours) == text
