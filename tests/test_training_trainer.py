"""The trainer: learning on a one-agent task, checkpoints, determinism, logs, callbacks."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from helpers import TINY

from gridppo.config.loader import load_config
from gridppo.training.trainer import TrainedPolicy, Trainer


def single_battery_config(**overrides) -> dict:
    """The default grid with one agent, battery_3, and no shared grid penalty, so its
    reward is its own arbitrage profit."""
    cfg = load_config(None, {**overrides, "reward.grid_penalty_weight": 0.0})
    raw = {k: v for k, v in cfg.items() if k != "nodes"}
    raw["nodes"] = [
        {"name": n["name"], "type": n["type"], "bus": n["bus"], **n["params"]}
        for n in cfg["nodes"]
        if n["name"] == "battery_3"
    ]
    return load_config(raw)


def test_battery_learns_to_charge_when_cheap(tmp_path):
    cfg = single_battery_config(
        **{
            "train.total_updates": 30,
            "train.num_days": 16,
            "train.eval_interval": 10,
            "train.tensorboard": False,
            "time.train_days": 50,
            "time.validation_days": 5,
            "time.test_days": 5,
        }
    )
    trainer = Trainer(cfg, run_name="battery", root=tmp_path)
    before = trainer.evaluate().kpis["team_reward"]
    trainer.train(progress_bar=False)
    after = trainer.evaluate(record=True)
    # Idle earns ~0; arbitrage over a day's price spread earns thousands of EUR.
    assert before < 500
    assert after.kpis["team_reward"] > 2000
    prices = after.record.price_eur_per_mwh.ravel()
    actions = after.record.actions["battery_3"][..., 0].ravel()
    assert np.corrcoef(prices, actions)[0, 1] < -0.5  # charges (a > 0) when cheap


def test_same_seed_gives_identical_metrics(tmp_path):
    histories = []
    for run in ("a", "b"):
        trainer = Trainer.from_config(None, TINY, run_name=run, root=tmp_path)
        trainer.train(progress_bar=False)
        histories.append(trainer.history)
    timing = ("time_s", "charts/steps_per_s")
    for row_a, row_b in zip(*histories, strict=True):
        for key, value in row_a.items():
            if key in timing:
                continue
            assert value == row_b[key] or (math.isnan(value) and math.isnan(row_b[key])), key


def test_checkpoint_load_gives_identical_actions(tmp_path):
    trainer = Trainer.from_config(None, TINY, run_name="ckpt", root=tmp_path)
    trainer.train(progress_bar=False)
    path = trainer.checkpoint_dir / "last.pt"
    # Tensors and plain data only: loadable with weights_only=True.
    state = torch.load(path, weights_only=True)
    assert state["update"] == 3
    loaded, cfg = TrainedPolicy.from_checkpoint(path)
    assert cfg["seed"] == trainer.config["seed"]
    env = trainer.validation_env
    obs, _ = env.reset(days=env.grid.profiles.validation_days)
    expected = trainer.policy().act(obs, env)
    got = loaded.act(obs, env)
    for name in expected:
        np.testing.assert_array_equal(expected[name], got[name])


def test_parameter_sharing_per_type_has_one_learner_per_type(tmp_path):
    trainer = Trainer.from_config(
        None,
        {**TINY, "ppo.parameter_sharing": "per_type", "train.total_updates": 2},
        run_name="shared",
        root=tmp_path,
    )
    assert trainer.learners.learner_names == ["producer", "battery", "business", "consumer"]
    assert trainer.learners.ppo.network.params.shape[0] == 4
    trainer.train(progress_bar=False)
    # Members of a type act with one network: same observation, same action.
    obs, _ = trainer.validation_env.reset(days=trainer.validation_env.grid.profiles.validation_days)
    same = {name: obs["consumer_1"] for name in obs if name.startswith("consumer")}
    actions = trainer.learners.act({**obs, **same}, deterministic=True, learn=False)
    # (Equal up to rounding: a matrix product may round rows differently by position.)
    np.testing.assert_allclose(actions["consumer_1"], actions["consumer_12"], atol=1e-6)
    assert not np.allclose(actions["consumer_1"], actions["producer_1"], atol=1e-3)


def test_target_kl_stops_updates_early(tmp_path):
    trainer = Trainer.from_config(
        None,
        {**TINY, "ppo.target_kl": 1e-9, "train.total_updates": 1},
        run_name="kl",
        root=tmp_path,
    )
    trainer.train(progress_bar=False)
    # With a tiny target every agent stops after its first epoch.
    cfg = trainer.config["ppo"]
    steps = trainer.learners.ppo.optimizer.steps
    assert steps.tolist() == [cfg["num_minibatches"]] * len(trainer.env.agents)


def test_callbacks_fire_with_their_payloads(tmp_path):
    trainer = Trainer.from_config(None, TINY, run_name="cb", root=tmp_path)
    seen: dict[str, list] = {"on_update": [], "on_eval": [], "on_train_end": []}
    for event in seen:
        trainer.add_callback(event, lambda tr, payload, e=event: seen[e].append(payload))
    trainer.train(progress_bar=False)
    assert [row["update"] for row in seen["on_update"]] == [1.0, 2.0, 3.0]
    assert len(seen["on_eval"]) == 2  # at update 2 (interval) and 3 (the end)
    assert set(seen["on_eval"][0]) == {"ippo", "random", "heuristic"}
    assert seen["on_train_end"][0]["updates"] == 3
    with pytest.raises(ValueError, match="unknown event"):
        trainer.add_callback("on_banana", print)


def test_train_refuses_more_updates_than_the_schedule_and_honours_an_early_stop(tmp_path):
    trainer = Trainer.from_config(None, TINY, run_name="limits", root=tmp_path)
    with pytest.raises(ValueError, match="raise train.total_updates instead"):
        trainer.train(total_updates=10, progress_bar=False)
    trainer.request_stop()
    trainer.train(progress_bar=False)
    assert trainer.update == 0  # the stop came before training started
    trainer.train(total_updates=2, progress_bar=False)
    assert trainer.update == 2  # a stop ends one call only


@pytest.mark.parametrize("network", ["case30", "cigre_mv"])
def test_training_runs_saves_and_resumes_on_another_network(tmp_path, network):
    # Automatic nodes on another net: the run trains, its checkpoint holds the net and
    # the node list, a resumed run continues it and the trained policy acts on it.
    overrides = {**TINY, "grid.network": network}
    trainer = Trainer.from_config(None, overrides, run_name=network, root=tmp_path)
    trainer.train(total_updates=2, progress_bar=False)
    n_agents = len(trainer.env.agents)
    assert n_agents == {"case30": 27, "cigre_mv": 20}[network]
    resumed = Trainer.resume(trainer.checkpoint_dir / "last.pt", root=tmp_path)
    assert resumed.config["grid"]["network"] == network and resumed.update == 2
    assert resumed.config["nodes"] == trainer.config["nodes"]
    resumed.train(progress_bar=False)
    assert resumed.update == TINY["train.total_updates"]
    policy, cfg = TrainedPolicy.from_checkpoint(resumed.checkpoint_dir / "last.pt")
    env = resumed.validation_env
    obs, _ = env.reset(days=env.grid.profiles.validation_days)
    actions = policy.act(obs, env)
    assert len(actions) == n_agents and all(np.isfinite(a).all() for a in actions.values())


def test_a_mappo_run_resumes_exactly_and_its_actors_need_only_their_observation(tmp_path):
    config = {**TINY, "ppo.critic": "centralised", "train.total_updates": 4}
    whole = Trainer.from_config(None, config, run_name="whole", root=tmp_path)
    whole.train(progress_bar=False)
    half = Trainer.from_config(None, config, run_name="half", root=tmp_path)
    half.train(total_updates=2, progress_bar=False)
    resumed = Trainer.resume(half.checkpoint_dir / "last.pt")
    resumed.train(progress_bar=False)
    assert torch.equal(resumed.learners.ppo.network.params, whole.learners.ppo.network.params)
    # The trained policy acts from the checkpoint like any other; its critics read all
    # 238 observation entries plus their own, its actors their own observation only.
    policy, cfg = TrainedPolicy.from_checkpoint(whole.checkpoint_dir / "last.pt")
    assert cfg["ppo"]["critic"] == "centralised"
    assert policy.learners.ppo.network.critic_dim == 238 + 16
    env = whole.validation_env
    obs, _ = env.reset(seed=0)
    actions = policy.act(obs, env)
    changed = {a: o + (5.0 if a == "battery_3" else 0.0) for a, o in obs.items()}
    moved = policy.act(changed, env)
    for agent in obs:
        same = np.array_equal(actions[agent], moved[agent])
        assert same == (agent != "battery_3"), agent
