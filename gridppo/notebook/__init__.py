"""Notebook widgets (ipywidgets): train, watch, explore.

Each widget is a class whose ``widget`` attribute is the ipywidgets container to display
(a notebook cell that ends with the object shows it too), sized to fit a notebook's
output area:

- :class:`TrainingPanel` (:mod:`~gridppo.notebook.training_panel`): sliders for the main
  PPO settings and reward weights, Train and Stop, live curves and grid KPIs, and the
  trained policy against the baselines when it ends;
- :class:`BehaviourExplorer` (:mod:`~gridppo.notebook.behaviour_explorer`): one test day
  of a trained policy, step by step: the grid at that step above one agent's day;
- :class:`GridPlayground` (:mod:`~gridppo.notebook.grid_playground`): move a load, a PV
  plant or a producer and see the power flow's voltages, loadings and violations.

Every handler is a plain method, so a test (or a script) drives a widget without a
browser: set a control's ``value`` (its observers run at once) or press a button with
``button.click()``, then look at the state and the figures.
"""

from gridppo.notebook.behaviour_explorer import BehaviourExplorer
from gridppo.notebook.grid_playground import GridPlayground
from gridppo.notebook.training_panel import QUICK_START, TrainingPanel

__all__ = ["QUICK_START", "BehaviourExplorer", "GridPlayground", "TrainingPanel"]
