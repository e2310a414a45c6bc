"""Running statistics for observation normalisation and reward scaling, per agent.

Both keep one set of statistics per parameter row (per agent, or per group of agents
under parameter sharing; see :mod:`gridppo.agents.network`). Data arrives with a leading
data-row axis [R, N, ...]; ``rows[r]`` says which statistics row data row ``r`` feeds,
so the agents sharing a network also share its statistics.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

__all__ = ["RunningMeanStd", "RewardScaler"]


class RunningMeanStd:
    """Running mean and variance of a stream of batches, one set per row (Chan et al.'s
    parallel update).

    ``shape`` is that of one sample (``()`` for rewards, ``(obs_dim,)`` for
    observations); ``rows`` maps data rows to statistics rows (default: one each).
    """

    def __init__(self, shape: tuple[int, ...], rows: Sequence[int]):
        self.rows = np.asarray(rows, dtype=int)
        num = int(self.rows.max()) + 1
        self._members = np.bincount(self.rows, minlength=num).astype(np.float64)
        self._one_each = bool(np.array_equal(self.rows, np.arange(len(self.rows))))
        self.mean = np.zeros((num, *shape), dtype=np.float64)
        self.var = np.ones((num, *shape), dtype=np.float64)
        self.count = np.full(num, 1e-4)

    def _per_row(self, values: np.ndarray) -> np.ndarray:
        """Average per-data-row values [R, ...] over each statistics row's members."""
        if self._one_each:  # one data row each, in order: nothing to pool
            return values
        # Each row sums only its own members (a NaN of one row reaches no other).
        pooled = np.zeros((len(self._members), *values.shape[1:]))
        np.add.at(pooled, self.rows, values)
        return pooled / self._members.reshape(-1, *([1] * (values.ndim - 1)))

    def for_data_rows(self, values: np.ndarray) -> np.ndarray:
        """Statistics-row values [G, ...] -> the value of each data row [R, ...]."""
        return values if self._one_each else values[self.rows]

    def update(self, batch: np.ndarray) -> None:
        """Fold a batch [R, N, *shape] into the statistics (every row has N samples)."""
        row_mean, row_var, n = batch.mean(axis=1), batch.var(axis=1), batch.shape[1]
        mean = self._per_row(row_mean)
        var = self._per_row(row_var + (row_mean - self.for_data_rows(mean)) ** 2)
        self._fold(mean, var, n * self._members)

    def _fold(self, batch_mean: np.ndarray, batch_var: np.ndarray, n: np.ndarray) -> None:
        shape = (-1, *([1] * (batch_mean.ndim - 1)))
        count, n = self.count.reshape(shape), n.reshape(shape)
        delta = batch_mean - self.mean
        total = count + n
        self.mean = self.mean + delta * n / total
        m2 = self.var * count + batch_var * n + delta**2 * count * n / total
        self.var = m2 / total
        self.count = total.reshape(-1)

    def normalize(self, batch: np.ndarray) -> np.ndarray:
        """Standardise a batch [R, N, *shape] with each row's statistics."""
        mean, var = self.for_data_rows(self.mean), self.for_data_rows(self.var)
        return (batch - mean[:, None]) / np.sqrt(var[:, None] + 1e-8)

    def state_dict(self) -> dict[str, Any]:
        """Tensors only, so checkpoints load with ``weights_only=True``."""
        return {
            "mean": torch.as_tensor(self.mean),
            "var": torch.as_tensor(self.var),
            "count": torch.as_tensor(self.count),
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore what :meth:`state_dict` saved (same shape)."""
        if tuple(state["mean"].shape) != self.mean.shape:
            raise ValueError(
                f"statistics have shape {tuple(state['mean'].shape)}, expected {self.mean.shape}"
            )
        self.mean = state["mean"].numpy().astype(np.float64)
        self.var = state["var"].numpy().astype(np.float64)
        self.count = state["count"].numpy().astype(np.float64)


class RewardScaler:
    """Divide rewards by the running std of the discounted return (detail #30 of the 37).

    Rewards here are in EUR and range over thousands; scaled rewards keep the value
    targets near unit size without changing which policy is best. One discounted return
    per stream [R, N]; one running variance per statistics row.
    """

    def __init__(self, rows: Sequence[int], num_envs: int, gamma: float):
        self.gamma = gamma
        self.returns = np.zeros((len(rows), num_envs))
        self.stats = RunningMeanStd((), rows)

    def __call__(self, rewards: np.ndarray, episode_ended: np.ndarray) -> np.ndarray:
        """Scale one step's rewards [R, N]; ``episode_ended`` [R, N] restarts the return."""
        self.returns = self.returns * self.gamma + rewards
        self.stats.update(self.returns)
        self.returns[episode_ended] = 0.0
        var = self.stats.for_data_rows(self.stats.var)
        return rewards / np.sqrt(var[:, None] + 1e-8)
