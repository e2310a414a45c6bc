"""What a node is told: a day's profile gives the same step context as the environment."""

from __future__ import annotations

import numpy as np

from gridppo import BatchedGridEnv, PowerGrid
from gridppo.grid.context import SOLVER_RESIDUE_MW, OptimumTerms, snap_residue


def test_a_days_context_is_the_one_the_environment_builds(grid: PowerGrid) -> None:
    day = int(grid.profiles.test_days[1])
    profile = grid.day_profile(day)
    assert profile.steps == 24 and profile.dt_h == 1.0 and profile.forecast_steps == 3
    np.testing.assert_array_equal(profile.load_pu, grid.profiles.load_pu[day])
    np.testing.assert_array_equal(profile.pv_pu, grid.profiles.pv_pu[day])
    np.testing.assert_array_equal(profile.price_eur_per_mwh, grid.profiles.price_eur_per_mwh[day])
    env = BatchedGridEnv(grid=grid, batch_size=1, mode="test", autoreset=False)
    env.reset(days=[day])
    for step in (0, 11, 23):
        env.step_index[:] = step
        expected, got = env.context(), profile.context(step)
        for name in ("step", "load_pu", "pv_pu", "price_eur_per_mwh", "price_forecast"):
            np.testing.assert_array_equal(getattr(got, name), getattr(expected, name), name)
        assert got.is_last_step.tolist() == expected.is_last_step.tolist() == [step == 23]
        assert (got.dt_h, got.steps_per_day) == (expected.dt_h, expected.steps_per_day)


def test_solver_residue_is_no_decision() -> None:
    x = np.array([-1e-9, 0.0, SOLVER_RESIDUE_MW, 2 * SOLVER_RESIDUE_MW, 3.0])
    np.testing.assert_array_equal(snap_residue(x), [0.0, 0.0, 0.0, 2 * SOLVER_RESIDUE_MW, 3.0])


def test_empty_optimum_terms_decide_nothing() -> None:
    terms = OptimumTerms()
    assert terms.variables == {} and terms.constraints == [] and terms.day_parameters == []
    assert terms.injection_mw == 0.0 and terms.cost_eur == 0.0
