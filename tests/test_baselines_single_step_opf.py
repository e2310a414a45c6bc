"""The single-step AC-OPF: the producers dispatched by pandapower's OPF, the other nodes
held at their steady actions, and no node's state touched by its dry run."""

from __future__ import annotations

import warnings

import numpy as np

from gridppo import BatchedGridEnv, PowerGrid
from gridppo.baselines.single_step_opf import SingleStepOPFPolicy


def test_one_step_dispatches_the_producers_and_holds_the_rest(grid: PowerGrid) -> None:
    env = BatchedGridEnv(grid=grid, batch_size=1, mode="test", autoreset=False)
    obs, _ = env.reset(days=grid.profiles.test_days[:1])
    env.step({n.name: n.steady_action(1) for n in grid.nodes})  # a step in: state to keep
    states = {n.name: n.state_dict() for n in grid.nodes}
    policy = SingleStepOPFPolicy(env)
    assert {n.name for n, _ in policy.generators} == {
        n.name for n in grid.nodes if n.type_name == "producer"
    }
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        actions = policy.act(obs, env)
    assert policy.failures == 0
    for node in grid.nodes:
        for key, value in node.state_dict().items():  # the dry run changed nothing
            np.testing.assert_array_equal(value, states[node.name][key])
        action = actions[node.name]
        assert action.shape == (1, len(node.ACTIONS)) and np.abs(action).max() <= 1.0
        if node.dispatch() is None:
            np.testing.assert_array_equal(action, node.steady_action(1))
        else:
            assert action[0, 1] == 0.0  # neutral voltage setpoint
    # The dispatch meets the demand: played in the environment, it converges, and the
    # OPF's solution is what the producers then inject.
    env.step(actions)
    assert env.last_power_flow.converged.all()
    for _, d in policy.generators:
        np.testing.assert_allclose(
            env.last_injections.gen_p_mw[0, d.gen_index],
            policy.net.res_gen.p_mw[d.gen_index],
            atol=1e-6,
        )
