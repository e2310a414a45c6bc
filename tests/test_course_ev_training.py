"""The checker that assignment 02's EV charging hub trained (gridppo.course.ev_training)."""

from __future__ import annotations

from pathlib import Path

import pytest
from test_course_ev_charger import EVHub

from gridppo.config.node_specs import NODE_TYPES
from gridppo.course.common import ExerciseError, default_raw_config
from gridppo.course.ev_training import check_ev_training
from gridppo.training.trainer import Trainer


def test_check_ev_training(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    # The right answer of the EV charger's tests, registered for this test only.
    monkeypatch.setitem(NODE_TYPES, EVHub.type_name, EVHub)
    raw = default_raw_config()
    tiny = {"train.total_updates": 1, "train.num_days": 2, "train.tensorboard": False}
    with pytest.raises(ExerciseError, match="has no node of type 'ev_charger'"):
        check_ev_training(Trainer.from_config(raw, tiny, root=tmp_path))
    raw["nodes"].append({"name": "ev_4", "type": "ev_charger", "bus": 4})
    trainer = Trainer.from_config(raw, tiny, root=tmp_path)
    with pytest.raises(ExerciseError, match="has not trained yet"):
        check_ev_training(trainer)
    trainer.train(progress_bar=False)
    assert check_ev_training(trainer).startswith("Passed: ev_4 trained for 1 updates")
    with pytest.raises(ExerciseError, match="expects the Trainer"):
        check_ev_training(trainer.summary(0.0))
