"""What the coursework checkers share (gridppo.course.common): the verdicts, calling the
student's code, reading its numbers, and the default configuration as plain data."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from gridppo.config.fields import ConfigError
from gridppo.config.loader import load_config
from gridppo.course.common import (
    ExerciseError,
    Passed,
    as_float_array,
    call_student,
    close_enough,
    default_raw_config,
    running,
)


def test_a_pass_message_shows_without_quotes() -> None:
    verdict = Passed("Passed: all good.")
    assert repr(verdict) == str(verdict) == "Passed: all good."
    assert isinstance(ExerciseError("wrong"), AssertionError)  # pytest shows it as a failure


def test_call_student_names_a_function_not_written_yet() -> None:
    def my_answer(x: int) -> int:
        raise NotImplementedError

    assert call_student(lambda x: 2 * x, "double", 3) == 6
    with pytest.raises(ExerciseError, match="my_answer still raises NotImplementedError"):
        call_student(my_answer, "my_answer", 1)


def test_running_says_what_was_being_done() -> None:
    with pytest.raises(ExerciseError, match=r"attaching raised KeyError: 'bus'") as caught:
        with running("attaching"):
            {}["bus"]
    assert isinstance(caught.value.__cause__, KeyError)  # the student's traceback stays
    with pytest.raises(ExerciseError, match=r"^stepping raised ZeroDivisionError \(see"):
        with running("stepping"):
            raise ZeroDivisionError()
    # The caller explains these itself.
    for err in (ConfigError("nodes.x.bus: out of range"), ExerciseError("already explained")):
        with pytest.raises(type(err), match=str(err)):
            with running("validating"):
                raise err


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (None, "is None: did you forget a return statement"),
        ("ten", "should be a tensor of numbers, got str"),
        (np.zeros(3), r"should have shape \[2, 3\], got \[3\]"),
        (torch.full((2, 3), float("nan")), "contains NaN or infinite values"),
    ],
    ids=["none", "not-numbers", "shape", "nan"],
)
def test_as_float_array_names_what_is_wrong(value: object, message: str) -> None:
    with pytest.raises(ExerciseError, match=f"the advantages {message}"):
        as_float_array(value, "the advantages", (2, 3))


def test_as_float_array_takes_torch_and_numpy() -> None:
    tensor = torch.arange(6.0, requires_grad=True).reshape(2, 3)
    array = as_float_array(tensor, "x", (2, 3))
    assert array.dtype == np.float64 and array[1, 2] == 5.0
    assert close_enough(array, np.arange(6.0).reshape(2, 3) + 1e-9)
    assert not close_enough(array, np.arange(6.0).reshape(2, 3) + 1e-3)


def test_default_raw_config_is_a_fresh_editable_copy() -> None:
    raw = default_raw_config()
    names = [node["name"] for node in raw["nodes"]]
    assert len(names) == 17 and len(set(names)) == 17
    raw["nodes"].append({"name": "extra_battery", "type": "battery", "bus": 4})
    assert len(default_raw_config()["nodes"]) == 17  # the next call starts afresh
    assert "extra_battery" in [node["name"] for node in load_config(raw)["nodes"]]
