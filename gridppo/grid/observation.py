"""What every node observes of its own bus and branches, computed for all nodes at once.

The first six common features of every node (see :mod:`gridppo.grid.node`) come from
the last power flow: its bus voltage, the lowest, mean and highest voltage one branch
away, its own injection and the highest loading of its branches. Nodes differ in how
many neighbours and branches they have, so :class:`OwnFeatures` pads their index lists
once and masks the padding; one vectorised pass then serves all nodes of all days.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from gridppo.grid.node import Node

__all__ = ["OWN_FEATURES", "OwnFeatures"]

OWN_FEATURES = (
    "vm_pu",
    "neighbour_vm_min",
    "neighbour_vm_mean",
    "neighbour_vm_max",
    "injection_mw",
    "branch_loading",
)


def _padded(lists: Sequence[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Index lists of different lengths -> indices [R, K] (padding 0) and a mask [R, K]."""
    width = max([len(x) for x in lists] + [1])
    index = np.zeros((len(lists), width), dtype=int)
    mask = np.zeros((len(lists), width), dtype=bool)
    for r, x in enumerate(lists):
        index[r, : len(x)], mask[r, : len(x)] = x, True
    return index, mask


class OwnFeatures:
    """The features of :data:`OWN_FEATURES` for ``nodes`` (attached to a grid)."""

    def __init__(self, nodes: Sequence[Node]):
        self.nodes = list(nodes)
        self.bus = np.array([n.bus for n in self.nodes], dtype=int)
        self.near, self.near_mask = _padded([n.neighbour_buses for n in self.nodes])
        self.branches, self.branch_mask = _padded([n.branches for n in self.nodes])
        self.near_count = np.maximum(self.near_mask.sum(axis=1), 1)

    def __call__(self, vm_pu: np.ndarray, loading_fraction: np.ndarray) -> np.ndarray:
        """[B, R, 6] from bus voltages ``vm_pu`` [B, n_bus] and branch loadings
        ``loading_fraction`` [B, n_branch] (1 = at the limit); a node without branches
        sees a loading of 0."""
        near = vm_pu[:, self.near]  # [B, R, K]
        injection = np.stack([n.injection_mw for n in self.nodes], axis=1)
        loading = np.where(self.branch_mask, loading_fraction[:, self.branches], 0.0)
        return np.stack(
            [
                vm_pu[:, self.bus],
                np.where(self.near_mask, near, np.inf).min(axis=-1),
                np.where(self.near_mask, near, 0.0).sum(axis=-1) / self.near_count,
                np.where(self.near_mask, near, -np.inf).max(axis=-1),
                injection,
                np.maximum(loading.max(axis=-1), 0.0),
            ],
            axis=-1,
        )
