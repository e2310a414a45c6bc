"""AC power flow: one interface, two backends.

- :class:`PandapowerBackend` runs ``pandapower.runpp`` once per scenario. It is the
  reference: slow, but it is the library every power engineer trusts.
- :class:`FastBackend` hands a whole batch of scenarios to lightsim2grid's C++
  ``InjectionSweepCPP`` in one call, warm-started from the previous call's solution.

Both take an :class:`Injections` batch (setpoints of every pandapower element, one row
per scenario) and return a :class:`PowerFlowResult` of numpy arrays. A test checks that
the two agree to 1e-8 p.u./rad on voltages and 1e-6 MW on branch flows.

Sign conventions follow pandapower: load and storage ``p_mw`` are consumption
(a charging battery has positive ``p_mw``), gen and sgen ``p_mw`` are generation, and
branch ``p_from_mw`` is the power entering the branch at its from (or high-voltage) side.
"""

from __future__ import annotations

import copy
import warnings
from dataclasses import dataclass, field, fields

import numpy as np
import pandapower as pp

__all__ = ["Injections", "PowerFlowResult", "PandapowerBackend", "FastBackend", "make_backend"]


@dataclass
class Injections:
    """Setpoints of every element for B scenarios; each array has B rows.

    Columns follow the row order of the matching pandapower table (``net.gen``,
    ``net.sgen``, ``net.load``, ``net.storage``). ``gen_vm_pu`` is each generator's
    voltage setpoint.
    """

    gen_p_mw: np.ndarray
    gen_vm_pu: np.ndarray
    sgen_p_mw: np.ndarray
    load_p_mw: np.ndarray
    load_q_mvar: np.ndarray
    storage_p_mw: np.ndarray

    @property
    def batch_size(self) -> int:
        """Number of scenarios B."""
        return self.load_p_mw.shape[0]

    def copy(self) -> Injections:
        """A deep copy, so a caller can change one batch without touching another."""
        return copy.deepcopy(self)

    def row(self, index: int) -> Injections:
        """Scenario ``index`` as a batch of one whose arrays are views: what is written
        into it lands in this batch."""
        return Injections(
            **{f.name: getattr(self, f.name)[index : index + 1] for f in fields(self)}
        )


@dataclass
class PowerFlowResult:
    """Power-flow results for B scenarios.

    Branches are the lines, then the transformers, in pandapower's table order. Rows
    whose power flow did not converge (``converged[b]`` False) hold flat-start values
    (1 p.u., 0 degrees, zero flows) so that nothing downstream sees NaN.
    """

    vm_pu: np.ndarray  # [B, n_bus]
    va_degree: np.ndarray  # [B, n_bus]
    p_from_mw: np.ndarray  # [B, n_branch]
    q_from_mvar: np.ndarray  # [B, n_branch]
    p_to_mw: np.ndarray  # [B, n_branch]
    q_to_mvar: np.ndarray  # [B, n_branch]
    ext_grid_p_mw: np.ndarray  # [B], power drawn from the upstream grid
    converged: np.ndarray  # [B] bool
    iterations: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=int))

    @property
    def losses_mw(self) -> np.ndarray:
        """Active losses in all branches, [B] (MW)."""
        return (self.p_from_mw + self.p_to_mw).sum(axis=1)

    def apparent_mva(self) -> np.ndarray:
        """Largest apparent power at either end of each branch, [B, n_branch] (MVA)."""
        s_from = np.hypot(self.p_from_mw, self.q_from_mvar)
        s_to = np.hypot(self.p_to_mw, self.q_to_mvar)
        return np.maximum(s_from, s_to)


def _empty_result(batch_size: int, n_bus: int, n_branch: int) -> PowerFlowResult:
    zeros = np.zeros((batch_size, n_branch))
    return PowerFlowResult(
        vm_pu=np.ones((batch_size, n_bus)),
        va_degree=np.zeros((batch_size, n_bus)),
        p_from_mw=zeros.copy(),
        q_from_mvar=zeros.copy(),
        p_to_mw=zeros.copy(),
        q_to_mvar=zeros.copy(),
        ext_grid_p_mw=np.zeros(batch_size),
        converged=np.zeros(batch_size, dtype=bool),
        iterations=np.zeros(batch_size, dtype=int),
    )


class PandapowerBackend:
    """Reference backend: ``pandapower.runpp`` on the net, one scenario at a time."""

    name = "pandapower"

    def __init__(
        self, net: pp.pandapowerNet, max_iterations: int = 30, tolerance_pu: float = 1e-10
    ):
        self.net = copy.deepcopy(net)
        self.max_iterations = max_iterations
        # pandapower's tolerance is in MVA; our tolerance is per unit of a 1 MVA base
        # in pandapower's own units, so both backends stop at the same mismatch.
        self.tolerance_mva = tolerance_pu * self.net.sn_mva
        self.n_bus = len(self.net.bus)
        self.n_branch = len(self.net.line) + len(self.net.trafo)

    def solve(self, injections: Injections) -> PowerFlowResult:
        """Run one ``runpp`` per scenario and gather the results."""
        net = self.net
        result = _empty_result(injections.batch_size, self.n_bus, self.n_branch)
        for b in range(injections.batch_size):
            net.gen["p_mw"] = injections.gen_p_mw[b]
            net.gen["vm_pu"] = injections.gen_vm_pu[b]
            net.sgen["p_mw"] = injections.sgen_p_mw[b]
            net.load["p_mw"] = injections.load_p_mw[b]
            net.load["q_mvar"] = injections.load_q_mvar[b]
            net.storage["p_mw"] = injections.storage_p_mw[b]
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    pp.runpp(
                        net,
                        max_iteration=self.max_iterations,
                        tolerance_mva=self.tolerance_mva,
                        numba=True,
                    )
            except pp.LoadflowNotConverged:
                continue
            line, trafo = net.res_line, net.res_trafo
            result.vm_pu[b] = net.res_bus.vm_pu.values
            result.va_degree[b] = net.res_bus.va_degree.values
            result.p_from_mw[b] = np.concatenate([line.p_from_mw.values, trafo.p_hv_mw.values])
            result.q_from_mvar[b] = np.concatenate(
                [line.q_from_mvar.values, trafo.q_hv_mvar.values]
            )
            result.p_to_mw[b] = np.concatenate([line.p_to_mw.values, trafo.p_lv_mw.values])
            result.q_to_mvar[b] = np.concatenate([line.q_to_mvar.values, trafo.q_lv_mvar.values])
            result.ext_grid_p_mw[b] = net.res_ext_grid.p_mw.values.sum()
            result.converged[b] = True
            result.iterations[b] = net._ppc["iterations"] if net._ppc is not None else 0
        return result


class FastBackend:
    """Batched backend: lightsim2grid's ``InjectionSweepCPP``, one C++ call per batch.

    lightsim2grid builds its own model from the same pandapower net. Its batch solver
    varies gens (active power and voltage setpoint), sgens and loads; a storage unit is
    physically a load whose ``p_mw`` may be negative, so the model is built from a copy
    of the net in which each storage unit is replaced by a load at its bus.

    Each call starts Newton-Raphson from the previous call's first converged solution
    (a warm start): consecutive environment steps differ little, so it converges in
    fewer iterations than from a flat start. The warm start, ``v_init``, is the only
    state kept between calls (the environment saves it with its own state).
    """

    name = "fast"

    def __init__(
        self, net: pp.pandapowerNet, max_iterations: int = 30, tolerance_pu: float = 1e-10
    ):
        # Imported here so the pandapower backend works without lightsim2grid; always
        # through the package, never the top-level module (it would register twice).
        from lightsim2grid.lightsim2grid_cpp import InjectionSweepCPP
        from lightsim2grid.network import init_from_pandapower

        model_net = copy.deepcopy(net)
        self.n_load = len(model_net.load)
        self.n_storage = len(model_net.storage)
        for _, storage in model_net.storage.iterrows():
            pp.create_load(model_net, bus=storage.bus, p_mw=storage.p_mw, q_mvar=0.0)
        model_net.storage.drop(model_net.storage.index, inplace=True)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            pp.runpp(model_net, numba=True)  # lightsim2grid reads its start point from results
            self.model = init_from_pandapower(model_net)
        self.sweep = InjectionSweepCPP(self.model)
        self.sweep.compute_gen_results = True
        if hasattr(self.sweep, "reuse_base_case"):
            # Rebuild the solver's base case (its factorised Jacobian) at every call, so a
            # result depends only on the call's inputs and warm start, never on which batch
            # the solver saw first: a resumed run then matches an uninterrupted one to the
            # bit. It costs about 0.05 ms per call.
            self.sweep.reuse_base_case = False
        self.n_gen_pp = len(model_net.gen)
        self.n_sgen = len(model_net.sgen)
        generators = self.model.get_generators()
        self.slack_gen_ids = [i for i, g in enumerate(generators) if g.is_slack]
        self.n_gen_model = len(generators)
        # Setpoints of the generators lightsim2grid adds for the slack (ext_grid) stay fixed.
        self.model_gen_vm_pu = np.array([g.target_vm_pu for g in generators])
        self.n_bus = len(model_net.bus)
        self.n_branch = len(model_net.line) + len(model_net.trafo)
        self.max_iterations = max_iterations
        self.tolerance_pu = tolerance_pu
        # Start point: the converged base case (the model's own buses follow the net's).
        res = model_net.res_bus
        self.flat_start = (res.vm_pu.values * np.exp(1j * np.radians(res.va_degree.values))).astype(
            np.complex128
        )
        self.v_init = self.flat_start.copy()
        self._batch_size: int | None = None

    def solve(self, injections: Injections) -> PowerFlowResult:
        """Solve every scenario of the batch in one call to the C++ solver."""
        batch = injections.batch_size
        gen_p = np.zeros((batch, self.n_gen_model))
        gen_p[:, : self.n_gen_pp] = injections.gen_p_mw
        gen_vm = np.tile(self.model_gen_vm_pu, (batch, 1))
        gen_vm[:, : self.n_gen_pp] = injections.gen_vm_pu
        load_p = np.concatenate([injections.load_p_mw, injections.storage_p_mw], axis=1)
        load_q = np.concatenate([injections.load_q_mvar, np.zeros((batch, self.n_storage))], axis=1)
        sweep = self.sweep
        if batch != self._batch_size:
            # The C++ sweep fixes its number of scenarios at its first call; a grid
            # shared by environments of different batch sizes starts it afresh.
            sweep.clear()
            self._batch_size = batch
        sweep.modify_gen_p(np.ascontiguousarray(gen_p))
        sweep.modify_gen_v(np.ascontiguousarray(gen_vm))
        if self.n_sgen:
            sweep.modify_sgen_p(np.ascontiguousarray(injections.sgen_p_mw, dtype=np.float64))
        sweep.modify_load_p(np.ascontiguousarray(load_p, dtype=np.float64))
        sweep.modify_load_q(np.ascontiguousarray(load_q, dtype=np.float64))
        sweep.compute(self.v_init, self.max_iterations, self.tolerance_pu)
        converged = np.asarray(sweep.converged_mask(), dtype=bool)
        result = _empty_result(batch, self.n_bus, self.n_branch)
        result.converged = converged
        if not converged.any():
            self.v_init = self.flat_start.copy()
            return result
        voltages = sweep.get_voltages()[:, : self.n_bus]
        branches = sweep.compute_branch_results()
        gens = sweep.get_gen_results()
        ok = converged
        result.vm_pu[ok] = np.abs(voltages[ok])
        result.va_degree[ok] = np.degrees(np.angle(voltages[ok]))
        result.p_from_mw[ok] = branches[ok, :, 0]
        result.q_from_mvar[ok] = branches[ok, :, 1]
        result.p_to_mw[ok] = branches[ok, :, 2]
        result.q_to_mvar[ok] = branches[ok, :, 3]
        result.ext_grid_p_mw[ok] = gens[ok][:, self.slack_gen_ids, 0].sum(axis=1)
        self.v_init = np.ascontiguousarray(voltages[np.argmax(ok)])
        full = self.flat_start.copy()
        full[: self.n_bus] = self.v_init
        self.v_init = full
        return result


def make_backend(
    name: str, net: pp.pandapowerNet, max_iterations: int, tolerance_pu: float
) -> PandapowerBackend | FastBackend:
    """Build the backend called ``name`` (``"fast"`` or ``"pandapower"``) for ``net``."""
    if name == "fast":
        return FastBackend(net, max_iterations, tolerance_pu)
    if name == "pandapower":
        return PandapowerBackend(net, max_iterations, tolerance_pu)
    raise ValueError(f"grid.power_flow_backend: unknown backend {name!r}")
