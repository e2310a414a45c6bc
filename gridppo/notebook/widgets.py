"""Notebook widgets: train, watch, explore (ipywidgets).

Three widgets, each a class whose ``widget`` attribute is the ipywidgets container to
display (a notebook cell that ends with the object shows it too):

- :class:`TrainingPanel`: sliders for the main PPO settings and reward weights, a
  Train and a Stop button, a progress bar, live reward curves and grid KPIs while
  training runs, and the trained policy against the baselines when it ends;
- :class:`BehaviourExplorer`: one test day of a trained policy, step by step:
  the grid diagram at that step next to one agent's day;
- :class:`GridPlayground`: move a load, a PV plant or a producer and see the power
  flow's voltages, loadings and violations at once.

Every handler is a plain method, so a test (or a script) drives a widget without a
browser: set a control's ``value`` (its observers run at once) or press a button with
``button.click()``, then look at the state and the figures.

Two design choices keep the widgets responsive:

- **Training runs in a background thread**, so the notebook keeps handling button
  presses while it runs; Stop calls :meth:`gridppo.trainer.Trainer.request_stop`.
  The trainer's callbacks (``on_update``, ``on_eval``) feed the progress bar and the
  curves; the curves are redrawn at most once every ``redraw_interval_s`` seconds.
- **Figures are shown as PNG images** in ``ipywidgets.Image`` widgets. A background
  thread can update an Image safely, which it cannot do with an Output widget. The
  figures are plain :class:`matplotlib.figure.Figure` objects (not pyplot's), drawn by
  :mod:`gridppo.plots`, so nothing piles up in pyplot's list of open figures and each
  widget keeps its last figure (``panel.figure``) for saving or inspecting.
"""

from __future__ import annotations

import html
import io
import math
import os
import threading
import time
from collections.abc import Mapping, Sequence
from typing import Any

import ipywidgets as widgets
import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from gridppo.config.fields import ConfigError, parse_settings
from gridppo.config.loader import SCHEMA, load_config
from gridppo.env import BatchedGridEnv
from gridppo.evaluation.protocol import evaluate_on_test_days
from gridppo.evaluation.simulate import DayRecord, EvalResult, kpi_table, run_days
from gridppo.grid.network import PowerGrid
from gridppo.grid.nodes import Business, Consumer, Producer
from gridppo.grid.physics import Injections, PowerFlowResult
from gridppo.grid.profiles import clock
from gridppo.training.trainer import TrainedPolicy, Trainer
from gridppo.viz.plots import (
    plot_agent_day,
    plot_grid,
    plot_kpi_comparison,
    plot_training_curves,
)

__all__ = ["TrainingPanel", "BehaviourExplorer", "GridPlayground", "QUICK_START"]

# The training panel starts with a run that finishes in seconds; the sliders go further.
QUICK_START: dict[str, Any] = {
    "train.total_updates": 30,
    "train.num_days": 32,
    "train.eval_interval": 5,
}

# matplotlib is not thread-safe: build and render one figure at a time.
_DRAW_LOCK = threading.RLock()
_DPI = 80
_WIDE = {"description_width": "150px"}


def _png(fig: Figure, dpi: int = _DPI) -> bytes:
    """The figure rendered as PNG bytes."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=dpi)
    return buffer.getvalue()


def _show(image: widgets.Image, fig: Figure) -> None:
    """Put ``fig`` into ``image`` (and make the image visible)."""
    image.value = _png(fig)
    image.layout.display = None


def _image() -> widgets.Image:
    """An empty PNG image widget, hidden until it gets a figure."""
    return widgets.Image(format="png", layout=widgets.Layout(display="none", max_width="100%"))


def _one_line(err: BaseException) -> str:
    """An error as one line: a config error's own message, else its type and first line."""
    lines = str(err).strip().splitlines()
    first = lines[0] if lines else ""
    if isinstance(err, ConfigError):
        return first
    return f"{type(err).__name__}: {first}" if first else type(err).__name__


def _help(dotted: str) -> str:
    """The schema's one-line help for a dotted key (the controls' tooltip)."""
    section, _, key = dotted.rpartition(".")
    return SCHEMA[section][key].help


def _with(options: list[Any], value: Any) -> list[Any]:
    """``options`` plus ``value`` if missing, sorted."""
    return sorted({*options, value})


def _series(rows: Sequence[Mapping[str, float]], key: str) -> np.ndarray:
    """One metric over the updates (NaN where a row lacks it)."""
    return np.array([float(row.get(key, math.nan)) for row in rows], dtype=float)


class _Displayable:
    """Shows ``self.widget`` when the object is a notebook cell's last expression."""

    widget: widgets.Widget

    def _ipython_display_(self) -> None:
        from IPython.display import display

        display(self.widget)


# -- training ----------------------------------------------------------------------------


class TrainingPanel(_Displayable):
    """Train IPPO from a notebook: settings, Train/Stop, live curves, final comparison.

    The controls map to dotted config overrides (see :meth:`overrides`):

    ======================  =============================  ==========================
    control                 override                       range
    ======================  =============================  ==========================
    learning rate           ``ppo.lr``                     1e-5 .. 1e-2 (log scale)
    clip range              ``ppo.clip_coef``              0.05 .. 0.5
    epochs per update       ``ppo.update_epochs``          1 .. 20
    hidden units            ``ppo.hidden_sizes``           every layer this wide
    updates                 ``train.total_updates``        1 .. 300
    parallel days           ``train.num_days``             8 .. 128
    parameter sharing       ``ppo.parameter_sharing``      none / per_type
    grid penalty weight     ``reward.grid_penalty_weight`` 0 .. 10
    seed                    ``seed``                       0 .. 10**6
    ======================  =============================  ==========================

    The "other settings" box takes any further key as ``KEY=VALUE``, separated by
    spaces as on the command line, e.g. ``ppo.ent_coef=0.01 train.rollout_steps=12``.

    While training runs, the progress bar follows the updates and the figure shows
    every agent's return per day (or the mean per node type, with the toggle) beside
    three grid KPIs: the system cost on the validation days (with the random and
    heuristic baselines as dashed lines), the highest branch loading and the number of
    buses outside the voltage band. When training ends (or is stopped) the trained
    policy is compared with the baselines on the held-out test days; the day's optimum
    (:mod:`gridppo.optimum`, perfect foresight) joins them if its checkbox is ticked
    (a few seconds).

    Arguments:
        config: a YAML path, a config dict or None (the default configuration).
        root: folder under which the runs' logs and checkpoints are written.
        overrides: dotted overrides applied first (the controls start from them);
            :data:`QUICK_START` lies beneath them, so the first run takes seconds.
        background: run training in a background thread when Train is pressed (the
            notebook way); False trains in the caller, for scripts and tests.
        redraw_interval_s: redraw the live curves at most this often (and never spend
            more than about a third of the time drawing).

    Attributes:
        widget: the ipywidgets container to display.
        trainer: the :class:`~gridppo.trainer.Trainer` of the latest run (None before).
        history: the metric rows of the latest run, one per update.
        state: ``idle``, ``training``, ``stopped``, ``finished`` or ``error``.
        status: the status line shown in the panel (it starts with the state).
        error: the exception of a failed run (the panel shows only its first line).
        figure: the latest curves figure; ``kpi_figure``: the final comparison.
        results: the final comparison, policy name -> EvalResult.
    """

    def __init__(
        self,
        config: str | os.PathLike | Mapping[str, Any] | None = None,
        root: str | os.PathLike = ".",
        overrides: Mapping[str, Any] | Sequence[str] | None = None,
        background: bool = True,
        redraw_interval_s: float = 2.0,
    ):
        self.config_source = str(config) if isinstance(config, os.PathLike) else config
        self.root = root
        self.base_overrides = {**QUICK_START, **parse_settings(overrides)}
        self.background = background
        self.redraw_interval_s = redraw_interval_s
        cfg = load_config(self.config_source, self.base_overrides)
        self.trainer: Trainer | None = None
        self.thread: threading.Thread | None = None
        self.state = "idle"
        self.error: BaseException | None = None
        self.figure: Figure | None = None
        self.kpi_figure: Figure | None = None
        self.results: dict[str, EvalResult] = {}
        self._running = False
        self._stop_requested = False
        self._next_draw = 0.0
        self._last_eval: tuple[int, EvalResult] | None = None
        self._baselines: dict[str, dict[str, float]] = {}
        self._depth = len(cfg["ppo"]["hidden_sizes"])

        ppo, train = cfg["ppo"], cfg["train"]
        hidden = ppo["hidden_sizes"][0]
        self.controls: dict[str, widgets.ValueWidget] = {
            "ppo.lr": widgets.FloatLogSlider(
                value=ppo["lr"],
                base=10,
                min=-5,
                max=-2,
                step=0.1,
                readout_format=".1e",
                description="learning rate",
            ),
            "ppo.clip_coef": widgets.FloatSlider(
                value=ppo["clip_coef"], min=0.05, max=0.5, step=0.01, description="clip range"
            ),
            "ppo.update_epochs": widgets.IntSlider(
                value=ppo["update_epochs"], min=1, max=20, description="epochs per update"
            ),
            "ppo.hidden_sizes": widgets.Dropdown(
                options=_with([16, 32, 64, 128, 256], hidden),
                value=hidden,
                description="hidden units",
            ),
            "train.total_updates": widgets.IntSlider(
                value=train["total_updates"],
                min=1,
                max=max(300, train["total_updates"]),
                description="updates",
            ),
            "train.num_days": widgets.Dropdown(
                options=_with([8, 16, 32, 64, 128], train["num_days"]),
                value=train["num_days"],
                description="parallel days",
            ),
            "ppo.parameter_sharing": widgets.Dropdown(
                options=[("none (one network per node)", "none"), ("per type", "per_type")],
                value=ppo["parameter_sharing"],
                description="parameter sharing",
            ),
            "reward.grid_penalty_weight": widgets.FloatSlider(
                value=cfg["reward"]["grid_penalty_weight"],
                min=0.0,
                max=max(10.0, cfg["reward"]["grid_penalty_weight"]),
                step=0.1,
                description="grid penalty weight",
            ),
            "seed": widgets.BoundedIntText(value=cfg["seed"], min=0, max=10**6, description="seed"),
        }
        for key, control in self.controls.items():
            control.tooltip = _help(key)
            control.style = _WIDE
        self.extra = widgets.Text(
            placeholder="e.g. ppo.ent_coef=0.01 train.rollout_steps=12",
            description="other settings",
            tooltip="Any config key as KEY=VALUE, separated by spaces (as gridppo train --set)",
            style=_WIDE,
            layout=widgets.Layout(width="620px"),
        )
        self.train_button = widgets.Button(description="Train", button_style="success", icon="play")
        self.stop_button = widgets.Button(
            description="Stop", button_style="danger", icon="stop", disabled=True
        )
        self.opf_checkbox = widgets.Checkbox(
            value=True, description="compare with the day's optimum at the end", indent=False
        )
        self.by = widgets.ToggleButtons(
            options=[("per agent", "agent"), ("per type", "type")], value="agent"
        )
        self.progress = widgets.IntProgress(
            value=0, min=0, max=train["total_updates"], description="updates", style=_WIDE
        )
        self.status_label = widgets.Label(value="idle")
        self.curves_image = _image()
        self.kpi_image = _image()
        self.kpi_html = widgets.HTML()
        self.train_button.on_click(self.on_train_clicked)
        self.stop_button.on_click(self.on_stop_clicked)
        self.by.observe(self.on_by_changed, names="value")

        keys = list(self.controls)
        self.widget = widgets.VBox(
            [
                widgets.HTML("<b>Train one PPO agent per node on the 14-bus grid</b>"),
                widgets.HBox(
                    [
                        widgets.VBox([self.controls[k] for k in keys[:5]]),
                        widgets.VBox([self.controls[k] for k in keys[5:]]),
                    ]
                ),
                self.extra,
                widgets.HBox([self.train_button, self.stop_button, self.opf_checkbox]),
                widgets.HBox([self.progress, self.status_label]),
                self.by,
                self.curves_image,
                self.kpi_image,
                self.kpi_html,
            ]
        )

    # -- what the controls say -------------------------------------------------------
    def overrides(self) -> dict[str, Any]:
        """The dotted overrides the next run uses: :data:`QUICK_START` and the
        constructor's ``overrides``, then the controls, then the "other settings" box
        (which wins over a slider for the same key)."""
        out = dict(self.base_overrides)
        for key, control in self.controls.items():
            value = control.value
            if key == "ppo.hidden_sizes":
                value = [int(value)] * self._depth
            out[key] = value
        out.update(parse_settings(self.extra.value))
        return out

    @property
    def history(self) -> list[dict[str, float]]:
        """The metric rows of the latest run (empty before the first)."""
        return self.trainer.history if self.trainer is not None else []

    @property
    def status(self) -> str:
        """The status line: idle, training ..., stopped ..., finished ..., or error: ..."""
        return self.status_label.value

    @property
    def running(self) -> bool:
        """Whether a run is in progress."""
        return self._running

    # -- buttons -----------------------------------------------------------------------
    def on_train_clicked(self, button: widgets.Button | None = None) -> None:
        """Train button: start a run (in the background unless ``background`` is False)."""
        self.train(blocking=not self.background)

    def on_stop_clicked(self, button: widgets.Button | None = None) -> None:
        """Stop button: end the run after the update in progress."""
        self.stop()

    def on_by_changed(self, change: Mapping[str, Any] | None = None) -> None:
        """Per agent / per type toggle: redraw the curves."""
        if self.history:
            self.redraw()

    def train(self, blocking: bool = True) -> None:
        """Build a trainer from the controls and train it.

        ``blocking=True`` trains in the caller and returns when done; ``False`` starts a
        background thread (``self.thread``; wait for it with :meth:`join`). A run that
        fails, e.g. on a bad setting, sets the state to ``error`` and shows the error's
        first line instead of raising. Does nothing while a run is in progress.
        """
        if self._running:
            return
        self._running = True
        self._stop_requested = False
        self.trainer, self.error, self.results = None, None, {}
        self.kpi_image.layout.display = "none"
        self.kpi_html.value = ""
        self._set_busy(True)
        self._set_state("training", "training: building the grid and the agents ...")
        if blocking:
            self._run()
        else:
            self.thread = threading.Thread(target=self._run, name="gridppo-training", daemon=True)
            self.thread.start()

    def stop(self) -> None:
        """Ask the run in progress to stop after its current update."""
        if not self._running:
            return
        self._stop_requested = True
        if self.trainer is not None:
            self.trainer.request_stop()
        self.status_label.value = "training: stopping after the current update ..."

    def join(self, timeout: float | None = None) -> bool:
        """Wait for a background run to end; returns True if none is running."""
        if self.thread is not None:
            self.thread.join(timeout)
        return not self._running

    # -- the run -----------------------------------------------------------------------
    def _run(self) -> None:
        """Build, train, compare; any error becomes the status line."""
        try:
            trainer = Trainer.from_config(
                self.config_source, overrides=self.overrides(), root=self.root
            )
            self.trainer = trainer
            self._last_eval = None
            self._baselines = {}
            self._next_draw = 0.0
            self.progress.value = 0
            self.progress.max = trainer.config["train"]["total_updates"]
            trainer.add_callback("on_update", self._on_update)
            trainer.add_callback("on_eval", self._on_eval)
            summary = None
            if not self._stop_requested:
                summary = trainer.train(progress_bar=False)
            self._finish(trainer, summary)
        except Exception as err:  # shown in the panel; kept in self.error
            self.error = err
            self._set_state("error", f"error: {_one_line(err)}")
        finally:
            self._running = False
            self._set_busy(False)

    def _on_update(self, trainer: Trainer, row: dict[str, float]) -> None:
        """Trainer callback after every update: progress, status, curves now and then."""
        if self._stop_requested:  # a stop that came before train() started
            trainer.request_stop()
        update = int(row["update"])
        total = trainer.config["train"]["total_updates"]
        self.progress.value = update
        team = row.get("charts/team_return", math.nan)
        text = f"training: update {update} of {total}"
        if math.isfinite(team):
            text += f", team return {team:,.0f} EUR/day"
        if self._stop_requested:
            text += " (stopping)"
        self.status_label.value = text
        if time.monotonic() >= self._next_draw:
            self.redraw()

    def _on_eval(self, trainer: Trainer, results: dict[str, EvalResult]) -> None:
        """Trainer callback after every evaluation: keep it for the curves and the end."""
        self._last_eval = (trainer.update, results["ippo"])
        self._baselines = {k: v.kpis for k, v in results.items() if k != "ippo"}

    def _finish(self, trainer: Trainer, summary: dict[str, Any] | None) -> None:
        """Last curves, the comparison with the baselines, the final state."""
        self.redraw()
        self.status_label.value = "training: comparing with the baselines ..."
        self.results = self._compare(trainer)
        self._draw_kpis()
        total = trainer.config["train"]["total_updates"]
        if trainer.update < total:
            self._set_state("stopped", f"stopped after {trainer.update} of {total} updates")
        else:
            wall = summary["wall_time_s"] if summary else math.nan
            self._set_state("finished", f"finished {trainer.update} updates in {wall:.1f} s")

    def _compare(self, trainer: Trainer) -> dict[str, EvalResult]:
        """The trained policy, the baselines (and the optimum if asked) on the test days."""
        baselines = ("heuristic", "random")
        if self.opf_checkbox.value:
            self.status_label.value = "training: solving the day's optimum ..."
            baselines = ("optimum", *baselines)
        return evaluate_on_test_days(trainer.config, [trainer.policy()], baselines)

    def _set_state(self, state: str, text: str) -> None:
        self.state = state
        self.status_label.value = text

    def _set_busy(self, busy: bool) -> None:
        """Lock the settings while a run is in progress."""
        self.train_button.disabled = busy
        self.stop_button.disabled = not busy
        for control in [*self.controls.values(), self.extra, self.opf_checkbox]:
            control.disabled = busy

    # -- figures -----------------------------------------------------------------------
    def redraw(self) -> Figure:
        """Redraw the live figure from the history so far; returns it (``self.figure``)."""
        start = time.monotonic()
        with _DRAW_LOCK:
            rows = list(self.history)
            trainer = self.trainer
            types = {n.name: n.type_name for n in trainer.grid.nodes} if trainer else {}
            fig = Figure(figsize=(13, 5.5), layout="constrained")
            spec = fig.add_gridspec(3, 2, width_ratios=[2.0, 1.0])
            ax_reward = fig.add_subplot(spec[:, 0])
            ax_cost = fig.add_subplot(spec[0, 1])
            ax_loading = fig.add_subplot(spec[1, 1], sharex=ax_cost)
            ax_voltage = fig.add_subplot(spec[2, 1], sharex=ax_cost)
            plot_training_curves(rows, by=self.by.value, ax=ax_reward, agent_types=types)
            if rows:
                self._draw_grid_kpis(rows, ax_cost, ax_loading, ax_voltage)
            self.figure = fig
            _show(self.curves_image, fig)
        # Drawing takes time from training: wait at least twice as long as it took.
        took = time.monotonic() - start
        self._next_draw = time.monotonic() + max(self.redraw_interval_s, 2.0 * took)
        return fig

    def _draw_grid_kpis(
        self, rows: list[dict[str, float]], ax_cost: Axes, ax_loading: Axes, ax_voltage: Axes
    ) -> None:
        """System cost on the validation days, highest loading and voltage violations."""
        x = _series(rows, "global_step")
        cost = _series(rows, "validation/system_cost_eur")
        done = np.isfinite(cost)
        ax_cost.plot(x[done], cost[done], "o-", color="#1f77b4", label="ippo")
        for (name, kpis), style in zip(self._baselines.items(), ("--", ":"), strict=False):
            ax_cost.axhline(kpis["system_cost_eur"], color="grey", linestyle=style, label=name)
        ax_cost.set_title("system cost on validation days (EUR/day)", fontsize=9)
        if done.any() or self._baselines:
            ax_cost.legend(fontsize=7)
        ax_loading.plot(x, _series(rows, "grid/max_loading_percent"), color="#6a7b8c")
        if self.trainer is not None:
            limit = self.trainer.config["grid"]["max_loading_percent"]
            ax_loading.axhline(limit, color="#e31a1c", linestyle=":", linewidth=1)
        ax_loading.set_title("highest branch loading (%), rollout mean", fontsize=9)
        ax_voltage.plot(x, _series(rows, "grid/voltage_violations"), color="#2b83ba")
        ax_voltage.set_title("buses outside the voltage band, per step", fontsize=9)
        ax_voltage.set_xlabel("environment steps")
        for ax in (ax_cost, ax_loading, ax_voltage):
            ax.grid(alpha=0.3)
            ax.tick_params(labelsize=8)

    def _draw_kpis(self) -> None:
        """The comparison figure and table of ``self.results``."""
        results = list(self.results.values())
        with _DRAW_LOCK:
            fig = Figure(figsize=(11, 4), layout="constrained")
            axes = fig.subplots(1, 3)
            plot_kpi_comparison(results, ax=list(axes))
            self.kpi_figure = fig
            _show(self.kpi_image, fig)
        self.kpi_html.value = f"<pre>{html.escape(kpi_table(results))}</pre>"


# -- one day, step by step ---------------------------------------------------------------


def _policy_and_config(
    source: Any, config: str | os.PathLike | Mapping[str, Any] | None
) -> tuple[Any, dict[str, Any]]:
    """A policy and its config from a checkpoint path, a Trainer or a policy object."""
    if isinstance(source, (str, os.PathLike)):
        policy, cfg = TrainedPolicy.from_checkpoint(source)
    elif isinstance(source, Trainer):
        policy, cfg = source.policy(), source.config
    elif hasattr(source, "act"):
        policy, cfg = source, None
    else:
        raise TypeError(
            "source: expected a checkpoint path, a Trainer or a policy with act(), "
            f"got {type(source).__name__}"
        )
    if config is not None or cfg is None:
        cfg = load_config(str(config) if isinstance(config, os.PathLike) else config)
    return policy, cfg


class BehaviourExplorer(_Displayable):
    """What a trained policy does on one test day, step by step.

    Pick a test day and an agent; the time slider (or the play button) walks
    through the day. Left: the grid diagram at that step (bus voltages, branch
    loadings and flows, every agent's action and injection). Right: the chosen
    agent's whole day (actions and price, injection and own state, reward parts) with
    the current step shaded. Each day is simulated once, the first time it is picked,
    and kept; moving the slider or changing the agent only redraws.

    Arguments:
        source: a checkpoint path (``best.pt``/``last.pt``), a
            :class:`~gridppo.trainer.Trainer` (its current policy) or a policy object
            (a :class:`~gridppo.trainer.TrainedPolicy` or a baseline with ``act``).
        config: the config to simulate with; by default the checkpoint's or the
            trainer's (and the default config for a bare policy, which must then have
            been trained on the default nodes).

    Attributes:
        widget: the ipywidgets container to display.
        day, agent, time: the controls (a day dropdown, an agent dropdown, a slider).
        records: day -> its :class:`~gridppo.simulate.DayRecord` (days run so far).
        grid_figure, agent_figure: the figures on show.
    """

    def __init__(self, source: Any, config: str | os.PathLike | Mapping[str, Any] | None = None):
        self.policy, self.config = _policy_and_config(source, config)
        # The explorer's own grid: nodes keep state, so it never shares a trainer's.
        self.grid = PowerGrid(self.config)
        self.env = BatchedGridEnv(grid=self.grid, batch_size=1, mode="test", autoreset=False)
        self.records: dict[int, DayRecord] = {}
        self.day_results: dict[int, EvalResult] = {}
        self.grid_figure: Figure | None = None
        self.agent_figure: Figure | None = None
        steps = self.env.steps_per_day
        days = [int(d) for d in self.grid.profiles.test_days]
        self.day = widgets.Dropdown(
            options=[(f"day {d}", d) for d in days], value=days[0], description="test day"
        )
        self.agent = widgets.Dropdown(
            options=[(f"{n.name} ({n.type_name})", n.name) for n in self.grid.nodes],
            description="agent",
        )
        self.time = widgets.IntSlider(
            value=0, min=0, max=steps - 1, description="step", continuous_update=False
        )
        self.play = widgets.Play(value=0, min=0, max=steps - 1, interval=900)
        widgets.jslink((self.play, "value"), (self.time, "value"))
        self.info = widgets.HTML()
        self.grid_image = _image()
        self.agent_image = _image()
        self.day.observe(self.on_day_changed, names="value")
        self.agent.observe(self.on_agent_changed, names="value")
        self.time.observe(self.on_time_changed, names="value")
        self.widget = widgets.VBox(
            [
                widgets.HBox([self.day, self.agent]),
                widgets.HBox([self.play, self.time]),
                self.info,
                widgets.HBox([self.grid_image, self.agent_image]),
            ]
        )
        self.redraw()

    def record(self, day: int | None = None) -> DayRecord:
        """The record of ``day`` (default: the chosen one), simulated on first use."""
        day = self.day.value if day is None else int(day)
        if day not in self.records:
            result = run_days(self.policy, self.env, days=[day], record=True)
            self.day_results[day] = result
            self.records[day] = result.record
        return self.records[day]

    def on_day_changed(self, change: Mapping[str, Any] | None = None) -> None:
        """Day dropdown: simulate the day if new, redraw."""
        self.redraw()

    def on_agent_changed(self, change: Mapping[str, Any] | None = None) -> None:
        """Agent dropdown: redraw the agent's day (the grid is unchanged)."""
        self.redraw(grid=False)

    def on_time_changed(self, change: Mapping[str, Any] | None = None) -> None:
        """Time slider: redraw at the new step."""
        self.redraw()

    def redraw(self, grid: bool = True) -> None:
        """Draw the grid at the chosen step (unless ``grid=False``) and the chosen
        agent's day."""
        rec, t, day = self.record(), self.time.value, self.day.value
        dt_h = 24.0 / self.env.steps_per_day
        hours = f"{clock(t * dt_h)}-{clock((t + 1) * dt_h)}"
        with _DRAW_LOCK:
            if grid or self.grid_figure is None:
                fig = Figure(figsize=(8.5, 7.0), layout="constrained")
                plot_grid(
                    self.grid,
                    vm_pu=rec.vm_pu[t, 0],
                    loading_percent=rec.loading_percent[t, 0],
                    actions={a: rec.actions[a][t, 0] for a in rec.actions},
                    flows_mw={a: rec.injection_mw[a][t, 0] for a in rec.injection_mw},
                    branch_p_mw=rec.p_from_mw[t, 0],
                    ax=fig.add_subplot(),
                    title=f"day {day}, {hours}",
                )
                self.grid_figure = fig
                _show(self.grid_image, fig)
            fig = Figure(figsize=(8.5, 7.0), layout="constrained")
            axes = fig.subplots(3, 1, sharex=True, height_ratios=[1, 1, 1.2])
            node = self.grid.node(self.agent.value)
            plot_agent_day(rec, node, day_column=0, step=t, axes=list(axes))
            fig.suptitle(f"{node.name} ({node.type_name}) on day {day}")
            self.agent_figure = fig
            _show(self.agent_image, fig)
        m = rec.metrics
        self.info.value = (
            f"<b>day {day}, {clock}</b>: price {rec.price_eur_per_mwh[t, 0]:.1f} EUR/MWh; "
            f"system cost {rec.system_cost_eur[t, 0]:,.0f} EUR this step, "
            f"{self.day_results[day].kpis['system_cost_eur']:,.0f} EUR over the day; "
            f"voltages {m['min_vm_pu'][t, 0]:.3f}-{m['max_vm_pu'][t, 0]:.3f} p.u.; "
            f"highest loading {m['max_loading_percent'][t, 0]:.0f}%"
        )


# -- the power flow by hand --------------------------------------------------------------


class GridPlayground(_Displayable):
    """Move a load, a PV plant or a producer and watch the power flow answer.

    Every change re-runs the AC power flow on one scenario: the grid's base injections
    (every element at its case value, loads scaled by the load-level slider) with the
    settings below written into the chosen nodes' columns. Batteries stay idle.

    - **load**: pick a consumer or business and scale its demand (0-5 times its base);
    - **PV**: pick a business and set its PV output (MW; up to three times the
      installed power, to see what a bigger plant would do);
    - **producer**: pick a power plant and set its output (MW, within its limits).

    The results show convergence, the lowest and highest bus voltage, the buses
    outside the band, the busiest branch and the overloaded ones, the power bought
    from the upstream grid (the slack) and the losses, next to the grid diagram.

    Arguments:
        config: a YAML path, a config dict or None (the default configuration).
        grid: an existing :class:`~gridppo.grid.PowerGrid` to use instead (only its
            power flow is run; no node state changes).

    Attributes:
        widget: the ipywidgets container to display.
        last_result: the latest :class:`~gridppo.physics.PowerFlowResult` (one row).
        load_scale, pv_mw, producer_mw: the settings, node name -> value.
        grid_figure: the diagram on show.
    """

    def __init__(
        self,
        config: str | os.PathLike | Mapping[str, Any] | None = None,
        grid: PowerGrid | None = None,
    ):
        if grid is None:
            grid = PowerGrid(
                load_config(str(config) if isinstance(config, os.PathLike) else config)
            )
        self.grid = grid
        nodes = grid.nodes
        # The playground knows the shipped types; a student's own type keeps its base
        # setpoints here (it has no slider).
        self.load_nodes = [n for n in nodes if isinstance(n, Consumer | Business)]
        self.pv_nodes = [n for n in nodes if isinstance(n, Business)]
        self.producer_nodes = [n for n in nodes if isinstance(n, Producer)]
        self.last_result: PowerFlowResult | None = None
        self.grid_figure: Figure | None = None
        self._syncing = False

        def picker(group: list, what: str) -> widgets.Dropdown:
            return widgets.Dropdown(options=[n.name for n in group], description=what, style=_WIDE)

        def slider(description: str, **kw: Any) -> widgets.FloatSlider:
            return widgets.FloatSlider(
                description=description, continuous_update=False, style=_WIDE, **kw
            )

        self.load_level = slider("load level (p.u.)", value=1.0, min=0.5, max=1.5, step=0.05)
        self.load_node = picker(self.load_nodes, "load")
        self.load_slider = slider("x base demand", value=1.0, min=0.0, max=5.0, step=0.1)
        self.pv_node = picker(self.pv_nodes, "PV of")
        self.pv_slider = slider("PV output (MW)", value=0.0, min=0.0, max=1.0, step=0.5)
        self.producer_node = picker(self.producer_nodes, "producer")
        self.producer_slider = slider("output (MW)", value=0.0, min=0.0, max=1.0, step=1.0)
        self.reset_button = widgets.Button(description="Reset", icon="undo")
        self.results_html = widgets.HTML()
        self.grid_image = _image()
        for picked in (self.load_node, self.pv_node, self.producer_node):
            picked.observe(self.on_node_changed, names="value")
        for moved in (self.load_level, self.load_slider, self.pv_slider, self.producer_slider):
            moved.observe(self.on_setting_changed, names="value")
        self.reset_button.on_click(self.on_reset_clicked)
        self.widget = widgets.HBox(
            [
                widgets.VBox(
                    [
                        widgets.HTML("<b>Change the grid, see the power flow</b>"),
                        self.load_level,
                        self.load_node,
                        self.load_slider,
                        self.pv_node,
                        self.pv_slider,
                        self.producer_node,
                        self.producer_slider,
                        self.reset_button,
                        self.results_html,
                    ]
                ),
                self.grid_image,
            ]
        )
        self.reset()

    # -- settings ----------------------------------------------------------------------
    def reset(self) -> None:
        """Every node back to its base value, then re-run."""
        self.load_scale = {n.name: 1.0 for n in self.load_nodes}
        self.pv_mw = {n.name: 0.0 for n in self.pv_nodes}
        self.producer_mw = {
            n.name: float(self.grid.base_gen_p_mw[n.gen_index]) for n in self.producer_nodes
        }
        self._syncing = True
        self.load_level.value = 1.0
        self._syncing = False
        self.on_node_changed()

    def on_reset_clicked(self, button: widgets.Button | None = None) -> None:
        """Reset button."""
        self.reset()

    def on_node_changed(self, change: Mapping[str, Any] | None = None) -> None:
        """A node dropdown: show that node's settings on the sliders, then re-run."""
        self._syncing = True
        try:
            if self.load_nodes:
                self.load_slider.value = self.load_scale[self.load_node.value]
            if self.pv_nodes:
                node = self.grid.node(self.pv_node.value)
                installed = float(node.params.get("pv_p_mw", 1.0))
                self.pv_slider.max = max(3.0 * installed, 1.0)
                self.pv_slider.value = self.pv_mw[node.name]
            if self.producer_nodes:
                node = self.grid.node(self.producer_node.value)
                lo, hi = node.params["min_p_mw"], node.params["max_p_mw"]
                # widen before narrowing so that min never exceeds max on the way
                self.producer_slider.max = max(hi, self.producer_slider.max)
                self.producer_slider.min = lo
                self.producer_slider.max = hi
                self.producer_slider.value = self.producer_mw[node.name]
        finally:
            self._syncing = False
        self.update()

    def on_setting_changed(self, change: Mapping[str, Any] | None = None) -> None:
        """A slider: store its value for the chosen node, then re-run."""
        if self._syncing:
            return
        if self.load_nodes:
            self.load_scale[self.load_node.value] = float(self.load_slider.value)
        if self.pv_nodes:
            self.pv_mw[self.pv_node.value] = float(self.pv_slider.value)
        if self.producer_nodes:
            self.producer_mw[self.producer_node.value] = float(self.producer_slider.value)
        self.update()

    def injections(self) -> Injections:
        """The setpoints of one scenario: base injections plus the settings."""
        level = float(self.load_level.value)
        inj = self.grid.base_injections(1, level)
        for node in self.load_nodes:
            p_mw = node.base_p_mw * level * self.load_scale[node.name]
            inj.load_p_mw[0, node.load_index] = p_mw
            inj.load_q_mvar[0, node.load_index] = p_mw * node.tan_phi
        for node in self.pv_nodes:
            inj.sgen_p_mw[0, node.sgen_index] = self.pv_mw[node.name]
        for node in self.producer_nodes:
            inj.gen_p_mw[0, node.gen_index] = self.producer_mw[node.name]
        return inj

    def node_injections_mw(self, inj: Injections) -> dict[str, float]:
        """Each node's net injection into the grid (MW, positive feeds the grid)."""
        flows: dict[str, float] = {}
        for node in self.grid.nodes:
            mw = 0.0
            if hasattr(node, "gen_index"):
                mw += inj.gen_p_mw[0, node.gen_index]
            if hasattr(node, "sgen_index"):
                mw += inj.sgen_p_mw[0, node.sgen_index]
            if hasattr(node, "load_index"):
                mw -= inj.load_p_mw[0, node.load_index]
            if hasattr(node, "storage_index"):
                mw -= inj.storage_p_mw[0, node.storage_index]
            flows[node.name] = float(mw)
        return flows

    # -- results -----------------------------------------------------------------------
    def update(self) -> PowerFlowResult:
        """Run the power flow with the current settings and redraw; returns the result."""
        inj = self.injections()
        self.last_result = self.grid.run_power_flow(inj)
        self.results_html.value = self._results_html()
        pf = self.last_result
        with _DRAW_LOCK:
            fig = Figure(figsize=(9, 7.5), layout="constrained")
            plot_grid(
                self.grid,
                vm_pu=pf.vm_pu[0],
                loading_percent=self.grid.loading_percent(pf)[0],
                flows_mw=self.node_injections_mw(inj),
                branch_p_mw=pf.p_from_mw[0],
                ax=fig.add_subplot(),
            )
            self.grid_figure = fig
            _show(self.grid_image, fig)
        return pf

    def summary(self) -> dict[str, Any]:
        """The latest power flow in numbers.

        Keys: ``converged``, ``min_vm_pu`` and ``min_vm_bus``, ``max_vm_pu`` and
        ``max_vm_bus``, ``voltage_violations`` (buses outside the band) and
        ``buses_outside_band``, ``max_loading_percent`` and ``max_loading_branch``,
        ``overloaded_branches`` (names), ``ext_grid_import_mw`` (bought from the
        upstream grid at the slack bus) and ``losses_mw``.
        """
        pf, grid = self.last_result, self.grid
        if pf is None:
            raise RuntimeError("no power flow yet; call update()")
        limits = grid.config["grid"]
        vm = pf.vm_pu[0]
        loading = grid.loading_percent(pf)[0]
        outside = (vm < limits["min_vm_pu"]) | (vm > limits["max_vm_pu"])
        over = loading > limits["max_loading_percent"]
        return {
            "converged": bool(pf.converged[0]),
            "min_vm_pu": float(vm.min()),
            "min_vm_bus": int(vm.argmin()),
            "max_vm_pu": float(vm.max()),
            "max_vm_bus": int(vm.argmax()),
            "voltage_violations": int(outside.sum()),
            "buses_outside_band": [int(b) for b in np.flatnonzero(outside)],
            "max_loading_percent": float(loading.max()),
            "max_loading_branch": grid.branch_names[int(loading.argmax())],
            "overloaded_branches": [grid.branch_names[i] for i in np.flatnonzero(over)],
            "ext_grid_import_mw": float(pf.ext_grid_p_mw[0]),
            "losses_mw": float(pf.losses_mw[0]),
        }

    def _results_html(self) -> str:
        s = self.summary()
        limits = self.grid.config["grid"]
        if not s["converged"]:
            return (
                "<p style='color:#e31a1c'><b>The power flow did not converge</b>: no "
                "operating point carries this much power. Undo the last change.</p>"
            )
        outside = ", ".join(map(str, s["buses_outside_band"])) or "none"
        overloaded = ", ".join(s["overloaded_branches"]) or "none"
        return (
            "<table>"
            f"<tr><td>voltages</td><td>{s['min_vm_pu']:.3f} p.u. (bus {s['min_vm_bus']}) to "
            f"{s['max_vm_pu']:.3f} p.u. (bus {s['max_vm_bus']}); band "
            f"{limits['min_vm_pu']:g}-{limits['max_vm_pu']:g}</td></tr>"
            f"<tr><td>buses outside the band</td><td>{s['voltage_violations']}: "
            f"{outside}</td></tr>"
            f"<tr><td>busiest branch</td><td>{s['max_loading_branch']} at "
            f"{s['max_loading_percent']:.0f}%</td></tr>"
            f"<tr><td>overloaded branches</td><td>{len(s['overloaded_branches'])}: "
            f"{html.escape(overloaded)}</td></tr>"
            f"<tr><td>bought upstream (slack)</td><td>{s['ext_grid_import_mw']:.1f} MW</td></tr>"
            f"<tr><td>losses</td><td>{s['losses_mw']:.2f} MW</td></tr>"
            "</table>"
        )
