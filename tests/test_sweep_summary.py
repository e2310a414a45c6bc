"""A sweep's summary, read from its trials' results files (no Ray, no training)."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
from scipy import stats  # noqa: E402

from gridppo.sweep.summary import SUMMARY_CSV, SUMMARY_MD, summarize  # noqa: E402
from gridppo.sweep.trial import RESULTS_FILE, TEST_KPIS, TRIALS_DIR, setting_name  # noqa: E402


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


def write_trial(sweep_dir: Path, setting: dict[str, Any], gap: float, cost: float) -> None:
    """A finished trial's folder, with a results file as run_trial writes it."""
    name = setting_name(setting)
    kpis = {
        "system_cost_eur": cost,
        "gap_to_optimum_percent": gap,
        "overload_rate": 0.01,
        "voltage_violation_rate": 0.0,
        "unserved_energy_mwh": 0.2,
    }
    folder = sweep_dir / TRIALS_DIR / name
    folder.mkdir(parents=True)
    results = {
        "trial": name,
        "setting": setting,
        "kpis": kpis,
        "test_kpis": {**kpis, "losses_mwh": 7.0},
        # Each seed's own test days have their own optimum.
        "optimum_kpis": {"system_cost_eur": 100_000.0 + 1_000.0 * setting.get("seed", 0)},
    }
    (folder / RESULTS_FILE).write_text(json.dumps(results))


@pytest.fixture
def sweep_dir(tmp_path: Path) -> Path:
    """Two learning rates with three seeds each, one seed of a third still running."""
    gaps = {0.001: [4.0, 5.0, 6.5], 0.0001: [10.0, 12.0, 11.0]}
    for lr, values in gaps.items():
        for seed, gap in enumerate(values):
            write_trial(tmp_path, {"ppo.lr": lr, "seed": seed}, gap, 100_000 * (1 + gap / 100))
    (tmp_path / TRIALS_DIR / "ppo.lr=0.01,seed=0").mkdir()  # no results yet: left out
    return tmp_path


def t_interval(values: list[float]) -> tuple[float, float, float]:
    """The Student-t 95 % interval, worked out here from its formula."""
    x = np.asarray(values)
    half = stats.t.ppf(0.975, len(x) - 1) * x.std(ddof=1) / np.sqrt(len(x))
    return x.mean(), x.mean() - half, x.mean() + half


def test_one_row_per_setting_with_the_interval_across_seeds(sweep_dir: Path) -> None:
    summary = summarize(sweep_dir)
    assert summary.keys == ["ppo.lr"]
    # Ordered by value, not by folder name.
    assert [row.label for row in summary.rows] == ["ppo.lr=0.0001", "ppo.lr=0.001"]
    low_lr, high_lr = summary.rows
    assert high_lr.setting == {"ppo.lr": 0.001} and high_lr.seeds == [0, 1, 2]
    assert high_lr.values["gap_to_optimum_percent"] == [4.0, 5.0, 6.5]
    assert high_lr.ci["gap_to_optimum_percent"] == pytest.approx(t_interval([4.0, 5.0, 6.5]))
    assert low_lr.ci["gap_to_optimum_percent"] == pytest.approx(t_interval([10.0, 12.0, 11.0]))
    assert low_lr.ci["overload_rate"] == pytest.approx((0.01, 0.01, 0.01))
    assert summary.kpi_values("gap_to_optimum_percent") == {
        "ppo.lr=0.0001": [10.0, 12.0, 11.0],
        "ppo.lr=0.001": [4.0, 5.0, 6.5],
    }


def test_the_table_shows_means_and_half_intervals(sweep_dir: Path) -> None:
    summary = summarize(sweep_dir)
    text = summary.table()
    mean, low, high = t_interval([4.0, 5.0, 6.5])
    assert f"{mean:.2f} ± {(high - low) / 2:.2f}" in text
    assert "1.00 ± 0.00" in text  # an overload rate of 0.01 is 1 % of the steps
    assert len(text.splitlines()) == 5  # header, rule, two settings, note
    markdown = summary.to_markdown()
    assert markdown.startswith("| setting | seeds |") and "| ppo.lr=0.001 | 3 |" in markdown


def test_csv_and_markdown_are_written_in_the_sweep_folder(sweep_dir: Path) -> None:
    paths = summarize(sweep_dir).write()
    assert paths == {"csv": sweep_dir / SUMMARY_CSV, "markdown": sweep_dir / SUMMARY_MD}
    with open(paths["csv"]) as handle:
        rows = list(csv.DictReader(handle))
    assert [r["ppo.lr"] for r in rows] == ["0.0001", "0.001"]
    assert [r["seeds"] for r in rows] == ["3", "3"]
    mean, low, high = t_interval([4.0, 5.0, 6.5])
    assert float(rows[1]["gap_to_optimum_percent_mean"]) == pytest.approx(mean)
    assert float(rows[1]["gap_to_optimum_percent_ci_low"]) == pytest.approx(low)
    assert float(rows[1]["gap_to_optimum_percent_ci_high"]) == pytest.approx(high)
    assert {f"{k}_mean" for k in TEST_KPIS} <= set(rows[0])
    assert "ppo.lr=0.001" in paths["markdown"].read_text()


def test_a_single_seed_has_no_interval_and_other_kpis_can_be_asked_for(tmp_path: Path) -> None:
    write_trial(tmp_path, {"seed": 0}, 3.0, 103_000.0)
    summary = summarize(tmp_path, kpis=("gap_to_optimum_percent", "losses_mwh"))
    (row,) = summary.rows
    assert row.label == "base configuration" and summary.keys == []
    assert row.ci == {"gap_to_optimum_percent": (3.0, 3.0, 3.0), "losses_mwh": (7.0, 7.0, 7.0)}
    assert summary.table().splitlines()[2].split()[-2:] == ["3.00", "7.00"]


def test_the_summary_plots_a_kpi_per_setting(sweep_dir: Path) -> None:
    fig = summarize(sweep_dir).plot("gap_to_optimum_percent")
    assert fig.gridppo["settings"] == ["ppo.lr=0.0001", "ppo.lr=0.001"]
    assert fig.gridppo["means"] == pytest.approx([11.0, 5.166666])


def test_a_folder_without_a_sweep_is_refused(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="not a sweep's folder"):
        summarize(tmp_path / "nothing")
    (tmp_path / TRIALS_DIR).mkdir()
    assert summarize(tmp_path).table() == f"No finished trials in {tmp_path}."


def test_excess_over_optimum_is_taken_against_each_seeds_own_optimum(sweep_dir: Path) -> None:
    summary = summarize(sweep_dir)
    row = next(r for r in summary.rows if r.setting == {"ppo.lr": 0.001})
    costs = [100_000 * (1 + g / 100) for g in (4.0, 5.0, 6.5)]
    expected = [c - (100_000 + 1_000 * seed) for seed, c in enumerate(costs)]
    np.testing.assert_allclose(row.values["excess_over_optimum_eur"], expected)
    assert "above optimum (EUR/day)" in summary.table()
    assert "each seed is tested on its own days" in summary.table()
