"""The assignment notebooks themselves (notebooks/assignments/).

Every student version must match its solution outside the ``# YOUR CODE HERE`` cells, so
the two never drift apart (the solutions themselves are executed by nbval in ``make
test``). The handed-out versions must import what they use, and their placeholders must
meet the checkers with a message, not a traceback.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import nbformat
import pytest

from gridppo.config.node_specs import NODE_TYPES
from gridppo.course.centralised_critic import check_centralised_critic_input
from gridppo.course.clipped_loss import check_clipped_loss
from gridppo.course.common import ExerciseError
from gridppo.course.ev_charger import check_ev_charger
from gridppo.course.gae import check_gae
from gridppo.course.lagrange import check_lagrange_step

ASSIGNMENTS = Path(__file__).resolve().parents[1] / "notebooks" / "assignments"
MARKER = "# YOUR CODE HERE"


STUDENT_NOTEBOOKS = sorted(
    p for p in ASSIGNMENTS.glob("[0-9][0-9]_*.ipynb") if not p.stem.endswith("_solution")
)
PLACEHOLDER = re.compile(r"^\s*(raise NotImplementedError|pass|[\w ,=]+= None)\s*$")


def test_there_are_assignments() -> None:
    assert len(STUDENT_NOTEBOOKS) >= 3
    for student in STUDENT_NOTEBOOKS:
        assert student.with_name(f"{student.stem}_solution.ipynb").is_file(), student


def _code_cells(path: Path) -> list[Any]:
    notebook = nbformat.read(path, as_version=4)
    nbformat.validate(notebook)
    return [cell for cell in notebook.cells if cell.cell_type == "code"]


def _skeleton(source: str) -> list[str]:
    """The lines a student is given: everything but the markers and the placeholder line
    right after each one."""
    lines, out, after_marker = source.splitlines(), [], False
    for line in lines:
        if MARKER in line:
            after_marker = True
            continue
        if after_marker and PLACEHOLDER.match(line):
            after_marker = False
            continue
        after_marker = False
        out.append(line.rstrip())
    return out


def _is_subsequence(needle: list[str], haystack: list[str]) -> bool:
    it = iter(haystack)
    return all(any(line == other for other in it) for line in needle)


@pytest.mark.parametrize("student", STUDENT_NOTEBOOKS, ids=lambda p: p.stem)
def test_student_notebook_matches_its_solution(student: Path) -> None:
    solution = student.with_name(f"{student.stem}_solution.ipynb")
    mine, theirs = _code_cells(student), _code_cells(solution)
    assert any(MARKER in cell.source for cell in mine), f"{student.name} has no {MARKER}"
    assert len(mine) == len(theirs), "the two versions have different numbers of code cells"
    for i, (cell, reference) in enumerate(zip(mine, theirs, strict=True)):
        assert not cell.outputs, f"{student.name}: cell {i} has outputs; hand it out clean"
        assert "YOUR CODE HERE" not in reference.source, f"{solution.name}: cell {i}"
        assert "NotImplementedError" not in reference.source, f"{solution.name}: cell {i}"
        if MARKER in cell.source:
            skeleton = _skeleton(cell.source)
            solved = [line.rstrip() for line in reference.source.splitlines()]
            assert _is_subsequence(skeleton, solved), (
                f"{student.name}: cell {i} gives lines its solution lacks:\n{cell.source}"
            )
        else:
            assert cell.source == reference.source, f"{student.name}: cell {i} differs"


@pytest.mark.parametrize("student", STUDENT_NOTEBOOKS, ids=lambda p: p.stem)
def test_solution_is_stored_executed_with_a_small_budget(student: Path) -> None:
    solution = student.with_name(f"{student.stem}_solution.ipynb")
    cells = _code_cells(solution)
    assert all(cell.execution_count is not None for cell in cells), "execute it before committing"
    assert not any(o.output_type == "error" for cell in cells for o in cell.outputs)
    checks = [cell for cell in cells if re.search(r"^check_\w+\(", cell.source, re.M)]
    assert checks and all(cell.outputs for cell in checks), "every checker cell shows its verdict"
    for cell in cells:
        if "Trainer.from_config(" in cell.source:
            # Every training merges quick_overrides() so that nbval runs it in seconds.
            assert "quick_overrides()" in cell.source


def test_the_drift_check_itself() -> None:
    student = (
        'def f(x):\n    """Double x."""\n    # YOUR CODE HERE\n    raise NotImplementedError\n'
    )
    solution = 'def f(x):\n    """Double x."""\n    return 2 * x\n'
    assert _skeleton(student) == ["def f(x):", '    """Double x."""']
    assert _is_subsequence(_skeleton(student), solution.splitlines())
    drifted = solution.replace("Double", "Triple")
    assert not _is_subsequence(_skeleton(student), drifted.splitlines())
    reordered = '    """Double x."""\ndef f(x):\n    return 2 * x\n'
    assert not _is_subsequence(_skeleton(student), reordered.splitlines())


def _run_cells(path: Path, *starts: str) -> dict[str, Any]:
    """Run, in notebook order and in one fresh namespace, the code cells of ``path``
    whose source contains one of ``starts``; returns the namespace."""
    namespace: dict[str, Any] = {}
    for cell in _code_cells(path):
        if any(start in cell.source for start in starts):
            exec(compile(cell.source, f"{path.name}", "exec"), namespace)
    return namespace


@pytest.mark.parametrize("student", STUDENT_NOTEBOOKS, ids=lambda p: p.stem)
def test_student_notebook_imports_the_checkers_it_calls(student: Path) -> None:
    (imports, *_) = _code_cells(student)
    namespace = _run_cells(student, imports.source)
    called = {
        name
        for cell in _code_cells(student)
        for name in re.findall(r"^(check_\w+)\(", cell.source, re.M)
    }
    assert called and all(callable(namespace.get(name)) for name in called), called


def test_handed_out_gae_and_loss_are_not_written_yet() -> None:
    student = ASSIGNMENTS / "01_gae_and_the_clipped_loss.ipynb"
    namespace = _run_cells(student, "def my_gae(", "def my_clipped_loss(")
    with pytest.raises(ExerciseError, match="my_gae still raises NotImplementedError"):
        check_gae(namespace["my_gae"])
    with pytest.raises(ExerciseError, match="my_clipped_loss still raises NotImplementedError"):
        check_clipped_loss(namespace["my_clipped_loss"])


def test_handed_out_ev_charger_is_told_what_it_lacks(monkeypatch: pytest.MonkeyPatch) -> None:
    student = ASSIGNMENTS / "02_a_new_node_type_ev_charger.ipynb"
    # The handed-out class registers itself as "ev_charger"; undone after the test.
    monkeypatch.setitem(NODE_TYPES, "ev_charger", NODE_TYPES.get("ev_charger"))
    (imports, *_) = _code_cells(student)
    namespace = _run_cells(student, imports.source, "class EVCharger(")
    with pytest.raises(
        ExerciseError,
        match="EVCharger.PARAMS lacks energy_mwh, arrival_hour, departure_hour, "
        "unmet_cost_eur_per_mwh",
    ):
        check_ev_charger(namespace["EVCharger"])


def test_handed_out_critic_input_and_lagrange_step_are_not_written_yet() -> None:
    student = ASSIGNMENTS / "04_centralised_critic_and_lagrange.ipynb"
    (imports, *_) = _code_cells(student)
    namespace = _run_cells(
        student, imports.source, "def my_centralised_critic_input(", "def my_lagrange_step("
    )
    with pytest.raises(
        ExerciseError, match="my_centralised_critic_input still raises NotImplementedError"
    ):
        check_centralised_critic_input(namespace["my_centralised_critic_input"])
    with pytest.raises(ExerciseError, match="my_lagrange_step still raises NotImplementedError"):
        check_lagrange_step(namespace["my_lagrange_step"])
