"""Atomic training checkpoints that a killed run resumes from.

A checkpoint is one ``torch.save`` file (model, optimiser and scheduler states, the step, the random-number
generator states and a fingerprint of the settings), written under a temporary name and renamed, so a kill
during the save leaves the previous checkpoint intact. A checkpoint whose fingerprint differs from the current
settings belongs to another configuration and is not resumed from.
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
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
    state = {"torch": torch.get_rng_state(), "numpy": np.random.get_state(), "python": random.getstate()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def restore_rng_state(state: dict[str, Any]) -> None:
    torch.set_rng_state(state["torch"])
    np.random.set_state(state["numpy"])
    random.setstate(state["python"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def save_checkpoint(path: Path, state: dict[str, Any]) -> None:
    """Write ``state`` (plus the RNG states) atomically to ``path``."""
    buffer = io.BytesIO()
    torch.save({**state, "rng": rng_state()}, buffer)
    write_bytes_atomic(Path(path), buffer.getvalue())


def load_checkpoint(path: Path, expected_fingerprint: str) -> dict[str, Any] | None:
    """The checkpoint at ``path`` if it exists and was written with the same settings, else None."""
    path = Path(path)
    if not path.is_file():
        return None
    try:
        state = torch.load(path, map_location="cpu", weights_only=False)
    except Exception as error:  # a truncated or foreign file: say so, do not resume from it
        raise IgaeError(f"checkpoint '{path}' cannot be read ({error}); delete it to start over") from error
    if state.get("fingerprint") != expected_fingerprint:
        log.warning("checkpoint %s was written with other settings: starting from scratch", path)
        return None
    restore_rng_state(state["rng"])
    log.info("resuming from %s (step %d)", path, state["step"])
    return state


class NonFiniteLossError(IgaeError):
    """A training loss became NaN or infinite: the run stops before the step, its last checkpoint intact."""


def check_finite_loss(what: str, step: int, total: torch.Tensor, terms: dict[str, torch.Tensor]) -> None:
    """Stop ``what`` at ``step`` (1-based) when its loss is not finite, naming every term, before any parameter
    moves or is saved: a rerun resumes from the last good checkpoint."""
    if bool(torch.isfinite(total.detach())):
        return
    values = ", ".join(f"{name} {float(value.detach()):.4g}" for name, value in terms.items())
    raise NonFiniteLossError(
        f"{what}: the loss is {float(total.detach())} at step {step} ({values}); nothing of this step was applied "
        "or saved (check the inputs and learning rates, then rerun: it resumes from the last checkpoint)"
    )
