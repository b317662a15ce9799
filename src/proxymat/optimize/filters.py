"""Stages I and III: Adam on the filter parameters, the generators' real outputs held fixed.

* Stage I fits the filters to the target before the generators move.
* Stage III, after the generators have found their values (Stage II and the
  polish), refines the filters with a smaller learning rate; discrete generator
  parameters are rounded, since the real generators are back in.

The category sweep re-fits the filters with :func:`fit_filters` too.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Mapping

from ..graph import Graph
from .adam import adam
from .records import StageRecord, Values

if TYPE_CHECKING:
    from .evaluator import Evaluator
    from .host import StageHost


def fit_filters(ev: Evaluator, host: StageHost, graph: Graph, iters: int, lr: float, desc: str,
                record_frames: bool = True, stage: str | None = None,
                resumed: Mapping[str, Any] | None = None) -> tuple[Values, list[float]]:
    """Adam on ``graph``'s optimizable filter parameters (those the graph frees), its generators' real
    outputs held fixed: the best filter values and the loss curve (``stage``, ``resumed``: checkpoints
    within the loop, see :func:`~.adam.adam`)."""
    program = graph.compile()
    frozen = ev.real_outputs(program)
    return adam(ev, host, ev.values("filters", graph), lambda p: ev.render_values(program, p, frozen=frozen),
                iters, lr, desc, bounds=ev.free, record_frames=record_frames, stage=stage, resumed=resumed)


@dataclass(frozen=True)
class FilterStage:
    """Stage I or III: fit the filters of the evaluator's graph (``iters`` and ``lr`` name config fields)."""

    name: str
    title: str
    desc: str
    iters: str
    lr: str

    def __call__(self, ev: Evaluator, host: StageHost) -> None:
        t0, resumed = host.stage_begin(self.name)
        start = ev.real_loss()
        best, curve = fit_filters(ev, host, ev.graph, getattr(ev.config, self.iters), getattr(ev.config, self.lr),
                                  self.desc, stage=self.name, resumed=resumed)
        ev.set_values(best)
        end, host.renders[self.name] = ev.real_eval()
        host.records.append(StageRecord(self.name, start, end, curve, time.perf_counter() - t0))
        ev.log(f"{self.title}: loss {start:.4f} -> {end:.4f} in {time.perf_counter() - t0:.1f}s")


STAGE1 = FilterStage("stage1", "Stage I", "Stage I (filters)", "iters1", "lr1")
STAGE3 = FilterStage("stage3", "Stage III", "Stage III (real generators)", "iters3", "lr3")
