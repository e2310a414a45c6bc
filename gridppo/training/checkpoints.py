"""Checkpoints: written atomically, read as tensors and plain data only.

A checkpoint is the dict :meth:`gridppo.training.trainer.Trainer.state_dict` returns.
:func:`save_checkpoint` writes it to a temporary file and renames it over the target,
so a kill never leaves half a file; :func:`load_checkpoint` reads it with
``weights_only=True`` (no arbitrary code runs) and turns every problem into one
:class:`CheckpointError` line naming the file; :func:`find_resumable_checkpoint` falls
back to the newest readable checkpoint beside a damaged one.
"""

from __future__ import annotations

import os
import pickle
import re
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import torch

from gridppo.config.fields import ConfigError, first_line, parse_settings
from gridppo.config.loader import load_config
from gridppo.evaluation.simulate import EvalResult

__all__ = [
    "must_fit",
    "RESUME_OVERRIDES",
    "read_for_resume",
    "remove_stale_temporaries",
    "CHECKPOINT_FORMAT_VERSION",
    "CheckpointError",
    "load_checkpoint",
    "save_checkpoint",
    "find_resumable_checkpoint",
    "checkpoint_config",
    "run_root",
    "to_tensors",
    "to_numpy",
    "results_to_state",
    "results_from_state",
]

# 2: the checkpoint holds the full training state (environments, observations, ...).
# 3: days end by termination; validation and test days are separate.
# 4: one PPO over a leading agent axis holds every agent (gridppo.agents.ppo).
CHECKPOINT_FORMAT_VERSION = 4


# The only settings a resumed run may change: how long it runs, how often it evaluates
# and saves, and how it logs. Changing total_updates changes the learning-rate schedule
# (with ppo.anneal_lr) and eval_interval the validation days' warm start, so only an
# unchanged run is guaranteed to match an uninterrupted one.
RESUME_OVERRIDES = (
    "train.total_updates",
    "train.eval_interval",
    "train.checkpoint_interval",
    "train.tensorboard",
)


class CheckpointError(ValueError):
    """A checkpoint is missing, truncated, corrupt, of another format, holds objects other
    than tensors and plain data, or does not fit the configuration that loads it.

    The message is one line and names the file.
    """


def to_tensors(obj: Any) -> Any:
    """numpy arrays -> tensors (copies), recursively, so weights_only loading accepts them."""
    if isinstance(obj, np.ndarray):
        return torch.from_numpy(np.array(obj, copy=True))
    if isinstance(obj, dict):
        return {k: to_tensors(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [to_tensors(v) for v in obj]
    return obj


def to_numpy(obj: Any) -> Any:
    """The inverse of :func:`to_tensors`."""
    if isinstance(obj, torch.Tensor):
        return obj.numpy().copy()
    if isinstance(obj, dict):
        return {k: to_numpy(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [to_numpy(v) for v in obj]
    return obj


_CHECKPOINT_KEYS = ("config", "run_name", "update", "global_step", "learners", "training")


def load_checkpoint(path: str | os.PathLike) -> dict[str, Any]:
    """Read a checkpoint: tensors and plain data only (``weights_only=True``).

    Raises :class:`CheckpointError` (one line, naming the file) if the file is missing,
    truncated or corrupt, holds other objects (unpickling them could run arbitrary
    code, so they are refused), or is not a gridppo checkpoint of this format.
    """
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"checkpoint: no such file '{path}'")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as err:
        found = re.search(r"Unsupported global: GLOBAL (\S+)", str(err))
        if found:  # weights_only refused a class or function: do not run its code
            raise CheckpointError(
                f"checkpoint: '{path}' holds objects other than tensors and plain data "
                f"({found.group(1)}); refused, since loading them could run arbitrary code"
            ) from None
        raise CheckpointError(
            f"checkpoint: '{path}' is corrupt or truncated ({first_line(err)})"
        ) from None
    except Exception as err:  # a damaged zip archive, a short read, ...
        raise CheckpointError(
            f"checkpoint: '{path}' is corrupt or truncated ({first_line(err)})"
        ) from None
    if not isinstance(state, dict) or "format_version" not in state:
        raise CheckpointError(f"checkpoint: '{path}' is not a gridppo checkpoint")
    if state["format_version"] != CHECKPOINT_FORMAT_VERSION:
        raise CheckpointError(
            f"checkpoint: '{path}' has format {state['format_version']!r}; this version of "
            f"gridppo reads format {CHECKPOINT_FORMAT_VERSION}"
        )
    missing = [key for key in _CHECKPOINT_KEYS if key not in state]
    if missing:
        raise CheckpointError(f"checkpoint: '{path}' lacks {', '.join(missing)}")
    return state


def checkpoint_config(
    state: dict[str, Any], path: str | os.PathLike, overrides: Any = None
) -> dict[str, Any]:
    """The validated config a checkpoint was written with (plus ``overrides``)."""
    try:
        return load_config(state["config"], overrides)
    except ConfigError as err:
        if overrides:
            raise
        raise CheckpointError(
            f"checkpoint: '{path}' holds a configuration this version rejects ({err})"
        ) from None


def save_checkpoint(state: dict[str, Any], path: Path) -> None:
    """Write a checkpoint atomically: to a temporary file, then rename over the target,
    so an interrupted write never leaves a half-written file behind (the temporary
    file is removed if the write fails; one left by a killed process is removed when
    the run resumes)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        with open(tmp, "wb") as handle:
            torch.save(state, handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException as err:
        tmp.unlink(missing_ok=True)
        # Ctrl-C inside torch.save surfaces as torch's RuntimeError about the archive
        # it could not finish; report the interruption, not the archive.
        cause: BaseException | None = err
        while cause is not None and not isinstance(cause, KeyboardInterrupt):
            cause = cause.__context__
        if cause is not None and cause is not err:
            raise cause from None
        raise


_NUMBERED = re.compile(r"update_(\d+)\.pt")


def find_resumable_checkpoint(
    path: str | os.PathLike,
) -> tuple[Path, dict[str, Any], str | None]:
    """Load ``path``, or else the newest good checkpoint beside it.

    If ``path`` cannot be read, the other checkpoints of its folder (``last.pt``,
    ``update_*.pt``, ``best.pt``) are tried and the one at the highest update wins
    (``last.pt`` before a numbered one before ``best.pt`` at equal updates). Returns
    ``(path used, state, note)`` where ``note`` is a one-line explanation of the
    fallback, or None. Raises :class:`CheckpointError` if nothing there can be read.
    """
    path = Path(path)
    try:
        return path, load_checkpoint(path), None
    except CheckpointError as err:
        problem = err
    folder = path.parent
    if not folder.is_dir():
        raise problem
    found: list[tuple[int, int, Path, dict[str, Any]]] = []
    for rank, name in ((2, "last.pt"), (0, "best.pt")):
        candidate = folder / name
        if candidate != path and candidate.is_file():
            try:
                state = load_checkpoint(candidate)
            except CheckpointError:
                continue
            found.append((int(state["update"]), rank, candidate, state))
    numbered = sorted(
        (int(m.group(1)), p)
        for p in folder.iterdir()
        if (m := _NUMBERED.fullmatch(p.name)) and p != path
    )
    for _, candidate in reversed(numbered):
        try:
            state = load_checkpoint(candidate)
        except CheckpointError:
            continue
        found.append((int(state["update"]), 1, candidate, state))
        break  # the newest readable numbered checkpoint is enough
    if not found:
        raise CheckpointError(f"{problem}; no other readable checkpoint in '{folder}'")
    update, _, chosen, state = max(found, key=lambda item: item[:2])
    note = f"gridppo: {problem}; resuming from '{chosen}' (update {update}) instead"
    return chosen, state, note


def run_root(folder: Path, checkpoint_dir: str, run_name: str) -> Path:
    """The root a run's checkpoint folder hangs from (``root/checkpoint_dir/run_name``),
    so a resumed run writes its logs where the original did; "." if it cannot tell."""
    tail = (*Path(checkpoint_dir).parts, run_name)
    parts = folder.parts
    if len(parts) >= len(tail) and parts[len(parts) - len(tail) :] == tail:
        return Path(*parts[: len(parts) - len(tail)]) if len(parts) > len(tail) else Path(".")
    return Path(".")


def results_to_state(results: dict[str, EvalResult]) -> dict[str, dict[str, Any]]:
    """Evaluation results (the baselines' on the validation days) as checkpoint data."""
    return {
        name: {
            "policy": result.policy,
            "kpis": dict(result.kpis),
            "agent_reward": dict(result.agent_reward),
            "type_reward": dict(result.type_reward),
            "per_day_cost_eur": torch.as_tensor(np.array(result.per_day_cost_eur)),
        }
        for name, result in results.items()
    }


def results_from_state(state: dict[str, dict[str, Any]]) -> dict[str, EvalResult]:
    """The inverse of :func:`results_to_state`."""
    return {
        name: EvalResult(
            policy=b["policy"],
            kpis=dict(b["kpis"]),
            agent_reward=dict(b["agent_reward"]),
            type_reward=dict(b["type_reward"]),
            per_day_cost_eur=b["per_day_cost_eur"].numpy().copy(),
        )
        for name, b in state.items()
    }


def read_for_resume(
    checkpoint: str | os.PathLike, overrides: Any = None
) -> tuple[Path, dict[str, Any], dict[str, Any]]:
    """The checkpoint a resumed run starts from (``checkpoint``, or the newest good one
    beside it, with a note on stderr), its state and its configuration with
    ``overrides``. Raises ConfigError for an override outside :data:`RESUME_OVERRIDES`
    and :class:`CheckpointError` if no checkpoint there can be read."""
    for key in parse_settings(overrides):
        if key not in RESUME_OVERRIDES:
            raise ConfigError(
                f"{key}: cannot be changed when resuming a run (it keeps its "
                f"checkpoint's configuration); allowed: {', '.join(RESUME_OVERRIDES)}"
            )
    path, state, note = find_resumable_checkpoint(checkpoint)
    if note:
        print(note, file=sys.stderr)
    return path, state, checkpoint_config(state, path, overrides)


def remove_stale_temporaries(folder: Path) -> None:
    """Delete the temporary files a process killed while saving left in ``folder``."""
    for stale in Path(folder).glob(".*.pt.tmp-*"):
        stale.unlink(missing_ok=True)


@contextmanager
def must_fit(path: str | os.PathLike) -> Iterator[None]:
    """Turn a state that does not fit what loads it (KeyError, ValueError, RuntimeError
    from ``load_state_dict``) into one :class:`CheckpointError` line naming ``path``."""
    try:
        yield
    except (KeyError, ValueError, RuntimeError) as err:
        raise CheckpointError(
            f"checkpoint: '{path}' does not fit its own configuration ({first_line(err)})"
        ) from None
