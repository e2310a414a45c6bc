"""Per-agent running statistics (gridppo.agents.normalize)."""

from __future__ import annotations

import numpy as np

from gridppo.agents.normalize import RewardScaler, RunningMeanStd


def test_running_mean_std_matches_numpy_per_row():
    rng = np.random.default_rng(1)
    data = rng.normal([[[3.0, -1.0]], [[0.0, 50.0]]], 2.0, size=(2, 300, 2))
    stats = RunningMeanStd((2,), rows=[0, 1])
    for chunk in np.array_split(data, 7, axis=1):
        stats.update(chunk)
    np.testing.assert_allclose(stats.mean, data.mean(axis=1), atol=1e-4)
    np.testing.assert_allclose(stats.var, data.var(axis=1), rtol=1e-3)


def test_rows_sharing_statistics_pool_their_samples():
    rng = np.random.default_rng(2)
    data = rng.normal(size=(3, 200, 1)) + np.array([0.0, 10.0, 5.0])[:, None, None]
    stats = RunningMeanStd((1,), rows=[0, 0, 1])
    for chunk in np.array_split(data, 4, axis=1):
        stats.update(chunk)
    pooled = np.concatenate([data[0], data[1]])
    np.testing.assert_allclose(stats.mean[0], pooled.mean(axis=0), atol=1e-4)
    np.testing.assert_allclose(stats.var[0], pooled.var(axis=0), rtol=1e-3)
    np.testing.assert_allclose(stats.mean[1], data[2].mean(axis=0), atol=1e-4)
    # Normalising uses each data row's own statistics row.
    normalized = stats.normalize(data)
    np.testing.assert_allclose(
        normalized[1].mean(),
        (data[1].mean() - stats.mean[0, 0]) / np.sqrt(stats.var[0, 0]),
        rtol=1e-6,
    )


def test_reward_scaler_divides_by_the_std_of_the_discounted_return():
    scaler = RewardScaler(rows=[0, 1], num_envs=2, gamma=0.5)
    rewards = np.array([[1.0, 1.0], [100.0, 100.0]])
    for _ in range(50):
        scaled = scaler(rewards, np.zeros((2, 2), dtype=bool))
    # Row 1's rewards are 100x row 0's: scaled, the two are alike.
    np.testing.assert_allclose(scaled[0], scaled[1], rtol=1e-3)
    returns_before = scaler.returns.copy()
    scaler(rewards, np.array([[True, False], [False, False]]))
    assert scaler.returns[0, 0] == 0.0 and scaler.returns[0, 1] == returns_before[0, 1] * 0.5 + 1.0
