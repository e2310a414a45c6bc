"""Run a sweep on Ray Tune: on this machine's CPUs, or on a Ray cluster.

:func:`run_sweep` plans the trials (:func:`~gridppo.sweep.trial.plan_sweep`, every
configuration checked first), leaves out the trials that finished in an earlier run,
runs the others with Ray Tune, one trial per CPU (``cpus_per_trial`` to give each
more, with as many torch threads), and ends with the summary table and plot
(:mod:`gridppo.sweep.summary`). Each trial is an ordinary gridppo run in its own
folder (:func:`~gridppo.sweep.trial.run_trial`), so a sweep that was stopped or killed
continues when the same call runs again: finished trials are kept, the others resume
from their ``last.pt``.

Ray is optional (``pip install "gridppo[sweep]"``) and imported only when a sweep
runs, so ``import gridppo`` and the other commands never wait for it. Ray Tune keeps
its own records (the experiment state and each failed trial's ``error.txt``) in
``SWEEP/tune/``. On a cluster, every machine must see the sweep's folder at the same
path (a shared file system such as NFS): trials write their runs there and resume
from there.
"""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt

from gridppo.sweep.summary import SUMMARY_KPIS, SweepSummary, summarize
from gridppo.sweep.trial import (
    TRIALS_DIR,
    Trial,
    check_sweep_dir,
    plan_sweep,
    read_trial_results,
    run_trial,
)

__all__ = ["RayMissingError", "SweepResult", "run_sweep", "RAY_MISSING"]

RAY_MISSING = 'sweeps need Ray Tune: pip install "gridppo[sweep]"'
# Ray Tune's own records of a sweep, inside the sweep's folder.
TUNE_DIR = "tune"


class RayMissingError(RuntimeError):
    """Ray Tune is not installed; the message says how to install it."""


def _import_tune() -> Any:
    """Ray Tune, imported now (it takes seconds), or RayMissingError."""
    try:
        from ray import tune
    except ImportError:
        raise RayMissingError(RAY_MISSING) from None
    return tune


@dataclass
class SweepResult:
    """What :func:`run_sweep` did: the sweep's folder, every trial of the sweep,
    those this call ran (the others had finished before), those that failed (Ray
    Tune's ``error.txt`` under ``SWEEP/tune/`` says why), those still without results
    (failed or stopped: the same call again continues them), the ``summary`` of every
    finished trial in the folder and the ``files`` written (summary CSV and Markdown,
    plot)."""

    sweep_dir: Path
    summary: SweepSummary
    trials: list[str]
    ran: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    unfinished: list[str] = field(default_factory=list)
    files: dict[str, Path] = field(default_factory=dict)

    def _repr_markdown_(self) -> str:  # a notebook shows the summary table
        return self.summary.to_markdown()


def run_sweep(
    values: Mapping[str, Sequence[Any]] | Sequence[str],
    overrides: Sequence[str] | Mapping[str, Any] | None = (),
    config: str | os.PathLike | Mapping[str, Any] | None = None,
    *,
    samples: int | None = None,
    address: str | None = None,
    cpus_per_trial: int = 1,
    name: str | None = None,
    directory: str | os.PathLike = "sweeps",
    kpi: str = "gap_to_optimum_percent",
    verbose: bool = True,
) -> SweepResult:
    """Run a grid (or, with ``samples=N``, a random search) over config ``values`` on
    Ray Tune, and summarise it.

    ``values`` maps dotted config keys to the values to try, e.g. ``{"ppo.lr": [1e-3,
    3e-4], "seed": [0, 1, 2]}`` (or ``--values`` strings, ``["ppo.lr=1e-3,3e-4"]``);
    every trial starts from ``config`` with ``overrides`` (``--set``). The sweep lives in
    ``directory/name`` (``name`` defaults to the swept keys joined by ``+``). Ray starts
    on this machine's CPUs unless it is running already or ``address`` names a cluster
    (``"auto"``, ``"HOST:6379"`` or ``"ray://HOST:10001"``). ``kpi`` is the test KPI
    plotted per setting. Trials that finished before are not run again.

    Raises ConfigError for a bad key or value (before anything runs), RayMissingError
    without Ray Tune.
    """
    if cpus_per_trial < 1:
        raise ValueError(f"--cpus-per-trial: must be at least 1, got {cpus_per_trial}")
    if kpi not in SUMMARY_KPIS:
        raise ValueError(f"--kpi: {kpi!r} is not one of {', '.join(SUMMARY_KPIS)}")
    plan = plan_sweep(values, overrides, config, samples, torch_threads=cpus_per_trial)
    tune = _import_tune()
    sweep_dir = (Path(directory) / (name or "+".join(plan.keys))).expanduser().resolve()
    check_sweep_dir(sweep_dir, plan)
    pending = [
        t for t in plan.trials if read_trial_results(sweep_dir / TRIALS_DIR / t.name) is None
    ]
    say = print if verbose else (lambda *a, **k: None)
    shown = os.path.relpath(sweep_dir) if sweep_dir.is_relative_to(Path.cwd()) else sweep_dir
    say(
        f"Sweep {shown}: {len(plan.trials)} trials, "
        f"{len(plan.trials) - len(pending)} finished before, {len(pending)} to run",
        flush=True,
    )
    failed: list[str] = []
    if pending:
        failed = _run_on_ray(tune, pending, sweep_dir, address, cpus_per_trial, say)
    summary = summarize(sweep_dir)
    files = summary.write() if summary.rows else {}
    if summary.rows:
        fig = summary.plot(kpi)
        files["plot"] = sweep_dir / f"summary_{kpi}.png"
        fig.savefig(files["plot"], dpi=100)
        plt.close(fig)
    names = [t.name for t in plan.trials]
    unfinished = [n for n in names if read_trial_results(sweep_dir / TRIALS_DIR / n) is None]
    ran = [t.name for t in pending]
    return SweepResult(sweep_dir, summary, names, ran, failed, unfinished, files)


def _trainable_for(trials: dict[str, dict[str, Any]], sweep_dir: str) -> Any:
    """The Ray Tune trainable of a sweep's ``trials`` (name -> plain-data trial)."""

    def run_gridppo_trial(config: dict[str, Any]) -> None:
        """One Ray Tune trial: run the gridppo trial ``config["trial"]`` and report its
        test KPIs to Tune (once, at the end)."""
        tune = _import_tune()
        results = run_trial(trials[config["trial"]], sweep_dir)
        tune.report({**results["kpis"], "updates": results["updates"]})

    # The trials travel inside the function (pickled with it): tune.with_parameters
    # would be lighter, but does not work through Ray Client.
    return run_gridppo_trial


# Trials keep the driver's working directory (the sweep uses absolute paths, but a
# user's relative paths should mean the same in a trial as here). Tune keeps only its
# result.json per trial: no second metrics file or TensorBoard log beside gridppo's own,
# and none of its status tables (the progress callback prints a line per trial).
TUNE_SETTINGS = {
    "RAY_CHDIR_TO_TRIAL_DIR": "0",
    "TUNE_DISABLE_AUTO_CALLBACK_LOGGERS": "1",
    "RAY_AIR_NEW_OUTPUT": "0",
}


_TOKEN_NOTICE_LOGGER = "ray._private.authentication.authentication_token_setup"


def _drop_token_notice(record: logging.LogRecord) -> bool:
    """Logging filter: False for Ray's notice that token authentication is on."""
    return not record.getMessage().startswith("Token authentication is enabled for this")


@contextlib.contextmanager
def _ray_session(address: str | None) -> Iterator[None]:
    """Ray for the sweep: the running instance if there is one (a notebook's, a test's),
    else a cluster at ``address``, else a local instance on every CPU, shut down at the
    end. Quiet: the driver's warnings only, no dashboard, no worker output."""
    import ray

    if ray.is_initialized():
        yield
        return
    os.environ.setdefault("RAY_DEDUP_LOGS", "1")
    quiet: dict[str, Any] = {"logging_level": logging.WARNING}
    if address and address.startswith("ray://"):
        # Ray Client: Tune itself runs on the cluster, so it gets its settings there,
        # and its progress lines come back as its output.
        ray.init(address=address, runtime_env={"env_vars": TUNE_SETTINGS}, **quiet)
    else:
        # Workers' output (and Ray's noise as it stops them) stays in Ray's session logs;
        # a failed trial's traceback is in its error.txt, which the progress line names.
        quiet["log_to_driver"] = False
        if address:
            ray.init(address=address, **quiet)
        else:
            # The local instance keeps Ray's token authentication; only its notice that
            # it is on (and how to opt out) is dropped, since it lives for this sweep.
            logging.getLogger(_TOKEN_NOTICE_LOGGER).addFilter(_drop_token_notice)
            ray.init(num_cpus=os.cpu_count(), include_dashboard=False, **quiet)
    try:
        yield
    finally:
        ray.shutdown()


@contextlib.contextmanager
def _environment(variables: Mapping[str, str]) -> Iterator[None]:
    """Set environment variables for the duration of the block, then restore them."""
    before = {k: os.environ.get(k) for k in variables}
    os.environ.update(variables)
    try:
        yield
    finally:
        for key, value in before.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def _run_on_ray(
    tune: Any,
    trials: list[Trial],
    sweep_dir: Path,
    address: str | None,
    cpus_per_trial: int,
    say: Any,
) -> list[str]:
    """Run ``trials`` with Ray Tune; returns the names of those that failed."""
    specs = {t.name: asdict(t) for t in trials}  # plain data for the worker processes
    trainable = tune.with_resources(_trainable_for(specs, str(sweep_dir)), {"cpu": cpus_per_trial})
    with _environment(TUNE_SETTINGS), _ray_session(address):
        # Built once Ray runs: through Ray Client the tuner then runs on the cluster.
        tuner = tune.Tuner(
            trainable,
            param_space={"trial": tune.grid_search(list(specs))},
            tune_config=tune.TuneConfig(
                trial_name_creator=lambda trial: trial.config["trial"],
                trial_dirname_creator=lambda trial: trial.config["trial"],
                # A worker that finished a trial takes the next: it has gridppo imported.
                reuse_actors=True,
            ),
            run_config=tune.RunConfig(
                name=TUNE_DIR,
                storage_path=str(sweep_dir),
                verbose=0,
                # Tune's notebook reporter clears the cell's output when a sweep starts
                # in Jupyter; the plain one leaves the sweep's own lines in place.
                progress_reporter=tune.CLIReporter(),
                callbacks=[
                    _progress_callback(tune, len(trials), say),
                    tune.logger.JsonLoggerCallback(),
                ],
                failure_config=tune.FailureConfig(max_failures=0),
            ),
        )
        say(f"Running {len(trials)} trial(s) on Ray Tune, {cpus_per_trial} CPU(s) each", flush=True)
        grid = tuner.fit()
    # A trial's folder in SWEEP/tune/ is named after it.
    return sorted(Path(result.path).name for result in grid if result.error)


def _progress_callback(tune: Any, total: int, say: Any) -> Any:
    """A Tune callback that prints one line per finished or failed trial."""

    class Progress(tune.Callback):
        """Prints ``[done/total] trial: KPIs`` as trials end."""

        def __init__(self) -> None:
            self.done = 0

        def on_trial_complete(self, iteration: int, trials: list, trial: Any, **info: Any) -> None:
            self.done += 1
            result = trial.last_result or {}
            gap, cost = result.get("gap_to_optimum_percent"), result.get("system_cost_eur")
            kpis = (
                f"gap to optimum {gap:.2f} %, cost {cost:,.0f} EUR/day" if gap is not None else ""
            )
            say(f"[{self.done}/{total}] {trial.config['trial']}: {kpis}", flush=True)

        def on_trial_error(self, iteration: int, trials: list, trial: Any, **info: Any) -> None:
            self.done += 1
            where = f"{trial.path}/error.txt"
            say(f"[{self.done}/{total}] {trial.config['trial']}: failed, see {where}", flush=True)

    return Progress()
