"""The comparison of multi-agent algorithms (gridppo.sweep.compare): trained alike,
tested on the same days, summarised with intervals across seeds."""

from __future__ import annotations

import json

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
from helpers import TINY  # noqa: E402

from gridppo.evaluation.simulate import mean_ci  # noqa: E402
from gridppo.sweep import ALGORITHMS, COMPARISON_KPIS, run_comparison  # noqa: E402
from gridppo.sweep.trial import RESULTS_FILE, TRIALS_DIR  # noqa: E402

SMALL = {**TINY, "train.total_updates": 2}


@pytest.fixture(scope="module")
def comparison(tmp_path_factory: pytest.TempPathFactory):
    folder = tmp_path_factory.mktemp("compare")
    said: list[str] = []
    result = run_comparison(
        folder, seeds=[0, 1], algorithms=["MAPPO", "IPPO"], overrides=SMALL, progress=said.append
    )
    return result, said


def results(folder, algorithm: str, seed: int) -> dict:
    settings = {**ALGORITHMS[algorithm], "seed": seed}
    for path in (folder / TRIALS_DIR).glob(f"*/{RESULTS_FILE}"):
        data = json.loads(path.read_text())
        if data["setting"] == settings:
            return data
    raise AssertionError(f"no results for {algorithm}, seed {seed}")


def test_every_algorithm_trains_with_every_seed_and_is_summarised(comparison):
    result, said = comparison
    assert said == ["[1/4] MAPPO, seed 0", "[2/4] IPPO, seed 0", "[3/4] MAPPO, seed 1",
                    "[4/4] IPPO, seed 1"]  # fmt: skip
    rows = result.summary.rows
    assert [row.label for row in rows] == ["MAPPO", "IPPO"]  # in the order asked
    assert result.summary.kpis == COMPARISON_KPIS
    for row in rows:
        assert sorted(row.seeds) == [0, 1]
        for seed, cost in zip(row.seeds, row.values["system_cost_eur"], strict=True):
            data = results(result.folder, row.label, seed)
            assert cost == data["kpis"]["system_cost_eur"]
            assert data["train_time_s"] > 0 and data["updates"] == 2
            # The same budget: both trained the same environment steps.
            assert data["setting"]["ppo.critic"] == ALGORITHMS[row.label]["ppo.critic"]
        assert row.ci["train_time_s"] == mean_ci(row.values["train_time_s"])
    assert "| MAPPO | 2 |" in (result.folder / "summary.md").read_text()


def test_differences_are_paired_by_seed(comparison):
    result, _ = comparison
    differences = [
        results(result.folder, "MAPPO", s)["kpis"]["system_cost_eur"]
        - results(result.folder, "IPPO", s)["kpis"]["system_cost_eur"]
        for s in (0, 1)
    ]
    # Each seed's runs were tested on the same days, against the same optimum.
    for s in (0, 1):
        mappo, ippo = (results(result.folder, a, s)["optimum_kpis"] for a in ("MAPPO", "IPPO"))
        assert mappo == pytest.approx(ippo, rel=1e-12)
    assert result.paired()["MAPPO"] == pytest.approx(mean_ci(np.array(differences)))
    fig = result.plot()
    assert list(fig.gridppo["panels"]) == [
        "excess_over_optimum_eur", "overload_rate", "unserved_energy_mwh", "train_time_s"
    ]  # fmt: skip
    plt.close(fig)


def test_a_rerun_trains_nothing_again_and_bad_names_are_refused(comparison):
    result, _ = comparison
    stamps = {p: p.stat().st_mtime_ns for p in result.folder.rglob(RESULTS_FILE)}
    again = run_comparison(
        result.folder, seeds=[0, 1], algorithms=["MAPPO", "IPPO"], overrides=SMALL, progress=None
    )
    assert {p: p.stat().st_mtime_ns for p in result.folder.rglob(RESULTS_FILE)} == stamps
    assert again.paired() == result.paired()
    # Asked for one seed, it reports that seed only, though the folder holds two.
    one = run_comparison(
        result.folder, seeds=[1], algorithms=["IPPO"], overrides=SMALL, progress=None
    )
    (row,) = one.summary.rows
    assert row.seeds == [1] and row.values["system_cost_eur"] == [
        results(result.folder, "IPPO", 1)["kpis"]["system_cost_eur"]
    ]
    with pytest.raises(ValueError, match="unknown algorithm 'QMIX'"):
        run_comparison(result.folder, algorithms=["QMIX"], overrides=SMALL)
