"""Environment and power-flow speed: the fast backend against the pandapower backend.

Measures, in one run:

- **environment steps per second** at B = 1, 64 and 256 parallel days for each
  backend. One environment step is one day advanced by one step, so a batched step of
  B days counts B. Actions are uniform random from a seeded generator; days restart
  in place (autoreset) as in training, so the restarts' power flows are included.
- **microseconds per power flow** for each backend: the fast backend's ``solve`` on a
  batch of B random scenarios divided by B (B = 1 and 256); the pandapower backend's
  ``solve``, one ``runpp`` per scenario, divided by the number of scenarios. The
  scenarios are drawn at random (every load scaled on its own, random PV, producer
  and battery setpoints), so neither solver starts next to the answer.
- the speed-up of the fast backend over pandapower per power flow.

Every figure is the median of several timed repetitions after a warm-up; the
pandapower backend at B = 64 and 256 is timed over a few batched steps only, since
each costs B calls to ``runpp``. The last line printed is one JSON object holding
every figure.

Run it with::

    .venv/bin/python benchmarks/env_speed.py
"""

from __future__ import annotations

import json
import platform
import statistics
import time
import warnings
from collections.abc import Callable

import lightsim2grid
import numpy as np
import pandapower as pp

from gridppo import BatchedGridEnv, PowerGrid, load_config

SEED = 0
BATCH_SIZES = (1, 64, 256)
# (warm-up steps, timed steps per repetition, repetitions) per backend and batch size.
# pandapower is warm after its B=1 run; at B=64 and 256 each step costs B runpp calls.
ENV_PLAN = {
    "fast": {1: (10, 240, 5), 64: (3, 48, 5), 256: (3, 24, 5)},
    "pandapower": {1: (1, 24, 3), 64: (0, 3, 1), 256: (0, 2, 1)},
}
TARGET_STEPS_PER_S_FAST_B64 = 20_000
TARGET_SPEEDUP = 1_000


def median_seconds(fn: Callable[[], None], repeats: int) -> float:
    """Median wall time of ``repeats`` calls of ``fn`` (seconds)."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def env_steps_per_second(
    grid: PowerGrid, batch_size: int, warmup: int, steps: int, repeats: int
) -> float:
    """Environment steps per second (B per batched step) with random actions."""
    env = BatchedGridEnv(grid=grid, batch_size=batch_size, autoreset=True)
    env.reset(seed=SEED)
    rng = np.random.default_rng(SEED)
    plan = [
        {
            name: rng.uniform(-1.0, 1.0, (batch_size, space.shape[0]))
            for name, space in env.action_spaces.items()
        }
        for _ in range(max(steps, warmup))
    ]
    for actions in plan[:warmup]:
        env.step(actions)
    plan = plan[:steps]

    def run() -> None:
        for actions in plan:
            env.step(actions)

    return steps * batch_size / median_seconds(run, repeats)


def us_per_power_flow(grid: PowerGrid, batch_size: int, batches: int, repeats: int) -> float:
    """Microseconds per scenario of the grid's backend, over ``batches`` random batches."""
    rng = np.random.default_rng(SEED)
    work = [grid.random_injections(batch_size, rng) for _ in range(batches)]
    for inj in work[:2]:
        assert grid.run_power_flow(inj).converged.all()

    def run() -> None:
        for inj in work:
            grid.run_power_flow(inj)

    return median_seconds(run, repeats) / (batches * batch_size) * 1e6


def us_per_bare_runpp(grid: PowerGrid, scenarios: int) -> float:
    """Microseconds per bare ``pandapower.runpp`` call on the grid's net, for reference."""
    net = grid.backend.net
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for _ in range(scenarios):
            pp.runpp(net, numba=True)
    return (time.perf_counter() - start) / scenarios * 1e6


def cpu_model() -> str:
    """The CPU's model name, as ``lscpu`` reports it (or the platform's best guess)."""
    try:
        with open("/proc/cpuinfo") as handle:
            for line in handle:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def main() -> dict[str, float | str]:
    """Run every measurement, print the table, and print the figures as JSON last."""
    cfg = load_config(None)
    grids = {name: PowerGrid(cfg, backend=name) for name in ("fast", "pandapower")}
    figures: dict[str, float | str] = {}
    for backend, grid in grids.items():
        for batch in BATCH_SIZES:
            figures[f"steps_per_s_{backend}_b{batch}"] = env_steps_per_second(
                grid, batch, *ENV_PLAN[backend][batch]
            )
    figures["us_per_pf_fast_b1"] = us_per_power_flow(grids["fast"], 1, 200, 5)
    figures["us_per_pf_fast_b256"] = us_per_power_flow(grids["fast"], 256, 10, 5)
    figures["us_per_pf_pandapower"] = us_per_power_flow(grids["pandapower"], 30, 1, 3)
    figures["us_per_runpp_bare"] = us_per_bare_runpp(grids["pandapower"], 30)
    figures["speedup_fast_vs_pandapower"] = (
        figures["us_per_pf_pandapower"] / figures["us_per_pf_fast_b256"]
    )
    figures["speedup_fast_vs_pandapower_b1"] = (
        figures["us_per_pf_pandapower"] / figures["us_per_pf_fast_b1"]
    )
    figures["env_speedup_fast_vs_pandapower_b64"] = (
        figures["steps_per_s_fast_b64"] / figures["steps_per_s_pandapower_b64"]
    )

    print("Environment steps per second (one step = one day advanced one step)")
    print(f"{'B':>6} {'fast':>14} {'pandapower':>14} {'ratio':>10}")
    for batch in BATCH_SIZES:
        fast = figures[f"steps_per_s_fast_b{batch}"]
        ref = figures[f"steps_per_s_pandapower_b{batch}"]
        print(f"{batch:>6} {fast:>14,.0f} {ref:>14,.0f} {fast / ref:>9,.0f}x")
    print()
    print("Microseconds per power flow (per scenario)")
    print(f"  fast, B=1:          {figures['us_per_pf_fast_b1']:>12,.1f}")
    print(f"  fast, B=256:        {figures['us_per_pf_fast_b256']:>12,.1f}")
    print(f"  pandapower backend: {figures['us_per_pf_pandapower']:>12,.1f}")
    print(f"  bare runpp:         {figures['us_per_runpp_bare']:>12,.1f}")
    print(
        f"  speed-up pandapower/fast: {figures['speedup_fast_vs_pandapower']:,.0f}x at B=256, "
        f"{figures['speedup_fast_vs_pandapower_b1']:,.0f}x at B=1"
    )
    print()
    checks = [
        (
            f"fast env at B=64 >= {TARGET_STEPS_PER_S_FAST_B64:,} steps/s",
            figures["steps_per_s_fast_b64"] >= TARGET_STEPS_PER_S_FAST_B64,
        ),
        (
            f"fast power flow >= {TARGET_SPEEDUP:,}x quicker than runpp (B=256)",
            figures["speedup_fast_vs_pandapower"] >= TARGET_SPEEDUP,
        ),
    ]
    for text, ok in checks:
        print(f"  [{'met' if ok else 'MISSED'}] {text}")
    print(
        f"CPU: {cpu_model()}; Python {platform.python_version()}, numpy {np.__version__}, "
        f"pandapower {pp.__version__}, lightsim2grid {lightsim2grid.__version__}"
    )
    rounded = {k: round(v, 2) if isinstance(v, float) else v for k, v in figures.items()}
    print(json.dumps(rounded))
    return figures


if __name__ == "__main__":
    main()
