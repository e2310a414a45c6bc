"""Scaling: environment and training speed against the number of agents.

Measures, in one run, on case14 (the default 17 agents) and on case30, case57 and
case118 with automatic nodes (27, 52 and 162 agents):

- **environment steps per second** at B = 64 parallel days, uniform random actions,
  days restarting in place as in training. One environment step is one day advanced by
  one step for every agent, so a batched step counts B.
- **training steps per second**: the default PPO settings (64 days x 24 steps per
  update, 4 epochs of 4 minibatches), one torch thread, over a few updates after one
  warm-up update; rollout and update time only (no evaluation, no checkpoints).
- **microseconds per agent-step** for both: wall time divided by environment steps
  times agents. Cost per agent-step no worse than linear in the number of agents means
  this figure does not grow with the agent count.

Environment figures are the median of a few repetitions; training figures are one
timing over four updates. The last line printed is one JSON object holding every
figure and the targets.

Run it with::

    .venv/bin/python benchmarks/scaling.py            # about a minute on 2 cores
    .venv/bin/python benchmarks/scaling.py --quick    # fewer repetitions
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np
import torch

from gridppo import BatchedGridEnv, PowerGrid, load_config
from gridppo.training.trainer import Trainer

SEED = 0
NETWORKS = ("case14", "case30", "case57", "case118")
BATCH_SIZE = 64
TARGET_CASE118_TRAINING_STEPS_PER_S = 1_000.0


def network_overrides(network: str) -> list[str]:
    """Config overrides that select ``network`` (case14 keeps its hand-written nodes)."""
    return [] if network == "case14" else [f"grid.network={network}"]


def env_steps_per_second(grid: PowerGrid, steps: int, repeats: int) -> float:
    """Environment steps per second at B = 64 with uniform random actions."""
    env = BatchedGridEnv(grid=grid, batch_size=BATCH_SIZE, autoreset=True)
    env.reset(seed=SEED)
    rng = np.random.default_rng(SEED)
    plan = [
        {
            name: rng.uniform(-1.0, 1.0, (BATCH_SIZE, space.shape[0]))
            for name, space in env.action_spaces.items()
        }
        for _ in range(steps)
    ]
    for actions in plan[:3]:
        env.step(actions)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        for actions in plan:
            env.step(actions)
        times.append(time.perf_counter() - start)
    return steps * BATCH_SIZE / statistics.median(times)


def training_steps_per_second(network: str, updates: int, root: Path) -> float:
    """Training steps per second over ``updates`` updates after one warm-up update."""
    overrides = [
        *network_overrides(network),
        f"train.total_updates={updates + 1}",
        "train.eval_interval=1000",
        "train.checkpoint_interval=1000",
        "train.tensorboard=false",
        "train.torch_threads=1",
        f"seed={SEED}",
    ]
    trainer = Trainer.from_config(None, overrides, run_name=network, root=root)
    trainer.train_one_update()  # warm-up: first calls allocate and compile
    start_step = trainer.global_step
    start = time.perf_counter()
    for _ in range(updates):
        trainer.train_one_update()
    return (trainer.global_step - start_step) / (time.perf_counter() - start)


def main() -> None:
    """Measure every network and print the table and the JSON line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer steps and repetitions")
    args = parser.parse_args()
    env_steps, env_repeats, updates = (24, 2, 2) if args.quick else (48, 3, 4)
    torch.set_num_threads(1)
    rows = {}
    with tempfile.TemporaryDirectory() as tmp, warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for network in NETWORKS:
            grid = PowerGrid(load_config(None, network_overrides(network)))
            agents = len(grid.nodes)
            env_sps = env_steps_per_second(grid, env_steps, env_repeats)
            train_sps = training_steps_per_second(network, updates, Path(tmp))
            rows[network] = {
                "agents": agents,
                "buses": grid.n_bus,
                "env_steps_per_s": round(env_sps, 1),
                "training_steps_per_s": round(train_sps, 1),
                "env_us_per_agent_step": round(1e6 / (env_sps * agents), 3),
                "training_us_per_agent_step": round(1e6 / (train_sps * agents), 3),
            }
            print(
                f"{network:>8}: {agents:>3} agents  env {env_sps:>9,.0f} steps/s "
                f"({rows[network]['env_us_per_agent_step']:.2f} us/agent-step)  training "
                f"{train_sps:>7,.0f} steps/s "
                f"({rows[network]['training_us_per_agent_step']:.2f} us/agent-step)",
                flush=True,
            )
    base = rows["case14"]
    largest = rows["case118"]
    targets = {
        "case118_training_steps_per_s_at_least_1000": largest["training_steps_per_s"]
        >= TARGET_CASE118_TRAINING_STEPS_PER_S,
        "training_cost_per_agent_step_not_above_case14": largest["training_us_per_agent_step"]
        <= base["training_us_per_agent_step"],
        "env_cost_per_agent_step_not_above_case14": largest["env_us_per_agent_step"]
        <= base["env_us_per_agent_step"],
    }
    print(json.dumps({"batch_size": BATCH_SIZE, "networks": rows, "targets_met": targets}))


if __name__ == "__main__":
    main()
