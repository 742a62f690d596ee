"""Atomic training checkpoints that a killed run resumes from, bit for bit.

A checkpoint is one ``torch.save`` file (model, optimiser and scheduler states, the step, the random-number
generator states and a fingerprint of the settings), written under a temporary name and renamed, so a kill
during the save leaves the previous checkpoint intact. The checkpoint it replaces is kept as
``<name>.previous<suffix>``: a newest checkpoint that cannot be read (a disk fault, a copy cut short) is moved
aside as ``<name>.corrupt`` with a warning and the previous one is resumed from, so no rerun is stuck on it.
A checkpoint whose fingerprint differs from the current settings belongs to another configuration and is not
resumed from. A state holding a NaN or an infinity is never saved.
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
import os
import random
from pathlib import Path
from typing import Any

import numpy as np
import torch

from igae.errors import IgaeError
from igae.io_utils import write_bytes_atomic

log = logging.getLogger(__name__)


def fingerprint(settings: dict[str, Any]) -> str:
    """A short hash of JSON-serialisable settings (what makes a checkpoint resumable by a run)."""
    return hashlib.sha256(json.dumps(settings, sort_keys=True, default=str).encode()).hexdigest()[:16]


def rng_state() -> dict[str, Any]:
    """The states of torch's, numpy's and Python's generators, in types that ``torch.load(weights_only=True)``
    accepts (nerfstudio's own tools load checkpoints that way)."""
    numpy_state = np.random.get_state(legacy=False)
    numpy_state["state"]["key"] = numpy_state["state"]["key"].tolist()
    state = {"torch": torch.get_rng_state(), "numpy": numpy_state, "python": random.getstate()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def restore_rng_state(state: dict[str, Any]) -> None:
    torch.set_rng_state(state["torch"])
    numpy_state = state["numpy"]
    numpy_state["state"]["key"] = np.asarray(numpy_state["state"]["key"], dtype=np.uint32)
    np.random.set_state(numpy_state)
    random.setstate(state["python"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


class NonFiniteStateError(IgaeError):
    """A state to be checkpointed holds a NaN or an infinity: it is not saved, the last good checkpoint stays."""


def non_finite_entries(state: Any, prefix: str = "") -> list[str]:
    """The dotted names of the floating-point tensors in ``state`` (nested dicts, lists) that are not all finite."""
    if isinstance(state, torch.Tensor):
        return [prefix] if state.is_floating_point() and not bool(torch.isfinite(state).all()) else []
    if isinstance(state, dict):
        items = state.items()
    elif isinstance(state, (list, tuple)):
        items = enumerate(state)
    else:
        return []
    return [name for key, value in items for name in non_finite_entries(value, f"{prefix}.{key}".lstrip("."))]


def previous_path(path: Path) -> Path:
    return path.with_name(f"{path.stem}.previous{path.suffix}")


def save_checkpoint(path: Path, state: dict[str, Any], keep_previous: bool = True) -> None:
    """Write ``state`` (plus the RNG states) atomically to ``path``; the checkpoint it replaces becomes
    :func:`previous_path` (unless ``keep_previous`` is False). Refuses a state with non-finite values."""
    path = Path(path)
    bad = non_finite_entries(state)
    if bad:
        shown = ", ".join(bad[:5]) + (f" and {len(bad) - 5} more" if len(bad) > 5 else "")
        raise NonFiniteStateError(
            f"not saving checkpoint '{path}' at step {state.get('step')}: non-finite values in {shown}; the last "
            "good checkpoint is kept (check the inputs and learning rates, then rerun: it resumes from there)"
        )
    buffer = io.BytesIO()
    torch.save({**state, "rng": rng_state()}, buffer)
    write_bytes_atomic(path, buffer.getvalue(), previous=previous_path(path) if keep_previous else None)


def read_checkpoint(path: Path) -> dict[str, Any] | None:
    """The checkpoint at ``path``, or None when it is missing or unreadable (moved aside as ``.corrupt``)."""
    path = Path(path)
    if not path.is_file():
        return None
    try:
        state = torch.load(path, map_location="cpu", weights_only=False)
        if not isinstance(state, dict) or "step" not in state:
            raise ValueError("not a training checkpoint")
        return state
    except Exception as error:  # a truncated or damaged file: keep it for inspection, resume from an older one
        aside = path.with_name(f"{path.name}.corrupt")
        os.replace(path, aside)
        log.warning("checkpoint %s cannot be read (%s): moved to %s, resuming from an older one", path, error, aside)
        return None


def load_checkpoint(path: Path, expected_fingerprint: str) -> dict[str, Any] | None:
    """The newest readable checkpoint of ``path`` and its previous one, if written with the same settings (its
    RNG states restored), else None."""
    path = Path(path)
    for candidate in (path, previous_path(path)):
        state = read_checkpoint(candidate)
        if state is None:
            continue
        if state.get("fingerprint") != expected_fingerprint:
            log.warning("checkpoint %s was written with other settings: starting from scratch", candidate)
            return None
        restore_rng_state(state["rng"])
        log.info("resuming from %s (step %d)", candidate, state["step"])
        return state
    return None


class NonFiniteLossError(IgaeError):
    """A training loss became NaN or infinite: the run stops before the step, its last checkpoint intact."""


def check_finite_loss(what: str, step: int, total: torch.Tensor, terms: dict[str, torch.Tensor]) -> None:
    """Stop ``what`` at ``step`` (1-based) when its loss is not finite, naming every term, before the state of
    that step is saved: a rerun resumes from the last good checkpoint."""
    if bool(torch.isfinite(total.detach())):
        return
    values = ", ".join(f"{name} {float(value.detach()):.4g}" for name, value in terms.items())
    raise NonFiniteLossError(
        f"{what}: the loss is {float(total.detach())} at step {step} ({values}); nothing of this step was saved "
        "(check the inputs and learning rates, then rerun: it resumes from the last checkpoint)"
    )
