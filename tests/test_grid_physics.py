"""The two power-flow backends agree, conserve energy and fail gracefully.

The pandapower backend (``pandapower.runpp``) is the reference; the fast backend
(lightsim2grid's batched ``InjectionSweepCPP``) must give the same answer on every
scenario, to far better than any engineering tolerance.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from gridppo import PowerGrid, load_config
from gridppo.config.networks import DEFAULT_NETWORK, NETWORKS
from gridppo.grid.physics import (
    FastBackend,
    Injections,
    PandapowerBackend,
    PowerFlowResult,
    make_backend,
)
from gridppo.grid.producer import Producer

N_SCENARIOS = 200

# Agreement required between the two backends.
VM_TOL_PU = 1e-8
VA_TOL_RAD = 1e-8
P_TOL_MW = 1e-6
Q_TOL_MVAR = 1e-6


def random_injections(grid: PowerGrid, batch_size: int, seed: int) -> Injections:
    """Seeded random scenarios (see :meth:`PowerGrid.random_injections`)."""
    return grid.random_injections(batch_size, np.random.default_rng(seed))


def assert_results_agree(
    fast: PowerFlowResult, ref: PowerFlowResult, rows: np.ndarray, flow_scale: float = 1.0
) -> None:
    """Assert the two results agree on ``rows`` within the module's tolerances; the power
    tolerances are multiplied by ``flow_scale``."""
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
            getattr(fast, name)[rows],
            getattr(ref, name)[rows],
            rtol=0,
            atol=tol * flow_scale,
            err_msg=name,
        )
    np.testing.assert_allclose(
        fast.ext_grid_p_mw[rows], ref.ext_grid_p_mw[rows], rtol=0, atol=P_TOL_MW * flow_scale
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


def test_a_row_of_a_batch_is_a_view_into_it(scenarios: Injections) -> None:
    batch = scenarios.copy()
    row = batch.row(3)
    assert row.batch_size == 1
    np.testing.assert_array_equal(row.load_p_mw[0], scenarios.load_p_mw[3])
    row.gen_p_mw[0, 0] = -123.0
    assert batch.gen_p_mw[3, 0] == -123.0  # written through
    assert scenarios.gen_p_mw[3, 0] != -123.0  # the copy is independent


def test_an_unknown_backend_is_refused(grid: PowerGrid) -> None:
    with pytest.raises(ValueError, match="gpu"):
        make_backend("gpu", grid.net, 30, 1e-10)


@pytest.mark.parametrize("network", [n for n in NETWORKS if n != DEFAULT_NETWORK])
def test_backends_agree_on_every_shipped_network(network: str) -> None:
    # The default network's 200 scenarios are the fixtures above; each other shipped net
    # (with its automatic nodes) gets 200 of its own.
    config = load_config(None, [f"grid.network={network}"])
    fast_grid = PowerGrid(config)
    scenarios = random_injections(fast_grid, N_SCENARIOS, seed=4321)
    assert np.ptp(scenarios.load_p_mw, axis=0).max() > 0.1  # varied, even on the MV feeder
    reference = PowerGrid(config, backend="pandapower").run_power_flow(scenarios)
    fast = fast_grid.run_power_flow(scenarios.copy())
    np.testing.assert_array_equal(fast.converged, reference.converged)
    assert reference.converged.mean() > 0.95
    # Voltages and angles to 1e-8 as on case14. Powers to 1e-6 MW per 50 MW of the net's
    # largest branch flow: at the same mismatch tolerance, the two solvers' flows differ
    # by a part in 1e8 or less (case118's slack delivers up to 1,400 MW).
    largest_mw = np.abs(reference.p_from_mw).max()
    assert_results_agree(
        fast, reference, np.flatnonzero(reference.converged), max(1.0, largest_mw / 50.0)
    )
