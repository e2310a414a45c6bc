"""The two power-flow backends agree, conserve energy and fail gracefully.

The pandapower backend (``pandapower.runpp``) is the reference; the fast backend
(lightsim2grid's batched ``InjectionSweepCPP``) must give the same answer on every
scenario, to far better than any engineering tolerance.
"""

from __future__ import annotations

import copy
import dataclasses
import warnings
from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np
import pandapower as pp
import pytest
from helpers import zero_actions

from gridppo import BatchedGridEnv, PowerGrid, load_config
from gridppo.evaluation.simulate import run_days
from gridppo.grid.nodes import Battery, Consumer, Producer
from gridppo.grid.physics import FastBackend, Injections, PandapowerBackend, PowerFlowResult

N_SCENARIOS = 200

# Agreement required between the two backends.
VM_TOL_PU = 1e-8
VA_TOL_RAD = 1e-8
P_TOL_MW = 1e-6
Q_TOL_MVAR = 1e-6


def random_injections(grid: PowerGrid, batch_size: int, seed: int) -> Injections:
    """Seeded random scenarios (see :meth:`PowerGrid.random_injections`)."""
    return grid.random_injections(batch_size, np.random.default_rng(seed))


def assert_results_agree(fast: PowerFlowResult, ref: PowerFlowResult, rows: np.ndarray) -> None:
    """Assert the two results agree on ``rows`` within the module's tolerances."""
    np.testing.assert_allclose(fast.vm_pu[rows], ref.vm_pu[rows], rtol=0, atol=VM_TOL_PU)
    va_fast, va_ref = np.radians(fast.va_degree[rows]), np.radians(ref.va_degree[rows])
    np.testing.assert_allclose(va_fast, va_ref, rtol=0, atol=VA_TOL_RAD)
    for name, tol in (
        ("p_from_mw", P_TOL_MW),
        ("p_to_mw", P_TOL_MW),
        ("q_from_mvar", Q_TOL_MVAR),
        ("q_to_mvar", Q_TOL_MVAR),
    ):
        np.testing.assert_allclose(
            getattr(fast, name)[rows], getattr(ref, name)[rows], rtol=0, atol=tol, err_msg=name
        )
    np.testing.assert_allclose(
        fast.ext_grid_p_mw[rows], ref.ext_grid_p_mw[rows], rtol=0, atol=P_TOL_MW
    )


def subset(result: PowerFlowResult, rows: list[int]) -> PowerFlowResult:
    """The rows ``rows`` of a batched result, as a result of their own."""
    return PowerFlowResult(
        **{f.name: getattr(result, f.name)[rows] for f in dataclasses.fields(result)}
    )


@pytest.fixture(scope="module")
def scenarios(grid: PowerGrid) -> Injections:
    """The random scenarios both backends solve."""
    return random_injections(grid, N_SCENARIOS, seed=1234)


@pytest.fixture(scope="module")
def reference_result(pandapower_grid: PowerGrid, scenarios: Injections) -> PowerFlowResult:
    """pandapower's results on the random scenarios (one runpp each, a few seconds)."""
    return pandapower_grid.run_power_flow(scenarios)


def test_backends_are_the_ones_asked_for(grid: PowerGrid, pandapower_grid: PowerGrid) -> None:
    assert isinstance(grid.backend, FastBackend)
    assert isinstance(pandapower_grid.backend, PandapowerBackend)


def test_scenarios_are_varied(scenarios: Injections) -> None:
    # The comparison means little if the scenarios barely differ.
    assert scenarios.batch_size == N_SCENARIOS
    assert np.ptp(scenarios.gen_p_mw, axis=0).min() > 50.0
    # Every producer's voltage setpoint spans most of its +-vm_range_pu band.
    assert np.ptp(scenarios.gen_vm_pu, axis=0).min() > 0.06
    assert np.ptp(scenarios.sgen_p_mw, axis=0).min() > 5.0
    assert np.ptp(scenarios.storage_p_mw, axis=0).min() > 10.0
    assert (scenarios.storage_p_mw < 0).any() and (scenarios.storage_p_mw > 0).any()


def test_fast_backend_matches_pandapower(
    grid: PowerGrid, scenarios: Injections, reference_result: PowerFlowResult
) -> None:
    fast = grid.run_power_flow(scenarios.copy())
    assert reference_result.converged.all()
    assert fast.converged.all()
    assert_results_agree(fast, reference_result, np.arange(N_SCENARIOS))


def test_fast_backend_result_does_not_depend_on_the_warm_start(
    grid: PowerGrid, scenarios: Injections, reference_result: PowerFlowResult
) -> None:
    # Solve the scenarios one by one, each warm-started from the one before, and in
    # reverse order: every path must land on the same solution.
    rows = np.arange(0, N_SCENARIOS, 20)
    for b in rows[::-1]:
        one = Injections(
            gen_p_mw=scenarios.gen_p_mw[[b]],
            gen_vm_pu=scenarios.gen_vm_pu[[b]],
            sgen_p_mw=scenarios.sgen_p_mw[[b]],
            load_p_mw=scenarios.load_p_mw[[b]],
            load_q_mvar=scenarios.load_q_mvar[[b]],
            storage_p_mw=scenarios.storage_p_mw[[b]],
        )
        result = grid.run_power_flow(one)
        assert result.converged.all()
        assert_results_agree(result, subset(reference_result, [b]), np.array([0]))


@pytest.mark.parametrize("which", ["fast", "pandapower"])
def test_power_balance_and_setpoints(
    which: str,
    grid: PowerGrid,
    pandapower_grid: PowerGrid,
    scenarios: Injections,
    reference_result: PowerFlowResult,
) -> None:
    """Upstream import + generation - consumption = losses; voltage setpoints held."""
    result = grid.run_power_flow(scenarios.copy()) if which == "fast" else reference_result
    inj = scenarios
    supplied = result.ext_grid_p_mw + inj.gen_p_mw.sum(axis=1) + inj.sgen_p_mw.sum(axis=1)
    consumed = inj.load_p_mw.sum(axis=1) + inj.storage_p_mw.sum(axis=1)
    np.testing.assert_allclose(supplied - consumed, result.losses_mw, rtol=0, atol=1e-6)
    assert (result.losses_mw > 0).all()
    # The slack bus holds the upstream grid's setpoint and each producer the one its
    # voltage action asked for.
    cfg = grid.config
    np.testing.assert_allclose(
        result.vm_pu[:, grid.slack_bus], cfg["grid"]["ext_grid_vm_pu"], rtol=0, atol=1e-9
    )
    np.testing.assert_allclose(result.va_degree[:, grid.slack_bus], 0.0, atol=1e-9)
    for node in grid.nodes:
        if isinstance(node, Producer):
            asked = inj.gen_vm_pu[:, node.gen_index]
            np.testing.assert_allclose(result.vm_pu[:, node.bus], asked, rtol=0, atol=1e-9)
            assert np.ptp(asked) > 0.06


def test_fast_backend_accepts_changing_batch_sizes(grid: PowerGrid) -> None:
    # A grid shared by environments of different batch sizes hands the backend
    # batches of different sizes in turn.
    sizes = [3, 1, 5, 3]
    results = [grid.run_power_flow(grid.base_injections(b)) for b in sizes]
    for size, result in zip(sizes, results, strict=True):
        assert result.converged.shape == (size,)
        assert result.converged.all()
        np.testing.assert_allclose(result.vm_pu, results[0].vm_pu[[0] * size], atol=1e-9)


@pytest.mark.parametrize("which", ["fast", "pandapower"])
def test_nonconvergence_is_reported_not_raised(
    which: str, grid: PowerGrid, pandapower_grid: PowerGrid
) -> None:
    """Absurd loads (x50) do not converge: flat-start values, converged False, no error."""
    g = grid if which == "fast" else pandapower_grid
    inj = g.base_injections(3, load_pu=np.array([1.0, 50.0, 1.0]))
    result = g.run_power_flow(inj)
    np.testing.assert_array_equal(result.converged, [True, False, True])
    for name in ("vm_pu", "va_degree", "p_from_mw", "q_from_mvar", "p_to_mw", "q_to_mvar"):
        values = getattr(result, name)
        assert np.isfinite(values).all(), name
    np.testing.assert_array_equal(result.vm_pu[1], 1.0)
    np.testing.assert_array_equal(result.va_degree[1], 0.0)
    np.testing.assert_array_equal(result.p_from_mw[1], 0.0)
    np.testing.assert_array_equal(result.q_to_mvar[1], 0.0)
    assert result.ext_grid_p_mw[1] == 0.0
    # The converged rows are the base case, and the rows are independent.
    base = g.run_power_flow(g.base_injections(1))
    np.testing.assert_allclose(result.vm_pu[[0, 2]], base.vm_pu[[0, 0]], atol=1e-9)
    # A batch where nothing converges, then a normal one: still no error, still right.
    nothing = g.run_power_flow(g.base_injections(2, load_pu=50.0))
    assert not nothing.converged.any()
    again = g.run_power_flow(g.base_injections(1))
    assert again.converged.all()
    np.testing.assert_allclose(again.vm_pu, base.vm_pu, atol=1e-9)


@pytest.fixture(scope="module", params=["fast", "pandapower"])
def overloaded_grid(request: pytest.FixtureRequest) -> PowerGrid:
    """A grid whose consumer_3 demands 5 GW once the day runs: the power flow cannot
    converge. (A config asking for 5 GW is refused when the grid is built, because its
    planning power flow fails; here the demand jumps after the build, as a fault would.)"""
    grid = PowerGrid(load_config(), backend=request.param)
    grid.node("consumer_3").base_p_mw = 5000.0
    return grid


def rest_of_day_demand_mwh(grid: PowerGrid, day: int, step: int) -> float:
    """What every load of the net draws from ``step`` to the end of ``day`` (MWh), at the
    load profile: the demand a failure at ``step`` leaves unserved."""
    dt_h = 24.0 / grid.config["time"]["steps_per_day"]
    return float(grid.base_load_p_mw.sum() * grid.profiles.load_pu[day, step:].sum() * dt_h)


def test_env_penalises_and_terminates_a_nonconverging_step(overloaded_grid: PowerGrid) -> None:
    env = BatchedGridEnv(grid=overloaded_grid, batch_size=2, autoreset=True)
    obs, _ = env.reset(seed=0)
    days = env.day.copy()
    # The day starts from the case setpoints, which converge.
    assert all(np.isfinite(o).all() for o in obs.values())
    obs, rewards, terminations, truncations, infos = env.step(zero_actions(env))
    r = overloaded_grid.config["reward"]
    weight = r["grid_penalty_weight"]
    # A blackout at the first step: the whole day's demand is lost.
    lost = np.array([rest_of_day_demand_mwh(overloaded_grid, d, 0) for d in days])
    penalty = r["nonconvergence_penalty_eur"] + r["value_of_lost_load_eur_per_mwh"] * lost
    np.testing.assert_array_equal(infos["metrics"]["converged"], 0.0)
    np.testing.assert_allclose(infos["penalty_eur"]["failure_eur"], penalty, rtol=1e-12)
    np.testing.assert_allclose(infos["metrics"]["unserved_energy_mwh"], lost, rtol=1e-12)
    np.testing.assert_array_equal(infos["penalty_eur"]["voltage_eur"], 0.0)
    np.testing.assert_array_equal(infos["penalty_eur"]["overload_eur"], 0.0)
    for agent in env.agents:
        grid_part = infos["reward_components"][agent]["grid_penalty_eur"]
        np.testing.assert_allclose(grid_part, -weight * penalty, rtol=1e-12)
        assert (grid_part < 0).all()
        assert np.isfinite(rewards[agent]).all()
        assert terminations[agent].all()
        assert not truncations[agent].any()
        assert np.isfinite(obs[agent]).all()
        assert np.isfinite(infos["final_observation"][agent]).all()
    assert infos["day_ended"].all()
    np.testing.assert_allclose(infos["system_cost_eur"], penalty, rtol=1e-12)
    # Autoreset restarted both days at their first step.
    np.testing.assert_array_equal(env.step_index, 0)


@contextmanager
def demand_of(node: Consumer, base_p_mw: np.ndarray | float) -> Iterator[None]:
    """Give ``node`` another base demand (per day of the batch) for a ``with`` block."""
    saved = node.base_p_mw
    node.base_p_mw = base_p_mw
    try:
        yield
    finally:
        node.base_p_mw = saved


def test_a_failed_step_terminates_the_day_as_a_blackout(overloaded_grid: PowerGrid) -> None:
    """Mid-day, one of two days fails: it terminates, its nodes trade nothing, and its
    penalty prices the rest of the day's demand (this step included) at the value of
    lost load. The other day runs on untouched."""
    grid = overloaded_grid
    node = grid.node("consumer_3")
    normal = float(grid.base_load_p_mw[node.load_index])
    r = grid.config["reward"]
    env = BatchedGridEnv(grid=grid, batch_size=2, autoreset=False)
    days = [int(d) for d in grid.profiles.test_days[:2]]
    env.reset(days=days)
    fail_at = 5
    with demand_of(node, normal):
        for _ in range(fail_at):
            _, _, terminations, _, infos = env.step(zero_actions(env))
            assert not terminations["consumer_3"].any()
            assert infos["metrics"]["converged"].all()
    with demand_of(node, np.array([normal, 5000.0])):
        _, rewards, terminations, truncations, infos = env.step(zero_actions(env))
    np.testing.assert_array_equal(infos["metrics"]["converged"], [1.0, 0.0])
    for agent in env.agents:
        np.testing.assert_array_equal(terminations[agent], [False, True])
        assert not truncations[agent].any()
    np.testing.assert_array_equal(infos["day_ended"], [False, True])
    lost = rest_of_day_demand_mwh(grid, days[1], fail_at)
    failure = r["nonconvergence_penalty_eur"] + r["value_of_lost_load_eur_per_mwh"] * lost
    np.testing.assert_allclose(infos["penalty_eur"]["failure_eur"], [0.0, failure], rtol=1e-12)
    assert infos["metrics"]["unserved_energy_mwh"][1] == pytest.approx(lost, rel=1e-12)
    assert infos["metrics"]["unserved_energy_mwh"][0] == 0.0
    # Nothing is produced, consumed or traded in the failed day: every node component
    # but the shared penalty is zero there, while the other day trades.
    weight = r["grid_penalty_weight"]
    for agent in env.agents:
        parts = infos["reward_components"][agent]
        for key, value in parts.items():
            if key == "grid_penalty_eur":
                assert value[1] == pytest.approx(-weight * failure, rel=1e-12)
            else:
                assert value[1] == 0.0, (agent, key)
        assert rewards[agent][1] == pytest.approx(-weight * failure, rel=1e-12)
        if not isinstance(grid.node(agent), Battery):  # an idle battery trades nothing
            assert parts["energy_eur"][0] != 0.0, agent
    assert infos["upstream_payment_eur"][1] == 0.0
    assert infos["system_cost_eur"][1] == pytest.approx(failure, rel=1e-12)


class FaultAtLastStep:
    """Neutral actions; at the day's last step, ``consumer_3`` demands ``faulty_mw`` in
    the days ``rows`` (a fault the power flow cannot carry) and its normal demand
    elsewhere."""

    name = "fault"

    def __init__(self, grid: PowerGrid, rows: np.ndarray, faulty_mw: float = 5000.0):
        self.node = grid.node("consumer_3")
        self.normal = float(grid.base_load_p_mw[self.node.load_index])
        self.demand = np.where(rows, faulty_mw, self.normal)

    def act(self, observations: dict[str, np.ndarray], env: BatchedGridEnv) -> dict:
        last = env.step_index[0] == env.steps_per_day - 1
        self.node.base_p_mw = self.demand if last else self.normal
        return zero_actions(env)


def test_a_failed_day_costs_more_than_the_same_day_run_through(
    overloaded_grid: PowerGrid,
) -> None:
    """Even a blackout on the day's very last step, where the least demand is left to
    lose, makes the day cost more than running it: a failure never pays."""
    grid = overloaded_grid
    node = grid.node("consumer_3")
    day = int(grid.profiles.test_days[0])
    env = BatchedGridEnv(grid=grid, batch_size=2, autoreset=False)
    with demand_of(node, node.base_p_mw):
        result = run_days(FaultAtLastStep(grid, np.array([False, True])), env, days=[day, day])
    np.testing.assert_array_equal(result.failed, [False, True])
    assert result.kpis["failed_days"] == 1.0
    assert result.per_day_cost_eur[1] > result.per_day_cost_eur[0]
    # By the fixed penalty plus the last step's demand at the value of lost load, less
    # that step's energy and costs, which the blackout does not incur.
    r = grid.config["reward"]
    lost = rest_of_day_demand_mwh(grid, day, env.steps_per_day - 1)
    floor = r["nonconvergence_penalty_eur"] + r["value_of_lost_load_eur_per_mwh"] * lost
    gap = result.per_day_cost_eur[1] - result.per_day_cost_eur[0]
    assert 0.9 * floor < gap < floor
    # The lost load is unserved energy: half of it per day on average over the two days.
    assert result.kpis["unserved_energy_mwh"] == pytest.approx(lost / 2, rel=1e-9)


def test_loading_is_current_over_the_thermal_limit(
    grid: PowerGrid, scenarios: Injections, reference_result: PowerFlowResult
) -> None:
    """Branch loading is current-based, 100 |S| / (vm_pu * rating) at the more loaded end,
    and reads like pandapower's own line loading (lines carry max_i_ka from the ratings)."""
    rows = np.arange(0, N_SCENARIOS, 40)
    pf = subset(reference_result, list(rows))
    loading = grid.loading_percent(pf)
    s_from = np.hypot(pf.p_from_mw, pf.q_from_mvar) / pf.vm_pu[:, grid.branch_from_bus]
    s_to = np.hypot(pf.p_to_mw, pf.q_to_mvar) / pf.vm_pu[:, grid.branch_to_bus]
    expected = 100.0 * np.maximum(s_from, s_to) / grid.branch_rating_mva
    np.testing.assert_allclose(loading, expected, rtol=1e-12)
    # With both ends above 1 p.u. the current, and so the loading, is below the
    # apparent-power share of the rating.
    apparent = 100.0 * pf.apparent_mva() / grid.branch_rating_mva
    ends = np.minimum(pf.vm_pu[:, grid.branch_from_bus], pf.vm_pu[:, grid.branch_to_bus])
    high = ends > 1.0
    assert high.any()
    assert (loading[high] < apparent[high]).all()
    net = copy.deepcopy(grid.net)
    n_line = len(net.line)
    for i, b in enumerate(rows):
        net.gen["p_mw"] = scenarios.gen_p_mw[b]
        net.gen["vm_pu"] = scenarios.gen_vm_pu[b]
        net.sgen["p_mw"] = scenarios.sgen_p_mw[b]
        net.load["p_mw"] = scenarios.load_p_mw[b]
        net.load["q_mvar"] = scenarios.load_q_mvar[b]
        net.storage["p_mw"] = scenarios.storage_p_mw[b]
        with warnings.catch_warnings():  # pandapower's deprecation notes about case14
            warnings.simplefilter("ignore")
            pp.runpp(net, tolerance_mva=1e-10, max_iteration=30)
        np.testing.assert_allclose(
            loading[i, :n_line], net.res_line.loading_percent.values, rtol=1e-6
        )
