"""What an optimization run records: one :class:`StageRecord` per stage and the :class:`OptimizeResult`."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import torch

from ..graph import Graph

Values = dict[str, torch.Tensor]
"""Normalized parameter values by key ``"node.param"``."""
Log = Callable[[str], None]


@dataclass
class StageRecord:
    """One finished stage: its real-generator loss at start and end, its loss curve, time and note."""

    name: str
    loss_start: float
    loss_end: float
    curve: list[float]
    seconds: float
    note: str = ""


@dataclass
class OptimizeResult:
    """A finished run: the final graph, the stage records, renders by name, the final loss and the time."""

    graph: Graph
    records: list[StageRecord]
    renders: dict[str, torch.Tensor]
    loss_final: float
    seconds: float
