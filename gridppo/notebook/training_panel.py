"""The training panel: settings, Train and Stop, live curves, the final comparison.

**Training runs in a background thread**, so the notebook keeps handling button presses
while it runs; Stop calls :meth:`~gridppo.training.trainer.Trainer.request_stop`. The
trainer's callbacks (``on_update``, ``on_eval``) feed the progress bar and the curves;
the curves are redrawn at most once every ``redraw_interval_s`` seconds.
"""

from __future__ import annotations

import html
import math
import os
import threading
import time
from collections.abc import Mapping, Sequence
from typing import Any

import ipywidgets as widgets
from matplotlib.figure import Figure

from gridppo.config.fields import parse_settings
from gridppo.config.loader import load_config
from gridppo.evaluation.protocol import evaluate_on_test_days
from gridppo.evaluation.simulate import EvalResult, kpi_table
from gridppo.notebook.common import (
    COLUMN_WIDTH_PX,
    DESCRIPTION_STYLE,
    DRAW_LOCK,
    FIGURE_WIDTH_IN,
    ROW_WIDTH_PX,
    Displayable,
    column_layout,
    error_line,
    image,
    row_layout,
    show,
)
from gridppo.notebook.settings import setting_controls
from gridppo.training.trainer import Trainer
from gridppo.viz.kpis import plot_kpi_comparison
from gridppo.viz.training import plot_training_progress

__all__ = ["TrainingPanel", "QUICK_START"]

# The training panel starts with a run that finishes in seconds; the sliders go further.
QUICK_START: dict[str, Any] = {
    "train.total_updates": 30,
    "train.num_days": 32,
    "train.eval_interval": 5,
}


class TrainingPanel(Displayable):
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
    critic                  ``ppo.critic``                 local / centralised
    grid limits             ``ppo.constraint``             none / lagrangian
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
    (:mod:`gridppo.baselines.optimum`, perfect foresight) joins them if its checkbox is ticked
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
        trainer: the :class:`~gridppo.training.trainer.Trainer` of the latest run (None before).
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

        self.controls = setting_controls(cfg)
        self.extra = widgets.Text(
            placeholder="e.g. ppo.ent_coef=0.01 train.rollout_steps=12",
            description="other settings",
            tooltip="Any config key as KEY=VALUE, separated by spaces (as gridppo train --set)",
            style=DESCRIPTION_STYLE,
            layout=column_layout(ROW_WIDTH_PX - 20),
        )
        self.train_button = widgets.Button(description="Train", button_style="success", icon="play")
        self.stop_button = widgets.Button(
            description="Stop", button_style="danger", icon="stop", disabled=True
        )
        # width "auto": the label is as long as its text (a fixed width cuts it off)
        self.opf_checkbox = widgets.Checkbox(
            value=True,
            description="compare with the day's optimum at the end",
            indent=False,
            layout=widgets.Layout(width="auto"),
        )
        self.by = widgets.ToggleButtons(
            options=[("per agent", "agent"), ("per type", "type")], value="agent"
        )
        self.progress = widgets.IntProgress(
            value=0,
            min=0,
            max=cfg["train"]["total_updates"],
            description="updates",
            style=DESCRIPTION_STYLE,
            layout=column_layout(),
        )
        self.status_label = widgets.Label(value="idle", layout=widgets.Layout(width="auto"))
        self.curves_image = image()
        self.kpi_image = image()
        self.kpi_html = widgets.HTML(layout=widgets.Layout(max_width="100%"))
        self.train_button.on_click(self.on_train_clicked)
        self.stop_button.on_click(self.on_stop_clicked)
        self.by.observe(self.on_by_changed, names="value")

        keys = list(self.controls)
        column = widgets.Layout(width=f"{COLUMN_WIDTH_PX + 10}px", max_width="100%")
        self.widget = widgets.VBox(
            [
                widgets.HTML("<b>Train one PPO agent per node on the 14-bus grid</b>"),
                widgets.HBox(
                    [
                        widgets.VBox([self.controls[k] for k in keys[:5]], layout=column),
                        widgets.VBox([self.controls[k] for k in keys[5:]], layout=column),
                    ],
                    layout=row_layout("flex-start"),
                ),
                self.extra,
                widgets.HBox(
                    [self.train_button, self.stop_button, self.opf_checkbox], layout=row_layout()
                ),
                widgets.HBox([self.progress, self.status_label], layout=row_layout()),
                self.by,
                self.curves_image,
                self.kpi_image,
                self.kpi_html,
            ],
            layout=widgets.Layout(width=f"{ROW_WIDTH_PX}px", max_width="100%"),
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
            self._set_state("error", f"error: {error_line(err)}")
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
        with DRAW_LOCK:
            rows = list(self.history)
            trainer = self.trainer
            types = {n.name: n.type_name for n in trainer.grid.nodes} if trainer else {}
            limit = trainer.config["grid"]["max_loading_percent"] if trainer else None
            fig = Figure(figsize=(FIGURE_WIDTH_IN, 7.0), layout="constrained")
            plot_training_progress(
                rows,
                by=self.by.value,
                agent_types=types,
                baselines=self._baselines,
                max_loading_percent=limit,
                fig=fig,
            )
            self.figure = fig
            show(self.curves_image, fig)
        # Drawing takes time from training: wait at least twice as long as it took.
        took = time.monotonic() - start
        self._next_draw = time.monotonic() + max(self.redraw_interval_s, 2.0 * took)
        return fig

    def _draw_kpis(self) -> None:
        """The comparison figure and table of ``self.results``."""
        results = list(self.results.values())
        with DRAW_LOCK:
            fig = Figure(figsize=(FIGURE_WIDTH_IN, 3.8), layout="constrained")
            axes = fig.subplots(1, 3)
            plot_kpi_comparison(results, ax=list(axes))
            self.kpi_figure = fig
            show(self.kpi_image, fig)
        # a table wider than the output scrolls sideways instead of widening the panel
        table = html.escape(kpi_table(results))
        self.kpi_html.value = f"<pre style='overflow-x: auto; max-width: 100%'>{table}</pre>"
