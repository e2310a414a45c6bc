"""What each node sees of its bus and branches (gridppo.grid.observation)."""

from __future__ import annotations

import numpy as np

from gridppo.grid.network import PowerGrid
from gridppo.grid.observation import OWN_FEATURES, OwnFeatures


def test_features_are_each_nodes_own_bus_neighbours_and_branches(grid: PowerGrid) -> None:
    rng = np.random.default_rng(0)
    vm_pu = rng.uniform(0.9, 1.1, size=(3, grid.n_bus))
    loading = rng.uniform(0.0, 1.3, size=(3, grid.n_branch))
    for k, node in enumerate(grid.nodes):
        node.injection_mw = np.full(3, float(k))
    own = OwnFeatures(grid.nodes)(vm_pu, loading)
    assert own.shape == (3, len(grid.nodes), len(OWN_FEATURES))
    for k, node in enumerate(grid.nodes):
        near = vm_pu[:, node.neighbour_buses]
        expected = np.column_stack(
            [
                vm_pu[:, node.bus],
                near.min(axis=1),
                near.mean(axis=1),
                near.max(axis=1),
                node.injection_mw,
                loading[:, node.branches].max(axis=1, initial=0.0),
            ]
        )
        np.testing.assert_array_equal(own[:, k], expected, err_msg=node.name)


def test_a_node_without_branches_sees_no_loading(grid: PowerGrid) -> None:
    node = grid.nodes[0]
    kept = node.branches
    try:
        node.branches, node.injection_mw = np.zeros(0, dtype=int), np.zeros(1)
        own = OwnFeatures([node])(np.ones((1, grid.n_bus)), np.full((1, grid.n_branch), 2.0))
        assert own[0, 0, OWN_FEATURES.index("branch_loading")] == 0.0
    finally:
        node.branches = kept
