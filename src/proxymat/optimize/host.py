"""What a stage of an optimization run writes to beside its evaluator: the :class:`StageHost`.

The evaluator (:mod:`.evaluator`) owns the run's parameter vector and scores it;
the host keeps what the run records (one :class:`~.records.StageRecord` per
stage, renders by name, the lowest-loss graph so far), its progress bars, the
progression frames and the checkpoints. :class:`~.stages.Optimization` is the
host of a run; each stage is called with the evaluator and the host.
"""

from __future__ import annotations

from typing import Any, Mapping, Protocol

import torch

from .progress import RunProgress
from .records import StageRecord


class StageHost(Protocol):
    """Records, bars, frames and checkpoints of a run, as its stages use them."""

    records: list[StageRecord]
    renders: dict[str, torch.Tensor]
    best: dict[str, Any] | None  # {"stage", "loss", "graph"}: the lowest real-generator loss so far
    bars: RunProgress
    stage_t0: float  # perf_counter() at the current stage's start, counting a killed run's time in it

    def stage_begin(self, stage: str) -> tuple[float, dict[str, Any] | None]:
        """Start ``stage``: (its start time, its state saved by a killed run or None)."""
        ...

    def checkpoint_due(self) -> bool:
        """True when a checkpoint within a stage is due (``checkpoint_every`` seconds since the last)."""
        ...

    def save_checkpoint(self, partial: Mapping[str, Any] | None = None) -> None:
        """Save the run with ``partial``, the state of an unfinished stage."""
        ...

    def save_frame(self, img: torch.Tensor) -> None:
        """Write the next progression frame."""
        ...
